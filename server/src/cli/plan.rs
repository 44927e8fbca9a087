//! `strata plan`: a closure → a plan (JSON, or a table for people).

use std::io::{self, IsTerminal, Write as _};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use strata_planner::{human_bytes, plan_closure_with, Plan, StorePath};

use super::error::{Classify as _, CliResult};
use super::input::{parse_closure_text, plan_options_for, read_json, PlanningArgs};
use super::output::{peak_memory, summary_line, Output};
use crate::text_file::Text;
use crate::threads::Threads;

/// Bytes of the plan's text written at a time.
const WRITE_BUFFER: usize = 256 * 1024;

/// The example closure planned when `strata plan` gets no closure.
const EXAMPLE_CLOSURE: &str = include_str!("../../../examples/nginx-light.closure.json");

/// Examples for `strata --help` and `strata plan --help`.
pub const HELP: &str = "\
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

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Closure JSON (.attrs.json of exportReferencesGraph, nix path-info
    /// --json, or a list of entries); `-` for stdin; none: the bundled example.
    closure: Option<PathBuf>,
    /// Write the plan here (atomically) instead of stdout.
    #[arg(short, long, visible_alias = "out", value_name = "PLAN")]
    output: Option<PathBuf>,
    /// Output format: the plan as JSON, or a table for people.
    #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
    format: PlanFormat,
    /// Print read, parse, plan and write times, the total and peak memory
    /// to stderr (for benchmarks).
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

pub fn run(args: PlanArgs) -> CliResult {
    let store_dir = &args.planning.store_dir;
    let start = Instant::now();
    let mut text = match &args.closure {
        Some(path) => read_json("closure", path)?,
        None => {
            eprintln!("strata: no closure given, planning the bundled example (nginx-light); pass a file, or - for stdin");
            Text::from(EXAMPLE_CLOSURE.to_string())
        }
    };
    let read = start.elapsed();
    let name = args
        .closure
        .as_ref()
        .map_or("bundled example".into(), |p| p.display().to_string());
    let graph = parse_closure_text(&mut text, store_dir)
        .with_context(|| format!("closure {name}"))
        .bad_input()?;
    drop(text);
    let parsed = start.elapsed();
    let options = plan_options_for(&args.planning, &graph)?;
    let plan = plan_closure_with(&graph, &options, &Threads).bad_input()?;
    let planned = start.elapsed();
    let mut output = Output::create(args.output.as_deref())?;
    let to_file = matches!(output, Output::File { .. });
    let write = match args.format {
        PlanFormat::Json => {
            let mut buffered = io::BufWriter::with_capacity(WRITE_BUFFER, &mut output);
            plan.write_json(&mut buffered)
                .and_then(|()| buffered.flush())
        }
        PlanFormat::Table => output.write_all(table(&plan).as_bytes()),
    };
    write.with_context(|| output.name()).failure()?;
    output.commit()?;
    let written = start.elapsed();
    if args.timings {
        // Written last, so `total` is the whole run: a file output's
        // fsync (about 75 ms for the universe's 13 MB plan) included.
        eprintln!(
            "timings: paths {} read {:.3}s parse {:.3}s plan {:.3}s write {:.3}s total {:.3}s peak {}",
            graph.len(),
            read.as_secs_f64(),
            (parsed - read).as_secs_f64(),
            (planned - parsed).as_secs_f64(),
            (written - planned).as_secs_f64(),
            written.as_secs_f64(),
            peak_memory(),
        );
    }
    if to_file && io::stderr().is_terminal() {
        eprintln!("{}", summary_line(&plan));
    }
    // The process ends now: freeing the graph and the plan (a few hundred
    // thousand allocations for the Debian universe, 10-20 ms) would only
    // delay the exit, which returns all memory at once.
    std::mem::forget((graph, plan));
    Ok(())
}

/// A people-readable table of a plan: one line per layer with its size,
/// path count and biggest path.
fn table(plan: &Plan) -> String {
    let mut out = format!(
        "{:>5} {:>6} {:>10} {:>6}  {}\n",
        "layer", "paths", "size", "share", "largest path"
    );
    for (i, layer) in plan.layers.iter().enumerate() {
        let largest = layer.largest_path().map_or("", StorePath::name);
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
