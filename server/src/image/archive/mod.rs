//! Writing built images out: a docker-archive ([`docker`]) or an OCI image
//! layout, as a directory or a tar ([`oci`]).
//!
//! Archives are tars with the layer tars' rules (fixed mtime, uid 0, mode
//! 0644 files and 0755 directories) and a fixed entry order, so the same
//! image gives the same archive bytes. They stream: nothing is buffered
//! beyond one blob read at a time, and blob bytes go from the store to the
//! output by `io::copy` (in the kernel when both are files).

pub mod docker;
pub mod oci;

use std::io::{self, Write};

use tar::{EntryType, Header};
use thiserror::Error;

use crate::image::digest::Sha256Digest;
use crate::image::tar::MTIME;
use crate::store::{BlobStore, StoreError};

/// What went wrong writing an archive.
#[derive(Debug, Error)]
pub enum ArchiveError {
    /// Writing the output failed.
    #[error("writing the image: {0}")]
    Write(#[from] io::Error),
    /// Reading a blob failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob's size in the store is not the image's.
    #[error("blob {digest} has {found} bytes in the store, the image says {expected}")]
    BlobSize {
        /// The blob.
        digest: Sha256Digest,
        /// Size in the image.
        expected: u64,
        /// Size in the store.
        found: u64,
    },
}

/// A deterministic outer tar (the archive around the blobs).
pub(crate) struct ArchiveTar<W: Write> {
    builder: tar::Builder<W>,
}

impl<W: Write> ArchiveTar<W> {
    pub(crate) fn new(out: W) -> Self {
        ArchiveTar {
            builder: tar::Builder::new(out),
        }
    }

    fn header(kind: EntryType, mode: u32, size: u64, name: &str) -> io::Result<Header> {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(MTIME);
        header.set_size(size);
        header.set_path(name)?;
        header.set_cksum();
        Ok(header)
    }

    pub(crate) fn dir(&mut self, name: &str) -> io::Result<()> {
        let header = Self::header(EntryType::Directory, 0o755, 0, name)?;
        self.builder.append(&header, io::empty())
    }

    pub(crate) fn file(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let header = Self::header(EntryType::Regular, 0o644, bytes.len() as u64, name)?;
        self.builder.append(&header, bytes)
    }

    /// A blob from the store, copied straight into the output.
    pub(crate) fn blob(
        &mut self,
        name: &str,
        store: &dyn BlobStore,
        digest: &Sha256Digest,
        size: u64,
    ) -> Result<(), ArchiveError> {
        let found = store.stat(digest)?.unwrap_or(0);
        if found != size {
            return Err(ArchiveError::BlobSize {
                digest: *digest,
                expected: size,
                found,
            });
        }
        let header = Self::header(EntryType::Regular, 0o644, size, name)?;
        // The header alone (no data, no padding), then the bytes and the
        // padding written here, so the copy can use the kernel's fast path.
        self.builder.append(&header, io::empty())?;
        let out = self.builder.get_mut();
        let copied = match store.local_path(digest) {
            Some(path) => io::copy(&mut std::fs::File::open(&path)?, out)?,
            None => io::copy(&mut store.open(digest)?, out)?,
        };
        if copied != size {
            return Err(ArchiveError::BlobSize {
                digest: *digest,
                expected: size,
                found: copied,
            });
        }
        let pad = (512 - size % 512) % 512;
        out.write_all(&[0u8; 512][..pad as usize])?;
        Ok(())
    }

    pub(crate) fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}
