//! Credential helpers, run as docker and podman run them
//! (docker-credential-helpers' protocol): the program
//! `docker-credential-NAME`, found on `PATH`, is run with the argument
//! `get` and the registry's host on stdin (no newline), and prints
//! `{"ServerURL": "...", "Username": "...", "Secret": "..."}`. A
//! `Username` of `<token>` means `Secret` is an identity token (an OAuth2
//! refresh token), not a password. A helper with nothing for the host
//! exits non-zero printing `credentials not found in native keychain`:
//! that is no error, the search goes on (podman's reading).

use std::io::{self, Write as _};
use std::process::{Command, ExitStatus, Stdio};

use serde::Deserialize;
use thiserror::Error;

use super::Secret;

/// What a helper prints when it holds nothing for the host
/// (docker-credential-helpers' `credentials.errCredentialsNotFound`).
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// The `Username` that marks `Secret` as an identity token.
pub const TOKEN_USERNAME: &str = "<token>";

/// Most of a helper's message kept for an error.
const MESSAGE_CHARS: usize = 300;

/// Asks credential helpers for a host's secret; [`PathHelpers`] runs
/// them, tests answer in place.
pub trait Helpers {
    /// The helper `name`'s secret for `host`; `None` when it has none.
    fn get(&self, name: &str, host: &str) -> Result<Option<Secret>, HelperError>;
}

/// Runs `docker-credential-NAME get` from `PATH`.
pub struct PathHelpers;

/// A helper that could not answer.
#[derive(Debug, Error)]
pub enum HelperError {
    /// The name would not make a program name on `PATH` (empty, or a `/`).
    #[error("{name:?} is not a credential helper name")]
    BadName {
        /// The name as the file gives it.
        name: String,
    },
    /// No such program on `PATH`.
    #[error("{program} is not on PATH")]
    Missing {
        /// `docker-credential-NAME`.
        program: String,
    },
    /// The program could not be started or talked to.
    #[error("{program} could not be run")]
    Run {
        /// `docker-credential-NAME`.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It failed.
    #[error("{program} get failed ({status}): {message}")]
    Failed {
        /// `docker-credential-NAME`.
        program: String,
        /// How it exited.
        status: ExitStatus,
        /// What it printed (stdout, else stderr), shortened.
        message: String,
    },
    /// It succeeded but printed no credentials.
    #[error("{program} get printed no credentials: {message}")]
    Output {
        /// `docker-credential-NAME`.
        program: String,
        /// What is wrong.
        message: String,
    },
}

/// The JSON a helper prints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

impl Helpers for PathHelpers {
    fn get(&self, name: &str, host: &str) -> Result<Option<Secret>, HelperError> {
        if name.is_empty() || name.contains('/') {
            return Err(HelperError::BadName {
                name: name.to_string(),
            });
        }
        let program = format!("docker-credential-{name}");
        let run_err = |source: io::Error| HelperError::Run {
            program: program.clone(),
            source,
        };
        let mut child = match Command::new(&program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(HelperError::Missing { program })
            }
            Err(e) => return Err(run_err(e)),
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A helper may exit without reading: a closed pipe is its answer.
            match stdin.write_all(host.as_bytes()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(run_err(e)),
                _ => {}
            }
        }
        let output = child.wait_with_output().map_err(run_err)?;
        parse_answer(&program, output.status, &output.stdout, &output.stderr)
    }
}

/// A helper's answer from its exit status and output.
fn parse_answer(
    program: &str,
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<Option<Secret>, HelperError> {
    let stdout = String::from_utf8_lossy(stdout);
    if !status.success() {
        let said = match stdout.trim() {
            "" => String::from_utf8_lossy(stderr).trim().to_string(),
            text => text.to_string(),
        };
        if said == NOT_FOUND {
            return Ok(None);
        }
        return Err(HelperError::Failed {
            program: program.to_string(),
            status,
            message: said.chars().take(MESSAGE_CHARS).collect(),
        });
    }
    let answer: HelperAnswer =
        serde_json::from_str(stdout.trim()).map_err(|e| HelperError::Output {
            program: program.to_string(),
            message: e.to_string(),
        })?;
    Ok(Some(if answer.username == TOKEN_USERNAME {
        Secret::IdentityToken(answer.secret)
    } else {
        Secret::Password {
            username: answer.username,
            password: answer.secret,
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    fn status(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn answers_are_read_as_docker_credential_helpers_write_them() {
        let ok = br#"{"ServerURL":"h:1","Username":"u","Secret":"p:w"}"#;
        assert_eq!(
            parse_answer("docker-credential-x", status(0), ok, b"").unwrap(),
            Some(Secret::Password {
                username: "u".to_string(),
                password: "p:w".to_string()
            })
        );
        let token = br#"{"ServerURL":"h:1","Username":"<token>","Secret":"r3fresh"}"#;
        assert_eq!(
            parse_answer("docker-credential-x", status(0), token, b"").unwrap(),
            Some(Secret::IdentityToken("r3fresh".to_string()))
        );
        let none = format!("{NOT_FOUND}\n");
        assert_eq!(
            parse_answer("docker-credential-x", status(1), none.as_bytes(), b"").unwrap(),
            None
        );
        let failed = parse_answer("docker-credential-x", status(3), b"", b"keyring locked\n")
            .unwrap_err()
            .to_string();
        assert!(
            failed.contains("docker-credential-x get failed") && failed.contains("keyring locked"),
            "{failed}"
        );
        let garbled = parse_answer("docker-credential-x", status(0), b"hello", b"")
            .unwrap_err()
            .to_string();
        assert!(garbled.contains("printed no credentials"), "{garbled}");
    }

    #[test]
    fn a_name_with_a_slash_runs_nothing() {
        for name in ["", "../../bin/sh", "a/b"] {
            assert!(
                matches!(
                    PathHelpers.get(name, "h:1"),
                    Err(HelperError::BadName { .. })
                ),
                "{name}"
            );
        }
    }
}
