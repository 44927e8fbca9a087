//! A repository's records in the blob store: what makes published images
//! pullable by name, tag and digest. [`super::publish`] writes them; the
//! registry (`crate::http::registry`) reads them.
//!
//! The layout follows the reference registry's (distribution's
//! `repositories/<name>/_manifests/tags/<tag>` and `_layers/sha256/<hex>`
//! links), flattened into records:
//!
//! ```text
//! repositories/<name>/_tags/<tag>         {"oci": {"digest", "size"}, "docker": {...}}
//! repositories/<name>/_manifests/<hex>    {"mediaType", "size"}: a manifest of the name
//! repositories/<name>/_blobs/<hex>        sha256:<hex>: a blob the name may serve
//! ```
//!
//! `<name>` may hold `/` (`team/hello`), but none of its components starts
//! with `_` ([`ImageName`]'s grammar), so `_tags` never collides with a
//! deeper name. Record names are made only from an [`ImageName`], a [`Tag`]
//! and a [`Sha256Digest`], each parsed at the edge: no `..`, `%` or NUL can
//! reach the store. The `_manifests` and `_blobs` links make a pull by
//! digest one record read, however many tags the name has.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::digest::Sha256Digest;
use super::name::{ImageName, Tag};
use crate::store::{BlobStore, StoreError};

/// The OCI image manifest's media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A manifest blob: its digest and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRef {
    /// Its digest.
    pub digest: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// What a tag points at: the OCI manifest, and the Docker schema-2 one
/// when the image has one (not for zstd layers, which Docker's media types
/// cannot name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    /// The OCI image manifest.
    pub oci: ManifestRef,
    /// The Docker schema-2 manifest, over the same blobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<ManifestRef>,
}

/// Which of the two manifest forms a manifest blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManifestKind {
    /// `application/vnd.oci.image.manifest.v1+json`.
    #[serde(rename = "application/vnd.oci.image.manifest.v1+json")]
    Oci,
    /// `application/vnd.docker.distribution.manifest.v2+json`.
    #[serde(rename = "application/vnd.docker.distribution.manifest.v2+json")]
    Docker,
}

impl ManifestKind {
    /// The media type, as served in `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::Oci => OCI_MANIFEST,
            ManifestKind::Docker => DOCKER_MANIFEST,
        }
    }
}

/// A manifest of a name, as its `_manifests` link records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    /// Its form.
    #[serde(rename = "mediaType")]
    pub kind: ManifestKind,
    /// Its size in bytes.
    pub size: u64,
}

/// Reading or writing a repository's records failed.
#[derive(Debug, Error)]
pub enum RepositoryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record holds something else than what this module writes.
    #[error("record {record}: not what strata writes")]
    Corrupt {
        /// The record's name.
        record: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
}

/// One name's records in a store.
pub struct Repository<'a> {
    store: &'a dyn BlobStore,
    name: &'a ImageName,
}

impl<'a> Repository<'a> {
    /// The records of `name` in `store`.
    pub fn new(store: &'a dyn BlobStore, name: &'a ImageName) -> Self {
        Repository { store, name }
    }

    fn record(&self, folder: &str, leaf: &str) -> String {
        format!("repositories/{}/{folder}/{leaf}", self.name.as_str())
    }

    fn get<T: for<'de> Deserialize<'de>>(
        &self,
        record: String,
    ) -> Result<Option<T>, RepositoryError> {
        match self.store.get_record(&record)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| RepositoryError::Corrupt { record, source }),
        }
    }

    fn put<T: Serialize>(&self, record: String, value: &T) -> Result<(), RepositoryError> {
        let bytes = serde_json::to_vec(value).expect("records serialise");
        Ok(self.store.put_record(&record, &bytes)?)
    }

    /// What `tag` points at, if it exists.
    pub fn tag(&self, tag: &Tag) -> Result<Option<TagRecord>, RepositoryError> {
        self.get(self.record("_tags", tag.as_str()))
    }

    /// The name's tags, sorted by bytes (empty: the name is unknown).
    pub fn tags(&self) -> Result<Vec<String>, RepositoryError> {
        let prefix = format!("repositories/{}/_tags/", self.name.as_str());
        Ok(self.store.list_records(&prefix)?)
    }

    /// The manifest `digest`, if it is one of the name's.
    pub fn manifest(
        &self,
        digest: &Sha256Digest,
    ) -> Result<Option<ManifestRecord>, RepositoryError> {
        self.get(self.record("_manifests", &digest.hex()))
    }

    /// Whether the name may serve blob `digest` (a config, a layer or a
    /// manifest of one of its images).
    pub fn has_blob(&self, digest: &Sha256Digest) -> Result<bool, RepositoryError> {
        Ok(self
            .store
            .get_record(&self.record("_blobs", &digest.hex()))?
            .is_some())
    }

    /// Points `tag` at `record`.
    pub fn put_tag(&self, tag: &Tag, record: &TagRecord) -> Result<(), RepositoryError> {
        self.put(self.record("_tags", tag.as_str()), record)
    }

    /// Records a manifest of the name.
    pub fn put_manifest(
        &self,
        digest: &Sha256Digest,
        record: &ManifestRecord,
    ) -> Result<(), RepositoryError> {
        self.put(self.record("_manifests", &digest.hex()), record)
    }

    /// Lets the name serve blob `digest`.
    pub fn put_blob(&self, digest: &Sha256Digest) -> Result<(), RepositoryError> {
        let record = self.record("_blobs", &digest.hex());
        Ok(self
            .store
            .put_record(&record, digest.to_string().as_bytes())?)
    }
}
