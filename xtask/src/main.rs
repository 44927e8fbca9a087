//! `cargo run -p xtask -- web [--debug]`: builds the web UI into `web/dist`
//! (strata-web for wasm32, its JS glue by wasm-bindgen, and the page), and
//! the planner's JS API into `web/dist/api`. No Trunk or wasm-bindgen CLI
//! needed: the glue comes from `wasm-bindgen-cli-support`, pinned to the
//! same version as the wasm-bindgen the crates link.
//!
//! `cargo run --release -p xtask -- plan-times BUDGET CLOSURE...`: the
//! native side of the UI benchmark (tests/bench/ui.sh): for each closure,
//! the best of 10 parses, and per algorithm the best of 10 plans of the
//! parsed graph, the same calls the page's worker and the JS API's
//! `Closure` make in wasm; JSON on stdout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use std::{env, fs};

use anyhow::{bail, Context, Result};
use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions, DEFAULT_STORE_DIR};
use wasm_bindgen_cli_support::Bindgen;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("web") => web(args.iter().any(|a| a == "--debug")),
        Some("plan-times") if args.len() > 2 => plan_times(&args[1], &args[2..]),
        _ => bail!(
            "usage: cargo run -p xtask -- web [--debug]\n       cargo run --release -p xtask -- plan-times BUDGET CLOSURE..."
        ),
    }
}

/// The algorithms the benchmark times (`pipeline` needs a pipeline).
const TIMED: [Algorithm; 4] = [
    Algorithm::Fleet,
    Algorithm::Popularity,
    Algorithm::Nixery,
    Algorithm::Auto,
];

/// Runs per figure, natively and in wasm alike: V8 compiles a wasm
/// function for speed only once it has run a while, so the first few
/// runs of a large parse are slower than the rest.
const RUNS: usize = 10;

/// Milliseconds of the fastest of [`RUNS`] runs of `f`.
fn best_of_runs(mut f: impl FnMut()) -> f64 {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min)
}

fn plan_times(budget: &str, closures: &[String]) -> Result<()> {
    let budget: usize = budget.parse().context("BUDGET is a number")?;
    let mut out = serde_json::Map::new();
    for file in closures {
        let text = fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        let graph = parse_closure(&text, DEFAULT_STORE_DIR).with_context(|| file.clone())?;
        let parse = best_of_runs(|| {
            parse_closure(&text, DEFAULT_STORE_DIR).expect("parsed once already");
        });
        let mut times = serde_json::Map::new();
        times.insert("paths".into(), graph.len().into());
        times.insert("parse".into(), parse.into());
        for algorithm in TIMED {
            let options = PlanOptions::new(algorithm, budget);
            plan_closure(&graph, &options).with_context(|| format!("{file}: {algorithm:?}"))?;
            let ms = best_of_runs(|| {
                plan_closure(&graph, &options).expect("planned once already");
            });
            times.insert(algorithm.name().into(), ms.into());
        }
        out.insert(file.clone(), times.into());
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

/// The repository root (xtask's manifest is one level down). Read from the
/// variable `cargo run` sets, not from `env!`: with a target directory
/// shared between clones, Cargo can reuse an xtask built in another clone,
/// whose compile-time path points there (see tests/src/lib.rs, `repo`).
fn repo() -> PathBuf {
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Path::new(&manifest)
        .parent()
        .expect("xtask/ is inside the repository")
        .to_path_buf()
}

fn web(debug: bool) -> Result<()> {
    let repo = repo();
    let profile = if debug { "debug" } else { "wasm-release" };
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build
        .current_dir(&repo)
        .args(["build", "--target", TARGET])
        .args(["-p", "strata-web", "-p", "strata-planner-wasm"]);
    if !debug {
        build.args(["--profile", "wasm-release"]);
        // The planner is the hot code: optimised for speed, the rest of
        // the app (Leptos, the glue) for size. At opt-level "z" the
        // planner ran 2-9 times slower than natively.
        for package in ["strata-planner", "serde_json"] {
            build.args([
                "--config",
                &format!("profile.wasm-release.package.{package}.opt-level=3"),
            ]);
        }
    }
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build for {TARGET} failed");
    }
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { repo.join(d) })
        .unwrap_or_else(|| repo.join("target"));
    let wasm_dir = target_dir.join(TARGET).join(profile);
    let dist = repo.join("web/dist");
    // Build beside, then swap in: a server never sees half a UI.
    let staging = repo.join("web/dist.tmp");
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;
    bindgen(&wasm_dir.join("strata_web.wasm"), &staging, debug)?;
    bindgen(
        &wasm_dir.join("strata_planner_wasm.wasm"),
        &staging.join("api"),
        debug,
    )?;
    for file in ["index.html", "style.css", "strata-planner.js", "worker.js"] {
        fs::copy(repo.join("web").join(file), staging.join(file))
            .with_context(|| format!("copying web/{file}"))?;
    }
    if dist.exists() {
        fs::remove_dir_all(&dist)?;
    }
    fs::rename(&staging, &dist)?;
    eprintln!("xtask: the web UI is in {}", dist.display());
    Ok(())
}

/// JS glue for one wasm module, as `wasm-bindgen --target web` writes it.
fn bindgen(wasm: &Path, out: &Path, debug: bool) -> Result<()> {
    Bindgen::new()
        .input_path(wasm)
        .web(true)?
        .typescript(true)
        .omit_default_module_path(false)
        .debug(debug)
        .remove_name_section(!debug)
        .remove_producers_section(true)
        .generate(out)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))
}
