//! `strata push`: images into any registry speaking the OCI distribution
//! push API.
//!
//! ```text
//! source::read (docker-archive, OCI archive or layout) ─┐
//! PushSet::from_image / from_multi (built on the way) ──┴► PushSet
//!        │  blobs (layers, configs): streamed from their files
//!        ▼
//! client::Registry::connect (ping /v2/, auth challenge: auth.rs)
//!        ▼
//! upload::push: per blob HEAD → skip | mount from a sibling repository |
//!               POST + PUT (monolithic) or POST + PATCH… + PUT (chunked);
//!               then the manifests by digest and the top one by tag
//! ```
//!
//! Nothing is buffered whole but manifests and configs: a layer is read
//! from its file (the layer cache's blob, or its region inside an archive)
//! as it is sent. [`reference`] parses `docker://HOST/NAME:TAG`.

pub mod auth;
pub mod client;
pub mod reference;
pub mod source;
pub mod upload;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::image::digest::Sha256Digest;
use crate::image::platform::MultiImage;
use crate::image::repository::OCI_MANIFEST;
use crate::image::Image;
use crate::store::{BlobStore, StoreError};

/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Where a blob's bytes are.
#[derive(Debug, Clone)]
pub enum BlobSource {
    /// `size` bytes of a file from `offset` (a store blob at 0, or an
    /// entry inside an archive).
    File {
        /// The file.
        path: PathBuf,
        /// Where the blob starts.
        offset: u64,
    },
    /// In memory (configs).
    Bytes(Vec<u8>),
}

/// A blob to push.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its digest.
    pub digest: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// Its bytes.
    pub source: BlobSource,
    /// What it is, for messages and progress (`layer 2`, `config`).
    pub label: String,
}

impl Blob {
    /// A reader of exactly the blob's bytes.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        match &self.source {
            BlobSource::Bytes(bytes) => Ok(Box::new(&bytes[..])),
            BlobSource::File { path, offset } => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(*offset))?;
                Ok(Box::new(file.take(self.size)))
            }
        }
    }
}

/// A manifest (or index) to push.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Its digest.
    pub digest: Sha256Digest,
    /// Its media type (the `Content-Type` it is sent with).
    pub media_type: String,
    /// Its bytes, sent as they are (the digest is theirs).
    pub bytes: Vec<u8>,
}

impl Manifest {
    /// A manifest from its bytes.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        Manifest {
            digest: Sha256Digest::of(&bytes),
            media_type: media_type.to_string(),
            bytes,
        }
    }
}

/// Everything one push sends: blobs first, then `manifests` (by digest
/// when there is an index, else the one manifest by tag), then `index`
/// by tag.
#[derive(Debug, Clone)]
pub struct PushSet {
    /// Layers and configs, each once.
    pub blobs: Vec<Blob>,
    /// The image manifests.
    pub manifests: Vec<Manifest>,
    /// The index over them, for a multi-platform image.
    pub index: Option<Manifest>,
    /// The source's own tag, used when the destination names none.
    pub tag: Option<String>,
}

impl PushSet {
    /// The manifest the tag points at.
    pub fn top(&self) -> &Manifest {
        self.index
            .as_ref()
            .or(self.manifests.first())
            .expect("a push set has a manifest")
    }

    /// Adds a blob unless one with its digest is there.
    pub fn add_blob(&mut self, blob: Blob) {
        if !self.blobs.iter().any(|b| b.digest == blob.digest) {
            self.blobs.push(blob);
        }
    }

    /// A built image, its layers read from `store`.
    pub fn from_image(image: &Image, store: &dyn BlobStore) -> Result<PushSet, StoreError> {
        let mut set = PushSet {
            blobs: Vec::new(),
            manifests: Vec::new(),
            index: None,
            tag: Some(image.tag.clone()),
        };
        set.add_image(image, store, "")?;
        Ok(set)
    }

    /// A multi-platform image: every platform's blobs (shared layers
    /// once), manifests, and the index.
    pub fn from_multi(multi: &MultiImage, store: &dyn BlobStore) -> Result<PushSet, StoreError> {
        let mut set = PushSet {
            blobs: Vec::new(),
            manifests: Vec::new(),
            index: Some(Manifest::new(OCI_INDEX, multi.index.clone())),
            tag: Some(multi.tag.clone()),
        };
        for (platform, image) in &multi.images {
            set.add_image(image, store, &format!("{platform} "))?;
        }
        Ok(set)
    }

    fn add_image(
        &mut self,
        image: &Image,
        store: &dyn BlobStore,
        prefix: &str,
    ) -> Result<(), StoreError> {
        for (i, layer) in image.layers.iter().enumerate() {
            let digest = layer.blob.digest;
            let source = match store.local_path(&digest) {
                Some(path) => BlobSource::File { path, offset: 0 },
                None => {
                    let mut bytes = Vec::new();
                    store
                        .open(&digest)?
                        .read_to_end(&mut bytes)
                        .map_err(|source| StoreError::Io {
                            path: format!("blob {digest}").into(),
                            source,
                        })?;
                    BlobSource::Bytes(bytes)
                }
            };
            self.add_blob(Blob {
                digest,
                size: layer.blob.size,
                source,
                label: format!("{prefix}layer {i}"),
            });
        }
        self.add_blob(Blob {
            digest: image.config_digest,
            size: image.config.len() as u64,
            source: BlobSource::Bytes(image.config.clone()),
            label: format!("{prefix}config"),
        });
        debug_assert_eq!(Sha256Digest::of(&image.manifest), image.manifest_digest);
        self.manifests.push(Manifest {
            digest: image.manifest_digest,
            media_type: OCI_MANIFEST.to_string(),
            bytes: image.manifest.clone(),
        });
        Ok(())
    }
}
