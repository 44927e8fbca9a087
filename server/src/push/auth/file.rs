//! One auth file, and what it says about one registry.
//!
//! containers-auth.json(5) and docker's `config.json` share a format:
//!
//! ```json
//! {"auths": {"HOST[/NAMESPACE]": {"auth": "base64 of user:password"}},
//!  "credHelpers": {"HOST": "NAME"},
//!  "credsStore": "NAME"}
//! ```
//!
//! For `HOST/REPOSITORY`, the first of these that applies:
//! 1. `credHelpers[HOST]` (the host exactly): ask `docker-credential-NAME`;
//!    the `auths` entry is then not used, as podman and docker do
//!    (containers-auth.json(5): "the base64 encoded authentication will
//!    not be used for operations concerning credentials of the specified
//!    registries").
//! 2. `credsStore`: ask it, for any registry (docker's rule; podman does
//!    not read the field, docker lets it win over `auths`).
//! 3. The most specific `auths` key matching `HOST/REPOSITORY`; keys may
//!    carry a scheme or docker's `/v1/` (`https://host/v1/`), as in
//!    podman. An entry with no `auth` (docker writes `{}` beside a
//!    helper) gives nothing.
//!
//! The legacy `~/.dockercfg` is the `auths` object alone, at the top level.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use data_encoding::BASE64;
use serde::Deserialize;

use super::AuthError;

/// Which field named a helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperField {
    /// `credHelpers[HOST]`.
    CredHelpers,
    /// `credsStore`.
    CredsStore,
}

impl fmt::Display for HelperField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HelperField::CredHelpers => "credHelpers",
            HelperField::CredsStore => "credsStore",
        })
    }
}

/// What a file gives for a registry.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// Ask the helper `docker-credential-NAME`.
    Helper {
        /// `NAME`.
        name: String,
        /// Which field named it.
        field: HelperField,
    },
    /// Credentials written in the file.
    Inline {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// Nothing.
    Nothing,
}

/// The fields read; the rest of a docker `config.json` is left alone.
#[derive(Debug, Default, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
}

/// What the file `path`, whose contents are `text` (`legacy`: the
/// `.dockercfg` format), gives for `host/repository`.
pub fn entry(
    path: &Path,
    text: &str,
    legacy: bool,
    host: &str,
    repository: &str,
) -> Result<Entry, AuthError> {
    let parse = |e: serde_json::Error| AuthError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file: AuthFile = if legacy {
        AuthFile {
            auths: serde_json::from_str(text).map_err(parse)?,
            ..AuthFile::default()
        }
    } else {
        serde_json::from_str(text).map_err(parse)?
    };
    if let Some(name) = file.cred_helpers.get(host) {
        return Ok(Entry::Helper {
            name: name.clone(),
            field: HelperField::CredHelpers,
        });
    }
    if let Some(name) = file.creds_store.filter(|n| !n.is_empty()) {
        return Ok(Entry::Helper {
            name,
            field: HelperField::CredsStore,
        });
    }
    let wanted = format!("{host}/{repository}");
    let best = file
        .auths
        .iter()
        .filter(|(key, _)| {
            let key = normalise_key(key);
            key == host || (key.starts_with(host) && wanted.starts_with(&format!("{key}/")))
        })
        .max_by_key(|(key, _)| normalise_key(key).len());
    let Some((key, entry)) = best else {
        return Ok(Entry::Nothing);
    };
    let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(Entry::Nothing);
    };
    let bad_entry = || AuthError::Entry {
        path: path.to_path_buf(),
        key: key.clone(),
    };
    let decoded = BASE64.decode(auth.as_bytes()).map_err(|_| bad_entry())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad_entry())?;
    let (username, password) = decoded.split_once(':').ok_or_else(bad_entry)?;
    Ok(Entry::Inline {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// `https://host/v1/` → `host`; `host/ns/` → `host/ns`.
fn normalise_key(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let key = key.trim_end_matches('/');
    key.strip_suffix("/v1")
        .or_else(|| key.strip_suffix("/v2"))
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(s: &str) -> String {
        BASE64.encode(s.as_bytes())
    }

    fn read(text: &str, host: &str, repository: &str) -> Entry {
        entry(Path::new("auth.json"), text, false, host, repository).unwrap()
    }

    fn inline(username: &str, password: &str) -> Entry {
        Entry::Inline {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    #[test]
    fn the_most_specific_auths_key_wins() {
        let text = serde_json::json!({"auths": {
            "https://127.0.0.1:5000/v1/": {"auth": auth("a:1")},
            "127.0.0.1:5000/team": {"auth": auth("b:2:x")},
            "other:1": {"auth": auth("c:3")},
            "empty:1": {},
        }})
        .to_string();
        assert_eq!(read(&text, "127.0.0.1:5000", "hello"), inline("a", "1"));
        assert_eq!(
            read(&text, "127.0.0.1:5000", "team/hello"),
            inline("b", "2:x")
        );
        assert_eq!(read(&text, "127.0.0.1:5001", "x"), Entry::Nothing);
        assert_eq!(read(&text, "empty:1", "x"), Entry::Nothing);
    }

    #[test]
    fn helpers_come_before_auths_entries() {
        let text = serde_json::json!({
            "auths": {"h:1": {"auth": auth("a:1")}, "h:2": {"auth": auth("b:2")}},
            "credHelpers": {"h:1": "one"},
        })
        .to_string();
        let helper = |name: &str, field| Entry::Helper {
            name: name.to_string(),
            field,
        };
        assert_eq!(
            read(&text, "h:1", "x"),
            helper("one", HelperField::CredHelpers)
        );
        assert_eq!(read(&text, "h:2", "x"), inline("b", "2"));
        let store = serde_json::json!({
            "auths": {"h:2": {"auth": auth("b:2")}},
            "credHelpers": {"h:1": "one"},
            "credsStore": "all",
            "HttpHeaders": {"User-Agent": "Docker-Client"},
        })
        .to_string();
        assert_eq!(
            read(&store, "h:1", "x"),
            helper("one", HelperField::CredHelpers)
        );
        assert_eq!(
            read(&store, "h:2", "x"),
            helper("all", HelperField::CredsStore)
        );
    }

    #[test]
    fn dockercfg_is_the_auths_object_alone() {
        let text =
            serde_json::json!({"https://h:1/v1/": {"auth": auth("a:1"), "email": "x"}}).to_string();
        assert_eq!(
            entry(Path::new(".dockercfg"), &text, true, "h:1", "x").unwrap(),
            inline("a", "1")
        );
    }

    #[test]
    fn bad_files_and_entries_are_named() {
        let err = entry(
            Path::new("/x/auth.json"),
            r#"{"auths": {"h:1": {"auth": "%%%"}}}"#,
            false,
            "h:1",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"h:1\"") && err.contains("/x/auth.json"),
            "{err}"
        );
        for text in [
            "not json",
            r#"{"auths": []}"#,
            r#"{"credHelpers": {"h:1": 7}}"#,
        ] {
            let err = entry(Path::new("/x/auth.json"), text, false, "h:1", "x")
                .unwrap_err()
                .to_string();
            assert!(err.contains("not containers-auth.json"), "{text}: {err}");
        }
    }
}
