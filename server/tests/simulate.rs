//! `strata simulate` gives the same figures as shared/bench/pullsim.py.
//!
//! tests/fixtures/simulate holds closures pullsim.py generated (4 images, 2
//! revisions) and the figures it reported for `auto` and `popularity`; the
//! first test replays them without ../shared. The second, where ../shared
//! is beside the repository (as in CI), runs pullsim.py live with strata as
//! the planner and compares again; with `CI` set it fails when ../shared is
//! missing, and only without `CI` does it skip, saying so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
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
fn closures_are_planned_in_place_with_the_same_figures() {
    // The fixture's revisions hold closures: simulate plans them itself.
    let expected: serde_json::Value =
        serde_json::from_slice(&fs::read(fixture().join("expected.json")).unwrap()).unwrap();
    let budget = expected["budget"].as_u64().unwrap().to_string();
    let (rev0, rev1) = (fixture().join("rev0"), fixture().join("rev1"));
    for (algorithm, want) in expected["algorithms"].as_object().unwrap() {
        let got: serde_json::Value = serde_json::from_slice(&strata(&[
            "simulate",
            "--json",
            "-a",
            algorithm,
            "--budget",
            &budget,
            rev0.to_str().unwrap(),
            rev1.to_str().unwrap(),
        ]))
        .unwrap();
        for figure in ["fleet", "update", "image"] {
            let (g, w) = (
                got[figure]["ratio"].as_f64().unwrap(),
                want[figure].as_f64().unwrap(),
            );
            assert!(close(g, w), "{algorithm} {figure}: strata {g} pullsim {w}");
        }
        assert_eq!(got["maxLayers"], want["max_layers"]);
    }
}

/// A budget at which `--previous` changes the fixture's figures.
const BUDGET: &str = "5";

/// Plans the fixture's closures by hand with `strata plan -a fleet -b 5`
/// into `out/rev0` and `out/rev1`, rev1 with rev0's plans as `--previous`
/// when `previous`; returns the two directories.
fn plan_by_hand(out: &Path, previous: bool) -> Vec<String> {
    let _ = fs::remove_dir_all(out);
    let mut revisions = Vec::new();
    for (r, rev) in ["rev0", "rev1"].into_iter().enumerate() {
        let dir = out.join(rev);
        fs::create_dir_all(&dir).unwrap();
        for entry in fs::read_dir(fixture().join(rev)).unwrap() {
            let closure = entry.unwrap().path();
            let name = closure.file_name().unwrap();
            let plan = dir.join(name);
            let mut args = vec![
                "plan".to_string(),
                closure.to_str().unwrap().to_string(),
                "-a".to_string(),
                "fleet".to_string(),
                "-b".to_string(),
                BUDGET.to_string(),
                "-o".to_string(),
                plan.to_str().unwrap().to_string(),
            ];
            if r > 0 && previous {
                args.push("--previous".to_string());
                args.push(out.join("rev0").join(name).to_str().unwrap().to_string());
            }
            strata(&args.iter().map(String::as_str).collect::<Vec<_>>());
        }
        revisions.push(dir.to_str().unwrap().to_string());
    }
    revisions
}

#[test]
fn each_closure_gets_its_own_plan_at_the_revision_before_as_previous() {
    // By hand: plan rev0, then rev1 with --previous, simulate the plans;
    // simulating the closures must give the same figures.
    let out = std::env::temp_dir().join(format!("strata-sim-previous-{}", std::process::id()));
    let revisions = plan_by_hand(&out, true);
    let by_hand = strata(&["simulate", "--json", &revisions[0], &revisions[1]]);
    let (rev0, rev1) = (fixture().join("rev0"), fixture().join("rev1"));
    let (rev0, rev1) = (rev0.to_str().unwrap(), rev1.to_str().unwrap());
    let in_place = strata(&[
        "simulate", "--json", "-a", "fleet", "-b", BUDGET, rev0, rev1,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&by_hand),
        String::from_utf8_lossy(&in_place)
    );
    // A revision of plans and one of closures mix.
    let mixed = strata(&[
        "simulate",
        "--json",
        "-a",
        "fleet",
        "-b",
        BUDGET,
        &revisions[0],
        rev1,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&by_hand),
        String::from_utf8_lossy(&mixed)
    );
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn alone_plans_each_closure_without_its_previous_plan() {
    let out = std::env::temp_dir().join(format!("strata-sim-alone-{}", std::process::id()));
    let revisions = plan_by_hand(&out, false);
    let by_hand = strata(&["simulate", "--json", &revisions[0], &revisions[1]]);
    let (rev0, rev1) = (fixture().join("rev0"), fixture().join("rev1"));
    let (rev0, rev1) = (rev0.to_str().unwrap(), rev1.to_str().unwrap());
    let args = ["simulate", "--json", "-a", "fleet", "-b", BUDGET];
    let alone = strata(&[&args[..], &["--alone", rev0, rev1]].concat());
    assert_eq!(
        String::from_utf8_lossy(&by_hand),
        String::from_utf8_lossy(&alone)
    );
    // On this fixture the previous plan changes the figures, so the test
    // above would notice --alone being ignored.
    let with_previous = strata(&[&args[..], &[rev0, rev1]].concat());
    assert_ne!(alone, with_previous);
    fs::remove_dir_all(&out).unwrap();
}

#[test]
fn previous_is_refused_and_bad_closures_are_named() {
    let rev0 = fixture().join("rev0");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["simulate", "--previous", "x.json"])
        .arg(&rev0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--previous"));
    let dir = std::env::temp_dir().join(format!("strata-sim-bad-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("broken.json"), r#"{"graph": [{"path": 1}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("simulate")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("closure"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn figures_match_pullsim_live_when_shared_is_present() {
    let bench = repo().join("../shared/bench");
    if !bench.join("pullsim.py").exists() {
        // CI lays shared/ beside the clone: there, a missing one is a
        // broken setup, not a reason to pass.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {} is missing: the live pullsim comparison cannot run",
            bench.display()
        );
        eprintln!(
            "skipped: {} not present (CI unset; with CI set this fails)",
            bench.display()
        );
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
