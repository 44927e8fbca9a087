//! The command line: clap arguments → typed options → library calls, one
//! file a subcommand; the planning flags and input files they share are
//! `input`'s, outputs `output`'s.
//!
//! Exit codes: 0 success, 2 bad input (a closure, plan, option or file the
//! user gave is unusable), 1 anything else (e.g. an output cannot be
//! written). Which one is decided where the error arises (`error`).
//! Errors print as one line, `error: a: b: c`. A closed stdout (`strata
//! plan | head`) ends the run quietly with 0, as ripgrep does.

mod build;
mod check;
mod error;
mod input;
mod output;
mod plan;
mod push;
mod serve;
mod simulate;
mod store_root;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::CliResult;

pub use input::{parse_store_dir, DEFAULT_ALGORITHM};

/// Plans how a Nix closure is split into container image layers.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, after_help = plan::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Plan the layers of a closure; the plan goes to stdout unless -o.
    #[command(after_help = plan::HELP)]
    Plan(plan::PlanArgs),
    /// Check that a plan lays out a closure (partition, budget, version, sizes).
    #[command(after_help = check::HELP)]
    Check(check::CheckArgs),
    /// Simulate pulls of a fleet's plans over revisions; figures as ratios
    /// to the one-layer-per-path bound.
    #[command(after_help = simulate::HELP)]
    Simulate(simulate::SimulateArgs),
    /// Build the image of a plan (or a closure) from the Nix store:
    /// docker-archive or OCI layout, layers cached by content.
    #[command(after_help = build::HELP)]
    Build(Box<build::BuildArgs>),
    /// Push an image (an archive, an OCI layout, or a plan or closure built
    /// on the way) to a registry: docker://HOST/NAME[:TAG].
    #[command(after_help = push::HELP)]
    Push(Box<push::PushArgs>),
    /// Serve the web UI, the build API (/api/) and the registry (/v2/) on one port.
    #[command(after_help = serve::HELP)]
    Serve(serve::ServeArgs),
}

/// Runs the command line and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if broken_pipe(err.error()) => ExitCode::SUCCESS,
        Err(err) => {
            report(err.error());
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Plan(args) => plan::run(args),
        Command::Check(args) => check::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Build(args) => build::run(*args),
        Command::Push(args) => push::run(*args),
        Command::Serve(args) => serve::run(args),
    }
}

/// Whether the error comes from writing to a reader that went away
/// (`strata plan | head -c 10`): Rust ignores SIGPIPE, so such writes fail
/// with EPIPE, and the run has nothing left to do.
fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
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
