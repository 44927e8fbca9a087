//! Closure inputs: every shape is read, every error class names its offender,
//! and no input panics the parser.

use proptest::prelude::*;
use serde_json::json;
use strata_planner::input::read_closure;
use strata_planner::{parse_closure, InputError, InputFormat};

const A: &str = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-hello-2.12";
const B: &str = "/nix/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-glibc-2.39";

fn entry(path: &str, size: u64, refs: &[&str]) -> serde_json::Value {
    json!({"path": path, "narSize": size, "narHash": "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s", "references": refs})
}

fn parse(value: serde_json::Value) -> Result<strata_planner::Graph, InputError> {
    parse_closure(&value.to_string(), "/nix/store")
}

#[test]
fn attrs_json_with_roots() {
    let text = json!({
        "exportReferencesGraph": {"graph": [A]},
        "graph": [entry(A, 10, &[A, B]), entry(B, 20, &[B])],
        "name": "x", "outputs": {"out": "/nix/store/..."}
    });
    let raw = read_closure(&text.to_string(), "/nix/store").unwrap();
    assert_eq!(raw.format, InputFormat::Attrs);
    let g = parse(text).unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(
        g.roots().iter().map(|&r| g.path(r)).collect::<Vec<_>>(),
        [A]
    );
    assert!(g.node(g.find(A).unwrap()).self_reference);
}

#[test]
fn bare_list_and_graph_object_derive_roots() {
    for value in [
        json!([entry(B, 20, &[]), entry(A, 10, &[B])]),
        json!({"graph": [entry(A, 10, &[B]), entry(B, 20, &[])]}),
    ] {
        let raw = read_closure(&value.to_string(), "/nix/store").unwrap();
        assert_eq!(raw.format, InputFormat::EntryList);
        let g = parse(value).unwrap();
        assert_eq!(
            g.roots().iter().map(|&r| g.path(r)).collect::<Vec<_>>(),
            [A]
        );
    }
}

#[test]
fn path_info_old_list_with_sri_hashes() {
    // Nix 2.8's `nix path-info --json --recursive` output shape.
    let value = json!([
        {"path": A, "narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "narSize": 10,
         "references": [B], "deriver": "/nix/store/2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c-hello-2.12.drv",
         "registrationTime": 1, "valid": true, "signatures": []},
        {"path": B, "narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "narSize": 20,
         "references": [B], "closureSize": 20}
    ]);
    let g = parse(value).unwrap();
    assert_eq!(
        g.node(g.find(A).unwrap()).nar_hash.map(|h| h.to_sri()),
        Some("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_string())
    );
    // Plans keep the canonical nix-base32 form, whatever the input had.
    assert_eq!(
        g.node(g.find(A).unwrap()).nar_hash.unwrap().to_string(),
        "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    );
}

#[test]
fn path_info_new_object_keyed_by_path() {
    let value = json!({
        A: {"narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "narSize": 10, "references": [B]},
        B: {"narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "narSize": 20, "references": []}
    });
    let raw = read_closure(&value.to_string(), "/nix/store").unwrap();
    assert_eq!(raw.format, InputFormat::PathInfoObject);
    assert_eq!(parse(value).unwrap().len(), 2);
}

#[test]
fn store_dir_is_an_option() {
    let a = A.replace("/nix/store", "/gnu/store");
    let value = json!([{"path": a, "narSize": 1, "references": []}]);
    assert!(parse_closure(&value.to_string(), "/gnu/store").is_ok());
    let err = parse_closure(&value.to_string(), "/nix/store").unwrap_err();
    assert!(
        matches!(err, InputError::NotInStore { ref path, .. } if *path == a),
        "{err}"
    );
}

/// Each error class: the input, the variant expected, and a piece of text
/// the message must contain (the offender).
#[test]
fn every_error_names_its_offender() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "json",
            "[{\"path\": \n  oops}]".to_string(),
            "line 2, column 3",
        ),
        ("shape", json!({"foo": 1}).to_string(), "foo"),
        ("shape", json!(42).to_string(), "a number"),
        (
            "duplicate",
            json!([entry(A, 1, &[]), entry(A, 2, &[])]).to_string(),
            A,
        ),
        ("missing ref", json!([entry(A, 1, &[B])]).to_string(), B),
        (
            "outside store",
            json!([entry("/usr/lib/libc.so", 1, &[])]).to_string(),
            "/usr/lib/libc.so",
        ),
        (
            "bad name",
            json!([entry(
                "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-bad name",
                1,
                &[]
            )])
            .to_string(),
            "bad name",
        ),
        (
            "bad hash part",
            json!([entry("/nix/store/eeee-x", 1, &[])]).to_string(),
            "/nix/store/eeee-x",
        ),
        (
            "cycle",
            json!([entry(A, 1, &[B]), entry(B, 1, &[A])]).to_string(),
            "->",
        ),
        (
            "negative size",
            json!([{"path": A, "narSize": -5, "references": []}]).to_string(),
            A,
        ),
        (
            "float size",
            json!([{"path": A, "narSize": 1.5, "references": []}]).to_string(),
            "narSize",
        ),
        (
            "string size",
            json!([{"path": A, "narSize": "12", "references": []}]).to_string(),
            "narSize",
        ),
        (
            "missing size",
            json!([{"path": A, "references": []}]).to_string(),
            "narSize",
        ),
        (
            "closure size",
            json!([{"path": A, "narSize": 1, "closureSize": -1, "references": []}]).to_string(),
            "closureSize",
        ),
        ("null entry", json!({A: null}).to_string(), A),
        (
            "invalid",
            json!([{"path": A, "valid": false}]).to_string(),
            A,
        ),
        (
            "duplicate key",
            object_with_a_twice(
                r#"{"narSize": 1, "references": []}"#,
                r#"{"narSize": 2, "references": []}"#,
            ),
            A,
        ),
        (
            "refs type",
            json!([{"path": A, "narSize": 1, "references": "x"}]).to_string(),
            "references",
        ),
        (
            "root missing",
            json!({"exportReferencesGraph": {"g": [B]}, "g": [entry(A, 1, &[])]}).to_string(),
            B,
        ),
        (
            "graph key missing",
            json!({"exportReferencesGraph": {"g": [A]}}).to_string(),
            "\"g\"",
        ),
        ("entry not object", json!([1]).to_string(), "#0"),
    ];
    for (what, text, needle) in cases {
        let err = parse_closure(&text, "/nix/store")
            .expect_err(what)
            .to_string();
        assert!(
            err.contains(needle),
            "{what}: {err:?} does not name {needle:?}"
        );
    }
}

#[test]
fn cycle_names_the_cycle() {
    let c = "/nix/store/2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c-c-1";
    let err = parse(json!([
        entry(A, 1, &[B]),
        entry(B, 1, &[c]),
        entry(c, 1, &[A, c])
    ]))
    .unwrap_err();
    let InputError::Cycle { cycle } = err else {
        panic!("{err}")
    };
    assert_eq!(cycle.len(), 4);
    assert_eq!(cycle.first(), cycle.last());
}

#[test]
fn identical_duplicates_are_merged() {
    let g = parse(json!([entry(A, 1, &[]), entry(A, 1, &[])])).unwrap();
    assert_eq!(g.len(), 1);
}

/// `json!` cannot repeat a key: the Nix >= 2.19 object with `A` twice.
fn object_with_a_twice(first: &str, second: &str) -> String {
    format!(r#"{{"{A}": {first}, "{B}": {{"narSize": 20, "references": []}}, "{A}": {second}}}"#)
}

#[test]
fn a_path_keyed_twice_with_different_data_is_a_duplicate_as_in_a_list() {
    let one = r#"{"narSize": 10, "references": []}"#;
    let other = r#"{"narSize": 11, "references": []}"#;
    let object = parse_closure(&object_with_a_twice(one, other), "/nix/store").unwrap_err();
    let list = parse(json!([entry(A, 10, &[]), entry(A, 11, &[])])).unwrap_err();
    assert_eq!(
        object,
        InputError::DuplicatePath {
            path: A.to_string()
        }
    );
    assert_eq!(
        std::mem::discriminant(&object),
        std::mem::discriminant(&list)
    );
    // A base-name key and a path key for the same path: the same.
    let base = A.strip_prefix("/nix/store/").unwrap();
    let text = format!(r#"{{"{A}": {one}, "{base}": {other}}}"#);
    assert_eq!(
        parse_closure(&text, "/nix/store").unwrap_err(),
        InputError::DuplicatePath {
            path: A.to_string()
        }
    );
}

#[test]
fn a_path_keyed_twice_with_the_same_data_is_merged_as_in_a_list() {
    let one = r#"{"narSize": 10, "references": []}"#;
    let g = parse_closure(&object_with_a_twice(one, one), "/nix/store").unwrap();
    assert_eq!(g.len(), 2);
}

#[test]
fn valid_false_is_reported_as_marked_invalid_not_as_a_null_entry() {
    for text in [
        json!([{"path": A, "valid": false}]).to_string(),
        json!({A: {"narSize": 1, "references": [], "valid": false}}).to_string(),
    ] {
        let err = parse_closure(&text, "/nix/store").unwrap_err();
        assert_eq!(
            err,
            InputError::MarkedInvalid {
                path: A.to_string()
            }
        );
        let message = err.to_string();
        assert!(
            message.contains(A) && message.contains("marked invalid") && !message.contains("null"),
            "{message}"
        );
    }
    let null = parse_closure(&json!({A: null}).to_string(), "/nix/store").unwrap_err();
    assert_eq!(
        null,
        InputError::InvalidPath {
            path: A.to_string()
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = parse_closure(&text, "/nix/store");
    }

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        let _ = parse_closure(&value.to_string(), "/nix/store");
        let _ = parse_closure(&json!({"graph": [value.clone()]}).to_string(), "/nix/store");
        let _ = parse_closure(&json!({A: value.clone()}).to_string(), "/nix/store");
        let _ = parse_closure(&json!({"exportReferencesGraph": {"g": value.clone()}, "g": [value]}).to_string(), "/nix/store");
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        prop_oneof![Just(A.to_string()), Just(B.to_string()), "[a-z/]{0,12}"]
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("path".to_string()),
                    Just("narSize".to_string()),
                    Just("references".to_string()),
                    Just("narHash".to_string()),
                    Just(A.to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
