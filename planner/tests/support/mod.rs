//! What the planner's integration tests share: the golden-file harness for
//! the upstreams' outputs (tests/golden/README.md says where each came
//! from) and builders of store paths and closures.
//!
//! `STRATA_BLESS=1` rewrites golden files from Strata's own output instead
//! of checking them; review the diff, since any change means Strata no
//! longer matches its upstream.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::fs;
use std::path::{Path, PathBuf};

use strata_planner::nixbase32;
use strata_planner::{parse_closure, Graph, Plan};

/// `planner/tests/golden`.
pub fn golden_dir() -> PathBuf {
    // Cargo's run-time variable, not env!(): a test binary cached from
    // another clone must read this clone's files.
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("tests/golden")
}

/// A file's text; a missing file fails the test with its path.
pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file's JSON.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Debian closures every golden test plans (`golden/closures/*.json`),
/// as (name, graph), by name.
pub fn closures() -> Vec<(String, Graph)> {
    let mut files: Vec<PathBuf> = fs::read_dir(golden_dir().join("closures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let graph = parse_closure(&read(&p), "/nix/store")
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, graph)
        })
        .collect()
}

/// A plan's layers as lists of path strings (the golden files' shape).
pub fn layer_paths(plan: &Plan) -> Vec<Vec<String>> {
    plan.layers
        .iter()
        .map(|l| l.paths.iter().map(|p| p.to_string()).collect())
        .collect()
}

/// Compares layers with golden files (or blesses them), counting cases so
/// a test that finds too few files fails instead of passing empty.
#[derive(Default)]
pub struct Golden {
    checked: usize,
}

impl Golden {
    /// Whether this run rewrites the files instead (`STRATA_BLESS`).
    pub fn blessing() -> bool {
        std::env::var_os("STRATA_BLESS").is_some()
    }

    /// Checks `got` against `golden/<file>`; `what` names the case.
    pub fn check(&mut self, file: &str, got: &[Vec<String>], what: &str) {
        let path = golden_dir().join(file);
        if Self::blessing() {
            let text = serde_json::to_string_pretty(got).unwrap() + "\n";
            fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            return;
        }
        let expected: Vec<Vec<String>> = read_json(&path);
        assert_eq!(got, expected, "{what} ({})", path.display());
        self.checked += 1;
    }

    /// Counts a case checked some other way.
    pub fn count(&mut self) {
        self.checked += 1;
    }

    /// Fails unless at least `min` cases were compared (or blessed).
    pub fn at_least(&self, min: usize) {
        assert!(
            Self::blessing() || self.checked >= min,
            "only {} golden cases found, expected {min} or more",
            self.checked
        );
    }
}

/// A valid store path, `/nix/store/<hash>-<name>`, its hash made from `i`
/// (distinct for distinct `i` below 32^32).
pub fn store_path(i: usize, name: &str) -> String {
    let hash: String = (0..32)
        .map(|k| nixbase32::ALPHABET[(i * 7 + k * 13 + i / 32) % 32] as char)
        .collect();
    format!("/nix/store/{hash}-{name}")
}
