//! Pushing a [`PushSet`]: blobs (in parallel, each skipped when the
//! registry has it, mounted when a sibling repository has it, else
//! uploaded), then manifests, the tag last.
//!
//! Per blob, at best one request: `HEAD /v2/<name>/blobs/<digest>` (200:
//! there). Otherwise `POST /v2/<name>/blobs/uploads/` (with
//! `?mount=<digest>&from=<repo>` when this machine pushed the blob to
//! `<repo>` of the same registry before: 201 means mounted, no bytes sent;
//! 202 means upload after all) gives a `Location`; then either one `PUT
//! <location>&digest=<digest>` with the whole blob (monolithic), or
//! `PATCH` chunks with `Content-Range`, each answer's `Location` followed,
//! and an empty `PUT ...digest=`. The registry checks the digest.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use thiserror::Error;
use ureq::http::StatusCode;

use super::client::{query_escape, ErrorBody, Payload, Registry, RegistryError};
use super::{Blob, Manifest, PushSet};
use crate::image::digest::Sha256Digest;

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Blobs pushed at once (at least 1).
    pub jobs: usize,
    /// Upload in `PATCH` chunks of this many bytes; `None`: one `PUT`.
    pub chunk_size: Option<u64>,
}

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The registry had it.
    Skipped,
    /// Mounted from another repository.
    Mounted,
    /// Uploaded.
    Pushed,
}

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Blobs uploaded.
    pub pushed: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Blobs the registry had.
    pub skipped: usize,
    /// The blobs uploaded or mounted (for the mount records).
    pub placed: Vec<Sha256Digest>,
}

/// A manifest the registry refused, with its answer.
#[derive(Debug, Error)]
#[error(
    "registry {host} rejected manifest {digest} for {repository}:{reference} ({status}): {body}"
)]
pub struct ManifestRejected {
    /// `host[:port]`.
    pub host: String,
    /// The repository.
    pub repository: String,
    /// The tag or digest it was put under.
    pub reference: String,
    /// Its digest.
    pub digest: Sha256Digest,
    /// The status.
    pub status: StatusCode,
    /// The registry's errors.
    pub body: ErrorBody,
}

/// Why a push failed.
#[derive(Debug, Error)]
pub enum PushError {
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The registry refused a manifest.
    #[error(transparent)]
    ManifestRejected(Box<ManifestRejected>),
    /// A blob's bytes could not be read.
    #[error("reading {label} ({digest}): {source}")]
    Read {
        /// What it is.
        label: String,
        /// Its digest.
        digest: Sha256Digest,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl PushError {
    /// Whether the user is to act (unknown host, credentials, a manifest
    /// the registry will not take): exit code 2.
    pub fn is_bad_input(&self) -> bool {
        match self {
            PushError::Registry(e) => matches!(
                e,
                RegistryError::Unreachable { .. }
                    | RegistryError::NoCredentials { .. }
                    | RegistryError::Refused { .. }
                    | RegistryError::Credentials { .. }
                    | RegistryError::TokenForBasic { .. }
            ),
            PushError::ManifestRejected(_) => true,
            PushError::Read { .. } => false,
        }
    }
}

/// Pushes `set` under `tag`. `mount_from` names a repository of this
/// registry known to hold a blob. `progress`: one bar per uploaded blob.
pub fn push(
    registry: &Registry,
    repository: &str,
    set: &PushSet,
    tag: &str,
    mount_from: &(dyn Fn(&Sha256Digest) -> Option<String> + Sync),
    options: &PushOptions,
    progress: Option<&MultiProgress>,
) -> Result<Summary, PushError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<(usize, Result<BlobOutcome, PushError>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, set.blobs.len().max(1)) {
            scope.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(blob) = set.blobs.get(i) else {
                    return;
                };
                let from = mount_from(&blob.digest).filter(|f| f != repository);
                let result = push_blob(registry, blob, from.as_deref(), options, progress);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                results.lock().expect("not poisoned").push((i, result));
            });
        }
    });
    let mut results = results.into_inner().expect("not poisoned");
    results.sort_by_key(|(i, _)| *i);
    let mut summary = Summary::default();
    for (i, result) in results {
        match result? {
            BlobOutcome::Skipped => summary.skipped += 1,
            BlobOutcome::Mounted => {
                summary.mounted += 1;
                summary.placed.push(set.blobs[i].digest);
            }
            BlobOutcome::Pushed => {
                summary.pushed += 1;
                summary.placed.push(set.blobs[i].digest);
            }
        }
    }
    match &set.index {
        Some(index) => {
            for manifest in &set.manifests {
                put_manifest(registry, repository, manifest, &manifest.digest.to_string())?;
            }
            put_manifest(registry, repository, index, tag)?;
        }
        None => put_manifest(registry, repository, set.top(), tag)?,
    }
    Ok(summary)
}

fn location(
    registry: &Registry,
    response: &ureq::http::Response<ureq::Body>,
    what: &str,
) -> Result<String, RegistryError> {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| registry.protocol(what, "the answer has no Location"))
}

fn with_digest(location: &str, digest: &Sha256Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!(
        "{location}{sep}digest={}",
        query_escape(&digest.to_string())
    )
}

fn push_blob(
    registry: &Registry,
    blob: &Blob,
    mount_from: Option<&str>,
    options: &PushOptions,
    progress: Option<&MultiProgress>,
) -> Result<BlobOutcome, PushError> {
    let digest = blob.digest;
    let what = format!("HEAD {} {digest}", blob.label);
    let head = registry.send(
        "HEAD",
        &registry.path(&format!("blobs/{digest}")),
        Payload::Empty,
        &[],
    )?;
    match head.status() {
        StatusCode::OK => return Ok(BlobOutcome::Skipped),
        StatusCode::NOT_FOUND => {}
        status => return Err(registry.status_error(&what, head, status).into()),
    }
    let start = match mount_from {
        Some(from) => format!(
            "blobs/uploads/?mount={}&from={}",
            query_escape(&digest.to_string()),
            query_escape(from)
        ),
        None => "blobs/uploads/".to_string(),
    };
    let what = format!("POST upload of {} {digest}", blob.label);
    let started = registry.send("POST", &registry.path(&start), Payload::Empty, &[])?;
    match started.status() {
        StatusCode::CREATED if mount_from.is_some() => return Ok(BlobOutcome::Mounted),
        StatusCode::ACCEPTED => {}
        status => return Err(registry.status_error(&what, started, status).into()),
    }
    let mut location = location(registry, &started, &what)?;
    drop(started);
    let read_error = |source| PushError::Read {
        label: blob.label.clone(),
        digest,
        source,
    };
    let reader = blob.open().map_err(read_error)?;
    let bar = progress.map(|multi| {
        let bar = multi.add(ProgressBar::new(blob.size));
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>16} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec})",
            )
            .expect("the template is valid"),
        );
        bar.set_message(blob.label.clone());
        bar
    });
    let mut reader: Box<dyn Read + Send + '_> = match &bar {
        Some(bar) => Box::new(bar.wrap_read(reader)),
        None => reader,
    };
    let content_type = ("content-type", "application/octet-stream".to_string());
    let what = format!("upload of {} {digest}", blob.label);
    let finish = match options.chunk_size {
        None => registry.send(
            "PUT",
            &with_digest(&location, &digest),
            Payload::Stream(&mut reader, blob.size),
            &[content_type],
        )?,
        Some(chunk) => {
            let mut sent = 0u64;
            while sent < blob.size {
                let n = chunk.max(1).min(blob.size - sent);
                let range = ("content-range", format!("{sent}-{}", sent + n - 1));
                let mut part = (&mut reader).take(n);
                let patched = registry.send(
                    "PATCH",
                    &location,
                    Payload::Stream(&mut part, n),
                    &[content_type.clone(), range],
                )?;
                match patched.status() {
                    StatusCode::ACCEPTED | StatusCode::NO_CONTENT => {}
                    status => return Err(registry.status_error(&what, patched, status).into()),
                }
                location = location_or(registry, &patched, &location);
                sent += n;
            }
            registry.send("PUT", &with_digest(&location, &digest), Payload::Empty, &[])?
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match finish.status() {
        StatusCode::CREATED | StatusCode::ACCEPTED | StatusCode::NO_CONTENT => {
            Ok(BlobOutcome::Pushed)
        }
        status => Err(registry.status_error(&what, finish, status).into()),
    }
}

/// The answer's `Location`, or the one before when it has none.
fn location_or(
    registry: &Registry,
    response: &ureq::http::Response<ureq::Body>,
    before: &str,
) -> String {
    location(registry, response, "").unwrap_or_else(|_| before.to_string())
}

fn put_manifest(
    registry: &Registry,
    repository: &str,
    manifest: &Manifest,
    reference: &str,
) -> Result<(), PushError> {
    let response = registry.send(
        "PUT",
        &registry.path(&format!("manifests/{reference}")),
        Payload::Bytes(&manifest.bytes),
        &[("content-type", manifest.media_type.clone())],
    )?;
    let status = response.status();
    if status.is_success() {
        let answered = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok());
        if let Some(answered) = answered.filter(|a| *a != manifest.digest.to_string()) {
            return Err(registry
                .protocol(
                    &format!("PUT manifest {}", manifest.digest),
                    &format!("the registry stored it as {answered}"),
                )
                .into());
        }
        return Ok(());
    }
    match registry.status_error("PUT manifest", response, status) {
        RegistryError::Status { body, .. } => {
            Err(PushError::ManifestRejected(Box::new(ManifestRejected {
                host: registry.host().to_string(),
                repository: repository.to_string(),
                reference: reference.to_string(),
                digest: manifest.digest,
                status,
                body,
            })))
        }
        other => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    //! The Bearer token flow against an in-process registry: `/v2/`
    //! answers 401 with a challenge, the token endpoint wants the
    //! credentials, and every later request must carry the token.

    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use axum::http::{HeaderMap, StatusCode as Status};
    use axum::routing::{get, head, put};
    use axum::Router;

    use super::*;
    use crate::push::auth::{CredentialSource, Credentials, Secret};
    use crate::push::client::Connection;
    use crate::push::{BlobSource, Manifest, PushSet};

    fn bearer(headers: &HeaderMap) -> bool {
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer t0k")
    }

    /// Serves the fake registry on a loopback port; returns `host:port`
    /// and the count of manifests put.
    fn fake_registry() -> (String, Arc<AtomicUsize>) {
        let puts = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let counted = puts.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let challenge = format!(
                    "Bearer realm=\"http://{addr}/token\",service=\"fake\",scope=\"registry:catalog:*\""
                );
                let app = Router::new()
                    .route(
                        "/v2/",
                        get(move |h: HeaderMap| {
                            let challenge = challenge.clone();
                            async move {
                                if bearer(&h) {
                                    (Status::OK, [("www-authenticate", String::new())])
                                } else {
                                    (Status::UNAUTHORIZED, [("www-authenticate", challenge)])
                                }
                            }
                        }),
                    )
                    .route(
                        "/token",
                        get(|h: HeaderMap, q: axum::extract::RawQuery| async move {
                            let query = q.0.unwrap_or_default();
                            let basic = Credentials::password("u", "p", "f").basic();
                            let ok = h.get("authorization").and_then(|v| v.to_str().ok())
                                == basic.as_deref()
                                && query.contains("service=fake")
                                && query.contains("scope=repository%3Ateam%2Fx%3Apull%2Cpush");
                            if ok {
                                (Status::OK, r#"{"token":"t0k"}"#)
                            } else {
                                (Status::UNAUTHORIZED, "{}")
                            }
                        })
                        // An identity token's OAuth2 refresh flow.
                        .post(|h: HeaderMap, form: String| async move {
                            let ok = h.get("content-type").and_then(|v| v.to_str().ok())
                                == Some("application/x-www-form-urlencoded")
                                && form.contains("grant_type=refresh_token")
                                && form.contains("refresh_token=r3fresh")
                                && form.contains("service=fake")
                                && form.contains("scope=repository%3Ateam%2Fx%3Apull%2Cpush");
                            if ok {
                                (Status::OK, r#"{"access_token":"t0k"}"#)
                            } else {
                                (Status::UNAUTHORIZED, "{}")
                            }
                        }),
                    )
                    .route(
                        "/v2/team/x/blobs/{digest}",
                        head(|h: HeaderMap| async move {
                            if bearer(&h) {
                                Status::OK
                            } else {
                                Status::UNAUTHORIZED
                            }
                        }),
                    )
                    .route(
                        "/v2/team/x/manifests/{reference}",
                        put(move |h: HeaderMap| {
                            let counted = counted.clone();
                            async move {
                                if !bearer(&h) {
                                    return Status::UNAUTHORIZED;
                                }
                                counted.fetch_add(1, Ordering::Relaxed);
                                Status::CREATED
                            }
                        }),
                    );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        (addr.to_string(), puts)
    }

    fn connection(host: &str, password: &str) -> Connection {
        Connection {
            host: host.to_string(),
            repository: "team/x".to_string(),
            mount_from: Vec::new(),
            tls_verify: false,
            credentials: CredentialSource::Given(Some(Credentials::password(
                "u",
                password,
                "auth.json",
            ))),
        }
    }

    fn identity_token(host: &str, token: &str) -> Connection {
        Connection {
            credentials: CredentialSource::Given(Some(Credentials {
                secret: Secret::IdentityToken(token.to_string()),
                from: "docker-credential-t (credsStore in config.json)".to_string(),
            })),
            ..connection(host, "")
        }
    }

    #[test]
    fn the_bearer_token_flow_is_followed() {
        let (host, puts) = fake_registry();
        let registry = Registry::connect(connection(&host, "p")).unwrap();
        let config = b"{}".to_vec();
        let set = PushSet {
            blobs: vec![Blob {
                digest: Sha256Digest::of(&config),
                size: 2,
                source: BlobSource::Bytes(config),
                label: "config".to_string(),
            }],
            manifests: vec![Manifest::new(
                crate::image::repository::OCI_MANIFEST,
                b"{}".to_vec(),
            )],
            index: None,
            tag: None,
        };
        let options = PushOptions {
            jobs: 2,
            chunk_size: None,
        };
        let summary = push(&registry, "team/x", &set, "v1", &|_| None, &options, None).unwrap();
        assert_eq!((summary.pushed, summary.skipped), (0, 1));
        assert_eq!(puts.load(Ordering::Relaxed), 1);

        let refused = Registry::connect(connection(&host, "wrong")).err().unwrap();
        let message = PushError::from(refused).to_string();
        assert!(
            message.contains("refused the credentials from auth.json for team/x"),
            "{message}"
        );
        let mut none = connection(&host, "p");
        none.credentials = CredentialSource::Files(Vec::new());
        let missing = PushError::from(Registry::connect(none).err().unwrap());
        assert!(missing.is_bad_input());
        assert!(
            missing.to_string().contains("needs credentials"),
            "{missing}"
        );
    }

    #[test]
    fn an_identity_token_is_traded_for_a_bearer_token() {
        let (host, _) = fake_registry();
        let registry = Registry::connect(identity_token(&host, "r3fresh")).unwrap();
        let response = registry
            .send("GET", "/v2/", crate::push::client::Payload::Empty, &[])
            .unwrap();
        assert!(response.status().is_success());
        let refused = PushError::from(
            Registry::connect(identity_token(&host, "stale"))
                .err()
                .unwrap(),
        );
        assert!(refused.is_bad_input());
        assert!(
            refused.to_string().contains(
                "refused the credentials from docker-credential-t (credsStore in config.json)"
            ),
            "{refused}"
        );
    }
}
