//! Reading a pipeline: JSON → operator calls, each with its JSON pointer.
//!
//! Grammar (upstream's `pipe.py` `preapply_func`, with the argument types
//! its operators actually work with):
//!
//! ```text
//! pipeline := [call, ...]
//! call     := ["popularity_contest"] | ["flatten"] | ["reverse"]
//!           | ["subcomponent_in", [path, ...]] | ["subcomponent_out", [path, ...]]
//!           | ["split_paths", [spec, ...]]
//!           | ["remove_paths", path | [path, ...]]
//!           | ["split_every", count] | ["limit_layers", count]
//!           | ["over", key, call] | ["map", call] | ["pipe", pipeline]
//!           | ["reorder", [key, ...]]
//! spec     := path | {"children_of": path | [path, ...]}
//! count    := an integer >= 1
//! ```
//!
//! The whole pipeline is checked before anything runs, so a malformed
//! call is reported even where upstream would never reach it (inside a
//! `map` over nothing, say). Upstream also runs some malformed calls
//! without complaint and quietly does something else; here they are
//! errors: a path list given as one string (upstream iterates its
//! characters and matches nothing), a number where a path belongs
//! (igraph's `vs.find(5)` takes it as a vertex index), extra arguments to
//! `map` (ignored upstream), a count below 1 (`split_every` with a
//! negative count drops every path), keys other than `children_of` in a
//! split spec (ignored upstream when `children_of` is there).

use serde_json::Value;

use crate::error::PlanError;

/// Every operator name, as upstream's `pipe.py` registers them.
pub(super) const OPERATORS: [&str; 13] = [
    "popularity_contest",
    "subcomponent_in",
    "subcomponent_out",
    "split_paths",
    "over",
    "pipe",
    "map",
    "flatten",
    "split_every",
    "limit_layers",
    "remove_paths",
    "reverse",
    "reorder",
];

/// One operator call and where it is in the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Call {
    /// JSON pointer of the call (`/1`, `/1/2/0`, ...).
    pub at: String,
    /// The operator with its arguments.
    pub op: Op,
}

/// Which way `subcomponent_*` walks the references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// `subcomponent_in`: the paths and everything referring to them.
    In,
    /// `subcomponent_out`: the paths and everything they refer to.
    Out,
}

/// One entry of `split_paths`' list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SplitSpec {
    /// A store path.
    Path(String),
    /// `{"children_of": ...}`: the direct references of these paths.
    ChildrenOf(Vec<String>),
}

/// An operator with validated arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    PopularityContest,
    Subcomponent(Direction, Vec<String>),
    SplitPaths(Vec<SplitSpec>),
    Over(String, Box<Call>),
    Pipe(Vec<Call>),
    Map(Box<Call>),
    Flatten,
    SplitEvery(usize),
    LimitLayers(usize),
    RemovePaths(Vec<String>),
    Reverse,
    Reorder(Vec<String>),
}

/// Reads a whole pipeline (the JSON value `layeringPipeline` holds).
pub(super) fn parse_pipeline(value: &Value) -> Result<Vec<Call>, PlanError> {
    parse_calls(value, "")
}

fn error(at: &str, problem: String) -> PlanError {
    PlanError::Pipeline {
        at: at.to_string(),
        problem,
    }
}

/// A short rendering of a JSON value for messages.
fn show(value: &Value) -> String {
    const MAX: usize = 60;
    let text = value.to_string();
    if text.chars().count() <= MAX {
        text
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

fn parse_calls(value: &Value, at: &str) -> Result<Vec<Call>, PlanError> {
    let Value::Array(calls) = value else {
        return Err(error(
            at,
            format!(
                "expected a list of operator calls such as [[\"popularity_contest\"]], found {}",
                show(value)
            ),
        ));
    };
    calls
        .iter()
        .enumerate()
        .map(|(i, call)| parse_call(call, &format!("{at}/{i}")))
        .collect()
}

fn parse_call(value: &Value, at: &str) -> Result<Call, PlanError> {
    let items = match value {
        Value::Array(items) if !items.is_empty() => items,
        _ => {
            return Err(error(
                at,
                format!(
                    "expected an operator call (a list of an operator name and its arguments), found {}",
                    show(value)
                ),
            ))
        }
    };
    let name_at = format!("{at}/0");
    let Value::String(name) = &items[0] else {
        return Err(error(
            &name_at,
            format!("expected an operator name, found {}", show(&items[0])),
        ));
    };
    let args = &items[1..];
    let arg_at = |i: usize| format!("{at}/{}", i + 1);
    let arity = |count: usize, wanted: &str| -> Result<(), PlanError> {
        if args.len() == count {
            Ok(())
        } else {
            let takes = match count {
                0 => "no arguments".to_string(),
                1 => format!("1 argument ({wanted})"),
                n => format!("{n} arguments ({wanted})"),
            };
            Err(error(
                at,
                format!("`{name}` takes {takes}, found {}", args.len()),
            ))
        }
    };
    let op = match name.as_str() {
        "popularity_contest" => {
            arity(0, "")?;
            Op::PopularityContest
        }
        "flatten" => {
            arity(0, "")?;
            Op::Flatten
        }
        "reverse" => {
            arity(0, "")?;
            Op::Reverse
        }
        "subcomponent_in" | "subcomponent_out" => {
            arity(1, "a list of store paths")?;
            let direction = if name == "subcomponent_in" {
                Direction::In
            } else {
                Direction::Out
            };
            Op::Subcomponent(direction, string_list(name, &args[0], &arg_at(0))?)
        }
        "split_paths" => {
            arity(1, "a list of store paths or {\"children_of\": ...}")?;
            let at0 = arg_at(0);
            let Value::Array(specs) = &args[0] else {
                return Err(error(
                    &at0,
                    format!(
                        "`split_paths` needs a list of store paths or {{\"children_of\": ...}}, found {}",
                        show(&args[0])
                    ),
                ));
            };
            let specs = specs
                .iter()
                .enumerate()
                .map(|(i, spec)| split_spec(spec, &format!("{at0}/{i}")))
                .collect::<Result<_, _>>()?;
            Op::SplitPaths(specs)
        }
        "remove_paths" => {
            arity(1, "a store path or a list of them")?;
            match &args[0] {
                Value::String(path) => Op::RemovePaths(vec![path.clone()]),
                other => Op::RemovePaths(string_list(name, other, &arg_at(0))?),
            }
        }
        "split_every" | "limit_layers" => {
            arity(1, "a positive integer")?;
            let count = match args[0].as_u64() {
                Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => {
                    return Err(error(
                        &arg_at(0),
                        format!(
                            "`{name}` needs a positive integer, found {}",
                            show(&args[0])
                        ),
                    ))
                }
            };
            if name == "split_every" {
                Op::SplitEvery(count)
            } else {
                Op::LimitLayers(count)
            }
        }
        "over" => {
            arity(2, "a key, an operator call")?;
            let Value::String(key) = &args[0] else {
                return Err(error(
                    &arg_at(0),
                    format!(
                        "`over` needs a key such as \"main\", \"common\" or \"rest\", found {}",
                        show(&args[0])
                    ),
                ));
            };
            Op::Over(key.clone(), Box::new(parse_call(&args[1], &arg_at(1))?))
        }
        "map" => {
            arity(1, "an operator call")?;
            Op::Map(Box::new(parse_call(&args[0], &arg_at(0))?))
        }
        "pipe" => {
            arity(1, "a list of operator calls")?;
            Op::Pipe(parse_calls(&args[0], &arg_at(0))?)
        }
        "reorder" => {
            arity(1, "a list of keys")?;
            Op::Reorder(string_list(name, &args[0], &arg_at(0))?)
        }
        _ => {
            return Err(error(
                &name_at,
                format!(
                    "unknown operator `{name}` (known: {})",
                    OPERATORS.join(", ")
                ),
            ))
        }
    };
    Ok(Call {
        at: at.to_string(),
        op,
    })
}

/// A list of strings; a lone string is refused (upstream would iterate its
/// characters).
fn string_list(name: &str, value: &Value, at: &str) -> Result<Vec<String>, PlanError> {
    let wrong = |found: &Value, at: &str| {
        error(
            at,
            format!("`{name}` needs a list of strings, found {}", show(found)),
        )
    };
    let Value::Array(items) = value else {
        return Err(wrong(value, at));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(wrong(other, &format!("{at}/{i}"))),
        })
        .collect()
}

fn split_spec(value: &Value, at: &str) -> Result<SplitSpec, PlanError> {
    match value {
        Value::String(path) => Ok(SplitSpec::Path(path.clone())),
        Value::Object(map) => {
            if let Some(key) = map.keys().find(|k| *k != "children_of") {
                return Err(error(
                    &format!("{at}/{}", escape(key)),
                    format!("unknown key {key:?} in a split spec (known: \"children_of\")"),
                ));
            }
            let inner_at = format!("{at}/children_of");
            match map.get("children_of") {
                None => Err(error(
                    at,
                    "a split spec object needs the key \"children_of\"".to_string(),
                )),
                Some(Value::String(path)) => Ok(SplitSpec::ChildrenOf(vec![path.clone()])),
                Some(other) => Ok(SplitSpec::ChildrenOf(string_list(
                    "children_of",
                    other,
                    &inner_at,
                )?)),
            }
        }
        other => Err(error(
            at,
            format!(
                "`split_paths` needs a store path or {{\"children_of\": ...}}, found {}",
                show(other)
            ),
        )),
    }
}

/// A key as a JSON pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(pipeline: Value) -> (String, String) {
        match parse_pipeline(&pipeline) {
            Err(PlanError::Pipeline { at, problem }) => (at, problem),
            other => panic!("expected a pipeline error, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_operator() {
        let calls = parse_pipeline(&json!([
            ["split_paths", ["/a", {"children_of": "/b"}, {"children_of": ["/c"]}]],
            ["over", "main", ["pipe", [["subcomponent_in", ["/a"]], ["subcomponent_out", []]]]],
            ["over", "rest", ["popularity_contest"]],
            ["reorder", ["rest", "main"]],
            ["flatten"],
            ["map", ["remove_paths", "/d"]],
            ["map", ["remove_paths", ["/d", "/e"]]],
            ["map", ["split_every", 2]],
            ["flatten"],
            ["reverse"],
            ["limit_layers", 3]
        ]))
        .unwrap();
        assert_eq!(calls.len(), 11);
        assert_eq!(
            calls[0].op,
            Op::SplitPaths(vec![
                SplitSpec::Path("/a".into()),
                SplitSpec::ChildrenOf(vec!["/b".into()]),
                SplitSpec::ChildrenOf(vec!["/c".into()]),
            ])
        );
        let Op::Over(key, inner) = &calls[1].op else {
            panic!("{:?}", calls[1].op)
        };
        assert_eq!(key, "main");
        assert_eq!(inner.at, "/1/2");
        let Op::Pipe(steps) = &inner.op else {
            panic!("{:?}", inner.op)
        };
        assert_eq!(steps[1].at, "/1/2/1/1");
        assert_eq!(steps[1].op, Op::Subcomponent(Direction::Out, vec![]));
        assert_eq!(
            calls[5].op,
            Op::Map(Box::new(Call {
                at: "/5/1".into(),
                op: Op::RemovePaths(vec!["/d".into()]),
            }))
        );
        assert_eq!(calls[10].op, Op::LimitLayers(3));
        assert!(parse_pipeline(&json!([])).unwrap().is_empty());
    }

    #[test]
    fn the_pipeline_must_be_a_list_of_calls() {
        let (at, problem) = err(json!({"popularity_contest": []}));
        assert_eq!(at, "");
        assert!(problem.contains("list of operator calls"), "{problem}");
        let (at, problem) = err(json!(["popularity_contest"]));
        assert_eq!(at, "/0");
        assert!(problem.contains("expected an operator call"), "{problem}");
        let (at, _) = err(json!([["flatten"], []]));
        assert_eq!(at, "/1");
        let (at, problem) = err(json!([[3]]));
        assert_eq!(at, "/0/0");
        assert!(problem.contains("operator name"), "{problem}");
    }

    #[test]
    fn unknown_operators_are_named_with_their_place() {
        let (at, problem) = err(json!([["popularity_contest"], ["limit_layer", 3]]));
        assert_eq!(at, "/1/0");
        assert!(
            problem.contains("unknown operator `limit_layer`") && problem.contains("limit_layers"),
            "{problem}"
        );
        let (at, _) = err(json!([["over", "rest", ["pipe", [["flatten"], ["sort"]]]]]));
        assert_eq!(at, "/0/2/1/1/0");
        let (at, _) = err(json!([["map", ["nope"]]]));
        assert_eq!(at, "/0/1/0");
    }

    #[test]
    fn wrong_arity_names_the_call() {
        for (pipeline, at, needle) in [
            (
                json!([["popularity_contest", 3]]),
                "/0",
                "takes no arguments, found 1",
            ),
            (
                json!([["flatten"], ["reverse", []]]),
                "/1",
                "`reverse` takes no arguments",
            ),
            (
                json!([["limit_layers"]]),
                "/0",
                "takes 1 argument (a positive integer), found 0",
            ),
            (json!([["split_every", 1, 2]]), "/0", "found 2"),
            (json!([["over", "main"]]), "/0", "`over` takes 2 arguments"),
            (
                json!([["map", ["flatten"], "junk"]]),
                "/0",
                "`map` takes 1 argument",
            ),
            (json!([["pipe"]]), "/0", "`pipe` takes 1 argument"),
            (
                json!([["subcomponent_in"]]),
                "/0",
                "`subcomponent_in` takes 1 argument",
            ),
            (
                json!([["split_paths", [], []]]),
                "/0",
                "`split_paths` takes 1 argument",
            ),
            (
                json!([["remove_paths"]]),
                "/0",
                "`remove_paths` takes 1 argument",
            ),
            (
                json!([["over", "x", ["flatten", 1]]]),
                "/0/2",
                "`flatten` takes no arguments",
            ),
        ] {
            let (got_at, problem) = err(pipeline.clone());
            assert_eq!(got_at, at, "{pipeline}: {problem}");
            assert!(problem.contains(needle), "{pipeline}: {problem}");
        }
    }

    #[test]
    fn wrong_argument_types_name_the_argument() {
        for (pipeline, at, needle) in [
            (
                json!([["limit_layers", "3"]]),
                "/0/1",
                "positive integer, found \"3\"",
            ),
            (
                json!([["limit_layers", 0]]),
                "/0/1",
                "positive integer, found 0",
            ),
            (
                json!([["split_every", -1]]),
                "/0/1",
                "positive integer, found -1",
            ),
            (json!([["split_every", 2.5]]), "/0/1", "positive integer"),
            (
                json!([["subcomponent_out", "/nix/store/x"]]),
                "/0/1",
                "list of strings",
            ),
            (json!([["subcomponent_in", ["/a", 5]]]), "/0/1/1", "found 5"),
            (
                json!([["remove_paths", {"a": 1}]]),
                "/0/1",
                "list of strings",
            ),
            (
                json!([["split_paths", "/a"]]),
                "/0/1",
                "`split_paths` needs a list",
            ),
            (json!([["split_paths", ["/a", 7]]]), "/0/1/1", "found 7"),
            (
                json!([["split_paths", [{"parents_of": "/a"}]]]),
                "/0/1/0/parents_of",
                "unknown key",
            ),
            (
                json!([["split_paths", [{}]]]),
                "/0/1/0",
                "needs the key \"children_of\"",
            ),
            (
                json!([["split_paths", [{"children_of": [1]}]]]),
                "/0/1/0/children_of/0",
                "found 1",
            ),
            (json!([["over", 1, ["flatten"]]]), "/0/1", "needs a key"),
            (
                json!([["over", "main", "flatten"]]),
                "/0/2",
                "expected an operator call",
            ),
            (
                json!([["map", "flatten"]]),
                "/0/1",
                "expected an operator call",
            ),
            (
                json!([["pipe", ["flatten"]]]),
                "/0/1/0",
                "expected an operator call",
            ),
            (json!([["pipe", "x"]]), "/0/1", "list of operator calls"),
            (json!([["reorder", "rest"]]), "/0/1", "list of strings"),
        ] {
            let (got_at, problem) = err(pipeline.clone());
            assert_eq!(got_at, at, "{pipeline}: {problem}");
            assert!(problem.contains(needle), "{pipeline}: {problem}");
        }
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let (at, _) = err(json!([["split_paths", [{"a/b~c": 1}]]]));
        assert_eq!(at, "/0/1/0/a~1b~0c");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(200);
        let (_, problem) = err(json!([["limit_layers", long]]));
        assert!(problem.len() < 150 && problem.ends_with("..."), "{problem}");
    }
}
