//! Planner benchmark: parse + plan time and peak memory of `strata plan` for
//! every algorithm on closures of about 1,000, 10,000 and 63,000 paths (the
//! whole Debian universe from `shared/bench/debian_closures.py`), and how
//! they grow. Each run is a fresh process (`strata plan --timings`), so peak
//! memory is the run's own; the best of three runs is reported.
//!
//! Run: `cargo bench -p strata-server --bench planner`. It needs python3 and
//! `../shared/bench`, the benchmark kit kept beside the repository in CI
//! (its closure generator and Debian package index); it is not part of
//! Strata, and without it this bench prints "skipped".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_planner::{parse_closure, Graph};

const SIZES: [usize; 2] = [1_000, 10_000];
const ALGORITHMS: [&str; 5] = ["popularity", "nixery", "auto", "pipeline", "fleet"];
const RUNS: usize = 3;

struct Timing {
    parse: f64,
    plan: f64,
    total: f64,
    peak: String,
}

fn main() {
    let repo = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .parent()
        .unwrap()
        .to_path_buf();
    let bench = repo.join("../shared/bench");
    if !bench.join("debian_closures.py").exists() {
        println!("skipped: {} not present", bench.display());
        return;
    }
    let work = std::env::temp_dir().join("strata-bench-planner");
    fs::create_dir_all(&work).unwrap();
    let universe = work.join("universe.json");
    if !universe.exists() {
        let packages: Vec<PathBuf> = fs::read_dir(&bench)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".Packages.xz"))
            .collect();
        let status = Command::new("python3")
            .arg(bench.join("debian_closures.py"))
            .arg("universe")
            .args(&packages)
            .arg("-o")
            .arg(&universe)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "debian_closures.py failed");
    }
    let text = fs::read_to_string(&universe).unwrap();
    let graph = parse_closure(&text, "/nix/store").unwrap();
    let mut inputs: Vec<(usize, PathBuf)> = SIZES
        .iter()
        .map(|&size| {
            let file = work.join(format!("closure-{size}.json"));
            let n = write_sub_closure(&graph, size, &file);
            (n, file)
        })
        .collect();
    inputs.push((graph.len(), universe));

    println!("strata plan --budget 100, best of {RUNS} runs, each a fresh process");
    println!(
        "{:<11}{:>8}{:>10}{:>10}{:>10}{:>12}{:>14}",
        "algorithm", "paths", "parse s", "plan s", "total s", "peak", "growth/size"
    );
    for algorithm in ALGORITHMS {
        let mut previous: Option<(usize, f64)> = None;
        for (paths, file) in &inputs {
            let t = best_of(algorithm, file);
            let growth = previous.map_or("-".to_string(), |(p, s)| {
                format!("{:.2}", (t.total / s) / (*paths as f64 / p as f64))
            });
            println!(
                "{:<11}{:>8}{:>10.3}{:>10.3}{:>10.3}{:>12}{:>14}",
                algorithm, paths, t.parse, t.plan, t.total, t.peak, growth
            );
            previous = Some((*paths, t.total));
        }
    }
    println!("growth/size: (time ratio) / (size ratio) from the row above; 1.00 is linear");
}

/// Writes the closure of the first packages (in path order) that together
/// reach `target` paths; returns the number of paths written.
fn write_sub_closure(graph: &Graph, target: usize, file: &Path) -> usize {
    let mut roots = Vec::new();
    let mut mask = vec![false; graph.len()];
    for id in 0..graph.len() {
        if mask.iter().filter(|m| **m).count() >= target {
            break;
        }
        roots.push(id);
        mask = graph.closure_mask(&roots);
    }
    let entries: Vec<serde_json::Value> = (0..graph.len())
        .filter(|&i| mask[i])
        .map(|i| {
            let node = graph.node(i);
            let mut refs: Vec<&str> = node.references.iter().map(|&r| graph.path(r).as_str()).collect();
            if node.self_reference {
                refs.push(&node.path);
            }
            serde_json::json!({"path": node.path, "narSize": node.nar_size, "narHash": node.nar_hash, "references": refs})
        })
        .collect();
    fs::write(file, serde_json::to_string(&entries).unwrap()).unwrap();
    entries.len()
}

fn best_of(algorithm: &str, file: &Path) -> Timing {
    (0..RUNS)
        .map(|_| run(algorithm, file))
        .min_by(|a, b| a.total.total_cmp(&b.total))
        .unwrap()
}

fn run(algorithm: &str, file: &Path) -> Timing {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("plan")
        .arg(file)
        .args(["-a", algorithm, "-b", "100", "--timings", "-o", "/dev/null"]);
    if algorithm == "pipeline" {
        cmd.args([
            "--pipeline",
            r#"[["popularity_contest"],["limit_layers",100]]"#,
        ]);
    }
    let out = cmd.output().expect("strata runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{algorithm} on {}: {stderr}",
        file.display()
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("timings:"))
        .expect("a timings line");
    let field = |name: &str| -> String {
        let mut words = line.split_whitespace();
        words.find(|w| *w == name);
        words.next().unwrap_or("").to_string()
    };
    let secs = |name: &str| {
        field(name)
            .trim_end_matches('s')
            .parse::<f64>()
            .unwrap_or(f64::NAN)
    };
    let peak = line.split("peak ").nth(1).unwrap_or("?").to_string();
    Timing {
        parse: secs("parse"),
        plan: secs("plan"),
        total: secs("total"),
        peak,
    }
}
