//! The `strata` binary from the outside: output, exit codes, files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
