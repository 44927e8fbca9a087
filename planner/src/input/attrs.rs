//! Entry lists: Nix's exportReferencesGraph `.attrs.json`, bare lists of
//! entries, `{"graph": [...]}`, and `nix path-info --json` of Nix <= 2.18
//! (a list of entries with SRI hashes). An entry is
//! `{"path", "narSize", "narHash"?, "closureSize"?, "references", "valid"?}`;
//! other fields (`deriver`, `signatures`, ...) are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{as_list, describe, describe_raw, InputFormat, RawClosure};
use crate::error::InputError;
use crate::graph::PathEntry;
use crate::nar_hash::NarHash;

/// One entry's fields, typed loosely so that a wrong type becomes an error
/// naming the entry rather than a serde message.
#[derive(Deserialize)]
pub(super) struct RawEntry {
    path: Option<Value>,
    #[serde(rename = "narSize")]
    nar_size: Option<Value>,
    #[serde(rename = "narHash")]
    nar_hash: Option<Value>,
    #[serde(rename = "closureSize")]
    closure_size: Option<Value>,
    references: Option<Value>,
    valid: Option<Value>,
}

/// An entry as nearly every closure writes it, read in one typed pass
/// with no intermediate JSON values. Anything unusual (a wrong type, an
/// empty or bad `narHash`, `"valid": false`) fails this pass, and the
/// loosely typed [`RawEntry`] pass then names the offending entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TypedEntry {
    path: String,
    nar_size: u64,
    #[serde(default)]
    nar_hash: Option<NarHash>,
    #[serde(default)]
    closure_size: Option<u64>,
    #[serde(default)]
    references: Option<Vec<String>>,
    #[serde(default)]
    valid: Option<bool>,
}

/// The fast pass over a JSON list of entries; `None` sends the caller to
/// the pass that names errors.
pub(super) fn typed_entries(list: &str) -> Option<Vec<PathEntry>> {
    from_typed(serde_json::from_str(list).ok()?)
}

/// `{"graph": [ENTRY...]}` and nothing else, in the fast pass.
pub(super) fn typed_graph_object(text: &str) -> Option<Vec<PathEntry>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct GraphOnly {
        graph: Vec<TypedEntry>,
    }
    from_typed(serde_json::from_str::<GraphOnly>(text).ok()?.graph)
}

/// Typed entries as path entries; `None` when one says it is invalid.
fn from_typed(typed: Vec<TypedEntry>) -> Option<Vec<PathEntry>> {
    typed
        .into_iter()
        .map(|e| {
            (e.valid != Some(false)).then(|| PathEntry {
                path: e.path,
                nar_size: e.nar_size,
                nar_hash: e.nar_hash,
                closure_size: e.closure_size,
                references: e.references.unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads `{"exportReferencesGraph": {"NAME": [ROOTS]}, "NAME": [ENTRY...]}`.
/// Several names are merged (their entries and roots).
pub(super) fn read_attrs(mut map: BTreeMap<String, &RawValue>) -> Result<RawClosure, InputError> {
    let exports_raw = map
        .remove("exportReferencesGraph")
        .expect("caller checked the key");
    let exports: BTreeMap<String, Value> = match serde_json::from_str(exports_raw.get()) {
        Ok(exports) => exports,
        Err(_) => {
            return Err(InputError::UnknownShape {
                found: format!(
                    "\"exportReferencesGraph\" is {}, not an object of name -> roots (use __structuredAttrs = true)",
                    describe_raw(exports_raw)
                ),
            })
        }
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
        let Some(graph) = map.remove(&name) else {
            return Err(InputError::UnknownShape {
                found: format!("exportReferencesGraph names \"{name}\" but there is no such key"),
            });
        };
        let list = entry_list(graph, &name).map_err(|e| match e {
            Err(found) => InputError::UnknownShape {
                found: format!("graph \"{name}\" is {found}, not a list"),
            },
            Ok(e) => e,
        })?;
        entries.extend(list);
    }
    Ok(RawClosure {
        format: InputFormat::Attrs,
        entries,
        roots: Some(roots),
    })
}

/// Reads a raw JSON list of entries: one typed pass, and on failure the
/// slower pass that names the offending entry. `Err(Err(what))` when the
/// value is not a list at all.
pub(super) fn entry_list(
    raw: &RawValue,
    list: &str,
) -> Result<Vec<PathEntry>, Result<InputError, &'static str>> {
    if let Some(entries) = typed_entries(raw.get()) {
        return Ok(entries);
    }
    let items = as_list(raw).map_err(Err)?;
    entries(&items, list).map_err(Ok)
}

/// Reads a list of entries; `list` names the list in error messages.
pub(super) fn entries(items: &[&RawValue], list: &str) -> Result<Vec<PathEntry>, InputError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let label = if list.is_empty() {
                format!("#{i}")
            } else {
                format!("{list}[{i}]")
            };
            match serde_json::from_str::<RawEntry>(item.get()) {
                Ok(fields) => entry(fields, label, None),
                Err(_) => Err(InputError::Field {
                    entry: label,
                    field: "path".to_string(),
                    problem: format!(
                        "missing: the entry is {}, not an object",
                        describe_raw(item)
                    ),
                }),
            }
        })
        .collect()
}

/// Reads one entry. `path` is given when the entry is keyed by it
/// (Nix >= 2.19); otherwise it is the entry's `path` field.
pub(super) fn entry(
    fields: RawEntry,
    label: String,
    path: Option<String>,
) -> Result<PathEntry, InputError> {
    let path = match (path, fields.path) {
        (Some(path), _) => path,
        (None, Some(Value::String(path))) => path,
        (None, Some(other)) => {
            return Err(field_error(
                label,
                "path",
                &format!("must be a string, found {}", describe(&other)),
            ))
        }
        (None, None) => return Err(field_error(label, "path", "is missing")),
    };
    if fields.valid == Some(Value::Bool(false)) {
        return Err(InputError::MarkedInvalid { path });
    }
    let nar_size = match &fields.nar_size {
        Some(value) => value.as_u64().ok_or_else(|| {
            field_error(
                path.clone(),
                "narSize",
                &format!("must be a non-negative integer, found {value}"),
            )
        })?,
        None => return Err(field_error(path, "narSize", "is missing")),
    };
    let closure_size = match &fields.closure_size {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().ok_or_else(|| {
            field_error(
                path.clone(),
                "closureSize",
                &format!("must be a non-negative integer, found {value}"),
            )
        })?),
    };
    let nar_hash = match fields.nar_hash {
        None | Some(Value::Null) => None,
        Some(Value::String(hash)) if !hash.is_empty() => match hash.parse::<NarHash>() {
            Ok(hash) => Some(hash),
            Err(_) => {
                return Err(field_error(
                    path,
                    "narHash",
                    &format!("must be a sha256 hash (sha256:<nix-base32>, sha256:<hex> or sha256-<base64>), found {hash:?}"),
                ))
            }
        },
        Some(other) => {
            return Err(field_error(
                path,
                "narHash",
                &format!("must be a hash string, found {other}"),
            ))
        }
    };
    let references = match fields.references {
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

fn field_error(entry: String, field: &str, problem: &str) -> InputError {
    InputError::Field {
        entry,
        field: field.to_string(),
        problem: problem.to_string(),
    }
}
