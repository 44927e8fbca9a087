//! Entry lists: Nix's exportReferencesGraph `.attrs.json`, bare lists of
//! entries, `{"graph": [...]}`, and `nix path-info --json` of Nix <= 2.18
//! (a list of entries with SRI hashes). An entry is
//! `{"path", "narSize", "narHash"?, "closureSize"?, "references", "valid"?}`.

use serde_json::{Map, Value};

use super::{describe, InputFormat, RawClosure};
use crate::error::InputError;
use crate::graph::PathEntry;

/// Reads `{"exportReferencesGraph": {"NAME": [ROOTS]}, "NAME": [ENTRY...]}`.
/// Several names are merged (their entries and roots).
pub(super) fn read_attrs(mut map: Map<String, Value>) -> Result<RawClosure, InputError> {
    let exports = match map.remove("exportReferencesGraph") {
        Some(Value::Object(exports)) => exports,
        Some(other) => {
            return Err(InputError::UnknownShape {
                found: format!(
                    "\"exportReferencesGraph\" is {}, not an object of name -> roots (use __structuredAttrs = true)",
                    describe(&other)
                ),
            })
        }
        None => unreachable!("caller checked the key"),
    };
    if exports.is_empty() {
        return Err(InputError::UnknownShape {
            found: "\"exportReferencesGraph\" names no graph".to_string(),
        });
    }
    let mut entries = Vec::new();
    let mut roots = Vec::new();
    for (name, exported) in exports {
        let field = format!("exportReferencesGraph.{name}");
        match exported {
            Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Value::String(root) => roots.push(root),
                        other => {
                            return Err(InputError::Field {
                                entry: format!("#{i}"),
                                field,
                                problem: format!(
                                    "must list store paths, found {}",
                                    describe(&other)
                                ),
                            })
                        }
                    }
                }
            }
            Value::String(root) => roots.push(root),
            other => {
                return Err(InputError::Field {
                    entry: "root".to_string(),
                    field,
                    problem: format!("must be a list of store paths, found {}", describe(&other)),
                })
            }
        }
        match map.remove(&name) {
            Some(Value::Array(items)) => entries.extend(self::entries(items, &name)?),
            Some(other) => {
                return Err(InputError::UnknownShape {
                    found: format!("graph \"{name}\" is {}, not a list", describe(&other)),
                })
            }
            None => {
                return Err(InputError::UnknownShape {
                    found: format!(
                        "exportReferencesGraph names \"{name}\" but there is no such key"
                    ),
                })
            }
        }
    }
    Ok(RawClosure {
        format: InputFormat::Attrs,
        entries,
        roots: Some(roots),
    })
}

/// Reads a list of entries; `list` names the list in error messages.
pub(super) fn entries(items: Vec<Value>, list: &str) -> Result<Vec<PathEntry>, InputError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let label = if list.is_empty() {
                format!("#{i}")
            } else {
                format!("{list}[{i}]")
            };
            match item {
                Value::Object(fields) => entry(fields, label, None),
                other => Err(InputError::Field {
                    entry: label,
                    field: "path".to_string(),
                    problem: format!("missing: the entry is {}, not an object", describe(&other)),
                }),
            }
        })
        .collect()
}

/// Reads one entry object. `path` is given when the entry is keyed by it
/// (Nix >= 2.19); otherwise it is the entry's `path` field.
pub(super) fn entry(
    mut fields: Map<String, Value>,
    label: String,
    path: Option<String>,
) -> Result<PathEntry, InputError> {
    let path = match path {
        Some(path) => path,
        None => match fields.remove("path") {
            Some(Value::String(path)) => path,
            Some(other) => {
                return Err(field_error(
                    label,
                    "path",
                    &format!("must be a string, found {}", describe(&other)),
                ))
            }
            None => return Err(field_error(label, "path", "is missing")),
        },
    };
    if fields.get("valid") == Some(&Value::Bool(false)) {
        return Err(InputError::InvalidPath { path });
    }
    let nar_size = match fields.get("narSize") {
        Some(value) => size(value).ok_or_else(|| {
            field_error(
                path.clone(),
                "narSize",
                &format!("must be a non-negative integer, found {value}"),
            )
        })?,
        None => return Err(field_error(path, "narSize", "is missing")),
    };
    let closure_size = match fields.get("closureSize") {
        None | Some(Value::Null) => None,
        Some(value) => Some(size(value).ok_or_else(|| {
            field_error(
                path.clone(),
                "closureSize",
                &format!("must be a non-negative integer, found {value}"),
            )
        })?),
    };
    let nar_hash = match fields.remove("narHash") {
        None | Some(Value::Null) => None,
        Some(Value::String(hash)) if !hash.is_empty() => Some(hash),
        Some(other) => {
            return Err(field_error(
                path,
                "narHash",
                &format!("must be a hash string, found {other}"),
            ))
        }
    };
    let references = match fields.remove("references") {
        Some(Value::Array(items)) => {
            let mut refs = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(r) => refs.push(r),
                    other => {
                        return Err(field_error(
                            path,
                            "references",
                            &format!("must list store paths, found {other}"),
                        ))
                    }
                }
            }
            refs
        }
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(field_error(
                path,
                "references",
                &format!("must be a list, found {}", describe(&other)),
            ))
        }
    };
    Ok(PathEntry {
        path,
        nar_size,
        nar_hash,
        closure_size,
        references,
    })
}

fn size(value: &Value) -> Option<u64> {
    value.as_u64()
}

fn field_error(entry: String, field: &str, problem: &str) -> InputError {
    InputError::Field {
        entry,
        field: field.to_string(),
        problem: problem.to_string(),
    }
}
