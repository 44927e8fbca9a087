//! The plan format (version 1): what every part of Strata exchanges.
//!
//! ```json
//! {
//!   "version": 1,
//!   "algorithm": {"name": "auto", "budget": 99},
//!   "roots": ["/nix/store/...-hello-2.12.1"],
//!   "layers": [
//!     {"paths": ["/nix/store/...-glibc-2.39-52"], "size": 30720000,
//!      "narSizes": [30720000], "narHashes": ["sha256:..."]}
//!   ],
//!   "size": 30946560
//! }
//! ```
//!
//! Layers go bottom (most shared, most stable) to top; the paths of a layer
//! are sorted by their bytes; `narSizes` (and `narHashes`, when the input had
//! a hash for every path of the layer) run parallel to `paths`, so a plan
//! alone is enough to build, check and simulate. Every closure path is in
//! exactly one layer, except paths the options excluded; a layer taken whole
//! from a base image (`"base": true`) may hold paths outside the closure.

mod json;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::algorithms::Algorithm;
use crate::error::CheckError;
use crate::graph::Graph;
use crate::nar_hash::NarHash;
use crate::store_path::StorePath;

/// The plan format version this planner writes and reads.
pub const PLAN_VERSION: u32 = 1;

/// A layering plan for one closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// Always [`PLAN_VERSION`].
    pub version: u32,
    /// How the plan was made.
    pub algorithm: AlgorithmInfo,
    /// The closure's roots.
    pub roots: Vec<StorePath>,
    /// Layers, bottom to top.
    pub layers: Vec<Layer>,
    /// Total NAR size of all layers.
    pub size: u64,
}

/// The algorithm and options that made a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgorithmInfo {
    /// The algorithm.
    pub name: Algorithm,
    /// Most layers allowed for store paths.
    pub budget: usize,
    /// Paths pinned to a layer of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<StorePath>,
    /// Paths left out of the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<StorePath>,
    /// Whether a previous plan of the image was given.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub previous: bool,
    /// With the fleet known (`--fleet`), how many plans it held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<usize>,
}

/// One layer: a set of store paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
    /// Store paths, sorted.
    pub paths: Vec<StorePath>,
    /// Sum of the paths' NAR sizes.
    #[serde(default)]
    pub size: u64,
    /// NAR size of each path, parallel to `paths`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nar_sizes: Vec<u64>,
    /// NAR hash of each path, parallel to `paths`, when all are known;
    /// read in any form Nix prints, written as `sha256:<nix-base32>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nar_hashes: Vec<NarHash>,
    /// Taken whole from a base plan (`--base`), as dockerTools' `fromImage`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base: bool,
}

impl Layer {
    /// The layer's largest path by NAR size, the first in path order on
    /// ties (or when sizes are unknown): the one place this is decided, so
    /// the CLI's table, image history and the web UI name the same path.
    pub fn largest_path(&self) -> Option<&StorePath> {
        let size = |i: usize| self.nar_sizes.get(i).copied().unwrap_or(0);
        (0..self.paths.len())
            .max_by(|&a, &b| size(a).cmp(&size(b)).then(b.cmp(&a)))
            .map(|i| &self.paths[i])
    }
}

impl Plan {
    /// Reads a plan, checking the version before anything else so a newer
    /// plan gets a clear error.
    pub fn from_json(text: &str) -> Result<Plan, CheckError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| CheckError::Malformed {
                message: e.to_string(),
            })?;
        match value.get("version").map(|v| v.as_u64()) {
            Some(Some(v)) if v == u64::from(PLAN_VERSION) => {}
            Some(Some(v)) => {
                return Err(CheckError::Version {
                    found: v,
                    supported: PLAN_VERSION,
                })
            }
            Some(None) => {
                return Err(CheckError::Malformed {
                    message: "`version` must be an integer".to_string(),
                })
            }
            None => {
                return Err(CheckError::Malformed {
                    message: "missing field `version`".to_string(),
                })
            }
        }
        serde_json::from_value(value).map_err(|e| CheckError::Malformed {
            message: e.to_string(),
        })
    }

    /// The plan as pretty JSON with a final newline (the canonical bytes).
    pub fn to_json(&self) -> String {
        // Sized for the usual plan (a path, its size and its hash take
        // about 200 bytes pretty-printed), so a 13 MB plan is not copied
        // over and over as the buffer grows.
        let paths: usize = self.layers.iter().map(|l| l.paths.len()).sum();
        let mut bytes = Vec::with_capacity(4096 + paths * 224);
        self.write_json(&mut bytes)
            .expect("a plan always serialises");
        String::from_utf8(bytes).expect("serde_json writes UTF-8")
    }

    /// Writes [`Plan::to_json`]'s bytes to `out` as they are made (a
    /// large plan's text is never held whole).
    pub fn write_json(&self, mut out: impl std::io::Write) -> std::io::Result<()> {
        json::write_plan(self, &mut out)?;
        out.write_all(b"\n")
    }

    /// Number of layers.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }
}

/// Reads the layers of a plan given as `--base` or `--previous`: a full
/// plan, `{"layers": [{"paths": [...]}, ...]}` (what pullsim.py passes), or a
/// list of lists of paths.
pub fn read_layers(text: &str) -> Result<Vec<Layer>, CheckError> {
    #[derive(Deserialize)]
    struct Layers {
        layers: Vec<Layer>,
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| CheckError::Malformed {
            message: e.to_string(),
        })?;
    if let Some(v) = value.get("version").and_then(|v| v.as_u64()) {
        if v != u64::from(PLAN_VERSION) {
            return Err(CheckError::Version {
                found: v,
                supported: PLAN_VERSION,
            });
        }
    }
    let malformed = |e: serde_json::Error| CheckError::Malformed {
        message: e.to_string(),
    };
    match value {
        serde_json::Value::Object(_) if value.get("layers").is_some() => {
            Ok(serde_json::from_value::<Layers>(value)
                .map_err(malformed)?
                .layers)
        }
        serde_json::Value::Array(_) => Ok(serde_json::from_value::<Vec<Vec<StorePath>>>(value)
            .map_err(malformed)?
            .into_iter()
            .map(|paths| Layer {
                paths,
                ..Layer::default()
            })
            .collect()),
        _ => Err(CheckError::Malformed {
            message:
                "expected a plan, {\"layers\": [{\"paths\": [...]}]} or a list of lists of paths"
                    .to_string(),
        }),
    }
}

/// Checks a plan against the closure it claims to lay out: version, every
/// closure path (except the plan's excludes) in exactly one layer, no path
/// from outside (except in base layers), budget, sizes and hashes (each
/// path's `narSize` and `narHash` as the closure's, each layer's `size` the
/// sum of its paths', the plan's `size` the sum of its layers'), roots.
pub fn check_plan(plan: &Plan, graph: &Graph) -> Result<(), CheckError> {
    if plan.version != PLAN_VERSION {
        return Err(CheckError::Version {
            found: u64::from(plan.version),
            supported: PLAN_VERSION,
        });
    }
    if plan.layers.len() > plan.algorithm.budget {
        return Err(CheckError::OverBudget {
            layers: plan.layers.len(),
            budget: plan.algorithm.budget,
        });
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, layer) in plan.layers.iter().enumerate() {
        if layer.paths.is_empty() {
            return Err(CheckError::EmptyLayer { layer: i });
        }
        for (field, len) in [
            ("narSizes", layer.nar_sizes.len()),
            ("narHashes", layer.nar_hashes.len()),
        ] {
            if len != 0 && len != layer.paths.len() {
                return Err(CheckError::Shape {
                    layer: i,
                    field: field.to_string(),
                    found: len,
                    expected: layer.paths.len(),
                });
            }
        }
        let mut sum = 0u64;
        for (j, path) in layer.paths.iter().enumerate() {
            if let Some(first) = seen.insert(path, i) {
                return Err(CheckError::Duplicated {
                    path: path.to_string(),
                    first,
                    second: i,
                });
            }
            let Some(id) = graph.find(path) else {
                if layer.base {
                    sum = sum.saturating_add(layer.nar_sizes.get(j).copied().unwrap_or(0));
                    continue;
                }
                return Err(CheckError::Foreign {
                    layer: i,
                    path: path.to_string(),
                });
            };
            let node = graph.node(id);
            sum = sum.saturating_add(node.nar_size);
            if let Some(&size) = layer.nar_sizes.get(j) {
                if size != node.nar_size {
                    return Err(mismatch(
                        i,
                        path,
                        "narSize",
                        size.to_string(),
                        node.nar_size.to_string(),
                    ));
                }
            }
            if let (Some(found), Some(expected)) = (layer.nar_hashes.get(j), &node.nar_hash) {
                if found != expected {
                    return Err(mismatch(
                        i,
                        path,
                        "narHash",
                        found.to_string(),
                        expected.to_string(),
                    ));
                }
            }
        }
        if !(layer.base && layer.nar_sizes.is_empty()) && layer.size != sum {
            return Err(CheckError::LayerSize {
                layer: i,
                found: layer.size,
                expected: sum,
            });
        }
    }
    // Layer sizes are checked above (each against its paths' narSize), so
    // their sum is the one figure the plan's size can be.
    let sum = plan
        .layers
        .iter()
        .try_fold(0u64, |sum, l| sum.checked_add(l.size));
    if sum != Some(plan.size) {
        return Err(CheckError::PlanSize {
            found: plan.size,
            expected: sum,
        });
    }
    for node in graph.nodes() {
        if !seen.contains_key(node.path.as_str()) && !plan.algorithm.excludes.contains(&node.path) {
            return Err(CheckError::Uncovered {
                path: node.path.to_string(),
            });
        }
    }
    for &root in graph.roots() {
        if !plan.roots.contains(graph.path(root)) {
            return Err(CheckError::Root {
                path: graph.path(root).to_string(),
            });
        }
    }
    Ok(())
}

fn mismatch(layer: usize, path: &str, field: &str, found: String, expected: String) -> CheckError {
    CheckError::Mismatch {
        layer,
        path: path.to_string(),
        field: field.to_string(),
        found,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::{plan_closure, PlanOptions};
    use crate::input::parse_closure;

    const A: &str = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-hello-2.12";
    const B: &str = "/nix/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-glibc-2.39";

    /// A two-path closure and its plan with one layer per path.
    fn closure_and_plan() -> (Graph, Plan) {
        let text = serde_json::json!([
            {"path": A, "narSize": 10, "references": [B]},
            {"path": B, "narSize": 20, "references": []},
        ])
        .to_string();
        let graph = parse_closure(&text, "/nix/store").unwrap();
        let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
        assert_eq!(plan.layers.len(), 2);
        assert_eq!(plan.size, 30);
        check_plan(&plan, &graph).unwrap();
        (graph, plan)
    }

    /// The same store exported two ways: `exportReferencesGraph` writes
    /// `sha256:<nix-base32>`, `nix path-info --json` SRI base64.
    #[test]
    fn hashes_compare_by_value_across_encodings() {
        let nix32 = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
        let sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let hex = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let closure = |hash: &str| {
            let text = serde_json::json!([
                {"path": A, "narSize": 10, "narHash": hash, "references": [B]},
                {"path": B, "narSize": 20, "narHash": hash, "references": []},
            ])
            .to_string();
            parse_closure(&text, "/nix/store").unwrap()
        };
        let options = PlanOptions::new(Algorithm::Popularity, 2);
        let plans: Vec<Plan> = [nix32, sri, hex]
            .iter()
            .map(|h| plan_closure(&closure(h), &options).unwrap())
            .collect();
        // One canonical form in every plan, whatever the input had.
        assert!(plans.iter().all(|p| p == &plans[0]));
        assert!(plans[0].to_json().contains(nix32));
        for hash in [nix32, sri, hex] {
            check_plan(&plans[0], &closure(hash)).unwrap();
        }
        let other = "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s";
        let err = check_plan(&plans[0], &closure(other)).unwrap_err();
        assert!(
            matches!(&err, CheckError::Mismatch { field, .. } if field == "narHash"),
            "{err}"
        );
    }

    #[test]
    fn largest_path_breaks_ties_by_path_order() {
        let layer = |sizes: Vec<u64>| Layer {
            paths: vec![A.parse().unwrap(), B.parse().unwrap()],
            nar_sizes: sizes,
            ..Layer::default()
        };
        assert_eq!(layer(vec![1, 2]).largest_path().unwrap(), B);
        assert_eq!(layer(vec![2, 1]).largest_path().unwrap(), A);
        assert_eq!(layer(vec![2, 2]).largest_path().unwrap(), A);
        assert_eq!(layer(vec![]).largest_path().unwrap(), A);
        assert_eq!(Layer::default().largest_path(), None);
    }

    #[test]
    fn the_plan_size_must_be_the_sum_of_the_layer_sizes() {
        let (graph, mut plan) = closure_and_plan();
        plan.size = 31;
        let err = check_plan(&plan, &graph).unwrap_err();
        assert_eq!(
            err,
            CheckError::PlanSize {
                found: 31,
                expected: Some(30)
            }
        );
        assert!(err.to_string().contains("`size` is 31"), "{err}");
    }

    #[test]
    fn layer_sizes_must_sum_their_paths_and_match_the_closure() {
        let (graph, plan) = closure_and_plan();
        let mut wrong_layer = plan.clone();
        wrong_layer.layers[1].size += 1;
        wrong_layer.size += 1;
        assert!(matches!(
            check_plan(&wrong_layer, &graph),
            Err(CheckError::LayerSize { layer: 1, .. })
        ));
        // narSize and size agree with each other but not with the closure.
        let mut wrong_nar = plan.clone();
        wrong_nar.layers[0].nar_sizes[0] += 5;
        wrong_nar.layers[0].size += 5;
        wrong_nar.size += 5;
        let err = check_plan(&wrong_nar, &graph).unwrap_err();
        assert!(
            matches!(&err, CheckError::Mismatch { layer: 0, field, .. } if field == "narSize"),
            "{err}"
        );
    }

    #[test]
    fn sizes_beyond_u64_are_an_error_not_a_panic() {
        let (graph, mut plan) = closure_and_plan();
        for layer in &mut plan.layers {
            layer.base = true;
            layer.paths = vec![format!("{}-other", layer.paths[0]).parse().unwrap()];
            layer.nar_sizes = vec![u64::MAX];
            layer.size = u64::MAX;
        }
        plan.algorithm.excludes = vec![A.parse().unwrap(), B.parse().unwrap()];
        plan.roots.clear();
        let err = check_plan(&plan, &graph).unwrap_err();
        assert!(
            matches!(err, CheckError::PlanSize { expected: None, .. }),
            "{err}"
        );
    }
}
