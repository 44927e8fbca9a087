//! Owners and modes of image files other than root's and the store's:
//! `strata build --perms FILE.json`, nix2container's `perms` in a file.
//!
//! The file is a JSON list of rules, applied to every entry of every
//! layer (store paths, the Nix database, the image's own files), in order,
//! a later rule's fields winning over an earlier one's:
//!
//! ```json
//! [{"path": "/nix/store/...-app", "regex": "/bin/.*", "mode": "0750", "uid": 1000, "gid": 100},
//!  {"glob": "/home/app/**", "uid": 1000, "gid": 100, "uname": "app", "gname": "users"}]
//! ```
//!
//! - Selectors (at least one; all given must hold), each against the
//!   entry's absolute path in the image (`/nix/store/...-app/bin/app`, no
//!   trailing `/`): `path`, the path itself and everything under it
//!   (nix2container's `path`, a store path there); `regex`, a regular
//!   expression found anywhere in the path (nix2container's `regex`, Go's
//!   `MatchString`; anchor it with `^`/`$`); `glob`, the whole path, `*`
//!   and `?` within one component, `**` across components.
//! - Effects (at least one): `mode` (octal digits in a string, `"0755"`,
//!   as nix2container; the permission bits, file type kept), `uid`,
//!   `gid`, `uname`, `gname` (the tar header's names, up to 31 bytes).
//! - A rule matching no entry of the image is an error naming it, as is a
//!   field that does not parse. The store paths' NAR hashes are those of
//!   the store: rules change the layer, not what Nix verifies (Nix
//!   ignores owners and modes other than the executable bit).

use std::collections::BTreeSet;
use std::fmt;

use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest `uname`/`gname`: the tar header's 32-byte field, NUL-ended.
pub const MAX_NAME: usize = 31;

/// A rule as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleText {
    /// The path and everything under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A regex found in the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// A glob matching the whole path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// Octal permission bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Owner id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u64>,
    /// Group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u64>,
    /// Owner name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uname: Option<String>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gname: Option<String>,
}

impl fmt::Display for RuleText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string(self).expect("a rule serialises"))
    }
}

/// A bad rules file, or a rule that matched nothing.
#[derive(Debug, Error)]
pub enum PermsError {
    /// Not a JSON list of rules.
    #[error("not a JSON list of rules ({{path, regex, glob, mode, uid, gid, uname, gname}}): {0}")]
    Json(#[source] serde_json::Error),
    /// A rule that does not parse.
    #[error("rule {index} {rule}: {reason}")]
    Rule {
        /// Its position in the list, from 0.
        index: usize,
        /// The rule.
        rule: Box<RuleText>,
        /// What is wrong.
        reason: String,
    },
    /// A rule that no entry of the image matched.
    #[error("rule {index} {rule} matches nothing in the image")]
    Unmatched {
        /// Its position in the list, from 0.
        index: usize,
        /// The rule.
        rule: Box<RuleText>,
    },
}

struct Rule {
    text: RuleText,
    path: Option<Vec<u8>>,
    regex: Option<Regex>,
    glob: Option<Regex>,
    mode: Option<u32>,
}

/// Parsed rules (empty: every entry keeps root and the store's mode).
#[derive(Default)]
pub struct Perms {
    rules: Vec<Rule>,
}

impl fmt::Debug for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|r| &r.text))
            .finish()
    }
}

/// An entry's owner and mode, as the tar header will carry them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes {
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Owner name (empty: none).
    pub uname: String,
    /// Group name (empty: none).
    pub gname: String,
}

impl Perms {
    /// Reads a rules file's text.
    pub fn parse(text: &str) -> Result<Perms, PermsError> {
        let texts: Vec<RuleText> = serde_json::from_str(text).map_err(PermsError::Json)?;
        let rules = texts
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                Rule::new(text.clone()).map_err(|reason| PermsError::Rule {
                    index,
                    rule: Box::new(text),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Perms { rules })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules as one line of canonical JSON, for layer cache keys.
    pub fn key(&self) -> String {
        let texts: Vec<&RuleText> = self.rules.iter().map(|r| &r.text).collect();
        serde_json::to_string(&texts).expect("rules serialise")
    }

    /// Applies the rules matching `path` (absolute, no trailing `/`) to
    /// `attributes`, adding their indices to `matched`.
    pub fn apply(&self, path: &[u8], attributes: &mut Attributes, matched: &mut BTreeSet<usize>) {
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.matches(path) {
                continue;
            }
            matched.insert(index);
            if let Some(mode) = rule.mode {
                attributes.mode = mode;
            }
            if let Some(uid) = rule.text.uid {
                attributes.uid = uid;
            }
            if let Some(gid) = rule.text.gid {
                attributes.gid = gid;
            }
            if let Some(uname) = &rule.text.uname {
                attributes.uname.clone_from(uname);
            }
            if let Some(gname) = &rule.text.gname {
                attributes.gname.clone_from(gname);
            }
        }
    }

    /// The first rule not in `matched`, as an error.
    pub fn check_matched(&self, matched: &BTreeSet<usize>) -> Result<(), PermsError> {
        match (0..self.rules.len()).find(|i| !matched.contains(i)) {
            Some(index) => Err(PermsError::Unmatched {
                index,
                rule: Box::new(self.rules[index].text.clone()),
            }),
            None => Ok(()),
        }
    }
}

impl Rule {
    fn new(text: RuleText) -> Result<Rule, String> {
        if text.path.is_none() && text.regex.is_none() && text.glob.is_none() {
            return Err("no path, regex or glob to select entries".to_string());
        }
        if text.mode.is_none()
            && text.uid.is_none()
            && text.gid.is_none()
            && text.uname.is_none()
            && text.gname.is_none()
        {
            return Err("no mode, uid, gid, uname or gname to set".to_string());
        }
        let path = match &text.path {
            Some(p) if !p.starts_with('/') => {
                return Err(format!("path {p:?} is not absolute"));
            }
            Some(p) => Some(p.trim_end_matches('/').as_bytes().to_vec()),
            None => None,
        };
        let regex = match &text.regex {
            Some(r) => Some(Regex::new(r).map_err(|e| format!("regex {r:?}: {e}"))?),
            None => None,
        };
        let glob = match &text.glob {
            Some(g) if !g.starts_with('/') => {
                return Err(format!("glob {g:?} is not absolute"));
            }
            Some(g) => Some(Regex::new(&glob_regex(g)).map_err(|e| format!("glob {g:?}: {e}"))?),
            None => None,
        };
        let mode = match &text.mode {
            Some(m) => Some(parse_mode(m).ok_or_else(|| {
                format!("mode {m:?} is not octal permission bits (\"0755\", at most \"7777\")")
            })?),
            None => None,
        };
        for (field, name) in [("uname", &text.uname), ("gname", &text.gname)] {
            if let Some(name) = name {
                if name.len() > MAX_NAME || name.contains('\0') {
                    return Err(format!(
                        "{field} {name:?} does not fit a tar header (at most {MAX_NAME} bytes)"
                    ));
                }
            }
        }
        Ok(Rule {
            text,
            path,
            regex,
            glob,
            mode,
        })
    }

    fn matches(&self, entry: &[u8]) -> bool {
        if let Some(path) = &self.path {
            let under = entry.starts_with(path)
                && (entry.len() == path.len() || entry[path.len()] == b'/' || path.is_empty());
            if !under {
                return false;
            }
        }
        if let Some(regex) = &self.regex {
            if !regex.is_match(entry) {
                return false;
            }
        }
        if let Some(glob) = &self.glob {
            if !glob.is_match(entry) {
                return false;
            }
        }
        true
    }
}

/// `"0755"`, `"755"`, `"4755"`: octal digits, at most 0o7777.
fn parse_mode(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// A glob as an anchored regex: `**` any characters, `*` any but `/`, `?`
/// one but `/`; everything else literal.
fn glob_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(".*");
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(rules: &str, path: &str) -> (Attributes, BTreeSet<usize>) {
        let perms = Perms::parse(rules).unwrap();
        let mut attributes = Attributes {
            mode: 0o555,
            ..Attributes::default()
        };
        let mut matched = BTreeSet::new();
        perms.apply(path.as_bytes(), &mut attributes, &mut matched);
        (attributes, matched)
    }

    #[test]
    fn selectors_and_later_rules_win() {
        let rules = r#"[
            {"path": "/nix/store/abc-app", "mode": "0750", "uid": 1000},
            {"path": "/nix/store/abc-app", "regex": "/bin/", "gid": 100, "gname": "users"},
            {"glob": "/home/*/**", "uid": 7, "uname": "app"}
        ]"#;
        let (a, m) = apply(rules, "/nix/store/abc-app/bin/app");
        assert_eq!(
            (a.mode, a.uid, a.gid, a.gname.as_str()),
            (0o750, 1000, 100, "users")
        );
        assert_eq!(m, BTreeSet::from([0, 1]));
        let (a, m) = apply(rules, "/nix/store/abc-app");
        assert_eq!((a.mode, a.gid), (0o750, 0));
        assert_eq!(m, BTreeSet::from([0]));
        // `path` is a component prefix, not a string prefix.
        let (_, m) = apply(rules, "/nix/store/abc-application");
        assert!(m.is_empty());
        let (a, m) = apply(rules, "/home/app/.profile");
        assert_eq!((a.uid, a.uname.as_str(), a.mode), (7, "app", 0o555));
        assert_eq!(m, BTreeSet::from([2]));
        let (_, m) = apply(rules, "/home/app");
        assert!(m.is_empty(), "* needs a component after /home/");
    }

    #[test]
    fn bad_rules_name_themselves() {
        for (rules, says) in [
            (r#"[{"path": "/x", "mode": "0x9"}]"#, "mode \"0x9\""),
            (r#"[{"path": "/x", "mode": "17777"}]"#, "mode \"17777\""),
            (r#"[{"path": "/x", "mode": "rwx"}]"#, "mode \"rwx\""),
            (r#"[{"mode": "0755"}]"#, "no path, regex or glob"),
            (r#"[{"path": "/x"}]"#, "no mode, uid"),
            (r#"[{"path": "x", "uid": 1}]"#, "not absolute"),
            (r#"[{"regex": "(", "uid": 1}]"#, "regex \"(\""),
            (
                r#"[{"path": "/x", "uname": "a-name-much-longer-than-the-tar-field"}]"#,
                "uname",
            ),
            (r#"[{"path": "/x", "owner": 1}]"#, "unknown field `owner`"),
            (r#"{"path": "/x"}"#, "not a JSON list"),
        ] {
            let err = Perms::parse(rules).unwrap_err().to_string();
            assert!(err.contains(says), "{rules}: {err}");
        }
        let err = Perms::parse(r#"[{"path": "/ok", "uid": 1}, {"path": "/x", "mode": "8"}]"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("rule 1 {\"path\":\"/x\",\"mode\":\"8\"}"),
            "{err}"
        );
    }

    #[test]
    fn unmatched_rules_are_named() {
        let perms =
            Perms::parse(r#"[{"path": "/a", "uid": 1}, {"path": "/b", "uid": 2}]"#).unwrap();
        let err = perms.check_matched(&BTreeSet::from([0])).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"rule 1 {"path":"/b","uid":2} matches nothing in the image"#
        );
        assert!(perms.check_matched(&BTreeSet::from([0, 1])).is_ok());
    }
}
