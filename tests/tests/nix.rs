//! Real Nix (Debian's nix-bin, single-user as root): the test package set
//! in nix/tests is built, its closure exported both ways (`nix path-info
//! --json --recursive` and `exportReferencesGraph` via
//! nix/closure-graph.nix), planned and built into images that podman
//! loads and runs; and nix/image.nix builds an image inside a derivation.

use std::fs;
use std::path::Path;
use std::process::Command;

use strata_tests::{
    cleanup, hello_path_info, nix, repo, require, run_ok, stderr, stdout, strata, strata_path,
    temp_dir, Podman,
};

const GREETING: &str = "hello from a strata image\n";

fn layer_paths(plan: &Path) -> Vec<serde_json::Value> {
    let plan: serde_json::Value = serde_json::from_slice(&fs::read(plan).unwrap()).unwrap();
    plan["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["paths"].clone())
        .collect()
}

#[test]
fn a_closure_exported_both_ways_gives_one_image_that_runs() {
    if !require(&["nix-build", "podman", "runc"]) {
        return;
    }
    let dir = temp_dir("nix-closure");
    let tests = repo().join("nix/tests");
    fs::write(dir.join("path-info.json"), hello_path_info(&dir)).unwrap();
    let paths = format!("[ (import {} {{}}).hello ]", tests.display());
    run_ok(
        nix("nix-build")
            .arg(repo().join("nix/closure-graph.nix"))
            .args(["--arg", "paths", &paths, "-o"])
            .arg(dir.join("graph.json")),
    );
    for name in ["path-info", "graph"] {
        run_ok(
            strata()
                .args(["plan", "--budget", "3", "-o"])
                .arg(dir.join(format!("{name}.plan.json")))
                .arg(dir.join(format!("{name}.json"))),
        );
    }
    // Same layers from either export (the hashes differ only in form:
    // SRI base64 from path-info, nix-base32 from exportReferencesGraph),
    // and the same plan bytes: plans keep one canonical hash form.
    assert_eq!(
        layer_paths(&dir.join("path-info.plan.json")),
        layer_paths(&dir.join("graph.plan.json"))
    );
    let info_text = fs::read_to_string(dir.join("path-info.json")).unwrap();
    assert!(info_text.contains("\"narHash\":\"sha256-"), "{info_text}");
    assert_eq!(
        fs::read(dir.join("path-info.plan.json")).unwrap(),
        fs::read(dir.join("graph.plan.json")).unwrap()
    );
    // Issue 11: each plan checks against the other export's closure
    // (hashes compare by value, not by text).
    for plan in ["path-info", "graph"] {
        for closure in ["path-info", "graph"] {
            let out = run_ok(
                strata()
                    .arg("check")
                    .arg(dir.join(format!("{plan}.plan.json")))
                    .arg(dir.join(format!("{closure}.json"))),
            );
            assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
        }
    }
    // Both plans carry narHash; the build checks every path against them,
    // and normalises their form, so the images are byte-identical.
    for name in ["path-info", "graph"] {
        run_ok(
            strata()
                .arg("build")
                .arg(dir.join(format!("{name}.plan.json")))
                .arg("--cache")
                .arg(dir.join(format!("cache-{name}")))
                .args(["--links", "--cmd", "hello", "--tag", "t", "-o"])
                .arg(dir.join(format!("{name}.tar"))),
        );
    }
    let image = fs::read(dir.join("graph.tar")).unwrap();
    assert_eq!(image, fs::read(dir.join("path-info.tar")).unwrap());
    let podman = Podman::new(&dir);
    let name = podman.load(&dir.join("graph.tar"));
    assert_eq!(name, "localhost/hello-1.0:t");
    assert_eq!(podman.run(&name, &[]), GREETING);
    cleanup(&dir);
}

#[test]
fn the_nix_function_builds_an_image_that_loads_and_runs() {
    if !require(&["nix-build", "podman", "runc", "skopeo", "umoci"]) {
        return;
    }
    let dir = temp_dir("nix-function");
    let out = run_ok(
        nix("nix-build")
            .arg(repo().join("nix/tests/image.nix"))
            .args(["--arg", "strata"])
            .arg(strata_path())
            .arg("-o")
            .arg(dir.join("image.tar")),
    );
    assert!(
        stdout(&out).trim().ends_with("-hello.tar"),
        "{}",
        stdout(&out)
    );
    let podman = Podman::new(&dir);
    let name = podman.load(&dir.join("image.tar"));
    assert_eq!(name, "localhost/hello:nix");
    assert_eq!(podman.run(&name, &[]), GREETING);
    // The config from Nix and the extraCommands file made it in.
    let layout = format!("oci:{}:nix", dir.join("layout").display());
    let archive = format!("docker-archive:{}", dir.join("image.tar").display());
    run_ok(Command::new("skopeo").args(["copy", &archive, &layout]));
    let config = run_ok(Command::new("skopeo").args(["inspect", "--config", &layout]));
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(config["config"]["Cmd"][0], "/bin/hello");
    assert_eq!(config["config"]["Labels"]["org.example.built-by"], "strata");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    let bundle = dir.join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:nix", dir.join("layout").display()))
            .arg(&bundle),
    );
    assert_eq!(
        fs::read_to_string(bundle.join("rootfs/etc/motd")).unwrap(),
        "built by nix/image.nix\n"
    );
    cleanup(&dir);
}

#[test]
fn the_nix_function_uses_the_pipeline_algorithm_when_given_a_pipeline() {
    if !require(&["nix-instantiate"]) {
        return;
    }
    // The derivation's `algorithm` (passed as --algorithm unless empty,
    // when strata's own default applies), for each way of calling it.
    let expr = format!(
        r#"let build = import {} {{ strata = /bin/true; }};
               algorithm = args: (build ({{ name = "x"; }} // args)).algorithm;
           in [
             (algorithm {{ }})
             (algorithm {{ pipeline = [ [ "popularity_contest" ] ]; }})
             (algorithm {{ pipeline = [ ]; algorithm = "pipeline"; }})
             (algorithm {{ algorithm = "nixery"; }})
           ]"#,
        repo().join("nix/image.nix").display()
    );
    let out = run_ok(
        nix("nix-instantiate")
            .args(["--eval", "--strict", "--json", "--expr"])
            .arg(expr),
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        serde_json::json!(["", "pipeline", "pipeline", "nixery"])
    );
}

/// The summary line's manifest digest.
fn manifest_of(stderr_text: &str) -> String {
    stderr_text
        .rsplit("manifest ")
        .next()
        .unwrap()
        .trim()
        .to_string()
}

/// Issue 15 part 3: `--nix-db` gives the image Nix's own database of its
/// paths. Debian's Nix, pointed at the unpacked rootfs as its store,
/// verifies every path's contents against it and answers the closure's
/// references; two builds with fresh caches give the same bytes; a file
/// changed in the rootfs fails the verification (so it checks).
#[test]
fn the_nix_db_verifies_with_nix_store_and_is_reproducible() {
    if !require(&["nix-build", "nix-store", "umoci"]) {
        return;
    }
    let dir = temp_dir("nix-db");
    fs::write(dir.join("closure.json"), hello_path_info(&dir)).unwrap();
    let hello = fs::read_link(dir.join("hello")).unwrap();
    let mut digests = Vec::new();
    for n in ["1", "2"] {
        let out = run_ok(
            strata()
                .arg("build")
                .arg(dir.join("closure.json"))
                .args(["--nix-db", "--links", "--cmd", "hello", "--tag", "db"])
                .args(["--format", "oci-dir", "--cache"])
                .arg(dir.join(format!("cache{n}")))
                .arg("-o")
                .arg(dir.join(format!("layout{n}"))),
        );
        digests.push(manifest_of(&stderr(&out)));
        run_ok(
            Command::new("umoci")
                .args(["unpack", "--image"])
                .arg(format!("{}:db", dir.join(format!("layout{n}")).display()))
                .arg(dir.join(format!("bundle{n}"))),
        );
    }
    assert_eq!(digests[0], digests[1]);
    let db = |n: &str| fs::read(dir.join(format!("bundle{n}/rootfs/nix/var/nix/db/db.sqlite")));
    assert_eq!(db("1").unwrap(), db("2").unwrap());
    let rootfs = dir.join("bundle1/rootfs");
    let store = format!("local?root={}", rootfs.display());
    let out = run_ok(nix("nix-store").args(["--store", &store, "--verify", "--check-contents"]));
    assert!(!stderr(&out).contains("modified"), "{}", stderr(&out));
    let query = |store: Option<&str>, what: &str, path: &Path| {
        let mut cmd = nix("nix-store");
        if let Some(store) = store {
            cmd.args(["--store", store]);
        }
        stdout(&run_ok(cmd.args(["-q", what]).arg(path)))
    };
    for what in ["--references", "--requisites", "--hash", "--size"] {
        assert_eq!(
            query(Some(&store), what, &hello),
            query(None, what, &hello),
            "{what}"
        );
    }
    assert_eq!(
        fs::read_link(
            rootfs
                .join("nix/var/nix/gcroots/docker")
                .join(hello.file_name().unwrap())
        )
        .unwrap(),
        hello
    );
    // A changed file is caught (the rootfs is the test's own copy).
    let message = fs::read_dir(rootfs.join("nix/store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-greeting-data-1.0"))
        .unwrap()
        .join("share/greeting/message");
    let mut perms = fs::metadata(&message).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)] // root in a temp dir
    perms.set_readonly(false);
    fs::set_permissions(&message, perms).unwrap();
    fs::write(&message, "changed\n").unwrap();
    let out = nix("nix-store")
        .args(["--store", &store, "--verify", "--check-contents"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("was modified"), "{}", stderr(&out));
    cleanup(&dir);
}

/// Issue 15 part 5: nix/image.nix takes includeNixDB, perms (a store
/// path from Nix as the rule's path), users and architecture, and they
/// reach the image as with the CLI flags.
#[test]
fn the_nix_function_takes_include_nix_db_perms_users_and_architecture() {
    if !require(&["nix-build", "nix-store", "skopeo", "umoci"]) {
        return;
    }
    let dir = temp_dir("nix-function-extras");
    let expr = format!(
        r#"let pkgs = import {tests} {{ }};
               build = import {image} {{ strata = {strata}; }};
           in build {{
             name = "extras"; tag = "x";
             contents = [ pkgs.hello ];
             maxLayers = 5;
             includeNixDB = true;
             architecture = "arm64";
             users = [ {{ name = "app"; uid = 1000; gid = 100; }} ];
             perms = [
               {{ path = pkgs.hello; regex = "/bin/hello$"; mode = "0750"; uid = 1000; gid = 100; }}
               {{ path = "/nix/var/nix/db"; uid = 1000; gid = 100; }}
             ];
             config = {{ Cmd = [ "/bin/hello" ]; User = "app"; }};
           }}"#,
        tests = repo().join("nix/tests").display(),
        image = repo().join("nix/image.nix").display(),
        strata = strata_path().display(),
    );
    run_ok(
        nix("nix-build")
            .args(["--expr", &expr, "-o"])
            .arg(dir.join("image.tar")),
    );
    let layout = format!("oci:{}:x", dir.join("layout").display());
    let archive = format!("docker-archive:{}", dir.join("image.tar").display());
    run_ok(Command::new("skopeo").args(["copy", &archive, &layout]));
    let config = run_ok(Command::new("skopeo").args(["inspect", "--config", &layout]));
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["config"]["User"], "app");
    // 3 store layers (maxLayers less the database and the image's own).
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 5);
    let bundle = dir.join("bundle");
    run_ok(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:x", dir.join("layout").display()))
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    use std::os::unix::fs::MetadataExt;
    let db = fs::metadata(rootfs.join("nix/var/nix/db/db.sqlite")).unwrap();
    assert_eq!((db.uid(), db.gid()), (1000, 100));
    let hello = fs::read_dir(rootfs.join("nix/store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-hello-1.0"))
        .unwrap();
    let program = fs::metadata(hello.join("bin/hello")).unwrap();
    assert_eq!(
        (program.mode() & 0o7777, program.uid(), program.gid()),
        (0o750, 1000, 100)
    );
    assert!(fs::read_to_string(rootfs.join("etc/passwd"))
        .unwrap()
        .contains("app:x:1000:100::/home/app:/bin/sh\n"));
    let store = format!("local?root={}", rootfs.display());
    run_ok(nix("nix-store").args(["--store", &store, "--verify", "--check-contents"]));
    cleanup(&dir);
}
