//! Builders the planner's unit tests share: store paths from short names,
//! entries and graphs.

use crate::graph::{Graph, PathEntry};
use crate::store_path::HASH_LEN;

/// `/nix/store/<32 zeros>-<name>`: path order is name order.
pub fn path(name: &str) -> String {
    format!("/nix/store/{}-{name}", "0".repeat(HASH_LEN))
}

/// `/nix/store/<i, zero-padded>-pkg<i>-1.0`: a distinct hash per index.
pub fn indexed_path(i: usize) -> String {
    format!("/nix/store/{i:0>32}-pkg{i}-1.0")
}

/// A pseudo-random DAG of `paths` [`indexed_path`]s of NAR size 1, each
/// referencing up to four earlier ones (as `seed` draws them).
pub fn random_dag(paths: usize, seed: u64) -> Graph {
    let mut seed = seed;
    let mut next = |bound: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (seed >> 33) as usize % bound
    };
    let names: Vec<String> = (0..paths).map(indexed_path).collect();
    let entries: Vec<PathEntry> = (0..paths)
        .map(|i| {
            let refs: Vec<&str> = (0..if i == 0 { 0 } else { next(5) })
                .map(|_| names[next(i)].as_str())
                .collect();
            entry(&names[i], 1, &refs)
        })
        .collect();
    Graph::new(entries, None, "/nix/store").expect("a valid test graph")
}

/// An entry with no hash: the path, its NAR size, its references.
pub fn entry(path: &str, size: u64, refs: &[&str]) -> PathEntry {
    PathEntry {
        path: path.to_string(),
        nar_size: size,
        nar_hash: None,
        closure_size: None,
        references: refs.iter().map(|r| r.to_string()).collect(),
    }
}

/// A graph from `(name, narSize, references by name)`, names made paths
/// with [`path`]; the roots are the paths nothing references.
pub fn graph(entries: &[(&str, u64, &[&str])]) -> Graph {
    let entries = entries
        .iter()
        .map(|(name, size, refs)| {
            let refs: Vec<String> = refs.iter().map(|r| path(r)).collect();
            let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
            entry(&path(name), *size, &refs)
        })
        .collect();
    Graph::new(entries, None, "/nix/store").expect("a valid test graph")
}

/// A [`crate::Join`] that says it runs jobs at once but runs them in turn:
/// the split-in-two code paths, without threads.
pub struct InTurn;

impl crate::Join for InTurn {
    fn at_once(&self) -> bool {
        true
    }
}
