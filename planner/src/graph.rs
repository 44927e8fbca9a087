//! The validated closure graph every algorithm works on.
//!
//! Nodes are store paths sorted by their bytes, so a node's index does not
//! depend on the order of the input (the order Nix's exportReferencesGraph
//! writes, too). References exclude self-references (a path referencing
//! itself is common and is not a cycle); the graph is checked to be acyclic.

use serde::{Deserialize, Serialize};

use std::ops::Range;

use crate::error::InputError;
use crate::join::{Join, Sequential};
use crate::nar_hash::NarHash;
use crate::store_path::StorePath;

/// Index of a node in a [`Graph`] (position in path order).
pub type NodeId = usize;

/// Paths [`Graph::reach_counts`] counts as bitsets rather than walking:
/// 1,024 (16 words a node, 8 MB on the Debian universe) walks an eighth
/// of what walking every closure would there; 2,048 walks a twelfth for
/// twice the memory.
pub const HUB_PATHS: usize = 1024;

/// One store path of the closure as the input described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathEntry {
    /// Absolute store path.
    pub path: String,
    /// Size of the path's NAR serialisation in bytes.
    pub nar_size: u64,
    /// The NAR hash, read from any form Nix prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nar_hash: Option<NarHash>,
    /// Closure size as the input reported it (not needed by the planner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure_size: Option<u64>,
    /// Referenced store paths (may include the path itself).
    pub references: Vec<String>,
}

/// One node: a store path with its size and references as node ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The store path.
    pub path: StorePath,
    /// NAR size in bytes.
    pub nar_size: u64,
    /// NAR hash, if the input had one.
    pub nar_hash: Option<NarHash>,
    /// Referenced nodes, sorted, without the node itself.
    pub references: Vec<NodeId>,
    /// Whether the input listed the path among its own references.
    pub self_reference: bool,
}

/// A validated, acyclic closure graph.
#[derive(Debug, Clone)]
pub struct Graph {
    store_dir: String,
    nodes: Vec<Node>,
    /// References of every node, flat: node `i`'s are
    /// `reference_ids[reference_starts[i]..reference_starts[i + 1]]`
    /// (the walks below read these, not the nodes' own vectors).
    reference_starts: Vec<u32>,
    reference_ids: Vec<u32>,
    /// Referrers of every node, flat and sorted, indexed like references.
    referrer_starts: Vec<u32>,
    referrer_ids: Vec<NodeId>,
    roots: Vec<NodeId>,
}

/// Paths reachable from every node, counted in one walk
/// ([`Graph::reach_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachCounts {
    /// Paths in each node's closure, itself included.
    pub closure: Vec<usize>,
    /// Paths depending on each node, directly or not, itself excluded.
    pub referrers: Vec<usize>,
}

impl Graph {
    /// Validates entries into a graph. `roots` are the exported roots when
    /// the input named them; otherwise the paths nothing else references.
    pub fn new(
        entries: Vec<PathEntry>,
        roots: Option<Vec<String>>,
        store_dir: &str,
    ) -> Result<Graph, InputError> {
        if !store_dir.starts_with('/') || (store_dir.len() > 1 && store_dir.ends_with('/')) {
            return Err(InputError::StoreDir {
                store_dir: store_dir.to_string(),
            });
        }
        let mut entries = entries;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut unique: Vec<PathEntry> = Vec::with_capacity(entries.len());
        let mut paths: Vec<StorePath> = Vec::with_capacity(entries.len());
        for mut entry in entries {
            entry.references.sort();
            entry.references.dedup();
            if let (Some(last), Some(last_path)) = (unique.last(), paths.last()) {
                if *last_path == entry.path {
                    if !same_data(last, &entry) {
                        return Err(InputError::DuplicatePath { path: entry.path });
                    }
                    continue;
                }
            }
            // The entry keeps an empty path: its string moves into the node.
            paths.push(StorePath::parse_owned(
                std::mem::take(&mut entry.path),
                store_dir,
            )?);
            unique.push(entry);
        }
        // `paths` is sorted and without repeats: a binary search is the
        // index (no hashing of 60,000 paths and their references).
        let find = |path: &str| paths.binary_search_by(|p| p.as_str().cmp(path)).ok();
        let mut resolved = Vec::with_capacity(unique.len());
        for (id, entry) in unique.iter().enumerate() {
            let mut references = Vec::with_capacity(entry.references.len());
            let mut self_reference = false;
            for reference in &entry.references {
                match find(reference) {
                    Some(r) if r == id => self_reference = true,
                    Some(r) => references.push(r),
                    None => {
                        StorePath::parse(reference, store_dir)?;
                        return Err(InputError::MissingReference {
                            from: paths[id].to_string(),
                            to: reference.clone(),
                        });
                    }
                }
            }
            references.sort_unstable();
            resolved.push((references, self_reference));
        }
        let mut roots_given = Vec::new();
        for root in roots.iter().flatten() {
            StorePath::parse(root, store_dir)?;
            roots_given
                .push(find(root).ok_or_else(|| InputError::MissingRoot { path: root.clone() })?);
        }
        let nodes: Vec<Node> = unique
            .into_iter()
            .zip(paths)
            .zip(resolved)
            .map(|((entry, path), (references, self_reference))| Node {
                path,
                nar_size: entry.nar_size,
                nar_hash: entry.nar_hash,
                references,
                self_reference,
            })
            .collect();
        let roots = roots.map(|_| {
            roots_given.sort_unstable();
            roots_given.dedup();
            roots_given
        });
        Graph::from_nodes(nodes, roots, store_dir)
    }

    /// The graph of `nodes` (sorted by path, references resolved, sorted
    /// and without the node itself) and `roots` (sorted, without repeats;
    /// `None`: the paths nothing references), checked to be acyclic.
    pub(crate) fn from_nodes(
        nodes: Vec<Node>,
        roots: Option<Vec<NodeId>>,
        store_dir: &str,
    ) -> Result<Graph, InputError> {
        debug_assert!(nodes.windows(2).all(|w| w[0].path < w[1].path));
        let (reference_starts, reference_ids) = flat_references(&nodes);
        let (referrer_starts, referrer_ids) = flat_referrers(&nodes, reference_ids.len());
        let roots = roots.unwrap_or_else(|| {
            (0..nodes.len())
                .filter(|&i| referrer_starts[i] == referrer_starts[i + 1])
                .collect()
        });
        let graph = Graph {
            store_dir: store_dir.to_string(),
            nodes,
            reference_starts,
            reference_ids,
            referrer_starts,
            referrer_ids,
            roots,
        };
        graph.check_acyclic()?;
        Ok(graph)
    }

    /// The store directory the paths live in.
    pub fn store_dir(&self) -> &str {
        &self.store_dir
    }

    /// Number of store paths.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the closure is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All nodes, in path order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// One node.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// The node's store path.
    pub fn path(&self, id: NodeId) -> &StorePath {
        &self.nodes[id].path
    }

    /// The node's name without store directory and hash (`hello-2.12.1`).
    pub fn name(&self, id: NodeId) -> &str {
        self.nodes[id].path.name()
    }

    /// The nodes that reference `id` (sorted).
    pub fn referrers(&self, id: NodeId) -> &[NodeId] {
        &self.referrer_ids[self.referrer_starts[id] as usize..self.referrer_starts[id + 1] as usize]
    }

    /// The nodes `id` references, as `u32` (sorted, without `id`): the
    /// flat form the graph walks use.
    pub(crate) fn references_u32(&self, id: NodeId) -> &[u32] {
        &self.reference_ids
            [self.reference_starts[id] as usize..self.reference_starts[id + 1] as usize]
    }

    /// The roots: the exported paths, or the paths nothing references.
    pub fn roots(&self) -> &[NodeId] {
        &self.roots
    }

    /// The node of a path, if the path is in the graph.
    pub fn find(&self, path: &str) -> Option<NodeId> {
        self.nodes
            .binary_search_by(|n| n.path.as_str().cmp(path))
            .ok()
    }

    /// Total NAR size of all paths.
    pub fn total_size(&self) -> u64 {
        self.nodes.iter().map(|n| n.nar_size).sum()
    }

    /// Nodes ordered so every node comes after all nodes referencing it
    /// (referrers first, dependencies last). Ties by node id.
    pub fn topological_order(&self) -> Vec<NodeId> {
        let mut pending: Vec<usize> = (0..self.len()).map(|id| self.referrers(id).len()).collect();
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<NodeId>> = (0..self.len())
            .filter(|&i| pending[i] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(std::cmp::Reverse(id)) = ready.pop() {
            order.push(id);
            for &r in &self.nodes[id].references {
                pending[r] -= 1;
                if pending[r] == 0 {
                    ready.push(std::cmp::Reverse(r));
                }
            }
        }
        order
    }

    /// Nodes ordered so every node comes after all nodes referencing it, in
    /// no promised order among the rest: [`Graph::topological_order`]
    /// without its heap, for walks that only need referrers first.
    pub fn referrers_first(&self) -> Vec<NodeId> {
        let mut pending: Vec<u32> = (0..self.len())
            .map(|id| self.referrer_starts[id + 1] - self.referrer_starts[id])
            .collect();
        let mut order: Vec<NodeId> = (0..self.len()).filter(|&id| pending[id] == 0).collect();
        let mut next = 0;
        while let Some(&id) = order.get(next) {
            next += 1;
            for &r in self.references_u32(id) {
                pending[r as usize] -= 1;
                if pending[r as usize] == 0 {
                    order.push(r as usize);
                }
            }
        }
        order
    }

    /// The closure of `starts` (the nodes themselves included), as a mask.
    pub fn closure_mask(&self, starts: &[NodeId]) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut todo: Vec<NodeId> = starts.to_vec();
        while let Some(id) = todo.pop() {
            if !std::mem::replace(&mut seen[id], true) {
                todo.extend(&self.nodes[id].references);
            }
        }
        seen
    }

    /// Closure size (own NAR size plus all dependencies') of every node.
    ///
    /// Sums over a DAG would count shared paths twice, so closures are
    /// walked, as [`Graph::reach_counts`] walks them: the most referenced
    /// paths apart, as a bitset per node, and only the rest walked.
    pub fn closure_sizes(&self) -> Vec<u64> {
        self.closure_sizes_with(&Sequential)
    }

    /// [`Graph::closure_sizes`], the walks in two halves at once when
    /// `join` runs jobs side by side (the same sizes either way).
    pub fn closure_sizes_with(&self, join: &dyn Join) -> Vec<u64> {
        self.closure_sizes_split(join, SPLIT_PATHS)
    }

    /// [`Graph::closure_sizes`], split in two from `split_paths` paths.
    fn closure_sizes_split(&self, join: &dyn Join, split_paths: usize) -> Vec<u64> {
        let hubs = self.hubs(HUB_PATHS);
        let hub_sizes: Vec<u64> = hubs
            .iter()
            .map(|&h| self.nodes[h as usize].nar_size)
            .collect();
        self.split_closures(&hubs).fold(
            join,
            split_paths,
            Vec::new,
            |sizes: &mut Vec<u64>, _, hub_row, members| {
                // Saturating: no closure holds 2^64 bytes of NARs.
                let mut size = members.iter().fold(0u64, |sum, &m| {
                    sum.saturating_add(self.nodes[m as usize].nar_size)
                });
                for_each_bit(hub_row, |bit| size = size.saturating_add(hub_sizes[bit]));
                sizes.push(size);
            },
            |mut first, second| {
                first.extend(second);
                first
            },
        )
    }

    /// Number of paths in every node's closure (itself included).
    pub fn closure_counts(&self) -> Vec<usize> {
        self.reach_counts().closure
    }

    /// Number of paths that depend on every node, directly or not (itself
    /// excluded): how much of this closure a change to it would rebuild.
    pub fn referrer_counts(&self) -> Vec<usize> {
        self.reach_counts().referrers
    }

    /// [`Graph::closure_counts`] and [`Graph::referrer_counts`] at once: a
    /// node's referrers are the closures it lies in.
    ///
    /// Walking every closure costs the sum of the closure sizes (4 million
    /// paths, 12 million references looked at, on the 63,666-path Debian
    /// universe), most of it spent again and again on the same base
    /// libraries. So the [`HUB_PATHS`] most referenced paths and their
    /// closures (a set closed downwards) are counted apart: the hubs each
    /// node reaches as a bitset, OR-ed up the graph in topological order
    /// (dependencies first), and only the rest of each closure is walked,
    /// along references between non-hubs (a walk that entered a hub could
    /// only reach hubs). On the universe that walks an eighth as much.
    pub fn reach_counts(&self) -> ReachCounts {
        self.reach_counts_with(&Sequential)
    }

    /// [`Graph::reach_counts`], the walks in two halves at once when
    /// `join` runs jobs side by side (the same counts either way).
    pub fn reach_counts_with(&self, join: &dyn Join) -> ReachCounts {
        self.reach_counts_split(HUB_PATHS, join, SPLIT_PATHS)
    }

    /// [`Graph::reach_counts`] with about `hub_paths` hubs, split in two
    /// from `split_paths` paths.
    fn reach_counts_split(
        &self,
        hub_paths: usize,
        join: &dyn Join,
        split_paths: usize,
    ) -> ReachCounts {
        let n = self.len();
        let hubs = self.hubs(hub_paths);
        /// One half's counts: its starts' closures, and how many of its
        /// closures hold each path and each hub.
        struct Half {
            closure: Vec<usize>,
            within: Vec<usize>,
            hub_within: Vec<usize>,
        }
        let mut all = self.split_closures(&hubs).fold(
            join,
            split_paths,
            || Half {
                closure: Vec::new(),
                within: vec![0; n],
                hub_within: vec![0; hubs.len()],
            },
            |half: &mut Half, _, hub_row, members| {
                let mut count = members.len();
                for_each_bit(hub_row, |bit| {
                    half.hub_within[bit] += 1;
                    count += 1;
                });
                for &m in members {
                    half.within[m as usize] += 1;
                }
                half.closure.push(count);
            },
            |mut first, second| {
                first.closure.extend(second.closure);
                add_to(&mut first.within, &second.within);
                add_to(&mut first.hub_within, &second.hub_within);
                first
            },
        );
        for (bit, &id) in hubs.iter().enumerate() {
            all.within[id as usize] = all.hub_within[bit];
        }
        let referrers = all.within.into_iter().map(|c| c - 1).collect();
        ReachCounts {
            closure: all.closure,
            referrers,
        }
    }

    /// Every node's closure in two parts ([`SplitClosures`]).
    pub(crate) fn split_closures(&self, hubs: &[u32]) -> SplitClosures {
        SplitClosures::new(self.len(), |id| self.references_u32(id), hubs)
    }

    /// Calls `visit(start, closure)` for every node in id order, with the
    /// node's closure (itself first, then in walk order).
    #[cfg(test)]
    fn walk_closures(&self, mut visit: impl FnMut(NodeId, &[u32])) {
        let mut seen = vec![u32::MAX; self.len()];
        let mut members: Vec<u32> = Vec::new();
        for start in 0..self.len() {
            let mark = start as u32;
            members.clear();
            members.push(mark);
            seen[start] = mark;
            let mut next = 0;
            while let Some(&id) = members.get(next) {
                next += 1;
                for &r in self.references_u32(id as usize) {
                    if seen[r as usize] != mark {
                        seen[r as usize] = mark;
                        members.push(r);
                    }
                }
            }
            visit(start, &members);
        }
    }

    /// About `count` paths, closed downwards ([`hubs`]).
    pub(crate) fn hubs(&self, count: usize) -> Vec<u32> {
        hubs(self.len(), |id| self.references_u32(id), count)
    }

    fn check_acyclic(&self) -> Result<(), InputError> {
        // Kahn's algorithm in any order: every node is taken iff acyclic.
        let mut pending: Vec<u32> = (0..self.len())
            .map(|id| self.referrer_starts[id + 1] - self.referrer_starts[id])
            .collect();
        let mut ready: Vec<u32> = (0..self.len() as u32)
            .filter(|&id| pending[id as usize] == 0)
            .collect();
        let mut taken = 0;
        while let Some(id) = ready.pop() {
            taken += 1;
            for &r in self.references_u32(id as usize) {
                pending[r as usize] -= 1;
                if pending[r as usize] == 0 {
                    ready.push(r);
                }
            }
        }
        if taken == self.len() {
            return Ok(());
        }
        // Find one cycle with an iterative DFS (0 new, 1 on stack, 2 done).
        let mut state = vec![0u8; self.len()];
        for start in 0..self.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack: Vec<(NodeId, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(&mut (id, ref mut next)) = stack.last_mut() {
                if let Some(&r) = self.nodes[id].references.get(*next) {
                    *next += 1;
                    match state[r] {
                        0 => {
                            state[r] = 1;
                            stack.push((r, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|&(n, _)| n == r).unwrap_or(0);
                            let mut cycle: Vec<String> = stack[from..]
                                .iter()
                                .map(|&(n, _)| self.nodes[n].path.to_string())
                                .collect();
                            cycle.push(self.nodes[r].path.to_string());
                            return Err(InputError::Cycle { cycle });
                        }
                        _ => {}
                    }
                } else {
                    state[id] = 2;
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}

/// About `count` paths of a DAG (`n` vertices, `references(v)`), closed
/// downwards: the vertices with the most referrers, each with its
/// closure, in that order (ties by index).
pub(crate) fn hubs<'a>(
    n: usize,
    references: impl Fn(usize) -> &'a [u32],
    count: usize,
) -> Vec<u32> {
    let mut referrers = vec![0u32; n];
    for v in 0..n {
        for &r in references(v) {
            referrers[r as usize] += 1;
        }
    }
    let mut by_referrers: Vec<u32> = (0..n as u32).collect();
    by_referrers.sort_unstable_by_key(|&v| (std::cmp::Reverse(referrers[v as usize]), v));
    let mut taken = vec![false; n];
    let mut hubs = Vec::new();
    let mut todo = Vec::new();
    for v in by_referrers {
        if hubs.len() >= count {
            break;
        }
        todo.push(v);
        while let Some(v) = todo.pop() {
            if !std::mem::replace(&mut taken[v as usize], true) {
                hubs.push(v);
                todo.extend_from_slice(references(v as usize));
            }
        }
    }
    hubs
}

/// Every vertex's closure in a DAG, in two parts: the hubs in it
/// ([`hubs`]: closed downwards; bit `i` of a hub row stands for `hubs[i]`)
/// and the other vertices (`members`, the start first unless it is a hub).
///
/// The hubs each vertex reaches are OR-ed up the graph in topological
/// order (dependencies first) when this is made; only the rest of each
/// closure is walked, along references between non-hubs (a walk that
/// entered a hub could only reach hubs). See [`Graph::reach_counts`] for
/// the figures.
pub(crate) struct SplitClosures {
    /// Per vertex, its hub bit or [`NO_HUB`].
    hub_bit: Vec<u32>,
    /// Words of a hub row.
    words: usize,
    /// The hub rows of all vertices, `words` each.
    reached: Vec<u64>,
    /// References between non-hubs, flat: vertex `v`'s are
    /// `targets[starts[v]..starts[v + 1]]`.
    starts: Vec<u32>,
    targets: Vec<u32>,
}

/// [`SplitClosures::hub_bit`] of a vertex that is no hub.
const NO_HUB: u32 = u32::MAX;

/// Fewest paths from which [`SplitClosures::fold`] walks in two halves: in
/// a fresh process, a second thread and its pages cost about what the
/// split saves on a 5,000-path closure.
pub(crate) const SPLIT_PATHS: usize = 4096;

impl SplitClosures {
    /// The hub rows of a DAG of `n` vertices and its references between
    /// non-hubs, ready to walk.
    pub(crate) fn new<'a>(n: usize, references: impl Fn(usize) -> &'a [u32], hubs: &[u32]) -> Self {
        let mut hub_bit = vec![NO_HUB; n];
        for (bit, &v) in hubs.iter().enumerate() {
            hub_bit[v as usize] = bit as u32;
        }
        // Dependencies first: Kahn's order over referrers, reversed.
        let mut pending = vec![0u32; n];
        for v in 0..n {
            for &r in references(v) {
                pending[r as usize] += 1;
            }
        }
        let mut order: Vec<u32> = (0..n as u32)
            .filter(|&v| pending[v as usize] == 0)
            .collect();
        let mut next = 0;
        while let Some(&v) = order.get(next) {
            next += 1;
            for &r in references(v as usize) {
                pending[r as usize] -= 1;
                if pending[r as usize] == 0 {
                    order.push(r);
                }
            }
        }
        let words = hubs.len().div_ceil(64).max(1);
        let mut reached = vec![0u64; n * words];
        for &v in order.iter().rev() {
            let v = v as usize;
            if hub_bit[v] != NO_HUB {
                let bit = hub_bit[v] as usize;
                reached[v * words + bit / 64] |= 1 << (bit % 64);
            }
            for &r in references(v) {
                let r = r as usize;
                for w in 0..words {
                    let bits = reached[r * words + w];
                    reached[v * words + w] |= bits;
                }
            }
        }
        let mut starts = Vec::with_capacity(n + 1);
        let mut targets: Vec<u32> = Vec::new();
        starts.push(0u32);
        for v in 0..n {
            if hub_bit[v] == NO_HUB {
                targets.extend(
                    references(v)
                        .iter()
                        .filter(|&&r| hub_bit[r as usize] == NO_HUB),
                );
            }
            starts.push(targets.len() as u32);
        }
        SplitClosures {
            hub_bit,
            words,
            reached,
            starts,
            targets,
        }
    }

    /// Calls `visit(start, hub_row, members)` for every start in `range`,
    /// in order.
    fn walk(&self, range: Range<usize>, mut visit: impl FnMut(usize, &[u64], &[u32])) {
        let words = self.words;
        let mut seen = vec![NO_HUB; self.hub_bit.len()];
        let mut members: Vec<u32> = Vec::new();
        for start in range {
            members.clear();
            if self.hub_bit[start] == NO_HUB {
                let mark = start as u32;
                members.push(mark);
                seen[start] = mark;
                let mut next = 0;
                while let Some(&v) = members.get(next) {
                    next += 1;
                    let v = v as usize;
                    let (from, to) = (self.starts[v] as usize, self.starts[v + 1] as usize);
                    for &r in &self.targets[from..to] {
                        if seen[r as usize] != mark {
                            seen[r as usize] = mark;
                            members.push(r);
                        }
                    }
                }
            }
            visit(
                start,
                &self.reached[start * words..(start + 1) * words],
                &members,
            );
        }
    }

    /// [`SplitClosures::walk`] over every vertex, folded into a state made
    /// by `init`; from `split_paths` vertices, when `join` runs jobs at
    /// once, the first and the second half of the vertices are walked side
    /// by side into a state each, and `combine(first, second)` makes one.
    pub(crate) fn fold<S: Send>(
        &self,
        join: &dyn Join,
        split_paths: usize,
        init: impl Fn() -> S + Sync,
        visit: impl Fn(&mut S, usize, &[u64], &[u32]) + Sync,
        combine: impl FnOnce(S, S) -> S,
    ) -> S {
        let n = self.hub_bit.len();
        let half = |range: Range<usize>| {
            let mut state = init();
            self.walk(range, |start, row, members| {
                visit(&mut state, start, row, members)
            });
            state
        };
        if !join.at_once() || n < split_paths.max(2) {
            return half(0..n);
        }
        let (first, second) = join.join(|| half(0..n / 2), || half(n / 2..n));
        combine(first, second)
    }
}

/// Adds `other` to `sums`, element by element.
fn add_to(sums: &mut [usize], other: &[usize]) {
    for (sum, &x) in sums.iter_mut().zip(other) {
        *sum += x;
    }
}

/// Calls `f` with the index of every set bit of `row`.
pub(crate) fn for_each_bit(row: &[u64], mut f: impl FnMut(usize)) {
    for (w, &word) in row.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            f(w * 64 + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

/// Every node's references in one vector, with each node's start.
fn flat_references(nodes: &[Node]) -> (Vec<u32>, Vec<u32>) {
    let mut starts = Vec::with_capacity(nodes.len() + 1);
    let mut ids = Vec::new();
    starts.push(0);
    for node in nodes {
        ids.extend(node.references.iter().map(|&r| r as u32));
        starts.push(ids.len() as u32);
    }
    (starts, ids)
}

/// Every node's referrers (sorted) in one vector, with each node's start.
fn flat_referrers(nodes: &[Node], edges: usize) -> (Vec<u32>, Vec<NodeId>) {
    let mut starts = vec![0u32; nodes.len() + 1];
    for node in nodes {
        for &r in &node.references {
            starts[r + 1] += 1;
        }
    }
    for i in 0..nodes.len() {
        starts[i + 1] += starts[i];
    }
    let mut fill: Vec<u32> = starts[..nodes.len()].to_vec();
    let mut ids = vec![0; edges];
    // Referrers in id order: each list comes out sorted.
    for (id, node) in nodes.iter().enumerate() {
        for &r in &node.references {
            ids[fill[r] as usize] = id;
            fill[r] += 1;
        }
    }
    (starts, ids)
}

fn same_data(a: &PathEntry, b: &PathEntry) -> bool {
    a.nar_size == b.nar_size
        && a.references == b.references
        && (a.nar_hash.is_none() || b.nar_hash.is_none() || a.nar_hash == b.nar_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::InTurn;
    use crate::testutil::{entry, path as p};

    #[test]
    fn self_reference_is_not_a_cycle_but_a_loop_is() {
        let (a, b) = (p("a"), p("b"));
        let g = Graph::new(
            vec![entry(&a, 1, &[&a, &b]), entry(&b, 2, &[&b])],
            None,
            "/nix/store",
        )
        .unwrap();
        assert_eq!(g.roots(), &[0]);
        assert!(g.node(0).self_reference);
        assert_eq!(g.node(0).references, vec![1]);
        let err = Graph::new(
            vec![entry(&a, 1, &[&b]), entry(&b, 2, &[&a])],
            None,
            "/nix/store",
        )
        .unwrap_err();
        match err {
            InputError::Cycle { cycle } => {
                assert_eq!(cycle.first(), cycle.last());
                assert!(cycle.contains(&a) && cycle.contains(&b));
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn reach_counts_are_the_walked_counts_whatever_the_hubs_and_orders_hold() {
        let g = crate::testutil::random_dag(300, 12345);
        let mut closure = Vec::new();
        let mut within = vec![0; g.len()];
        g.walk_closures(|_, members| {
            closure.push(members.len());
            members.iter().for_each(|&m| within[m as usize] += 1);
        });
        let referrers: Vec<usize> = within.iter().map(|c| c - 1).collect();
        let order = g.referrers_first();
        let mut position = vec![usize::MAX; g.len()];
        for (i, &id) in order.iter().enumerate() {
            position[id] = i;
        }
        assert!(position.iter().all(|&p| p != usize::MAX));
        for id in 0..g.len() {
            for &r in &g.node(id).references {
                assert!(position[id] < position[r], "{id} before {r}");
            }
        }
        for hubs in [0, 1, 7, 64, 65, 200, 300, 1000] {
            for (join, split) in [(&Sequential as &dyn Join, 0), (&InTurn, 0), (&InTurn, 299)] {
                let counts = g.reach_counts_split(hubs, join, split);
                assert_eq!(counts.closure, closure, "{hubs} hubs, split {split}");
                assert_eq!(counts.referrers, referrers, "{hubs} hubs, split {split}");
            }
        }
    }

    #[test]
    fn closure_sizes_do_not_double_count_diamonds() {
        let (a, b, c, d) = (p("a"), p("b"), p("c"), p("d"));
        let g = Graph::new(
            vec![
                entry(&a, 1, &[&b, &c]),
                entry(&b, 2, &[&d]),
                entry(&c, 4, &[&d]),
                entry(&d, 8, &[]),
            ],
            None,
            "/nix/store",
        )
        .unwrap();
        assert_eq!(g.closure_sizes(), vec![15, 10, 12, 8]);
        for split in [0, 3, 4] {
            assert_eq!(g.closure_sizes_split(&InTurn, split), vec![15, 10, 12, 8]);
        }
        assert_eq!(g.topological_order(), vec![0, 1, 2, 3]);
    }
}
