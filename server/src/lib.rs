//! Strata's server crate: the `strata` command line (plan, check, simulate,
//! build, serve) on top of the pure planner, the image builder ([`image`]: layer
//! tars, compression, config, docker-archive and OCI outputs) and the
//! content-addressed blob store it caches layers in ([`store`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod build_cmd;
pub mod cli;
pub mod files;
pub mod image;
pub mod serve_cmd;
pub mod simulate_cmd;
pub mod store;
