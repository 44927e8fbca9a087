//! The filesystem blob store (the embedded default):
//!
//! ```text
//! ROOT/blobs/sha256/<hex>     blobs, read-only once committed
//! ROOT/records/<name>         small records (the layer cache index)
//! ROOT/tmp/                   blobs being written
//! ```
//!
//! Temporary files live in `ROOT/tmp` (same filesystem), so committing is
//! one rename ([`Staged`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{check_record_name, BlobStore, BlobWriter, StoreError};
use crate::files::{Staged, WRITE_SIZE};
use crate::image::digest::{HashingWriter, Sha256Digest};

#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl FsStore {
    /// Opens (creating if needed) a store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        for dir in ["blobs/sha256", "records", "tmp"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(io_err(&path))?;
        }
        Ok(FsStore { root })
    }

    fn blob_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    fn stage(&self) -> Result<Staged, StoreError> {
        let tmp = self.root.join("tmp");
        Staged::new_in(&tmp).map_err(io_err(&tmp))
    }
}

impl BlobStore for FsStore {
    fn stat(&self, digest: &Sha256Digest) -> Result<Option<u64>, StoreError> {
        let path = self.blob_path(digest);
        match fs::metadata(&path) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn open(&self, digest: &Sha256Digest) -> Result<Box<dyn Read + Send>, StoreError> {
        let path = self.blob_path(digest);
        Ok(Box::new(File::open(&path).map_err(io_err(&path))?))
    }

    fn local_path(&self, digest: &Sha256Digest) -> Option<PathBuf> {
        Some(self.blob_path(digest))
    }

    fn create(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        Ok(Box::new(FsBlobWriter {
            file: Some(HashingWriter::new(BufWriter::with_capacity(
                WRITE_SIZE,
                self.stage()?,
            ))),
            target_dir: self.root.join("blobs/sha256"),
        }))
    }

    fn get_record(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_record_name(name, false)?;
        let path = self.root.join("records").join(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn put_record(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        check_record_name(name, false)?;
        let path = self.root.join("records").join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut staged = self.stage()?;
        staged.write_all(bytes).map_err(io_err(&path))?;
        staged.persist(&path).map_err(io_err(&path))?;
        Ok(())
    }

    fn list_records(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = if prefix.is_empty() {
            self.root.join("records")
        } else {
            check_record_name(prefix, true)?;
            self.root.join("records").join(prefix)
        };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            let kind = entry.file_type().map_err(io_err(&entry.path()))?;
            // Folders hold deeper records, which are not listed; a name
            // that is not UTF-8 was not written by `put_record` (its names
            // are `&str`), so it is no record either.
            if kind.is_file() {
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Hashes and counts what it writes: the blob's digest and size come from
/// the same pass that writes it, never from reading it back.
struct FsBlobWriter {
    file: Option<HashingWriter<BufWriter<Staged>>>,
    target_dir: PathBuf,
}

impl Write for FsBlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("open until commit").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open until commit").flush()
    }
}

impl BlobWriter for FsBlobWriter {
    fn commit(
        mut self: Box<Self>,
        expected: Option<&Sha256Digest>,
    ) -> Result<(Sha256Digest, u64), StoreError> {
        let (file, digest, size) = self.file.take().expect("open until commit").finish();
        if let Some(expected) = expected.filter(|e| **e != digest) {
            return Err(StoreError::DigestMismatch {
                expected: *expected,
                found: digest,
            });
        }
        let target = self.target_dir.join(digest.hex());
        let staged = file
            .into_inner()
            .map_err(|e| io_err(&target)(e.into_error()))?;
        // Blobs are immutable: read-only for everyone.
        let file = staged.file();
        let mut perms = file.metadata().map_err(io_err(&target))?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o444);
        file.set_permissions(perms).map_err(io_err(&target))?;
        if target.exists() {
            // Already there (same bytes by definition): keep the old one;
            // the staged copy goes with `staged`.
            return Ok((digest, size));
        }
        staged.persist(&target).map_err(io_err(&target))?;
        Ok((digest, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_commit_atomically_and_dropped_writers_leave_nothing() {
        let dir = std::env::temp_dir().join(format!("strata-fsstore-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = FsStore::open(&dir).unwrap();
        let digest = store.put(b"hello").unwrap();
        assert_eq!(store.stat(&digest).unwrap(), Some(5));
        let mut back = String::new();
        store
            .open(&digest)
            .unwrap()
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, "hello");
        // A wrong digest is refused and leaves no file.
        let mut w = store.create().unwrap();
        w.write_all(b"other").unwrap();
        assert!(matches!(
            w.commit(Some(&digest)),
            Err(StoreError::DigestMismatch { .. })
        ));
        let mut w = store.create().unwrap();
        w.write_all(b"dropped").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        store.put_record("layers/k", b"{}").unwrap();
        assert_eq!(store.get_record("layers/k").unwrap().unwrap(), b"{}");
        assert_eq!(store.get_record("layers/none").unwrap(), None);
        store.put_record("layers/b", b"").unwrap();
        store.put_record("layers/deeper/c", b"").unwrap();
        assert_eq!(store.list_records("layers/").unwrap(), ["b", "k"]);
        assert_eq!(store.list_records("nothing/").unwrap(), [""; 0]);
        for bad in ["", "/abs", "a/../b", "..", "a//b", "a/./b", "a\0b"] {
            assert!(
                matches!(
                    store.put_record(bad, b""),
                    Err(StoreError::RecordName { .. })
                ),
                "{bad:?}"
            );
            assert!(store.get_record(bad).is_err(), "{bad:?}");
        }
        assert!(store.list_records("../").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
