//! The registry's HTTP side: one [`Registry`] per push, speaking the OCI
//! distribution API (`/v2/`) over a blocking `ureq` agent (pooled
//! connections, shared by the upload threads), with the auth challenge
//! answered once at [`Registry::connect`] and every request counted.
//!
//! `--tls-verify=false` means what it means to podman and skopeo: try
//! HTTPS without checking the certificate, and fall back to plain HTTP
//! when the registry does not speak TLS.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use ureq::http::{Response, StatusCode};
use ureq::tls::TlsConfig;
use ureq::{Agent, Body, SendBody};

use super::auth::{parse_challenge, AuthError, Challenge, CredentialSource, Credentials, Secret};

/// A registry's error body: `{"errors": [{"code", "message", "detail"}]}`
/// (distribution spec, "Error Codes").
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    /// The errors.
    #[serde(default)]
    pub errors: Vec<ErrorInfo>,
    /// The body as text when it is not that JSON (at most 200 bytes).
    #[serde(skip)]
    pub text: String,
}

/// One error of an [`ErrorBody`].
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorInfo {
    /// `MANIFEST_INVALID`, `BLOB_UNKNOWN`, `UNSUPPORTED`, ...
    #[serde(default)]
    pub code: String,
    /// The registry's words.
    #[serde(default)]
    pub message: String,
    /// Anything more.
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.errors.is_empty() {
            return match self.text.trim() {
                "" => f.write_str("no error body"),
                text => write!(f, "{text:?}"),
            };
        }
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.code, e.message)?;
            if let Some(detail) = e.detail.as_ref().filter(|d| !d.is_null()) {
                write!(f, " ({detail})")?;
            }
        }
        Ok(())
    }
}

/// What went wrong talking to a registry.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The registry cannot be reached (unknown host, nothing listening,
    /// TLS refused).
    #[error("cannot reach registry {host}: {source}")]
    Unreachable {
        /// `host[:port]`.
        host: String,
        /// Why.
        #[source]
        source: ureq::Error,
    },
    /// The registry wants credentials and none were found.
    #[error(
        "registry {host} needs credentials to push to {repository}, and no auth file has an \
         entry for it (podman login {host}, or REGISTRY_AUTH_FILE)"
    )]
    NoCredentials {
        /// `host[:port]`.
        host: String,
        /// The repository.
        repository: String,
    },
    /// The registry refused the credentials (or the token they gave).
    #[error("registry {host} refused the credentials from {from} for {repository} ({status})")]
    Refused {
        /// `host[:port]`.
        host: String,
        /// The repository.
        repository: String,
        /// Where the credentials came from.
        from: String,
        /// The status.
        status: StatusCode,
    },
    /// The registry asks for credentials and they cannot be had (an auth
    /// file or a credential helper failed).
    #[error("registry {host} asks for credentials")]
    Credentials {
        /// `host[:port]`.
        host: String,
        /// Why there are none.
        #[source]
        source: AuthError,
    },
    /// An identity token for a registry that wants Basic credentials: a
    /// refresh token is only traded at a token endpoint.
    #[error(
        "registry {host} wants a user and password (Basic), and {from} gives an identity token"
    )]
    TokenForBasic {
        /// `host[:port]`.
        host: String,
        /// Where the token came from.
        from: String,
    },
    /// The registry answered a request with an error.
    #[error("registry {host}: {what}: {status}: {body}")]
    Status {
        /// `host[:port]`.
        host: String,
        /// What was asked (`PUT manifest sha256:... of hello:v1`).
        what: String,
        /// The status.
        status: StatusCode,
        /// The registry's error body.
        body: ErrorBody,
    },
    /// The registry's answer breaks the protocol.
    #[error("registry {host}: {what}: {message}")]
    Protocol {
        /// `host[:port]`.
        host: String,
        /// What was asked.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The connection failed mid-request.
    #[error("registry {host}: {what}: {source}")]
    Transport {
        /// `host[:port]`.
        host: String,
        /// What was asked.
        what: String,
        /// Why.
        #[source]
        source: ureq::Error,
    },
}

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `host[:port]`.
    pub host: String,
    /// The repository pushed to.
    pub repository: String,
    /// Other repositories of the registry blobs may be mounted from (the
    /// token asks to pull from them too).
    pub mount_from: Vec<String>,
    /// Check certificates and insist on HTTPS.
    pub tls_verify: bool,
    /// Where credentials come from, when the registry asks.
    pub credentials: CredentialSource,
}

/// Counts of what a push sent.
#[derive(Debug, Default)]
pub struct Counters {
    /// HTTP requests sent (answered or not).
    pub requests: AtomicU64,
    /// Request body bytes sent.
    pub bytes: AtomicU64,
}

/// A registry, connected and authenticated.
pub struct Registry {
    agent: Agent,
    base: String,
    connection: Connection,
    /// Looked up when the registry first asked.
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
    challenge: Option<Challenge>,
    /// What this push sent.
    pub counters: Counters,
}

/// A request body.
pub enum Payload<'a> {
    /// None.
    Empty,
    /// Bytes in memory (manifests, configs).
    Bytes(&'a [u8]),
    /// A stream of a known length (a layer), read once.
    Stream(&'a mut dyn Read, u64),
}

fn agent(tls_verify: bool) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(4)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(300)))
        .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
        .tls_config(
            TlsConfig::builder()
                .disable_verification(!tls_verify)
                .build(),
        )
        .build()
        .new_agent()
}

impl Registry {
    /// Pings `/v2/` (over HTTPS, or HTTP when `tls_verify` is off and
    /// HTTPS fails), answering the auth challenge if there is one, so that
    /// every later request carries what the registry wants.
    pub fn connect(connection: Connection) -> Result<Registry, RegistryError> {
        let agent = agent(connection.tls_verify);
        let counters = Counters::default();
        let host = connection.host.clone();
        let attempt = |scheme: &str| {
            counters.requests.fetch_add(1, Ordering::Relaxed);
            agent
                .get(format!("{scheme}://{host}/v2/"))
                .call()
                .map(|r| (scheme.to_string(), r))
        };
        let (scheme, response) = match attempt("https") {
            Ok(found) => found,
            Err(_) if !connection.tls_verify => {
                attempt("http").map_err(|source| RegistryError::Unreachable {
                    host: host.clone(),
                    source,
                })?
            }
            Err(source) => {
                return Err(RegistryError::Unreachable {
                    host: host.clone(),
                    source,
                })
            }
        };
        let mut registry = Registry {
            agent,
            base: format!("{scheme}://{host}"),
            connection,
            credentials: None,
            authorization: Mutex::new(None),
            challenge: None,
            counters,
        };
        match response.status() {
            s if s.is_success() => Ok(registry),
            StatusCode::UNAUTHORIZED => {
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_challenge)
                    .ok_or_else(|| {
                        registry.protocol(
                            "GET /v2/",
                            "401 without a usable WWW-Authenticate challenge",
                        )
                    })?;
                registry.challenge = Some(challenge);
                registry.credentials = registry
                    .connection
                    .credentials
                    .resolve(&host, &registry.connection.repository)
                    .map_err(|source| RegistryError::Credentials {
                        host: host.clone(),
                        source,
                    })?;
                registry.authenticate()?;
                let check = registry.send("GET", "/v2/", Payload::Empty, &[])?;
                match check.status() {
                    s if s.is_success() => Ok(registry),
                    status => Err(registry.refused(status)),
                }
            }
            status => Err(registry.status_error("GET /v2/", response, status)),
        }
    }

    /// `host[:port]`.
    pub fn host(&self) -> &str {
        &self.connection.host
    }

    /// Sets the `Authorization` value for the challenge: the credentials
    /// themselves (Basic) or a token fetched with them (Bearer).
    fn authenticate(&self) -> Result<(), RegistryError> {
        let value = match &self.challenge {
            None => return Ok(()),
            Some(Challenge::Basic) => match &self.credentials {
                Some(c) => c.basic().ok_or_else(|| RegistryError::TokenForBasic {
                    host: self.host().to_string(),
                    from: c.from.clone(),
                })?,
                None => return Err(self.no_credentials()),
            },
            Some(Challenge::Bearer {
                realm,
                service,
                scope: _,
            }) => format!("Bearer {}", self.token(realm, service.as_deref())?),
        };
        *self.authorization.lock().expect("not poisoned") = Some(value);
        Ok(())
    }

    /// The distribution token flow: `GET realm?service=&scope=...`.
    fn token(&self, realm: &str, service: Option<&str>) -> Result<String, RegistryError> {
        // The scopes: push here, pull where blobs may be mounted from.
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(service) = service {
            params.push(("service", service.to_string()));
        }
        params.push((
            "scope",
            format!("repository:{}:pull,push", self.connection.repository),
        ));
        for from in &self.connection.mount_from {
            params.push(("scope", format!("repository:{from}:pull")));
        }
        let transport = |what: &str| {
            let what = what.to_string();
            move |source| RegistryError::Transport {
                host: self.host().to_string(),
                what,
                source,
            }
        };
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let (what, response) = match self.credentials.as_ref().map(|c| &c.secret) {
            Some(Secret::IdentityToken(refresh)) => {
                // OAuth2 (the distribution token spec's oauth.md, as
                // podman and docker do it): the refresh token is traded
                // in a form POSTed to the realm.
                let what = format!("POST token to {realm}");
                params.extend([
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", refresh.clone()),
                    ("client_id", "strata".to_string()),
                ]);
                let response = self
                    .agent
                    .post(realm)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .send(form_encode(&params).as_bytes())
                    .map_err(transport(&what))?;
                (what, response)
            }
            _ => {
                let what = format!("GET token from {realm}");
                let sep = if realm.contains('?') { '&' } else { '?' };
                let url = format!("{realm}{sep}{}", form_encode(&params));
                let mut request = self.agent.get(&url);
                if let Some(basic) = self.credentials.as_ref().and_then(Credentials::basic) {
                    request = request.header("authorization", basic);
                }
                let response = request.call().map_err(transport(&what))?;
                (what, response)
            }
        };
        match response.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(match self.credentials {
                    Some(_) => self.refused(response.status()),
                    None => self.no_credentials(),
                })
            }
            status => return Err(self.status_error(&what, response, status)),
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = read_json(response).map_err(|message| self.protocol(&what, &message))?;
        token
            .token
            .or(token.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.protocol(&what, "the answer holds no token"))
    }

    fn no_credentials(&self) -> RegistryError {
        RegistryError::NoCredentials {
            host: self.host().to_string(),
            repository: self.connection.repository.clone(),
        }
    }

    fn refused(&self, status: StatusCode) -> RegistryError {
        match &self.credentials {
            None => self.no_credentials(),
            Some(c) => RegistryError::Refused {
                host: self.host().to_string(),
                repository: self.connection.repository.clone(),
                from: c.from.clone(),
                status,
            },
        }
    }

    /// A protocol error about `what`.
    pub fn protocol(&self, what: &str, message: &str) -> RegistryError {
        RegistryError::Protocol {
            host: self.host().to_string(),
            what: what.to_string(),
            message: message.to_string(),
        }
    }

    /// The error for an unexpected status, with the registry's JSON body;
    /// a 401 or 403 is about the credentials.
    pub fn status_error(
        &self,
        what: &str,
        response: Response<Body>,
        status: StatusCode,
    ) -> RegistryError {
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return self.refused(status);
        }
        let text = read_text(response).unwrap_or_default();
        let body = serde_json::from_str::<ErrorBody>(&text).unwrap_or_else(|_| ErrorBody {
            errors: Vec::new(),
            text: text.chars().take(200).collect(),
        });
        RegistryError::Status {
            host: self.host().to_string(),
            what: what.to_string(),
            status,
            body,
        }
    }

    /// The absolute URL of `path_or_url` (a `Location` may be either).
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    /// `/v2/<repository>/<rest>`.
    pub fn path(&self, rest: &str) -> String {
        format!("/v2/{}/{rest}", self.connection.repository)
    }

    /// Sends one request; a 401 on a request whose body can be sent again
    /// renews the token once and retries.
    pub fn send(
        &self,
        method: &str,
        path_or_url: &str,
        payload: Payload<'_>,
        headers: &[(&str, String)],
    ) -> Result<Response<Body>, RegistryError> {
        let url = self.url(path_or_url);
        let what = format!("{method} {url}");
        let replayable = !matches!(payload, Payload::Stream(..));
        let mut payload = payload;
        for attempt in 0..2 {
            let mut builder = ureq::http::Request::builder()
                .method(method)
                .uri(url.as_str());
            if let Some(auth) = self.authorization.lock().expect("not poisoned").clone() {
                builder = builder.header("authorization", auth);
            }
            for (name, value) in headers {
                builder = builder.header(*name, value.as_str());
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let transport = |source| RegistryError::Transport {
                host: self.host().to_string(),
                what: what.clone(),
                source,
            };
            let response = match &mut payload {
                Payload::Empty => {
                    let request = builder
                        .header("content-length", "0")
                        .body(())
                        .map_err(|e| self.protocol(&what, &e.to_string()))?;
                    self.agent.run(request)
                }
                Payload::Bytes(bytes) => {
                    self.counters
                        .bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    let request = builder
                        .body(*bytes)
                        .map_err(|e| self.protocol(&what, &e.to_string()))?;
                    self.agent.run(request)
                }
                Payload::Stream(reader, size) => {
                    let mut counted = CountingReader {
                        inner: &mut **reader,
                        counter: &self.counters.bytes,
                    };
                    let request = builder
                        .header("content-length", size.to_string())
                        .body(SendBody::from_reader(&mut counted))
                        .map_err(|e| self.protocol(&what, &e.to_string()))?;
                    self.agent.run(request)
                }
            }
            .map_err(transport)?;
            let renew = response.status() == StatusCode::UNAUTHORIZED
                && replayable
                && attempt == 0
                && matches!(self.challenge, Some(Challenge::Bearer { .. }));
            if !renew {
                return Ok(response);
            }
            self.authenticate()?;
        }
        unreachable!("the second attempt returns")
    }
}

/// Counts the bytes read through it.
struct CountingReader<'a> {
    inner: &'a mut dyn Read,
    counter: &'a AtomicU64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A small answer's text (at most 1 MiB).
fn read_text(response: Response<Body>) -> Result<String, String> {
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(1 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A small JSON answer (at most 1 MiB).
pub fn read_json<T: for<'de> Deserialize<'de>>(response: Response<Body>) -> Result<T, String> {
    let text = read_text(response)?;
    serde_json::from_str(&text).map_err(|e| format!("not the JSON expected: {e}"))
}

/// `k=v&k=v`, each value percent-encoded: a query or a form body.
fn form_encode(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(query_escape("sha256:ab"), "sha256%3Aab");
    }

    #[test]
    fn error_bodies_print_code_and_message() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{"x":1}},{"code":"UNSUPPORTED","message":"no"}]}"#,
        )
        .unwrap();
        assert_eq!(
            body.to_string(),
            r#"MANIFEST_INVALID: manifest invalid ({"x":1}); UNSUPPORTED: no"#
        );
        assert_eq!(ErrorBody::default().to_string(), "no error body");
        let text = ErrorBody {
            errors: Vec::new(),
            text: "Method not allowed\n".to_string(),
        };
        assert_eq!(text.to_string(), "\"Method not allowed\"");
    }
}
