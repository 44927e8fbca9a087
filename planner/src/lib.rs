//! Strata's planner: how a Nix closure is split into container image layers.
//!
//! The pipeline is: closure JSON → [`Graph`] ([`parse_closure`], any of the
//! shapes in [`input`]) → an [`Algorithm`] with a budget and user controls
//! ([`plan_closure`], [`PlanOptions`]) → a versioned [`Plan`] → pulled bytes
//! over a fleet of images and revisions ([`simulate()`]).
//!
//! The crate is pure: no I/O, clock, threads (a caller's [`Join`] may run
//! two halves of a job at once) or randomness, and it builds
//! for `wasm32-unknown-unknown`. Same input and options give the same plan,
//! byte for byte, whatever order the input listed the paths in.
//!
//! ```
//! use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions};
//!
//! let closure = r#"[
//!   {"path": "/nix/store/00000000000000000000000000000000-hello-2.12",
//!    "narSize": 1000,
//!    "references": ["/nix/store/11111111111111111111111111111111-glibc-2.39"]},
//!   {"path": "/nix/store/11111111111111111111111111111111-glibc-2.39",
//!    "narSize": 30000, "references": []}
//! ]"#;
//! let graph = parse_closure(closure, "/nix/store").unwrap();
//! let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 99)).unwrap();
//! assert_eq!(plan.layers.len(), 2);
//! assert_eq!(plan.layers[0].paths[0], "/nix/store/11111111111111111111111111111111-glibc-2.39");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod algorithms;
mod controls;
pub mod error;
pub mod graph;
pub mod input;
pub mod join;
pub mod nar_hash;
pub mod nixbase32;
pub mod plan;
pub mod revisions;
pub mod simulate;
pub mod store_path;
#[cfg(test)]
mod testutil;
mod units;

pub use algorithms::{
    check_popularity, parse_popularity, parse_popularity_for, Algorithm, Popularity,
};
pub use controls::{plan_closure, plan_closure_with, PlanOptions};
pub use error::{CheckError, InputError, PlanError};
pub use graph::{Graph, PathEntry};
pub use input::{parse_closure, parse_closure_owned_with, parse_closure_with, InputFormat};
pub use join::{Join, Sequential};
pub use nar_hash::{NarHash, NarHashError};
pub use plan::{check_plan, read_layers, AlgorithmInfo, Layer, Plan, PLAN_VERSION};
pub use revisions::{plan_fleet, FleetError, FleetPlans, History, ImageClosure, RevisionPlanner};
pub use simulate::{simulate, Figure, Figures, ImagePlan, Revision, SimulateError};
pub use store_path::{StorePath, DEFAULT_STORE_DIR};
pub use units::human_bytes;
