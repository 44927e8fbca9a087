//! `popularity_contest` on one graph of the pipeline.
//!
//! Upstream's `popularity_contest.py` is closure-graph.py's contest run on
//! the graph it is given (a subgraph, after a split): the roots are the
//! paths with no referrer *in that graph*, and a path's popularity is
//!
//! `pop(y) = sum over every c whose closure holds y of routes(c)`
//!
//! with `routes(c)` the number of routes from a virtual root over the
//! roots down to `c` (derived in `algorithms/popularity.rs`). Paths go by
//! popularity, highest first, ties by `package_name` (the path with its
//! leading `/nix/store/<hash>` part moved to the end), ascending; each
//! becomes a graph of its own, no edges. On the whole closure this is
//! exactly the order of [`crate::algorithms::popularity::popularity_order`].
//!
//! Route counts can grow exponentially with depth, so sums run in `u128`
//! and fall back to big integers on overflow, as Python's integers would.

use num_bigint::BigUint;

use crate::graph::{Graph, NodeId};

use super::subgraph::Sub;

/// The paths of `sub`, most popular first.
pub(super) fn popularity_order(graph: &Graph, sub: &Sub) -> Vec<NodeId> {
    let keys: Vec<String> = sub
        .nodes
        .iter()
        .map(|&id| package_name(graph.path(id)))
        .collect();
    let mut order: Vec<usize> = (0..sub.len()).collect();
    match scores::<u128>(sub) {
        Some(s) => order.sort_by(|&a, &b| s[b].cmp(&s[a]).then_with(|| keys[a].cmp(&keys[b]))),
        None => {
            let s = scores::<BigUint>(sub).expect("big integers do not overflow");
            order.sort_by(|&a, &b| s[b].cmp(&s[a]).then_with(|| keys[a].cmp(&keys[b])));
        }
    }
    order.into_iter().map(|i| sub.nodes[i]).collect()
}

/// Numbers the contest can run in: `add` fails on overflow.
trait Count: Clone + Ord {
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

/// Popularity of every vertex of `sub` (local indices).
fn scores<N: Count>(sub: &Sub) -> Option<Vec<N>> {
    let n = sub.len();
    // Routes, in topological order (Kahn; the graph is acyclic).
    let mut pending = sub.in_degrees();
    let mut routes = vec![N::zero(); n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    for &root in &ready {
        routes[root] = N::one();
    }
    while let Some(v) = ready.pop() {
        let r = routes[v].clone();
        for &t in sub.successors(v) {
            let t = t as usize;
            routes[t].add(&r)?;
            pending[t] -= 1;
            if pending[t] == 0 {
                ready.push(t);
            }
        }
    }
    // Every vertex adds its routes to each path of its closure.
    let mut popularity = vec![N::zero(); n];
    let mut stamp = vec![usize::MAX; n];
    let mut todo = Vec::new();
    for (c, r) in routes.iter().enumerate() {
        todo.push(c);
        while let Some(y) = todo.pop() {
            if stamp[y] != c {
                stamp[y] = c;
                popularity[y].add(r)?;
                todo.extend(sub.successors(y).iter().map(|&t| t as usize));
            }
        }
    }
    Some(popularity)
}

/// Upstream's `package_name`: split on `-`, move the first part (store
/// directory and hash) to the end, join again.
fn package_name(path: &str) -> String {
    match path.split_once('-') {
        Some((first, rest)) => format!("{rest}-{first}"),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::subgraph::tests::{graph, names};
    use super::*;

    fn order_names(g: &Graph, sub: &Sub) -> Vec<String> {
        let order = popularity_order(g, sub);
        names(
            g,
            &Sub::disjoint_union(order.into_iter().map(Sub::single).collect()),
        )
    }

    /// The tree in popularity_contest.py's header comment: A -> B, G;
    /// B -> C, E; C -> D, E; D -> F; E -> F gives F E D C B G A.
    #[test]
    fn header_example() {
        let g = graph(&[
            ("A", 1, &["B", "G"]),
            ("B", 1, &["C", "E"]),
            ("C", 1, &["D", "E"]),
            ("D", 1, &["F"]),
            ("E", 1, &["F"]),
            ("F", 1, &[]),
            ("G", 1, &[]),
        ]);
        assert_eq!(
            order_names(&g, &Sub::whole(&g)),
            ["F", "E", "D", "C", "B", "G", "A"]
        );
    }

    /// pipe_test.py test_2: Root1 -> A -> B, Root2 alone gives B A Root1
    /// Root2 (Root1 and Root2 tie at 1, by name).
    #[test]
    fn pipe_test_2_order() {
        let g = graph(&[
            ("Root1", 1, &["A"]),
            ("A", 1, &["B"]),
            ("B", 1, &[]),
            ("Root2", 1, &[]),
        ]);
        assert_eq!(
            order_names(&g, &Sub::whole(&g)),
            ["B", "A", "Root1", "Root2"]
        );
    }

    #[test]
    fn roots_are_those_of_the_subgraph() {
        // R -> A -> B; without R, A is a root: A 1, B 2 either way, but
        // C (only referred to by R) becomes a root of its own.
        let g = graph(&[
            ("R", 1, &["A", "C"]),
            ("A", 1, &["B"]),
            ("B", 1, &[]),
            ("C", 1, &[]),
        ]);
        let whole = Sub::whole(&g);
        assert_eq!(order_names(&g, &whole), ["B", "A", "C", "R"]);
        let mut keep_ab = Sub::default();
        for name in ["A", "B", "C"] {
            let id = (0..g.len()).find(|&i| g.name(i) == name).unwrap();
            keep_ab = Sub::disjoint_union(vec![keep_ab, Sub::single(id)]);
        }
        // No edges left: every path is a root with popularity 1, by name.
        assert_eq!(order_names(&g, &keep_ab), ["A", "B", "C"]);
    }

    #[test]
    fn same_order_as_the_popularity_algorithm_on_the_whole_graph() {
        let g = graph(&[
            ("app", 5, &["lib1", "lib2", "glibc"]),
            ("lib1", 3, &["glibc", "zlib"]),
            ("lib2", 3, &["glibc"]),
            ("zlib", 2, &["glibc"]),
            ("glibc", 9, &[]),
            ("tool", 1, &["zlib"]),
        ]);
        assert_eq!(
            popularity_order(&g, &Sub::whole(&g)),
            crate::algorithms::popularity::popularity_order(&g)
        );
    }

    #[test]
    fn huge_route_counts_fall_back_to_big_integers() {
        // A ladder of 140 diamonds: routes double at each step, past u128.
        let mut entries: Vec<(String, Vec<String>)> = Vec::new();
        for i in 0..140 {
            let (top, left, right, next) = (
                format!("t{i}"),
                format!("l{i}"),
                format!("r{i}"),
                format!("t{}", i + 1),
            );
            entries.push((top, vec![left.clone(), right.clone()]));
            entries.push((left, vec![next.clone()]));
            entries.push((right, vec![next]));
        }
        entries.push(("t140".to_string(), vec![]));
        let refs: Vec<Vec<&str>> = entries
            .iter()
            .map(|(_, r)| r.iter().map(String::as_str).collect())
            .collect();
        let spec: Vec<(&str, u64, &[&str])> = entries
            .iter()
            .zip(&refs)
            .map(|((name, _), r)| (name.as_str(), 1, r.as_slice()))
            .collect();
        let g = graph(&spec);
        let order = order_names(&g, &Sub::whole(&g));
        assert_eq!(order[0], "t140");
        assert_eq!(order.last().unwrap(), "t0");
        assert!(scores::<u128>(&Sub::whole(&g)).is_none());
    }
}
