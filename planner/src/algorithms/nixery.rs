//! `nixery`: Nixery's dominator-tree grouping and its manifest order.
//!
//! Reproduces `GroupLayers` of tazjin/nixery `layers/layers.go` and the
//! layer order of `Manifest` in `manifest/manifest.go`, as of commit eaed7fd
//! (2025-09; the grouping is unchanged since 5ab9fc6, 2019-10, when it lived
//! in `server/layers/grouping.go`). Upstream has no tests of the grouping:
//! the example in the header of layers.go is a unit test here, and
//! `tests/golden/nixery/` holds upstream's own output on Debian closures.
//!
//! 1. Every path gets a popularity: [`ALWAYS_POPULAR`] if its name (the
//!    store path without directory and hash, upstream's `PackageFromPath`)
//!    starts with one of [`ALWAYS_POPULAR_PREFIXES`], whether popularity data
//!    was given or not; else its count in the popularity data when the name
//!    is there (a count of 0 included); else [`DEFAULT_POPULARITY`].
//! 2. A fake root gets an edge to every top-level path (the closure's roots)
//!    and to every path that is big (closure size above [`SIZE_THRESHOLD`])
//!    or popular (popularity at least [`POPULARITY_THRESHOLD`]).
//! 3. The dominator tree of that graph is computed. Each child of the fake
//!    root, with every path it dominates, is one candidate layer.
//! 4. A candidate's merge rating is the popularity of its top path times the
//!    sum of the closure sizes (not NAR sizes) of all its paths.
//! 5. Candidates are sorted by rating, lowest first. While there are more
//!    than `budget`, the first two merge into one that stays first (ratings
//!    add up; the list is not sorted again): the lowest-rated candidates all
//!    end up in the first layer.
//! 6. `Manifest` sorts the layers by rating, highest first; the manifest
//!    lists the bottom layer first, so that is our bottom-to-top order. The
//!    image's own layer (upstream's symlink layer, rating 0, hence last) is
//!    not ours to place: the image builder adds it on top.
//!
//! Upstream's order is not deterministic where ratings tie: the candidates
//! come out of a dominator tree built over Go maps, and both sorts are
//! `sort.Slice`, not stable (though the commit that added the manifest sort,
//! 1da6682, calls it stable). Here equal ratings in step 5 are ordered by the
//! top path's name, then by its whole path (so among equal candidates the
//! first by name is merged first), and the sort of step 6 is stable: equal
//! ratings keep the order of step 5 (the merged layer first, then by name).
//!
//! Where this differs from upstream, on purpose:
//!
//! - Closure sizes are computed from the graph (Nix's `closureSize`: the NAR
//!   sizes of the path and everything it references); upstream reads the
//!   `closureSize` field of `exportReferencesGraph`, which Nixery's own
//!   builds always carry.
//! - Ratings are `u128`: upstream's `uint64` product and sums wrap around
//!   above 1.8e19 (popularity 500,000 times 37 TB of summed closure sizes;
//!   not seen in practice). A candidate's rating fits (its top's closure
//!   size and popularity are `u64`, its other paths are under 100 MB each);
//!   sums of merged ratings saturate at `u128::MAX`.
//! - Names are taken after the configured store directory; upstream's
//!   `PackageFromPath` only strips `/nix/store/<hash>-`.
//! - A path no root reaches (only possible when the input names roots that
//!   do not cover the closure) is treated as top-level; upstream's dominator
//!   tree would leave it out of every layer.
//! - Upstream ratings of layers found in its storage-backend cache read back
//!   as 0 (`MergeRating` is not serialised), which reorders a manifest built
//!   from cached layers; this is the order of a fresh build.
//!
//! The dominator tree: the graph is acyclic, so visiting paths in
//! topological order (referrers first) gives each path its immediate
//! dominator in one pass, as the nearest common ancestor in the tree built
//! so far of all its referrers (Cooper, Harvey and Kennedy's `intersect`,
//! which needs no second iteration on a DAG). Common ancestors are found
//! with Myers' skew-binary jump pointers (one parent and one jump per path,
//! O(log depth) per query), so even deep dominator trees stay at
//! O(E log V).

use std::cmp::Reverse;

use rustc_hash::FxHashMap;

use super::{Context, Layers, Popularity};
use crate::error::PlanError;
use crate::graph::{Graph, NodeId};

/// A path whose closure size is above this (bytes) gets its own candidate
/// layer: `sizeThreshold = 100 * 1000000 // 100MB` in `bigOrPopular`
/// (layers/layers.go).
pub const SIZE_THRESHOLD: u64 = 100 * 1_000_000;

/// A path at least this popular gets its own candidate layer: `c.Popularity
/// >= 100` in `bigOrPopular` (layers/layers.go; "picked arbitrarily").
pub const POPULARITY_THRESHOLD: u64 = 100;

/// Name prefixes of paths Nixery adds to every image (`nss-cacert`,
/// `iana-etc`), given [`ALWAYS_POPULAR`] in `buildGraph` (layers/layers.go).
pub const ALWAYS_POPULAR_PREFIXES: [&str; 2] = ["nss-cacert", "iana-etc"];

/// Popularity of the paths named by [`ALWAYS_POPULAR_PREFIXES`]: `500000`
/// in `buildGraph` (layers/layers.go; "glibc has ~300k references, these
/// packages need *more*").
pub const ALWAYS_POPULAR: u64 = 500_000;

/// Popularity of a path missing from the popularity data (`buildGraph`,
/// layers/layers.go).
pub const DEFAULT_POPULARITY: u64 = 1;

/// Nixery's own budget for store-path layers: `LayerBudget` in
/// builder/builder.go (125 layers at most, some kept back; the symlink
/// layer comes on top).
pub const NIXERY_LAYER_BUDGET: usize = 94;

/// Plans with Nixery's grouping, `budget` layers at most.
pub fn plan(ctx: &Context<'_>) -> Result<Layers, PlanError> {
    let graph = ctx.graph;
    let n = graph.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let references = References::new(graph);
    let order = references.topological_order(graph);
    let closure_sizes = graph.closure_sizes_with(ctx.join);
    let popularity = popularities(graph, ctx.popularity);
    // Children of the fake root: the roots, big or popular paths, and paths
    // nothing references (roots already, unless the input named others).
    let mut top_level = vec![false; n];
    for &root in graph.roots() {
        top_level[root] = true;
    }
    for (id, top) in top_level.iter_mut().enumerate() {
        *top |= closure_sizes[id] > SIZE_THRESHOLD
            || popularity[id] >= POPULARITY_THRESHOLD
            || graph.referrers(id).is_empty();
    }
    let idom = immediate_dominators(graph, &order, &top_level);
    let candidates = Candidates::new(graph, &order, &idom, &closure_sizes, &popularity);
    Ok(candidates.merge(graph, ctx.budget.max(1)))
}

/// Upstream's popularity of every path (step 1 of the module docs).
fn popularities(graph: &Graph, data: Option<&Popularity>) -> Vec<u64> {
    // A hash map: looking 60,000 names up in a large `BTreeMap` of strings
    // takes about three times as long. Only looked up, never iterated. Fx
    // hashing: the whole package set's names are hashed even for a small
    // closure, several times faster than with std's SipHash.
    let counts: FxHashMap<&str, u64> = data
        .into_iter()
        .flatten()
        .map(|(name, &count)| (name.as_str(), count))
        .collect();
    (0..graph.len())
        .map(|id| {
            let name = graph.name(id);
            if ALWAYS_POPULAR_PREFIXES.iter().any(|p| name.starts_with(p)) {
                ALWAYS_POPULAR
            } else {
                counts.get(name).copied().unwrap_or(DEFAULT_POPULARITY)
            }
        })
        .collect()
}

/// The candidate layers: one per child of the fake root (its top path),
/// holding the top and every path it dominates.
struct Candidates {
    /// The top path of each candidate.
    tops: Vec<NodeId>,
    /// Merge rating of each: the top's popularity times the sum of the
    /// closure sizes of the candidate's paths.
    ratings: Vec<u128>,
    /// The paths of candidate `c` are `paths[starts[c]..starts[c + 1]]`,
    /// sorted.
    starts: Vec<usize>,
    paths: Vec<NodeId>,
}

impl Candidates {
    fn new(
        graph: &Graph,
        order: &[NodeId],
        idom: &[Dominator],
        closure_sizes: &[u64],
        popularity: &[u64],
    ) -> Candidates {
        let n = graph.len();
        // The candidate of each path; an idom comes before the paths it
        // dominates in topological order, so its candidate is known.
        let mut candidate_of = vec![usize::MAX; n];
        let mut tops = Vec::new();
        let mut ratings: Vec<u128> = Vec::new();
        for &id in order {
            let c = match idom[id] {
                Dominator::Root => {
                    tops.push(id);
                    ratings.push(0);
                    tops.len() - 1
                }
                Dominator::Path(d) => candidate_of[d],
            };
            candidate_of[id] = c;
            // A sum of fewer than 2^64 u64 values: no overflow in u128.
            ratings[c] += u128::from(closure_sizes[id]);
        }
        for (rating, &top) in ratings.iter_mut().zip(&tops) {
            // Upstream's uint64 product wraps; see the module docs.
            *rating = rating.saturating_mul(u128::from(popularity[top]));
        }
        // Paths grouped by candidate, each group in id order.
        let mut starts = vec![0; tops.len() + 1];
        for &c in &candidate_of {
            starts[c + 1] += 1;
        }
        for c in 0..tops.len() {
            starts[c + 1] += starts[c];
        }
        let mut next = starts.clone();
        let mut paths = vec![0; n];
        for (id, &c) in candidate_of.iter().enumerate() {
            paths[next[c]] = id;
            next[c] += 1;
        }
        Candidates {
            tops,
            ratings,
            starts,
            paths,
        }
    }

    fn paths_of(&self, c: usize) -> &[NodeId] {
        &self.paths[self.starts[c]..self.starts[c + 1]]
    }

    /// Upstream's `dominate`, then its `Manifest` order: the candidates by
    /// rating, lowest first, ties by the top path's name, then its path;
    /// the lowest merged into one until `budget` remain (upstream merges
    /// `layers[0]` into `layers[1]` and drops `layers[0]`, so the first
    /// `extra + 1` become one, ratings summed); then a stable sort by
    /// rating, highest first (bottom layer first).
    fn merge(&self, graph: &Graph, budget: usize) -> Layers {
        // (rating, candidate) pairs, so comparisons find the rating in place.
        let mut ascending: Vec<(u128, usize)> = self.ratings.iter().copied().zip(0..).collect();
        ascending.sort_unstable_by(|&(rating_a, a), &(rating_b, b)| {
            let (top_a, top_b) = (self.tops[a], self.tops[b]);
            rating_a
                .cmp(&rating_b)
                .then_with(|| graph.name(top_a).cmp(graph.name(top_b)))
                .then_with(|| top_a.cmp(&top_b))
        });
        let extra = ascending.len().saturating_sub(budget);
        let mut layers: Vec<(u128, Vec<NodeId>)> = Vec::with_capacity(budget.min(ascending.len()));
        let mut rest = &ascending[..];
        if extra > 0 {
            let merged = &ascending[..=extra];
            rest = &ascending[extra + 1..];
            let rating = merged
                .iter()
                .fold(0u128, |sum, &(rating, _)| sum.saturating_add(rating));
            let mut paths: Vec<NodeId> = merged
                .iter()
                .flat_map(|&(_, c)| self.paths_of(c).iter().copied())
                .collect();
            paths.sort_unstable();
            layers.push((rating, paths));
        }
        layers.extend(
            rest.iter()
                .map(|&(rating, c)| (rating, self.paths_of(c).to_vec())),
        );
        layers.sort_by_key(|&(rating, _)| Reverse(rating));
        layers.into_iter().map(|(_, paths)| paths).collect()
    }
}

/// A path's immediate dominator in the graph with the fake root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dominator {
    /// The fake root: the path heads a candidate layer.
    Root,
    /// Another path.
    Path(NodeId),
}

/// Immediate dominators below a fake root with edges to the `top_level`
/// paths. `order` is a topological order (referrers first); each path
/// nothing references must be top-level, so every path is reachable.
fn immediate_dominators(graph: &Graph, order: &[NodeId], top_level: &[bool]) -> Vec<Dominator> {
    let n = graph.len();
    // Tree nodes: paths 0..n, the fake root n.
    let root = n;
    let mut tree = DominatorTree::new(n + 1, root);
    let mut idom = vec![Dominator::Root; n];
    for &id in order {
        let parent = if top_level[id] {
            root
        } else {
            let (&first, rest) = graph
                .referrers(id)
                .split_first()
                .expect("a path nothing references is top-level");
            let mut common = first;
            for &r in rest {
                if common == root {
                    break;
                }
                common = tree.common_ancestor(common, r);
            }
            common
        };
        tree.attach(id, parent);
        if parent != root {
            idom[id] = Dominator::Path(parent);
        }
    }
    idom
}

/// A tree grown leaf by leaf, with Myers' skew-binary jump pointers for
/// nearest-common-ancestor queries in O(log depth). A node's jump target
/// depends only on its depth, so two nodes at the same depth jump to the
/// same depth.
struct DominatorTree {
    parent: Vec<usize>,
    jump: Vec<usize>,
    depth: Vec<usize>,
}

impl DominatorTree {
    /// A tree of up to `len` nodes holding only `root`.
    fn new(len: usize, root: usize) -> DominatorTree {
        DominatorTree {
            parent: vec![root; len],
            jump: vec![root; len],
            depth: vec![0; len],
        }
    }

    /// Adds `node` as a child of `parent`, which must be in the tree.
    fn attach(&mut self, node: usize, parent: usize) {
        let j = self.jump[parent];
        let (dp, dj, djj) = (self.depth[parent], self.depth[j], self.depth[self.jump[j]]);
        self.parent[node] = parent;
        self.depth[node] = dp + 1;
        self.jump[node] = if dp - dj == dj - djj {
            self.jump[j]
        } else {
            parent
        };
    }

    /// The deepest node that is an ancestor of both (a node is its own).
    fn common_ancestor(&self, mut a: usize, mut b: usize) -> usize {
        if self.depth[a] < self.depth[b] {
            std::mem::swap(&mut a, &mut b);
        }
        let depth = self.depth[b];
        while self.depth[a] > depth {
            a = if self.depth[self.jump[a]] >= depth {
                self.jump[a]
            } else {
                self.parent[a]
            };
        }
        while a != b {
            if self.jump[a] != self.jump[b] {
                a = self.jump[a];
                b = self.jump[b];
            } else {
                a = self.parent[a];
                b = self.parent[b];
            }
        }
        a
    }
}

/// The references of every path in one array (the graph keeps a vector per
/// path, scattered in memory): `targets[offsets[id]..offsets[id + 1]]`.
struct References {
    offsets: Vec<usize>,
    targets: Vec<NodeId>,
}

impl References {
    fn new(graph: &Graph) -> References {
        let mut offsets = Vec::with_capacity(graph.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for node in graph.nodes() {
            targets.extend_from_slice(&node.references);
            offsets.push(targets.len());
        }
        References { offsets, targets }
    }

    fn of(&self, id: NodeId) -> &[NodeId] {
        &self.targets[self.offsets[id]..self.offsets[id + 1]]
    }

    /// A topological order, referrers first: Kahn's algorithm with a stack
    /// (starting from the lowest id), so a path tends to come soon after
    /// its referrers and near paths with much the same closure. Any
    /// topological order gives the same dominators; this one is cheaper
    /// than [`Graph::topological_order`]'s heap.
    fn topological_order(&self, graph: &Graph) -> Vec<NodeId> {
        let n = graph.len();
        let mut pending: Vec<usize> = (0..n).map(|id| graph.referrers(id).len()).collect();
        let mut ready: Vec<NodeId> = (0..n).rev().filter(|&id| pending[id] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(id) = ready.pop() {
            order.push(id);
            for &r in self.of(id) {
                pending[r] -= 1;
                if pending[r] == 0 {
                    ready.push(r);
                }
            }
        }
        debug_assert_eq!(order.len(), n, "the graph is acyclic");
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::PathEntry;
    use crate::nixbase32;

    const MB: u64 = 1_000_000;

    /// A valid store path whose hash is derived from the name, so path
    /// order differs from name order.
    fn path(name: &str) -> String {
        let alphabet = nixbase32::ALPHABET;
        let mut state = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }) | 1;
        let hash: String = (0..32)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % 32) as usize] as char
            })
            .collect();
        format!("/nix/store/{hash}-{name}")
    }

    /// `(name, nar size, references)`; roots as given, or the paths nothing
    /// references when `None`.
    fn graph(entries: &[(&str, u64, &[&str])], roots: Option<&[&str]>) -> Graph {
        let entries = entries
            .iter()
            .map(|(name, size, refs)| PathEntry {
                path: path(name),
                nar_size: *size,
                nar_hash: None,
                closure_size: None,
                references: refs.iter().map(|r| path(r)).collect(),
            })
            .collect();
        let roots = roots.map(|r| r.iter().map(|n| path(n)).collect());
        Graph::new(entries, roots, "/nix/store").unwrap()
    }

    fn popularity(counts: &[(&str, u64)]) -> Popularity {
        counts.iter().map(|(n, c)| (n.to_string(), *c)).collect()
    }

    /// The layers as names, bottom to top, each layer's names sorted.
    fn layers<'g>(graph: &'g Graph, budget: usize, pop: Option<&Popularity>) -> Vec<Vec<&'g str>> {
        let ctx = Context {
            graph,
            budget,
            popularity: pop,
            pipeline: None,
            previous: None,
            fleet: None,
            join: &crate::join::Sequential,
        };
        plan(&ctx)
            .unwrap()
            .into_iter()
            .map(|ids| {
                let mut names: Vec<&str> = ids.iter().map(|&id| graph.name(id)).collect();
                names.sort_unstable();
                names
            })
            .collect()
    }

    /// The tree drawn in the header of tazjin/nixery layers/layers.go:
    /// img -> A, B, C, D; A, B, C -> E; C -> D; D -> F, G; "G is above the
    /// threshold size and E is popular". Upstream gives no sizes or
    /// popularities; these make its results come out (ratings in MB: A 2,
    /// B 3, C 163, {D, F} 171, E 1000, G 1500). Upstream's results, in
    /// manifest order (= bottom to top):
    ///
    /// - budget 1: { A, B, C, D, E, F, G }
    /// - budget 2: { G }, { A, B, C, D, E, F }
    /// - budget 3: { G }, { E }, { A, B, C, D, F }
    /// - budget 4: { G }, { E }, { D, F }, { A, B, C }
    /// - budget 10: { E }, { D, F }, { A }, { B }, { C } (upstream's text
    ///   leaves out { G } and does not order A, B, C by rating)
    fn layers_go_header_graph() -> (Graph, Popularity) {
        let g = graph(
            &[
                ("A", MB, &["E"]),
                ("B", 2 * MB, &["E"]),
                ("C", MB, &["E", "D"]),
                ("D", MB, &["F", "G"]),
                ("E", MB, &[]),
                ("F", 10 * MB, &[]),
                ("G", 150 * MB, &[]),
            ],
            Some(&["A", "B", "C", "D"]),
        );
        (g, popularity(&[("E", 1000), ("G", 10)]))
    }

    #[test]
    fn layers_go_header_example() {
        let (g, pop) = layers_go_header_graph();
        let at = |budget| layers(&g, budget, Some(&pop));
        assert_eq!(at(1), [vec!["A", "B", "C", "D", "E", "F", "G"]]);
        assert_eq!(at(2), [vec!["G"], vec!["A", "B", "C", "D", "E", "F"]]);
        assert_eq!(at(3), [vec!["G"], vec!["E"], vec!["A", "B", "C", "D", "F"]]);
        assert_eq!(
            at(4),
            [vec!["G"], vec!["E"], vec!["D", "F"], vec!["A", "B", "C"]]
        );
        // Not in upstream's text: the two lowest merge first.
        assert_eq!(
            at(5),
            [
                vec!["G"],
                vec!["E"],
                vec!["D", "F"],
                vec!["C"],
                vec!["A", "B"]
            ]
        );
        let all = [
            vec!["G"],
            vec!["E"],
            vec!["D", "F"],
            vec!["C"],
            vec!["B"],
            vec!["A"],
        ];
        assert_eq!(at(6), all);
        assert_eq!(at(10), all);
        assert_eq!(at(NIXERY_LAYER_BUDGET), all);
    }

    /// The same example's dominator tree, as drawn in layers.go: the fake
    /// root dominates A, B, C, D, E and G; D dominates F.
    #[test]
    fn layers_go_header_dominator_tree() {
        let (g, pop) = layers_go_header_graph();
        let id = |n: &str| g.find(&path(n)).unwrap();
        let references = References::new(&g);
        let order = references.topological_order(&g);
        let sizes = g.closure_sizes();
        assert_eq!(sizes[id("C")], 163 * MB);
        let mut top_level = vec![false; g.len()];
        for name in ["A", "B", "C", "D", "E", "G"] {
            top_level[id(name)] = true;
        }
        let popularity = popularities(&g, Some(&pop));
        for (i, top) in top_level.iter().enumerate() {
            let popular = popularity[i] >= POPULARITY_THRESHOLD;
            let expected = g.roots().contains(&i) || sizes[i] > SIZE_THRESHOLD || popular;
            assert_eq!(*top, expected, "{}", g.name(i));
        }
        let idom = immediate_dominators(&g, &order, &top_level);
        for name in ["A", "B", "C", "D", "E", "G"] {
            assert_eq!(idom[id(name)], Dominator::Root, "{name}");
        }
        assert_eq!(idom[id("F")], Dominator::Path(id("D")));
    }

    /// layers.go's `buildGraph`: `nss-cacert*` and `iana-etc*` get
    /// popularity 500000 even without popularity data; nothing else is
    /// popular then.
    #[test]
    fn cacert_and_iana_etc_are_popular_without_data() {
        let g = graph(
            &[
                (
                    "hello-2.12",
                    MB,
                    &["glibc-2.39", "nss-cacert-3.98", "iana-etc-20240318"],
                ),
                ("glibc-2.39", 30 * MB, &[]),
                ("nss-cacert-3.98", MB / 2, &[]),
                ("iana-etc-20240318", MB / 4, &[]),
            ],
            None,
        );
        assert_eq!(
            layers(&g, 10, None),
            [
                vec!["nss-cacert-3.98"],   // 500000 x 0.5 MB
                vec!["iana-etc-20240318"], // 500000 x 0.25 MB
                vec!["glibc-2.39", "hello-2.12"],
            ]
        );
        // The same with data that has glibc: now glibc is popular too.
        let pop = popularity(&[("glibc-2.39", 300_000), ("nss-cacert-3.98", 1)]);
        assert_eq!(
            layers(&g, 10, Some(&pop)),
            [
                vec!["glibc-2.39"],      // 300000 x 30 MB
                vec!["nss-cacert-3.98"], // the data cannot lower it
                vec!["iana-etc-20240318"],
                vec!["hello-2.12"],
            ]
        );
    }

    /// `c.Popularity >= 100` (layers.go `bigOrPopular`): 100 splits a path
    /// out with what it alone references, 99 does not. Popularity is keyed
    /// by the name without store directory and hash.
    #[test]
    fn popular_paths_head_their_own_layer() {
        let g = graph(
            &[
                ("app-1.0", MB, &["libfoo-1.2", "libbar-3.4"]),
                ("libfoo-1.2", MB, &["libfoo-data-1.2"]),
                ("libfoo-data-1.2", MB, &[]),
                ("libbar-3.4", MB, &[]),
            ],
            None,
        );
        let split = popularity(&[("libfoo-1.2", 100), ("libbar-3.4", 99)]);
        assert_eq!(
            layers(&g, 10, Some(&split)),
            [
                vec!["libfoo-1.2", "libfoo-data-1.2"], // 100 x (2 + 1) MB
                vec!["app-1.0", "libbar-3.4"],         // 1 x (4 + 1) MB
            ]
        );
        let whole = popularity(&[("libfoo-1.2", 99)]);
        assert_eq!(layers(&g, 10, Some(&whole)).len(), 1);
        // Keys with a hash or a store directory match nothing.
        let hashed = popularity(&[(&path("libfoo-1.2")[11..], 1000)]);
        assert_eq!(layers(&g, 10, Some(&hashed)).len(), 1);
    }

    /// `c.Size > sizeThreshold` with `sizeThreshold = 100 * 1000000`
    /// (layers.go `bigOrPopular`), on the closure size: above 100 MB
    /// splits, exactly 100 MB does not.
    #[test]
    fn big_closures_head_their_own_layer() {
        let at = |lib_size: u64| {
            let g = graph(
                &[
                    ("app", MB, &["runtime"]),
                    ("runtime", MB, &["blob"]),
                    ("blob", lib_size - MB, &[]),
                ],
                None,
            );
            layers(&g, 10, None)
                .into_iter()
                .map(|l| l.join(" "))
                .collect::<Vec<_>>()
        };
        assert_eq!(at(SIZE_THRESHOLD), ["app blob runtime"]);
        // runtime (and blob, below it) is big; blob alone is not.
        assert_eq!(at(SIZE_THRESHOLD + 1), ["blob runtime", "app"]);
    }

    /// A path two top-level paths share is dominated by the fake root only.
    #[test]
    fn shared_paths_head_their_own_layer() {
        let g = graph(
            &[
                ("x", 3 * MB, &["shared"]),
                ("y", 2 * MB, &["shared", "y-only"]),
                ("shared", MB, &[]),
                ("y-only", MB, &[]),
            ],
            None,
        );
        // Ratings (MB): {y, y-only} 4 + 1, {x} 4, {shared} 1.
        assert_eq!(
            layers(&g, 10, None),
            [vec!["y", "y-only"], vec!["x"], vec!["shared"]]
        );
    }

    /// Four top-level paths with ratings 5, 6, 7 and 10: layers.go's
    /// `dominate` merges the lowest into the next until the budget is met
    /// and does not sort again; `Manifest` then orders by the summed
    /// ratings, highest first.
    fn four_ratings() -> Graph {
        graph(
            &[
                ("five", 5 * MB, &[]),
                ("six", 6 * MB, &[]),
                ("seven", 7 * MB, &[]),
                ("ten", 10 * MB, &[]),
            ],
            None,
        )
    }

    #[test]
    fn merges_down_to_budget() {
        let g = four_ratings();
        assert_eq!(layers(&g, 1, None), [vec!["five", "seven", "six", "ten"]]);
        // 5 + 6 + 7 = 18 outranks 10.
        assert_eq!(
            layers(&g, 2, None),
            [vec!["five", "seven", "six"], vec!["ten"]]
        );
        // 5 + 6 = 11 outranks 10 and 7.
        assert_eq!(
            layers(&g, 3, None),
            [vec!["five", "six"], vec!["ten"], vec!["seven"]]
        );
        assert_eq!(
            layers(&g, 4, None),
            [vec!["ten"], vec!["seven"], vec!["six"], vec!["five"]]
        );
        // A budget of 0 is treated as 1.
        assert_eq!(layers(&g, 0, None).len(), 1);
    }

    /// Equal ratings: by name (not path, which starts with the hash) when
    /// merging, and a stable order in the manifest sort.
    #[test]
    fn ties_go_by_name() {
        let g = graph(
            &[
                ("b", MB, &[]),
                ("a", MB, &[]),
                ("c", MB, &[]),
                ("d", 2 * MB, &[]),
            ],
            None,
        );
        // Path order is not name order here, or the test proves nothing.
        let by_path: Vec<&str> = (0..g.len()).map(|i| g.name(i)).collect();
        assert_ne!(by_path, ["a", "b", "c", "d"]);
        assert_eq!(
            layers(&g, 4, None),
            [vec!["d"], vec!["a"], vec!["b"], vec!["c"]]
        );
        // a and b merge (rating 2), first among equals with d.
        assert_eq!(layers(&g, 3, None), [vec!["a", "b"], vec!["d"], vec!["c"]]);
    }

    /// A popularity of 0 in the data is used as given (rating 0).
    #[test]
    fn zero_popularity_rates_zero() {
        let g = four_ratings();
        let pop = popularity(&[("ten", 0)]);
        assert_eq!(
            layers(&g, 3, Some(&pop)),
            [vec!["seven"], vec!["six"], vec!["five", "ten"]]
        );
    }

    /// Ratings beyond u64 (upstream's `uint64` would wrap) are exact; sums
    /// of merged ratings saturate at u128.
    #[test]
    fn huge_ratings_do_not_wrap() {
        let big = u64::MAX / 4;
        let g = graph(
            &[
                ("nss-cacert-1", big, &[]),
                ("iana-etc-1", big - 1, &[]),
                ("small", 1, &[]),
            ],
            None,
        );
        // 500000 x 4.6e18: wraps in uint64, not in u128.
        assert_eq!(
            layers(&g, 3, None),
            [vec!["nss-cacert-1"], vec!["iana-etc-1"], vec!["small"]]
        );
        // One candidate stays below u128 (its paths other than the top are
        // neither big nor popular); three rated about 2^128 merge to more.
        let g = graph(
            &[
                ("t1", u64::MAX - 1, &[]),
                ("t2", u64::MAX - 1, &[]),
                ("t3", u64::MAX - 1, &[]),
                ("small", 1, &[]),
            ],
            None,
        );
        let pop = popularity(&[("t1", u64::MAX), ("t2", u64::MAX), ("t3", u64::MAX)]);
        assert_eq!(
            layers(&g, 3, Some(&pop)),
            [vec!["small", "t1"], vec!["t2"], vec!["t3"]]
        );
        assert_eq!(
            layers(&g, 2, Some(&pop)),
            [vec!["small", "t1", "t2"], vec!["t3"]]
        );
    }

    /// Roots named by the input that leave paths out: those paths still get
    /// a layer (upstream would drop them).
    #[test]
    fn paths_no_root_reaches_are_top_level() {
        let g = graph(
            &[
                ("root", MB, &["dep"]),
                ("dep", MB, &[]),
                ("stray", MB, &["stray-dep"]),
                ("stray-dep", MB, &[]),
            ],
            Some(&["root"]),
        );
        assert_eq!(
            layers(&g, 10, None),
            [vec!["dep", "root"], vec!["stray", "stray-dep"]]
        );
    }

    #[test]
    fn empty_closure_has_no_layers() {
        let g = Graph::new(Vec::new(), None, "/nix/store").unwrap();
        assert!(layers(&g, 3, None).is_empty());
    }

    /// A small deterministic generator for random DAGs.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, below: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % below as u64) as usize
        }
    }

    /// A random DAG of `n` paths: path i references only paths above i.
    fn random_graph(rng: &mut Rng, n: usize) -> Graph {
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let entries = (0..n)
            .map(|i| {
                let fanout = if i + 1 < n { rng.next(4) } else { 0 };
                PathEntry {
                    path: path(&names[i]),
                    nar_size: [1, 1000, 60 * MB][rng.next(3)] + rng.next(1000) as u64,
                    nar_hash: None,
                    closure_size: None,
                    references: (0..fanout)
                        .map(|_| path(&names[i + 1 + rng.next(n - i - 1)]))
                        .collect(),
                }
            })
            .collect();
        Graph::new(entries, None, "/nix/store").unwrap()
    }

    /// Immediate dominators by definition: `d` dominates `v` when `v` is
    /// unreachable from the fake root once `d` is removed; the immediate
    /// one is the dominator dominated by all others.
    fn naive_dominators(graph: &Graph, top_level: &[bool]) -> Vec<Dominator> {
        let n = graph.len();
        let reachable_without = |removed: Option<NodeId>| {
            let mut seen = vec![false; n];
            let mut todo: Vec<NodeId> = (0..n)
                .filter(|&i| top_level[i] && Some(i) != removed)
                .collect();
            while let Some(id) = todo.pop() {
                if !std::mem::replace(&mut seen[id], true) {
                    todo.extend(
                        graph
                            .node(id)
                            .references
                            .iter()
                            .filter(|&&r| Some(r) != removed),
                    );
                }
            }
            seen
        };
        let dominated: Vec<Vec<bool>> = (0..n)
            .map(|d| {
                let seen = reachable_without(Some(d));
                (0..n).map(|v| v != d && !seen[v]).collect()
            })
            .collect();
        (0..n)
            .map(|v| {
                let doms: Vec<NodeId> = (0..n).filter(|&d| dominated[d][v]).collect();
                doms.iter()
                    .copied()
                    .find(|&d| doms.iter().all(|&o| o == d || dominated[o][d]))
                    .map_or(Dominator::Root, Dominator::Path)
            })
            .collect()
    }

    #[test]
    fn dominators_and_closure_sizes_match_definitions() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..200 {
            let g = random_graph(&mut rng, 1 + round % 30);
            let references = References::new(&g);
            let order = references.topological_order(&g);
            let mut top_level: Vec<bool> = (0..g.len()).map(|_| rng.next(5) == 0).collect();
            for (id, top) in top_level.iter_mut().enumerate() {
                *top |= g.referrers(id).is_empty();
            }
            assert_eq!(
                immediate_dominators(&g, &order, &top_level),
                naive_dominators(&g, &top_level),
                "round {round}"
            );
        }
    }

    /// Two chains, a_i -> a_i+1 and b_i -> b_i+1, with rungs a_i -> b_i+1:
    /// every b is dominated by the root only, found through common
    /// ancestors ever deeper down the a chain (a plain walk up would be
    /// quadratic).
    #[test]
    fn deep_dominator_trees_stay_fast() {
        let rungs = 20_000;
        let mut tree = DominatorTree::new(2 * rungs + 1, 2 * rungs);
        let root = 2 * rungs;
        let (a, b) = (|i: usize| 2 * i, |i: usize| 2 * i + 1);
        tree.attach(a(0), root);
        tree.attach(b(0), root);
        for i in 1..rungs {
            tree.attach(a(i), a(i - 1));
            let common = tree.common_ancestor(a(i - 1), b(i - 1));
            assert_eq!(common, root);
            tree.attach(b(i), common);
        }
        assert_eq!(tree.common_ancestor(a(rungs - 1), a(7)), a(7));
        assert_eq!(tree.common_ancestor(a(rungs - 1), b(5)), root);
    }

    /// Same graph, entries in another order: same layers.
    #[test]
    fn input_order_does_not_matter() {
        let mut rng = Rng(42);
        for round in 0..20 {
            let g = random_graph(&mut rng, 25);
            let mut entries: Vec<PathEntry> = g
                .nodes()
                .iter()
                .map(|node| PathEntry {
                    path: node.path.to_string(),
                    nar_size: node.nar_size,
                    nar_hash: None,
                    closure_size: None,
                    references: node
                        .references
                        .iter()
                        .map(|&r| g.path(r).to_string())
                        .collect(),
                })
                .collect();
            entries.reverse();
            let h = Graph::new(entries, None, "/nix/store").unwrap();
            let pop = popularity(&[("p3", 150), ("p4", 150)]);
            for budget in [1, 2, 3, 5, 40] {
                assert_eq!(
                    layers(&g, budget, Some(&pop)),
                    layers(&h, budget, Some(&pop)),
                    "round {round}"
                );
            }
        }
    }
}
