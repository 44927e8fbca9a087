//! Invariants every algorithm keeps, on random closures (DAGs with
//! self-references): the plan is a partition of the closure within budget,
//! passes `check_plan`, names the roots, and is byte-identical when made
//! twice or from the input listed in another order; `fleet` given its own
//! plan as `--previous` gives that plan again.

use proptest::prelude::*;
use strata_planner::{
    check_plan, parse_closure, plan_closure, Algorithm, Graph, PathEntry, PlanOptions,
};

mod support;

fn store_path(i: usize) -> String {
    support::store_path(i, &format!("pkg{i}-1.0"))
}

/// A random DAG: node i may reference only nodes j > i; sizes vary widely.
fn arb_closure() -> impl Strategy<Value = Vec<PathEntry>> {
    (1usize..40).prop_flat_map(|n| {
        let edges =
            prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), n);
        let sizes = prop::collection::vec(prop_oneof![1u64..1000, 1000u64..200_000_000], n);
        let selfs = prop::collection::vec(any::<bool>(), n);
        (edges, sizes, selfs).prop_map(move |(edges, sizes, selfs)| {
            (0..n)
                .map(|i| {
                    let mut references: Vec<String> = edges[i]
                        .iter()
                        .filter(|_| i + 1 < n)
                        .map(|ix| store_path(i + 1 + ix.index(n - i - 1)))
                        .collect();
                    if selfs[i] {
                        references.push(store_path(i));
                    }
                    PathEntry {
                        path: store_path(i),
                        nar_size: sizes[i],
                        nar_hash: None,
                        closure_size: None,
                        references,
                    }
                })
                .collect()
        })
    })
}

fn options(algorithm: Algorithm, budget: usize, graph: &Graph) -> PlanOptions {
    let mut options = PlanOptions::new(algorithm, budget);
    if algorithm == Algorithm::Pipeline {
        options.pipeline = Some(serde_json::json!([
            ["popularity_contest"],
            ["limit_layers", budget]
        ]));
    }
    if algorithm == Algorithm::Nixery {
        // Every other path is popular, to exercise the popularity roots.
        options.popularity = Some(
            (0..graph.len())
                .step_by(2)
                .map(|i| (graph.name(i).to_string(), 150))
                .collect(),
        );
    }
    options
}

fn to_json(entries: &[PathEntry]) -> String {
    serde_json::to_string(entries).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn every_algorithm_partitions_within_budget_deterministically(
        entries in arb_closure(),
        budget in 1usize..12,
        seed in any::<u64>(),
    ) {
        let graph = parse_closure(&to_json(&entries), "/nix/store").unwrap();
        let mut shuffled = entries.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let graph_shuffled = parse_closure(&to_json(&shuffled), "/nix/store").unwrap();
        for algorithm in Algorithm::ALL {
            let plan = plan_closure(&graph, &options(algorithm, budget, &graph)).unwrap();
            prop_assert!(plan.layers.len() <= budget, "{algorithm}: {} layers", plan.layers.len());
            let mut all: Vec<&str> = plan.layers.iter().flat_map(|l| l.paths.iter().map(|p| p.as_str())).collect();
            all.sort();
            let mut expected: Vec<&str> = graph.nodes().iter().map(|n| n.path.as_str()).collect();
            expected.sort();
            prop_assert_eq!(all, expected, "{} is not a partition", algorithm);
            check_plan(&plan, &graph).map_err(|e| TestCaseError::fail(format!("{algorithm}: {e}")))?;
            for &root in graph.roots() {
                prop_assert!(plan.roots.iter().any(|r| r == graph.path(root)));
            }
            let again = plan_closure(&graph, &options(algorithm, budget, &graph)).unwrap();
            prop_assert_eq!(plan.to_json(), again.to_json());
            let other = plan_closure(&graph_shuffled, &options(algorithm, budget, &graph_shuffled)).unwrap();
            prop_assert_eq!(plan.to_json(), other.to_json(), "{} depends on input order", algorithm);
        }
    }

    #[test]
    fn pins_and_excludes_hold_for_every_algorithm(
        entries in arb_closure(),
        budget in 3usize..12,
        pick in any::<prop::sample::Index>(),
    ) {
        let graph = parse_closure(&to_json(&entries), "/nix/store").unwrap();
        let non_roots: Vec<usize> = (0..graph.len()).filter(|i| !graph.roots().contains(i)).collect();
        prop_assume!(non_roots.len() >= 2);
        let pin = graph.path(non_roots[pick.index(non_roots.len())]).to_string();
        let exclude = non_roots.iter().map(|&i| graph.path(i)).find(|p| **p != pin).unwrap().to_string();
        for algorithm in Algorithm::ALL {
            let mut o = options(algorithm, budget, &graph);
            o.pins = vec![pin.clone()];
            o.excludes = vec![exclude.clone()];
            let plan = plan_closure(&graph, &o).unwrap();
            prop_assert!(plan.layers.len() <= budget);
            prop_assert!(plan.layers.iter().any(|l| l.paths.len() == 1 && l.paths[0] == pin), "{algorithm}: pin not alone");
            prop_assert!(!plan.layers.iter().any(|l| l.paths.iter().any(|p| *p == exclude)), "{algorithm}: excluded path planned");
            check_plan(&plan, &graph).map_err(|e| TestCaseError::fail(format!("{algorithm}: {e}")))?;
        }
    }

    #[test]
    fn fleet_with_its_own_previous_plan_is_stable(
        entries in arb_closure(),
        budget in 1usize..25,
    ) {
        let graph = parse_closure(&to_json(&entries), "/nix/store").unwrap();
        let first = plan_closure(&graph, &PlanOptions::new(Algorithm::Fleet, budget)).unwrap();
        let mut options = PlanOptions::new(Algorithm::Fleet, budget);
        options.previous = Some(first.layers.clone());
        let second = plan_closure(&graph, &options).unwrap();
        prop_assert_eq!(&first.layers, &second.layers);
        options.previous = Some(second.layers.clone());
        prop_assert_eq!(&first.layers, &plan_closure(&graph, &options).unwrap().layers);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(80))]

    /// `fleet` knowing the fleet (`--fleet`): the fleet here is the plans
    /// of two other "images" (this closure's first and last halves, cut
    /// by other algorithms), so their layers partly lie whole in it.
    #[test]
    fn fleet_knowing_the_fleet_partitions_deterministically_and_is_stable(
        entries in arb_closure(),
        budget in 1usize..12,
    ) {
        let graph = parse_closure(&to_json(&entries), "/nix/store").unwrap();
        let half = |range: std::ops::Range<usize>, algorithm: Algorithm| -> Vec<strata_planner::Layer> {
            let part: Vec<PathEntry> = entries[range.clone()]
                .iter()
                .map(|e| PathEntry {
                    references: e.references.iter().filter(|r| entries[range.clone()].iter().any(|o| &o.path == *r)).cloned().collect(),
                    ..e.clone()
                })
                .collect();
            let g = parse_closure(&to_json(&part), "/nix/store").unwrap();
            plan_closure(&g, &PlanOptions::new(algorithm, 3)).unwrap().layers
        };
        let n = entries.len();
        let fleet = vec![half(0..n.div_ceil(2), Algorithm::Popularity), half(n / 2..n, Algorithm::Auto)];
        let mut options = PlanOptions::new(Algorithm::Fleet, budget);
        options.fleet = Some(fleet.clone());
        let plan = plan_closure(&graph, &options).unwrap();
        prop_assert!(plan.layers.len() <= budget);
        check_plan(&plan, &graph).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(plan.algorithm.fleet, Some(2));
        let mut reversed = options.clone();
        reversed.fleet = Some(fleet.iter().rev().cloned().collect());
        prop_assert_eq!(plan.to_json(), plan_closure(&graph, &reversed).unwrap().to_json());
        // The same fleet again, this image's plan now its previous (and
        // among the fleet's plans, as a registry holds it): the same cut.
        let mut again = options.clone();
        again.previous = Some(plan.layers.clone());
        again.fleet = Some(fleet.iter().cloned().chain([plan.layers.clone()]).collect());
        prop_assert_eq!(&plan.layers, &plan_closure(&graph, &again).unwrap().layers);
    }
}
