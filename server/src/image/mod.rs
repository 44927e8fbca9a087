//! Images from plans: one layer blob per plan layer (cached by content),
//! an optional layer of the image's own files on top, the config and the
//! manifest, all stored in a [`BlobStore`]; then written out as a
//! docker-archive or an OCI layout ([`archive`]).
//!
//! ```text
//! plan ──► layer::LayerBuilder ──► tar ─► diff_id ─► compress ─► store (digest, size)
//!            (cache by paths+narHash)                         │
//! nix_db::write (--nix-db: db.sqlite, gcroots) ────────────────┤
//! custom::write (links, extra files, users) ──────────────────┤
//!   (perms: owner/mode rules on every entry of every layer)
//! config::image_config ─► canonical JSON ─► store ─► config::manifest ─► store
//! archive::{docker, oci} ◄── blobs from the store
//! publish ──► Docker schema-2 manifest + repository records (name, tag) ──► registry
//! ```

pub mod archive;
pub mod compress;
pub mod config;
pub mod custom;
pub mod digest;
pub mod layer;
pub mod name;
pub mod nar;
pub mod nix_db;
pub mod perms;
pub mod pipe;
pub mod platform;
pub mod publish;
pub mod repository;
pub mod stored;
pub mod tar;

#[cfg(test)]
pub(crate) mod golden_tests;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use strata_planner::{Layer, Plan, StorePath};
use thiserror::Error;

use crate::store::{BlobStore, StoreError};
use compress::Compression;
use config::{canonical_json, ConfigLayer, ConfigOptions};
use custom::Customisation;
use digest::Sha256Digest;
use layer::{LayerBlob, LayerBuilder, LayerError, NixStore, Progress};

/// How to build an image from a plan.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Where store paths are read.
    pub nix: NixStore,
    /// Layer compression.
    pub compression: Compression,
    /// Threads compressing a gzip layer.
    pub threads: usize,
    /// The image's own layer (none when empty).
    pub customisation: Customisation,
    /// The Nix database layer, below the image's own (`--nix-db`).
    pub nix_db: Option<nix_db::NixDb>,
    /// Owner and mode rules for every layer's entries (`--perms`).
    pub perms: Arc<perms::Perms>,
    /// The image configuration.
    pub config: ConfigOptions,
    /// Image name; default: the first root's name without its hash.
    pub name: Option<String>,
    /// Image tag; default: derived from the content (see [`Image::tag`]).
    pub tag: Option<String>,
}

/// A built image: every blob is in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// Repository name (`hello`).
    pub name: String,
    /// Tag: given, or the first 32 hex digits of the config digest (the
    /// image ID), as nixpkgs derives its default tag from the output hash.
    pub tag: String,
    /// Layers, bottom to top.
    pub layers: Vec<BuiltLayer>,
    /// The config JSON (canonical).
    pub config: Vec<u8>,
    /// Its digest.
    pub config_digest: Sha256Digest,
    /// The OCI manifest JSON (canonical).
    pub manifest: Vec<u8>,
    /// Its digest.
    pub manifest_digest: Sha256Digest,
}

/// One layer of a built image.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// The blob.
    pub blob: LayerBlob,
    /// History comment: the layer's main store path.
    pub comment: String,
    /// Whether it came from the layer cache.
    pub cached: bool,
}

/// What went wrong building an image.
#[derive(Debug, Error)]
pub enum BuildError {
    /// A layer of the plan could not be built.
    #[error("layer {index} ({comment})")]
    Layer {
        /// Its index in the plan.
        index: usize,
        /// Its main path.
        comment: String,
        /// Why.
        #[source]
        source: LayerError,
    },
    /// A path of the plan is unusable (checked before building anything).
    #[error("plan layer {index}")]
    Path {
        /// Its layer.
        index: usize,
        /// Why.
        #[source]
        source: LayerError,
    },
    /// The image's own layer could not be built.
    #[error("customisation layer")]
    Custom(#[source] LayerError),
    /// The Nix database layer could not be built.
    #[error("Nix database layer")]
    NixDb(#[source] LayerError),
    /// A `--perms` rule matched nothing.
    #[error("--perms")]
    Perms(#[source] perms::PermsError),
    /// The blob store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// [`Progress::cancelled`] said to stop.
    #[error("the build was cancelled")]
    Cancelled,
}

impl BuildError {
    /// Whether the user's input (plan, store, files) is at fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            BuildError::Layer { source, .. }
            | BuildError::Path { source, .. }
            | BuildError::Custom(source)
            | BuildError::NixDb(source) => source.is_bad_input(),
            BuildError::Perms(_) => true,
            BuildError::Store(_) | BuildError::Cancelled => false,
        }
    }
}

/// Checks that `nix` holds every path of `plan`; the error is the first
/// one it lacks, with its layer. A plan that does not match the store
/// fails here, before any work is done (or, in the server, queued).
pub fn locate_plan(plan: &Plan, nix: &NixStore) -> Result<(), (usize, LayerError)> {
    for (index, layer) in plan.layers.iter().enumerate() {
        for path in &layer.paths {
            nix.locate(path).map_err(|e| (index, e))?;
        }
    }
    Ok(())
}

/// Builds the image of `plan` into `store`.
pub fn build(
    plan: &Plan,
    options: &BuildOptions,
    store: &dyn BlobStore,
    progress: &dyn Progress,
) -> Result<Image, BuildError> {
    locate_plan(plan, &options.nix)
        .map_err(|(index, source)| BuildError::Path { index, source })?;
    let builder = LayerBuilder {
        store,
        nix: &options.nix,
        compression: options.compression,
        threads: options.threads,
        progress,
        perms: Arc::clone(&options.perms),
        matched: Mutex::new(BTreeSet::new()),
    };
    let mut layers = Vec::with_capacity(plan.layers.len() + 1);
    for (index, (layer, built)) in plan
        .layers
        .iter()
        .zip(store_path_layers(&builder, plan, progress))
        .enumerate()
    {
        let comment = main_path(layer);
        let (blob, cached) = match built {
            Some(Ok(built)) => built,
            Some(Err(source)) => {
                return Err(BuildError::Layer {
                    index,
                    comment,
                    source,
                })
            }
            // Not started: cancelled (a failure stops later layers, but
            // every layer below a failed one was started).
            None => return Err(BuildError::Cancelled),
        };
        layers.push(BuiltLayer {
            blob,
            comment,
            cached,
        });
    }
    if let Some(db) = &options.nix_db {
        let blob = builder
            .custom(|tar| nix_db::write(tar, db))
            .map_err(BuildError::NixDb)?;
        layers.push(BuiltLayer {
            blob,
            comment: "Nix database".to_string(),
            cached: false,
        });
    }
    if !options.customisation.is_empty() {
        let blob = builder
            .custom(|tar| custom::write(tar, &options.customisation, &plan.roots, &options.nix))
            .map_err(BuildError::Custom)?;
        layers.push(BuiltLayer {
            blob,
            comment: "customisation layer".to_string(),
            cached: false,
        });
    }
    let matched = builder
        .matched
        .into_inner()
        .expect("no thread panics holding the set");
    options
        .perms
        .check_matched(&matched)
        .map_err(BuildError::Perms)?;
    let path = default_path(&plan.roots, &options.nix);
    let config_layers: Vec<ConfigLayer<'_>> = layers
        .iter()
        .map(|l| ConfigLayer {
            blob: &l.blob,
            comment: l.comment.clone(),
        })
        .collect();
    let config = canonical_json(&config::image_config(
        &options.config,
        &config_layers,
        &path,
    ));
    let config_digest = store.put(&config)?;
    let blobs: Vec<&LayerBlob> = layers.iter().map(|l| &l.blob).collect();
    let manifest = canonical_json(&config::manifest(
        (&config_digest, config.len() as u64),
        &blobs,
    ));
    let manifest_digest = store.put(&manifest)?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| default_name(&plan.roots));
    let tag = options
        .tag
        .clone()
        .unwrap_or_else(|| config_digest.hex()[..32].to_string());
    Ok(Image {
        name,
        tag,
        layers,
        config,
        config_digest,
        manifest,
        manifest_digest,
    })
}

/// Plan layers built at once. Each layer's compression already runs on
/// every core; two layers at a time fill the cores while one layer
/// starts (its compressor waits for its first job's input) or ends (its
/// last job compresses alone), and balance an uncompressed layer's two
/// threads. Bytes do not depend on it: layers are independent.
pub const LAYERS_AT_ONCE: usize = 2;

/// A plan layer's blob and whether it came from the cache, or why not.
type LayerResult = Result<(LayerBlob, bool), LayerError>;

/// The blob of each plan layer, in plan order: `None` for a layer not
/// started because the build was cancelled or an earlier-claimed layer
/// failed (layers are claimed in order, so every layer below a failed one
/// has its result, and the first error is the sequential build's).
fn store_path_layers(
    builder: &LayerBuilder<'_>,
    plan: &Plan,
    progress: &dyn Progress,
) -> Vec<Option<LayerResult>> {
    let count = plan.layers.len();
    let results: Vec<Mutex<Option<LayerResult>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..LAYERS_AT_ONCE.min(count) {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) || progress.cancelled() {
                    return;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(layer) = plan.layers.get(index) else {
                    return;
                };
                let result = builder.store_paths(&layer.paths, &layer.nar_hashes);
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                *results[index].lock().expect("no thread panics holding it") = Some(result);
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.into_inner().expect("no thread panics holding it"))
        .collect()
}

/// The layer's largest path ([`Layer::largest_path`]), plus how many others.
fn main_path(layer: &Layer) -> String {
    let Some(largest) = layer.largest_path() else {
        return String::new();
    };
    match layer.paths.len() {
        1 => largest.to_string(),
        n => format!("{largest} and {} more", n - 1),
    }
}

/// `PATH`: each root's `bin` directory that exists.
fn default_path(roots: &[StorePath], nix: &NixStore) -> String {
    roots
        .iter()
        .filter(|r| nix.locate(r).is_ok_and(|l| l.join("bin").is_dir()))
        .map(|r| format!("{r}/bin"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The first root's name without store directory and hash, made a valid
/// repository name ([`name::ImageName`]'s grammar: lowercase letters and
/// digits joined by one `.`, `_`, `__` or dashes; any other run of
/// separators becomes one `-`).
pub fn default_name(roots: &[StorePath]) -> String {
    let base = roots.first().map_or("", StorePath::name);
    let name: String = base
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut joined = String::with_capacity(name.len());
    let mut run = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            let valid =
                matches!(run.as_str(), "" | "." | "_" | "__") || run.bytes().all(|b| b == b'-');
            joined.push_str(if valid { &run } else { "-" });
            run.clear();
            joined.push(c);
        } else {
            run.push(c);
        }
    }
    let name = joined;
    if name.is_empty() {
        "strata-image".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_repository_names() {
        let root = |s: &str| -> Vec<StorePath> {
            vec![format!("/nix/store/00000000000000000000000000000000-{s}")
                .parse()
                .unwrap()]
        };
        assert_eq!(default_name(&root("hello-2.12")), "hello-2.12");
        assert_eq!(default_name(&root("Foo+Bar")), "foo-bar");
        assert_eq!(default_name(&root("+++")), "strata-image");
        assert_eq!(default_name(&[]), "strata-image");
        assert_eq!(default_name(&root("c++.x_-y__z...w")), "c-x-y__z-w");
        for odd in ["a.-b", "a___b", "a+.b", "x_.y", "--a--"] {
            let name = default_name(&root(odd));
            assert!(name.parse::<name::ImageName>().is_ok(), "{odd}: {name}");
        }
    }
}
