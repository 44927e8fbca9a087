//! Strata's server crate: the `strata` command line (plan, check, simulate,
//! build, serve) on top of the pure planner, the image builder (`image`: layer
//! tars, compression, config, docker-archive and OCI outputs) and the
//! content-addressed blob store it caches layers in (`store`).
//!
//! Only [`cli`] is public, for `main.rs` and the command line's tests; the
//! rest is the binary's own.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
mod files;
// While image/ is reworked on main, two lints its files trip now that it
// is private (items the binary does not use: HashingWriter, NoProgress,
// NarHash::sri, ...; `Sha256Digest::to_oci(&self)` on a Copy type, which
// clippy leaves alone in a public API) are allowed here rather than fixed
// in files being changed elsewhere. Remove once image/ is clean.
#[allow(
    dead_code,
    clippy::wrong_self_convention,
    reason = "image/ is being reworked on main: see the comment above"
)]
mod image;
mod store;
