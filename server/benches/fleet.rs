//! Layering quality benchmark: every algorithm over the development fleet
//! (`shared/bench/fleet-dev.txt`, 6 revisions, 12 bumps, seed 1) at budgets
//! 20 and 100, measured two ways side by side: `shared/bench/pullsim.py`'s
//! own figures and `strata simulate` over the very plans it made. Both
//! must agree; lower is better, 1.000 is one layer per store path.
//!
//! Run: `cargo bench -p strata-server --bench fleet`. It needs python3 and
//! `../shared/bench`, the benchmark kit (pull simulator and closure
//! generator) kept beside the repository in CI; it is not part of Strata,
//! and without it this bench prints "skipped" and builds nothing. Takes a few minutes.
//! `fleet-aware` is `fleet` knowing the latest plan of every image planned
//! before it (pullsim's `{fleet}`), as a registry or a CI job building the
//! whole fleet plans; images are planned in the fleet file's order (a
//! reversed or shuffled copy of the file tries another order).
//! `STRATA_FLEET=FILE` (an absolute path), `STRATA_SEED=N`,
//! `STRATA_REVISIONS=N` try other fleets, e.g. the check fleets in
//! `server/benches/fleets/` (servers with seed 2, tools with seed 3, 10
//! revisions), which `fleet` was not tuned on; `STRATA_BUDGETS=10,12`
//! other budgets.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Budgets measured unless `STRATA_BUDGETS` says otherwise.
const BUDGETS: [usize; 2] = [20, 100];

/// (name, extra `strata plan` arguments); `{pop}`, `{prev}` and `{fleet}`
/// are pullsim's.
const PLANNERS: [(&str, &str); 8] = [
    ("fleet", "-a fleet --popularity {pop} --previous {prev}"),
    (
        "fleet-aware",
        "-a fleet --popularity {pop} --previous {prev} --fleet {fleet}",
    ),
    ("fleet-alone", "-a fleet"),
    ("auto", "-a auto"),
    ("popularity", "-a popularity"),
    ("nixery", "-a nixery --popularity {pop}"),
    (
        "pipeline",
        "-a pipeline --pipeline [[\\\"popularity_contest\\\"],[\\\"limit_layers\\\",{budget}]]",
    ),
    ("nixery-alone", "-a nixery"),
];

fn main() {
    let repo = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .parent()
        .unwrap()
        .to_path_buf();
    let bench = repo.join("../shared/bench");
    if !bench.join("pullsim.py").exists() {
        println!("skipped: {} not present", bench.display());
        return;
    }
    let fleet = std::env::var("STRATA_FLEET").map_or(bench.join("fleet-dev.txt"), PathBuf::from);
    let seed = std::env::var("STRATA_SEED").unwrap_or_else(|_| "1".into());
    let revisions: usize = std::env::var("STRATA_REVISIONS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(6);
    let images = fs::read_to_string(&fleet)
        .unwrap()
        .lines()
        .filter(|l| !l.split('#').next().unwrap_or("").trim().is_empty())
        .count();
    let work = std::env::temp_dir().join(format!("strata-bench-fleet-{}", std::process::id()));
    let packages: Vec<String> = fs::read_dir(&bench)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".Packages.xz"))
        .collect();
    println!(
        "fleet {} ({images} images), {revisions} revisions, 12 bumps, seed {seed}",
        fleet.display()
    );
    println!(
        "{:<7}{:<14}{:>8}{:>8}{:>8}   {:>8}{:>8}{:>8}",
        "budget", "algorithm", "fleet", "update", "image", "fleet", "update", "image"
    );
    println!("{:<21}{:^24}   {:^24}", "", "pullsim.py", "strata simulate");
    let budgets: Vec<usize> = match std::env::var("STRATA_BUDGETS") {
        Ok(list) => list
            .split(',')
            .map(|b| {
                b.trim()
                    .parse()
                    .expect("STRATA_BUDGETS: comma-separated numbers")
            })
            .collect(),
        Err(_) => BUDGETS.to_vec(),
    };
    for budget in budgets {
        let mut args: Vec<String> = vec![
            bench.join("pullsim.py").to_string_lossy().into_owned(),
            "--packages".into(),
        ];
        args.extend(packages.iter().cloned());
        let json = work.join(format!("b{budget}.json"));
        for (flag, value) in [
            ("--fleet", fleet.to_string_lossy().into_owned()),
            (
                "--updates",
                bench.join("updates.txt").to_string_lossy().into_owned(),
            ),
            ("--revisions", revisions.to_string()),
            ("--bumps", "12".into()),
            ("--seed", seed.clone()),
            ("--budget", budget.to_string()),
            ("--json", json.to_string_lossy().into_owned()),
        ] {
            args.push(flag.into());
            args.push(value);
        }
        for (name, extra) in PLANNERS {
            let plans = work.join(format!("b{budget}/{name}"));
            fs::create_dir_all(&plans).unwrap();
            // Plan, then keep a copy numbered in pullsim's order (revision by
            // revision, image by image) for strata simulate.
            args.push(format!(
                "{name}={strata} plan {{in}} -b {{budget}} {extra} -o {{out}} && cp {{out}} {plans}/$(ls {plans} | wc -l).json",
                strata = env!("CARGO_BIN_EXE_strata"),
                plans = plans.display(),
            ));
        }
        let status = Command::new("python3")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pullsim.py failed at budget {budget}");
        let figures: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
        for (name, _) in PLANNERS {
            let p = &figures["results"][name];
            let s = simulate(&work.join(format!("b{budget}/{name}")), revisions);
            let f = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |x| format!("{x:.3}"));
            println!(
                "{:<7}{:<14}{:>8}{:>8}{:>8}   {:>8}{:>8}{:>8}",
                budget,
                name,
                f(&p["fleet"]),
                f(&p["update"]),
                f(&p["image"]),
                f(&s["fleet"]["ratio"]),
                f(&s["update"]["ratio"]),
                f(&s["image"]["ratio"])
            );
        }
    }
    let _ = fs::remove_dir_all(&work);
}

/// Sorts pullsim's numbered plans into revision directories and runs
/// `strata simulate --json` over them.
fn simulate(plans: &Path, revisions: usize) -> serde_json::Value {
    // pullsim skips fleet names missing from the package set: count plans.
    let images = fs::read_dir(plans).unwrap().count() / revisions;
    let mut dirs = Vec::new();
    for r in 0..revisions {
        let dir = plans.join(format!("rev{r}"));
        fs::create_dir_all(&dir).unwrap();
        for i in 0..images {
            let from = plans.join(format!("{}.json", r * images + i));
            if from.exists() {
                fs::rename(&from, dir.join(format!("image{i:03}.json"))).unwrap();
            }
        }
        dirs.push(dir);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("simulate")
        .arg("--json")
        .args(&dirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
