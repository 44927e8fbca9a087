//! Golden tests: the `nixery` algorithm against Nixery's own output (see
//! tests/golden/nixery/README.md for how each file was made).

use std::fs;
use std::path::{Path, PathBuf};

use strata_planner::{parse_closure, parse_popularity, plan_closure, Algorithm, PlanOptions};

/// Budgets for the Debian closures; 94 is Nixery's `LayerBudget`.
const BUDGETS: [usize; 5] = [1, 2, 5, 20, 94];

/// Budgets for the example in layers.go's header (which lists 1 to 4 and 10).
const HEADER_BUDGETS: [usize; 7] = [1, 2, 3, 4, 5, 6, 10];

fn golden_dir() -> PathBuf {
    Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("tests/golden")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Plans `closure` at each budget and compares with `nixery/STEM.bN.json`;
/// returns how many cases were compared.
fn check(closure: &Path, popularity: Option<&Path>, stem: &str, budgets: &[usize]) -> usize {
    let bless = std::env::var_os("STRATA_BLESS").is_some();
    let graph = parse_closure(&read(closure), "/nix/store").unwrap();
    let popularity = popularity.map(|p| parse_popularity(&read(p)).unwrap());
    let mut checked = 0;
    for &budget in budgets {
        let mut options = PlanOptions::new(Algorithm::Nixery, budget);
        options.popularity = popularity.clone();
        let plan = plan_closure(&graph, &options).unwrap();
        let got: Vec<Vec<String>> = plan.layers.into_iter().map(|l| l.paths).collect();
        let file = golden_dir().join(format!("nixery/{stem}.b{budget}.json"));
        if bless {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            fs::write(&file, text).unwrap();
            continue;
        }
        let expected: Vec<Vec<String>> = serde_json::from_str(&read(&file)).unwrap();
        assert_eq!(
            got,
            expected,
            "nixery on {stem} with budget {budget} ({})",
            file.display()
        );
        checked += 1;
    }
    checked
}

/// The Debian closures shared with the other golden tests.
fn closures() -> Vec<(String, PathBuf)> {
    let mut files: Vec<PathBuf> = fs::read_dir(golden_dir().join("closures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect()
}

/// The tree and results per budget in the header of tazjin/nixery
/// layers/layers.go.
#[test]
fn nixery_layers_go_header_example() {
    let dir = golden_dir().join("nixery");
    let checked = check(
        &dir.join("layers-go-header.json"),
        Some(&dir.join("layers-go-header.popularity.json")),
        "layers-go-header",
        &HEADER_BUDGETS,
    );
    let bless = std::env::var_os("STRATA_BLESS").is_some();
    assert!(bless || checked == HEADER_BUDGETS.len());
}

#[test]
fn nixery_debian_closures_without_popularity() {
    let mut checked = 0;
    for (name, path) in closures() {
        checked += check(&path, None, &name, &BUDGETS);
    }
    let bless = std::env::var_os("STRATA_BLESS").is_some();
    assert!(bless || checked >= 30, "only {checked} golden cases found");
}

#[test]
fn nixery_debian_closures_with_popularity() {
    let popularity = golden_dir().join("nixery/popularity.json");
    let mut checked = 0;
    for (name, path) in closures() {
        checked += check(
            &path,
            Some(&popularity),
            &format!("{name}.popular"),
            &BUDGETS,
        );
    }
    let bless = std::env::var_os("STRATA_BLESS").is_some();
    assert!(bless || checked >= 30, "only {checked} golden cases found");
}
