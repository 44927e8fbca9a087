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
//! The contest itself is shared with the `popularity` algorithm
//! ([`contest_order`]); only the roots differ (those of the subgraph).

use crate::algorithms::popularity::{contest_order, ContestGraph};
use crate::graph::{Graph, NodeId};
use crate::join::Join;

use super::subgraph::Sub;

impl ContestGraph for Sub {
    fn vertex_count(&self) -> usize {
        self.len()
    }
    fn for_each_reference(&self, v: usize, f: impl FnMut(usize)) {
        self.successors(v).iter().map(|&t| t as usize).for_each(f);
    }
    fn references(&self, v: usize) -> &[u32] {
        self.successors(v)
    }
}

/// The paths of `sub`, most popular first.
pub(super) fn popularity_order(graph: &Graph, sub: &Sub, join: &dyn Join) -> Vec<NodeId> {
    let paths: Vec<&str> = sub
        .nodes
        .iter()
        .map(|&id| graph.path(id).as_ref())
        .collect();
    contest_order(sub, &paths, join)
        .into_iter()
        .map(|i| sub.nodes[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::subgraph::tests::{graph, names};
    use super::*;

    fn order_names(g: &Graph, sub: &Sub) -> Vec<String> {
        let order = popularity_order(g, sub, &crate::join::Sequential);
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
            popularity_order(&g, &Sub::whole(&g), &crate::join::Sequential),
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
    }
}
