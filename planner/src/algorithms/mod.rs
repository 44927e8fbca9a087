//! Layering algorithms: one file each, one signature, one name table.
//!
//! An algorithm gets a [`Context`] (the graph, the budget and the optional
//! inputs) and returns layers of node ids, bottom (most shared, most stable)
//! to top. It must return at most `budget` non-empty layers that together
//! hold every node of the graph exactly once, and the same layers for the
//! same graph and inputs, whatever order the input listed the paths in.
//! User controls (pins, excludes, base plans) are applied around it by
//! [`crate::plan_closure`], not inside.

pub mod auto;
pub mod fleet;
pub mod nixery;
pub mod pipeline;
pub mod popularity;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::graph::{Graph, NodeId};
use crate::join::Join;
use crate::store_path::StorePath;

/// Layers as node ids, bottom to top.
pub type Layers = Vec<Vec<NodeId>>;

/// Nixery-style popularity: `{"name-version": count}` (store hash stripped),
/// how many packages of the whole package set depend on each path.
pub type Popularity = BTreeMap<String, u64>;

/// What an algorithm may use besides the graph.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The closure.
    pub graph: &'a Graph,
    /// Most layers the algorithm may return (at least 1).
    pub budget: usize,
    /// Popularity of paths across the package set, if known.
    pub popularity: Option<&'a Popularity>,
    /// A nixpkgs `layeringPipeline` (JSON), for the `pipeline` algorithm.
    pub pipeline: Option<&'a serde_json::Value>,
    /// This image's layers at its previous revision (paths may be missing
    /// from this graph), for algorithms that keep layers stable.
    pub previous: Option<&'a [Vec<StorePath>]>,
    /// The latest plans of the fleet's images (layers of paths), this
    /// image's own previous plan possibly among them, for `fleet`; `None`
    /// when the image is planned on its own.
    pub fleet: Option<&'a [Vec<Vec<StorePath>>]>,
    /// Runs the closure walks of large graphs in two halves when the
    /// caller has threads; the plan is the same either way.
    pub join: &'a dyn Join,
}

/// The signature every algorithm has.
pub type AlgorithmFn = fn(&Context<'_>) -> Result<Layers, PlanError>;

/// The algorithms Strata knows, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// nixpkgs `referencesByPopularity` + streamLayeredImage's split.
    Popularity,
    /// Nixery's dominator-tree grouping.
    Nixery,
    /// nixpkgs' size-first `auto-layer` (dockerTools' current default).
    Auto,
    /// nixpkgs' `layeringPipeline` JSON language.
    Pipeline,
    /// Strata's own: fewest bytes pulled across a fleet and its updates.
    Fleet,
}

impl Algorithm {
    /// Every algorithm, in the order shown to users.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Fleet,
        Algorithm::Auto,
        Algorithm::Popularity,
        Algorithm::Nixery,
        Algorithm::Pipeline,
    ];

    /// The name used on the command line and in plans.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Popularity => "popularity",
            Algorithm::Nixery => "nixery",
            Algorithm::Auto => "auto",
            Algorithm::Pipeline => "pipeline",
            Algorithm::Fleet => "fleet",
        }
    }

    /// Whether it reads the package set's popularity (`--popularity`):
    /// only `nixery` does; `fleet` takes it and measured better without.
    pub fn uses_popularity(self) -> bool {
        self == Algorithm::Nixery
    }

    /// The function implementing it.
    pub fn function(self) -> AlgorithmFn {
        match self {
            Algorithm::Popularity => popularity::plan,
            Algorithm::Nixery => nixery::plan,
            Algorithm::Auto => auto::plan,
            Algorithm::Pipeline => pipeline::plan,
            Algorithm::Fleet => fleet::plan,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                format!("unknown algorithm `{s}` (known: {})", names.join(", "))
            })
    }
}

/// The counts of a popularity object, names borrowed from the text while
/// it is read, kept when they are in the set (all without one): a package
/// set's file holds ten times the names one closure has, and making a
/// string of each was most of the time a plan with `--popularity` took.
struct Counts<'n>(Option<&'n FxHashSet<&'n str>>);

impl<'de> serde::de::DeserializeSeed<'de> for Counts<'_> {
    type Value = Popularity;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Popularity, D::Error> {
        struct Visitor<'n>(Option<&'n FxHashSet<&'n str>>);
        impl<'de> serde::de::Visitor<'de> for Visitor<'_> {
            type Value = Popularity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of \"name-version\": count")
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Popularity, M::Error> {
                let mut pairs: Vec<(&'de str, u64)> = Vec::new();
                // A name with escapes cannot be borrowed: an error here,
                // and the caller reads the file the long way.
                while let Some(name) = map.next_key::<&'de str>()? {
                    let count: u64 = map.next_value()?;
                    let wanted = match self.0 {
                        Some(names) => names.contains(name),
                        None => true,
                    };
                    if wanted {
                        pairs.push((name, count));
                    }
                }
                // Built sorted at once (the last of a repeated name kept,
                // as the map of JSON values read the long way does),
                // several times faster than one insert at a time.
                Ok(pairs
                    .into_iter()
                    .map(|(name, count)| (name.to_string(), count))
                    .collect())
            }
        }
        deserializer.deserialize_map(Visitor(self.0))
    }
}

/// A valid popularity text's counts ([`Counts`]) in one pass; `None` for
/// anything else, which the long way reads or names the problem of.
fn read_counts(text: &str, names: Option<&FxHashSet<&str>>) -> Option<Popularity> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let counts = serde::de::DeserializeSeed::deserialize(Counts(names), &mut deserializer).ok()?;
    deserializer.end().ok().map(|()| counts)
}

/// [`parse_popularity`], keeping only the counts of `graph`'s paths' names
/// (all that planning `graph` looks up): the same plans, the same errors,
/// in a fraction of the time.
pub fn parse_popularity_for(text: &str, graph: &Graph) -> Result<Popularity, PlanError> {
    let names: FxHashSet<&str> = (0..graph.len()).map(|id| graph.name(id)).collect();
    popularity_of(text, &names)
}

/// Checks a popularity file as [`parse_popularity`] reads it, keeping
/// nothing: for an algorithm that does not use it
/// ([`Algorithm::uses_popularity`]), a bad file is still an error.
pub fn check_popularity(text: &str) -> Result<(), PlanError> {
    popularity_of(text, &FxHashSet::default()).map(drop)
}

/// The counts of `names` in a popularity file.
fn popularity_of(text: &str, names: &FxHashSet<&str>) -> Result<Popularity, PlanError> {
    if let Some(counts) = read_counts(text, Some(names)) {
        return Ok(counts);
    }
    let mut counts = parse_popularity(text)?;
    counts.retain(|name, _| names.contains(name.as_str()));
    Ok(counts)
}

/// Reads a Nixery popularity file: a JSON object of `"name-version": count`.
pub fn parse_popularity(text: &str) -> Result<Popularity, PlanError> {
    // Valid files in one pass; anything else (names with escapes too)
    // through the pass below, which names the problem.
    if let Some(counts) = read_counts(text, None) {
        return Ok(counts);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| PlanError::Popularity {
            problem: format!(
                "malformed JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        })?;
    let serde_json::Value::Object(map) = value else {
        return Err(PlanError::Popularity {
            problem: "expected an object of \"name-version\": count".to_string(),
        });
    };
    map.into_iter()
        .map(|(name, count)| match count.as_u64() {
            Some(n) => Ok((name, n)),
            None => Err(PlanError::Popularity {
                problem: format!("count of {name:?} must be a non-negative integer, found {count}"),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::graph;

    fn closure() -> Graph {
        graph(&[("zlib-1.3", 10, &[]), ("curl-8.5", 20, &["zlib-1.3"])])
    }

    #[test]
    fn popularity_for_a_closure_keeps_its_names_counts_only() {
        let text = r#"{"zlib-1.3": 5, "bash-5.2": 9, "curl-8.5": 1, "zlib-1.3": 7}"#;
        let mut whole = parse_popularity(text).unwrap();
        whole.remove("bash-5.2");
        let kept = parse_popularity_for(text, &closure()).unwrap();
        assert_eq!(kept, whole);
        // The last of a repeated name counts, as in the whole file.
        assert_eq!(kept["zlib-1.3"], 7);
    }

    #[test]
    fn popularity_for_a_closure_reads_escaped_names() {
        // A name with an escape cannot be borrowed from the text.
        let text = r#"{"zlib-1\u002e3": 5, "curl-8.5": 1, "b\"ash": 2}"#;
        let kept = parse_popularity_for(text, &closure()).unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(kept["zlib-1.3"], 5);
    }

    #[test]
    fn a_checked_file_keeps_nothing_and_fails_as_the_whole_file_does() {
        assert_eq!(check_popularity(r#"{"zlib-1.3": 5}"#), Ok(()));
        for text in [r#"{"zlib-1.3": 5,"#, r#"{"zlib-1.3": -5}"#, "[]"] {
            assert_eq!(
                check_popularity(text).unwrap_err().to_string(),
                parse_popularity(text).unwrap_err().to_string()
            );
        }
    }

    #[test]
    fn popularity_for_a_closure_fails_as_the_whole_file_does() {
        for text in [
            r#"{"zlib-1.3": 5,"#,
            r#"{"bash-5.2": -1, "zlib-1.3": 5}"#,
            r#"{"zlib-1.3": 5} trailing"#,
            r#"[["zlib-1.3", 5]]"#,
            r#"{"zlib-1.3": 1.5}"#,
        ] {
            let whole = parse_popularity(text).unwrap_err();
            let kept = parse_popularity_for(text, &closure()).unwrap_err();
            assert_eq!(kept.to_string(), whole.to_string(), "{text}");
        }
    }
}
