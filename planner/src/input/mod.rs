//! Closure inputs: which JSON shape a text is, and turning it into a [`Graph`].
//!
//! Three shapes are read, detected from the JSON itself:
//!
//! 1. Nix's `exportReferencesGraph` `.attrs.json` (structured attrs):
//!    `{"exportReferencesGraph": {"NAME": [ROOTS]}, "NAME": [ENTRY...]}`,
//!    roots given ([`attrs`]).
//! 2. A bare list of ENTRY, or `{"graph": [ENTRY...]}`: the roots are the
//!    paths nothing else references ([`attrs`] too, as the entries are alike).
//! 3. `nix path-info --json --recursive`: a list of ENTRY with SRI hashes
//!    (Nix <= 2.18, same as 2), or an object keyed by path (Nix >= 2.19,
//!    [`path_info`]), where `null` marks an invalid path.

pub mod attrs;
mod flat;
pub mod path_info;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::InputError;
use crate::graph::{Graph, PathEntry};
use crate::join::{Join, Sequential};

/// Which input shape a closure came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// exportReferencesGraph `.attrs.json`, roots given.
    Attrs,
    /// A list of entries or `{"graph": [...]}` (also Nix <= 2.18 path-info).
    EntryList,
    /// `nix path-info --json` of Nix >= 2.19: an object keyed by path.
    PathInfoObject,
}

/// A closure as read, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawClosure {
    /// The shape it came in.
    pub format: InputFormat,
    /// All entries, in input order.
    pub entries: Vec<PathEntry>,
    /// The exported roots, when the input names them.
    pub roots: Option<Vec<String>>,
}

/// Reads a closure in any supported shape and validates it into a graph.
pub fn parse_closure(text: &str, store_dir: &str) -> Result<Graph, InputError> {
    parse_closure_with(text, store_dir, &Sequential)
}

/// [`parse_closure`], a large list read in two halves at once when `join`
/// runs jobs side by side (the same graph either way).
pub fn parse_closure_with(
    text: &str,
    store_dir: &str,
    join: &dyn Join,
) -> Result<Graph, InputError> {
    // Valid input in one pass; anything else through the readers that
    // name what is wrong.
    match flat::parse_with(text, store_dir, join) {
        Some(graph) => Ok(graph),
        None => parse_exactly(text, store_dir),
    }
}

/// The exact readers, which name what is wrong: for input the one-pass
/// reader does not take.
fn parse_exactly(text: &str, store_dir: &str) -> Result<Graph, InputError> {
    let raw = read_closure(text, store_dir)?;
    Graph::new(raw.entries, raw.roots, store_dir)
}

/// [`parse_closure_with`] of a text the caller owns: a large list is read
/// in halves without copying the second (one byte of `text` changes while
/// it is read and is put back: `text` is the same after).
pub fn parse_closure_owned_with(
    text: &mut String,
    store_dir: &str,
    join: &dyn Join,
) -> Result<Graph, InputError> {
    match flat::parse_owned_with(text, store_dir, join) {
        Some(graph) => Ok(graph),
        None => parse_exactly(text, store_dir),
    }
}

/// Detects the shape and reads the entries, without graph validation.
pub fn read_closure(text: &str, store_dir: &str) -> Result<RawClosure, InputError> {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            // Fast path: one typed pass; on any error, the slower pass that
            // names the offending entry.
            if let Some(entries) = attrs::typed_entries(text) {
                return Ok(RawClosure {
                    format: InputFormat::EntryList,
                    entries,
                    roots: None,
                });
            }
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(json_error)?;
            Ok(RawClosure {
                format: InputFormat::EntryList,
                entries: attrs::entries(&items, "")?,
                roots: None,
            })
        }
        Some(b'{') => {
            // The common object, `{"graph": [...]}` (what the bench kit
            // writes), in one typed pass; any other object, member by member.
            if let Some(entries) = attrs::typed_graph_object(text) {
                return Ok(RawClosure {
                    format: InputFormat::EntryList,
                    entries,
                    roots: None,
                });
            }
            let ObjectEntries(pairs) = serde_json::from_str(text).map_err(json_error)?;
            read_object(pairs, store_dir)
        }
        _ => {
            let value: Value = serde_json::from_str(text).map_err(json_error)?;
            Err(InputError::UnknownShape {
                found: describe(&value).to_string(),
            })
        }
    }
}

/// A JSON object's members in input order, duplicate keys kept: a map
/// type would keep one value per key and silently drop the others, where a
/// path listed twice with different data must be an error (as in a list).
struct ObjectEntries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for ObjectEntries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = ObjectEntries<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(pair) = map.next_entry::<String, &'de RawValue>()? {
                    pairs.push(pair);
                }
                Ok(ObjectEntries(pairs))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

fn read_object(pairs: Vec<(String, &RawValue)>, store_dir: &str) -> Result<RawClosure, InputError> {
    // Nix >= 2.19 path-info: every key a path. Its entries keep their
    // duplicates for `Graph::new` to judge, as a list's do.
    if !pairs.is_empty()
        && pairs
            .iter()
            .all(|(k, _)| k.starts_with('/') || path_info::looks_like_base_name(k))
    {
        return path_info::read_object(pairs, store_dir);
    }
    // The other object shapes name their parts by key; a repeated key
    // counts once, its last value, as JSON readers do.
    let mut map: BTreeMap<String, &RawValue> = pairs.into_iter().collect();
    if map.contains_key("exportReferencesGraph") {
        return attrs::read_attrs(map);
    }
    if let Some(graph) = map.remove("graph") {
        let entries = attrs::entry_list(graph, "graph").map_err(|e| match e {
            Err(found) => InputError::UnknownShape {
                found: format!("\"graph\" is {found}, not a list"),
            },
            Ok(e) => e,
        })?;
        return Ok(RawClosure {
            format: InputFormat::EntryList,
            entries,
            roots: None,
        });
    }
    let keys: Vec<&str> = map.keys().map(String::as_str).take(3).collect();
    Err(InputError::UnknownShape {
        found: if map.is_empty() {
            "an empty object".to_string()
        } else {
            format!("an object with keys {}", keys.join(", "))
        },
    })
}

/// A raw value as a list of raw values, or a description of what it is.
pub(crate) fn as_list(raw: &RawValue) -> Result<Vec<&RawValue>, &'static str> {
    if raw.get().trim_start().starts_with('[') {
        serde_json::from_str(raw.get()).map_err(|_| "a malformed list")
    } else {
        Err(describe_raw(raw))
    }
}

/// A short name for a raw JSON value's type.
pub(crate) fn describe_raw(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        Some(b'[') => "a list",
        Some(b'{') => "an object",
        _ => "a number",
    }
}

fn json_error(e: serde_json::Error) -> InputError {
    InputError::Json {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    }
}

/// A short name for a JSON value's type, for error messages ("a list").
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// serde_json appends " at line L column C"; the error carries those apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
