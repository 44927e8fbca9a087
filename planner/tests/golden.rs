//! Golden tests: `popularity` and `auto` against their upstreams' output
//! (closure-graph.py, auto-layer.py) on the same closures.

mod support;

use strata_planner::{plan_closure, Algorithm, PlanOptions};
use support::{closures, layer_paths, Golden};

const BUDGETS: [usize; 5] = [1, 2, 5, 20, 100];

fn check_algorithm(algorithm: Algorithm) {
    let mut golden = Golden::default();
    for (name, graph) in closures() {
        for budget in BUDGETS {
            let plan = plan_closure(&graph, &PlanOptions::new(algorithm, budget)).unwrap();
            golden.check(
                &format!("{algorithm}/{name}.b{budget}.json"),
                &layer_paths(&plan),
                &format!("{algorithm} on {name} with budget {budget}"),
            );
        }
    }
    golden.at_least(30);
}

#[test]
fn popularity_matches_closure_graph_py() {
    check_algorithm(Algorithm::Popularity);
}

#[test]
fn auto_matches_auto_layer_py() {
    check_algorithm(Algorithm::Auto);
}
