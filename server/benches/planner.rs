//! Planner benchmark: parse, plan and end-to-end time and peak memory of
//! `strata plan` for every algorithm on closures of about 1,000, 5,000 and
//! 10,000 paths and on the whole Debian universe (63,666 paths, from
//! `shared/bench/debian_closures.py`), how they grow, and the same closure
//! through the upstream peers' Python planners where there is one. Each run
//! is a fresh process (`strata plan --timings`), so peak memory is the
//! run's own; the best of three runs is reported.
//!
//! Goals (issue 13): the universe under 0.25 s end to end and 150 MiB for
//! every algorithm, a 5,000-path closure under 15 ms.
//!
//! Run: `cargo bench -p strata-server --bench planner`. It needs python3 and
//! `../shared/bench`, the benchmark kit kept beside the repository in CI
//! (its closure generator and Debian package index); it is not part of
//! Strata, and without it this bench prints "skipped".
//!
//! Peers, side by side on the same files (not part of Strata either, and
//! not in this repository): set `STRATA_PEER_SCRIPTS` to a directory
//! holding nixpkgs' `closure-graph.py`
//! (`pkgs/build-support/references-by-popularity/`, the `popularity`
//! peer), `auto-layer.py` (`pkgs/build-support/docker/`, the `auto` peer)
//! and the `flatten_references_graph` package
//! (`pkgs/by-name/fl/flatten-references-graph/src/`, the `pipeline` peer,
//! which needs `igraph` and `toolz`), and `STRATA_PEER_PYTHON` to the
//! Python that runs them (default `python3`). Each peer run is one process,
//! timed wall clock from start to exit, stopped after
//! `STRATA_PEER_TIMEOUT` seconds (default 60): the peers' root finding is
//! quadratic in the closure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use strata_planner::{parse_closure, Graph};

const SIZES: [usize; 3] = [1_000, 5_000, 10_000];
const RUNS: usize = 3;
const BUDGET: &str = "100";
const PIPELINE: &str = r#"[["popularity_contest"],["limit_layers",100]]"#;

/// A row of the table: an algorithm and its extra flags.
struct Case {
    label: &'static str,
    algorithm: &'static str,
    popularity: bool,
}

const CASES: [Case; 7] = [
    Case {
        label: "popularity",
        algorithm: "popularity",
        popularity: false,
    },
    Case {
        label: "nixery",
        algorithm: "nixery",
        popularity: false,
    },
    Case {
        label: "nixery+pop",
        algorithm: "nixery",
        popularity: true,
    },
    Case {
        label: "auto",
        algorithm: "auto",
        popularity: false,
    },
    Case {
        label: "pipeline",
        algorithm: "pipeline",
        popularity: false,
    },
    Case {
        label: "fleet",
        algorithm: "fleet",
        popularity: false,
    },
    Case {
        label: "fleet+pop",
        algorithm: "fleet",
        popularity: true,
    },
];

struct Timing {
    parse: f64,
    plan: f64,
    total: f64,
    wall: f64,
    peak: String,
}

/// One closure in the forms the planners read.
struct Input {
    paths: usize,
    /// `{"graph": [...]}`: strata and closure-graph.py (key `graph`).
    graph: PathBuf,
    /// `[...]`: auto-layer.py.
    list: PathBuf,
    /// `{"graph": [...], "pipeline": [...]}`: flatten_references_graph.
    pipeline: PathBuf,
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
    let packages: Vec<PathBuf> = fs::read_dir(&bench)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".Packages.xz"))
        .collect();
    let universe = work.join("universe.json");
    if !universe.exists() {
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
    let popularity = work.join("popularity.json");
    if !popularity.exists() {
        write_popularity(&bench, &packages, &popularity);
    }
    let text = fs::read_to_string(&universe).unwrap();
    let graph = parse_closure(&text, "/nix/store").unwrap();
    let mut inputs: Vec<Input> = SIZES
        .iter()
        .map(|&size| write_sub_closure(&graph, size, &work.join(format!("closure-{size}"))))
        .collect();
    inputs.push(write_sub_closure(
        &graph,
        graph.len(),
        &work.join("universe-forms"),
    ));
    drop(text);
    let peers = Peers::from_env();

    println!(
        "strata plan --budget {BUDGET}, best of {RUNS} runs, each a fresh process writing its plan to a file"
    );
    let output = work.join("plan-output.json");
    match &peers {
        Some(p) => println!(
            "peers: {} (python: {}, timeout {} s)",
            p.dir.display(),
            p.python,
            p.timeout.as_secs()
        ),
        None => println!(
            "peer: not available (set STRATA_PEER_SCRIPTS to a directory with nixpkgs' \
             closure-graph.py, auto-layer.py and flatten_references_graph/, and \
             STRATA_PEER_PYTHON to a python with igraph and toolz)"
        ),
    }
    println!(
        "{:<12}{:>8}{:>9}{:>9}{:>9}{:>9}{:>11}{:>8}  {:<24}{:>9}{:>8}",
        "algorithm",
        "paths",
        "parse s",
        "plan s",
        "total s",
        "wall s",
        "peak",
        "growth",
        "peer",
        "peer s",
        "peer/x"
    );
    for case in &CASES {
        let mut previous: Option<(usize, f64)> = None;
        for input in &inputs {
            let t = best_of(case, &input.graph, &popularity, &output);
            let growth = previous.map_or("-".to_string(), |(p, s)| {
                format!("{:.2}", (t.wall / s) / (input.paths as f64 / p as f64))
            });
            let (peer, peer_secs) = match (&peers, case.popularity) {
                (Some(peers), false) => peers.run(case.algorithm, input, &output),
                _ => ("-".to_string(), None),
            };
            let (peer_time, ratio) = match peer_secs {
                Some(Ok(s)) => (format!("{s:.3}"), format!("{:.0}x", s / t.wall)),
                Some(Err(why)) => (why, "-".to_string()),
                None => ("-".to_string(), "-".to_string()),
            };
            println!(
                "{:<12}{:>8}{:>9.3}{:>9.3}{:>9.3}{:>9.3}{:>11}{:>8}  {:<24}{:>9}{:>8}",
                case.label,
                input.paths,
                t.parse,
                t.plan,
                t.total,
                t.wall,
                t.peak,
                growth,
                peer,
                peer_time,
                ratio
            );
            previous = Some((input.paths, t.wall));
        }
    }
    println!(
        "parse/plan/total: strata's own --timings (total ends after the plan is written); \
         wall: the process, start to exit"
    );
    println!("growth: (wall ratio) / (size ratio) from the row above; 1.00 is linear");
    println!("+pop: --popularity, the package set's Nixery-style popularity file");
}

/// The Nixery-style popularity file of the whole package set, as
/// `shared/bench/pullsim.py` makes it for its planners.
fn write_popularity(bench: &Path, packages: &[PathBuf], out: &Path) {
    let script = "import json, sys\n\
        sys.path.insert(0, sys.argv[1])\n\
        from debian_closures import Universe\n\
        import pullsim\n\
        u = Universe(sys.argv[3:])\n\
        json.dump(pullsim.popularity(u), open(sys.argv[2], 'w'))\n";
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(bench)
        .arg(out)
        .args(packages)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "popularity file not written");
}

/// Writes the closure of the first packages (in path order) that together
/// reach `target` paths, in every form the planners read.
fn write_sub_closure(graph: &Graph, target: usize, stem: &Path) -> Input {
    let mut roots = Vec::new();
    let everything = target >= graph.len();
    let mut mask = vec![everything; graph.len()];
    let mut count = if everything { graph.len() } else { 0 };
    for id in 0..graph.len() {
        if count >= target {
            break;
        }
        roots.push(id);
        mask = graph.closure_mask(&roots);
        count = mask.iter().filter(|m| **m).count();
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
    let with_suffix = |suffix: &str| {
        let mut name = stem.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let input = Input {
        paths: entries.len(),
        graph: with_suffix(".json"),
        list: with_suffix(".list.json"),
        pipeline: with_suffix(".pipeline.json"),
    };
    let pipeline: serde_json::Value = serde_json::from_str(PIPELINE).unwrap();
    fs::write(&input.list, serde_json::to_string(&entries).unwrap()).unwrap();
    let graph_only = serde_json::json!({ "graph": entries });
    fs::write(&input.graph, serde_json::to_string(&graph_only).unwrap()).unwrap();
    let with_pipeline = serde_json::json!({ "graph": graph_only["graph"], "pipeline": pipeline });
    fs::write(
        &input.pipeline,
        serde_json::to_string(&with_pipeline).unwrap(),
    )
    .unwrap();
    input
}

/// `output` is where each run writes what it planned: a file of the
/// bench's own, as a user's plan would be.
fn best_of(case: &Case, file: &Path, popularity: &Path, output: &Path) -> Timing {
    (0..RUNS)
        .map(|_| run(case, file, popularity, output))
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .unwrap()
}

fn run(case: &Case, file: &Path, popularity: &Path, output: &Path) -> Timing {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("plan")
        .arg(file)
        .args(["-a", case.algorithm, "-b", BUDGET, "--timings", "-o"])
        .arg(output);
    if case.algorithm == "pipeline" {
        cmd.args(["--pipeline", PIPELINE]);
    }
    if case.popularity {
        cmd.arg("--popularity").arg(popularity);
    }
    let start = Instant::now();
    let out = cmd.output().expect("strata runs");
    let wall = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} on {}: {stderr}",
        case.label,
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
        wall,
        peak,
    }
}

/// The upstream peers' scripts, when `STRATA_PEER_SCRIPTS` names them.
struct Peers {
    dir: PathBuf,
    python: String,
    timeout: Duration,
}

impl Peers {
    fn from_env() -> Option<Peers> {
        let dir = PathBuf::from(std::env::var_os("STRATA_PEER_SCRIPTS")?);
        let python = std::env::var("STRATA_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
        let timeout = std::env::var("STRATA_PEER_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        Some(Peers {
            dir,
            python,
            timeout: Duration::from_secs(timeout),
        })
    }

    /// The peer of `algorithm` on `input`: its name, and its wall time (the
    /// best of [`RUNS`] when a run is under a second, else one run), or
    /// why there is none.
    /// The peer of `algorithm` on `input`, best of [`RUNS`], what it
    /// prints written to `output` (as strata's plan is).
    fn run(
        &self,
        algorithm: &str,
        input: &Input,
        output: &Path,
    ) -> (String, Option<Result<f64, String>>) {
        let (name, mut cmd) = match algorithm {
            "popularity" => {
                let mut cmd = Command::new(&self.python);
                cmd.arg(self.dir.join("closure-graph.py"))
                    .arg(&input.graph)
                    .arg("graph");
                ("closure-graph.py", cmd)
            }
            "auto" => {
                let mut cmd = Command::new(&self.python);
                cmd.arg(self.dir.join("auto-layer.py"))
                    .arg(&input.list)
                    .arg(output)
                    .arg(BUDGET);
                ("auto-layer.py", cmd)
            }
            "pipeline" => {
                let mut cmd = Command::new(&self.python);
                cmd.args(["-m", "flatten_references_graph"])
                    .arg(&input.pipeline)
                    .env("PYTHONPATH", &self.dir);
                ("flatten_references_graph", cmd)
            }
            _ => return ("-".to_string(), None),
        };
        let Ok(printed) = fs::File::create(output) else {
            return (name.to_string(), Some(Err("no output file".to_string())));
        };
        cmd.stdout(printed).stderr(Stdio::piped());
        let mut best: Option<f64> = None;
        for _ in 0..RUNS {
            match self.time(&mut cmd) {
                Ok(secs) => best = Some(best.map_or(secs, |b: f64| b.min(secs))),
                Err(why) => return (name.to_string(), Some(Err(why))),
            }
            if best.is_some_and(|b| b >= 1.0) {
                break;
            }
        }
        (name.to_string(), best.map(Ok))
    }

    fn time(&self, cmd: &mut Command) -> Result<f64, String> {
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("not run: {e}"))?;
        loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                let secs = start.elapsed().as_secs_f64();
                return if status.success() {
                    Ok(secs)
                } else {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = child.stderr.take() {
                        use std::io::Read as _;
                        pipe.read_to_string(&mut stderr).ok();
                    }
                    let last = stderr.lines().last().unwrap_or("").to_string();
                    eprintln!("peer failed: {last}");
                    Err("failed".to_string())
                };
            }
            if start.elapsed() > self.timeout {
                child.kill().ok();
                child.wait().ok();
                return Err(format!(">{}", self.timeout.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
