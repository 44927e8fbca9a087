//! Reading a whole text file: a small one into memory prefaulted in one
//! call, a large one in two halves at once.
//!
//! Reading a file is mostly the kernel copying it into fresh pages of
//! memory, each first touched there (a page fault apiece: most of the
//! time in a VM). Below [`HALVES_BYTES`] the pages are mapped for the
//! file and faulted in by the one call that maps them (`MAP_POPULATE`):
//! a 2.6 MB closure (5,000 paths) is read in 1.3-1.5 ms instead of the
//! 2.4-2.7 ms of `read_to_string` (five runs each, side by side). Above it
//! two threads each read and touch half of a `String`, which the planner
//! parses in place: on the 35 MB Debian universe that takes `strata
//! plan`'s read from 22-27 ms to 17-23 ms on two cores (nine runs each,
//! side by side). The text is the same either way: a file that changes
//! size while read is read again as one piece.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::Path;

use memmap2::{Mmap, MmapOptions};
use strata_planner::Join;

/// Files smaller than this are read in one piece: below it the second
/// thread costs about what it saves (the same size the planner's parse
/// starts to read in halves).
pub const HALVES_BYTES: u64 = 8 << 20;

/// A whole file's text.
pub struct Text(Buffer);

enum Buffer {
    /// Read into a string (large files, stdin): the planner can parse it
    /// in place ([`strata_planner::parse_closure_owned_with`]).
    Owned(String),
    /// Read into memory mapped for it, read-only once read; all of it is
    /// valid UTF-8 (checked when read).
    Mapped(Mmap),
}

impl Text {
    /// The text as a string slice. A mapped text is checked again (at
    /// over 30 GB/s: 0.1 ms for 2.6 MB), as no unchecked conversion is
    /// allowed here; it was valid when read and cannot have changed.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Buffer::Owned(text) => text,
            Buffer::Mapped(map) => std::str::from_utf8(map).unwrap_or_default(),
        }
    }

    /// The text's bytes, not checked again (what only looks at a few
    /// ASCII bytes needs no [`Text::as_str`]).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Buffer::Owned(text) => text.as_bytes(),
            Buffer::Mapped(map) => map,
        }
    }

    /// The string itself, for a text read into one.
    pub fn as_mut_string(&mut self) -> Option<&mut String> {
        match &mut self.0 {
            Buffer::Owned(text) => Some(text),
            Buffer::Mapped(_) => None,
        }
    }
}

/// The text as a string slice ([`Text::as_str`]).
impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text(Buffer::Owned(text))
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Text").field(&self.as_bytes().len()).finish()
    }
}

/// The file at `path` as UTF-8 text, as `std::fs::read_to_string` reads it
/// (the same errors too): a regular file below [`HALVES_BYTES`] into
/// prefaulted memory, a larger one in two halves at once when `join` runs
/// two jobs side by side.
pub fn read_text(path: &Path, join: &dyn Join) -> io::Result<Text> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() == 0 {
        return read_whole(&mut file);
    }
    let Ok(len) = usize::try_from(meta.len()) else {
        return read_whole(&mut file);
    };
    if meta.len() < HALVES_BYTES {
        return match read_mapped(&file, len)? {
            Some(text) => Ok(text),
            None => read_whole(&mut File::open(path)?),
        };
    }
    if !join.at_once() {
        return read_whole(&mut file);
    }
    let mut bytes = vec![0u8; len];
    let (first, second) = bytes.split_at_mut(len / 2);
    let offset = first.len() as u64;
    let (a, b) = join.join(
        || file.read_exact_at(first, 0),
        || file.read_exact_at(second, offset),
    );
    let same_size = match (a, b) {
        (Ok(()), Ok(())) => at_end(&file, len)?,
        (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => false,
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    if !same_size {
        return read_whole(&mut File::open(path)?);
    }
    String::from_utf8(bytes)
        .map(Text::from)
        .map_err(|_| not_utf8())
}

/// The `len` bytes of `file` in memory mapped and faulted in at once;
/// `None` when the file is no longer `len` bytes long or no memory could
/// be mapped (the caller reads it as a string).
fn read_mapped(file: &File, len: usize) -> io::Result<Option<Text>> {
    let Ok(mut map) = MmapOptions::new().len(len).populate().map_anon() else {
        return Ok(None);
    };
    match file.read_exact_at(&mut map, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if !at_end(file, len)? {
        return Ok(None);
    }
    if std::str::from_utf8(&map).is_err() {
        return Err(not_utf8());
    }
    Ok(map
        .make_read_only()
        .ok()
        .map(|map| Text(Buffer::Mapped(map))))
}

/// Whether `file` ends at `len` bytes.
fn at_end(file: &File, len: usize) -> io::Result<bool> {
    let mut probe = [0u8; 1];
    Ok(file.read_at(&mut probe, len as u64)? == 0)
}

/// The error `read_to_string` gives for bytes that are not UTF-8.
fn not_utf8() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stream did not contain valid UTF-8",
    )
}

fn read_whole(file: &mut File) -> io::Result<Text> {
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(Text::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_planner::Sequential;

    use crate::threads::Threads;

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("strata-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn halves_read_the_same_text_as_one_piece() {
        // Past the threshold, with a multi-byte character across the cut.
        let mut text = "é".repeat(HALVES_BYTES as usize / 2 + 7);
        text.push_str("end\n");
        let path = temp("large.json", text.as_bytes());
        assert_eq!(read_text(&path, &Threads).unwrap().as_str(), text);
        assert_eq!(read_text(&path, &Sequential).unwrap().as_str(), text);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn small_files_are_read_into_mapped_memory_as_they_are() {
        for (name, text) in [
            ("one.json", "x".to_string()),
            ("small.json", "[{\"é\": 1}]\n".repeat(5000)),
        ] {
            let path = temp(name, text.as_bytes());
            let mut read = read_text(&path, &Threads).unwrap();
            assert_eq!(read.as_str(), text);
            assert!(read.as_mut_string().is_none(), "{name} was mapped");
            let _ = std::fs::remove_file(&path);
        }
        let path = temp("empty.json", b"");
        assert_eq!(read_text(&path, &Threads).unwrap().as_str(), "");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_file_of_another_size_than_its_metadata_said_is_not_mapped() {
        // What `read_text` meets when the file grows or shrinks between
        // its metadata and its read: no text of the wrong length, the
        // caller reads the file again as one piece.
        let text = "0123456789".repeat(100);
        let path = temp("resized.json", text.as_bytes());
        let file = File::open(&path).unwrap();
        for len in [text.len() - 1, text.len() + 1] {
            assert!(read_mapped(&file, len).unwrap().is_none(), "{len}");
        }
        let read = read_mapped(&file, text.len()).unwrap().unwrap();
        assert_eq!(read.as_str(), text);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn invalid_utf8_is_the_error_read_to_string_gives() {
        for len in [100, HALVES_BYTES as usize + 3] {
            let mut bytes = vec![b'a'; len];
            bytes[len / 2] = 0xff;
            let path = temp("invalid.json", &bytes);
            let ours = read_text(&path, &Threads).unwrap_err();
            let whole = std::fs::read_to_string(&path).unwrap_err();
            assert_eq!(ours.kind(), whole.kind());
            assert_eq!(ours.to_string(), whole.to_string());
            let _ = std::fs::remove_file(&path);
        }
    }

    #[test]
    fn a_missing_file_and_a_directory_are_errors() {
        let dir = std::env::temp_dir().join(format!("strata-text-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_text(&dir.join("missing.json"), &Threads).is_err());
        assert!(read_text(&dir, &Threads).is_err());
        let _ = std::fs::remove_dir(&dir);
    }
}
