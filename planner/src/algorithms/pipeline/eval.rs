//! Running a pipeline: the values that flow between operators and what each
//! operator does to them.
//!
//! Upstream passes Python values along: an igraph graph, a dict of graphs
//! (what `subcomponent_*` and `split_paths` return), or an iterable (what
//! `popularity_contest`, `split_every`, `map`, `flatten`, `reverse` and
//! `limit_layers` return). Iterables are lazy there, but every one is
//! consumed exactly once, so evaluating eagerly gives the same result.
//!
//! Where upstream would fail (a Python exception, so the Nix build fails),
//! this fails with the call's place: an operator given a kind of value it
//! cannot work on, `over` on a key the dict lacks (`split_paths` leaves out
//! empty results, so `["over", "common", ...]` fails when nothing is
//! common). Upstream lets a few of those through and fails later, or
//! yields garbage: `map`, `reverse` and `limit_layers` on a dict iterate
//! its keys (strings, never graphs), `limit_layers` merging a non-graph.

use crate::error::PlanError;
use crate::graph::Graph;
use crate::join::Join;

use super::contest::popularity_order;
use super::parse::{Call, Direction, Op};
use super::subgraph::{self, Scratch, Sub};

/// A value between two operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// One igraph graph.
    Graph(Sub),
    /// A dict of results by key (`main`, `common`, `rest`), in order.
    Dict(Vec<(&'static str, Value)>),
    /// A list (any Python iterable).
    List(Vec<Value>),
}

impl Value {
    /// What the value is, for messages.
    fn describe(&self) -> String {
        match self {
            Value::Graph(sub) => format!("a graph of {} paths", sub.len()),
            Value::Dict(entries) => {
                let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
                format!("a dict with keys [{}]", keys.join(", "))
            }
            Value::List(items) => format!("a list of {} items", items.len()),
        }
    }
}

/// The graph and the scratch space every operator shares.
pub(super) struct Env<'g> {
    pub graph: &'g Graph,
    /// Runs the contest's closure walks in two halves when it can.
    pub join: &'g dyn Join,
    pub scratch: Scratch,
}

fn error(call: &Call, problem: String) -> PlanError {
    PlanError::Pipeline {
        at: call.at.clone(),
        problem,
    }
}

fn name(op: &Op) -> &'static str {
    match op {
        Op::PopularityContest => "popularity_contest",
        Op::Subcomponent(Direction::In, _) => "subcomponent_in",
        Op::Subcomponent(Direction::Out, _) => "subcomponent_out",
        Op::SplitPaths(_) => "split_paths",
        Op::Over(..) => "over",
        Op::Pipe(_) => "pipe",
        Op::Map(_) => "map",
        Op::Flatten => "flatten",
        Op::SplitEvery(_) => "split_every",
        Op::LimitLayers(_) => "limit_layers",
        Op::RemovePaths(_) => "remove_paths",
        Op::Reverse => "reverse",
        Op::Reorder(_) => "reorder",
    }
}

/// Runs calls one after the other (upstream's `pipe`).
pub(super) fn run(calls: &[Call], value: Value, env: &mut Env<'_>) -> Result<Value, PlanError> {
    calls
        .iter()
        .try_fold(value, |value, call| apply(call, value, env))
}

/// Runs one call on a value.
pub(super) fn apply(call: &Call, value: Value, env: &mut Env<'_>) -> Result<Value, PlanError> {
    let wrong = |wanted: &str, value: &Value| {
        error(
            call,
            format!(
                "`{}` works on {wanted}, but got {}",
                name(&call.op),
                value.describe()
            ),
        )
    };
    let graph = env.graph;
    match (&call.op, value) {
        (Op::PopularityContest, Value::Graph(sub)) => Ok(Value::List(
            popularity_order(graph, &sub, env.join)
                .into_iter()
                .map(|id| Value::Graph(Sub::single(id)))
                .collect(),
        )),
        (Op::Subcomponent(direction, paths), Value::Graph(sub)) => {
            let (main, rest) =
                subgraph::subcomponent(graph, &mut env.scratch, *direction, paths, &sub);
            Ok(Value::Dict(vec![
                ("main", Value::Graph(main)),
                ("rest", Value::Graph(rest)),
            ]))
        }
        (Op::SplitPaths(specs), Value::Graph(sub)) => Ok(Value::Dict(
            subgraph::split_paths(graph, &mut env.scratch, specs, &sub)
                .into_iter()
                .map(|(key, g)| (key, Value::Graph(g)))
                .collect(),
        )),
        (Op::RemovePaths(paths), Value::Graph(sub)) => Ok(Value::Graph(subgraph::remove_paths(
            graph,
            &mut env.scratch,
            paths,
            sub,
        ))),
        (Op::SplitEvery(count), Value::Graph(sub)) => Ok(Value::List(
            subgraph::split_every(*count, &sub)
                .into_iter()
                .map(Value::Graph)
                .collect(),
        )),
        (
            Op::PopularityContest
            | Op::Subcomponent(..)
            | Op::SplitPaths(_)
            | Op::RemovePaths(_)
            | Op::SplitEvery(_),
            other,
        ) => Err(wrong("a graph", &other)),
        (Op::Over(key, inner), Value::Dict(mut entries)) => {
            let Some(slot) = entries.iter_mut().find(|(k, _)| k == key) else {
                let keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
                return Err(error(
                    call,
                    format!(
                        "`over` found no key {key:?}; the dict has [{}] (split_paths leaves out empty results)",
                        keys.join(", ")
                    ),
                ));
            };
            let value = std::mem::replace(&mut slot.1, Value::List(Vec::new()));
            slot.1 = apply(inner, value, env)?;
            Ok(Value::Dict(entries))
        }
        (Op::Over(..), other) => Err(wrong("a dict (from subcomponent_* or split_paths)", &other)),
        (Op::Reorder(keys), Value::Dict(entries)) => {
            let mut rest: Vec<Option<(&'static str, Value)>> =
                entries.into_iter().map(Some).collect();
            let mut ordered = Vec::with_capacity(rest.len());
            for key in keys {
                if let Some(slot) = rest
                    .iter_mut()
                    .find(|e| e.as_ref().is_some_and(|(k, _)| k == key))
                {
                    ordered.extend(slot.take());
                }
            }
            ordered.extend(rest.into_iter().flatten());
            Ok(Value::Dict(ordered))
        }
        // Upstream passes anything but a dict through unchanged.
        (Op::Reorder(_), other) => Ok(other),
        (Op::Pipe(calls), value) => run(calls, value, env),
        (Op::Map(inner), Value::List(items)) => Ok(Value::List(
            items
                .into_iter()
                .map(|item| apply(inner, item, env))
                .collect::<Result<_, _>>()?,
        )),
        (Op::Map(_), other) => Err(wrong("a list", &other)),
        (Op::Flatten, value @ (Value::List(_) | Value::Dict(_))) => {
            let mut graphs = Vec::new();
            flatten_into(value, &mut graphs);
            Ok(Value::List(graphs.into_iter().map(Value::Graph).collect()))
        }
        (Op::Flatten, other) => Err(wrong("a list or a dict", &other)),
        (Op::Reverse, Value::List(mut items)) => {
            items.reverse();
            Ok(Value::List(items))
        }
        (Op::Reverse, other) => Err(wrong("a list", &other)),
        (Op::LimitLayers(max), Value::List(mut items)) => {
            let keep = (*max - 1).min(items.len());
            let mut merged = Vec::with_capacity(items.len() - keep);
            for (i, item) in items.drain(keep..).enumerate() {
                match item {
                    Value::Graph(sub) => merged.push(sub),
                    other => {
                        return Err(error(
                            call,
                            format!(
                                "`limit_layers` merges graphs, but item {} is {}",
                                keep + i,
                                other.describe()
                            ),
                        ))
                    }
                }
            }
            items.push(Value::Graph(Sub::disjoint_union(merged)));
            Ok(Value::List(items))
        }
        (Op::LimitLayers(_), other) => Err(wrong("a list", &other)),
    }
}

/// Upstream's `flatten`: the graphs of nested lists and dicts, depth first,
/// dict values in key order.
pub(super) fn flatten_into(value: Value, out: &mut Vec<Sub>) {
    match value {
        Value::Graph(sub) => out.push(sub),
        Value::Dict(entries) => {
            for (_, v) in entries {
                flatten_into(v, out);
            }
        }
        Value::List(items) => {
            for v in items {
                flatten_into(v, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::parse::parse_pipeline;
    use super::super::subgraph::tests::{graph, names, split_graph, subcomponent_graph};
    use super::*;

    /// Runs a pipeline on the whole graph and shows the result as nested
    /// names: graphs as `[a b c]`, dicts as `{key: ...}`, lists as `(...)`.
    fn show(g: &Graph, pipeline: serde_json::Value) -> Result<String, PlanError> {
        let calls = parse_pipeline(&pipeline)?;
        let mut env = Env {
            graph: g,
            join: &crate::join::Sequential,
            scratch: Scratch::new(g),
        };
        let value = run(&calls, Value::Graph(Sub::whole(g)), &mut env)?;
        Ok(render(g, &value))
    }

    fn render(g: &Graph, value: &Value) -> String {
        match value {
            Value::Graph(sub) => format!("[{}]", names(g, sub).join(" ")),
            Value::Dict(entries) => {
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", render(g, v)))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            Value::List(items) => {
                let inner: Vec<String> = items.iter().map(|v| render(g, v)).collect();
                format!("({})", inner.join(" "))
            }
        }
    }

    fn failure(g: &Graph, pipeline: serde_json::Value) -> (String, String) {
        match show(g, pipeline) {
            Err(PlanError::Pipeline { at, problem }) => (at, problem),
            other => panic!("expected a pipeline error, got {other:?}"),
        }
    }

    /// pipe_test.py's graph: Root1 -> A -> B, C; B -> D, E, G; E -> F;
    /// Root2 -> B; Root3 -> C.
    fn pipe_graph() -> Graph {
        graph(&[
            ("Root1", 1, &["A"]),
            ("A", 2, &["B", "C"]),
            ("B", 3, &["D", "E", "G"]),
            ("D", 4, &[]),
            ("E", 5, &["F"]),
            ("F", 6, &[]),
            ("G", 7, &[]),
            ("Root2", 8, &["B"]),
            ("Root3", 9, &["C"]),
            ("C", 10, &[]),
        ])
    }

    #[test]
    fn popularity_contest_gives_one_graph_per_path() {
        let g = graph(&[
            ("Root1", 1, &["A"]),
            ("A", 1, &["B"]),
            ("B", 1, &[]),
            ("Root2", 1, &[]),
        ]);
        assert_eq!(
            show(&g, json!([["popularity_contest"]])).unwrap(),
            "([B] [A] [Root1] [Root2])"
        );
        assert_eq!(
            show(&g, json!([["popularity_contest"], ["limit_layers", 3]])).unwrap(),
            "([B] [A] [Root1 Root2])"
        );
        assert_eq!(
            show(
                &g,
                json!([["popularity_contest"], ["reverse"], ["limit_layers", 3]])
            )
            .unwrap(),
            "([Root2] [Root1] [A B])"
        );
    }

    #[test]
    fn subcomponent_gives_main_and_rest() {
        let g = subcomponent_graph();
        assert_eq!(
            show(
                &g,
                json!([["subcomponent_out", [super::super::subgraph::tests::p("B")]]])
            )
            .unwrap(),
            "{main: [B D E], rest: [Root1 A C Root2 Root3 X]}"
        );
        assert_eq!(
            show(&g, json!([["subcomponent_in", ["/nix/store/not-there"]]])).unwrap(),
            "{main: [], rest: [Root1 A B C D E Root2 Root3 X]}"
        );
    }

    #[test]
    fn split_paths_leaves_out_empty_results() {
        let g = split_graph();
        let d = super::super::subgraph::tests::p("D");
        assert_eq!(
            show(&g, json!([["split_paths", [d]]])).unwrap(),
            "{main: [D E], rest: [Root1 A B C F Root2 Root3 X]}"
        );
    }

    #[test]
    fn over_applies_to_one_key_and_keeps_the_order() {
        let g = pipe_graph();
        let b = super::super::subgraph::tests::p("B");
        let pipeline = json!([
            ["split_paths", [b]],
            [
                "over",
                "main",
                [
                    "pipe",
                    [
                        ["subcomponent_in", [b]],
                        ["over", "rest", ["popularity_contest"]]
                    ]
                ]
            ],
        ]);
        assert_eq!(
            show(&g, pipeline).unwrap(),
            "{main: {main: [B], rest: ([F] [D] [E] [G])}, rest: [Root1 A Root2 Root3 C]}"
        );
        let (at, problem) = failure(
            &g,
            json!([["split_paths", [b]], ["over", "common", ["flatten"]]]),
        );
        assert_eq!(at, "/1");
        assert!(
            problem.contains("no key \"common\"") && problem.contains("[main, rest]"),
            "{problem}"
        );
    }

    /// pipe_test.py test_1, all of it.
    #[test]
    fn pipe_test_1() {
        let g = pipe_graph();
        let b = super::super::subgraph::tests::p("B");
        let root3 = super::super::subgraph::tests::p("Root3");
        let pipeline = json!([
            ["split_paths", [b]],
            [
                "over",
                "main",
                [
                    "pipe",
                    [
                        ["subcomponent_in", [b]],
                        ["over", "rest", ["popularity_contest"]]
                    ]
                ]
            ],
            ["flatten"],
            ["map", ["remove_paths", root3]],
            ["limit_layers", 5]
        ]);
        assert_eq!(
            show(&g, pipeline).unwrap(),
            "([B] [F] [D] [E] [G Root1 A Root2 C])"
        );
    }

    #[test]
    fn flatten_goes_depth_first() {
        let g = split_graph();
        let b = super::super::subgraph::tests::p("B");
        assert_eq!(
            show(
                &g,
                json!([
                    ["split_paths", [b]],
                    ["over", "rest", ["split_every", 4]],
                    ["flatten"]
                ])
            )
            .unwrap(),
            "([B F] [D E] [Root1 A C Root2] [Root3 X])"
        );
        let (at, problem) = failure(&g, json!([["flatten"]]));
        assert_eq!(at, "/0");
        assert!(
            problem.contains("`flatten` works on a list or a dict, but got a graph of 10 paths"),
            "{problem}"
        );
    }

    #[test]
    fn map_reverse_and_limit_layers_need_lists() {
        let g = split_graph();
        for (pipeline, at) in [
            (json!([["map", ["flatten"]]]), "/0"),
            (json!([["subcomponent_in", []], ["reverse"]]), "/1"),
            (json!([["subcomponent_in", []], ["limit_layers", 2]]), "/1"),
            (
                json!([["split_every", 2], ["over", "rest", ["flatten"]]]),
                "/1",
            ),
            (json!([["split_every", 2], ["popularity_contest"]]), "/1"),
            (
                json!([
                    ["split_every", 2],
                    ["map", ["pipe", [["split_every", 1], ["remove_paths", []]]]]
                ]),
                "/1/1/1/1",
            ),
        ] {
            let (got, problem) = failure(&g, pipeline.clone());
            assert_eq!(got, at, "{pipeline}: {problem}");
            assert!(problem.contains("works on"), "{problem}");
        }
    }

    #[test]
    fn limit_layers_merges_the_tail_and_may_leave_an_empty_graph() {
        let g = split_graph();
        assert_eq!(
            show(&g, json!([["split_every", 3], ["limit_layers", 2]])).unwrap(),
            "([Root1 A B] [C D E F Root2 Root3 X])"
        );
        assert_eq!(
            show(&g, json!([["split_every", 5], ["limit_layers", 3]])).unwrap(),
            "([Root1 A B C D] [E F Root2 Root3 X] [])"
        );
        assert_eq!(
            show(&g, json!([["split_every", 4], ["limit_layers", 1]])).unwrap(),
            "([Root1 A B C D E F Root2 Root3 X])"
        );
        // Only the merged part must be graphs.
        assert_eq!(
            show(
                &g,
                json!([
                    ["split_every", 10],
                    ["map", ["subcomponent_out", []]],
                    ["limit_layers", 2]
                ])
            )
            .unwrap(),
            "({main: [], rest: [Root1 A B C D E F Root2 Root3 X]} [])"
        );
        let (at, problem) = failure(
            &g,
            json!([
                ["split_every", 5],
                ["map", ["subcomponent_out", []]],
                ["limit_layers", 1]
            ]),
        );
        assert_eq!(at, "/2");
        assert!(problem.contains("item 0 is a dict"), "{problem}");
    }

    #[test]
    fn remove_paths_takes_one_path_or_a_list() {
        let g = split_graph();
        let p = super::super::subgraph::tests::p;
        assert_eq!(
            show(
                &g,
                json!([
                    ["remove_paths", p("A")],
                    ["remove_paths", [p("B"), p("nope")]],
                    ["split_every", 100]
                ])
            )
            .unwrap(),
            "([Root1 C D E F Root2 Root3 X])"
        );
    }

    #[test]
    fn reorder_moves_keys_and_passes_other_values() {
        let g = split_graph();
        let b = super::super::subgraph::tests::p("B");
        assert_eq!(
            show(
                &g,
                json!([["split_paths", [b]], ["reorder", ["rest", "nope", "main"]]])
            )
            .unwrap(),
            "{rest: [Root1 A C Root2 Root3 X], main: [B F], common: [D E]}"
        );
        assert_eq!(
            show(&g, json!([["split_every", 6], ["reorder", ["rest"]]])).unwrap(),
            "([Root1 A B C D E] [F Root2 Root3 X])"
        );
    }

    #[test]
    fn pipe_nests() {
        let g = split_graph();
        assert_eq!(
            show(
                &g,
                json!([["pipe", [["pipe", [["split_every", 5]]], ["reverse"]]]])
            )
            .unwrap(),
            "([E F Root2 Root3 X] [Root1 A B C D])"
        );
        assert_eq!(
            show(&g, json!([["pipe", []]])).unwrap(),
            "[Root1 A B C D E F Root2 Root3 X]"
        );
    }
}
