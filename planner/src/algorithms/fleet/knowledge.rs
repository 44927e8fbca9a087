//! What the rest of the fleet tells `fleet` about this image's paths.
//!
//! `--fleet DIR` hands the planner the latest plan of every image a
//! registry (or a CI job building the whole fleet) holds. Read against this
//! closure, they say which other images hold each path (its holders: the
//! paths held by the same images can be the identical layer in all of
//! them), which paths are alone in their layer elsewhere, and which layers
//! already exist whole in this closure (reusing one costs nothing: clients
//! have it). Paths are found as the previous plan's are ([`PreviousPaths`]:
//! exactly, then by name), so a dependency rebuilt since another image was
//! planned still counts as the same path there.
//!
//! Everything here is independent of the order of the fleet's plans.

use std::collections::HashMap;

use super::previous::PreviousPaths;
use crate::graph::{Graph, NodeId};
use crate::store_path::StorePath;

/// The fleet's plans read against one closure.
pub struct FleetKnowledge {
    /// Number of other images (this image's own previous plan left out).
    pub images: usize,
    /// Words per holder bitset.
    words: usize,
    /// Per node, `words` words: bit `i` set when other image `i` holds it.
    holders: Vec<u64>,
    /// Per node, how many other images hold it.
    pub holder_counts: Vec<usize>,
    /// Per node, how many other images have it alone in a layer.
    pub singleton_counts: Vec<usize>,
    /// Layers of two or more paths of other images that lie whole in this
    /// closure, as sorted node ids, with the number of images holding
    /// each; sorted by that number, then bytes (both descending), then ids.
    pub layers: Vec<(Vec<NodeId>, usize)>,
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
        // Canonical order, so that bit i means the same image whatever
        // order the files came in.
        others.sort_by_cached_key(|plan| canonical(plan));
        let n = graph.len();
        let images = others.len();
        let words = images.div_ceil(64).max(1);
        let mut holders = vec![0u64; n * words];
        let mut singleton_counts = vec![0usize; n];
        let mut whole: HashMap<Vec<NodeId>, usize> = HashMap::new();
        for (i, plan) in others.iter().enumerate() {
            for layer in plan.iter() {
                let mut ids: Vec<NodeId> = Vec::with_capacity(layer.len());
                let mut complete = true;
                for path in layer {
                    match lookup.find(path) {
                        Some(id) => {
                            holders[id * words + i / 64] |= 1 << (i % 64);
                            ids.push(id);
                        }
                        None => complete = false,
                    }
                }
                if layer.len() == 1 {
                    if let Some(&id) = ids.first() {
                        singleton_counts[id] += 1;
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                if complete && ids.len() >= 2 && ids.len() == layer.len() {
                    *whole.entry(ids).or_insert(0) += 1;
                }
            }
        }
        let holder_counts: Vec<usize> = (0..n)
            .map(|id| {
                holders[id * words..(id + 1) * words]
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum()
            })
            .collect();
        let bytes = |ids: &[NodeId]| -> u64 { ids.iter().map(|&id| graph.node(id).nar_size).sum() };
        let mut layers: Vec<(Vec<NodeId>, usize)> = whole.into_iter().collect();
        layers.sort_by(|(a, ca), (b, cb)| cb.cmp(ca).then(bytes(b).cmp(&bytes(a))).then(a.cmp(b)));
        FleetKnowledge {
            images,
            words,
            holders,
            holder_counts,
            singleton_counts,
            layers,
        }
    }

    /// True when no other image is known.
    pub fn is_empty(&self) -> bool {
        self.images == 0
    }

    /// The holder bitset of a node.
    pub fn holders(&self, id: NodeId) -> &[u64] {
        &self.holders[id * self.words..(id + 1) * self.words]
    }

    /// Words in a holder bitset.
    pub fn words(&self) -> usize {
        self.words
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
