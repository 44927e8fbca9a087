//! An image read back from the blob store by its manifest digest: what a
//! server needs to write a finished build's archives again, long after
//! (or a restart after) the build that made it.

use oci_spec::image::{ImageConfiguration, ImageManifest, MediaType};
use thiserror::Error;

use super::compress::Compression;
use super::digest::Sha256Digest;
use super::layer::LayerBlob;
use super::{BuiltLayer, Image};
use crate::store::{BlobStore, StoreError};

/// A stored image that cannot be read back.
#[derive(Debug, Error)]
pub enum StoredError {
    /// The store failed, or a blob is missing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blob is not the JSON it should be.
    #[error("stored {what} {digest} is unreadable: {message}")]
    Corrupt {
        /// `manifest` or `config`.
        what: &'static str,
        /// Its digest.
        digest: Sha256Digest,
        /// Why.
        message: String,
    },
}

fn read(store: &dyn BlobStore, digest: &Sha256Digest) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut store.open(digest)?, &mut bytes).map_err(|source| {
        StoreError::Io {
            path: format!("blob {digest}").into(),
            source,
        }
    })?;
    Ok(bytes)
}

impl Image {
    /// The image whose OCI manifest is `manifest_digest`, named `name:tag`.
    pub fn from_store(
        store: &dyn BlobStore,
        name: &str,
        tag: &str,
        manifest_digest: &Sha256Digest,
    ) -> Result<Image, StoredError> {
        let corrupt = |what, digest: &Sha256Digest, message: String| StoredError::Corrupt {
            what,
            digest: *digest,
            message,
        };
        let manifest = read(store, manifest_digest)?;
        let parsed: ImageManifest = serde_json::from_slice(&manifest)
            .map_err(|e| corrupt("manifest", manifest_digest, e.to_string()))?;
        let digest_of = |d: &oci_spec::image::Digest, what| {
            d.to_string()
                .parse::<Sha256Digest>()
                .map_err(|e| corrupt(what, manifest_digest, e.to_string()))
        };
        let config_digest = digest_of(parsed.config().digest(), "manifest")?;
        let config = read(store, &config_digest)?;
        let diff_ids = serde_json::from_slice::<ImageConfiguration>(&config)
            .map_err(|e| corrupt("config", &config_digest, e.to_string()))?
            .rootfs()
            .diff_ids()
            .clone();
        if diff_ids.len() != parsed.layers().len() {
            return Err(corrupt(
                "manifest",
                manifest_digest,
                "its layers and the config's diff_ids differ in number".to_string(),
            ));
        }
        let layers = parsed
            .layers()
            .iter()
            .zip(&diff_ids)
            .map(|(layer, diff_id)| {
                let compression = match layer.media_type() {
                    MediaType::ImageLayerGzip => Compression::Gzip,
                    MediaType::ImageLayerZstd => Compression::Zstd,
                    _ => Compression::None,
                };
                Ok(BuiltLayer {
                    blob: LayerBlob {
                        diff_id: diff_id.parse().map_err(|e: super::digest::BadDigest| {
                            corrupt("config", &config_digest, e.to_string())
                        })?,
                        digest: digest_of(layer.digest(), "manifest")?,
                        size: layer.size(),
                        compression,
                    },
                    comment: String::new(),
                    cached: true,
                })
            })
            .collect::<Result<Vec<_>, StoredError>>()?;
        Ok(Image {
            name: name.to_string(),
            tag: tag.to_string(),
            layers,
            config,
            config_digest,
            manifest,
            manifest_digest: *manifest_digest,
        })
    }
}
