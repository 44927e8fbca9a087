//! Golden tests: Strata's peer algorithms against their upstreams' output on
//! the same closures (see tests/golden/README.md for where each file came from).

use std::fs;
use std::path::{Path, PathBuf};

use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions};

const BUDGETS: [usize; 5] = [1, 2, 5, 20, 100];

fn golden_dir() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("tests/golden")
}

fn closures() -> Vec<(String, String)> {
    let mut files: Vec<_> = fs::read_dir(golden_dir().join("closures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn check_algorithm(algorithm: Algorithm) {
    let bless = std::env::var_os("STRATA_BLESS").is_some();
    let mut checked = 0;
    for (name, text) in closures() {
        let graph = parse_closure(&text, "/nix/store").unwrap();
        for budget in BUDGETS {
            let plan = plan_closure(&graph, &PlanOptions::new(algorithm, budget)).unwrap();
            let got: Vec<Vec<String>> = plan.layers.into_iter().map(|l| l.paths).collect();
            let file = golden_dir().join(format!("{algorithm}/{name}.b{budget}.json"));
            if bless {
                fs::write(&file, serde_json::to_string_pretty(&got).unwrap()).unwrap();
                continue;
            }
            let expected: Vec<Vec<String>> =
                serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
            assert_eq!(
                got,
                expected,
                "{algorithm} on {name} with budget {budget} ({})",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(bless || checked >= 30, "only {checked} golden cases found");
}

#[test]
fn popularity_matches_closure_graph_py() {
    check_algorithm(Algorithm::Popularity);
}

#[test]
fn auto_matches_auto_layer_py() {
    check_algorithm(Algorithm::Auto);
}
