//! Reading what to push from an image Strata (or docker, or skopeo)
//! wrote: a docker-archive, an OCI layout archive, or an OCI layout
//! directory.
//!
//! A tar is read once for its table of entries: each entry's offset and
//! size are kept, the small JSON entries (`manifest.json`, `index.json`,
//! configs, manifests) read; layer bytes stay in the archive and are
//! streamed from their offset when pushed ([`super::BlobSource::File`]).
//!
//! - OCI (`index.json` present): its one manifest (or, among several, the
//!   one whose `org.opencontainers.image.ref.name` is the tag asked for);
//!   an image index is pushed with all its manifests. Manifests are sent
//!   as their bytes are, so digests are kept.
//! - docker-archive (`manifest.json`): the archive holds no manifest, so
//!   one is made as `strata build` makes it (OCI media types, layer
//!   compression read from each blob's first bytes): an archive Strata
//!   wrote pushes as the same manifest digest its build printed. A layer
//!   not named `blobs/sha256/<digest>` is hashed first.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use super::{Blob, BlobSource, Manifest, PushSet, OCI_INDEX};
use crate::image::archive::oci::REF_NAME;
use crate::image::compress::Compression;
use crate::image::config::{canonical_json, manifest};
use crate::image::digest::Sha256Digest;
use crate::image::layer::LayerBlob;
use crate::image::repository::{DOCKER_MANIFEST, OCI_MANIFEST};

/// An image that cannot be read for pushing.
#[derive(Debug, Error)]
pub enum SourceError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The archive or layout.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It is not an image Strata can push.
    #[error("{path}: {message}")]
    Invalid {
        /// The archive or layout.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Entries of an archive or layout: where each blob is.
enum Entries {
    /// A tar: name → (offset, size).
    Tar(PathBuf, HashMap<String, (u64, u64)>),
    /// A directory.
    Dir(PathBuf),
}

impl Entries {
    fn path(&self) -> &Path {
        match self {
            Entries::Tar(p, _) | Entries::Dir(p) => p,
        }
    }

    fn invalid(&self, message: impl Into<String>) -> SourceError {
        SourceError::Invalid {
            path: self.path().to_path_buf(),
            message: message.into(),
        }
    }

    fn io(&self, source: io::Error) -> SourceError {
        SourceError::Io {
            path: self.path().to_path_buf(),
            source,
        }
    }

    /// Where entry `name` is, and its size.
    fn locate(&self, name: &str) -> Option<(PathBuf, u64, u64)> {
        let name = name.trim_start_matches("./");
        match self {
            Entries::Tar(path, entries) => entries
                .get(name)
                .map(|(offset, size)| (path.clone(), *offset, *size)),
            Entries::Dir(dir) => {
                if name.split('/').any(|c| c == ".." || c.is_empty()) {
                    return None;
                }
                let file = dir.join(name);
                let size = std::fs::metadata(&file).ok().filter(|m| m.is_file())?.len();
                Some((file, 0, size))
            }
        }
    }

    fn blob(&self, name: &str, label: String) -> Result<Blob, SourceError> {
        let (path, offset, size) = self
            .locate(name)
            .ok_or_else(|| self.invalid(format!("{name} is missing")))?;
        Ok(Blob {
            digest: Sha256Digest([0; 32]),
            size,
            source: BlobSource::File { path, offset },
            label,
        })
    }

    /// A small entry's bytes (at most 16 MiB).
    fn read(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        let blob = self.blob(name, name.to_string())?;
        if blob.size > 16 << 20 {
            return Err(self.invalid(format!(
                "{name} is too large for JSON ({} bytes)",
                blob.size
            )));
        }
        let mut bytes = Vec::new();
        blob.open()
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(|e| self.io(e))?;
        Ok(bytes)
    }

    /// The blob of `digest`, its size checked.
    fn oci_blob(&self, digest: &str, size: u64, label: String) -> Result<Blob, SourceError> {
        let parsed: Sha256Digest = digest
            .parse()
            .map_err(|e| self.invalid(format!("{label}: {e}")))?;
        let mut blob = self.blob(&format!("blobs/sha256/{}", parsed.hex()), label.clone())?;
        if blob.size != size {
            return Err(self.invalid(format!(
                "{label} {digest} has {} bytes, its descriptor says {size}",
                blob.size
            )));
        }
        blob.digest = parsed;
        Ok(blob)
    }

    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<T, SourceError> {
        serde_json::from_slice(bytes).map_err(|e| self.invalid(format!("{name}: {e}")))
    }
}

/// Reads the image at `path` (an archive file or a layout directory);
/// `tag` picks among several images of an OCI layout.
pub fn read(path: &Path, tag: Option<&str>) -> Result<PushSet, SourceError> {
    let entries = if path.is_dir() {
        Entries::Dir(path.to_path_buf())
    } else {
        Entries::Tar(path.to_path_buf(), tar_entries(path)?)
    };
    if entries.locate("index.json").is_some() {
        read_oci(&entries, tag)
    } else if entries.locate("manifest.json").is_some() {
        read_docker(&entries)
    } else {
        Err(entries
            .invalid("neither an OCI layout (index.json) nor a docker-archive (manifest.json)"))
    }
}

fn tar_entries(path: &Path) -> Result<HashMap<String, (u64, u64)>, SourceError> {
    let io_err = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut archive = tar::Archive::new(file);
    let mut entries = HashMap::new();
    for entry in archive.entries().map_err(io_err)? {
        let entry = entry.map_err(|e| SourceError::Invalid {
            path: path.to_path_buf(),
            message: format!("not a tar archive: {e}"),
        })?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(io_err)?.to_string_lossy().into_owned();
        let name = name.trim_start_matches("./").to_string();
        entries.insert(name, (entry.raw_file_position(), entry.size()));
    }
    Ok(entries)
}

fn read_oci(entries: &Entries, tag: Option<&str>) -> Result<PushSet, SourceError> {
    let index: ImageIndex = entries.json("index.json", &entries.read("index.json")?)?;
    let tag_of = |d: &oci_spec::image::Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned()
    };
    let chosen = match index.manifests().as_slice() {
        [] => return Err(entries.invalid("index.json lists no image")),
        [one] => one,
        many => {
            let tags: Vec<String> = many.iter().filter_map(tag_of).collect();
            let wanted = tag.ok_or_else(|| {
                entries.invalid(format!(
                    "the layout holds {} images (tags {}): name one with the destination's tag",
                    many.len(),
                    tags.join(", ")
                ))
            })?;
            many.iter()
                .find(|d| tag_of(d).as_deref() == Some(wanted))
                .ok_or_else(|| {
                    entries.invalid(format!(
                        "no image tagged {wanted} (tags {})",
                        tags.join(", ")
                    ))
                })?
        }
    };
    let mut set = PushSet {
        blobs: Vec::new(),
        manifests: Vec::new(),
        index: None,
        tag: tag_of(chosen),
    };
    let top = read_manifest_blob(entries, chosen, "manifest")?;
    match chosen.media_type() {
        MediaType::ImageIndex => {
            let index: ImageIndex = entries.json("the image index", &top.bytes)?;
            for child in index.manifests() {
                let platform = child
                    .platform()
                    .as_ref()
                    .map(|p| format!("{}/{} ", p.os(), p.architecture()))
                    .unwrap_or_default();
                let manifest = read_manifest_blob(entries, child, "manifest")?;
                add_manifest_blobs(entries, &mut set, &manifest, &platform)?;
                set.manifests.push(manifest);
            }
            set.index = Some(top);
        }
        _ => {
            add_manifest_blobs(entries, &mut set, &top, "")?;
            set.manifests.push(top);
        }
    }
    Ok(set)
}

fn read_manifest_blob(
    entries: &Entries,
    descriptor: &oci_spec::image::Descriptor,
    what: &str,
) -> Result<Manifest, SourceError> {
    let digest = descriptor.digest().to_string();
    let blob = entries.oci_blob(&digest, descriptor.size(), format!("{what} {digest}"))?;
    let bytes = entries.read(&format!("blobs/sha256/{}", blob.digest.hex()))?;
    let media_type = match descriptor.media_type() {
        MediaType::ImageIndex => OCI_INDEX.to_string(),
        MediaType::ImageManifest => OCI_MANIFEST.to_string(),
        other => other.to_string(),
    };
    Ok(Manifest {
        digest: blob.digest,
        media_type,
        bytes,
    })
}

fn add_manifest_blobs(
    entries: &Entries,
    set: &mut PushSet,
    manifest: &Manifest,
    prefix: &str,
) -> Result<(), SourceError> {
    if manifest.media_type != OCI_MANIFEST && manifest.media_type != DOCKER_MANIFEST {
        return Err(entries.invalid(format!(
            "manifest {} is a {}, not an image manifest",
            manifest.digest, manifest.media_type
        )));
    }
    let parsed: ImageManifest =
        entries.json(&format!("manifest {}", manifest.digest), &manifest.bytes)?;
    for (i, layer) in parsed.layers().iter().enumerate() {
        let blob = entries.oci_blob(
            layer.digest().as_ref(),
            layer.size(),
            format!("{prefix}layer {i}"),
        )?;
        set.add_blob(blob);
    }
    let config = parsed.config();
    let blob = entries.oci_blob(
        config.digest().as_ref(),
        config.size(),
        format!("{prefix}config"),
    )?;
    set.add_blob(blob);
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn read_docker(entries: &Entries) -> Result<PushSet, SourceError> {
    let list: Vec<DockerEntry> = entries.json("manifest.json", &entries.read("manifest.json")?)?;
    let [entry] = list.as_slice() else {
        return Err(entries.invalid(format!(
            "manifest.json lists {} images; strata pushes an archive of one",
            list.len()
        )));
    };
    let config_bytes = entries.read(&entry.config)?;
    let config: ImageConfiguration = entries.json(&entry.config, &config_bytes)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != entry.layers.len() {
        return Err(entries.invalid(format!(
            "manifest.json lists {} layers, the config {} diff_ids",
            entry.layers.len(),
            diff_ids.len()
        )));
    }
    let mut set = PushSet {
        blobs: Vec::new(),
        manifests: Vec::new(),
        index: None,
        tag: entry
            .repo_tags
            .as_ref()
            .and_then(|t| t.first())
            .and_then(|t| t.rsplit_once(':'))
            .map(|(_, tag)| tag.to_string()),
    };
    let mut layer_blobs = Vec::new();
    for (i, (name, diff_id)) in entry.layers.iter().zip(diff_ids).enumerate() {
        let mut blob = entries.blob(name, format!("layer {i}"))?;
        let mut head = [0u8; 4];
        let n = blob
            .open()
            .and_then(|mut reader| read_up_to(&mut reader, &mut head))
            .map_err(|e| entries.io(e))?;
        let compression = match &head[..n] {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
            _ => Compression::None,
        };
        let named = name
            .strip_prefix("blobs/sha256/")
            .and_then(|hex| format!("sha256:{hex}").parse::<Sha256Digest>().ok());
        blob.digest = match named {
            Some(digest) => digest,
            None => hash(&blob).map_err(|e| entries.io(e))?,
        };
        let diff_id: Sha256Digest = diff_id
            .parse()
            .map_err(|e| entries.invalid(format!("{}: diff_id: {e}", entry.config)))?;
        layer_blobs.push(LayerBlob {
            diff_id,
            digest: blob.digest,
            size: blob.size,
            compression,
        });
        set.add_blob(blob);
    }
    let config_digest = Sha256Digest::of(&config_bytes);
    let blobs: Vec<&LayerBlob> = layer_blobs.iter().collect();
    let bytes = canonical_json(&manifest(
        (&config_digest, config_bytes.len() as u64),
        &blobs,
    ));
    set.add_blob(Blob {
        digest: config_digest,
        size: config_bytes.len() as u64,
        source: BlobSource::Bytes(config_bytes),
        label: "config".to_string(),
    });
    set.manifests.push(Manifest::new(OCI_MANIFEST, bytes));
    Ok(set)
}

fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn hash(blob: &Blob) -> io::Result<Sha256Digest> {
    let mut sha = Sha256::new();
    let mut reader = blob.open()?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf)? {
            0 => break,
            n => sha.update(&buf[..n]),
        }
    }
    Ok(Sha256Digest(sha.finalize().into()))
}
