//! The command line: clap arguments → typed options → planner calls.
//!
//! Exit codes: 0 success, 2 bad input (a closure, plan, option or file the
//! user gave is unusable), 1 anything else (e.g. an output cannot be
//! written). Errors print as one line, then the chain of causes.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use strata_planner::{
    check_plan, human_bytes, parse_closure, parse_popularity, plan_closure, read_layers, Algorithm,
    Graph, Plan, PlanOptions, DEFAULT_STORE_DIR,
};

use crate::files::{read_input, write_atomic};
use crate::{build_cmd, serve_cmd, simulate_cmd};

/// The example closure planned when `strata plan` gets no closure.
pub const EXAMPLE_CLOSURE: &str = include_str!("../../examples/nginx-light.closure.json");

const EXAMPLES: &str = "\
Examples:
  strata plan                                  plan the bundled example closure
  nix path-info --json --recursive ./result | strata plan - --budget 20
  strata plan closure.json --algorithm nixery --popularity popularity.json -o plan.json
  strata plan closure.json --pipeline '[[\"popularity_contest\"],[\"limit_layers\",20]]'
  strata plan closure.json --pin /nix/store/...-glibc-2.39,/nix/store/...-openssl-3.0.14
  strata plan closure.json --pin /nix/store/...-glibc-2.39 --previous last-plan.json
  strata check plan.json closure.json
  strata simulate rev0/ rev1/ rev2/            plans of a fleet at three revisions
  strata serve                                 the web UI at http://127.0.0.1:8080/";

const CHECK_EXAMPLES: &str = "\
Examples:
  strata check plan.json closure.json          the plan lays out this closure
  nix path-info --json --recursive ./result | strata check plan.json -
  strata check plan.json graph.json --store-dir /custom/store

Exit code 0: the plan fits; 2: it does not, with the first problem found
(a path in no layer or in two, a size or narHash that differs, too many
layers, a layer or plan size that is not the sum of its parts).";

/// Plans how a Nix closure is split into container image layers.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Plan the layers of a closure; the plan goes to stdout unless -o.
    #[command(after_help = EXAMPLES)]
    Plan(PlanArgs),
    /// Check that a plan lays out a closure (partition, budget, version, sizes).
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Simulate pulls of a fleet's plans over revisions; figures as ratios
    /// to the one-layer-per-path bound.
    #[command(after_help = simulate_cmd::HELP)]
    Simulate(simulate_cmd::SimulateArgs),
    /// Build the image of a plan (or a closure) from the Nix store:
    /// docker-archive or OCI layout, layers cached by content.
    #[command(after_help = build_cmd::HELP)]
    Build(Box<build_cmd::BuildArgs>),
    /// Serve the web UI over HTTP.
    #[command(after_help = serve_cmd::HELP)]
    Serve(serve_cmd::ServeArgs),
}

/// The algorithm used when `--algorithm` is not given (and no
/// `--pipeline` implies `pipeline`): the one place it is decided.
pub const DEFAULT_ALGORITHM: Algorithm = Algorithm::Fleet;

/// How a closure is planned: shared by `plan`, `build` and `simulate`.
#[derive(Debug, Args, Clone)]
pub struct PlanningArgs {
    // `None` when not given: `PlanningArgs::algorithm` resolves it, so a
    // `--pipeline` alone means `pipeline` rather than the default. The help
    // text is `algorithm_help`'s, which names the default.
    /// Layering algorithm.
    #[arg(short, long, value_parser = parse_algorithm, help = algorithm_help())]
    pub algorithm: Option<Algorithm>,
    /// Most layers for store paths (dockerTools' maxLayers less the image's own layer).
    #[arg(short, long, default_value_t = 99)]
    pub budget: usize,
    /// Nixery-style popularity file: {"name-version": count}.
    #[arg(long, value_name = "FILE")]
    pub popularity: Option<PathBuf>,
    /// nixpkgs layeringPipeline: a JSON file, or the JSON itself.
    #[arg(long, value_name = "FILE|JSON")]
    pub pipeline: Option<String>,
    /// Give this store path a layer of its own (repeatable, or comma-separated).
    #[arg(long, value_name = "PATH", value_delimiter = ',')]
    pub pin: Vec<String>,
    /// Leave this store path out of the image (repeatable, or comma-separated).
    #[arg(long, value_name = "PATH", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Reuse the layers of this plan first, as dockerTools' fromImage.
    #[arg(long, value_name = "PLAN")]
    pub base: Option<PathBuf>,
    /// This image's plan at its previous revision, for stable layers.
    #[arg(long, value_name = "PLAN")]
    pub previous: Option<PathBuf>,
    /// The Nix store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STORE_DIR, value_parser = parse_store_dir)]
    pub store_dir: String,
}

impl PlanningArgs {
    /// The algorithm to run: the one given; else `pipeline` when a
    /// `--pipeline` is given; else [`DEFAULT_ALGORITHM`]. A pipeline with
    /// another algorithm is a usage error rather than a silently unused
    /// flag.
    pub fn algorithm(&self) -> Result<Algorithm, UsageError> {
        match (self.algorithm, &self.pipeline) {
            (Some(algorithm), None) => Ok(algorithm),
            (None, None) => Ok(DEFAULT_ALGORITHM),
            (None | Some(Algorithm::Pipeline), Some(_)) => Ok(Algorithm::Pipeline),
            (Some(other), Some(_)) => Err(UsageError(format!(
                "--pipeline is only used by --algorithm pipeline, not --algorithm {other} \
                 (leave out --algorithm, or the pipeline)"
            ))),
        }
    }
}

/// `--algorithm`'s help, naming the default from [`DEFAULT_ALGORITHM`].
fn algorithm_help() -> String {
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    format!(
        "Layering algorithm: {} [default: {DEFAULT_ALGORITHM}, or pipeline when --pipeline is given]",
        names.join(", ")
    )
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// Closure JSON (.attrs.json of exportReferencesGraph, nix path-info
    /// --json, or a list of entries); `-` for stdin; none: the bundled example.
    closure: Option<PathBuf>,
    /// Write the plan here (atomically) instead of stdout.
    #[arg(short, long, visible_alias = "out", value_name = "PLAN")]
    output: Option<PathBuf>,
    /// Output format: the plan as JSON, or a table for people.
    #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
    format: PlanFormat,
    /// Print read, parse and plan times and peak memory to stderr (for benchmarks).
    #[arg(long)]
    timings: bool,
    #[command(flatten)]
    planning: PlanningArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlanFormat {
    Json,
    Table,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The plan.
    plan: PathBuf,
    /// The closure it should lay out (`-` for stdin).
    closure: PathBuf,
    /// The Nix store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STORE_DIR, value_parser = parse_store_dir)]
    store_dir: String,
}

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    s.parse()
}

/// `--store-dir`: trailing slashes are dropped (`/nix/store/` is
/// `/nix/store`, as the planner wants it), but `/` stays `/`. Whether the
/// result is usable is the planner's to say.
pub fn parse_store_dir(s: &str) -> Result<String, String> {
    let trimmed = s.trim_end_matches('/');
    Ok(if trimmed.is_empty() && !s.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    })
}

/// The user's input is at fault (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the command line and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err);
            ExitCode::from(exit_code(&err))
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Plan(args) => plan(args),
        Command::Check(args) => check(args),
        Command::Simulate(args) => simulate_cmd::run(args),
        Command::Build(args) => build_cmd::run(*args),
        Command::Serve(args) => serve_cmd::run(args),
    }
}

/// Prints the error and its causes on one line (`error: a: b: c`).
fn report(err: &anyhow::Error) {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    let _ = writeln!(io::stderr().lock(), "error: {line}");
}

/// 2 when the chain holds an error about the user's input, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|e| {
        e.is::<strata_planner::InputError>()
            || e.is::<strata_planner::PlanError>()
            || e.is::<strata_planner::CheckError>()
            || e.is::<strata_planner::SimulateError>()
            || e.is::<crate::files::ReadError>()
            || e.is::<UsageError>()
            || e.downcast_ref::<crate::image::BuildError>()
                .is_some_and(crate::image::BuildError::is_bad_input)
            || e.downcast_ref::<crate::image::layer::LayerError>()
                .is_some_and(crate::image::layer::LayerError::is_bad_input)
    });
    if bad_input {
        2
    } else {
        1
    }
}

/// Reads and validates a closure file.
pub fn load_closure(path: &Path, store_dir: &str) -> Result<Graph> {
    let text = read_input(path)?;
    parse_closure(&text, store_dir).with_context(|| format!("closure {}", path.display()))
}

/// What `build` and `simulate` take: a plan as it is, or a closure to plan.
#[derive(Debug)]
pub enum PlanOrClosure {
    /// A plan from `strata plan`.
    Plan(Plan),
    /// A closure, validated.
    Closure(Graph),
}

/// Reads a plan or a closure file, telling them apart by [`json_shape`].
pub fn load_plan_or_closure(path: &Path, store_dir: &str) -> Result<PlanOrClosure> {
    let text = read_input(path)?;
    let name = path.display();
    if json_shape(&text) == JsonShape::Plan {
        let plan = Plan::from_json(&text).with_context(|| format!("plan {name}"))?;
        return Ok(PlanOrClosure::Plan(plan));
    }
    let graph = parse_closure(&text, store_dir).with_context(|| format!("closure {name}"))?;
    Ok(PlanOrClosure::Closure(graph))
}

/// What a JSON file holds, as far as telling plans from closures goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    /// A full plan: an object with `version` and `layers`.
    Plan,
    /// Layers alone, in a shape `read_layers` takes: `{"layers": [...]}`
    /// or a list of lists of paths (as pullsim.py writes).
    Layers,
    /// Anything else, e.g. a closure (no closure shape has `layers`, and
    /// closure lists hold objects).
    Other,
}

/// The [`JsonShape`] of a text. Only the top-level `version` and `layers`
/// keys are looked at (the rest is skipped, not built), so telling a large
/// closure apart costs one scan of its bytes.
pub fn json_shape(text: &str) -> JsonShape {
    #[derive(serde::Deserialize)]
    struct Probe {
        version: Option<serde::de::IgnoredAny>,
        layers: Option<serde::de::IgnoredAny>,
    }
    let text = text.trim_start();
    if let Some(list) = text.strip_prefix('[') {
        return match list.trim_start().as_bytes().first() {
            Some(b'[' | b']') => JsonShape::Layers,
            _ => JsonShape::Other,
        };
    }
    // A list would fill the fields by position: only objects are probed.
    if !text.starts_with('{') {
        return JsonShape::Other;
    }
    match serde_json::from_str::<Probe>(text) {
        Ok(p) if p.layers.is_some() => {
            if p.version.is_some() {
                JsonShape::Plan
            } else {
                JsonShape::Layers
            }
        }
        _ => JsonShape::Other,
    }
}

/// Turns the planning arguments into planner options (reading the files).
pub fn plan_options(args: &PlanningArgs) -> Result<PlanOptions> {
    let mut options = PlanOptions::new(args.algorithm()?, args.budget);
    if let Some(path) = &args.popularity {
        let text = read_input(path)?;
        options.popularity = Some(
            parse_popularity(&text).with_context(|| format!("--popularity {}", path.display()))?,
        );
    }
    if let Some(pipeline) = &args.pipeline {
        let text = if pipeline.trim_start().starts_with('[') {
            pipeline.clone()
        } else {
            read_input(Path::new(pipeline))?
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            UsageError(format!(
                "--pipeline: malformed JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        options.pipeline = Some(value);
    } else if options.algorithm == Algorithm::Pipeline {
        bail!(UsageError(
            "--algorithm pipeline needs --pipeline FILE|JSON".to_string()
        ));
    }
    options.pins = args.pin.clone();
    options.excludes = args.exclude.clone();
    for (option, path, slot) in [
        ("--base", &args.base, &mut options.base),
        ("--previous", &args.previous, &mut options.previous),
    ] {
        if let Some(path) = path {
            let text = read_input(path)?;
            *slot =
                Some(read_layers(&text).with_context(|| format!("{option} {}", path.display()))?);
        }
    }
    Ok(options)
}

fn plan(args: PlanArgs) -> Result<()> {
    let store_dir = &args.planning.store_dir;
    let start = Instant::now();
    let text = match &args.closure {
        Some(path) => read_input(path)?,
        None => {
            eprintln!("strata: no closure given, planning the bundled example (nginx-light); pass a file, or - for stdin");
            EXAMPLE_CLOSURE.to_string()
        }
    };
    let read = start.elapsed();
    let name = args
        .closure
        .as_ref()
        .map_or("bundled example".into(), |p| p.display().to_string());
    let graph = parse_closure(&text, store_dir).with_context(|| format!("closure {name}"))?;
    drop(text);
    let parsed = start.elapsed();
    let options = plan_options(&args.planning)?;
    let plan = plan_closure(&graph, &options)?;
    let planned = start.elapsed();
    if args.timings {
        eprintln!(
            "timings: paths {} read {:.3}s parse {:.3}s plan {:.3}s total {:.3}s peak {}",
            graph.len(),
            read.as_secs_f64(),
            (parsed - read).as_secs_f64(),
            (planned - parsed).as_secs_f64(),
            planned.as_secs_f64(),
            peak_memory().map_or("unknown".to_string(), human_bytes),
        );
    }
    let text = match args.format {
        PlanFormat::Json => plan.to_json(),
        PlanFormat::Table => table(&plan, store_dir),
    };
    match &args.output {
        Some(path) => write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to stdout")?,
    }
    if args.output.is_some() && io::stderr().is_terminal() {
        eprintln!("{}", summary_line(&plan));
    }
    Ok(())
}

fn check(args: CheckArgs) -> Result<()> {
    let text = read_input(&args.plan)?;
    let plan = Plan::from_json(&text).with_context(|| format!("plan {}", args.plan.display()))?;
    let graph = load_closure(&args.closure, &args.store_dir)?;
    check_plan(&plan, &graph).with_context(|| {
        format!(
            "plan {} does not fit closure {}",
            args.plan.display(),
            args.closure.display()
        )
    })?;
    println!("ok: {}", summary_line(&plan));
    Ok(())
}

fn summary_line(plan: &Plan) -> String {
    let paths: usize = plan.layers.iter().map(|l| l.paths.len()).sum();
    format!(
        "{} layers (budget {}), {} paths, {} by {}",
        plan.layers.len(),
        plan.algorithm.budget,
        paths,
        human_bytes(plan.size),
        plan.algorithm.name
    )
}

/// A people-readable table of a plan: one line per layer with its size,
/// path count and biggest path.
fn table(plan: &Plan, store_dir: &str) -> String {
    let mut out = format!(
        "{:>5} {:>6} {:>10} {:>6}  {}\n",
        "layer", "paths", "size", "share", "largest path"
    );
    for (i, layer) in plan.layers.iter().enumerate() {
        let largest = layer
            .paths
            .iter()
            .zip(layer.nar_sizes.iter().chain(std::iter::repeat(&0)))
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(p, _)| short_name(p, store_dir))
            .unwrap_or_default();
        let share = if plan.size > 0 {
            layer.size as f64 * 100.0 / plan.size as f64
        } else {
            0.0
        };
        out.push_str(&format!(
            "{:>5} {:>6} {:>10} {:>5.1}%  {}{}\n",
            i,
            layer.paths.len(),
            human_bytes(layer.size),
            share,
            largest,
            if layer.base { " (base)" } else { "" }
        ));
    }
    out.push_str(&format!("total: {}\n", summary_line(plan)));
    out
}

/// `hello-2.12` from `/nix/store/<hash>-hello-2.12`.
fn short_name<'a>(path: &'a str, store_dir: &str) -> &'a str {
    path.strip_prefix(store_dir)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.get(33..))
        .unwrap_or(path)
}

/// Peak resident memory of this process (Linux `VmHWM`), if known.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
