//! Determinism pinned to bytes: a small image built from a fixed store tree
//! must give exactly the committed layer tar, config and manifest (and so
//! the same digests). The layer cache is keyed by what decides a layer's
//! bytes, not by the bytes themselves, so a dependency upgrade that changed
//! one byte (tar headers, gzip, JSON key order) would otherwise keep
//! serving stale cached layers under the same key; this test fails instead.
//!
//! `STRATA_BLESS=1` rewrites the files in `server/testdata/golden/`;
//! review the diff, and bump [`super::layer::TAR_RULES_VERSION`] when a
//! layer's bytes changed.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use strata_planner::{parse_closure, plan_closure, Algorithm, NarHash, Plan, PlanOptions};

use super::compress::Compression;
use super::config::canonical_json;
use super::config::ConfigOptions;
use super::custom::Customisation;
use super::digest::Sha256Digest;
use super::layer::{LayerError, NixStore, NoProgress};
use super::name::{ImageName, Tag};
use super::publish::{docker_manifest, publish};
use super::repository::{ManifestKind, Repository};
use super::{build, BuildOptions, Image};
use crate::store::{BlobStore, FsStore};

pub(crate) const GREETING: &str = "/nix/store/0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy-greeting-1.0";
pub(crate) const HELLO: &str = "/nix/store/1d1mfgw3cqa8dp1ymhy2sw0ychqdxbgy-hello-1.0";

fn golden_dir() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("testdata/golden")
}

/// A fixed store under `root`: modes set explicitly (the umask must not
/// leak in), a symlink, an executable, a nested directory.
pub(crate) fn fixed_store(root: &Path) {
    let greeting = root.join(GREETING.trim_start_matches('/'));
    let hello = root.join(HELLO.trim_start_matches('/'));
    fs::create_dir_all(greeting.join("share")).unwrap();
    fs::create_dir_all(hello.join("bin")).unwrap();
    fs::write(
        greeting.join("share/greeting"),
        "hello from a golden image\n",
    )
    .unwrap();
    fs::write(
        hello.join("bin/hello"),
        format!("#!/bin/sh\nexec cat {GREETING}/share/greeting\n"),
    )
    .unwrap();
    symlink("hello", hello.join("bin/hi")).unwrap();
    let mode = |path: PathBuf, mode: u32| {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    };
    mode(greeting.join("share/greeting"), 0o444);
    mode(hello.join("bin/hello"), 0o555);
    for dir in [
        greeting.join("share"),
        greeting.clone(),
        hello.join("bin"),
        hello.clone(),
    ] {
        mode(dir, 0o555);
    }
}

fn build_fixed(root: &Path, compression: Compression) -> (Image, FsStore) {
    let (plan, options, store) = fixed_plan(root, compression);
    let image = build(&plan, &options, &store, &NoProgress).unwrap();
    (image, store)
}

/// The fixed store's two-layer plan, the golden build options and a
/// blob store, all under `root`.
fn fixed_plan(root: &Path, compression: Compression) -> (Plan, BuildOptions, FsStore) {
    fixed_store(root);
    let closure = serde_json::json!([
        {"path": HELLO, "narSize": 1, "references": [GREETING]},
        {"path": GREETING, "narSize": 2, "references": []},
    ]);
    let graph = parse_closure(&closure.to_string(), "/nix/store").unwrap();
    let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
    let store = FsStore::open(root.join("blobs")).unwrap();
    let options = BuildOptions {
        nix: NixStore {
            store_dir: "/nix/store".to_string(),
            root: Some(root.to_path_buf()),
        },
        compression,
        threads: 2,
        customisation: Customisation {
            links: true,
            extra: None,
            users: Vec::new(),
        },
        nix_db: None,
        perms: Default::default(),
        config: ConfigOptions {
            architecture: Some("amd64".to_string()),
            cmd: Some(vec!["hello".to_string()]),
            ..ConfigOptions::default()
        },
        name: Some("golden".to_string()),
        tag: Some("t".to_string()),
    };
    (plan, options, store)
}

/// Plan layers are built [`super::LAYERS_AT_ONCE`] at a time; a failure
/// is still the lowest failing layer's, as one at a time.
#[test]
fn the_first_failing_layer_is_the_one_reported() {
    let root = temp("first-failure");
    let (mut plan, options, store) = fixed_plan(&root, Compression::Zstd);
    assert_eq!(plan.layers.len(), 2);
    for layer in &mut plan.layers {
        layer.nar_hashes = vec![NarHash([0; 32]); layer.paths.len()];
    }
    for _ in 0..5 {
        match build(&plan, &options, &store, &NoProgress) {
            Err(super::BuildError::Layer { index, source, .. }) => {
                assert_eq!(index, 0, "{source}");
                assert!(
                    matches!(source, LayerError::NarHashMismatch { .. }),
                    "{source}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    fs::remove_dir_all(&root).unwrap();
}

/// Compares `got` with the golden file `name`, or rewrites it when blessing.
fn check_bytes(name: &str, got: &[u8]) {
    let path = golden_dir().join(name);
    if std::env::var_os("STRATA_BLESS").is_some() {
        fs::create_dir_all(golden_dir()).unwrap();
        fs::write(&path, got).unwrap();
        return;
    }
    let expected = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        got == expected.as_slice(),
        "{name}: the bytes differ from {} (a dependency or rule changed them; \
         STRATA_BLESS=1 rewrites the file, then bump TAR_RULES_VERSION if a layer changed)\n\
         got:\n{}",
        path.display(),
        String::from_utf8_lossy(got)
    );
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-golden-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_small_image_is_the_committed_bytes() {
    let root = temp("gzip");
    let (image, store) = build_fixed(&root, Compression::Gzip);
    // The bottom layer's tar, uncompressed, and every digest.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(store.open(&image.layers[0].blob.digest).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    check_bytes("layer0.tar", &tar);
    check_bytes("config.json", &image.config);
    check_bytes("manifest.json", &image.manifest);
    let docker = canonical_json(&docker_manifest(&image).expect("gzip layers have Docker types"));
    check_bytes("manifest.docker.json", &docker);
    let digests: String = image
        .layers
        .iter()
        .map(|l| {
            format!(
                "layer diff_id {} digest {} size {}\n",
                l.blob.diff_id, l.blob.digest, l.blob.size
            )
        })
        .chain([
            format!("config {}\n", image.config_digest),
            format!("manifest {}\n", image.manifest_digest),
        ])
        .collect();
    check_bytes("digests.gzip.txt", digests.as_bytes());
    assert_eq!(
        image.layers.len(),
        3,
        "two store layers and the links layer"
    );
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn zstd_and_uncompressed_layers_are_pinned_too() {
    for (compression, name) in [
        (Compression::Zstd, "digests.zstd.txt"),
        (Compression::None, "digests.none.txt"),
    ] {
        let root = temp(name);
        let (image, _) = build_fixed(&root, compression);
        let digests: String = image
            .layers
            .iter()
            .map(|l| format!("layer {} {}\n", l.blob.digest, l.blob.size))
            .chain([format!("manifest {}\n", image.manifest_digest)])
            .collect();
        check_bytes(name, digests.as_bytes());
        fs::remove_dir_all(&root).unwrap();
    }
}

#[test]
fn publishing_records_both_manifests_and_every_blob_under_the_name() {
    let root = temp("publish");
    let (image, store) = build_fixed(&root, Compression::Gzip);
    let published = publish(&store, &image).unwrap();
    let docker = published.manifests.docker.expect("gzip: a Docker manifest");
    assert_eq!(published.manifests.oci.digest, image.manifest_digest);
    // The Docker manifest is the golden one, stored as a blob.
    let bytes = fs::read(golden_dir().join("manifest.docker.json")).unwrap();
    assert_eq!(docker.digest, Sha256Digest::of(&bytes));
    assert_eq!(
        store.stat(&docker.digest).unwrap(),
        Some(bytes.len() as u64)
    );
    let name: ImageName = "golden".parse().unwrap();
    let repository = Repository::new(&store, &name);
    let tag: Tag = "t".parse().unwrap();
    assert_eq!(repository.tag(&tag).unwrap(), Some(published.manifests));
    assert_eq!(repository.tags().unwrap(), ["t"]);
    assert_eq!(
        repository.manifest(&docker.digest).unwrap().map(|m| m.kind),
        Some(ManifestKind::Docker)
    );
    for blob in image.layers.iter().map(|l| l.blob.digest).chain([
        image.config_digest,
        image.manifest_digest,
        docker.digest,
    ]) {
        assert!(repository.has_blob(&blob).unwrap(), "{blob}");
    }
    let other: ImageName = "other".parse().unwrap();
    assert!(!Repository::new(&store, &other)
        .has_blob(&image.config_digest)
        .unwrap());
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn zstd_images_publish_the_oci_manifest_only() {
    let root = temp("publish-zstd");
    let (image, store) = build_fixed(&root, Compression::Zstd);
    assert!(docker_manifest(&image).is_none());
    let published = publish(&store, &image).unwrap();
    assert_eq!(published.manifests.docker, None);
    fs::remove_dir_all(&root).unwrap();
}
