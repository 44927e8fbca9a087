//! Files written whole or not at all: every output of `strata` (plans,
//! figures, image archives, OCI layouts) and every file of the blob store
//! goes through here.
//!
//! [`Staged`] is a temporary file in a directory, moved to its name by one
//! rename, or removed when dropped. [`AtomicFile`] is an output at a path
//! the user gave: staged beside it and renamed over it on
//! [`AtomicFile::commit`]; but a path that exists and is neither a regular
//! file nor a directory (a device such as `/dev/null`, a fifo, a socket) is
//! written in place, as a shell's `>` would: renaming over it would replace
//! the device with a file.
//!
//! Errors are plain I/O errors that never name the hidden temporary file:
//! callers say which path the user gave.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Bytes handed to one `write(2)` at most; writers in front of a file
/// buffer this much. Larger writes are cut: on the machine the benchmarks
/// run on (Linux 6.18, ext4, in a VM) a fresh file written in 1 MiB
/// writes cost 5-10x the kernel time of 256 KiB ones (858 MiB: 1.7-3.5 s
/// against 0.26-0.35 s; 512 KiB and 768 KiB are as cheap, 2 MiB in
/// between), and `tar > file` writes 10 KiB at a time.
pub const WRITE_SIZE: usize = 256 * 1024;

/// A temporary file in a directory, renamed to its name by
/// [`Staged::persist`]; dropped, it is removed.
///
/// Made with tempfile's `Builder::make_in` rather than
/// `NamedTempFile::new_in`: that one opens the file with mode 0600 (an
/// image or plan would end up readable by its owner only) and its errors
/// name the temporary file.
#[derive(Debug)]
pub struct Staged {
    file: NamedTempFile,
}

impl Staged {
    /// A new empty file in `dir` (mode 0666 less the umask, as
    /// `File::create` makes).
    pub fn new_in(dir: &Path) -> io::Result<Self> {
        let file = tempfile::Builder::new()
            .prefix(".strata-")
            .make_in(dir, |path| {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o666)
                    .open(path)
            })?;
        Ok(Staged { file })
    }

    /// The open file (for its metadata or permissions).
    pub fn file(&self) -> &File {
        self.file.as_file()
    }

    /// Renames the file to `target`, replacing what is there.
    pub fn persist(self, target: &Path) -> io::Result<File> {
        // On error the temporary file is dropped with the `PersistError`,
        // which removes it.
        self.file.persist(target).map_err(|e| e.error)
    }
}

// Writes go to the `File`: `NamedTempFile`'s own `Write` wraps its errors
// with the temporary name.
impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_file_mut().write(capped(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_file_mut().flush()
    }
}

/// An output file at a path the user gave: see the module docs.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    dest: Dest,
}

#[derive(Debug)]
enum Dest {
    Staged(Staged),
    InPlace(File),
}

impl AtomicFile {
    /// Starts writing `target`: a directory is refused, a special file is
    /// opened in place, anything else is staged beside it.
    pub fn create(target: &Path) -> io::Result<Self> {
        if let Ok(meta) = fs::metadata(target) {
            if meta.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "is a directory",
                ));
            }
            if !meta.is_file() {
                let file = OpenOptions::new().write(true).open(target)?;
                return Ok(AtomicFile {
                    target: target.to_path_buf(),
                    dest: Dest::InPlace(file),
                });
            }
        }
        if target.file_name().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file name",
            ));
        }
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Ok(AtomicFile {
            target: target.to_path_buf(),
            dest: Dest::Staged(Staged::new_in(dir)?),
        })
    }

    /// Another handle on the file being written (the same open file, its
    /// offset shared), for writers that need a `File` itself: std's
    /// `io::copy` moves bytes from a file in the kernel only when it sees
    /// a `File` (or a pipe, a socket, stdout) on the other side too.
    pub fn try_clone_file(&self) -> io::Result<File> {
        match &self.dest {
            Dest::Staged(staged) => staged.file().try_clone(),
            Dest::InPlace(file) => file.try_clone(),
        }
    }

    /// Makes the written bytes the target's: synced, then renamed over it
    /// (nothing to do for a file written in place).
    pub fn commit(self) -> io::Result<()> {
        match self.dest {
            Dest::Staged(staged) => {
                staged.file().sync_all()?;
                staged.persist(&self.target)?;
            }
            Dest::InPlace(_) => {}
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.dest {
            Dest::Staged(staged) => staged.write(buf),
            Dest::InPlace(file) => file.write(capped(buf)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.dest {
            Dest::Staged(staged) => staged.flush(),
            Dest::InPlace(file) => file.flush(),
        }
    }
}

/// The first [`WRITE_SIZE`] bytes of `buf`: what one write takes.
fn capped(buf: &[u8]) -> &[u8] {
    &buf[..buf.len().min(WRITE_SIZE)]
}

/// Writes `bytes` to `path` as an [`AtomicFile`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileTypeExt;
    use std::process::Command;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_replaces_the_target_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("plan.json");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["plan.json"]);
    }

    #[test]
    fn large_writes_are_cut_to_write_size() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("blob");
        let big = vec![7u8; 3 * WRITE_SIZE + 5];
        let mut file = AtomicFile::create(&target).unwrap();
        assert_eq!(file.write(&big).unwrap(), WRITE_SIZE);
        file.write_all(&big[WRITE_SIZE..]).unwrap();
        file.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), big);
    }

    #[test]
    fn a_dropped_file_leaves_the_target_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("image.tar");
        fs::write(&target, b"old").unwrap();
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"new, half written").unwrap();
        drop(file);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["image.tar"]);
    }

    #[test]
    fn errors_do_not_name_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("missing/plan.json"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!err.to_string().contains(".strata-"), "{err}");
        assert!(names(dir.path()).is_empty());
        let err = write_atomic(dir.path(), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::IsADirectory);
    }

    #[test]
    fn a_device_is_written_in_place_never_replaced() {
        // A device node of the test's own (the null device's numbers), never
        // the system's /dev/null.
        let dir = tempfile::tempdir().unwrap();
        let null = dir.path().join("null");
        let made = Command::new("mknod")
            .arg(&null)
            .args(["c", "1", "3"])
            .status()
            .unwrap();
        assert!(made.success(), "mknod (the tests run as root)");
        write_atomic(&null, b"discarded").unwrap();
        assert!(fs::metadata(&null).unwrap().file_type().is_char_device());
        assert_eq!(names(dir.path()), ["null"]);
    }

    #[test]
    fn a_fifo_is_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || fs::read(fifo).unwrap()
        });
        write_atomic(&fifo, b"through").unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
