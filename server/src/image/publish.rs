//! Publishing: a built image becomes pullable from the store by name and
//! tag ([`publish`]), for `strata build --publish` now and the JSON build
//! API later.
//!
//! Besides the OCI manifest the build stored, an image gets a Docker
//! schema-2 manifest over the same config and layer blobs, because some
//! clients (older Docker, some CI tools) ask only for that form; the
//! registry picks one by `Accept`. Docker's media types name gzip and
//! uncompressed layers only, so an image with zstd layers gets the OCI
//! manifest alone. Both are canonical JSON, so the same image always has
//! the same two digests.
//!
//! Records are written blobs first, tag last ([`super::repository`]): a
//! reader that finds the tag finds everything it points at.

use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};
use thiserror::Error;

use super::compress::Compression;
use super::config::canonical_json;
use super::digest::Sha256Digest;
use super::name::{ImageName, ReferenceError, Tag};
use super::repository::{
    ManifestKind, ManifestRecord, ManifestRef, Repository, RepositoryError, TagRecord,
    DOCKER_MANIFEST,
};
use super::Image;
use crate::store::{BlobStore, StoreError};

/// Docker's image config media type.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker's gzip layer media type.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker's uncompressed layer media type.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Why an image could not be published.
#[derive(Debug, Error)]
pub enum PublishError {
    /// Its name or tag breaks the reference grammar.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A blob it needs is not in the store (built into another one).
    #[error("blob {digest} is not in the store")]
    MissingBlob {
        /// The blob.
        digest: Sha256Digest,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The repository's records could not be read or written.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// What [`publish`] recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The name.
    pub name: ImageName,
    /// The tag.
    pub tag: Tag,
    /// The manifests the tag points at.
    pub manifests: TagRecord,
}

/// The Docker schema-2 manifest of `image`, or `None` when a layer is
/// compressed with zstd (no Docker media type names it).
pub fn docker_manifest(image: &Image) -> Option<ImageManifest> {
    let layers = image
        .layers
        .iter()
        .map(|l| {
            let media_type = match l.blob.compression {
                Compression::Gzip => DOCKER_LAYER_GZIP,
                Compression::None => DOCKER_LAYER_TAR,
                Compression::Zstd => return None,
            };
            Some(Descriptor::new(
                MediaType::Other(media_type.to_string()),
                l.blob.size,
                l.blob.digest.to_oci(),
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    let config = Descriptor::new(
        MediaType::Other(DOCKER_CONFIG.to_string()),
        image.config.len() as u64,
        image.config_digest.to_oci(),
    );
    Some(
        ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::Other(DOCKER_MANIFEST.to_string()))
            .config(config)
            .layers(layers)
            .build()
            .expect("manifest fields are set"),
    )
}

/// Records `image` in `store` as `name:tag`, replacing what the tag
/// pointed at. The image's blobs must be in `store` already.
pub fn publish(store: &dyn BlobStore, image: &Image) -> Result<Published, PublishError> {
    let name: ImageName = image.name.parse()?;
    let tag: Tag = image.tag.parse()?;
    let mut blobs = vec![
        (image.config_digest, image.config.len() as u64),
        (image.manifest_digest, image.manifest.len() as u64),
    ];
    blobs.extend(image.layers.iter().map(|l| (l.blob.digest, l.blob.size)));
    for (digest, size) in &blobs {
        if store.stat(digest)? != Some(*size) {
            return Err(PublishError::MissingBlob { digest: *digest });
        }
    }
    let oci = ManifestRef {
        digest: image.manifest_digest,
        size: image.manifest.len() as u64,
    };
    let docker = match docker_manifest(image) {
        Some(manifest) => {
            let bytes = canonical_json(&manifest);
            Some(ManifestRef {
                digest: store.put(&bytes)?,
                size: bytes.len() as u64,
            })
        }
        None => None,
    };
    let repository = Repository::new(store, &name);
    for (digest, _) in &blobs {
        repository.put_blob(digest)?;
    }
    let manifests = [
        (ManifestKind::Oci, Some(oci)),
        (ManifestKind::Docker, docker),
    ];
    for (kind, manifest) in manifests {
        if let Some(m) = manifest {
            repository.put_blob(&m.digest)?;
            repository.put_manifest(&m.digest, &ManifestRecord { kind, size: m.size })?;
        }
    }
    let manifests = TagRecord { oci, docker };
    repository.put_tag(&tag, &manifests)?;
    Ok(Published {
        name,
        tag,
        manifests,
    })
}
