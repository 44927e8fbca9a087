//! What the rest of the fleet tells `fleet` about this image's paths.
//!
//! `--fleet DIR` hands the planner the latest plan of every image a
//! registry (or a CI job building the whole fleet) holds. Read against this
//! closure, they say which paths other images hold (grouping those with
//! anything else makes a layer other images cannot use, so their bytes are
//! pulled once more) and which layers already exist whole in this closure
//! (reusing one costs nothing: clients have it). Paths are found as the
//! previous plan's are ([`PreviousPaths`]: exactly, then by name), so a
//! dependency rebuilt since another image was planned still counts as the
//! same path there.
//!
//! Everything here is independent of the order of the fleet's plans.

use std::collections::{HashMap, HashSet};

use super::previous::PreviousPaths;
use crate::graph::{Graph, NodeId};
use crate::store_path::StorePath;

/// The fleet's plans read against one closure.
pub struct FleetKnowledge {
    /// Per node, how many other images hold it.
    pub holder_counts: Vec<usize>,
    /// Per node, its holder class: paths held by exactly the same other
    /// images share a class (numbered from 1 in node order); 0 for paths
    /// no other image holds.
    pub classes: Vec<u32>,
    /// Layers of two or more paths of other images that lie whole in this
    /// closure, as sorted node ids, each once; largest first (ties by ids),
    /// so that of two overlapping layers the one saving more is reused.
    pub layers: Vec<Vec<NodeId>>,
}

impl FleetKnowledge {
    /// Reads `fleet` (other images' plans as layers of paths; a plan equal
    /// to `previous`, this image's own, is left out) against `graph`.
    pub fn new(
        graph: &Graph,
        lookup: &PreviousPaths<'_>,
        fleet: &[Vec<Vec<StorePath>>],
        previous: Option<&[Vec<StorePath>]>,
    ) -> FleetKnowledge {
        let own = previous.map(canonical);
        let mut others: Vec<&Vec<Vec<StorePath>>> = fleet
            .iter()
            .filter(|plan| own.as_ref() != Some(&canonical(plan)))
            .collect();
        // Canonical order, so that bit i of a holder set means the same
        // image whatever order the files came in.
        others.sort_by_cached_key(|plan| canonical(plan));
        let n = graph.len();
        let words = others.len().div_ceil(64).max(1);
        let mut holders = vec![0u64; n * words];
        let mut holder_counts = vec![0usize; n];
        let mut whole: HashSet<Vec<NodeId>> = HashSet::new();
        for (image, plan) in others.iter().enumerate() {
            for layer in plan.iter() {
                let mut ids: Vec<NodeId> = Vec::with_capacity(layer.len());
                for path in layer {
                    if let Some(id) = lookup.find(path) {
                        let (word, bit) = (id * words + image / 64, 1u64 << (image % 64));
                        if holders[word] & bit == 0 {
                            holders[word] |= bit;
                            holder_counts[id] += 1;
                        }
                        ids.push(id);
                    }
                }
                let complete = ids.len() == layer.len();
                ids.sort_unstable();
                ids.dedup();
                if complete && ids.len() >= 2 && ids.len() == layer.len() {
                    whole.insert(ids);
                }
            }
        }
        let bytes = |ids: &[NodeId]| -> u64 { ids.iter().map(|&id| graph.node(id).nar_size).sum() };
        let mut layers: Vec<Vec<NodeId>> = whole.into_iter().collect();
        layers.sort_by(|a, b| bytes(b).cmp(&bytes(a)).then(a.cmp(b)));
        let mut class_of: HashMap<&[u64], u32> = HashMap::new();
        let classes: Vec<u32> = holders
            .chunks(words)
            .enumerate()
            .map(|(id, set)| match holder_counts[id] {
                0 => 0,
                _ => {
                    let next = class_of.len() as u32 + 1;
                    *class_of.entry(set).or_insert(next)
                }
            })
            .collect();
        FleetKnowledge {
            holder_counts,
            classes,
            layers,
        }
    }
}

/// A plan as a sorted list of sorted layers: two plans with the same
/// layers compare equal whatever order they list them in.
fn canonical(plan: &[Vec<StorePath>]) -> Vec<Vec<&str>> {
    let mut layers: Vec<Vec<&str>> = plan
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut paths: Vec<&str> = l.iter().map(|p| p.as_str()).collect();
            paths.sort_unstable();
            paths
        })
        .collect();
    layers.sort_unstable();
    layers
}
