//! Reading inputs (a file or `-` for stdin) and writing outputs atomically
//! (a temporary file beside the target, then a rename), so a failed run
//! never leaves a partial file behind.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// An input file could not be read: the user's input is at fault.
#[derive(Debug, Error)]
#[error("cannot read {path}: {source}")]
pub struct ReadError {
    /// The file (or `-`).
    pub path: String,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

/// Reads a whole input as text; `-` is stdin.
pub fn read_input(path: &Path) -> Result<String, ReadError> {
    let wrap = |source| ReadError {
        path: path.display().to_string(),
        source,
    };
    if path.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).map_err(wrap)?;
        return Ok(text);
    }
    fs::read_to_string(path).map_err(wrap)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, synced, then renamed over the target. A target that exists
/// and is not a regular file (`/dev/null`, a pipe) is written in place:
/// renaming over it would replace the device.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Ok(meta) = fs::metadata(path) {
        if !meta.is_file() && !meta.is_dir() {
            return fs::OpenOptions::new()
                .write(true)
                .open(path)?
                .write_all(bytes);
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file name", path.display()),
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("strata-files-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("plan.json");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // Devices are written, never replaced.
        write_atomic(Path::new("/dev/null"), b"x").unwrap();
        assert!(!fs::metadata("/dev/null").unwrap().is_file());
        // A directory that does not exist fails and creates nothing.
        assert!(write_atomic(&dir.join("missing/plan.json"), b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
