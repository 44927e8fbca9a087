//! The content-addressed blob store: layer, config and manifest blobs by
//! sha256 digest, plus small records by name (the layer cache's index).
//!
//! Writes are atomic: a blob is written under a temporary name, its digest
//! checked, then renamed into place; a writer dropped without
//! [`BlobWriter::commit`] leaves nothing behind. Blobs are only added, so
//! two builders writing the same blob waste work but never conflict.

mod fs;

use std::io::{self, Read, Write};
use std::path::PathBuf;

use thiserror::Error;

use crate::image::digest::Sha256Digest;

pub use fs::FsStore;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("blob store {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A record name that could leave the records folder or name no file
    /// (empty, absolute, `.` or `..` components, a NUL). Callers build
    /// names from checked image names, tags and digests; this is the
    /// store's own last line against traversal.
    #[error("{name:?} is not a record name")]
    RecordName {
        /// The name given.
        name: String,
    },
    /// A blob's bytes did not hash to the digest it was committed as.
    #[error("blob digest mismatch: expected {expected}, found {found}")]
    DigestMismatch {
        /// The digest the caller claimed.
        expected: Sha256Digest,
        /// What the bytes hash to.
        found: Sha256Digest,
    },
}

/// A blob being written; dropped without commit, it vanishes.
pub trait BlobWriter: Write + Send {
    /// Stores the bytes under their digest, which the writer computed on
    /// the way in, and returns it with the size. With `expected`, a
    /// different digest is an error and nothing is stored.
    fn commit(
        self: Box<Self>,
        expected: Option<&Sha256Digest>,
    ) -> Result<(Sha256Digest, u64), StoreError>;
}

pub trait BlobStore: Send + Sync {
    /// The size of a stored blob, or `None` when it is absent.
    fn stat(&self, digest: &Sha256Digest) -> Result<Option<u64>, StoreError>;
    fn open(&self, digest: &Sha256Digest) -> Result<Box<dyn Read + Send>, StoreError>;
    /// A local file holding the blob, when the store has one (lets outputs
    /// hard-link or copy in the kernel instead of streaming).
    fn local_path(&self, digest: &Sha256Digest) -> Option<PathBuf>;
    fn create(&self) -> Result<Box<dyn BlobWriter>, StoreError>;
    /// Stores `bytes` as a blob and returns its digest.
    fn put(&self, bytes: &[u8]) -> Result<Sha256Digest, StoreError> {
        let digest = Sha256Digest::of(bytes);
        if self.stat(&digest)? != Some(bytes.len() as u64) {
            let mut w = self.create()?;
            w.write_all(bytes).map_err(|source| StoreError::Io {
                path: PathBuf::from("<new blob>"),
                source,
            })?;
            w.commit(Some(&digest))?;
        }
        Ok(digest)
    }
    /// A small named record (e.g. `layers/<key>`), if present.
    fn get_record(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a small named record atomically.
    fn put_record(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// The records directly under `prefix` (a `/`-terminated folder of
    /// record names, e.g. `repositories/hello/_tags/`), as their names
    /// after the prefix, sorted by bytes; records in deeper folders are
    /// not listed (as an object store lists with delimiter `/`). An absent
    /// folder lists nothing.
    fn list_records(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// Checks a record name (or a `/`-terminated prefix, `allow_trailing`):
/// `/`-separated components, none empty, `.` or `..`, no NUL.
pub fn check_record_name(name: &str, allow_trailing: bool) -> Result<(), StoreError> {
    let body = match name.strip_suffix('/') {
        Some(body) if allow_trailing => body,
        _ => name,
    };
    let bad = body.is_empty()
        || body.contains('\0')
        || body
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(StoreError::RecordName {
            name: name.to_string(),
        });
    }
    Ok(())
}
