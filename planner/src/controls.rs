//! User controls around any algorithm: pins, excludes, a base plan and the
//! previous plan; and turning an algorithm's node-id layers into a [`Plan`].
//!
//! Order of work: base layers (taken whole, as dockerTools' `fromImage`)
//! first, then one layer per pinned path, then the algorithm's layers with
//! the budget left over. The algorithm sees the whole graph, so its choices
//! do not depend on the controls; the paths covered by base, pins and
//! excludes are removed from its layers afterwards (empty layers dropped).

use serde::{Deserialize, Serialize};

use crate::algorithms::{Algorithm, Context, Popularity};
use crate::error::PlanError;
use crate::graph::{Graph, NodeId};
use crate::join::{Join, Sequential};
use crate::nar_hash::NarHash;
use crate::plan::{AlgorithmInfo, Layer, Plan, PLAN_VERSION};
use crate::store_path::StorePath;

/// Everything that shapes a plan besides the closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanOptions {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Most layers for store paths (base and pinned layers included).
    pub budget: usize,
    /// Nixery-style popularity of the package set.
    #[serde(default)]
    pub popularity: Option<Popularity>,
    /// A nixpkgs `layeringPipeline`, for the `pipeline` algorithm.
    #[serde(default)]
    pub pipeline: Option<serde_json::Value>,
    /// Paths that get a layer of their own.
    #[serde(default)]
    pub pins: Vec<String>,
    /// Paths left out of the image.
    #[serde(default)]
    pub excludes: Vec<String>,
    /// Layers of a base image, reused whole.
    #[serde(default)]
    pub base: Option<Vec<Layer>>,
    /// This image's layers at its previous revision.
    #[serde(default)]
    pub previous: Option<Vec<Layer>>,
    /// The latest plans of the other images of the fleet (this image's own
    /// previous plan may be among them), as `strata plan --fleet DIR`
    /// reads them: what a registry or a CI job building the fleet knows.
    /// `Some` (even empty: the first image of a new fleet) plans `fleet`
    /// knowing the fleet; `None` plans the image on its own.
    #[serde(default)]
    pub fleet: Option<Vec<Vec<Layer>>>,
}

impl PlanOptions {
    /// Options with just an algorithm and a budget.
    pub fn new(algorithm: Algorithm, budget: usize) -> PlanOptions {
        PlanOptions {
            algorithm,
            budget,
            popularity: None,
            pipeline: None,
            pins: Vec::new(),
            excludes: Vec::new(),
            base: None,
            previous: None,
            fleet: None,
        }
    }
}

/// Plans a closure: the algorithm with the user controls around it.
pub fn plan_closure(graph: &Graph, options: &PlanOptions) -> Result<Plan, PlanError> {
    plan_closure_with(graph, options, &Sequential)
}

/// [`plan_closure`], the closure walks of a large graph in two halves at
/// once when `join` runs jobs side by side (the same plan either way).
pub fn plan_closure_with(
    graph: &Graph,
    options: &PlanOptions,
    join: &dyn Join,
) -> Result<Plan, PlanError> {
    let budget = options.budget;
    if budget == 0 {
        return Err(PlanError::Budget {
            budget,
            reason: "at least one layer is needed".to_string(),
        });
    }
    let n = graph.len();
    // Who is already placed: base layers, pins, excludes.
    let mut placed = vec![false; n];
    let pins = resolve(graph, &options.pins, "--pin")?;
    let excludes = resolve(graph, &options.excludes, "--exclude")?;
    for &id in &excludes {
        if graph.roots().contains(&id) {
            return Err(PlanError::ExcludedRoot {
                path: graph.path(id).to_string(),
            });
        }
        if pins.contains(&id) {
            return Err(PlanError::PinnedAndExcluded {
                path: graph.path(id).to_string(),
            });
        }
        placed[id] = true;
    }
    let mut layers: Vec<Layer> = Vec::new();
    for base in options
        .base
        .iter()
        .flatten()
        .filter(|l| !l.paths.is_empty())
    {
        let mut layer = base.clone();
        layer.base = true;
        layer.paths.sort();
        layer.paths.dedup();
        let sizes: Vec<u64> = layer
            .paths
            .iter()
            .map(|p| match graph.find(p) {
                Some(id) => graph.node(id).nar_size,
                None => base
                    .paths
                    .iter()
                    .position(|q| q == p)
                    .and_then(|j| base.nar_sizes.get(j).copied())
                    .unwrap_or(0),
            })
            .collect();
        layer.size = sizes.iter().sum();
        layer.nar_sizes = sizes;
        layer.nar_hashes = Vec::new();
        for p in &layer.paths {
            if let Some(id) = graph.find(p) {
                placed[id] = true;
            }
        }
        layers.push(layer);
    }
    for &id in &pins {
        if !placed[id] {
            placed[id] = true;
            layers.push(layer_of(graph, vec![id]));
        }
    }
    let remaining = placed.iter().filter(|p| !**p).count();
    let left = budget.saturating_sub(layers.len());
    if remaining > 0 && left == 0 {
        return Err(PlanError::Budget {
            budget,
            reason: format!(
                "{} layers go to base and pinned paths, none is left for the other {remaining} paths",
                layers.len()
            ),
        });
    }
    if remaining > 0 {
        let previous: Option<Vec<Vec<StorePath>>> = options
            .previous
            .as_ref()
            .map(|ls| ls.iter().map(|l| l.paths.clone()).collect());
        let fleet: Option<Vec<Vec<Vec<StorePath>>>> = options.fleet.as_ref().map(|plans| {
            plans
                .iter()
                .map(|plan| plan.iter().map(|l| l.paths.clone()).collect())
                .collect()
        });
        let ctx = Context {
            graph,
            budget: left,
            popularity: options.popularity.as_ref(),
            pipeline: options.pipeline.as_ref(),
            previous: previous.as_deref(),
            fleet: fleet.as_deref(),
            join,
        };
        let planned = (options.algorithm.function())(&ctx)?;
        debug_assert!(
            is_partition(graph, &planned),
            "{} returned a non-partition",
            options.algorithm
        );
        for ids in planned {
            let ids: Vec<NodeId> = ids.into_iter().filter(|&id| !placed[id]).collect();
            if !ids.is_empty() {
                layers.push(layer_of(graph, ids));
            }
        }
        if layers.len() > budget {
            return Err(PlanError::Budget {
                budget,
                reason: format!("{} returned {} layers", options.algorithm, layers.len()),
            });
        }
    }
    let pin_paths: Vec<StorePath> = pins.iter().map(|&id| graph.path(id).clone()).collect();
    let exclude_paths: Vec<StorePath> = excludes.iter().map(|&id| graph.path(id).clone()).collect();
    Ok(Plan {
        version: PLAN_VERSION,
        algorithm: AlgorithmInfo {
            name: options.algorithm,
            budget,
            pins: pin_paths,
            excludes: exclude_paths,
            previous: options.previous.is_some(),
            fleet: options.fleet.as_ref().map(Vec::len),
        },
        roots: graph
            .roots()
            .iter()
            .map(|&id| graph.path(id).clone())
            .collect(),
        size: layers.iter().map(|l| l.size).sum(),
        layers,
    })
}

/// Node ids of the given paths, sorted and deduplicated.
fn resolve(graph: &Graph, paths: &[String], option: &str) -> Result<Vec<NodeId>, PlanError> {
    let mut ids = paths
        .iter()
        .map(|p| {
            graph.find(p).ok_or_else(|| PlanError::UnknownPath {
                option: option.to_string(),
                path: p.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A plan layer of the given nodes, paths sorted, sizes and hashes filled.
pub(crate) fn layer_of(graph: &Graph, mut ids: Vec<NodeId>) -> Layer {
    ids.sort_unstable();
    let nodes: Vec<_> = ids.iter().map(|&id| graph.node(id)).collect();
    let nar_hashes: Option<Vec<NarHash>> = nodes.iter().map(|n| n.nar_hash).collect();
    Layer {
        paths: nodes.iter().map(|n| n.path.clone()).collect(),
        size: nodes.iter().map(|n| n.nar_size).sum(),
        nar_sizes: nodes.iter().map(|n| n.nar_size).collect(),
        nar_hashes: nar_hashes.unwrap_or_default(),
        base: false,
    }
}

fn is_partition(graph: &Graph, layers: &[Vec<NodeId>]) -> bool {
    let mut count = vec![0u32; graph.len()];
    for &id in layers.iter().flatten() {
        if id >= graph.len() {
            return false;
        }
        count[id] += 1;
    }
    count.iter().all(|&c| c == 1) && layers.iter().all(|l| !l.is_empty())
}
