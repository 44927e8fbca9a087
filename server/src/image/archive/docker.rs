//! docker-archive: what `docker save` writes and `docker load`,
//! `podman load` and `skopeo copy docker-archive:` read.
//!
//! ```text
//! blobs/sha256/<layer digest>     one per layer, compressed as built
//! blobs/sha256/<config digest>    the image config
//! manifest.json                   [{"Config": ..., "RepoTags": ["name:tag"], "Layers": [...]}]
//! ```
//!
//! Blob paths follow `docker save` since Docker 25 (`blobs/sha256/...`);
//! loaders find everything through `manifest.json`, and detect a layer's
//! compression from its bytes. Written last, `manifest.json` is the only
//! entry not known before the blobs.

use std::io::Write;

use serde::Serialize;

use super::{ArchiveError, ArchiveTar};
use crate::image::Image;
use crate::store::BlobStore;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Writes `image` as a docker-archive to `out`; returns the writer.
pub fn write<W: Write>(image: &Image, store: &dyn BlobStore, out: W) -> Result<W, ArchiveError> {
    let mut tar = ArchiveTar::new(out);
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    let mut written = std::collections::HashSet::new();
    let mut layers = Vec::new();
    for layer in &image.layers {
        let name = format!("blobs/sha256/{}", layer.blob.digest.hex());
        if written.insert(layer.blob.digest) {
            tar.blob(&name, store, &layer.blob.digest, layer.blob.size)?;
        }
        layers.push(name);
    }
    let config = format!("blobs/sha256/{}", image.config_digest.hex());
    tar.file(&config, &image.config)?;
    let manifest = [ManifestEntry {
        config,
        repo_tags: vec![format!("{}:{}", image.name, image.tag)],
        layers,
    }];
    let json = serde_json::to_vec(&manifest).expect("a manifest serialises");
    tar.file("manifest.json", &json)?;
    Ok(tar.finish()?)
}
