//! `pipeline`: nixpkgs' `layeringPipeline` language, so a pipeline written
//! for dockerTools runs here unchanged and gives the same layers.
//!
//! Peer: `flatten_references_graph` (nixpkgs
//! `pkgs/by-name/fl/flatten-references-graph`, formerly
//! `pkgs/build-support/flatten-references-graph`), which dockerTools'
//! `streamLayeredImage` runs through `dockerMakeLayers`
//! (`pkgs/build-support/docker/make-layers.nix`) when given
//! `layeringPipeline`; without one it runs
//! `[["popularity_contest"], ["limit_layers", maxLayers - 1 - base layers]]`
//! (`popularity-contest-layering-pipeline.nix`).
//!
//! A pipeline is a JSON list of operator calls applied in turn to the
//! closure graph (`parse.rs` has the grammar). Values between calls are
//! graphs, dicts of graphs and lists; the final value is flattened into
//! layers, bottom first, empty ones dropped. The operators:
//!
//! | call | takes | gives |
//! |---|---|---|
//! | `["popularity_contest"]` | graph | list of one-path graphs, most popular first (`contest.rs`) |
//! | `["subcomponent_out", paths]` | graph | `{main: paths and their closure, rest}` |
//! | `["subcomponent_in", paths]` | graph | `{main: paths and all that refers to them, rest}` |
//! | `["split_paths", specs]` | graph | `{main, common, rest}`, empty ones left out (`subgraph.rs`) |
//! | `["remove_paths", path(s)]` | graph | the graph without them |
//! | `["split_every", n]` | graph | list of graphs of `n` paths in vertex order |
//! | `["over", key, call]` | dict | the dict with `call` applied to `key`'s value |
//! | `["map", call]` | list | `call` applied to each item |
//! | `["pipe", [call, ...]]` | anything | the calls in turn |
//! | `["flatten"]` | list or dict | list of all graphs inside, depth first |
//! | `["reverse"]` | list | the list reversed |
//! | `["limit_layers", n]` | list | the first `n - 1` items, then all the others merged into one graph |
//! | `["reorder", keys]` | dict | the dict with `keys` first (others pass unchanged) |
//!
//! `reorder` is newer than the others: upstream's `lib.py` has it and its
//! tests run it through `pipe`.
//!
//! Vertex order, which decides `split_every`'s runs and the order inside a
//! layer, is igraph's: paths by `narSize`, ties by path, and each operator
//! keeps that order as igraph does (`subgraph.rs`). Paths a call names but
//! the graph lacks are ignored, as upstream does. Where upstream would
//! raise an exception (the image build fails), this returns
//! [`PlanError::Pipeline`] with a JSON pointer to the call or argument.
//!
//! Two things dockerTools allows that a plan cannot hold, and what Strata
//! does instead, in one rule: *the paths the pipeline dropped become one
//! more layer on top, then `["limit_layers", budget]` applies* (the first
//! `budget - 1` layers stay, the rest merge into the top one).
//!
//! - **Paths the pipeline drops** (`remove_paths`, meant for paths a
//!   `fromImage` already has). dockerTools leaves them out of the image; a
//!   plan holds every closure path. Leave them out with `--exclude`, or
//!   take them from a base image with `--base`: both take them out of that
//!   extra layer afterwards, so the plan then has exactly dockerTools'
//!   layers.
//! - **More layers than the budget.** dockerTools builds them all (a
//!   custom pipeline's layer count is never checked against `maxLayers`,
//!   though Docker's own limit is about 128). Here the budget is what
//!   is left after base and pinned layers, which a pipeline cannot know,
//!   so the overflow merges as dockerTools' own default pipeline merges
//!   its tail.

mod contest;
mod eval;
mod parse;
mod subgraph;

use super::{Context, Layers};
use crate::error::PlanError;
use crate::graph::Graph;
use crate::join::{Join, Sequential};

use eval::{Env, Value};
use subgraph::{Scratch, Sub};

/// Plans with the context's pipeline, within the budget, every path placed.
pub fn plan(ctx: &Context<'_>) -> Result<Layers, PlanError> {
    let pipeline = ctx.pipeline.ok_or_else(|| PlanError::MissingInput {
        algorithm: "pipeline".to_string(),
        what: "a pipeline (a nixpkgs layeringPipeline as JSON)".to_string(),
    })?;
    let layers = flatten_references_graph_with(ctx.graph, pipeline, ctx.join)?;
    Ok(complete(ctx.graph, layers, ctx.budget.max(1)))
}

/// What upstream's `flatten_references_graph` prints for this graph and
/// pipeline: its layers, bottom first, paths in igraph's order within
/// each, empty layers dropped. Paths the pipeline removed are in no layer,
/// and the number of layers is whatever the pipeline made.
pub fn flatten_references_graph(
    graph: &Graph,
    pipeline: &serde_json::Value,
) -> Result<Layers, PlanError> {
    flatten_references_graph_with(graph, pipeline, &Sequential)
}

/// [`flatten_references_graph`], its contests' closure walks in two halves
/// at once when `join` runs jobs side by side (the same layers either way).
pub fn flatten_references_graph_with(
    graph: &Graph,
    pipeline: &serde_json::Value,
    join: &dyn Join,
) -> Result<Layers, PlanError> {
    let calls = parse::parse_pipeline(pipeline)?;
    let mut env = Env {
        graph,
        join,
        scratch: Scratch::new(graph),
    };
    let value = eval::run(&calls, Value::Graph(Sub::whole(graph)), &mut env)?;
    if let Value::Graph(sub) = &value {
        // Upstream iterates the result, and an igraph graph cannot be.
        return Err(PlanError::Pipeline {
            at: String::new(),
            problem: format!(
                "the pipeline ends with a single graph of {} paths, not layers: end it with a call that gives a list or a dict of graphs, such as [\"popularity_contest\"] or [\"split_every\", N]",
                sub.len()
            ),
        });
    }
    let mut graphs = Vec::new();
    eval::flatten_into(value, &mut graphs);
    Ok(graphs
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|g| g.nodes)
        .collect())
}

/// Places the paths the pipeline dropped and keeps within the budget (the
/// rule in the module documentation).
fn complete(graph: &Graph, mut layers: Layers, budget: usize) -> Layers {
    let mut placed = vec![false; graph.len()];
    for &id in layers.iter().flatten() {
        placed[id] = true;
    }
    let dropped: Vec<_> = subgraph::igraph_order(graph)
        .into_iter()
        .filter(|&id| !placed[id])
        .collect();
    if !dropped.is_empty() {
        layers.push(dropped);
    }
    if layers.len() > budget {
        let tail: Vec<_> = layers.drain(budget - 1..).flatten().collect();
        layers.push(tail);
    }
    layers
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::subgraph::tests::{graph, p};
    use super::*;
    use crate::algorithms::popularity;

    fn ctx<'a>(
        g: &'a Graph,
        budget: usize,
        pipeline: Option<&'a serde_json::Value>,
    ) -> Context<'a> {
        Context {
            graph: g,
            budget,
            popularity: None,
            pipeline,
            previous: None,
            fleet: None,
            join: &Sequential,
        }
    }

    fn named(g: &Graph, layers: &Layers) -> Vec<Vec<String>> {
        layers
            .iter()
            .map(|l| l.iter().map(|&id| g.name(id).to_string()).collect())
            .collect()
    }

    fn sample() -> Graph {
        graph(&[
            ("app", 5, &["lib1", "lib2", "glibc"]),
            ("lib1", 3, &["glibc", "zlib"]),
            ("lib2", 3, &["glibc"]),
            ("zlib", 2, &["glibc"]),
            ("glibc", 9, &[]),
            ("tool", 1, &["zlib"]),
            ("data", 4, &[]),
        ])
    }

    #[test]
    fn a_pipeline_is_needed() {
        let g = sample();
        assert_eq!(
            plan(&ctx(&g, 5, None)),
            Err(PlanError::MissingInput {
                algorithm: "pipeline".into(),
                what: "a pipeline (a nixpkgs layeringPipeline as JSON)".into()
            })
        );
    }

    /// dockerTools says `[["popularity_contest"], ["limit_layers", N]]` is
    /// its default; the `popularity` algorithm is that default.
    #[test]
    fn popularity_pipeline_equals_the_popularity_algorithm() {
        let g = sample();
        for budget in 1..=9 {
            let pipeline = json!([["popularity_contest"], ["limit_layers", budget]]);
            assert_eq!(
                plan(&ctx(&g, budget, Some(&pipeline))).unwrap(),
                popularity::plan(&ctx(&g, budget, None)).unwrap(),
                "budget {budget}"
            );
        }
    }

    #[test]
    fn layers_keep_igraph_order_and_empty_ones_go() {
        let g = sample();
        let pipeline = json!([["subcomponent_out", [p("nope")]]]);
        assert_eq!(
            named(&g, &flatten_references_graph(&g, &pipeline).unwrap()),
            [["tool", "zlib", "lib1", "lib2", "data", "app", "glibc"]]
        );
    }

    #[test]
    fn a_single_graph_at_the_end_is_an_error() {
        let g = sample();
        for pipeline in [
            json!([]),
            json!([["remove_paths", []]]),
            json!([["pipe", []]]),
        ] {
            match flatten_references_graph(&g, &pipeline) {
                Err(PlanError::Pipeline { at, problem }) => {
                    assert_eq!(at, "");
                    assert!(problem.contains("single graph of 7 paths"), "{problem}");
                }
                other => panic!("{pipeline}: {other:?}"),
            }
        }
    }

    #[test]
    fn more_layers_than_the_budget_merge_into_the_top_one() {
        let g = sample();
        let pipeline = json!([["split_every", 2]]);
        let upstream = named(&g, &flatten_references_graph(&g, &pipeline).unwrap());
        assert_eq!(upstream.len(), 4);
        assert_eq!(
            named(&g, &plan(&ctx(&g, 4, Some(&pipeline))).unwrap()),
            upstream
        );
        let planned = named(&g, &plan(&ctx(&g, 2, Some(&pipeline))).unwrap());
        assert_eq!(planned[0], upstream[0]);
        assert_eq!(planned[1], upstream[1..].concat());
        assert_eq!(plan(&ctx(&g, 1, Some(&pipeline))).unwrap().len(), 1);
    }

    #[test]
    fn removed_paths_get_a_layer_on_top_or_join_the_top_layer() {
        let g = sample();
        let pipeline = json!([
            ["remove_paths", [p("glibc"), p("data")]],
            ["popularity_contest"],
            ["limit_layers", 3]
        ]);
        let upstream = named(&g, &flatten_references_graph(&g, &pipeline).unwrap());
        assert_eq!(
            upstream,
            [vec!["zlib"], vec!["lib1"], vec!["lib2", "app", "tool"]]
        );
        let mut with_layer = upstream.clone();
        with_layer.push(vec!["data".into(), "glibc".into()]);
        assert_eq!(
            named(&g, &plan(&ctx(&g, 4, Some(&pipeline))).unwrap()),
            with_layer
        );
        let mut joined = upstream.clone();
        joined[2].extend(["data".to_string(), "glibc".to_string()]);
        assert_eq!(
            named(&g, &plan(&ctx(&g, 3, Some(&pipeline))).unwrap()),
            joined
        );
        // Everything removed: one layer of it all.
        let all = json!([
            [
                "remove_paths",
                (0..g.len()).map(|i| g.path(i)).collect::<Vec<_>>()
            ],
            ["split_every", 1]
        ]);
        assert_eq!(plan(&ctx(&g, 2, Some(&all))).unwrap().len(), 1);
    }

    #[test]
    fn errors_keep_their_place_through_plan() {
        let g = sample();
        let pipeline = json!([["popularity_contest"], ["over", "main", ["flatten"]]]);
        match plan(&ctx(&g, 5, Some(&pipeline))) {
            Err(PlanError::Pipeline { at, problem }) => {
                assert_eq!(at, "/1");
                assert!(problem.contains("`over` works on a dict"), "{problem}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_closure_gives_no_layers() {
        let g = Graph::new(Vec::new(), None, "/nix/store").unwrap();
        let pipeline = json!([["split_paths", [p("a")]], ["flatten"]]);
        assert_eq!(plan(&ctx(&g, 3, Some(&pipeline))).unwrap(), Layers::new());
        let pipeline = json!([["popularity_contest"], ["limit_layers", 3]]);
        assert_eq!(plan(&ctx(&g, 3, Some(&pipeline))).unwrap(), Layers::new());
    }
}
