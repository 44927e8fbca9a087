//! One layer blob from a set of store paths: tar, hash, compress, store,
//! in one pass; and the layer cache that skips all of it when the same
//! layer was built before.
//!
//! The cache key is the sha256 of a text naming everything that decides
//! the blob's bytes: the tar rules' version, the store directory, the
//! compression settings, the `--perms` rules when there are any, and each
//! path with its NAR hash. The cache index
//! lives in the blob store (`records/layers/<key>`) beside the blobs, so a
//! layer shared by two images, or by two builds of one, is built once.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use strata_planner::{NarHash, StorePath};
use thiserror::Error;

use crate::image::compress::{Compression, Compressor};
use crate::image::digest::Sha256Digest;
use crate::image::perms::Perms;
use crate::image::pipe::Pipe;
use crate::image::tar::{LayerTar, TarError};
use crate::store::{BlobStore, StoreError};

/// Bump when the tar rules in [`crate::image::tar`] change the bytes.
pub const TAR_RULES_VERSION: u32 = 1;

/// A built layer blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerBlob {
    /// sha256 of the uncompressed tar.
    pub diff_id: Sha256Digest,
    /// sha256 of the blob (the compressed tar).
    pub digest: Sha256Digest,
    /// Size of the blob.
    pub size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
}

/// Where store paths are read from: the store directory they are named
/// under, and optionally a directory standing in for `/`.
#[derive(Debug, Clone)]
pub struct NixStore {
    /// The store directory paths are named under (`/nix/store`).
    pub store_dir: String,
    /// Read `/nix/store/x` at `ROOT/nix/store/x` instead (`--store-root`).
    pub root: Option<PathBuf>,
}

impl NixStore {
    /// Checks that `path` is in this store directory and exists, and
    /// returns where to read it.
    pub fn locate(&self, path: &StorePath) -> Result<PathBuf, LayerError> {
        if path.store_dir() != self.store_dir {
            return Err(LayerError::OutsideStore {
                path: path.to_string(),
                store_dir: self.store_dir.clone(),
            });
        }
        let location = match &self.root {
            Some(root) => root.join(path.trim_start_matches('/')),
            None => PathBuf::from(path.as_str()),
        };
        match std::fs::symlink_metadata(&location) {
            Ok(_) => Ok(location),
            Err(source) => Err(LayerError::Missing {
                path: path.to_string(),
                root: self.root.clone(),
                location,
                source,
            }),
        }
    }
}

impl NixStore {
    /// The paths this store does not hold, in the order given.
    pub fn missing<'p>(&self, paths: &'p [StorePath]) -> Vec<&'p StorePath> {
        paths.iter().filter(|p| self.locate(p).is_err()).collect()
    }
}

/// What went wrong building a layer.
#[derive(Debug, Error)]
pub enum LayerError {
    /// A plan path that is not directly under the store directory.
    #[error("{path} is not a store path (not directly under {store_dir})")]
    OutsideStore {
        /// The path.
        path: String,
        /// The store directory.
        store_dir: String,
    },
    /// A plan path that is not in the store.
    #[error("store path {path} is missing{} (looked at {location}): {source}", in_root(.root.as_deref()))]
    Missing {
        /// The store path.
        path: String,
        /// The store root it was looked for under (`--store-root`).
        root: Option<PathBuf>,
        /// Where it was looked for.
        location: PathBuf,
        /// Why it could not be found.
        #[source]
        source: io::Error,
    },
    /// The store path's contents do not hash to the plan's narHash.
    #[error("{path}: the store has narHash {found}, the plan says {expected}")]
    NarHashMismatch {
        /// The store path.
        path: String,
        /// The plan's hash.
        expected: NarHash,
        /// The store's.
        found: NarHash,
    },
    /// A file of the extra directory would replace a directory of the
    /// store's path (`/nix`, `/nix/store`) in the image.
    #[error("{path}: the image's /{at} must stay a directory holding the store, not this file")]
    ShadowsStore {
        /// The extra file.
        path: PathBuf,
        /// Where it would go (`nix`, `nix/store`).
        at: String,
    },
    /// `--create-user` and an extra directory both give `/etc/passwd` or
    /// `/etc/group`.
    #[error("{path}: --create-user writes /etc/passwd and /etc/group; add the users to this file instead, or leave it out")]
    UsersClash {
        /// The extra file.
        path: PathBuf,
    },
    /// The same user twice.
    #[error("--create-user {name}: the user is given twice")]
    DuplicateUser {
        /// Its name.
        name: String,
    },
    /// The image's Nix database could not be made.
    #[error("the Nix database: {0}")]
    NixDb(#[source] crate::image::nix_db::NixDbError),
    /// Reading a store path or writing its tar failed.
    #[error(transparent)]
    Tar(#[from] TarError),
    /// The blob store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Compressing failed.
    #[error("compressing the layer: {0}")]
    Compress(#[source] io::Error),
}

/// ` from the store root DIR`, when there is one.
fn in_root(root: Option<&std::path::Path>) -> String {
    root.map(|r| format!(" from the store root {}", r.display()))
        .unwrap_or_default()
}

impl LayerError {
    /// Whether the user's input (plan, store, files) is at fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            LayerError::OutsideStore { .. }
            | LayerError::Missing { .. }
            | LayerError::NarHashMismatch { .. }
            | LayerError::ShadowsStore { .. }
            | LayerError::UsersClash { .. }
            | LayerError::DuplicateUser { .. } => true,
            LayerError::NixDb(e) => e.is_bad_input(),
            LayerError::Tar(e) => matches!(e, TarError::Unsupported { .. }),
            LayerError::Store(_) | LayerError::Compress(_) => false,
        }
    }
}

/// Hears about bytes tarred and layers finished (the progress bar).
pub trait Progress: Sync {
    /// `n` more uncompressed tar bytes were produced.
    fn bytes(&self, n: u64);
    /// A layer is done; `cached` when it came from the cache.
    fn layer_done(&self, cached: bool);
    /// Whether the build should stop (checked between layers).
    fn cancelled(&self) -> bool {
        false
    }
}

/// No progress reporting.
#[cfg(test)]
pub struct NoProgress;

#[cfg(test)]
impl Progress for NoProgress {
    fn bytes(&self, _: u64) {}
    fn layer_done(&self, _: bool) {}
}

/// Builds layers into a blob store.
pub struct LayerBuilder<'a> {
    /// Where blobs and the cache index go.
    pub store: &'a dyn BlobStore,
    /// Where store paths are read.
    pub nix: &'a NixStore,
    /// How layers are compressed.
    pub compression: Compression,
    /// Threads compressing one gzip layer.
    pub threads: usize,
    /// Progress reports.
    pub progress: &'a dyn Progress,
    /// Owner and mode rules for every entry.
    pub perms: Arc<Perms>,
    /// The rules that matched an entry of a layer built (or cached) so far.
    pub matched: Mutex<BTreeSet<usize>>,
}

/// The cache index entry of a layer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheRecord {
    blob: LayerBlob,
    paths: Vec<String>,
    /// The `--perms` rules (by index; the rules are in the key) that
    /// matched an entry of the layer, so a cached layer still counts.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    matched_rules: BTreeSet<usize>,
}

impl LayerBuilder<'_> {
    /// The blob of a layer of store paths (sorted, as plans keep them),
    /// from the cache when it holds it. `nar_hashes` runs parallel to
    /// `paths` or is empty; given hashes are checked against the store
    /// whenever the layer is built. Returns the blob and whether it was
    /// cached.
    pub fn store_paths(
        &self,
        paths: &[StorePath],
        nar_hashes: &[NarHash],
    ) -> Result<(LayerBlob, bool), LayerError> {
        let mut sorted: Vec<(&StorePath, Option<&NarHash>)> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p, nar_hashes.get(i)))
            .collect();
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut located = Vec::with_capacity(sorted.len());
        let mut expected = Vec::with_capacity(sorted.len());
        for (path, hash) in &sorted {
            located.push(((*path).clone(), self.nix.locate(path)?));
            expected.push(hash.copied());
        }
        let key_hashes: Vec<NarHash> = if expected.iter().all(Option::is_some) {
            expected.iter().flatten().copied().collect()
        } else {
            // No hash in the plan: hash the paths (no tar kept) for the key.
            let mut tar = LayerTar::new(io::sink());
            located
                .iter()
                .map(|(path, location)| Ok(tar.store_path(path, location)?.0))
                .collect::<Result<_, LayerError>>()?
        };
        let key = self.cache_key(&located, &key_hashes);
        let record_name = format!("layers/{}", key.hex());
        if let Some((blob, matched)) = self.cached(&record_name)? {
            self.note_matched(&matched);
            self.progress.layer_done(true);
            return Ok((blob, true));
        }
        let (blob, found, matched) = self.write(|tar| {
            tar.store_dirs(&self.nix.store_dir)?;
            located
                .iter()
                .map(|(path, location)| Ok(tar.store_path(path, location)?.0))
                .collect::<Result<Vec<_>, LayerError>>()
        })?;
        for (((path, _), found), expected) in located.iter().zip(&found).zip(&key_hashes) {
            if found != expected {
                return Err(LayerError::NarHashMismatch {
                    path: path.to_string(),
                    expected: *expected,
                    found: *found,
                });
            }
        }
        let blob = blob.commit()?;
        self.note_matched(&matched);
        let record = CacheRecord {
            blob: blob.clone(),
            paths: located.into_iter().map(|(p, _)| p.to_string()).collect(),
            matched_rules: matched,
        };
        let json = serde_json::to_vec_pretty(&record).expect("a record serialises");
        self.store.put_record(&record_name, &json)?;
        self.progress.layer_done(false);
        Ok((blob, false))
    }

    /// A layer from a writer of tar entries (the image's own files); not
    /// cached by key, but stored (and deduplicated) by digest.
    pub fn custom(
        &self,
        fill: impl FnOnce(&mut LayerTar<LayerSink<'_>>) -> Result<(), LayerError>,
    ) -> Result<LayerBlob, LayerError> {
        let (blob, (), matched) = self.write(fill)?;
        let blob = blob.commit()?;
        self.note_matched(&matched);
        self.progress.layer_done(false);
        Ok(blob)
    }

    fn note_matched(&self, matched: &BTreeSet<usize>) {
        self.matched
            .lock()
            .expect("no thread panics holding the set")
            .extend(matched);
    }

    fn cached(
        &self,
        record_name: &str,
    ) -> Result<Option<(LayerBlob, BTreeSet<usize>)>, LayerError> {
        let Some(bytes) = self.store.get_record(record_name)? else {
            return Ok(None);
        };
        // An unreadable record or a lost blob: rebuild (and overwrite).
        let Ok(record) = serde_json::from_slice::<CacheRecord>(&bytes) else {
            return Ok(None);
        };
        if self.store.stat(&record.blob.digest)? != Some(record.blob.size) {
            return Ok(None);
        }
        Ok(Some((record.blob, record.matched_rules)))
    }

    fn cache_key(&self, located: &[(StorePath, PathBuf)], hashes: &[NarHash]) -> Sha256Digest {
        let mut text = format!(
            "strata layer\ntar-rules {TAR_RULES_VERSION}\nstore-dir {}\ncompression {}\n",
            self.nix.store_dir,
            self.compression.settings()
        );
        if !self.perms.is_empty() {
            text.push_str(&format!("perms {}\n", self.perms.key()));
        }
        for ((path, _), hash) in located.iter().zip(hashes) {
            text.push_str(&format!("path {path} {}\n", hash.to_hex()));
        }
        Sha256Digest(Sha256::digest(text.as_bytes()).into())
    }

    fn write<T>(
        &self,
        fill: impl FnOnce(&mut LayerTar<LayerSink<'_>>) -> Result<T, LayerError>,
    ) -> Result<(PendingBlob, T, BTreeSet<usize>), LayerError> {
        // The blob's own hash and write on a second thread (see pipe.rs).
        let blob = Pipe::new(self.store.create()?);
        let compressor =
            Compressor::new(self.compression, blob, self.threads).map_err(LayerError::Compress)?;
        let sink = LayerSink {
            inner: compressor,
            sha: (self.compression != Compression::None).then(Sha256::new),
            progress: self.progress,
            pending: 0,
        };
        let mut tar = LayerTar::with_perms(sink, Arc::clone(&self.perms));
        let value = fill(&mut tar)?;
        let matched = tar.matched_rules().clone();
        let mut sink = tar.finish()?;
        sink.report();
        let diff_id = sink
            .sha
            .take()
            .map(|sha| Sha256Digest(sha.finalize().into()));
        let blob = sink
            .inner
            .finish()
            .and_then(Pipe::finish)
            .map_err(LayerError::Compress)?;
        Ok((
            PendingBlob {
                blob,
                diff_id,
                compression: self.compression,
            },
            value,
            matched,
        ))
    }
}

/// A written blob not yet committed to the store.
struct PendingBlob {
    blob: Box<dyn crate::store::BlobWriter>,
    diff_id: Option<Sha256Digest>,
    compression: Compression,
}

impl PendingBlob {
    fn commit(self) -> Result<LayerBlob, LayerError> {
        let (digest, size) = self.blob.commit(None)?;
        Ok(LayerBlob {
            // Uncompressed: the blob is the tar, one hash serves both.
            diff_id: self.diff_id.unwrap_or(digest),
            digest,
            size,
            compression: self.compression,
        })
    }
}

/// Where a layer's tar goes: the diff_id hash (skipped when the blob is
/// the tar), progress, then the compressor into the blob store.
pub struct LayerSink<'a> {
    inner: Compressor<Pipe<Box<dyn crate::store::BlobWriter>>>,
    sha: Option<Sha256>,
    progress: &'a dyn Progress,
    pending: u64,
}

impl LayerSink<'_> {
    fn report(&mut self) {
        if self.pending > 0 {
            self.progress.bytes(self.pending);
            self.pending = 0;
        }
    }
}

impl Write for LayerSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(sha) = &mut self.sha {
            sha.update(&buf[..n]);
        }
        self.pending += n as u64;
        if self.pending >= 1 << 20 {
            self.report();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
