//! OCI image layout (image-spec `image-layout.md`), as a directory or a tar
//! of one (what `skopeo copy oci:` / `oci-archive:` and `umoci` read):
//!
//! ```text
//! oci-layout                      {"imageLayoutVersion": "1.0.0"}
//! index.json                      the manifest, annotated with its tag
//! blobs/sha256/<digest>           layers, config, manifest
//! ```
//!
//! The tag goes in the `org.opencontainers.image.ref.name` annotation
//! (`oci:DIR:TAG` finds it there), and `name:tag` in containerd's
//! `io.containerd.image.name` (`ctr image import` and nerdctl name the
//! image from it; without it they see an unnamed image). A directory that already holds a layout
//! is added to: blobs present are kept (a rebuild writes only the new
//! config and manifest), an index entry with the same tag is replaced, and
//! `index.json` is replaced last and atomically, so an interrupted write
//! never leaves an index naming missing blobs.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder, MediaType};

use super::{ArchiveError, ArchiveTar};
use crate::files::{write_atomic, AtomicFile};
use crate::image::config::canonical_json;
use crate::image::digest::Sha256Digest;
use crate::image::platform::MultiImage;
use crate::image::Image;
use crate::store::BlobStore;

/// The annotation naming a manifest in an index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation with the image's whole name (`name:tag`).
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

fn manifest_descriptor(image: &Image) -> Descriptor {
    let mut descriptor = Descriptor::new(
        MediaType::ImageManifest,
        image.manifest.len() as u64,
        image.manifest_digest.to_oci(),
    );
    descriptor.set_annotations(Some(HashMap::from([
        (REF_NAME.to_string(), image.tag.clone()),
        (
            CONTAINERD_NAME.to_string(),
            format!("{}:{}", image.name, image.tag),
        ),
    ])));
    descriptor
}

fn index(manifests: Vec<Descriptor>) -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .expect("index fields are set")
}

/// Writes `image` as an OCI layout tar to `out`; returns the writer.
pub fn write_archive<W: Write>(
    image: &Image,
    store: &dyn BlobStore,
    out: W,
) -> Result<W, ArchiveError> {
    let mut tar = ArchiveTar::new(out);
    tar.file("oci-layout", OCI_LAYOUT)?;
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    let mut written = std::collections::HashSet::new();
    for layer in &image.layers {
        if written.insert(layer.blob.digest) {
            let name = format!("blobs/sha256/{}", layer.blob.digest.hex());
            tar.blob(&name, store, &layer.blob.digest, layer.blob.size)?;
        }
    }
    tar.file(
        &format!("blobs/sha256/{}", image.config_digest.hex()),
        &image.config,
    )?;
    tar.file(
        &format!("blobs/sha256/{}", image.manifest_digest.hex()),
        &image.manifest,
    )?;
    let index = canonical_json(&index(vec![manifest_descriptor(image)]));
    tar.file("index.json", &index)?;
    Ok(tar.finish()?)
}

/// Writes `image` into the OCI layout directory `dir` (created if needed;
/// see the module docs for an existing one).
pub fn write_dir(image: &Image, store: &dyn BlobStore, dir: &Path) -> Result<(), ArchiveError> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    put_image_blobs(&blobs, store, image)?;
    tag_in_layout(dir, &image.tag, manifest_descriptor(image))
}

/// An image's layers, config and manifest into `blobs`.
fn put_image_blobs(blobs: &Path, store: &dyn BlobStore, image: &Image) -> Result<(), ArchiveError> {
    for layer in &image.layers {
        put_blob(blobs, store, &layer.blob.digest, layer.blob.size)?;
    }
    put_bytes(blobs, &image.config_digest, &image.config)?;
    put_bytes(blobs, &image.manifest_digest, &image.manifest)
}

/// Finishes an OCI layout whose blobs are written: its `oci-layout` file,
/// and `index.json` with `descriptor` under `tag` (replacing what held
/// that tag, keeping the other tags).
fn tag_in_layout(dir: &Path, tag: &str, descriptor: Descriptor) -> Result<(), ArchiveError> {
    let layout = dir.join("oci-layout");
    if !layout.exists() {
        write_atomic(&layout, OCI_LAYOUT)?;
    }
    let mut manifests: Vec<Descriptor> = match fs::read(dir.join("index.json")) {
        Ok(bytes) => serde_json::from_slice::<ImageIndex>(&bytes)
            .map(|i| i.manifests().clone())
            .unwrap_or_default(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    manifests.retain(|m| {
        m.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .is_none_or(|t| t != tag)
    });
    manifests.push(descriptor);
    write_atomic(&dir.join("index.json"), &canonical_json(&index(manifests)))?;
    Ok(())
}

/// A blob into `blobs` unless there: a hard link to the store's copy when
/// they share a filesystem (a link appears whole), else a copy written as
/// an [`AtomicFile`].
fn put_blob(
    blobs: &Path,
    store: &dyn BlobStore,
    digest: &Sha256Digest,
    size: u64,
) -> Result<(), ArchiveError> {
    let target = blobs.join(digest.hex());
    if fs::metadata(&target).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    let linked = store
        .local_path(digest)
        .is_some_and(|source| fs::hard_link(source, &target).is_ok());
    if !linked {
        let mut file = AtomicFile::create(&target)?;
        match store.local_path(digest) {
            Some(path) => io::copy(&mut fs::File::open(path)?, &mut file)?,
            None => io::copy(&mut store.open(digest)?, &mut file)?,
        };
        file.commit()?;
    }
    Ok(())
}

fn put_bytes(blobs: &Path, digest: &Sha256Digest, bytes: &[u8]) -> Result<(), ArchiveError> {
    let target = blobs.join(digest.hex());
    if !fs::metadata(&target).is_ok_and(|m| m.len() == bytes.len() as u64) {
        write_atomic(&target, bytes)?;
    }
    Ok(())
}

/// The index.json entry of a multi-platform image: its image index blob,
/// annotated with the tag like a single image's manifest.
fn index_descriptor(multi: &MultiImage) -> Descriptor {
    let mut descriptor = Descriptor::new(
        MediaType::ImageIndex,
        multi.index.len() as u64,
        multi.index_digest.to_oci(),
    );
    descriptor.set_annotations(Some(HashMap::from([
        (REF_NAME.to_string(), multi.tag.clone()),
        (
            CONTAINERD_NAME.to_string(),
            format!("{}:{}", multi.name, multi.tag),
        ),
    ])));
    descriptor
}

/// Writes a multi-platform image as an OCI layout tar: every platform's
/// blobs (each layer once, however many platforms share it), the image
/// index as a blob, and `index.json` naming that index by tag (as
/// `skopeo copy --all` and `docker buildx` lay out a multi-platform image).
pub fn write_multi_archive<W: Write>(
    multi: &MultiImage,
    store: &dyn BlobStore,
    out: W,
) -> Result<W, ArchiveError> {
    let mut tar = ArchiveTar::new(out);
    tar.file("oci-layout", OCI_LAYOUT)?;
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    let mut written = std::collections::HashSet::new();
    for (_, image) in &multi.images {
        for layer in &image.layers {
            if written.insert(layer.blob.digest) {
                let name = format!("blobs/sha256/{}", layer.blob.digest.hex());
                tar.blob(&name, store, &layer.blob.digest, layer.blob.size)?;
            }
        }
    }
    for (_, image) in &multi.images {
        for (digest, bytes) in [
            (image.config_digest, &image.config),
            (image.manifest_digest, &image.manifest),
        ] {
            if written.insert(digest) {
                tar.file(&format!("blobs/sha256/{}", digest.hex()), bytes)?;
            }
        }
    }
    tar.file(
        &format!("blobs/sha256/{}", multi.index_digest.hex()),
        &multi.index,
    )?;
    let index = canonical_json(&index(vec![index_descriptor(multi)]));
    tar.file("index.json", &index)?;
    Ok(tar.finish()?)
}

/// Writes a multi-platform image into the OCI layout directory `dir`
/// (as [`write_dir`] does a single one: blobs first, `index.json` last).
pub fn write_multi_dir(
    multi: &MultiImage,
    store: &dyn BlobStore,
    dir: &Path,
) -> Result<(), ArchiveError> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    for (_, image) in &multi.images {
        put_image_blobs(&blobs, store, image)?;
    }
    put_bytes(&blobs, &multi.index_digest, &multi.index)?;
    tag_in_layout(dir, &multi.tag, index_descriptor(multi))
}
