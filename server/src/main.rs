//! The `strata` binary: see `strata --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    strata_server::cli::main()
}
