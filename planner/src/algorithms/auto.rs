//! `auto`: nixpkgs' size-first auto-layering, dockerTools' current default.
//!
//! Reproduces `pkgs/build-support/docker/auto-layer.py`. Every path is
//! labelled with the set of "primary" paths whose layer it belongs to; at the
//! start every label is empty (one layer). Primaries are taken largest
//! `narSize` first (ties: the later path in path order first, as Python's
//! stable sort then `pop()` gives). Taking primary `p`:
//!
//! - `p`'s label becomes `{p}`;
//! - for every dependency `d` of `p` (transitive, `p` excluded), the users of
//!   `p` (transitive referrers) are removed from `d`'s label, and `p` is added
//!   unless the label still holds one of `p`'s dependencies.
//!
//! Paths with equal labels form one layer. When taking a primary would give
//! more than `budget` layers, the previous labelling is kept and the loop
//! ends. Layers are ordered by closure size (the NAR size of the closure of
//! the layer's paths), ascending. Upstream breaks ties in that order by
//! Python's set iteration order (it varies from run to run); here ties go
//! by the layer's first path, so the output is deterministic.

use std::collections::HashMap;

use super::{Context, Layers};
use crate::error::PlanError;
use crate::graph::{Graph, NodeId};

/// Plans with auto-layer.py's algorithm, `budget` layers at most.
pub fn plan(ctx: &Context<'_>) -> Result<Layers, PlanError> {
    Ok(auto_layer(ctx.graph, ctx.budget.max(1)))
}

/// Interned labels (sets of primaries) with how many paths carry each.
struct Labels {
    ids: HashMap<Vec<NodeId>, usize>,
    sets: Vec<Vec<NodeId>>,
    counts: Vec<usize>,
    distinct: usize,
}

impl Labels {
    fn intern(&mut self, set: Vec<NodeId>) -> usize {
        if let Some(&id) = self.ids.get(&set) {
            return id;
        }
        let id = self.sets.len();
        self.ids.insert(set.clone(), id);
        self.sets.push(set);
        self.counts.push(0);
        id
    }

    fn add(&mut self, id: usize) {
        if self.counts[id] == 0 {
            self.distinct += 1;
        }
        self.counts[id] += 1;
    }

    fn remove(&mut self, id: usize) {
        self.counts[id] -= 1;
        if self.counts[id] == 0 {
            self.distinct -= 1;
        }
    }
}

/// auto-layer.py's `auto_layer` on the whole graph, nothing ignored.
pub fn auto_layer(graph: &Graph, layer_limit: usize) -> Layers {
    let n = graph.len();
    if n == 0 {
        return Vec::new();
    }
    let mut labels = Labels {
        ids: HashMap::new(),
        sets: Vec::new(),
        counts: Vec::new(),
        distinct: 0,
    };
    let empty = labels.intern(Vec::new());
    let mut label = vec![empty; n];
    for _ in 0..n {
        labels.add(empty);
    }

    // Largest first; among equal sizes the later path first.
    let mut by_size: Vec<NodeId> = (0..n).collect();
    by_size.sort_by(|&a, &b| {
        let (sa, sb) = (graph.node(a).nar_size, graph.node(b).nar_size);
        sb.cmp(&sa).then(b.cmp(&a))
    });

    let mut in_deps = vec![false; n];
    let mut in_users = vec![false; n];
    let mut deps = Vec::new();
    let mut users = Vec::new();
    let mut changes: Vec<(NodeId, usize)> = Vec::new();
    for primary in by_size {
        collect(graph, primary, true, &mut deps, &mut in_deps);
        collect(graph, primary, false, &mut users, &mut in_users);
        changes.clear();
        let own = labels.intern(vec![primary]);
        relabel(&mut label, &mut labels, &mut changes, primary, own);
        for &dep in &deps {
            let mut set: Vec<NodeId> = labels.sets[label[dep]]
                .iter()
                .copied()
                .filter(|&p| !in_users[p])
                .collect();
            if !set.iter().any(|&p| in_deps[p]) {
                if let Err(at) = set.binary_search(&primary) {
                    set.insert(at, primary);
                }
            }
            let new = labels.intern(set);
            relabel(&mut label, &mut labels, &mut changes, dep, new);
        }
        let over = labels.distinct > layer_limit;
        if over {
            for &(node, old) in changes.iter().rev() {
                labels.remove(label[node]);
                labels.add(old);
                label[node] = old;
            }
        }
        for &d in &deps {
            in_deps[d] = false;
        }
        for &u in &users {
            in_users[u] = false;
        }
        if over {
            break;
        }
    }

    // Group by label, order by the closure size of each group.
    let mut groups: HashMap<usize, Vec<NodeId>> = HashMap::new();
    for (node, &l) in label.iter().enumerate() {
        groups.entry(l).or_default().push(node);
    }
    let mut layers: Vec<(u64, Vec<NodeId>)> = groups
        .into_values()
        .map(|paths| {
            let mask = graph.closure_mask(&paths);
            let closure_size = (0..n)
                .filter(|&i| mask[i])
                .map(|i| graph.node(i).nar_size)
                .sum();
            (closure_size, paths)
        })
        .collect();
    layers.sort();
    layers.into_iter().map(|(_, paths)| paths).collect()
}

/// Gives `node` the label `new`, recording the old one for a rollback.
fn relabel(
    label: &mut [usize],
    labels: &mut Labels,
    changes: &mut Vec<(NodeId, usize)>,
    node: NodeId,
    new: usize,
) {
    let old = label[node];
    if old != new {
        changes.push((node, old));
        labels.remove(old);
        labels.add(new);
        label[node] = new;
    }
}

/// Transitive dependencies (`down`) or users (`!down`) of `start`, itself
/// excluded, into `out` with `mask` set for each.
fn collect(graph: &Graph, start: NodeId, down: bool, out: &mut Vec<NodeId>, mask: &mut [bool]) {
    out.clear();
    let next = |id: NodeId| -> &[NodeId] {
        if down {
            &graph.node(id).references
        } else {
            graph.referrers(id)
        }
    };
    let mut todo: Vec<NodeId> = next(start).to_vec();
    while let Some(id) = todo.pop() {
        if id != start && !mask[id] {
            mask[id] = true;
            out.push(id);
            todo.extend(next(id));
        }
    }
}
