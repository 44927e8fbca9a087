//! `strata build` images read by real clients: skopeo, umoci (verifies
//! diff_ids and digests), podman (loads and runs the program), for gzip,
//! zstd and uncompressed layers; reproducibility; the layer cache; bad
//! inputs. Store paths come from a fake store (`--store-root`), so no Nix
//! is needed here (tests/tests/nix.rs uses real Nix).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_tests::store::{FakeStore, BUSYBOX, DATA, GREETING, HELLO, LIB};
use strata_tests::{cleanup, require, run_ok, stderr, stdout, strata, temp_dir, Podman};

struct Setup {
    dir: PathBuf,
    store: FakeStore,
    closure: PathBuf,
}

fn setup(name: &str) -> Setup {
    let dir = temp_dir(name);
    let store = FakeStore::create(&dir.join("root"), Path::new("/bin/busybox"));
    let closure = store.write_closure(&dir.join("closure.json"));
    Setup {
        dir,
        store,
        closure,
    }
}

impl Setup {
    /// `strata build CLOSURE --store-root ... --cache DIR/cache ARGS`.
    fn build(&self, args: &[&str]) -> Command {
        let mut cmd = strata();
        cmd.arg("build")
            .arg(&self.closure)
            .arg("--store-root")
            .arg(&self.store.root)
            .arg("--cache")
            .arg(self.dir.join("cache"))
            .args(["--budget", "10", "--links", "--cmd", "hello"])
            .args(args);
        cmd
    }
}

/// A JSON member of a tar archive (manifest.json, index.json, a config).
fn tar_json(archive: &Path, member: &str) -> serde_json::Value {
    let out = run_ok(Command::new("tar").arg("-xOf").arg(archive).arg(member));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Layer digests of a docker-archive, from its manifest.json.
fn layer_names(archive: &Path) -> Vec<String> {
    let manifest = tar_json(archive, "manifest.json");
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_compression_loads_and_runs_with_podman_skopeo_and_umoci() {
    if !require(&["podman", "runc", "skopeo", "umoci"]) {
        return;
    }
    let s = setup("clients");
    let podman = Podman::new(&s.dir);
    for compression in ["gzip", "zstd", "none"] {
        let archive = s.dir.join(format!("{compression}.tar"));
        run_ok(
            s.build(&[
                "--compression",
                compression,
                "--name",
                "hello",
                "--tag",
                compression,
            ])
            .arg("-o")
            .arg(&archive),
        );
        let inspect = run_ok(
            Command::new("skopeo")
                .arg("inspect")
                .arg(format!("docker-archive:{}", archive.display())),
        );
        let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 5, "{inspect}");
        assert_eq!(inspect["Created"], "1970-01-01T00:00:01Z");
        // skopeo re-serialises into an OCI layout; umoci checks every
        // digest and diff_id while unpacking.
        let layout = s.dir.join(format!("layout-{compression}"));
        run_ok(
            Command::new("skopeo")
                .arg("copy")
                .arg(format!("docker-archive:{}", archive.display()))
                .arg(format!("oci:{}:t", layout.display())),
        );
        let bundle = s.dir.join(format!("bundle-{compression}"));
        run_ok(
            Command::new("umoci")
                .args(["unpack", "--image"])
                .arg(format!("{}:t", layout.display()))
                .arg(&bundle),
        );
        let rootfs = bundle.join("rootfs");
        assert_eq!(
            fs::read_link(rootfs.join("bin/hello")).unwrap(),
            Path::new(HELLO).join("bin/hello")
        );
        let message = rootfs
            .join(DATA.trim_start_matches('/'))
            .join("share/greeting");
        assert_eq!(
            fs::read_to_string(message.join("message.hardlink")).unwrap(),
            format!("{GREETING}\n")
        );
        assert!(message
            .join("a-rather-long-directory-name-to-push-paths/past-the-hundred-byte-tar-name-field/file-with-a-long-name.txt")
            .exists());
        let image = podman.load(&archive);
        assert_eq!(image, format!("localhost/hello:{compression}"));
        assert_eq!(podman.run(&image, &[]), format!("{GREETING}\n"));
    }
    cleanup(&s.dir);
}

#[test]
fn oci_layouts_verify_with_umoci_and_skopeo() {
    if !require(&["skopeo", "umoci"]) {
        return;
    }
    let s = setup("oci");
    let layout = s.dir.join("layout");
    run_ok(
        s.build(&["--format", "oci-dir", "--tag", "v1"])
            .arg("-o")
            .arg(&layout),
    );
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:v1", layout.display()))
            .arg(s.dir.join("bundle")),
    );
    assert!(s.dir.join("bundle/rootfs/bin/hello").is_symlink());
    // umoci 0.4 reads no zstd layers; skopeo does.
    run_ok(
        s.build(&[
            "--format",
            "oci-dir",
            "--tag",
            "zstd",
            "--compression",
            "zstd",
        ])
        .arg("-o")
        .arg(&layout),
    );
    let inspect = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:zstd", layout.display())),
    );
    assert!(
        stdout(&inspect).contains("tar+zstd"),
        "{}",
        stdout(&inspect)
    );
    let archive = s.dir.join("oci.tar");
    run_ok(
        s.build(&["--format", "oci", "--tag", "v1"])
            .arg("-o")
            .arg(&archive),
    );
    let inspect = run_ok(
        Command::new("skopeo")
            .arg("inspect")
            .arg(format!("oci-archive:{}:v1", archive.display())),
    );
    let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 5, "{inspect}");
    run_ok(
        Command::new("skopeo")
            .arg("copy")
            .arg(format!("oci-archive:{}:v1", archive.display()))
            .arg(format!("oci:{}:copied", s.dir.join("copied").display())),
    );
    cleanup(&s.dir);
}

#[test]
fn builds_are_byte_identical_across_runs_directories_time_zones_and_umasks() {
    let s = setup("same");
    let first = s.dir.join("first.tar");
    run_ok(s.build(&[]).arg("-o").arg(&first));
    // Again, warm cache; then a cold cache from another directory with a
    // relative output path, another time zone and umask.
    let second = s.dir.join("second.tar");
    run_ok(s.build(&[]).arg("-o").arg(&second));
    let elsewhere = s.dir.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    let script = format!(
        "umask 077; exec {} build {} --store-root {} --cache cold --budget 10 --links --cmd hello -o third.tar",
        strata_tests::strata_path().display(),
        s.closure.display(),
        s.store.root.display()
    );
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&elsewhere)
            .env("TZ", "Asia/Tokyo")
            .env("CI", "true"),
    );
    let bytes = fs::read(&first).unwrap();
    assert_eq!(bytes, fs::read(&second).unwrap());
    assert_eq!(bytes, fs::read(elsewhere.join("third.tar")).unwrap());
    // To stdout: the same bytes.
    let out = run_ok(&mut s.build(&["-o", "-"]));
    assert_eq!(bytes, out.stdout);
    cleanup(&s.dir);
}

#[test]
fn a_changed_path_changes_only_its_own_layer() {
    let s = setup("changed");
    let before = s.dir.join("before.tar");
    run_ok(s.build(&[]).arg("-o").arg(&before));
    let message = s.store.at(DATA).join("share/greeting/message");
    fs::remove_file(&message).unwrap();
    fs::write(&message, "changed\n").unwrap();
    let after = s.dir.join("after.tar");
    run_ok(s.build(&[]).arg("-o").arg(&after));
    let (old, new) = (layer_names(&before), layer_names(&after));
    assert_eq!(old.len(), 5);
    let changed: Vec<usize> = (0..old.len()).filter(|&i| old[i] != new[i]).collect();
    assert_eq!(changed.len(), 1, "{old:?}\n{new:?}");
    // The changed layer is greeting-data's.
    let plan = run_ok(strata().args(["plan", "--budget", "10"]).arg(&s.closure));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["layers"][changed[0]]["paths"][0], DATA);
    cleanup(&s.dir);
}

#[test]
fn a_rebuild_takes_every_layer_from_the_cache_and_rewrites_no_blob() {
    let s = setup("cache");
    let out = run_ok(s.build(&[]).arg("-o").arg(s.dir.join("a.tar")));
    assert!(
        stderr(&out).contains("5 layers (0 from cache)"),
        "{}",
        stderr(&out)
    );
    let blobs = s.dir.join("cache/blobs/sha256");
    let listing = |dir: &Path| {
        let mut v: Vec<(String, u64, i64)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let m = e.metadata().unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    m.ino(),
                    m.mtime_nsec(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let cached = listing(&blobs);
    let out = run_ok(s.build(&[]).arg("-o").arg(s.dir.join("b.tar")));
    assert!(
        stderr(&out).contains("5 layers (4 from cache)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(listing(&blobs), cached, "no blob rewritten");
    // An OCI directory built twice keeps its layer files (same inodes).
    let layout = s.dir.join("layout");
    run_ok(s.build(&["--format", "oci-dir"]).arg("-o").arg(&layout));
    let first = listing(&layout.join("blobs/sha256"));
    run_ok(s.build(&["--format", "oci-dir"]).arg("-o").arg(&layout));
    assert_eq!(listing(&layout.join("blobs/sha256")), first);
    // Another image sharing layers (libgreet's closure) builds none.
    let lib_closure = s.dir.join("lib.json");
    let entries = s.store.closure();
    let subset: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == DATA || e["path"] == LIB)
        .cloned()
        .collect();
    fs::write(&lib_closure, serde_json::Value::from(subset).to_string()).unwrap();
    let out = run_ok(
        strata()
            .arg("build")
            .arg(&lib_closure)
            .arg("--store-root")
            .arg(&s.store.root)
            .arg("--cache")
            .arg(s.dir.join("cache"))
            .args(["--budget", "10", "-o"])
            .arg(s.dir.join("c.tar")),
    );
    assert!(
        stderr(&out).contains("2 layers (2 from cache)"),
        "{}",
        stderr(&out)
    );
    cleanup(&s.dir);
}

/// A bad input: exit code 2, a message naming the culprit, and nothing
/// left in the output directory.
fn assert_bad_input(s: &Setup, cmd: &mut Command, culprit: &str) {
    let outdir = s.dir.join("out");
    let _ = fs::remove_dir_all(&outdir);
    fs::create_dir_all(&outdir).unwrap();
    let out = cmd
        .arg("-o")
        .arg(outdir.join("image.tar"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(culprit),
        "{} lacks {culprit}",
        stderr(&out)
    );
    let left: Vec<_> = fs::read_dir(&outdir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn bad_inputs_fail_with_clear_errors_and_leave_nothing() {
    let s = setup("bad");
    // A plan path missing from the store.
    let gone = s.dir.join("gone.json");
    let mut closure = s.store.closure();
    closure[3]["path"] = "/nix/store/44444444444444444444444444444444-absent".into();
    fs::write(&gone, closure.to_string()).unwrap();
    assert_bad_input(
        &s,
        strata()
            .arg("build")
            .arg(&gone)
            .arg("--store-root")
            .arg(&s.store.root)
            .arg("--cache")
            .arg(s.dir.join("cache")),
        "44444444444444444444444444444444-absent is missing",
    );
    // A narHash that does not match the store.
    let wrong = s.dir.join("wrong.json");
    let mut closure = s.store.closure();
    closure[2]["narHash"] = format!("sha256:{}", "0".repeat(52)).into();
    fs::write(&wrong, closure.to_string()).unwrap();
    assert_bad_input(
        &s,
        strata()
            .arg("build")
            .arg(&wrong)
            .arg("--store-root")
            .arg(&s.store.root)
            .arg("--cache")
            .arg(s.dir.join("cache")),
        &format!("{LIB}: the store has narHash sha256:"),
    );
    // A path outside the store, in a plan.
    let plan = run_ok(strata().args(["plan", "--budget", "10"]).arg(&s.closure));
    let mut plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    plan["layers"][0]["paths"][0] = "/etc/passwd".into();
    let outside = s.dir.join("outside.plan.json");
    let build_outside = |plan: &serde_json::Value| {
        fs::write(&outside, plan.to_string()).unwrap();
        let mut cmd = strata();
        cmd.arg("build")
            .arg(&outside)
            .arg("--store-root")
            .arg(&s.store.root)
            .arg("--cache")
            .arg(s.dir.join("cache"));
        cmd
    };
    // Refused where the plan is read, before anything is built.
    assert_bad_input(
        &s,
        &mut build_outside(&plan),
        "/etc/passwd is not a valid store path",
    );
    // A well-formed store path of another store directory, in a plan.
    plan["layers"][0]["paths"][0] = "/gnu/store/00000000000000000000000000000000-other-1.0".into();
    assert_bad_input(
        &s,
        &mut build_outside(&plan),
        "/gnu/store/00000000000000000000000000000000-other-1.0 is not a store path (not directly under /nix/store)",
    );
    // A fifo inside a store path.
    let fifo = s.store.at(BUSYBOX).join("bin/pipe");
    run_ok(Command::new("mkfifo").arg(&fifo));
    assert_bad_input(
        &s,
        strata()
            .arg("build")
            .arg(&s.closure)
            .arg("--store-root")
            .arg(&s.store.root)
            .arg("--cache")
            .arg(s.dir.join("cache")),
        "bin/pipe: a fifo cannot go into an image layer",
    );
    // No temporary blob left in the cache either.
    let tmp: Vec<_> = fs::read_dir(s.dir.join("cache/tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    cleanup(&s.dir);
}

/// The message `hello` prints, from whichever layer of the OCI layout
/// `layout`'s `platform` image holds it (gzip layers).
fn platform_message(layout: &Path, architecture: &str) -> String {
    let blob = |digest: &str| layout.join("blobs/sha256").join(&digest[7..]);
    let json = |digest: &str| -> serde_json::Value {
        serde_json::from_slice(&fs::read(blob(digest)).unwrap()).unwrap()
    };
    let top: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let index = json(top["manifests"][0]["digest"].as_str().unwrap());
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == architecture)
        .unwrap_or_else(|| panic!("no {architecture} in {index}"));
    let manifest = json(entry["digest"].as_str().unwrap());
    let member = format!("{}/share/greeting/message", DATA.trim_start_matches('/'));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|layer| {
            let out = Command::new("tar")
                .arg("-xzOf")
                .arg(blob(layer["digest"].as_str().unwrap()))
                .arg(&member)
                .output()
                .unwrap();
            out.status.success().then(|| stdout(&out))
        })
        .unwrap_or_else(|| panic!("no layer of {architecture} holds {member}"))
}

/// Issue 15, part 4: each `--platform` reads its own `--store-root
/// OS/ARCH=DIR` (a cross-built closure's store), the plain one is every
/// other platform's; a path missing from a platform's root names the
/// platform, the path and the root, before anything is built.
#[test]
fn each_platform_reads_its_own_store_root() {
    let s = setup("platform-roots");
    let arm = FakeStore::create(&s.dir.join("arm-root"), Path::new("/bin/busybox"));
    fs::write(
        arm.at(DATA).join("share/greeting/message"),
        "hello from arm64\n",
    )
    .unwrap();
    let amd64 = format!("linux/amd64={}", s.closure.display());
    let arm64 = format!("linux/arm64={}", s.closure.display());
    let arm_root = format!("linux/arm64={}", arm.root.display());
    let build = |extra: &[&str], out: &Path| {
        let mut cmd = strata();
        cmd.arg("build")
            .args(["--platform", &amd64, "--platform", &arm64, "--store-root"])
            .arg(&s.store.root)
            .args(extra)
            .arg("--cache")
            .arg(s.dir.join("cache"))
            .args(["--budget", "10", "--format", "oci-dir", "-o"])
            .arg(out);
        cmd
    };
    let layout = s.dir.join("layout");
    run_ok(&mut build(&["--store-root", &arm_root], &layout));
    assert_eq!(platform_message(&layout, "amd64"), format!("{GREETING}\n"));
    assert_eq!(platform_message(&layout, "arm64"), "hello from arm64\n");

    let failed = |extra: &[&str], wanted: &[&str]| {
        let out_dir = s.dir.join("failed");
        let out = build(extra, &out_dir).output().unwrap();
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        for w in wanted {
            assert!(text.contains(w), "no {w:?} in {text}");
        }
        assert!(!out_dir.exists(), "{text}");
    };
    fs::remove_dir_all(arm.at(HELLO)).unwrap();
    failed(
        &["--store-root", &arm_root],
        &[
            "--platform linux/arm64",
            &format!(
                "store path {HELLO} is missing from the store root {}",
                arm.root.display()
            ),
        ],
    );
    failed(
        &["--store-root", "linux/s390x=/nonexistent"],
        &["--store-root linux/s390x=/nonexistent: linux/s390x is not a --platform of this build"],
    );
    failed(
        &["--store-root", &arm_root, "--store-root", &arm_root],
        &["--store-root linux/arm64=... is given twice"],
    );
    cleanup(&s.dir);
}

#[test]
fn config_options_reach_the_image_config() {
    let s = setup("config");
    let config_file = s.dir.join("config.json");
    fs::write(
        &config_file,
        r#"{"Env": ["LANG=C.UTF-8", "MODE=file"], "Labels": {"from": "file"}, "Volumes": {"/data": {}}}"#,
    )
    .unwrap();
    let archive = s.dir.join("image.tar");
    run_ok(
        s.build(&[
            "--env",
            "MODE=flag",
            "--workdir",
            "/srv",
            "--user",
            "1000:1000",
            "--port",
            "8080/tcp",
            "--label",
            "org.example=yes",
            "--entrypoint",
            "/bin/hello",
            "--created",
            "2024-01-02T03:04:05Z",
            "--name",
            "example/hello",
            "--tag",
            "v2",
        ])
        .arg("--config")
        .arg(&config_file)
        .arg("-o")
        .arg(&archive),
    );
    let manifest = tar_json(&archive, "manifest.json");
    assert_eq!(manifest[0]["RepoTags"][0], "example/hello:v2");
    let config_name = manifest[0]["Config"].as_str().unwrap();
    let config = tar_json(&archive, config_name);
    let c = &config["config"];
    assert_eq!(
        c["Env"],
        serde_json::json!(["LANG=C.UTF-8", format!("PATH={HELLO}/bin"), "MODE=flag"])
    );
    assert_eq!(c["Cmd"], serde_json::json!(["hello"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/hello"]));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(
        c["Labels"],
        serde_json::json!({"from": "file", "org.example": "yes"})
    );
    assert_eq!(config["created"], "2024-01-02T03:04:05Z");
    let history = config["history"].as_array().unwrap();
    assert_eq!(history.len(), 5);
    for (i, entry) in history[..4].iter().enumerate() {
        let comment = entry["comment"].as_str().unwrap();
        assert!(comment.starts_with("/nix/store/"), "layer {i}: {comment}");
    }
    assert_eq!(history[4]["comment"], "customisation layer");
    // The config's digest is its file name; the tag was given.
    assert!(config_name.starts_with("blobs/sha256/"));
    cleanup(&s.dir);
}

#[test]
fn bad_names_tags_and_times_are_usage_errors_that_write_nothing() {
    let s = setup("bad-flags");
    for (flag, value) in [
        ("--tag", ".v1"),
        ("--tag", "v1/x"),
        ("--tag", &"t".repeat(129)),
        ("--name", "Hello"),
        ("--name", "hello:v1"),
        ("--name", "registry.example.com:5000/team/hello:v1"),
        ("--name", "hello--"),
        ("--name", "a//b"),
        ("--created", "2024-13-01T00:00:00Z"),
        ("--created", "2024-01-02 03:04:05"),
        ("--created", "yesterday"),
    ] {
        let outdir = s.dir.join("out");
        let _ = fs::remove_dir_all(&outdir);
        fs::create_dir_all(&outdir).unwrap();
        let out = s
            .build(&[flag, value])
            .arg("-o")
            .arg(outdir.join("image.tar"))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains(value),
            "{flag} {value}: {err}"
        );
        let left: Vec<_> = fs::read_dir(&outdir).unwrap().collect();
        assert!(left.is_empty(), "{flag} {value}: left behind: {left:?}");
    }
    // Nothing was planned or built either: no layer reached the cache.
    assert!(!s.dir.join("cache").exists());
    // Good ones of each kind pass.
    let archive = s.dir.join("ok.tar");
    run_ok(
        s.build(&[
            "--name",
            "registry.example.com:5000/team/hello",
            "--tag",
            "1.0_rc-1",
            "--created",
            "2024-02-29T23:59:59.5+01:00",
        ])
        .arg("-o")
        .arg(&archive),
    );
    let manifest = tar_json(&archive, "manifest.json");
    assert_eq!(
        manifest[0]["RepoTags"][0],
        "registry.example.com:5000/team/hello:1.0_rc-1"
    );
    cleanup(&s.dir);
}

#[test]
fn build_takes_output_and_a_store_dir_with_a_trailing_slash() {
    let s = setup("output-slash");
    let plain = s.dir.join("plain.tar");
    run_ok(s.build(&[]).arg("-o").arg(&plain));
    let slashed = s.dir.join("slashed.tar");
    run_ok(
        s.build(&["--store-dir", "/nix/store/"])
            .arg("--output")
            .arg(&slashed),
    );
    assert_eq!(fs::read(&plain).unwrap(), fs::read(&slashed).unwrap());
    cleanup(&s.dir);
}

/// `tar -tv` of one layer of an uncompressed docker-archive: (mode, path).
fn layer_listing(archive: &Path, layer: &str, dir: &Path) -> Vec<(String, String)> {
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(dir)
            .arg(layer),
    );
    let out = run_ok(
        Command::new("tar")
            .args(["--numeric-owner", "-tvf"])
            .arg(dir.join(layer)),
    );
    stdout(&out)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[0].to_string(), fields[5].to_string())
        })
        .collect()
}

#[test]
fn the_customisation_layer_starts_with_the_store_directories() {
    let s = setup("custom-dirs");
    let extra = s.dir.join("extra");
    fs::create_dir_all(extra.join("etc")).unwrap();
    fs::write(extra.join("etc/motd"), "hi\n").unwrap();
    let archive = s.dir.join("image.tar");
    run_ok(
        s.build(&["--compression", "none"])
            .arg("--extra")
            .arg(&extra)
            .arg("-o")
            .arg(&archive),
    );
    let layers = layer_names(&archive);
    let unpacked = s.dir.join("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    for (i, layer) in layers.iter().enumerate() {
        let listing = layer_listing(&archive, layer, &unpacked);
        assert_eq!(
            listing[..2],
            [
                ("drwxr-xr-x".to_string(), "nix/".to_string()),
                ("drwxr-xr-x".to_string(), "nix/store/".to_string()),
            ],
            "layer {i}: {listing:?}"
        );
    }
    let top = layer_listing(&archive, layers.last().unwrap(), &unpacked);
    let names: Vec<&str> = top.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "nix/",
            "nix/store/",
            "bin/",
            "bin/hello",
            "etc/",
            "etc/motd"
        ]
    );
    cleanup(&s.dir);
}

#[test]
fn oci_indexes_name_the_image_for_containerd_too() {
    let s = setup("oci-names");
    let layout = s.dir.join("layout");
    run_ok(
        s.build(&[
            "--format",
            "oci-dir",
            "--name",
            "example/hello",
            "--tag",
            "v1",
        ])
        .arg("-o")
        .arg(&layout),
    );
    let archive = s.dir.join("oci.tar");
    run_ok(
        s.build(&["--format", "oci", "--name", "example/hello", "--tag", "v1"])
            .arg("-o")
            .arg(&archive),
    );
    let from_archive = run_ok(
        Command::new("tar")
            .arg("-xOf")
            .arg(&archive)
            .arg("index.json"),
    )
    .stdout;
    for index in [fs::read(layout.join("index.json")).unwrap(), from_archive] {
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
        let annotations = &index["manifests"][0]["annotations"];
        assert_eq!(annotations["org.opencontainers.image.ref.name"], "v1");
        assert_eq!(annotations["io.containerd.image.name"], "example/hello:v1");
    }
    cleanup(&s.dir);
}

/// Issue 15 part 4: `--perms` rules and `--create-user`, read back from
/// the layers by umoci (as root it keeps owners) and run by podman as the
/// created user.
#[test]
fn perms_and_created_users_reach_the_layers_and_podman_runs_as_the_user() {
    if !require(&["podman", "runc", "skopeo", "umoci"]) {
        return;
    }
    let s = setup("perms");
    let perms = s.dir.join("perms.json");
    fs::write(
        &perms,
        serde_json::json!([
            {"path": HELLO, "regex": "/bin/hello$", "mode": "0750", "uid": 1000, "gid": 100,
             "uname": "app", "gname": "users"},
            {"glob": format!("{DATA}/share/*/message"), "mode": "0640", "gid": 100},
            {"path": "/etc/motd", "mode": "0600", "uid": 1000},
        ])
        .to_string(),
    )
    .unwrap();
    let extra = s.dir.join("extra");
    fs::create_dir_all(extra.join("etc")).unwrap();
    fs::write(extra.join("etc/motd"), "hi\n").unwrap();
    let archive = s.dir.join("image.tar");
    let build = |archive: &Path| {
        let mut cmd = s.build(&[
            "--create-user",
            "app:1000:100",
            "--user",
            "app",
            "--name",
            "perms",
            "--tag",
            "t",
        ]);
        cmd.arg("--perms")
            .arg(&perms)
            .arg("--extra")
            .arg(&extra)
            .arg("-o")
            .arg(archive);
        stderr(&run_ok(&mut cmd))
    };
    let first = build(&archive);
    // From the cache (the rules are in its key, their matches in its
    // records): the same image, and no rule reported unmatched.
    let again = s.dir.join("again.tar");
    assert_eq!(build(&again), first.replace("(0 from", "(4 from"));
    assert_eq!(fs::read(&archive).unwrap(), fs::read(&again).unwrap());
    let layout = s.dir.join("layout");
    run_ok(
        Command::new("skopeo")
            .arg("copy")
            .arg(format!("docker-archive:{}", archive.display()))
            .arg(format!("oci:{}:t", layout.display())),
    );
    let bundle = s.dir.join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:t", layout.display()))
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    let meta = |p: &str| fs::symlink_metadata(rootfs.join(p.trim_start_matches('/'))).unwrap();
    let hello = meta(&format!("{HELLO}/bin/hello"));
    assert_eq!(
        (hello.mode() & 0o7777, hello.uid(), hello.gid()),
        (0o750, 1000, 100)
    );
    let message = meta(&format!("{DATA}/share/greeting/message"));
    assert_eq!(
        (message.mode() & 0o7777, message.uid(), message.gid()),
        (0o640, 0, 100)
    );
    let motd = meta("/etc/motd");
    assert_eq!((motd.mode() & 0o7777, motd.uid()), (0o600, 1000));
    let home = meta("/home/app");
    assert!(home.is_dir());
    assert_eq!(
        (home.mode() & 0o7777, home.uid(), home.gid()),
        (0o755, 1000, 100)
    );
    // Untouched entries keep root and the store's mode.
    let lib = meta(&format!("{LIB}/lib/greet.sh"));
    assert_eq!((lib.uid(), lib.gid()), (0, 0));
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:100::/home/app:/bin/sh\n"
    );
    assert_eq!(
        fs::read_to_string(rootfs.join("etc/group")).unwrap(),
        "root:x:0:\napp:x:100:\n"
    );
    // The image's User is `app`: podman resolves it through /etc/passwd;
    // the 0750 program owned by 1000:100 runs, the home is the user's,
    // and / is not writable by it.
    let podman = Podman::new(&s.dir);
    let image = podman.load(&archive);
    assert_eq!(podman.run(&image, &[]), format!("{GREETING}\n"));
    let script = "echo $HOME; echo mine > $HOME/f && cat $HOME/f; \
                  (echo x > /not-mine) 2>/dev/null || echo denied";
    let sh = format!("{BUSYBOX}/bin/sh");
    assert_eq!(
        podman.run(&image, &[&sh, "-c", script]),
        "/home/app\nmine\ndenied\n"
    );
    cleanup(&s.dir);
}

/// Issue 15 parts 3 and 4: a rule matching nothing, a bad mode, a bad
/// `--create-user`, `--nix-db` on a plan or on paths without narHash:
/// exit 2, naming the culprit, nothing written.
#[test]
fn bad_perms_users_and_nix_db_inputs_are_named() {
    let s = setup("bad-perms");
    let rules = |name: &str, json: &str| {
        let path = s.dir.join(name);
        fs::write(&path, json).unwrap();
        path
    };
    let nothing = rules("nothing.json", r#"[{"path": "/srv/data", "uid": 1}]"#);
    assert_bad_input(
        &s,
        s.build(&[]).arg("--perms").arg(&nothing),
        r#"rule 0 {"path":"/srv/data","uid":1} matches nothing in the image"#,
    );
    let mode = rules(
        "mode.json",
        &format!(r#"[{{"path": "{HELLO}", "uid": 1}}, {{"path": "{HELLO}", "mode": "0x755"}}]"#),
    );
    assert_bad_input(
        &s,
        s.build(&[]).arg("--perms").arg(&mode),
        r#"rule 1 {"path":"/nix/store/33333333333333333333333333333333-hello-1.0","mode":"0x755"}: mode "0x755" is not octal"#,
    );
    for (spec, says) in [
        (
            "app:1000",
            r#""app:1000" is not NAME:UID:GID: 2 fields, not 3"#,
        ),
        ("app:x:100", r#""app:x:100" is not NAME:UID:GID: UID "x""#),
        ("Bad:1:1", r#"name "Bad""#),
    ] {
        assert_bad_input(&s, &mut s.build(&["--create-user", spec]), says);
    }
    // The fake store's closure has no narHash.
    assert_bad_input(
        &s,
        &mut s.build(&["--nix-db"]),
        &format!("{BUSYBOX} has no narHash in the closure"),
    );
    let plan = s.dir.join("plan.json");
    run_ok(
        strata()
            .args(["plan", "--budget", "3", "-o"])
            .arg(&plan)
            .arg(&s.closure),
    );
    let mut cmd = strata();
    cmd.arg("build")
        .arg(&plan)
        .arg("--store-root")
        .arg(&s.store.root)
        .arg("--nix-db");
    assert_bad_input(&s, &mut cmd, "--nix-db needs the closure");
    cleanup(&s.dir);
}
