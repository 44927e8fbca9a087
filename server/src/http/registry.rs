//! The registry pull API (OCI distribution spec, pull side): `/v2/`,
//! manifests, blobs, tag lists and referrers, answered from the
//! repository records [`crate::image::publish`] writes.
//!
//! GET and HEAD share every resolver: HEAD answers the same status and
//! headers, without opening the blob. Writes get 405 `UNSUPPORTED`: images
//! arrive by `strata build --publish` (later the build API), never by push.
//! Record and manifest reads are small synchronous reads of local files;
//! blob bodies are streamed from their file.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use oci_spec::image::{ImageIndexBuilder, MediaType};
use serde_json::json;

use super::accept;
use super::error::{ErrorCode, RegistryError};
use super::file_body::file_body;
use super::range::ByteRange;
use super::route::{tag_of, Endpoint, Reference};
use super::AppState;
use crate::image::config::canonical_json;
use crate::image::digest::Sha256Digest;
use crate::image::name::ImageName;
use crate::image::repository::{ManifestKind, ManifestRef, Repository};

/// Names the spec version; clients check it on `/v2/`, we send it always.
pub const API_VERSION: HeaderName = HeaderName::from_static("docker-distribution-api-version");
/// The digest of what a manifest or blob response carries.
pub const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");

/// Adds `Docker-Distribution-API-Version: registry/2.0` to a response.
pub async fn api_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    response
}

/// `/v2/`: the API is here (no authentication).
pub async fn base(method: Method) -> Result<Response, RegistryError> {
    read_only(&method)?;
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        b"{}".to_vec(),
        &method,
    ))
}

/// Every `/v2/<...>` request.
pub async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, RegistryError> {
    read_only(&method)?;
    let tail = uri.path().strip_prefix("/v2/").unwrap_or_default();
    let store = state.store.as_ref();
    match Endpoint::parse(tail)? {
        Endpoint::Manifest(name, reference) => {
            let repository = Repository::new(store, &name);
            let (kind, manifest) = resolve_manifest(&repository, &name, &reference, &headers)?;
            let body = if method == Method::HEAD {
                Vec::new()
            } else {
                read_blob(&state, &manifest.digest)?
            };
            let mut response = json_response(StatusCode::OK, kind.media_type(), body, &method);
            set(
                &mut response,
                header::CONTENT_LENGTH,
                manifest.size.to_string(),
            );
            set(&mut response, CONTENT_DIGEST, manifest.digest.to_string());
            Ok(response)
        }
        Endpoint::Blob(name, digest) => blob(&state, &name, &digest, &method, &headers).await,
        Endpoint::Tags(name) => tags(&state, &name, uri.query(), &method),
        Endpoint::Referrers(_, _) => {
            // No image here has referrers (signatures, SBOMs): an empty
            // index, which the spec asks for rather than a 404.
            let index = ImageIndexBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageIndex)
                .manifests(Vec::new())
                .build()
                .expect("index fields are set");
            let media_type = MediaType::ImageIndex.to_string();
            Ok(json_response(
                StatusCode::OK,
                &media_type,
                canonical_json(&index),
                &method,
            ))
        }
    }
}

/// 405 for anything but GET and HEAD.
fn read_only(method: &Method) -> Result<(), RegistryError> {
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    Err(RegistryError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Unsupported,
        "this registry is read-only: images are published with `strata build --publish`",
        json!({ "method": method.as_str() }),
    ))
}

/// The manifest a reference names, in the form the client gets.
fn resolve_manifest(
    repository: &Repository<'_>,
    name: &ImageName,
    reference: &Reference,
    headers: &HeaderMap,
) -> Result<(ManifestKind, ManifestRef), RegistryError> {
    let unknown = |reference: String| {
        RegistryError::unknown(
            ErrorCode::ManifestUnknown,
            format!("{name} has no manifest {reference}"),
            json!({ "name": name.as_str(), "reference": reference }),
        )
    };
    match reference {
        Reference::Tag(tag) => {
            let record = repository
                .tag(tag)?
                .ok_or_else(|| unknown(tag.to_string()))?;
            Ok(match (accept::preferred(headers), record.docker) {
                (ManifestKind::Docker, Some(docker)) => (ManifestKind::Docker, docker),
                _ => (ManifestKind::Oci, record.oci),
            })
        }
        Reference::Digest(digest) => {
            let record = repository
                .manifest(digest)?
                .ok_or_else(|| unknown(digest.to_string()))?;
            Ok((
                record.kind,
                ManifestRef {
                    digest: *digest,
                    size: record.size,
                },
            ))
        }
    }
}

/// A small blob (a manifest) read whole.
fn read_blob(state: &AppState, digest: &Sha256Digest) -> Result<Vec<u8>, RegistryError> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut state.store.open(digest)?, &mut bytes)?;
    Ok(bytes)
}

/// A blob of the name, whole or a range of it, streamed from its file.
async fn blob(
    state: &AppState,
    name: &ImageName,
    digest: &Sha256Digest,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, RegistryError> {
    let store = state.store.as_ref();
    let unknown = || {
        RegistryError::unknown(
            ErrorCode::BlobUnknown,
            format!("{name} has no blob {digest}"),
            json!({ "name": name.as_str(), "digest": digest.to_string() }),
        )
    };
    if !Repository::new(store, name).has_blob(digest)? {
        return Err(unknown());
    }
    let len = store.stat(digest)?.ok_or_else(unknown)?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, count) = match ByteRange::parse(range, len) {
        ByteRange::Full => (StatusCode::OK, 0, len),
        ByteRange::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        ByteRange::Unsatisfiable => return Err(RegistryError::range(len)),
    };
    let body = if method == Method::HEAD || count == 0 {
        Body::empty()
    } else {
        // Only stores with local files serve blobs for now (the S3 store
        // will answer with a redirect instead).
        let path = store.local_path(digest).ok_or_else(unknown)?;
        file_body(&path, start, count).await?
    };
    let mut response = (status, body).into_response();
    set(
        &mut response,
        header::CONTENT_TYPE,
        "application/octet-stream".to_string(),
    );
    set(&mut response, header::CONTENT_LENGTH, count.to_string());
    set(&mut response, header::ACCEPT_RANGES, "bytes".to_string());
    set(&mut response, CONTENT_DIGEST, digest.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + count - 1;
        set(
            &mut response,
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{len}"),
        );
    }
    Ok(response)
}

/// `tags/list?n=N&last=T`: the name's tags after `last`, at most `n`,
/// with a `Link` to the next page when more remain.
fn tags(
    state: &AppState,
    name: &ImageName,
    query: Option<&str>,
    method: &Method,
) -> Result<Response, RegistryError> {
    let mut n = None;
    let mut last = None;
    for (key, value) in query
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
    {
        match key {
            "n" => {
                n = Some(value.parse::<usize>().map_err(|_| {
                    RegistryError::invalid(
                        ErrorCode::PaginationNumberInvalid,
                        "n must be a non-negative integer",
                        value,
                    )
                })?);
            }
            "last" => last = Some(tag_of(value)?),
            _ => {}
        }
    }
    let all = Repository::new(state.store.as_ref(), name).tags()?;
    if all.is_empty() {
        return Err(RegistryError::unknown(
            ErrorCode::NameUnknown,
            format!("no image is published as {name}"),
            json!({ "name": name.as_str() }),
        ));
    }
    let after: Vec<String> = all
        .into_iter()
        .filter(|t| last.as_ref().is_none_or(|l| t.as_str() > l.as_str()))
        .collect();
    let page: Vec<String> = after
        .iter()
        .take(n.unwrap_or(usize::MAX))
        .cloned()
        .collect();
    let body = serde_json::to_vec(&json!({ "name": name.as_str(), "tags": page }))
        .expect("a tag list serialises");
    let mut response = json_response(StatusCode::OK, "application/json", body, method);
    if let (Some(n), Some(last_shown)) = (n, page.last()) {
        if after.len() > page.len() {
            let link = format!("</v2/{name}/tags/list?n={n}&last={last_shown}>; rel=\"next\"");
            set(&mut response, header::LINK, link);
        }
    }
    Ok(response)
}

/// A JSON body of `media_type` (none for HEAD, with the length it would
/// have).
fn json_response(status: StatusCode, media_type: &str, body: Vec<u8>, method: &Method) -> Response {
    let len = body.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut response = (status, body).into_response();
    set(&mut response, header::CONTENT_TYPE, media_type.to_string());
    set(&mut response, header::CONTENT_LENGTH, len.to_string());
    response
}

fn set(response: &mut Response, name: HeaderName, value: String) {
    let value = HeaderValue::try_from(value).expect("header values here are ASCII");
    response.headers_mut().insert(name, value);
}
