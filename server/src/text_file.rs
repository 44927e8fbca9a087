//! Reading a whole text file, a large one in two halves at once.
//!
//! Reading a file is mostly the kernel copying it into fresh pages of
//! memory, each first touched there (a page fault apiece: most of the
//! time in a VM); two threads each read and touch half. On the 35 MB
//! Debian universe that takes `strata plan`'s read from 22-27 ms to 17-23
//! ms on two cores (nine runs each, side by side). The text is the same either way: a file that changes
//! size while read is read again as one piece.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::Path;

use strata_planner::Join;

/// Files smaller than this are read in one piece: below it the second
/// thread costs about what it saves (the same size the planner's parse
/// starts to read in halves).
pub const HALVES_BYTES: u64 = 8 << 20;

/// The file at `path` as UTF-8 text, as `std::fs::read_to_string` reads it
/// (the same errors too), in two halves at once when `join` runs two jobs
/// side by side and the file is a regular file of [`HALVES_BYTES`] or more.
pub fn read_text(path: &Path, join: &dyn Join) -> io::Result<String> {
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() < HALVES_BYTES || !join.at_once() {
        return read_whole(&mut file);
    }
    let Ok(len) = usize::try_from(meta.len()) else {
        return read_whole(&mut file);
    };
    let mut bytes = vec![0u8; len];
    let (first, second) = bytes.split_at_mut(len / 2);
    let offset = first.len() as u64;
    let (a, b) = join.join(
        || file.read_exact_at(first, 0),
        || file.read_exact_at(second, offset),
    );
    let mut probe = [0u8; 1];
    let same_size = match (a, b) {
        (Ok(()), Ok(())) => file.read_at(&mut probe, len as u64)? == 0,
        (Err(e), _) | (_, Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => false,
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    if !same_size {
        return read_whole(&mut File::open(path)?);
    }
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

fn read_whole(file: &mut File) -> io::Result<String> {
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
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
        assert_eq!(read_text(&path, &Threads).unwrap(), text);
        assert_eq!(read_text(&path, &Sequential).unwrap(), text);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn invalid_utf8_is_the_error_read_to_string_gives() {
        let mut bytes = vec![b'a'; HALVES_BYTES as usize + 3];
        bytes[HALVES_BYTES as usize / 2] = 0xff;
        let path = temp("invalid.json", &bytes);
        let halves = read_text(&path, &Threads).unwrap_err();
        let whole = std::fs::read_to_string(&path).unwrap_err();
        assert_eq!(halves.kind(), whole.kind());
        assert_eq!(halves.to_string(), whole.to_string());
        let _ = std::fs::remove_file(&path);
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
