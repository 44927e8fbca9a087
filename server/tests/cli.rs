//! The `strata` binary from the outside: output, exit codes, files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

fn repo() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn example(name: &str) -> PathBuf {
    repo().join("examples").join(format!("{name}.closure.json"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("strata runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn plan_without_closure_plans_the_bundled_example() {
    let out = run(strata().arg("plan"));
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["version"], 1);
    assert!(plan["roots"][0].as_str().unwrap().contains("nginx-light"));
    assert!(stderr(&out).contains("bundled example"));
}

#[test]
fn plan_is_byte_identical_from_file_and_stdin_and_output_file() {
    let dir = temp_dir("same");
    let from_file = run(strata().args(["plan", "-b", "7"]).arg(example("git")));
    assert!(from_file.status.success());
    let mut child = strata()
        .args(["plan", "-", "-b", "7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&fs::read(example("git")).unwrap())
        .unwrap();
    let from_stdin = child.wait_with_output().unwrap();
    assert_eq!(from_file.stdout, from_stdin.stdout);
    let target = dir.join("plan.json");
    let out = run(strata()
        .args(["plan", "-b", "7", "-o"])
        .arg(&target)
        .arg(example("git")));
    assert!(out.status.success());
    assert_eq!(fs::read(&target).unwrap(), from_file.stdout);
    let plan: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(plan["layers"].as_array().unwrap().len(), 7);
}

#[test]
fn check_accepts_its_own_plan_and_rejects_a_foreign_one() {
    let dir = temp_dir("check");
    let plan = dir.join("git.plan.json");
    assert!(
        run(strata().args(["plan", "-o"]).arg(&plan).arg(example("git")))
            .status
            .success()
    );
    let ok = run(strata().arg("check").arg(&plan).arg(example("git")));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: "));
    let bad = run(strata().arg("check").arg(&plan).arg(example("nginx-light")));
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("/nix/store/"), "{}", stderr(&bad));
    let newer = dir.join("v2.json");
    fs::write(
        &newer,
        fs::read_to_string(&plan)
            .unwrap()
            .replacen("\"version\": 1", "\"version\": 2", 1),
    )
    .unwrap();
    let out = run(strata().arg("check").arg(&newer).arg(example("git")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("version 2"), "{}", stderr(&out));
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_offender_and_writes_nothing() {
    let dir = temp_dir("bad");
    let closure = dir.join("bad.json");
    let missing = "/nix/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-glibc-2.39";
    fs::write(
        &closure,
        format!(r#"[{{"path": "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-hello", "narSize": 1, "references": ["{missing}"]}}]"#),
    )
    .unwrap();
    let target = dir.join("plan.json");
    let out = run(strata().arg("plan").arg(&closure).arg("-o").arg(&target));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(missing), "{err}");
    assert!(!target.exists());
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "a temporary file was left behind"
    );

    let out = run(strata().arg("plan").arg(dir.join("absent.json")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("absent.json"));

    let out = run(strata().args(["plan", "--algorithm", "nope"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown algorithm `nope`"),
        "{}",
        stderr(&out)
    );

    let out = run(strata().args(["plan", "--budget", "0"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("budget 0"), "{}", stderr(&out));

    let out = run(strata().args(["plan", "--pin", missing]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(missing));
}

#[test]
fn pins_excludes_base_and_previous_from_the_command_line() {
    let dir = temp_dir("controls");
    let base = dir.join("base.json");
    assert!(run(strata()
        .args(["plan", "-b", "3", "-o"])
        .arg(&base)
        .arg(example("nginx-light")))
    .status
    .success());
    let base_plan: serde_json::Value = serde_json::from_slice(&fs::read(&base).unwrap()).unwrap();
    let libc = base_plan["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["paths"].as_array().unwrap())
        .map(|p| p.as_str().unwrap().to_string())
        .find(|p| p.contains("-libc6-"))
        .unwrap();
    let out = run(strata()
        .args(["plan", "-b", "10", "--pin", &libc, "--base"])
        .arg(&base)
        .arg("--previous")
        .arg(&base)
        .arg(example("nginx-light")));
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers = plan["layers"].as_array().unwrap();
    // Base layers come first and whole; libc is already in the base.
    assert_eq!(layers.len(), 3);
    assert!(layers.iter().all(|l| l["base"] == true));
    assert_eq!(plan["algorithm"]["previous"], true);
}

#[test]
fn help_has_examples() {
    let out = run(strata().args(["plan", "--help"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Examples:") && text.contains("--previous"),
        "{text}"
    );
}

/// The paths of a plan's layers, layer by layer.
fn layer_paths(plan: &serde_json::Value) -> Vec<Vec<String>> {
    plan["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn plan_takes_out_as_well_as_output() {
    let dir = temp_dir("out-alias");
    for flag in ["-o", "--output", "--out"] {
        let target = dir.join(format!("plan{flag}.json"));
        let out = run(strata()
            .args(["plan", "-b", "5", flag])
            .arg(&target)
            .arg(example("git")));
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{flag}: the plan went to stdout");
        let plan: serde_json::Value = serde_json::from_slice(&fs::read(&target).unwrap()).unwrap();
        assert_eq!(plan["layers"].as_array().unwrap().len(), 5);
    }
}

#[test]
fn build_takes_output_as_well_as_out() {
    // Past flag parsing: the absent input is what fails, not the flag.
    let dir = temp_dir("output-alias");
    for flag in ["-o", "--output", "--out"] {
        let out = run(strata()
            .args(["build", flag])
            .arg(dir.join("image.tar"))
            .arg(dir.join("absent.json")));
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(stderr(&out).contains("absent.json"), "{}", stderr(&out));
        assert!(!dir.join("image.tar").exists());
    }
}

#[test]
fn a_pipeline_alone_implies_the_pipeline_algorithm() {
    let pipeline = r#"[["popularity_contest"], ["limit_layers", 3]]"#;
    let implied = run(strata()
        .args(["plan", "--pipeline", pipeline])
        .arg(example("git")));
    assert!(implied.status.success(), "{}", stderr(&implied));
    let plan: serde_json::Value = serde_json::from_slice(&implied.stdout).unwrap();
    assert_eq!(plan["algorithm"]["name"], "pipeline");
    assert_eq!(plan["layers"].as_array().unwrap().len(), 3);
    let explicit = run(strata()
        .args(["plan", "-a", "pipeline", "--pipeline", pipeline])
        .arg(example("git")));
    assert_eq!(implied.stdout, explicit.stdout);
    // Without a pipeline, the default algorithm.
    let default = run(strata().arg("plan").arg(example("git")));
    let plan: serde_json::Value = serde_json::from_slice(&default.stdout).unwrap();
    assert_eq!(
        plan["algorithm"]["name"],
        strata_server::cli::DEFAULT_ALGORITHM.name()
    );
}

#[test]
fn a_pipeline_with_another_algorithm_is_a_usage_error() {
    let dir = temp_dir("pipeline-other");
    let target = dir.join("plan.json");
    let out = run(strata()
        .args(["plan", "-a", "nixery", "--pipeline", "[]", "-o"])
        .arg(&target)
        .arg(example("git")));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--pipeline") && err.contains("--algorithm nixery"),
        "{err}"
    );
    assert!(!target.exists());
    let out = run(strata()
        .args(["plan", "-a", "pipeline"])
        .arg(example("git")));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs --pipeline"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pins_and_excludes_take_comma_separated_lists() {
    let plan = run(strata()
        .args(["plan", "-b", "3"])
        .arg(example("nginx-light")));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let roots: Vec<String> = plan["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let mut others: Vec<String> = layer_paths(&plan)
        .concat()
        .into_iter()
        .filter(|p| !roots.contains(p))
        .collect();
    others.sort();
    let (pins, excludes) = (&others[..2], &others[2..4]);
    let listed = run(strata()
        .args(["plan", "-b", "10", "--pin", &pins.join(","), "--exclude"])
        .arg(excludes.join(","))
        .arg(example("nginx-light")));
    assert!(listed.status.success(), "{}", stderr(&listed));
    let repeated = run(strata()
        .args(["plan", "-b", "10", "--pin", &pins[0], "--pin", &pins[1]])
        .args(["--exclude", &excludes[0], "--exclude", &excludes[1]])
        .arg(example("nginx-light")));
    assert_eq!(listed.stdout, repeated.stdout);
    let plan: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(plan["algorithm"]["pins"], serde_json::json!(pins));
    assert_eq!(plan["algorithm"]["excludes"], serde_json::json!(excludes));
    let layers = layer_paths(&plan);
    for pin in pins {
        assert!(
            layers.contains(&vec![pin.clone()]),
            "{pin} has no own layer"
        );
    }
    for exclude in excludes {
        assert!(!layers.concat().contains(exclude), "{exclude} is still in");
    }
}

#[test]
fn a_trailing_slash_on_the_store_dir_is_dropped_everywhere() {
    let dir = temp_dir("store-dir-slash");
    let plan = dir.join("plan.json");
    let plain = run(strata().args(["plan", "-b", "4"]).arg(example("git")));
    let slashed = run(strata()
        .args(["plan", "-b", "4", "--store-dir", "/nix/store/", "-o"])
        .arg(&plan)
        .arg(example("git")));
    assert!(slashed.status.success(), "{}", stderr(&slashed));
    assert_eq!(fs::read(&plan).unwrap(), plain.stdout);
    let check = run(strata()
        .args(["check", "--store-dir", "/nix/store//"])
        .arg(&plan)
        .arg(example("git")));
    assert!(check.status.success(), "{}", stderr(&check));
    let rev = dir.join("rev0");
    fs::create_dir_all(&rev).unwrap();
    fs::copy(example("git"), rev.join("git.json")).unwrap();
    let sim = run(strata()
        .args(["simulate", "--json", "--store-dir", "/nix/store/"])
        .arg(&rev));
    assert!(sim.status.success(), "{}", stderr(&sim));
    // `/` stays `/` (a store at the root), rather than becoming "".
    let out = run(strata()
        .args(["plan", "--store-dir", "/"])
        .arg(example("git")));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !stderr(&out).contains("store directory \"\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(strata_server::cli::parse_store_dir("/").unwrap(), "/");
    assert_eq!(strata_server::cli::parse_store_dir("///").unwrap(), "/");
    assert_eq!(
        strata_server::cli::parse_store_dir("/gnu/store/").unwrap(),
        "/gnu/store"
    );
}

#[test]
fn check_rejects_a_plan_whose_size_is_not_the_sum_of_its_layers() {
    let dir = temp_dir("check-size");
    let plan = dir.join("plan.json");
    assert!(
        run(strata().args(["plan", "-o"]).arg(&plan).arg(example("git")))
            .status
            .success()
    );
    let mut value: serde_json::Value = serde_json::from_slice(&fs::read(&plan).unwrap()).unwrap();
    let size = value["size"].as_u64().unwrap();
    value["size"] = (size + 1).into();
    fs::write(&plan, value.to_string()).unwrap();
    let out = run(strata().arg("check").arg(&plan).arg(example("git")));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("`size`") && err.contains(&(size + 1).to_string()),
        "{err}"
    );
    // A layer's size: named by its index.
    value["size"] = size.into();
    let layer = value["layers"][0]["size"].as_u64().unwrap();
    value["layers"][0]["size"] = (layer + 1).into();
    fs::write(&plan, value.to_string()).unwrap();
    let out = run(strata().arg("check").arg(&plan).arg(example("git")));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("layer 0: size"), "{}", stderr(&out));
}

#[test]
fn check_help_has_examples() {
    let out = run(strata().args(["check", "--help"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Examples:") && text.contains("strata check plan.json closure.json"),
        "{text}"
    );
}

// Outputs: every subcommand that writes one takes `-o`/`--output`/`--out`,
// writes it whole or not at all, writes devices and fifos in place, and
// ends quietly when its reader goes away.

/// A store path of the fake store below.
const HELLO: &str = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-hello";

/// A one-path closure and a store root holding it, for `strata build
/// --store-root` (no Nix needed).
fn fake_store(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("root");
    let bin = root.join(HELLO.trim_start_matches('/')).join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(bin.join("hello"), "#!/bin/sh\necho hello\n").unwrap();
    let closure = dir.join("hello.json");
    fs::write(
        &closure,
        format!(r#"[{{"path": "{HELLO}", "narSize": 128, "references": []}}]"#),
    )
    .unwrap();
    (closure, root)
}

/// `strata build` of the fake store's closure, its cache in `dir`.
fn build(dir: &Path) -> Command {
    let (closure, root) = fake_store(dir);
    let mut cmd = strata();
    cmd.arg("build")
        .arg(closure)
        .arg("--store-root")
        .arg(root)
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--no-progress");
    cmd
}

/// A revision directory for `strata simulate` with one closure.
fn revision(dir: &Path) -> PathBuf {
    let rev = dir.join("rev0");
    fs::create_dir_all(&rev).unwrap();
    fs::copy(example("git"), rev.join("git.json")).unwrap();
    rev
}

/// The three subcommands that write an output, given a scratch directory:
/// each is complete but for the output flag and path.
fn writers(dir: &Path) -> Vec<(&'static str, Command)> {
    let mut plan = strata();
    plan.args(["plan", "-b", "5"]).arg(example("git"));
    let mut simulate = strata();
    simulate.args(["simulate", "-b", "5"]).arg(revision(dir));
    vec![
        ("plan", plan),
        ("build", build(dir)),
        ("simulate", simulate),
    ]
}

/// A character device with the null device's numbers, in the test's own
/// directory: never the system's /dev/null.
fn null_device(dir: &Path) -> PathBuf {
    let null = dir.join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status()
        .expect("mknod runs");
    assert!(
        made.success(),
        "mknod {} (the tests run as root)",
        null.display()
    );
    null
}

fn is_char_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn an_output_that_is_a_device_is_written_in_place_not_replaced() {
    let dir = temp_dir("device");
    let null = null_device(&dir);
    for (name, mut cmd) in writers(&dir) {
        let out = run(cmd.arg("-o").arg(&null));
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(is_char_device(&null), "{name} replaced the device");
        assert!(out.stdout.is_empty(), "{name}: the output went to stdout");
    }
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn an_output_that_is_a_fifo_is_written_in_place() {
    let dir = temp_dir("fifo");
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for (name, mut cmd) in writers(&dir) {
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || fs::read(fifo).unwrap()
        });
        let out = run(cmd.arg("--output").arg(&fifo));
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let read = reader.join().unwrap();
        assert!(!read.is_empty(), "{name} wrote nothing to the fifo");
        assert!(is_fifo(&fifo), "{name} replaced the fifo");
    }
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_0() {
    let dir = temp_dir("broken-pipe");
    for (name, mut cmd) in writers(&dir) {
        if name == "build" {
            cmd.args(["-o", "-"]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before strata writes a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{name}");
    }
}

#[test]
fn an_output_path_that_cannot_be_written_is_bad_input_named_as_given() {
    let dir = temp_dir("missing-dir");
    let missing = dir.join("missing");
    for (name, mut cmd) in writers(&dir) {
        let target = missing.join(format!("{name}.out"));
        let out = run(cmd.arg("-o").arg(&target));
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.starts_with(&format!("error: writing {}: ", target.display())),
            "{name}: {err}"
        );
        assert!(!err.contains(".strata-") && !err.contains(".tmp"), "{err}");
    }
    assert!(!missing.exists());
}

#[test]
fn simulate_takes_output_out_and_o_like_plan() {
    let dir = temp_dir("simulate-output");
    let rev = revision(&dir);
    let stdout = run(strata().args(["simulate", "--json", "-b", "5"]).arg(&rev));
    assert!(stdout.status.success(), "{}", stderr(&stdout));
    for flag in ["-o", "--output", "--out"] {
        let target = dir.join(format!("figures{flag}.json"));
        let out = run(strata()
            .args(["simulate", "--json", "-b", "5", flag])
            .arg(&target)
            .arg(&rev));
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{flag}: the figures went to stdout");
        assert_eq!(fs::read(&target).unwrap(), stdout.stdout, "{flag}");
    }
}

#[test]
fn build_writes_the_same_image_to_a_file_and_to_stdout() {
    let dir = temp_dir("build-out");
    let target = dir.join("image.tar");
    let out = run(build(&dir).arg("--out").arg(&target));
    assert!(out.status.success(), "{}", stderr(&out));
    let piped = run(build(&dir).args(["-o", "-"]));
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(fs::read(&target).unwrap(), piped.stdout);
}

#[test]
fn empty_and_non_json_files_are_named_before_parsing() {
    let dir = temp_dir("not-json");
    let empty = dir.join("empty.json");
    fs::write(&empty, " \n\t\n").unwrap();
    let html = dir.join("page.json");
    fs::write(&html, "<html><body>404 Not Found</body></html>\n").unwrap();
    let not_json = |file: &Path| {
        format!(
            "{}: the file is not JSON (it starts with \"<html><body>404 Not \" at line 1, column 1)",
            file.display()
        )
    };
    let plan = dir.join("plan.json");
    assert!(
        run(strata().args(["plan", "-o"]).arg(&plan).arg(example("git")))
            .status
            .success()
    );
    let (closure, _) = fake_store(&dir);
    let cases: Vec<(Vec<std::ffi::OsString>, String)> = vec![
        (
            vec!["plan".into(), empty.clone().into()],
            format!("closure {}: the file is empty", empty.display()),
        ),
        (
            vec!["plan".into(), html.clone().into()],
            format!("closure {}", not_json(&html)),
        ),
        (
            vec!["check".into(), empty.clone().into(), example("git").into()],
            format!("plan {}: the file is empty", empty.display()),
        ),
        (
            vec!["check".into(), plan.clone().into(), html.clone().into()],
            format!("closure {}", not_json(&html)),
        ),
        (
            vec![
                "plan".into(),
                "--previous".into(),
                empty.clone().into(),
                example("git").into(),
            ],
            format!("--previous {}: the file is empty", empty.display()),
        ),
        (
            vec![
                "plan".into(),
                "--base".into(),
                html.clone().into(),
                example("git").into(),
            ],
            format!("--base {}", not_json(&html)),
        ),
        (
            vec![
                "plan".into(),
                "--popularity".into(),
                empty.clone().into(),
                example("git").into(),
            ],
            format!("--popularity {}: the file is empty", empty.display()),
        ),
        (
            vec![
                "build".into(),
                html.clone().into(),
                "-o".into(),
                dir.join("i.tar").into(),
            ],
            format!("plan or closure {}", not_json(&html)),
        ),
        (
            vec![
                "build".into(),
                closure.into(),
                "--config".into(),
                empty.clone().into(),
                "-o".into(),
                dir.join("i.tar").into(),
            ],
            format!("--config {}: the file is empty", empty.display()),
        ),
    ];
    for (args, want) in cases {
        let out = run(strata().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), format!("error: {want}\n"), "{args:?}");
    }
    assert!(!dir.join("i.tar").exists());
}

#[test]
fn an_oci_layout_is_written_and_added_to_without_leftovers() {
    use sha2::Digest as _;
    let dir = temp_dir("oci-dir");
    let layout = dir.join("layout");
    for tag in ["v1", "v2"] {
        let out = run(build(&dir)
            .args(["--format", "oci-dir", "--tag", tag, "-o"])
            .arg(&layout));
        assert!(out.status.success(), "{tag}: {}", stderr(&out));
    }
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    assert!(layout.join("oci-layout").is_file());
    for entry in fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "temporary file left: {name}");
        let bytes = fs::read(layout.join("blobs/sha256").join(&name)).unwrap();
        let digest = sha2::Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, name, "a blob's name is its digest");
    }
}
