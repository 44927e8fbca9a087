//! Golden tests of the `pipeline` algorithm against nixpkgs'
//! `flatten_references_graph` (tests/golden/pipeline/README.md says where
//! each case came from), and of dockerTools' default pipeline against the
//! `popularity` algorithm.
//!
//! `STRATA_BLESS=1` rewrites the `*.layers.json` files from Strata's own
//! output instead of checking them; review the diff, since any change means
//! Strata no longer matches upstream.

mod support;

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;
use strata_planner::algorithms::pipeline::flatten_references_graph;
use strata_planner::{
    check_plan, parse_closure, plan_closure, Algorithm, Graph, PlanOptions, StorePath,
};
use support::{closures, golden_dir, layer_paths, read, read_json, Golden};

/// The case files, `NAME.json` beside `NAME.layers.json`, by name.
fn cases() -> Vec<(String, Value)> {
    let dir = golden_dir().join("pipeline");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.ends_with(".layers.json"))
        .map(|n| n.trim_end_matches(".json").to_string())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let case = read_json(&dir.join(format!("{name}.json")));
            (name, case)
        })
        .collect()
}

fn case_graph(case: &Value) -> Graph {
    let text = match case.get("closure") {
        Some(Value::String(closure)) => {
            read(&golden_dir().join(format!("closures/{closure}.json")))
        }
        _ => serde_json::to_string(&serde_json::json!({ "graph": case["graph"] })).unwrap(),
    };
    parse_closure(&text, "/nix/store").unwrap()
}

fn sorted(layers: &[Vec<String>]) -> Vec<Vec<String>> {
    layers
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.sort();
            l
        })
        .collect()
}

#[test]
fn pipeline_matches_flatten_references_graph() {
    let mut golden = Golden::default();
    for (name, case) in cases() {
        let graph = case_graph(&case);
        let pipeline = &case["pipeline"];
        let budget = case["budget"].as_u64().unwrap() as usize;
        let got: Vec<Vec<String>> = flatten_references_graph(&graph, pipeline)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_iter()
            .map(|l| l.into_iter().map(|id| graph.path(id).to_string()).collect())
            .collect();
        golden.check(
            &format!("pipeline/{name}.layers.json"),
            &got,
            &format!("{name}: layers differ from upstream's"),
        );

        // The upstream test's own assertion (layers as sets of names).
        if let Some(asserted) = case.get("upstream_expected") {
            let asserted: Vec<BTreeSet<String>> = serde_json::from_value(asserted.clone()).unwrap();
            let got_names: Vec<BTreeSet<String>> = got
                .iter()
                .map(|l| {
                    l.iter()
                        .map(|p| p.parse::<StorePath>().unwrap().name().to_string())
                        .collect()
                })
                .collect();
            assert_eq!(got_names, asserted, "{name}: upstream test's assertion");
        }

        // Through the planner: upstream's layers, the paths the pipeline
        // dropped in one more layer, then limit_layers(budget).
        let mut options = PlanOptions::new(Algorithm::Pipeline, budget);
        options.pipeline = Some(pipeline.clone());
        let plan = plan_closure(&graph, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_plan(&plan, &graph).unwrap_or_else(|e| panic!("{name}: {e}"));
        let placed: BTreeSet<&str> = got.iter().flatten().map(String::as_str).collect();
        let dropped: Vec<String> = graph
            .nodes()
            .iter()
            .map(|n| n.path.to_string())
            .filter(|p| !placed.contains(p.as_str()))
            .collect();
        let mut want = got.clone();
        if !dropped.is_empty() {
            want.push(dropped);
        }
        if want.len() > budget {
            let tail = want.split_off(budget - 1).concat();
            want.push(tail);
        }
        assert_eq!(layer_paths(&plan), sorted(&want), "{name}: planned layers");
    }
    golden.at_least(30);
}

/// dockerTools' default is `[["popularity_contest"], ["limit_layers", N]]`
/// (popularity-contest-layering-pipeline.nix); the `popularity` algorithm
/// reproduces it from closure-graph.py. Both must give the same layers,
/// and those of closure-graph.py (golden/popularity).
#[test]
fn default_docker_pipeline_is_the_popularity_algorithm() {
    let mut golden = Golden::default();
    for (name, graph) in closures() {
        for budget in [1, 2, 5, 20, 100] {
            let mut options = PlanOptions::new(Algorithm::Pipeline, budget);
            options.pipeline = Some(serde_json::json!([
                ["popularity_contest"],
                ["limit_layers", budget]
            ]));
            let by_pipeline = plan_closure(&graph, &options).unwrap();
            let by_popularity =
                plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, budget)).unwrap();
            assert_eq!(by_pipeline.layers, by_popularity.layers, "{name} b{budget}");
            let file = golden_dir().join(format!("popularity/{name}.b{budget}.json"));
            let expected: Vec<Vec<String>> = read_json(&file);
            assert_eq!(
                layer_paths(&by_pipeline),
                sorted(&expected),
                "{name} b{budget} vs closure-graph.py"
            );
            golden.count();
        }
    }
    golden.at_least(30);
}
