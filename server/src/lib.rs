//! Strata's server crate: the `strata` command line (plan, check, simulate,
//! build, serve) on top of the pure planner, the image builder (`image`: layer
//! tars, compression, config, docker-archive and OCI outputs) and the
//! content-addressed blob store it caches layers in (`store`).
//!
//! Only [`cli`] is public, for `main.rs` and the command line's tests; the
//! rest is the binary's own.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builds;
pub mod cli;
mod examples;
mod files;
mod http;
mod image;
mod push;
mod store;
mod text_file;
mod threads;
