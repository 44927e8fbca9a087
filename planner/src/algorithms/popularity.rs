//! `popularity`: nixpkgs' `referencesByPopularity` and streamLayeredImage's
//! split into layers.
//!
//! Reproduces `pkgs/build-support/references-by-popularity/closure-graph.py`:
//! the roots are the paths no other path references; the reference graph is
//! unfolded into a tree below a virtual root whose children are the roots,
//! and the recursive contest gives every path `y` the popularity
//!
//! `pop(y) = sum over every node c whose closure holds y of routes(c)`
//!
//! where `routes(c)` is the number of distinct routes from the virtual root
//! down to `c` (a derivation of this from the script's recursion is in
//! [`popularity_scores`]). Paths are listed by popularity, highest first,
//! ties by "package name": the path with its leading `/nix/store/<hash>` part
//! moved to the end (`hello-2.12-/nix/store/<hash>`), ascending.
//!
//! Then, as dockerTools' `popularity_contest` + `limit_layers` pipeline
//! (`pkgs/build-support/docker/popularity-contest-layering-pipeline.nix`)
//! does, the first `budget - 1` paths get a layer each and the rest share the
//! last one.
//!
//! Route counts grow exponentially with depth in the worst case (Python uses
//! big integers), so the sums run in `u128` and fall back to big integers on
//! overflow; real package sets stay far below (Debian's whole universe peaks
//! near 2^49).

use num_bigint::BigUint;

use super::{Context, Layers};
use crate::error::PlanError;
use crate::graph::{Graph, NodeId, SplitClosures, SPLIT_PATHS};
use crate::join::{Join, Sequential};

/// Plans with the popularity order and streamLayeredImage's split.
pub fn plan(ctx: &Context<'_>) -> Result<Layers, PlanError> {
    Ok(split(
        popularity_order_with(ctx.graph, ctx.join),
        ctx.budget,
    ))
}

/// One layer for each of the first `budget - 1` paths, the rest in one.
pub fn split(order: Vec<NodeId>, budget: usize) -> Layers {
    let budget = budget.max(1);
    if order.len() <= budget {
        return order.into_iter().map(|id| vec![id]).collect();
    }
    let mut layers: Layers = order[..budget - 1].iter().map(|&id| vec![id]).collect();
    layers.push(order[budget - 1..].to_vec());
    layers
}

/// Every path, most popular first (closure-graph.py's output order).
pub fn popularity_order(graph: &Graph) -> Vec<NodeId> {
    popularity_order_with(graph, &Sequential)
}

/// [`popularity_order`], its closure walks in two halves at once when
/// `join` runs jobs side by side (the same order either way).
pub fn popularity_order_with(graph: &Graph, join: &dyn Join) -> Vec<NodeId> {
    let paths: Vec<&str> = (0..graph.len()).map(|id| graph.path(id).as_ref()).collect();
    contest_order(graph, &paths, join)
}

/// closure-graph.py's popularity of every node.
///
/// The script's `graph_popularity_contest(children of x)` gives, for each
/// `y` below `x`, `Q(x)[y]` = the sum over children `c` of `x` of
/// `[y in closure(c)] + Q(c)[y]`; unrolled, `Q(x)[y]` = the sum over all
/// `c` of `routes(x, c) * [y in closure(c)]`, and the popularity is `Q` of
/// the virtual root.
pub fn popularity_scores(graph: &Graph) -> Vec<BigUint> {
    match scores::<u128, _>(graph, &Sequential, SPLIT_PATHS) {
        Some(small) => small.into_iter().map(BigUint::from).collect(),
        None => scores::<BigUint, _>(graph, &Sequential, SPLIT_PATHS)
            .expect("big integers do not overflow"),
    }
}

/// A DAG the contest runs on: vertices `0..len`, edges along references.
/// The whole closure is one; the pipeline's subgraphs are others.
pub(crate) trait ContestGraph: Sync {
    /// Number of vertices.
    fn vertex_count(&self) -> usize;
    /// Calls `f` with every vertex `v` references.
    fn for_each_reference(&self, v: usize, f: impl FnMut(usize));
    /// The vertices `v` references, when the graph has them flat.
    fn references(&self, v: usize) -> &[u32];
}

impl ContestGraph for Graph {
    fn vertex_count(&self) -> usize {
        self.len()
    }
    fn for_each_reference(&self, v: usize, f: impl FnMut(usize)) {
        self.node(v).references.iter().copied().for_each(f);
    }
    fn references(&self, v: usize) -> &[u32] {
        self.references_u32(v)
    }
}

/// The vertices of `graph`, most popular first, ties by the
/// [`package_name`] of their `paths` ascending.
pub(crate) fn contest_order<G: ContestGraph>(
    graph: &G,
    paths: &[&str],
    join: &dyn Join,
) -> Vec<usize> {
    let names: Vec<PackageName<'_>> = paths.iter().map(|p| PackageName::of(p)).collect();
    let ties = |a: usize, b: usize| names[a].cmp(&names[b]);
    match scores::<u128, G>(graph, join, SPLIT_PATHS) {
        Some(s) => {
            // Scores beside the vertices: the sort reads no other array
            // but for ties. Package names are distinct (paths are), so an
            // unstable sort gives the one order.
            // Most vertices tie (a package set's leaves score alike), so
            // the names' first eight bytes are beside them too, and whole
            // names are compared only when those are the same.
            let mut order: Vec<(u128, u64, usize)> = s
                .into_iter()
                .zip(0..)
                .map(|(score, v)| (score, names[v].prefix(), v))
                .collect();
            order.sort_unstable_by(|x, y| {
                y.0.cmp(&x.0)
                    .then(x.1.cmp(&y.1))
                    .then_with(|| ties(x.2, y.2))
            });
            order.into_iter().map(|(_, _, v)| v).collect()
        }
        None => {
            let s = scores::<BigUint, G>(graph, join, SPLIT_PATHS)
                .expect("big integers do not overflow");
            let mut order: Vec<usize> = (0..graph.vertex_count()).collect();
            order.sort_by(|&a, &b| s[b].cmp(&s[a]).then_with(|| ties(a, b)));
            order
        }
    }
}

/// Numbers the contest can run in: `add` fails on overflow.
trait Count: Clone + Ord + Send + Sync {
    fn zero() -> Self;
    fn one() -> Self;
    fn add(&mut self, other: &Self) -> Option<()>;
}

impl Count for u128 {
    fn zero() -> Self {
        0
    }
    fn one() -> Self {
        1
    }
    fn add(&mut self, other: &Self) -> Option<()> {
        *self = self.checked_add(*other)?;
        Some(())
    }
}

impl Count for BigUint {
    fn zero() -> Self {
        BigUint::ZERO
    }
    fn one() -> Self {
        BigUint::from(1u8)
    }
    fn add(&mut self, other: &Self) -> Option<()> {
        *self += other;
        Some(())
    }
}

/// Popularity of every vertex; `None` when `N` overflows.
fn scores<N: Count, G: ContestGraph>(
    graph: &G,
    join: &dyn Join,
    split_paths: usize,
) -> Option<Vec<N>> {
    let n = graph.vertex_count();
    // Routes from the virtual root, in topological order (Kahn).
    let mut pending = vec![0usize; n];
    for v in 0..n {
        graph.for_each_reference(v, |t| pending[t] += 1);
    }
    let mut routes = vec![N::zero(); n];
    let mut ready: Vec<usize> = (0..n).filter(|&v| pending[v] == 0).collect();
    for &root in &ready {
        routes[root] = N::one();
    }
    let mut overflow = false;
    while let Some(v) = ready.pop() {
        let r = routes[v].clone();
        graph.for_each_reference(v, |t| {
            overflow |= routes[t].add(&r).is_none();
            pending[t] -= 1;
            if pending[t] == 0 {
                ready.push(t);
            }
        });
    }
    if overflow {
        return None;
    }
    // Every vertex adds its routes to each path of its closure (sums of
    // non-negative numbers: whether one overflows does not depend on the
    // order of the additions, nor on adding two halves' sums at the end).
    // The most referenced paths' sums are kept apart, side by side, where
    // the closures' bitsets find them.
    let hubs = crate::graph::hubs(n, |v| graph.references(v), crate::graph::HUB_PATHS);
    /// One half's sums: per path, per hub, and whether one overflowed.
    struct Sums<N> {
        paths: Vec<N>,
        hubs: Vec<N>,
        overflow: bool,
    }
    let mut all = SplitClosures::new(n, |v| graph.references(v), &hubs).fold(
        join,
        split_paths,
        || Sums {
            paths: vec![N::zero(); n],
            hubs: vec![N::zero(); hubs.len()],
            overflow: false,
        },
        |sums: &mut Sums<N>, c, hub_row, members| {
            let r = &routes[c];
            crate::graph::for_each_bit(hub_row, |bit| {
                sums.overflow |= sums.hubs[bit].add(r).is_none();
            });
            for &y in members {
                sums.overflow |= sums.paths[y as usize].add(r).is_none();
            }
        },
        |mut first, second| {
            first.overflow |= second.overflow;
            for (sum, x) in first.paths.iter_mut().zip(&second.paths) {
                first.overflow |= sum.add(x).is_none();
            }
            for (sum, x) in first.hubs.iter_mut().zip(&second.hubs) {
                first.overflow |= sum.add(x).is_none();
            }
            first
        },
    );
    for (&hub, sum) in hubs.iter().zip(all.hubs) {
        all.paths[hub as usize] = sum;
    }
    (!all.overflow).then_some(all.paths)
}

/// closure-graph.py's `package_name` of a path (split on the first `-`,
/// the first part moved to the end), as its two parts: ordered as the
/// names made would be, without making them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PackageName<'a> {
    /// What follows the first `-` (`None` without one).
    rest: Option<&'a str>,
    /// What precedes it (the whole path without one).
    first: &'a str,
}

impl<'a> PackageName<'a> {
    pub(crate) fn of(path: &'a str) -> Self {
        match path.split_once('-') {
            Some((first, rest)) => PackageName {
                rest: Some(rest),
                first,
            },
            None => PackageName {
                rest: None,
                first: path,
            },
        }
    }

    /// The name's first eight bytes as a number that orders as they do
    /// (zeros after a shorter name: paths hold no zero bytes, so two names
    /// whose prefixes differ are in their prefixes' order).
    fn prefix(self) -> u64 {
        let mut bytes = [0u8; 8];
        for (slot, byte) in bytes.iter_mut().zip(self.bytes()) {
            *slot = byte;
        }
        u64::from_be_bytes(bytes)
    }

    /// The name's bytes, one by one.
    fn bytes(self) -> impl Iterator<Item = u8> + 'a {
        let rest = self.rest.map(|rest| rest.bytes().chain(*b"-"));
        rest.into_iter().flatten().chain(self.first.bytes())
    }
}

impl Ord for PackageName<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Most names differ within the shorter rest, or have the same rest
        // (then the dash, then the first parts): whole slices compared.
        if let (Some(a), Some(b)) = (self.rest, other.rest) {
            let common = a.len().min(b.len());
            match a.as_bytes()[..common].cmp(&b.as_bytes()[..common]) {
                std::cmp::Ordering::Equal if a.len() == b.len() => {
                    return self.first.cmp(other.first)
                }
                std::cmp::Ordering::Equal => {}
                differ => return differ,
            }
        }
        self.bytes().cmp(other.bytes())
    }
}

impl PartialOrd for PackageName<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PackageName<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for PackageName<'_> {}

/// closure-graph.py's `package_name`: split on `-`, move the first part
/// (store directory and hash) to the end, join again.
#[cfg(test)]
fn package_name(path: &str) -> String {
    match path.split_once('-') {
        Some((first, rest)) => {
            let mut name = String::with_capacity(path.len());
            name.push_str(rest);
            name.push('-');
            name.push_str(first);
            name
        }
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::InTurn;

    #[test]
    fn scores_are_the_same_when_the_walks_run_in_halves() {
        let g = crate::testutil::random_dag(300, 99);
        let whole = scores::<u128, Graph>(&g, &Sequential, SPLIT_PATHS).unwrap();
        assert!(whole.iter().any(|&s| s > 1), "a graph with shared paths");
        for split in [0, 150, 299] {
            assert_eq!(scores::<u128, Graph>(&g, &InTurn, split).unwrap(), whole);
        }
    }

    proptest::proptest! {
        /// Names whose first eight bytes differ are in those bytes' order.
        #[test]
        fn package_name_prefixes_order_as_names(a in "[a-c/-]{0,10}", b in "[a-c/-]{0,10}") {
            let (x, y) = (PackageName::of(&a), PackageName::of(&b));
            if x.prefix() != y.prefix() {
                proptest::prop_assert_eq!(x.prefix().cmp(&y.prefix()), x.cmp(&y));
            }
        }

        /// Comparing in place is comparing the names made.
        #[test]
        fn package_names_compare_as_made(a in "[a-c/-]{0,8}", b in "[a-c/-]{0,8}") {
            proptest::prop_assert_eq!(
                PackageName::of(&a).cmp(&PackageName::of(&b)),
                package_name(&a).cmp(&package_name(&b))
            );
        }
    }
    use crate::testutil::path as p;

    /// Every path of size 1.
    fn graph(edges: &[(&str, &[&str])]) -> Graph {
        let entries: Vec<(&str, u64, &[&str])> =
            edges.iter().map(|&(from, to)| (from, 1, to)).collect();
        crate::testutil::graph(&entries)
    }

    /// The tree drawn in closure-graph.py's header comment:
    /// A -> B, G; B -> C, E; C -> D, E; D -> F; E -> F.
    /// Upstream's result: A 1, B 2, C 3, D 4, E 5, F 9, G 2, ordered
    /// F E D C B G A.
    #[test]
    fn closure_graph_py_header_example() {
        let g = graph(&[
            ("A", &["B", "G"]),
            ("B", &["C", "E"]),
            ("C", &["D", "E"]),
            ("D", &["F"]),
            ("E", &["F"]),
            ("F", &[]),
            ("G", &[]),
        ]);
        let scores: Vec<u32> = popularity_scores(&g)
            .iter()
            .map(|s| s.to_u32_digits().first().copied().unwrap_or(0))
            .collect();
        // Node ids follow path order: A B C D E F G.
        assert_eq!(scores, vec![1, 2, 3, 4, 5, 9, 2]);
        let names: Vec<&str> = popularity_order(&g).iter().map(|&id| g.name(id)).collect();
        assert_eq!(names, ["F", "E", "D", "C", "B", "G", "A"]);
    }

    /// closure-graph.py's TestGraphPopularityContest: foo -> bar, baz;
    /// bar -> baz; baz -> tux. Expected foo 1, bar 2, baz 4, tux 6.
    #[test]
    fn closure_graph_py_contest_test() {
        let g = graph(&[
            ("foo", &["bar", "baz"]),
            ("bar", &["baz"]),
            ("baz", &["tux"]),
            ("tux", &[]),
        ]);
        let by_name = |n: &str| {
            let id = g.find(&p(n)).unwrap();
            popularity_scores(&g)[id].to_u32_digits()[0]
        };
        assert_eq!(
            [
                by_name("foo"),
                by_name("bar"),
                by_name("baz"),
                by_name("tux")
            ],
            [1, 2, 4, 6]
        );
    }

    /// closure-graph.py's TestOrderByPopularity: foo 1, bar 1, baz 2, tux 2
    /// gives baz tux bar foo (ties by name, ascending).
    #[test]
    fn closure_graph_py_order_test() {
        let g = graph(&[("foo", &[]), ("bar", &["baz"]), ("baz", &[]), ("tux", &[])]);
        // bar 1, baz 2, foo 1, tux 1: baz first, then bar foo tux by name.
        let names: Vec<&str> = popularity_order(&g).iter().map(|&id| g.name(id)).collect();
        assert_eq!(names, ["baz", "bar", "foo", "tux"]);
    }

    /// 140 diamonds in a row: 2^140 routes reach the bottom, beyond u128,
    /// so the contest falls back to big integers and still orders by depth.
    #[test]
    fn deep_diamonds_overflow_u128_and_fall_back() {
        let mut edges: Vec<(String, Vec<String>)> = Vec::new();
        for i in 0..140 {
            let (top, left, right, next) = (
                format!("t{i:03}"),
                format!("l{i:03}"),
                format!("r{i:03}"),
                format!("t{:03}", i + 1),
            );
            edges.push((top, vec![left.clone(), right.clone()]));
            edges.push((left, vec![next.clone()]));
            edges.push((right, vec![next]));
        }
        edges.push(("t140".to_string(), vec![]));
        let spec: Vec<(&str, Vec<&str>)> = edges
            .iter()
            .map(|(n, r)| (n.as_str(), r.iter().map(String::as_str).collect()))
            .collect();
        let spec: Vec<(&str, &[&str])> = spec.iter().map(|(n, r)| (*n, r.as_slice())).collect();
        let g = graph(&spec);
        assert!(scores::<u128, Graph>(&g, &Sequential, SPLIT_PATHS).is_none());
        assert!(scores::<u128, Graph>(&g, &InTurn, 0).is_none());
        assert_eq!(
            scores::<BigUint, Graph>(&g, &InTurn, 0),
            scores::<BigUint, Graph>(&g, &Sequential, SPLIT_PATHS)
        );
        let order = popularity_order(&g);
        assert_eq!(g.name(order[0]), "t140");
        assert_eq!(g.name(*order.last().unwrap()), "t000");
    }

    #[test]
    fn split_gives_budget_minus_one_single_layers() {
        assert_eq!(split(vec![3, 1, 2, 0], 2), vec![vec![3], vec![1, 2, 0]]);
        assert_eq!(split(vec![3, 1], 5), vec![vec![3], vec![1]]);
        assert_eq!(split(vec![3, 1, 2], 1), vec![vec![3, 1, 2]]);
    }
}
