//! The build API with real parts: a closure from real Nix (the `nix/tests`
//! package set), submitted to `strata serve` with curl, built from the
//! local Nix store, downloaded (byte for byte `strata build`'s output for
//! the same plan and config, read by skopeo), and pulled and run by podman
//! from the same server's registry at the name and tag the build answered.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use strata_tests::{cleanup, hello_path_info, require, run_ok, stdout, strata, temp_dir, Podman};

const GREETING: &str = "hello from a strata image\n";

/// `curl -sS` with the given arguments; the body (and status, last line).
fn curl(args: &[&str]) -> (String, u16) {
    let out = run_ok(
        Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}"])
            .args(args),
    );
    let text = stdout(&out);
    let (body, code) = text.rsplit_once('\n').expect("curl printed the status");
    (
        body.to_string(),
        code.trim().parse().expect("a status code"),
    )
}

/// A build's `image.tar` into `file`; the bytes (after asserting a 200).
fn download(base: &str, id: &str, file: &Path) -> Vec<u8> {
    let url = format!("{base}/api/builds/{id}/image.tar");
    let (_, code) = curl(&["-o", file.to_str().unwrap(), &url]);
    assert_eq!(code, 200, "{url}");
    fs::read(file).unwrap()
}

/// Polls a build until its state is final; the last status.
fn wait(base: &str, id: &str) -> serde_json::Value {
    for _ in 0..600 {
        let (body, code) = curl(&[&format!("{base}/api/builds/{id}")]);
        assert_eq!(code, 200, "{body}");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        if ["done", "failed", "cancelled"].contains(&status["state"].as_str().unwrap()) {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("build {id} did not finish");
}

#[test]
fn an_image_built_through_the_api_downloads_as_strata_build_and_pulls_with_podman() {
    if !require(&["curl", "nix-build", "skopeo", "umoci", "podman", "runc"]) {
        return;
    }
    let dir = temp_dir("api-build");
    let closure = hello_path_info(&dir);
    fs::write(dir.join("closure.json"), &closure).unwrap();
    let (_server, url) = strata_tests::serve(
        [Path::new("--data-dir"), &dir.join("data")],
        "strata: serving the build API at ",
    );
    let base = url.trim_end_matches("/api/").to_string();
    let config = serde_json::json!({
        "algorithm": "auto", "budget": 3, "links": true, "cmd": ["hello"],
        "name": "hello", "tag": "api",
    });
    let mut body = config.clone();
    body["closure"] = serde_json::from_str(&closure).unwrap();
    fs::write(dir.join("request.json"), body.to_string()).unwrap();
    let request = format!("@{}", dir.join("request.json").display());
    let submit = [
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &request,
    ];
    let (answer, code) = curl(&[&submit[..], &[&format!("{base}/api/builds")]].concat());
    assert_eq!(code, 202, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["image"], "hello:api");
    let id = answer["id"].as_str().unwrap().to_string();
    let status = wait(&base, &id);
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["layers"]["total"], 4);

    // The download is strata build's output for the same plan and config.
    let download_file = dir.join("download.tar");
    let downloaded = download(&base, &id, &download_file);
    let out = download_file.to_str().unwrap();
    run_ok(
        strata()
            .arg("build")
            .arg(dir.join("closure.json"))
            .args(["-a", "auto", "-b", "3", "--links", "--cmd", "hello"])
            .args(["--name", "hello", "--tag", "api", "--cache"])
            .arg(dir.join("cache"))
            .arg("-o")
            .arg(dir.join("cli.tar")),
    );
    assert!(
        downloaded == fs::read(dir.join("cli.tar")).unwrap(),
        "image.tar differs from strata build's"
    );
    run_ok(
        Command::new("skopeo")
            .arg("inspect")
            .arg(format!("docker-archive:{out}")),
    );

    // Submitted again: the same build, done at once.
    let (again, code) = curl(&[&submit[..], &[&format!("{base}/api/builds")]].concat());
    assert_eq!(code, 202);
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        (again["id"].as_str(), again["state"].as_str()),
        (Some(id.as_str()), Some("done"))
    );

    // Copied from the same server's registry by skopeo (which checks every
    // digest), and unpacked by umoci (which checks every diff_id).
    let addr = base.trim_start_matches("http://");
    let layout = dir.join("layout");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{addr}/hello:api"))
            .arg(format!("oci:{}:api", layout.display())),
    );
    let bundle = dir.join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:api", layout.display()))
            .arg(&bundle),
    );
    assert!(bundle.join("rootfs/bin/hello").symlink_metadata().is_ok());
    // Pulled and run by podman, at the name and tag the build answered.
    let podman = Podman::new(&dir);
    let image = format!("{addr}/hello:api");
    run_ok(podman.cmd().args(["pull", "--tls-verify=false", &image]));
    assert_eq!(podman.run(&image, &[]), GREETING);
    cleanup(&dir);
}

#[test]
fn a_plan_whose_paths_the_server_lacks_is_a_4xx_naming_the_path() {
    if !require(&["curl"]) {
        return;
    }
    let dir = temp_dir("api-missing");
    let (_server, url) = strata_tests::serve(
        [Path::new("--data-dir"), &dir.join("data")],
        "strata: serving the build API at ",
    );
    let base = url.trim_end_matches("/api/").to_string();
    let absent = "/nix/store/2d2mfgw3cqa8dp1ymhy2sw0ychqdxbgy-absent-1.0";
    let body = serde_json::json!({
        "closure": [{"path": absent, "narSize": 1, "references": []}],
    });
    let (answer, code) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &body.to_string(),
        &format!("{base}/api/builds"),
    ]);
    assert_eq!(code, 422, "{answer}");
    assert!(answer.contains(absent), "{answer}");
    cleanup(&dir);
}

/// Every blob in a data directory hashes to its name: nothing half
/// written or unverified is visible.
fn assert_blobs_verified(data: &Path) {
    use sha2::{Digest as _, Sha256};

    let dir = data.join("blobs/sha256");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let digest = Sha256::digest(fs::read(&path).unwrap());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            hex,
            "a visible blob with other bytes than its name says"
        );
        count += 1;
    }
    assert!(count > 0, "no blobs in {}", dir.display());
}

/// The fake store with `mib` MiB that gzip cannot shrink in its data
/// path, so building it takes a while (and takes room).
fn noisy_store(dir: &Path, mib: usize) -> strata_tests::store::FakeStore {
    use strata_tests::store::{FakeStore, DATA};
    let store = FakeStore::create(&dir.join("root"), Path::new("/bin/busybox"));
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..mib << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    fs::write(store.at(DATA).join("share/noise"), noise).unwrap();
    store
}

#[test]
fn a_server_killed_mid_build_shows_nothing_partial_and_builds_again_after_a_restart() {
    if !require(&["curl"]) {
        return;
    }
    let dir = temp_dir("api-crash");
    let store = noisy_store(&dir, 24);
    let data = dir.join("data");
    let root = store.root.clone();
    let start = || {
        strata_tests::serve(
            [
                Path::new("--data-dir"),
                &data,
                Path::new("--store-root"),
                &root,
            ],
            "strata: serving the build API at ",
        )
    };
    let request = |tag: &str, budget: u32| {
        let body = serde_json::json!({
            "closure": store.closure(), "budget": budget, "name": "hello", "tag": tag,
        });
        body.to_string()
    };
    let submit = |base: &str, body: &str| {
        let (answer, code) = curl(&[
            "-X",
            "POST",
            "--data-binary",
            body,
            &format!("{base}/api/builds"),
        ]);
        assert_eq!(code, 202, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        answer["id"].as_str().unwrap().to_string()
    };

    // One image finished before the crash.
    let (mut server, url) = start();
    let base = url.trim_end_matches("/api/").to_string();
    let before = submit(&base, &request("before", 1));
    assert_eq!(wait(&base, &before)["state"], "done");
    let tar_before = download(&base, &before, &dir.join("before.tar"));

    // A second build, killed while it runs.
    let big = submit(&base, &request("big", 4));
    let mut building = false;
    for _ in 0..2000 {
        let (body, _) = curl(&[&format!("{base}/api/builds/{big}")]);
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        if status["state"] == "building" && status["bytes"].as_u64().unwrap_or(0) > 0 {
            building = true;
            break;
        }
        assert_ne!(
            status["state"], "done",
            "the build finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(building, "the build never started");
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    assert_blobs_verified(&data);
    assert!(!data.join(format!("records/builds/{big}")).exists());

    // Restarted: the finished image is all there, the killed build is
    // unknown (nothing claims it is done) and runs again when asked.
    let (_server, url) = start();
    let base = url.trim_end_matches("/api/").to_string();
    let (_, code) = curl(&[&format!("{base}/api/builds/{big}")]);
    assert_eq!(code, 404);
    assert!(download(&base, &before, &dir.join("again.tar")) == tar_before);
    let (_, code) = curl(&["-I", &format!("{base}/v2/hello/manifests/before")]);
    assert_eq!(code, 200);
    assert_eq!(submit(&base, &request("big", 4)), big);
    let status = wait(&base, &big);
    assert_eq!(status["state"], "done", "{status}");
    assert_blobs_verified(&data);
    cleanup(&dir);
}

/// A tmpfs of `mib` MiB mounted at `dir`, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, mib: usize) -> Option<SmallDisk> {
        fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var_os("CI").is_none(),
                "cannot mount a tmpfs at {}",
                dir.display()
            );
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_build_with_a_clear_error_and_leaves_nothing_behind() {
    if !require(&["curl", "mount"]) {
        return;
    }
    let dir = temp_dir("api-full-disk");
    let store = noisy_store(&dir, 16);
    let data = dir.join("data");
    let Some(disk) = SmallDisk::mount(&data, 6) else {
        return;
    };
    let (_server, url) = strata_tests::serve(
        [
            Path::new("--data-dir"),
            &data,
            Path::new("--store-root"),
            &store.root,
        ],
        "strata: serving the build API at ",
    );
    let base = url.trim_end_matches("/api/").to_string();
    let body = serde_json::json!({"closure": store.closure(), "budget": 4, "name": "hello", "tag": "full"});
    let (answer, code) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &body.to_string(),
        &format!("{base}/api/builds"),
    ]);
    assert_eq!(code, 202, "{answer}");
    let id = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = wait(&base, &id);
    assert_eq!(status["state"], "failed", "{status}");
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("No space left on device"), "{error}");
    // Nothing half written stays: no temporary file, no record, and every
    // blob that is there is whole.
    assert_eq!(fs::read_dir(data.join("tmp")).unwrap().count(), 0);
    assert!(!data.join(format!("records/builds/{id}")).exists());
    if data
        .join("blobs/sha256")
        .read_dir()
        .unwrap()
        .next()
        .is_some()
    {
        assert_blobs_verified(&data);
    }
    drop(_server);
    drop(disk);
    cleanup(&dir);
}
