//! Credentials and the registry's challenges.
//!
//! Credentials come from the files podman, skopeo and docker keep
//! (containers-auth.json(5)): the first of `--authfile`,
//! `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `~/.config/containers/auth.json` and `~/.docker/config.json` that holds
//! an entry for the registry. An entry is
//! `{"auths": {"HOST[/NAMESPACE]": {"auth": base64("user:password")}}}`;
//! keys may carry a scheme or docker's `/v1/` (`https://host/v1/`), and the
//! most specific key matching `HOST/REPOSITORY` wins, as in podman.
//! Credential helpers (`credHelpers`, `credsStore`) are not run.
//!
//! A registry asks for credentials with a `WWW-Authenticate` challenge
//! (RFC 7235) on a 401: `Basic realm="..."` (send the credentials with each
//! request) or `Bearer realm="URL",service="S",scope="S"` (the distribution
//! token flow: `GET URL?service=S&scope=...` with the credentials, if any,
//! gives `{"token": ...}`, sent as `Authorization: Bearer`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use thiserror::Error;

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user.
    pub username: String,
    /// The password (or token).
    pub password: String,
    /// The file they came from (for messages).
    pub file: PathBuf,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials({} from {})",
            self.username,
            self.file.display()
        )
    }
}

impl Credentials {
    /// The `Authorization: Basic` value.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", BASE64.encode(pair.as_bytes()))
    }
}

/// An auth file that cannot be used.
#[derive(Debug, Error)]
pub enum AuthError {
    /// It cannot be read.
    #[error("auth file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It is not an auth file.
    #[error("auth file {path}: not containers-auth.json: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An entry's `auth` is not base64 of `user:password`.
    #[error("auth file {path}: the entry {key:?} is not base64 of user:password")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry's key.
        key: String,
    },
}

/// The auth files to look in, in order, from the environment's values
/// (read by the caller): `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`, `HOME`.
pub fn auth_files(
    registry_auth_file: Option<PathBuf>,
    xdg_runtime_dir: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    files.extend(registry_auth_file);
    files.extend(xdg_runtime_dir.map(|d| d.join("containers/auth.json")));
    if let Some(home) = home {
        files.push(home.join(".config/containers/auth.json"));
        files.push(home.join(".docker/config.json"));
    }
    files
}

/// The credentials for `host/repository` in the first of `files` that has
/// an entry for it. A file that does not exist is passed over; one that
/// exists but is unusable is an error, named.
pub fn find_credentials(
    files: &[PathBuf],
    host: &str,
    repository: &str,
) -> Result<Option<Credentials>, AuthError> {
    for path in files {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(AuthError::Read {
                    path: path.clone(),
                    source,
                })
            }
        };
        if let Some(found) = lookup(path, &text, host, repository)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
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

fn lookup(
    path: &Path,
    text: &str,
    host: &str,
    repository: &str,
) -> Result<Option<Credentials>, AuthError> {
    let parse = |message: String| AuthError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
    let Some(auths) = value.get("auths") else {
        return Ok(None);
    };
    let auths = auths
        .as_object()
        .ok_or_else(|| parse("\"auths\" is not an object".to_string()))?;
    let wanted = format!("{host}/{repository}");
    let best = auths
        .iter()
        .filter(|(key, _)| {
            let key = normalise_key(key);
            key == host || (key.starts_with(host) && wanted.starts_with(&format!("{key}/")))
        })
        .max_by_key(|(key, _)| normalise_key(key).len());
    let Some((key, entry)) = best else {
        return Ok(None);
    };
    let bad_entry = || AuthError::Entry {
        path: path.to_path_buf(),
        key: key.clone(),
    };
    let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) else {
        return Ok(None);
    };
    if auth.is_empty() {
        return Ok(None);
    }
    let decoded = BASE64.decode(auth.as_bytes()).map_err(|_| bad_entry())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad_entry())?;
    let (username, password) = decoded.split_once(':').ok_or_else(bad_entry)?;
    Ok(Some(Credentials {
        username: username.to_string(),
        password: password.to_string(),
        file: path.to_path_buf(),
    }))
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`.
    Basic,
    /// `Bearer realm="...",service="...",scope="..."`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The service to name.
        service: Option<String>,
        /// The scope the registry asked for, if any.
        scope: Option<String>,
    },
}

/// Parses a challenge; `None` for a scheme Strata does not speak.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(params);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else {
        None
    }
}

/// `a="x,y",b=z` → `[(a, x,y), (b, z)]`: commas inside quotes stay.
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name.trim().to_string(), value.trim().to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".to_string(),
                service: Some("registry.example".to_string()),
                scope: Some("repository:a/b:pull,push".to_string()),
            })
        );
        assert_eq!(
            parse_challenge("bearer realm=http://127.0.0.1:1/t"),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".to_string(),
                service: None,
                scope: None,
            })
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn credentials_come_from_the_most_specific_entry() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        let auth = |s: &str| BASE64.encode(s.as_bytes());
        fs::write(
            &file,
            serde_json::json!({"auths": {
                "https://127.0.0.1:5000/v1/": {"auth": auth("a:1")},
                "127.0.0.1:5000/team": {"auth": auth("b:2:x")},
                "other:1": {"auth": auth("c:3")},
            }})
            .to_string(),
        )
        .unwrap();
        let files = [dir.path().join("absent.json"), file.clone()];
        let found = |repo| find_credentials(&files, "127.0.0.1:5000", repo).unwrap();
        let hello = found("hello").unwrap();
        assert_eq!(
            (hello.username.as_str(), hello.password.as_str()),
            ("a", "1")
        );
        let team = found("team/hello").unwrap();
        assert_eq!(
            (team.username.as_str(), team.password.as_str()),
            ("b", "2:x")
        );
        assert_eq!(team.basic(), format!("Basic {}", auth("b:2:x")));
        assert!(find_credentials(&files, "127.0.0.1:5001", "x")
            .unwrap()
            .is_none());
        fs::write(&file, r#"{"auths": {"h:1": {"auth": "%%%"}}}"#).unwrap();
        let err = find_credentials(&files, "h:1", "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"h:1\"") && err.contains("auth.json"),
            "{err}"
        );
        fs::write(&file, "not json").unwrap();
        let err = find_credentials(&files, "h:1", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not containers-auth.json"), "{err}");
    }
}
