//! Credentials for a registry, and the registry's challenges.
//!
//! Credentials come from the files podman, skopeo and docker keep, in
//! containers-auth.json(5)'s order: `--authfile` alone, else
//! `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/...` by default),
//! `~/.docker/config.json` and the legacy `~/.dockercfg`. The first file
//! that gives credentials for the registry wins; what a file gives is its
//! credential helper's answer (`credHelpers`, `credsStore`: [`helper`]) or
//! its `auths` entry, in the order [`file`] states. A helper with nothing
//! for the host passes the search on to the next file, as in podman; a
//! helper that is missing or fails is an error naming it and the host.
//!
//! They are looked up when the registry asks for them (a 401 with a
//! [`challenge`]), so a push to an open registry reads no file and runs
//! no helper.

pub mod challenge;
pub mod file;
pub mod helper;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use thiserror::Error;

pub use challenge::{parse_challenge, Challenge};
use file::{Entry, HelperField};
use helper::{HelperError, Helpers, PathHelpers};

/// What proves who is pushing (its `Debug` shows no secret).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A user and password (sent as Basic, or to the token endpoint).
    Password {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// An identity token (an OAuth2 refresh token, from a helper answering
    /// with the user `<token>`): traded for a Bearer token.
    IdentityToken(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Password { username, .. } => write!(f, "Password({username})"),
            Secret::IdentityToken(_) => f.write_str("IdentityToken"),
        }
    }
}

/// A secret and where it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The secret.
    pub secret: Secret,
    /// Where it came from, for messages: the auth file, or the helper
    /// and the file that named it.
    pub from: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.secret {
            Secret::Password { username, .. } => {
                write!(f, "Credentials({username} from {})", self.from)
            }
            Secret::IdentityToken(_) => write!(f, "Credentials(identity token from {})", self.from),
        }
    }
}

impl Credentials {
    /// A user and password from `from`.
    #[cfg(test)]
    pub fn password(username: &str, password: &str, from: &str) -> Self {
        Credentials {
            secret: Secret::Password {
                username: username.to_string(),
                password: password.to_string(),
            },
            from: from.to_string(),
        }
    }

    /// The `Authorization: Basic` value; `None` for an identity token.
    pub fn basic(&self) -> Option<String> {
        match &self.secret {
            Secret::Password { username, password } => {
                let pair = format!("{username}:{password}");
                Some(format!("Basic {}", BASE64.encode(pair.as_bytes())))
            }
            Secret::IdentityToken(_) => None,
        }
    }
}

/// Credentials that cannot be had.
#[derive(Debug, Error)]
pub enum AuthError {
    /// An auth file cannot be read.
    #[error("auth file {path}")]
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
    /// The credential helper a file names for the registry is missing or
    /// failed.
    #[error("credential helper docker-credential-{name} for {host} ({field} in {path})")]
    Helper {
        /// The helper's name (after `docker-credential-`).
        name: String,
        /// The registry.
        host: String,
        /// Which field named it.
        field: HelperField,
        /// The file.
        path: PathBuf,
        /// What went wrong (boxed: errors stay small).
        #[source]
        source: Box<HelperError>,
    },
}

/// The environment's say in where auth files are (read by the caller).
#[derive(Debug, Clone, Default)]
pub struct AuthEnv {
    /// `$REGISTRY_AUTH_FILE`.
    pub registry_auth_file: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
}

/// An auth file to look in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFile {
    /// Where.
    pub path: PathBuf,
    /// In `~/.dockercfg`'s format (the `auths` object alone).
    pub legacy: bool,
}

impl AuthFile {
    fn new(path: PathBuf) -> Self {
        AuthFile {
            path,
            legacy: false,
        }
    }
}

/// The auth files to look in, in order (see the module docs).
pub fn auth_files(env: AuthEnv) -> Vec<AuthFile> {
    let mut files = Vec::new();
    files.extend(env.registry_auth_file.map(AuthFile::new));
    files.extend(
        env.xdg_runtime_dir
            .map(|d| AuthFile::new(d.join("containers/auth.json"))),
    );
    let config_home = env
        .xdg_config_home
        .filter(|d| d.is_absolute())
        .or_else(|| env.home.as_ref().map(|h| h.join(".config")));
    files.extend(config_home.map(|d| AuthFile::new(d.join("containers/auth.json"))));
    if let Some(home) = env.home {
        files.push(AuthFile::new(home.join(".docker/config.json")));
        files.push(AuthFile {
            path: home.join(".dockercfg"),
            legacy: true,
        });
    }
    files
}

/// Where a push's credentials come from; looked up by
/// [`CredentialSource::resolve`] when the registry asks for them.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// The first of these files with credentials for the registry (helpers
    /// run from `PATH`); none when it is empty.
    Files(Vec<AuthFile>),
    /// These, as they are (the client's tests).
    #[cfg(test)]
    Given(Option<Credentials>),
}

impl CredentialSource {
    /// The credentials for `host/repository`, if any.
    pub fn resolve(&self, host: &str, repository: &str) -> Result<Option<Credentials>, AuthError> {
        match self {
            CredentialSource::Files(files) => {
                find_credentials(files, host, repository, &PathHelpers)
            }
            #[cfg(test)]
            CredentialSource::Given(c) => Ok(c.clone()),
        }
    }
}

/// The credentials for `host/repository` from the first of `files` that
/// gives some (helpers asked through `helpers`). A file that does not
/// exist is passed over; one that exists but is unusable is an error,
/// named.
pub fn find_credentials(
    files: &[AuthFile],
    host: &str,
    repository: &str,
    helpers: &dyn Helpers,
) -> Result<Option<Credentials>, AuthError> {
    for file in files {
        let Some(text) = read(&file.path)? else {
            continue;
        };
        match file::entry(&file.path, &text, file.legacy, host, repository)? {
            Entry::Nothing => {}
            Entry::Inline { username, password } => {
                return Ok(Some(Credentials {
                    secret: Secret::Password { username, password },
                    from: file.path.display().to_string(),
                }))
            }
            Entry::Helper { name, field } => {
                let helper_err = |source| AuthError::Helper {
                    name: name.clone(),
                    host: host.to_string(),
                    field,
                    path: file.path.clone(),
                    source: Box::new(source),
                };
                if let Some(secret) = helpers.get(&name, host).map_err(helper_err)? {
                    return Ok(Some(Credentials {
                        secret,
                        from: format!(
                            "docker-credential-{name} ({field} in {})",
                            file.path.display()
                        ),
                    }));
                }
            }
        }
    }
    Ok(None)
}

/// The file's text; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, AuthError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AuthError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Helpers answering from a table, recording who was asked.
    struct Table {
        answers: Vec<(&'static str, Result<Option<Secret>, &'static str>)>,
        asked: RefCell<Vec<String>>,
    }

    impl Helpers for Table {
        fn get(&self, name: &str, host: &str) -> Result<Option<Secret>, HelperError> {
            self.asked.borrow_mut().push(format!("{name} {host}"));
            let (_, answer) = self
                .answers
                .iter()
                .find(|(n, _)| *n == name)
                .expect("a known helper");
            answer.clone().map_err(|_| HelperError::Missing {
                program: format!("docker-credential-{name}"),
            })
        }
    }

    fn password(username: &str, password: &str) -> Secret {
        Secret::Password {
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    #[test]
    fn files_are_searched_in_order_and_a_helper_without_credentials_passes() {
        let dir = tempfile::tempdir().unwrap();
        let auth = |s: &str| BASE64.encode(s.as_bytes());
        let first = dir.path().join("auth.json");
        let docker = dir.path().join(".docker/config.json");
        fs::create_dir_all(docker.parent().unwrap()).unwrap();
        fs::write(
            &first,
            serde_json::json!({
                "auths": {"h:1": {"auth": auth("inline:1")}},
                "credHelpers": {"h:1": "empty", "h:2": "broken", "h:3": "token"},
            })
            .to_string(),
        )
        .unwrap();
        fs::write(
            &docker,
            serde_json::json!({"auths": {"h:1": {"auth": auth("docker:2")}}}).to_string(),
        )
        .unwrap();
        let files = auth_files(AuthEnv {
            registry_auth_file: Some(first.clone()),
            home: Some(dir.path().to_path_buf()),
            ..AuthEnv::default()
        });
        assert_eq!(
            files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
            [
                first.clone(),
                dir.path().join(".config/containers/auth.json"),
                docker.clone(),
                dir.path().join(".dockercfg"),
            ]
        );
        let helpers = Table {
            answers: vec![
                ("empty", Ok(None)),
                ("broken", Err("missing")),
                ("token", Ok(Some(Secret::IdentityToken("r".to_string())))),
            ],
            asked: RefCell::new(Vec::new()),
        };
        // The helper has nothing, the inline entry beside it is not used:
        // the next file's entry is.
        let found = find_credentials(&files, "h:1", "x", &helpers)
            .unwrap()
            .unwrap();
        assert_eq!(found.secret, password("docker", "2"));
        assert_eq!(found.from, docker.display().to_string());
        let err = find_credentials(&files, "h:2", "x", &helpers)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("docker-credential-broken for h:2 (credHelpers in")
                && err.contains("auth.json"),
            "{err}"
        );
        let token = find_credentials(&files, "h:3", "x", &helpers)
            .unwrap()
            .unwrap();
        assert_eq!(token.secret, Secret::IdentityToken("r".to_string()));
        assert!(token.basic().is_none());
        assert!(token
            .from
            .starts_with("docker-credential-token (credHelpers in "));
        assert_eq!(
            *helpers.asked.borrow(),
            ["empty h:1", "broken h:2", "token h:3"]
        );
        assert!(find_credentials(&files, "h:4", "x", &helpers)
            .unwrap()
            .is_none());
    }

    #[test]
    fn basic_is_base64_of_user_and_password() {
        let c = Credentials::password("b", "2:x", "f");
        assert_eq!(
            c.basic().unwrap(),
            format!("Basic {}", BASE64.encode(b"b:2:x"))
        );
        assert_eq!(format!("{c:?}"), "Credentials(b from f)");
    }
}
