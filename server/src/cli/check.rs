//! `strata check`: does a plan lay out a closure?

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use strata_planner::{check_plan, Plan, DEFAULT_STORE_DIR};

use super::error::{Classify as _, CliResult};
use super::input::{load_closure, parse_store_dir, read_json};
use super::output::summary_line;

/// Examples and exit codes for `strata check --help`.
pub const HELP: &str = "\
Examples:
  strata check plan.json closure.json          the plan lays out this closure
  nix path-info --json --recursive ./result | strata check plan.json -
  strata check plan.json graph.json --store-dir /custom/store

Exit code 0: the plan fits; 2: it does not, with the first problem found
(a path in no layer or in two, a size or narHash that differs, too many
layers, a layer or plan size that is not the sum of its parts).";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plan.
    plan: PathBuf,
    /// The closure it should lay out (`-` for stdin).
    closure: PathBuf,
    /// The Nix store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STORE_DIR, value_parser = parse_store_dir)]
    store_dir: String,
}

pub fn run(args: CheckArgs) -> CliResult {
    let text = read_json("plan", &args.plan)?;
    let plan = Plan::from_json(&text)
        .with_context(|| format!("plan {}", args.plan.display()))
        .bad_input()?;
    let graph = load_closure(&args.closure, &args.store_dir)?;
    check_plan(&plan, &graph)
        .with_context(|| {
            format!(
                "plan {} does not fit closure {}",
                args.plan.display(),
                args.closure.display()
            )
        })
        .bad_input()?;
    writeln!(std::io::stdout(), "ok: {}", summary_line(&plan))
        .context("writing to stdout")
        .failure()
}
