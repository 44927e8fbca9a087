//! `strata simulate` gives the same figures as shared/bench/pullsim.py.
//!
//! tests/fixtures/simulate holds closures pullsim.py generated (4 images, 2
//! revisions) and the figures it reported for `auto` and `popularity`; the
//! first test replays them without ../shared. The second, where ../shared
//! is beside the repository (as in CI), runs pullsim.py live with strata as
//! the planner and compares again.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture() -> PathBuf {
    repo().join("tests/fixtures/simulate")
}

fn strata(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "strata {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn figures_match_pullsim_on_the_committed_fixture() {
    let expected: serde_json::Value =
        serde_json::from_slice(&fs::read(fixture().join("expected.json")).unwrap()).unwrap();
    let budget = expected["budget"].as_u64().unwrap().to_string();
    for (algorithm, want) in expected["algorithms"].as_object().unwrap() {
        let out =
            std::env::temp_dir().join(format!("strata-sim-{algorithm}-{}", std::process::id()));
        let mut revisions = Vec::new();
        for rev in ["rev0", "rev1"] {
            let dir = out.join(rev);
            fs::create_dir_all(&dir).unwrap();
            for entry in fs::read_dir(fixture().join(rev)).unwrap() {
                let closure = entry.unwrap().path();
                let plan = dir.join(closure.file_name().unwrap());
                strata(&[
                    "plan",
                    closure.to_str().unwrap(),
                    "-a",
                    algorithm,
                    "-b",
                    &budget,
                    "-o",
                    plan.to_str().unwrap(),
                ]);
            }
            revisions.push(dir.to_str().unwrap().to_string());
        }
        let mut args = vec!["simulate", "--json"];
        args.extend(revisions.iter().map(String::as_str));
        let got: serde_json::Value = serde_json::from_slice(&strata(&args)).unwrap();
        for figure in ["fleet", "update", "image"] {
            let (g, w) = (
                got[figure]["ratio"].as_f64().unwrap(),
                want[figure].as_f64().unwrap(),
            );
            assert!(close(g, w), "{algorithm} {figure}: strata {g} pullsim {w}");
        }
        let gib = got["image"]["bytes"].as_f64().unwrap() / f64::from(1u32 << 30);
        assert!(close(gib, want["image_GiB"].as_f64().unwrap()));
        assert_eq!(got["maxLayers"], want["max_layers"]);
        fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn figures_match_pullsim_live_when_shared_is_present() {
    let bench = repo().join("../shared/bench");
    if !bench.join("pullsim.py").exists() {
        eprintln!("skipped: {} not present", bench.display());
        return;
    }
    let tmp = std::env::temp_dir().join(format!("strata-pullsim-{}", std::process::id()));
    fs::create_dir_all(tmp.join("plans")).unwrap();
    // A planner command that also keeps every plan, by revision and image.
    let keep = tmp.join("keep.sh");
    fs::write(
        &keep,
        format!(
            "#!/bin/sh\nset -e\n{strata} plan \"$1\" -a auto -b \"$3\" -o \"$2\"\nn=$(ls {plans} | wc -l)\ncp \"$2\" {plans}/$n.json\n",
            strata = env!("CARGO_BIN_EXE_strata"),
            plans = tmp.join("plans").display()
        ),
    )
    .unwrap();
    let packages: Vec<String> = fs::read_dir(&bench)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".Packages.xz"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let json = tmp.join("figures.json");
    let status = Command::new("python3")
        .arg(bench.join("pullsim.py"))
        .arg("--packages")
        .args(&packages)
        .args(["--fleet", fixture().join("fleet.txt").to_str().unwrap()])
        .args(["--updates", bench.join("updates.txt").to_str().unwrap()])
        .args([
            "--revisions",
            "3",
            "--bumps",
            "8",
            "--seed",
            "7",
            "--budget",
            "5",
        ])
        .args(["--json", json.to_str().unwrap()])
        .arg(format!(
            "auto=sh {} {{in}} {{out}} {{budget}}",
            keep.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let want: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    let want = &want["results"]["auto"];
    // pullsim plans revision by revision, image by image in fleet order.
    let images = fs::read_to_string(fixture().join("fleet.txt"))
        .unwrap()
        .lines()
        .count();
    let mut revisions = Vec::new();
    for r in 0..3 {
        let dir = tmp.join(format!("rev{r}"));
        fs::create_dir_all(&dir).unwrap();
        for i in 0..images {
            fs::copy(
                tmp.join(format!("plans/{}.json", r * images + i)),
                dir.join(format!("image{i}.json")),
            )
            .unwrap();
        }
        revisions.push(dir.to_str().unwrap().to_string());
    }
    let mut args = vec!["simulate", "--json"];
    args.extend(revisions.iter().map(String::as_str));
    let got: serde_json::Value = serde_json::from_slice(&strata(&args)).unwrap();
    for figure in ["fleet", "update", "image"] {
        let (g, w) = (
            got[figure]["ratio"].as_f64().unwrap(),
            want[figure].as_f64().unwrap(),
        );
        assert!(close(g, w), "{figure}: strata {g} pullsim {w}");
    }
    fs::remove_dir_all(&tmp).unwrap();
}
