//! The graphs a pipeline passes around, as upstream's python-igraph graphs
//! behave, and the operators that cut them.
//!
//! A [`Sub`] is a set of closure paths in igraph's vertex order, with edges
//! of its own. Order and edges follow what igraph does (checked against
//! python-igraph 1.0):
//!
//! - the first graph lists paths by `narSize`, ties in input order
//!   (`references_graph_to_igraph` sorts with Python's stable sort; Nix
//!   writes exportReferencesGraph sorted by path, which is the order of
//!   [`Graph`]'s nodes), with an edge for every reference but
//!   self-references;
//! - `induced_subgraph` and `graph - vertices` keep the remaining paths in
//!   their order (whatever order and repeats the vertex list had) and the
//!   edges among them;
//! - `g1 + g2` (disjoint union, as `limit_layers` merges) lists `g1`'s
//!   paths then `g2`'s, with only the edges each already had;
//! - `split_paths` deletes the edges into the split paths before cutting,
//!   so its `main` graph lacks them (a later `popularity_contest` on it
//!   sees the split paths as roots).
//!
//! Every operation costs time in the size of the graph it works on, never
//! the whole closure, so mapping over thousands of one-path graphs stays
//! linear.

use crate::graph::{Graph, NodeId};

use super::parse::{Direction, SplitSpec};

/// Local index of a vertex in a [`Sub`].
type Local = u32;

/// Marks "not in this graph" in [`Scratch`].
const ABSENT: Local = Local::MAX;

/// One igraph graph of upstream's pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Sub {
    /// The paths, in igraph's vertex order.
    pub nodes: Vec<NodeId>,
    /// Out-edges as local indices: vertex `i`'s targets are
    /// `targets[offsets[i]..offsets[i + 1]]`. Both empty when the graph has
    /// no edges at all (every one-path graph of `popularity_contest`).
    offsets: Vec<u32>,
    targets: Vec<Local>,
}

/// A closure-sized map from node to local index, kept all [`ABSENT`]
/// between uses so that indexing a small graph costs only its own size.
#[derive(Debug)]
pub(super) struct Scratch {
    local: Vec<Local>,
}

impl Scratch {
    pub fn new(graph: &Graph) -> Scratch {
        Scratch {
            local: vec![ABSENT; graph.len()],
        }
    }

    /// Runs `f` with `local[node]` set for every node of `sub`.
    fn indexed<R>(&mut self, sub: &Sub, f: impl FnOnce(&[Local]) -> R) -> R {
        for (i, &node) in sub.nodes.iter().enumerate() {
            self.local[node] = i as Local;
        }
        let result = f(&self.local);
        for &node in &sub.nodes {
            self.local[node] = ABSENT;
        }
        result
    }
}

/// The order of the graph upstream starts from: by `narSize`, then path.
pub(super) fn igraph_order(graph: &Graph) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = (0..graph.len()).collect();
    nodes.sort_by_key(|&id| (graph.node(id).nar_size, id));
    nodes
}

impl Sub {
    /// The graph upstream starts from: every path in [`igraph_order`], an
    /// edge for every reference.
    pub fn whole(graph: &Graph) -> Sub {
        let nodes = igraph_order(graph);
        let mut local = vec![0 as Local; graph.len()];
        for (i, &id) in nodes.iter().enumerate() {
            local[id] = i as Local;
        }
        let mut offsets = Vec::with_capacity(nodes.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for &id in &nodes {
            targets.extend(graph.node(id).references.iter().map(|&r| local[r]));
            offsets.push(targets.len() as u32);
        }
        Sub::with_edges(nodes, offsets, targets)
    }

    /// A graph of one path and no edges.
    pub fn single(node: NodeId) -> Sub {
        Sub {
            nodes: vec![node],
            ..Sub::default()
        }
    }

    fn with_edges(nodes: Vec<NodeId>, offsets: Vec<u32>, targets: Vec<Local>) -> Sub {
        if targets.is_empty() {
            Sub {
                nodes,
                ..Sub::default()
            }
        } else {
            Sub {
                nodes,
                offsets,
                targets,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Targets of vertex `i`.
    pub fn successors(&self, i: usize) -> &[Local] {
        if self.offsets.is_empty() {
            &[]
        } else {
            &self.targets[self.offsets[i] as usize..self.offsets[i + 1] as usize]
        }
    }

    /// Number of edges into each vertex.
    pub fn in_degrees(&self) -> Vec<u32> {
        let mut degree = vec![0; self.len()];
        for &t in &self.targets {
            degree[t as usize] += 1;
        }
        degree
    }

    /// Sources of each vertex's in-edges, in the same layout as the
    /// out-edges.
    fn predecessors(&self) -> (Vec<u32>, Vec<Local>) {
        let mut offsets = vec![0u32; self.len() + 1];
        for &t in &self.targets {
            offsets[t as usize + 1] += 1;
        }
        for i in 0..self.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut sources = vec![0; self.targets.len()];
        for i in 0..self.len() {
            for &t in self.successors(i) {
                sources[fill[t as usize] as usize] = i as Local;
                fill[t as usize] += 1;
            }
        }
        (offsets, sources)
    }

    /// The vertices with `keep` set, in order, with the edges among them;
    /// edges into vertices with `cut` set are left out.
    fn induced(&self, keep: &[bool], cut: Option<&[bool]>) -> Sub {
        let mut new_index = vec![ABSENT; self.len()];
        let mut nodes = Vec::new();
        for (i, &node) in self.nodes.iter().enumerate() {
            if keep[i] {
                new_index[i] = nodes.len() as Local;
                nodes.push(node);
            }
        }
        if self.offsets.is_empty() {
            return Sub::with_edges(nodes, Vec::new(), Vec::new());
        }
        let mut offsets = Vec::with_capacity(nodes.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for i in (0..self.len()).filter(|&i| keep[i]) {
            targets.extend(
                self.successors(i)
                    .iter()
                    .filter(|&&t| keep[t as usize] && !cut.is_some_and(|c| c[t as usize]))
                    .map(|&t| new_index[t as usize]),
            );
            offsets.push(targets.len() as u32);
        }
        Sub::with_edges(nodes, offsets, targets)
    }

    /// Vertices `range` as a graph of their own (`split_every`'s chunks), in
    /// time for the chunk alone.
    fn slice(&self, range: std::ops::Range<usize>) -> Sub {
        let nodes = self.nodes[range.clone()].to_vec();
        if self.offsets.is_empty() {
            return Sub::with_edges(nodes, Vec::new(), Vec::new());
        }
        let (start, end) = (range.start as Local, range.end as Local);
        let mut offsets = Vec::with_capacity(nodes.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for i in range {
            targets.extend(
                self.successors(i)
                    .iter()
                    .filter(|&&t| (start..end).contains(&t))
                    .map(|&t| t - start),
            );
            offsets.push(targets.len() as u32);
        }
        Sub::with_edges(nodes, offsets, targets)
    }

    /// igraph's `g1 + g2 + ...`: the paths one after the other, each
    /// graph's edges kept, none added.
    pub fn disjoint_union(parts: Vec<Sub>) -> Sub {
        let mut nodes = Vec::with_capacity(parts.iter().map(Sub::len).sum());
        let mut offsets = vec![0u32];
        let mut targets = Vec::new();
        for part in parts {
            let base = nodes.len() as Local;
            for i in 0..part.len() {
                targets.extend(part.successors(i).iter().map(|&t| t + base));
                offsets.push(targets.len() as u32);
            }
            nodes.extend(part.nodes);
        }
        Sub::with_edges(nodes, offsets, targets)
    }

    /// Local indices of the given paths that are in this graph (upstream's
    /// `find_vertex_by_name_or_none`, missing paths skipped).
    fn find_all(&self, graph: &Graph, scratch: &mut Scratch, paths: &[String]) -> Vec<Local> {
        scratch.indexed(self, |local| {
            paths
                .iter()
                .filter_map(|p| graph.find(p))
                .map(|id| local[id])
                .filter(|&l| l != ABSENT)
                .collect()
        })
    }

    /// Marks everything reachable from `starts` (themselves included)
    /// along `next`.
    fn reach<'a>(
        &self,
        starts: &[Local],
        next: impl Fn(usize) -> &'a [Local],
        skip: impl Fn(Local) -> bool,
    ) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut todo: Vec<Local> = starts.to_vec();
        while let Some(v) = todo.pop() {
            if !std::mem::replace(&mut seen[v as usize], true) {
                todo.extend(next(v as usize).iter().filter(|&&t| !skip(t)));
            }
        }
        seen
    }
}

/// `subcomponent_in` / `subcomponent_out`: `main` holds the given paths and
/// everything referring to them (in) or referred to by them (out), `rest`
/// the others. Paths not in the graph are ignored; both keys are always
/// there, `main` empty when nothing matched.
pub(super) fn subcomponent(
    graph: &Graph,
    scratch: &mut Scratch,
    direction: Direction,
    paths: &[String],
    sub: &Sub,
) -> (Sub, Sub) {
    let starts = sub.find_all(graph, scratch, paths);
    let main = match direction {
        Direction::Out => sub.reach(&starts, |v| sub.successors(v), |_| false),
        Direction::In => {
            let (offsets, sources) = sub.predecessors();
            sub.reach(
                &starts,
                |v| &sources[offsets[v] as usize..offsets[v + 1] as usize],
                |_| false,
            )
        }
    };
    let rest: Vec<bool> = main.iter().map(|m| !m).collect();
    (sub.induced(&main, None), sub.induced(&rest, None))
}

/// What `split_paths` gives: some of `main`, `common`, `rest`, in that
/// order, empty graphs left out.
pub(super) type Split = Vec<(&'static str, Sub)>;

/// `split_paths`: `main` holds the split paths and the dependencies only
/// they reach, `common` the dependencies the rest of the graph reaches
/// too, `rest` everything else.
///
/// As upstream: the split paths are the named paths found in the graph and
/// the direct references of `children_of` paths; none found gives just
/// `rest` (the graph unchanged). "The rest of the graph" is what the root
/// reaches once the edges into split paths are deleted; with several
/// roots a fake root referring to all of them stands in (and is dropped
/// from the results). A single root that is itself a split path gives just
/// `main`, the graph unchanged.
pub(super) fn split_paths(
    graph: &Graph,
    scratch: &mut Scratch,
    specs: &[SplitSpec],
    sub: &Sub,
) -> Split {
    let mut split: Vec<Local> = Vec::new();
    for spec in specs {
        match spec {
            SplitSpec::Path(path) => {
                split.extend(sub.find_all(graph, scratch, std::slice::from_ref(path)))
            }
            SplitSpec::ChildrenOf(parents) => {
                for parent in sub.find_all(graph, scratch, parents) {
                    split.extend(sub.successors(parent as usize));
                }
            }
        }
    }
    if split.is_empty() {
        return vec![("rest", sub.clone())];
    }
    let mut is_split = vec![false; sub.len()];
    for &s in &split {
        is_split[s as usize] = true;
    }
    let roots: Vec<Local> = sub
        .in_degrees()
        .iter()
        .enumerate()
        .filter(|(_, &d)| d == 0)
        .map(|(i, _)| i as Local)
        .collect();
    if let [root] = roots[..] {
        if is_split[root as usize] {
            return vec![("main", sub.clone())];
        }
    }
    let split_off = sub.reach(&split, |v| sub.successors(v), |_| false);
    // From the root, or from the fake root's targets: its edges into split
    // paths are deleted too.
    let starts: Vec<Local> = roots
        .into_iter()
        .filter(|&r| !is_split[r as usize])
        .collect();
    let rest_with_common = sub.reach(&starts, |v| sub.successors(v), |t| is_split[t as usize]);
    let n = sub.len();
    let main: Vec<bool> = (0..n)
        .map(|i| split_off[i] && !rest_with_common[i])
        .collect();
    let common: Vec<bool> = (0..n)
        .map(|i| split_off[i] && rest_with_common[i])
        .collect();
    let rest: Vec<bool> = (0..n)
        .map(|i| rest_with_common[i] && !split_off[i])
        .collect();
    [
        ("main", sub.induced(&main, Some(&is_split))),
        ("common", sub.induced(&common, None)),
        ("rest", sub.induced(&rest, None)),
    ]
    .into_iter()
    .filter(|(_, g)| !g.is_empty())
    .collect()
}

/// `remove_paths`: the graph without the given paths (missing ones
/// ignored).
pub(super) fn remove_paths(
    graph: &Graph,
    scratch: &mut Scratch,
    paths: &[String],
    sub: Sub,
) -> Sub {
    let found = sub.find_all(graph, scratch, paths);
    if found.is_empty() {
        return sub;
    }
    let mut keep = vec![true; sub.len()];
    for f in found {
        keep[f as usize] = false;
    }
    sub.induced(&keep, None)
}

/// `split_every`: consecutive runs of `count` paths in vertex order.
pub(super) fn split_every(count: usize, sub: &Sub) -> Vec<Sub> {
    (0..sub.len())
        .step_by(count)
        .map(|start| sub.slice(start..(start + count).min(sub.len())))
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    pub use crate::testutil::{graph, path as p};

    pub fn names(graph: &Graph, sub: &Sub) -> Vec<String> {
        sub.nodes
            .iter()
            .map(|&id| graph.name(id).to_string())
            .collect()
    }

    pub fn edges(graph: &Graph, sub: &Sub) -> Vec<(String, String)> {
        let mut edges: Vec<(String, String)> = (0..sub.len())
            .flat_map(|i| {
                sub.successors(i).iter().map(move |&t| {
                    (
                        graph.name(sub.nodes[i]).to_string(),
                        graph.name(sub.nodes[t as usize]).to_string(),
                    )
                })
            })
            .collect();
        edges.sort();
        edges
    }

    pub fn paths(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| p(n)).collect()
    }

    /// subcomponent_test.py's graph: Root1 -> A -> B, C; B -> D, E;
    /// Root2 -> B; Root3 -> C; X alone. Sizes give igraph order
    /// Root1 A B C D E Root2 Root3 X.
    pub fn subcomponent_graph() -> Graph {
        graph(&[
            ("Root1", 1, &["A"]),
            ("A", 2, &["B", "C"]),
            ("B", 3, &["D", "E"]),
            ("C", 4, &[]),
            ("D", 5, &[]),
            ("E", 6, &[]),
            ("Root2", 7, &["B"]),
            ("Root3", 8, &["C"]),
            ("X", 9, &[]),
        ])
    }

    /// split_paths_test.py's graph: Root1 -> A -> B, D; D -> E; B -> D, F;
    /// Root2 -> B; Root3 -> C; X alone.
    pub fn split_graph() -> Graph {
        graph(&[
            ("Root1", 1, &["A"]),
            ("A", 2, &["B", "D"]),
            ("B", 3, &["D", "F"]),
            ("C", 4, &[]),
            ("D", 5, &["E"]),
            ("E", 6, &[]),
            ("F", 7, &[]),
            ("Root2", 8, &["B"]),
            ("Root3", 9, &["C"]),
            ("X", 10, &[]),
        ])
    }

    #[test]
    fn whole_graph_is_in_nar_size_order_ties_by_path() {
        // lib_test.py's references_graph: sizes D 0, B 4, E 5, A 10, C 6, F 2.
        let g = graph(&[
            ("D", 0, &["D"]),
            ("B", 4, &["B"]),
            ("E", 5, &["E"]),
            ("A", 10, &["C", "B"]),
            ("C", 6, &["C", "E", "D"]),
            ("F", 2, &["F"]),
            ("G", 2, &[]),
        ]);
        let sub = Sub::whole(&g);
        assert_eq!(names(&g, &sub), ["D", "F", "G", "B", "E", "C", "A"]);
        // Self-references are not edges.
        assert_eq!(
            edges(&g, &sub),
            [("A", "B"), ("A", "C"), ("C", "D"), ("C", "E")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn subcomponent_out_and_in_as_subcomponent_test_py() {
        let g = subcomponent_graph();
        let whole = Sub::whole(&g);
        let mut scratch = Scratch::new(&g);
        let (main, rest) = subcomponent(&g, &mut scratch, Direction::Out, &paths(&["B"]), &whole);
        assert_eq!(names(&g, &main), ["B", "D", "E"]);
        assert_eq!(edges(&g, &main).len(), 2);
        assert_eq!(names(&g, &rest), ["Root1", "A", "C", "Root2", "Root3", "X"]);
        assert_eq!(edges(&g, &rest).len(), 3);
        let (main, rest) = subcomponent(
            &g,
            &mut scratch,
            Direction::Out,
            &paths(&["B", "Root3", "missing"]),
            &whole,
        );
        assert_eq!(names(&g, &main), ["B", "C", "D", "E", "Root3"]);
        assert_eq!(names(&g, &rest), ["Root1", "A", "Root2", "X"]);
        let (main, rest) = subcomponent(&g, &mut scratch, Direction::In, &paths(&["B"]), &whole);
        assert_eq!(names(&g, &main), ["Root1", "A", "B", "Root2"]);
        assert_eq!(edges(&g, &main).len(), 3);
        assert_eq!(names(&g, &rest), ["C", "D", "E", "Root3", "X"]);
        assert_eq!(edges(&g, &rest), [("Root3".to_string(), "C".to_string())]);
        let (main, rest) = subcomponent(&g, &mut scratch, Direction::In, &[], &whole);
        assert!(main.is_empty());
        assert_eq!(rest, whole);
        // The scratch map is left clean.
        assert!(scratch.local.iter().all(|&l| l == ABSENT));
    }

    #[test]
    fn split_paths_as_split_paths_test_py() {
        let g = split_graph();
        let whole = Sub::whole(&g);
        let mut scratch = Scratch::new(&g);
        let split = |specs: &[SplitSpec], scratch: &mut Scratch| {
            split_paths(&g, scratch, specs, &whole)
                .into_iter()
                .map(|(k, s)| (k, names(&g, &s), edges(&g, &s).len()))
                .collect::<Vec<_>>()
        };
        let b = SplitSpec::Path(p("B"));
        assert_eq!(
            split(std::slice::from_ref(&b), &mut scratch),
            [
                ("main", vec!["B".to_string(), "F".into()], 1),
                ("common", vec!["D".into(), "E".into()], 1),
                (
                    "rest",
                    vec![
                        "Root1".into(),
                        "A".into(),
                        "C".into(),
                        "Root2".into(),
                        "Root3".into(),
                        "X".into()
                    ],
                    2
                ),
            ]
        );
        let root3 = SplitSpec::Path(p("Root3"));
        assert_eq!(
            split(&[b, root3], &mut scratch)
                .iter()
                .map(|(k, n, _)| (*k, n.len()))
                .collect::<Vec<_>>(),
            [("main", 4), ("common", 2), ("rest", 4)]
        );
        assert_eq!(
            split(&[SplitSpec::Path(p("D"))], &mut scratch)
                .iter()
                .map(|(k, n, _)| (*k, n.len()))
                .collect::<Vec<_>>(),
            [("main", 2), ("rest", 8)]
        );
        // No split path in the graph: just rest, unchanged.
        let none = split_paths(&g, &mut scratch, &[SplitSpec::Path(p("nope"))], &whole);
        assert_eq!(none, vec![("rest", whole.clone())]);
        // children_of A: A's references B and D are the split paths.
        let children = split(&[SplitSpec::ChildrenOf(paths(&["A"]))], &mut scratch);
        assert_eq!(children[0].1, ["B", "D", "E", "F"]);
    }

    #[test]
    fn split_paths_main_loses_edges_into_split_paths() {
        // A -> B -> C, split both A and B: B's in-edge goes.
        let g = graph(&[
            ("A", 1, &["B"]),
            ("B", 2, &["C"]),
            ("C", 3, &[]),
            ("R", 4, &["A"]),
        ]);
        let whole = Sub::whole(&g);
        let mut scratch = Scratch::new(&g);
        let split = split_paths(
            &g,
            &mut scratch,
            &[SplitSpec::Path(p("A")), SplitSpec::Path(p("B"))],
            &whole,
        );
        assert_eq!(split[0].0, "main");
        assert_eq!(names(&g, &split[0].1), ["A", "B", "C"]);
        assert_eq!(edges(&g, &split[0].1), [("B".to_string(), "C".to_string())]);
        assert_eq!(split[1].0, "rest");
        assert_eq!(names(&g, &split[1].1), ["R"]);
    }

    #[test]
    fn split_paths_single_root_that_is_split_gives_main_unchanged() {
        let g = graph(&[("A", 1, &["B"]), ("B", 2, &[])]);
        let whole = Sub::whole(&g);
        let mut scratch = Scratch::new(&g);
        assert_eq!(
            split_paths(&g, &mut scratch, &[SplitSpec::Path(p("A"))], &whole),
            vec![("main", whole.clone())]
        );
    }

    #[test]
    fn remove_paths_split_every_and_union_keep_order() {
        let g = subcomponent_graph();
        let whole = Sub::whole(&g);
        let mut scratch = Scratch::new(&g);
        let removed = remove_paths(&g, &mut scratch, &paths(&["A", "X", "nope"]), whole.clone());
        assert_eq!(
            names(&g, &removed),
            ["Root1", "B", "C", "D", "E", "Root2", "Root3"]
        );
        assert_eq!(edges(&g, &removed).len(), 4);
        let same = remove_paths(&g, &mut scratch, &paths(&["nope"]), whole.clone());
        assert_eq!(same, whole);
        let chunks = split_every(4, &whole);
        assert_eq!(
            chunks.iter().map(|c| names(&g, c)).collect::<Vec<_>>(),
            [
                vec!["Root1", "A", "B", "C"],
                vec!["D", "E", "Root2", "Root3"],
                vec!["X"]
            ]
        );
        assert_eq!(edges(&g, &chunks[0]).len(), 3);
        let union = Sub::disjoint_union(vec![chunks[2].clone(), chunks[0].clone(), Sub::single(4)]);
        // Node 4 is E (node ids follow path order).
        assert_eq!(names(&g, &union), ["X", "Root1", "A", "B", "C", "E"]);
        assert_eq!(edges(&g, &union), edges(&g, &chunks[0]));
        assert!(split_every(3, &Sub::default()).is_empty());
    }
}
