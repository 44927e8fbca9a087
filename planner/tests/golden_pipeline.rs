//! Golden tests of the `pipeline` algorithm against nixpkgs'
//! `flatten_references_graph` (tests/golden/pipeline/README.md says where
//! each case came from), and of dockerTools' default pipeline against the
//! `popularity` algorithm.
//!
//! `STRATA_BLESS=1` rewrites the `*.layers.json` files from Strata's own
//! output instead of checking them; review the diff, since any change means
//! Strata no longer matches upstream.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use strata_planner::algorithms::pipeline::flatten_references_graph;
use strata_planner::{check_plan, parse_closure, plan_closure, Algorithm, Graph, PlanOptions};

fn golden_dir() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("tests/golden")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

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
            fs::read_to_string(golden_dir().join(format!("closures/{closure}.json"))).unwrap()
        }
        _ => serde_json::to_string(&serde_json::json!({ "graph": case["graph"] })).unwrap(),
    };
    parse_closure(&text, "/nix/store").unwrap()
}

/// The name part of a store path (after the hash and dash).
fn name_of(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap();
    &base[33..]
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
    let bless = std::env::var_os("STRATA_BLESS").is_some();
    let all = cases();
    assert!(all.len() >= 30, "only {} golden cases found", all.len());
    for (name, case) in all {
        let graph = case_graph(&case);
        let pipeline = &case["pipeline"];
        let budget = case["budget"].as_u64().unwrap() as usize;
        let got: Vec<Vec<String>> = flatten_references_graph(&graph, pipeline)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_iter()
            .map(|l| l.into_iter().map(|id| graph.path(id).to_string()).collect())
            .collect();
        let file = golden_dir().join(format!("pipeline/{name}.layers.json"));
        if bless {
            let mut text = serde_json::to_string_pretty(&got).unwrap();
            text.push('\n');
            fs::write(&file, text).unwrap();
        }
        let expected: Vec<Vec<String>> = serde_json::from_value(read_json(&file)).unwrap();
        assert_eq!(got, expected, "{name}: layers differ from upstream's");

        // The upstream test's own assertion (layers as sets of names).
        if let Some(asserted) = case.get("upstream_expected") {
            let asserted: Vec<BTreeSet<String>> = serde_json::from_value(asserted.clone()).unwrap();
            let got_names: Vec<BTreeSet<String>> = got
                .iter()
                .map(|l| l.iter().map(|p| name_of(p).to_string()).collect())
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
            .map(|n| n.path.clone())
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
        let plan_layers: Vec<Vec<String>> = plan.layers.into_iter().map(|l| l.paths).collect();
        assert_eq!(plan_layers, sorted(&want), "{name}: planned layers");
    }
}

/// dockerTools' default is `[["popularity_contest"], ["limit_layers", N]]`
/// (popularity-contest-layering-pipeline.nix); the `popularity` algorithm
/// reproduces it from closure-graph.py. Both must give the same layers,
/// and those of closure-graph.py (golden/popularity).
#[test]
fn default_docker_pipeline_is_the_popularity_algorithm() {
    let mut checked = 0;
    for entry in fs::read_dir(golden_dir().join("closures")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let graph = parse_closure(&fs::read_to_string(&path).unwrap(), "/nix/store").unwrap();
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
            let expected: Vec<Vec<String>> = serde_json::from_value(read_json(&file)).unwrap();
            let got: Vec<Vec<String>> = by_pipeline.layers.into_iter().map(|l| l.paths).collect();
            assert_eq!(
                got,
                sorted(&expected),
                "{name} b{budget} vs closure-graph.py"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} closures and budgets checked");
}
