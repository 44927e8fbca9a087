//! `nix path-info --json --recursive` of Nix >= 2.19: an object keyed by
//! store path, each value an entry without `path` (or `null` for a path that
//! is not valid in the store). Nix <= 2.18 printed a list, read by
//! [`super::attrs`]. Later Nix versions may key by base name and list
//! references by base name; both are accepted and made absolute here.

use serde_json::value::RawValue;

use super::attrs::{self, RawEntry};
use super::{describe_raw, InputFormat, RawClosure};
use crate::error::InputError;
use crate::store_path::HASH_LEN;

/// Whether a key looks like a store path base name (`<hash>-<name>`).
pub(super) fn looks_like_base_name(key: &str) -> bool {
    key.len() > HASH_LEN + 1 && key.as_bytes()[HASH_LEN] == b'-' && !key.contains('/')
}

/// Reads the object's members in input order. A key given twice gives two
/// entries, so `Graph::new` treats it as a list's repeated path: merged
/// when the data is the same, [`InputError::DuplicatePath`] when not.
pub(super) fn read_object(
    map: Vec<(String, &RawValue)>,
    store_dir: &str,
) -> Result<RawClosure, InputError> {
    let absolute = |p: String| {
        if p.starts_with('/') {
            p
        } else {
            format!("{store_dir}/{p}")
        }
    };
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        let path = absolute(key);
        if value.get().trim() == "null" {
            return Err(InputError::InvalidPath { path });
        }
        match serde_json::from_str::<RawEntry>(value.get()) {
            Ok(fields) => {
                let mut entry = attrs::entry(fields, path.clone(), Some(path))?;
                entry.references = entry.references.into_iter().map(absolute).collect();
                entries.push(entry);
            }
            Err(_) => {
                return Err(InputError::Field {
                    entry: path,
                    field: "narSize".to_string(),
                    problem: format!(
                        "missing: the entry is {}, not an object",
                        describe_raw(value)
                    ),
                })
            }
        }
    }
    Ok(RawClosure {
        format: InputFormat::PathInfoObject,
        entries,
        roots: None,
    })
}
