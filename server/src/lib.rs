//! Strata's server crate: the `strata` command line (plan, check, simulate)
//! on top of the pure planner, and the file handling around it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod files;
pub mod simulate_cmd;
