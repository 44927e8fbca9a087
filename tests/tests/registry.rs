//! The registry pull API with real clients: an image of the fake store
//! (tests/src/store.rs) built with `strata build --publish`, served by
//! `strata serve --data-dir`, then copied by skopeo (which also lists
//! tags) and unpacked by umoci (which checks every digest and diff_id),
//! and pulled and run by podman. Each form a client may get is driven:
//! podman and skopeo prefer OCI; `--compression none` and zstd images
//! too.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_tests::store::{FakeStore, DATA, GREETING};
use strata_tests::{cleanup, require, run_ok, stdout, strata, temp_dir, Podman, Running};

/// `strata serve --data-dir DATA` on a free port; its `host:port`.
fn serve(data: &Path) -> (Running, String) {
    let (server, url) = strata_tests::serve(
        [Path::new("--data-dir"), data],
        "strata: serving the registry at http://",
    );
    let addr = url.split('/').next().expect("host:port/v2/").to_string();
    (server, addr)
}

/// The fake store's image published as `hello:<compression>` into
/// `dir/data`.
fn publish(dir: &Path, compressions: &[&str]) -> PathBuf {
    let store = FakeStore::create(&dir.join("root"), Path::new("/bin/busybox"));
    let closure = store.write_closure(&dir.join("closure.json"));
    let data = dir.join("data");
    for compression in compressions {
        run_ok(
            strata()
                .arg("build")
                .arg(&closure)
                .arg("--store-root")
                .arg(&store.root)
                .arg("--cache")
                .arg(&data)
                .args(["--budget", "10", "--links", "--cmd", "hello", "--publish"])
                .args([
                    "--name",
                    "hello",
                    "--tag",
                    compression,
                    "--compression",
                    compression,
                ]),
        );
    }
    data
}

#[test]
fn skopeo_copies_and_inspects_and_umoci_unpacks_a_served_image() {
    if !require(&["skopeo", "umoci"]) {
        return;
    }
    let dir = temp_dir("registry-skopeo");
    let data = publish(&dir, &["gzip", "zstd", "none"]);
    let (_server, addr) = serve(&data);
    let inspect = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .arg(format!("docker://{addr}/hello:gzip")),
    );
    let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(inspect["Name"], format!("{addr}/hello"));
    assert_eq!(
        inspect["RepoTags"],
        serde_json::json!(["gzip", "none", "zstd"])
    );
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 5, "{inspect}");
    assert_eq!(inspect["Created"], "1970-01-01T00:00:01Z");
    for compression in ["gzip", "zstd", "none"] {
        let layout = dir.join(format!("layout-{compression}"));
        run_ok(
            Command::new("skopeo")
                .args(["copy", "--src-tls-verify=false"])
                .arg(format!("docker://{addr}/hello:{compression}"))
                .arg(format!("oci:{}:t", layout.display())),
        );
        if compression == "zstd" {
            // umoci 0.4 reads no zstd layers; skopeo checked the digests.
            continue;
        }
        let bundle = dir.join(format!("bundle-{compression}"));
        run_ok(
            Command::new("umoci")
                .args(["unpack", "--image"])
                .arg(format!("{}:t", layout.display()))
                .arg(&bundle),
        );
        let message = bundle
            .join("rootfs")
            .join(DATA.trim_start_matches('/'))
            .join("share/greeting/message");
        assert_eq!(
            fs::read_to_string(message).unwrap(),
            format!("{GREETING}\n")
        );
    }
    cleanup(&dir);
}

#[test]
fn podman_pulls_and_runs_a_served_image() {
    if !require(&["podman", "runc"]) {
        return;
    }
    let dir = temp_dir("registry-podman");
    let data = publish(&dir, &["gzip"]);
    let (_server, addr) = serve(&data);
    let podman = Podman::new(&dir);
    let image = format!("{addr}/hello:gzip");
    let pulled = run_ok(podman.cmd().args(["pull", "--tls-verify=false", &image]));
    assert!(!stdout(&pulled).trim().is_empty());
    assert_eq!(podman.run(&image, &[]), format!("{GREETING}\n"));
    cleanup(&dir);
}
