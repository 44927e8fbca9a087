//! `strata push` into Debian's docker-registry (distribution 2.8, the
//! reference registry), started per test on a free loopback port with its
//! own config and storage, then read back by skopeo and podman. Request
//! counts come from the registry's access log.
//!
//! - a real Nix closure built and pushed on the way, pulled and run by
//!   podman; pushed again (every blob skipped, no upload); into a second
//!   repository (every blob mounted, no upload); the same manifest digest
//!   as `strata build` prints; archives (docker, OCI, chunked uploads)
//! - a two-platform image index (issue 15, part 2)
//! - errors: nothing listening, credentials missing or refused (htpasswd),
//!   a manifest the registry rejects (read-only mode): exit 2, naming them
//! - credential helpers (issue 15, part 3): a `docker-credential-*` script
//!   on the test's PATH answers for the htpasswd registry

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use strata_tests::store::{FakeStore, GREETING};
use strata_tests::{
    cleanup, free_port, hello_path_info, require, run_ok, stderr, strata, temp_dir, DockerRegistry,
    Podman,
};

/// `strata push ARGS --tls-verify=false --cache DIR/cache`, with no auth
/// file but the test's (`DIR/auth.json`, `DIR/.docker/config.json`) and
/// `DIR/bin` first on PATH (for credential helpers).
fn push(dir: &Path, args: &[&str]) -> Output {
    let mut path = std::ffi::OsString::from(dir.join("bin"));
    if let Some(rest) = std::env::var_os("PATH") {
        path.push(":");
        path.push(rest);
    }
    let out = strata()
        .arg("push")
        .args(args)
        .args(["--tls-verify=false", "--cache"])
        .arg(dir.join("cache"))
        .env("HOME", dir)
        .env("PATH", path)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env("REGISTRY_AUTH_FILE", dir.join("auth.json"))
        .output()
        .expect("strata runs");
    out
}

fn push_ok(dir: &Path, args: &[&str]) -> String {
    let out = push(dir, args);
    assert!(
        out.status.success(),
        "strata push {args:?}: {}",
        stderr(&out)
    );
    stderr(&out)
}

/// The digest after `manifest ` or `index ` on strata's lines.
fn digest_in(text: &str, word: &str) -> String {
    let at = text
        .find(&format!("{word} sha256:"))
        .unwrap_or_else(|| panic!("no {word} digest in: {text}"));
    text[at + word.len() + 1..][..71].to_string()
}

/// The `N pushed, N mounted, N skipped` counts of a push's summary.
fn counts(text: &str) -> (usize, usize, usize) {
    let line = text
        .lines()
        .find(|l| l.starts_with("strata: blobs: "))
        .unwrap_or_else(|| panic!("no summary in: {text}"));
    let n = |word: &str| -> usize {
        let end = line.find(&format!(" {word}")).unwrap();
        line[..end]
            .rsplit(' ')
            .next()
            .unwrap()
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap()
    };
    (n("pushed"), n("mounted"), n("skipped"))
}

/// Requests of the log after the first `skip`, for `repository`.
fn uploads(registry: &DockerRegistry, skip: usize, repository: &str) -> Vec<String> {
    registry.requests()[skip..]
        .iter()
        .filter(|r| r.contains(&format!("/v2/{repository}/blobs/uploads")))
        .filter(|r| r.starts_with("PUT") || r.starts_with("PATCH"))
        .cloned()
        .collect()
}

#[test]
fn a_nix_closure_pushed_pulls_and_runs_and_pushes_again_for_nothing() {
    if !require(&["nix-build", "docker-registry", "skopeo", "podman", "runc"]) {
        return;
    }
    let dir = temp_dir("push-nix");
    let closure = dir.join("closure.json");
    fs::write(&closure, hello_path_info(&dir)).unwrap();
    let registry = DockerRegistry::start(&dir.join("registry"), "");
    let closure_arg = closure.to_str().unwrap();
    let flags = ["-a", "auto", "--budget", "3", "--links", "--cmd", "hello"];
    let dest = format!("docker://{}/hello:v1", registry.addr);

    let built = run_ok(
        strata()
            .arg("build")
            .arg(&closure)
            .args(flags)
            .arg("--cache")
            .arg(dir.join("cache"))
            .arg("-o")
            .arg(dir.join("hello.tar")),
    );
    let built_digest = digest_in(&stderr(&built), "manifest");

    let first = push_ok(&dir, &[&[closure_arg, &dest][..], &flags].concat());
    assert_eq!(digest_in(&first, "manifest"), built_digest, "{first}");
    let (pushed, mounted, skipped) = counts(&first);
    assert_eq!((pushed, mounted, skipped), (5, 0, 0), "{first}");

    let inspect = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .arg(format!("docker://{}/hello:v1", registry.addr)),
    );
    let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(inspect["Digest"], built_digest.as_str());
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 4, "{inspect}");

    let podman = Podman::new(&dir);
    let image = format!("{}/hello:v1", registry.addr);
    run_ok(podman.cmd().args(["pull", "--tls-verify=false", &image]));
    assert_eq!(podman.run(&image, &[]), format!("{GREETING}\n"));

    // Again: every blob is there; one HEAD each, no upload.
    let before = registry.requests().len();
    let again = push_ok(&dir, &[&[closure_arg, &dest][..], &flags].concat());
    assert_eq!(digest_in(&again, "manifest"), built_digest);
    assert_eq!(counts(&again), (0, 0, 5), "{again}");
    assert!(uploads(&registry, before, "hello").is_empty());
    let heads = registry.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("HEAD /v2/hello/blobs/"))
        .count();
    assert_eq!(heads, 5);
    assert!(
        again.contains("; 0 pushed") || again.contains(": 0 pushed"),
        "{again}"
    );

    // A second repository of the same registry: mounted, not uploaded.
    let before = registry.requests().len();
    let team = format!("docker://{}/team/hello:v1", registry.addr);
    let mounted = push_ok(&dir, &[&[closure_arg, &team][..], &flags].concat());
    assert_eq!(counts(&mounted), (0, 5, 0), "{mounted}");
    assert!(uploads(&registry, before, "team/hello").is_empty());
    let image = format!("{}/team/hello:v1", registry.addr);
    run_ok(podman.cmd().args(["pull", "--tls-verify=false", &image]));
    assert_eq!(podman.run(&image, &[]), format!("{GREETING}\n"));

    // The archive strata build wrote: the same manifest; chunked uploads.
    let before = registry.requests().len();
    let archive = dir.join("hello.tar");
    let chunked = run_ok(
        strata()
            .arg("push")
            .arg(&archive)
            .arg(format!("docker://{}/chunked:v1", registry.addr))
            .args(["--tls-verify=false", "--chunk-size", "65536", "--cache"])
            .arg(dir.join("another-cache")),
    );
    let chunked = stderr(&chunked);
    assert_eq!(counts(&chunked), (5, 0, 0), "{chunked}");
    assert_eq!(digest_in(&chunked, "manifest"), built_digest);
    let patches = registry.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("PATCH /v2/chunked/blobs/uploads/"))
        .count();
    assert!(patches > 5, "{patches} PATCHes: {chunked}");
    cleanup(&dir);
}

/// The fake store's image (tests/src/store.rs) as a closure file.
fn fake_closure(dir: &Path) -> (FakeStore, PathBuf) {
    let store = FakeStore::create(&dir.join("root"), Path::new("/bin/busybox"));
    let closure = store.write_closure(&dir.join("closure.json"));
    (store, closure)
}

#[test]
fn a_two_platform_index_is_pushed_and_read_by_skopeo() {
    if !require(&["docker-registry", "skopeo"]) {
        return;
    }
    let dir = temp_dir("push-platforms");
    let (store, closure) = fake_closure(&dir);
    let registry = DockerRegistry::start(&dir.join("registry"), "");
    let amd64 = format!("linux/amd64={}", closure.display());
    let arm64 = format!("linux/arm64/v8={}", closure.display());
    let root = store.root.to_str().unwrap();
    let common = [
        "--store-root",
        root,
        "--budget",
        "3",
        "--links",
        "--cmd",
        "hello",
    ];

    // The OCI archive strata build writes ...
    let archive = dir.join("multi.tar");
    let built = run_ok(
        strata()
            .args(["build", "--platform", &amd64, "--platform", &arm64])
            .args(common)
            .args([
                "--format", "oci", "--name", "hello", "--tag", "multi", "--cache",
            ])
            .arg(dir.join("cache"))
            .arg("-o")
            .arg(&archive),
    );
    let built = stderr(&built);
    assert!(
        built.contains("2 platforms (linux/amd64, linux/arm64/v8)"),
        "{built}"
    );
    let index = digest_in(&built, "index");
    // Layers shared by the platforms are stored once: only the configs differ.
    let blobs = run_ok(Command::new("tar").arg("tf").arg(&archive));
    let blobs = strata_tests::stdout(&blobs)
        .lines()
        .filter(|l| l.starts_with("blobs/sha256/") && l.len() > 13)
        .count();
    assert_eq!(
        blobs,
        4 + 2 * 2 + 1,
        "4 layers, 2 configs and manifests, 1 index"
    );

    // ... pushed, and the same plans pushed with no archive: one index.
    let dest = format!("docker://{}/hello:multi", registry.addr);
    let pushed = push_ok(&dir, &[archive.to_str().unwrap(), &dest]);
    assert_eq!(digest_in(&pushed, "index"), index);
    let direct_dest = format!("docker://{}/direct:multi", registry.addr);
    let direct_args = [
        &[direct_dest.as_str()][..],
        &["--platform", &amd64, "--platform", &arm64, "--tag", "multi"],
        &common,
    ]
    .concat();
    let direct = push_ok(&dir, &direct_args);
    assert_eq!(digest_in(&direct, "index"), index);

    let raw = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(&dest[..]),
    );
    let raw: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let manifests = raw["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{raw}");
    assert_eq!(manifests[0]["platform"]["architecture"], "amd64");
    assert_eq!(manifests[1]["platform"]["architecture"], "arm64");
    assert_eq!(manifests[1]["platform"]["variant"], "v8");
    let arm_digest = manifests[1]["digest"].as_str().unwrap().to_string();

    let all = dir.join("all");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--all", "--src-tls-verify=false"])
            .arg(&dest[..])
            .arg(format!("oci:{}:multi", all.display())),
    );
    let arm = dir.join("arm");
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--override-arch", "arm64", "--src-tls-verify=false"])
            .arg(&dest[..])
            .arg(format!("oci:{}:arm", arm.display())),
    );
    let arm_index: serde_json::Value =
        serde_json::from_slice(&fs::read(arm.join("index.json")).unwrap()).unwrap();
    assert_eq!(arm_index["manifests"][0]["digest"], arm_digest.as_str());
    let config = run_ok(
        Command::new("skopeo")
            .args([
                "inspect",
                "--config",
                "--override-arch",
                "arm64",
                "--tls-verify=false",
            ])
            .arg(&dest[..]),
    );
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(
        (config["architecture"].as_str(), config["variant"].as_str()),
        (Some("arm64"), Some("v8"))
    );
    cleanup(&dir);
}

#[test]
fn push_errors_exit_2_and_name_the_registry() {
    if !require(&["docker-registry"]) {
        return;
    }
    let dir = temp_dir("push-errors");
    let (store, closure) = fake_closure(&dir);
    let root = store.root.to_str().unwrap();
    let source = [closure.to_str().unwrap()];
    let flags = ["--store-root", root, "--budget", "3"];
    let failed = |args: &[&str], wanted: &[&str]| {
        let out = push(&dir, args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        for w in wanted {
            assert!(text.contains(w), "{args:?}: no {w:?} in {text}");
        }
        assert_eq!(
            text.lines().count(),
            2,
            "a build line and one error: {text}"
        );
    };

    // Nothing listening.
    let nobody = format!("127.0.0.1:{}", free_port());
    failed(
        &[
            &source[..],
            &[&format!("docker://{nobody}/hello:v1")],
            &flags,
        ]
        .concat(),
        &["cannot reach registry", &nobody],
    );

    // htpasswd: no credentials, wrong ones, then right ones.
    let guarded = guarded_registry(&dir);
    let dest = format!("docker://{}/hello:v1", guarded.addr);
    let args = [&source[..], &[&dest[..]], &flags].concat();
    failed(&args, &["needs credentials", &guarded.addr, "hello"]);
    let auth = |password: &str| {
        fs::write(
            dir.join("auth.json"),
            format!("{{{}}}", auths_entry(&guarded.addr, password)),
        )
        .unwrap();
    };
    auth("wrong-password");
    failed(
        &args,
        &["refused the credentials", &guarded.addr, "auth.json"],
    );
    auth("right-password");
    let ok = push_ok(&dir, &args);
    assert_eq!(counts(&ok).0, 4, "{ok}");
    fs::remove_file(dir.join("auth.json")).unwrap();

    // A manifest the registry finds invalid: an OCI layout whose manifest
    // names itself something else than its descriptor says.
    let plain = DockerRegistry::start(&dir.join("plain"), "");
    let layout = dir.join("layout");
    run_ok(
        strata()
            .arg("build")
            .arg(&closure)
            .args(flags)
            .args(["--format", "oci-dir", "--tag", "bad", "--cache"])
            .arg(dir.join("cache"))
            .arg("-o")
            .arg(&layout),
    );
    let bad_digest = relabel_manifest(&layout, "application/vnd.example.not-a-manifest");
    let dest = format!("docker://{}/hello:bad", plain.addr);
    let out = push(&dir, &[layout.to_str().unwrap(), &dest]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for w in [
        format!("rejected manifest {bad_digest}"),
        plain.addr.clone(),
        "hello:bad".to_string(),
        "MANIFEST_INVALID".to_string(),
    ] {
        assert!(text.contains(&w), "no {w:?} in {text}");
    }
    cleanup(&dir);
}

/// A docker-registry at `DIR/guarded` that wants the user `tester` with
/// the password `right-password` (htpasswd, Basic).
fn guarded_registry(dir: &Path) -> DockerRegistry {
    let htpasswd = dir.join("htpasswd");
    // bcrypt (cost 4) of "right-password", made with Python's crypt.
    fs::write(
        &htpasswd,
        "tester:$2b$04$EJ7.U9IN3PwTwqdVzesiDux67HJuyXt7e3sApo7ZMENW/jX30eBXa\n",
    )
    .unwrap();
    DockerRegistry::start(
        &dir.join("guarded"),
        &format!(
            "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
            htpasswd.display()
        ),
    )
}

/// An auth file entry for `tester` with `password`.
fn auths_entry(host: &str, password: &str) -> String {
    let token = data_encoding_base64(&format!("tester:{password}"));
    format!(r#""auths": {{"{host}": {{"auth": "{token}"}}}}"#)
}

/// Writes `DIR/bin/docker-credential-strata-test`: it logs its argument
/// and the host it is given to `DIR/helper.log`, then runs `answer`.
fn credential_helper(dir: &Path, answer: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-strata-test");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\n# The host comes without a newline: read sets it, then fails.\nread -r host\necho \"$1 $host\" >> '{}'\n{answer}\n",
            dir.join("helper.log").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn credential_helpers_answer_for_the_registry() {
    if !require(&["docker-registry"]) {
        return;
    }
    let dir = temp_dir("push-helpers");
    let (store, closure) = fake_closure(&dir);
    let root = store.root.to_str().unwrap();
    let guarded = guarded_registry(&dir);
    let dest = format!("docker://{}/hello:v1", guarded.addr);
    let args = [
        closure.to_str().unwrap(),
        &dest,
        "--store-root",
        root,
        "--budget",
        "3",
    ];
    let auth_file = |json: String| fs::write(dir.join("auth.json"), json).unwrap();
    let ok = r#"printf '{"ServerURL":"%s","Username":"tester","Secret":"right-password"}' "$host""#;

    // credHelpers[HOST] wins over the same file's (wrong) auths entry.
    credential_helper(&dir, ok);
    auth_file(format!(
        r#"{{{}, "credHelpers": {{"{}": "strata-test"}}}}"#,
        auths_entry(&guarded.addr, "wrong-password"),
        guarded.addr
    ));
    let out = push_ok(&dir, &args);
    assert_eq!(counts(&out).0, 4, "{out}");
    assert_eq!(
        fs::read_to_string(dir.join("helper.log")).unwrap(),
        format!("get {}\n", guarded.addr)
    );

    // credsStore answers for any registry.
    auth_file(r#"{"credsStore": "strata-test"}"#.to_string());
    push_ok(&dir, &args);

    // A helper with nothing passes on to the next file: ~/.docker/config.json.
    credential_helper(
        &dir,
        "echo 'credentials not found in native keychain'; exit 1",
    );
    fs::create_dir_all(dir.join(".docker")).unwrap();
    fs::write(
        dir.join(".docker/config.json"),
        format!("{{{}}}", auths_entry(&guarded.addr, "right-password")),
    )
    .unwrap();
    push_ok(&dir, &args);
    fs::remove_file(dir.join(".docker/config.json")).unwrap();

    // A failing helper, a missing one: exit 2 naming it and the registry.
    let failed = |wanted: &[&str]| {
        let out = push(&dir, &args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        for w in wanted {
            assert!(text.contains(w), "no {w:?} in {text}");
        }
        assert!(!text.contains("panicked"), "{text}");
    };
    credential_helper(&dir, "echo 'keyring locked' >&2; exit 3");
    failed(&[
        "docker-credential-strata-test for",
        &guarded.addr,
        "credsStore in",
        "keyring locked",
    ]);
    auth_file(format!(
        r#"{{"credHelpers": {{"{}": "strata-absent"}}}}"#,
        guarded.addr
    ));
    failed(&[
        "docker-credential-strata-absent for",
        &guarded.addr,
        "credHelpers in",
        "not on PATH",
    ]);

    // A registry that asks for nothing runs no helper, even a missing one.
    let open = DockerRegistry::start(&dir.join("open"), "");
    auth_file(r#"{"credsStore": "strata-absent"}"#.to_string());
    let open_dest = format!("docker://{}/hello:v1", open.addr);
    push_ok(&dir, &[&args[..1], &[&open_dest[..]], &args[2..]].concat());
    cleanup(&dir);
}

/// Rewrites the one manifest of the OCI layout `dir` with `mediaType`
/// set to `media_type` (its blob and index.json entry to match); returns
/// its new digest.
fn relabel_manifest(dir: &Path, media_type: &str) -> String {
    use sha2::Digest as _;
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    let entry = &mut index["manifests"][0];
    let old = entry["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let blobs = dir.join("blobs/sha256");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(blobs.join(&old)).unwrap()).unwrap();
    manifest["mediaType"] = media_type.into();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let hex: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    fs::write(blobs.join(&hex), &bytes).unwrap();
    entry["digest"] = format!("sha256:{hex}").into();
    entry["size"] = bytes.len().into();
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    format!("sha256:{hex}")
}

/// Standard base64 (RFC 4648, padded).
fn data_encoding_base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
