//! Golden tests: the `nixery` algorithm against Nixery's own output (see
//! tests/golden/nixery/README.md for how each file was made).

mod support;

use strata_planner::{
    parse_closure, parse_popularity, plan_closure, Algorithm, Graph, PlanOptions, Popularity,
};
use support::{closures, golden_dir, layer_paths, read, Golden};

/// Budgets for the Debian closures; 94 is Nixery's `LayerBudget`.
const BUDGETS: [usize; 5] = [1, 2, 5, 20, 94];

/// Budgets for the example in layers.go's header (which lists 1 to 4 and 10).
const HEADER_BUDGETS: [usize; 7] = [1, 2, 3, 4, 5, 6, 10];

/// Plans `graph` at each budget and compares with `nixery/STEM.bN.json`.
fn check(
    golden: &mut Golden,
    graph: &Graph,
    popularity: Option<&Popularity>,
    stem: &str,
    budgets: &[usize],
) {
    for &budget in budgets {
        let mut options = PlanOptions::new(Algorithm::Nixery, budget);
        options.popularity = popularity.cloned();
        let plan = plan_closure(graph, &options).unwrap();
        golden.check(
            &format!("nixery/{stem}.b{budget}.json"),
            &layer_paths(&plan),
            &format!("nixery on {stem} with budget {budget}"),
        );
    }
}

fn popularity(file: &str) -> Popularity {
    parse_popularity(&read(&golden_dir().join(file))).unwrap()
}

/// The tree and results per budget in the header of tazjin/nixery
/// layers/layers.go.
#[test]
fn nixery_layers_go_header_example() {
    let graph = parse_closure(
        &read(&golden_dir().join("nixery/layers-go-header.json")),
        "/nix/store",
    )
    .unwrap();
    let mut golden = Golden::default();
    let popularity = popularity("nixery/layers-go-header.popularity.json");
    check(
        &mut golden,
        &graph,
        Some(&popularity),
        "layers-go-header",
        &HEADER_BUDGETS,
    );
    golden.at_least(HEADER_BUDGETS.len());
}

#[test]
fn nixery_debian_closures_without_popularity() {
    let mut golden = Golden::default();
    for (name, graph) in closures() {
        check(&mut golden, &graph, None, &name, &BUDGETS);
    }
    golden.at_least(30);
}

#[test]
fn nixery_debian_closures_with_popularity() {
    let popularity = popularity("nixery/popularity.json");
    let mut golden = Golden::default();
    for (name, graph) in closures() {
        let stem = format!("{name}.popular");
        check(&mut golden, &graph, Some(&popularity), &stem, &BUDGETS);
    }
    golden.at_least(30);
}
