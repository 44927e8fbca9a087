//! The JSON API under `/api/`: plans, and builds with their progress.
//!
//! ```text
//! POST   /api/plan                 closure + planning options -> the plan (strata plan's bytes)
//! POST   /api/builds               {"plan": ...} or {"closure": ..., planning options}, + image config
//!                                  -> 202 {"id", "image", "status"}
//! GET    /api/builds/{id}          the build's status
//! GET    /api/builds/{id}/events   the status as Server-Sent Events until it is final
//! DELETE /api/builds/{id}          cancels a queued or running build
//! GET    /api/builds/{id}/image.tar      the docker-archive (HEAD, Range, ETag)
//! GET    /api/builds/{id}/image.oci.tar  the OCI archive (the same)
//! GET    /api/examples             example closures, each saying whether this server can build it
//! GET    /api/examples/{name}      one example's closure
//! POST   /api/available            {"plan": ...} or {"closure": ...} -> which paths the store lacks
//! GET    /api/openapi.json         the OpenAPI 3 document of all of the above (openapi.json)
//! ```
//!
//! A download is written once into the store as a blob (the bytes of
//! `strata build --format docker|oci` for the same plan and config), then
//! streamed from its file with `Range` for resumed downloads.
//!
//! Bodies are read whole (up to the server's `--max-body`) and parsed here,
//! so every client mistake becomes a 4xx in this API's error form,
//! `{"error": {"code", "message"}}`, naming the field, path or entry.
//! With a token set, `POST` and `DELETE` need `Authorization: Bearer`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{Map, Value};
use strata_planner::input::describe;
use strata_planner::{
    check_plan, parse_closure, parse_popularity, plan_closure, read_layers, Algorithm, Plan,
    PlanOptions,
};

use super::api_error::{ApiError, Code};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutError};

use super::file_body::file_body;
use super::range::ByteRange;
use crate::builds::{
    ArchiveError, ArchiveFormat, BuildQueue, BuildRequest, ImageConfig, SubmitError,
};
use crate::examples::Examples;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The build queue (and through it the store).
    pub queue: BuildQueue,
    /// The store directory closures' paths live in.
    pub store_dir: Arc<str>,
    /// When set, writes need `Authorization: Bearer <token>`.
    pub token: Option<Arc<str>>,
    /// The largest request body taken, in bytes.
    pub max_body: usize,
    /// How long a request body may stop arriving before it is refused
    /// (a client that never finishes its body holds nothing for long).
    pub body_timeout: std::time::Duration,
    /// The example closures offered.
    pub examples: Arc<Examples>,
}

/// The `/api/` routes (to be nested at `/api`).
pub fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/plan", post(plan))
        .route("/builds", post(submit))
        .route("/builds/{id}", get(status).delete(cancel))
        .route("/builds/{id}/events", get(events))
        .route("/builds/{id}/{file}", get(download))
        .route("/examples", get(examples))
        .route("/examples/{name}", get(example))
        .route("/available", post(available))
        .route("/openapi.json", get(openapi))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(DefaultBodyLimit::max(state.max_body))
        .layer(RequestBodyTimeoutLayer::new(state.body_timeout))
        .with_state(state)
}

/// Refuses writes without the token, when one is set; reads stay open.
async fn authorize(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let writes = matches!(*request.method(), Method::POST | Method::DELETE);
    if let (true, Some(token)) = (writes, &state.token) {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token) {
            return ApiError::new(
                Code::Unauthorized,
                "this server needs `Authorization: Bearer <token>` for POST and DELETE",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The body as a JSON object; too large, not JSON or not an object are
/// the client's mistakes.
fn body_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|e| {
        if timed_out(&e) {
            ApiError::new(
                Code::Timeout,
                "the request body stopped arriving before its end",
            )
        } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                Code::TooLarge,
                "the request body is larger than this server takes (--max-body)",
            )
        } else {
            ApiError::new(
                Code::BadRequest,
                format!("the request body could not be read: {e}"),
            )
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            Code::InvalidJson,
            "the request body is empty; send a JSON object",
        ));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            Code::InvalidJson,
            format!(
                "the body is not JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::new(
            Code::InvalidJson,
            format!("the body must be a JSON object, not {}", describe(&other)),
        )),
    }
}

/// Whether reading the body failed because it stopped arriving.
fn timed_out(error: &BytesRejection) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<TimeoutError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The planning fields of a body (the CLI's flags by name), taken out of
/// it; what is left is for the caller.
fn planning_options(body: &mut Map<String, Value>) -> Result<PlanOptions, ApiError> {
    let field = |name: &'static str, message: String| ApiError::field(name, message);
    let algorithm = match body.remove("algorithm") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(
            name.parse::<Algorithm>()
                .map_err(|e| field("algorithm", e))?,
        ),
        Some(other) => {
            return Err(field(
                "algorithm",
                format!("must be a string, not {}", describe(&other)),
            ))
        }
    };
    let budget = match body.remove("budget") {
        None | Some(Value::Null) => 99,
        Some(v) => v
            .as_u64()
            .and_then(|b| usize::try_from(b).ok())
            .filter(|&b| b > 0)
            .ok_or_else(|| field("budget", format!("must be a positive integer, not {v}")))?,
    };
    let pipeline = body.remove("pipeline").filter(|v| !v.is_null());
    let algorithm = match (algorithm, &pipeline) {
        (Some(a), None) => a,
        (None, None) => Algorithm::Fleet,
        (None | Some(Algorithm::Pipeline), Some(_)) => Algorithm::Pipeline,
        (Some(other), Some(_)) => {
            return Err(field(
                "pipeline",
                format!("is only used by algorithm pipeline, not {other}"),
            ))
        }
    };
    if algorithm == Algorithm::Pipeline && pipeline.is_none() {
        return Err(field(
            "pipeline",
            "algorithm pipeline needs a pipeline".to_string(),
        ));
    }
    let mut options = PlanOptions::new(algorithm, budget);
    options.pipeline = pipeline;
    if let Some(popularity) = body.remove("popularity").filter(|v| !v.is_null()) {
        options.popularity = Some(
            parse_popularity(&popularity.to_string())
                .map_err(|e| field("popularity", e.to_string()))?,
        );
    }
    for (name, slot) in [
        ("pins", &mut options.pins),
        ("excludes", &mut options.excludes),
    ] {
        match body.remove(name) {
            None | Some(Value::Null) => {}
            Some(v) => {
                *slot = serde_json::from_value(v)
                    .map_err(|e| field(name, format!("must be a list of store paths: {e}")))?;
            }
        }
    }
    for (name, slot) in [
        ("base", &mut options.base),
        ("previous", &mut options.previous),
    ] {
        if let Some(v) = body.remove(name).filter(|v| !v.is_null()) {
            *slot = Some(read_layers(&v.to_string()).map_err(|e| field(name, e.to_string()))?);
        }
    }
    Ok(options)
}

/// Plans the body's `closure` (any input format: the JSON itself, or a
/// string holding it) with its planning fields.
fn plan_body(body: &mut Map<String, Value>, store_dir: &str) -> Result<Plan, ApiError> {
    let closure = match body.remove("closure") {
        None | Some(Value::Null) => {
            return Err(ApiError::field("closure", "is missing".to_string()))
        }
        Some(Value::String(text)) => text,
        Some(value) => value.to_string(),
    };
    let options = planning_options(body)?;
    let graph = parse_closure(&closure, store_dir)
        .map_err(|e| ApiError::field("closure", e.to_string()))?;
    plan_closure(&graph, &options).map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))
}

fn unknown_fields(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().next() {
        Some(key) => Err(ApiError::field_owned(
            key.clone(),
            "is not a field of this request".to_string(),
        )),
        None => Ok(()),
    }
}

async fn plan(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut body = body_object(body)?;
    let plan = plan_body(&mut body, &state.store_dir)?;
    unknown_fields(&body)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], plan.to_json()).into_response())
}

async fn submit(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut body = body_object(body)?;
    let plan = match body.remove("plan") {
        Some(plan) if !plan.is_null() => {
            let plan = Plan::from_json(&plan.to_string())
                .map_err(|e| ApiError::field("plan", e.to_string()))?;
            // With its closure beside it, a plan must lay it out (as
            // `strata check`), or the image would not be the closure's.
            if let Some(closure) = body.remove("closure").filter(|c| !c.is_null()) {
                let text = match closure {
                    Value::String(text) => text,
                    value => value.to_string(),
                };
                let graph = parse_closure(&text, &state.store_dir)
                    .map_err(|e| ApiError::field("closure", e.to_string()))?;
                check_plan(&plan, &graph).map_err(|e| {
                    ApiError::field("plan", format!("does not fit the closure: {e}"))
                })?;
            }
            plan
        }
        _ => plan_body(&mut body, &state.store_dir)?,
    };
    let config: ImageConfig = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::new(Code::InvalidField, format!("image config: {e}")))?;
    let queue = state.queue.clone();
    let status = queue
        .submit(BuildRequest { plan, config })
        .map_err(|e| match e {
            SubmitError::Request(e) => ApiError::field(e.field, e.message),
            SubmitError::Path { .. } => ApiError::new(Code::PathMissing, e.to_string()),
            SubmitError::QueueFull(_) => ApiError::new(Code::QueueFull, e.to_string()),
        })?;
    let body = serde_json::json!({
        "id": status.id,
        "image": status.image,
        "state": status.state,
        "status": format!("/api/builds/{}", status.id),
    });
    Ok((
        StatusCode::ACCEPTED,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::LOCATION, format!("/api/builds/{}", status.id)),
        ],
        body.to_string(),
    )
        .into_response())
}

fn unknown_build(id: &str) -> ApiError {
    ApiError::new(
        Code::UnknownBuild,
        format!("no build {id:?} on this server"),
    )
}

fn json_response<T: serde::Serialize>(value: &T) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).expect("a status serialises"),
    )
        .into_response()
}

async fn status(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let status = state.queue.status(&id).ok_or_else(|| unknown_build(&id))?;
    Ok(json_response(&status))
}

async fn cancel(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let status = state.queue.cancel(&id).ok_or_else(|| unknown_build(&id))?;
    Ok(json_response(&status))
}

/// The status as events: one now, one each change, ending after the
/// final one; a finished build gives its one final event.
async fn events(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    _headers: HeaderMap,
) -> Result<Response, ApiError> {
    let event = |status: &crate::builds::Status| {
        Event::default()
            .event("status")
            .data(serde_json::to_string(status).expect("a status serialises"))
    };
    let Some(receiver) = state.queue.watch(&id) else {
        let status = state.queue.status(&id).ok_or_else(|| unknown_build(&id))?;
        let once = futures_util::stream::iter([Ok::<_, Infallible>(event(&status))]);
        return Ok(Sse::new(once).into_response());
    };
    let stream = futures_util::stream::unfold(
        (receiver, true, false),
        move |(mut receiver, first, ended)| async move {
            if ended || (!first && receiver.changed().await.is_err()) {
                return None;
            }
            let status = receiver.borrow_and_update().clone();
            let last = status.state.is_final();
            Some((Ok::<_, Infallible>(event(&status)), (receiver, false, last)))
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The OpenAPI document, checked against the routes by a test here and
/// against the running server by schemathesis (tests/tests/openapi.rs).
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn examples(State(state): State<ApiState>) -> Response {
    let nix = state.queue.nix().clone();
    let examples = state.examples.clone();
    // A listing stats every example path: off the async threads.
    match tokio::task::spawn_blocking(move || examples.list(&nix)).await {
        Ok(list) => json_response(&list),
        Err(e) => ApiError::new(Code::Internal, format!("listing examples: {e}")).into_response(),
    }
}

async fn example(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let example = state.examples.get(&name).ok_or_else(|| {
        ApiError::new(
            Code::UnknownExample,
            format!("no example {name:?} on this server"),
        )
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        example.closure.clone(),
    )
        .into_response())
}

/// Which store paths of a plan or closure this server's store lacks, so
/// a client can say so before anyone asks for a build.
async fn available(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut body = body_object(body)?;
    let paths: Vec<strata_planner::StorePath> = match (body.remove("plan"), body.remove("closure"))
    {
        (Some(plan), None) => Plan::from_json(&plan.to_string())
            .map_err(|e| ApiError::field("plan", e.to_string()))?
            .layers
            .into_iter()
            .flat_map(|l| l.paths)
            .collect(),
        (None, Some(closure)) => {
            let text = match closure {
                Value::String(text) => text,
                value => value.to_string(),
            };
            parse_closure(&text, &state.store_dir)
                .map_err(|e| ApiError::field("closure", e.to_string()))?
                .nodes()
                .iter()
                .map(|n| n.path.clone())
                .collect()
        }
        _ => {
            return Err(ApiError::field(
                "plan",
                "give a plan or a closure (one of them)",
            ))
        }
    };
    unknown_fields(&body)?;
    let nix = state.queue.nix().clone();
    let missing: Vec<String> = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .filter(|p| nix.locate(p).is_err())
            .map(|p| p.to_string())
            .collect()
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("checking the store: {e}")))?;
    Ok(json_response(&serde_json::json!({
        "buildable": missing.is_empty(),
        "missingCount": missing.len(),
        "missing": &missing[..missing.len().min(20)],
    })))
}

/// A finished build's archive: whole, or the `Range` asked for.
async fn download(
    State(state): State<ApiState>,
    Path((id, file)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = match file.as_str() {
        "image.tar" => ArchiveFormat::Docker,
        "image.oci.tar" => ArchiveFormat::Oci,
        _ => {
            return Err(ApiError::new(
                Code::UnknownBuild,
                format!("no {file:?} here: a build has image.tar and image.oci.tar"),
            ))
        }
    };
    let queue = state.queue.clone();
    let status = queue.status(&id).ok_or_else(|| unknown_build(&id))?;
    let (digest, len) = tokio::task::spawn_blocking({
        let id = id.clone();
        move || queue.archive(&id, format)
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("writing the archive: {e}")))?
    .map_err(|e| match e {
        ArchiveError::Unknown => unknown_build(&id),
        ArchiveError::NotDone(state) => ApiError::new(
            Code::NotReady,
            format!("build {id} is {state:?}: its image is there once it is done"),
        ),
        ArchiveError::Failed(message) => ApiError::new(Code::Internal, message),
    })?;
    let etag = format!("\"{}\"", digest.hex());
    let name = status.image.replace([':', '/'], "-");
    let disposition = format!(
        "attachment; filename=\"{name}.{file_ext}\"",
        file_ext = match format {
            ArchiveFormat::Docker => "tar",
            ArchiveFormat::Oci => "oci.tar",
        }
    );
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_DISPOSITION, disposition);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(axum::body::Body::empty())
            .expect("valid headers"));
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (code, start, count) = match ByteRange::parse(range, len) {
        ByteRange::Full => (StatusCode::OK, 0, len),
        ByteRange::Partial { start, end } => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        ByteRange::Unsatisfiable => {
            let mut response = ApiError::new(
                Code::RangeNotSatisfiable,
                format!("the archive has {len} bytes; the range asked for none of them"),
            )
            .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                format!("bytes */{len}").parse().expect("a valid header"),
            );
            return Ok(response);
        }
    };
    let body = if method == Method::HEAD || count == 0 {
        axum::body::Body::empty()
    } else {
        let path = state.queue.store().local_path(&digest).ok_or_else(|| {
            ApiError::new(
                Code::Internal,
                "this store cannot stream its blobs".to_string(),
            )
        })?;
        file_body(&path, start, count)
            .await
            .map_err(|e| ApiError::new(Code::Internal, format!("reading the archive: {e}")))?
    };
    Ok(builder
        .status(code)
        .header(header::CONTENT_LENGTH, count)
        .body(body)
        .expect("valid headers"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use axum::body::Body;
    use tower::ServiceExt as _;

    use super::*;
    use crate::builds::{QueueOptions, Status};
    use crate::examples::Examples;
    use crate::image::golden_tests::{fixed_store, GREETING, HELLO};
    use crate::image::layer::NixStore;
    use crate::store::FsStore;

    struct Server {
        app: Router,
        dir: PathBuf,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The API over the golden test's fixed store, in a temp dir.
    fn server(name: &str, token: Option<&str>) -> Server {
        let dir = std::env::temp_dir().join(format!("strata-api-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        fixed_store(&dir);
        let store = Arc::new(FsStore::open(dir.join("data")).unwrap());
        let queue = BuildQueue::new(
            store,
            QueueOptions {
                nix: NixStore {
                    store_dir: "/nix/store".to_string(),
                    root: Some(dir.clone()),
                },
                jobs: 1,
                max_queued: 4,
                threads: 1,
            },
        );
        let state = ApiState {
            queue,
            store_dir: "/nix/store".into(),
            token: token.map(Into::into),
            max_body: 64 * 1024,
            body_timeout: Duration::from_millis(300),
            examples: Arc::new(examples(&dir)),
        };
        Server {
            app: routes(state),
            dir,
        }
    }

    /// Two example closures: the fixed store's (buildable) and one whose
    /// path is in no store here.
    fn examples(dir: &std::path::Path) -> Examples {
        let folder = dir.join("examples");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("golden.json"), closure().to_string()).unwrap();
        let absent = serde_json::json!([{"path": ABSENT, "narSize": 5, "references": []}]);
        std::fs::write(folder.join("debian.closure.json"), absent.to_string()).unwrap();
        Examples::load(&[folder], "/nix/store").unwrap()
    }

    const ABSENT: &str = "/nix/store/2d2mfgw3cqa8dp1ymhy2sw0ychqdxbgy-absent-1.0";

    fn closure() -> Value {
        serde_json::json!([
            {"path": HELLO, "narSize": 1, "references": [GREETING]},
            {"path": GREETING, "narSize": 2, "references": []},
        ])
    }

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// A request with headers; the status, headers and body bytes.
    async fn send(
        app: &Router,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, bytes.to_vec())
    }

    async fn wait_done(app: &Router, id: &str) -> Status {
        for _ in 0..500 {
            let (code, body) = call(app, "GET", &format!("/builds/{id}"), "").await;
            assert_eq!(code, StatusCode::OK, "{body}");
            let status: Status = serde_json::from_str(&body).unwrap();
            if status.state.is_final() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("build {id} did not finish");
    }

    /// Every route `routes()` serves, as the document names it.
    const ROUTES: [(&str, &[&str]); 10] = [
        ("/plan", &["post"]),
        ("/builds", &["post"]),
        ("/builds/{id}", &["get", "delete"]),
        ("/builds/{id}/events", &["get"]),
        ("/builds/{id}/image.tar", &["get", "head"]),
        ("/builds/{id}/image.oci.tar", &["get", "head"]),
        ("/examples", &["get"]),
        ("/examples/{name}", &["get"]),
        ("/available", &["post"]),
        ("/openapi.json", &["get"]),
    ];

    /// Every error code; the match fails to compile when one is added.
    fn every_code() -> Vec<Code> {
        use Code::*;
        let all = vec![
            BadRequest,
            InvalidJson,
            InvalidField,
            PathMissing,
            UnknownBuild,
            UnknownExample,
            NotReady,
            Unauthorized,
            TooLarge,
            Timeout,
            RangeNotSatisfiable,
            QueueFull,
            Internal,
        ];
        for code in &all {
            match code {
                BadRequest | InvalidJson | InvalidField | PathMissing | UnknownBuild
                | UnknownExample | NotReady | Unauthorized | TooLarge | Timeout
                | RangeNotSatisfiable | QueueFull | Internal => {}
            }
        }
        all
    }

    #[tokio::test]
    async fn the_openapi_document_names_every_route_and_error_code_and_is_served() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
        let paths = doc["paths"].as_object().unwrap();
        let documented: Vec<(&str, Vec<&str>)> = paths
            .iter()
            .map(|(path, ops)| {
                (
                    path.as_str(),
                    ops.as_object()
                        .unwrap()
                        .keys()
                        .map(String::as_str)
                        .collect(),
                )
            })
            .collect();
        for (path, methods) in ROUTES {
            let ops = paths
                .get(path)
                .unwrap_or_else(|| panic!("{path} is not documented"));
            for method in methods {
                assert!(
                    ops.get(*method).is_some(),
                    "{method} {path} is not documented"
                );
            }
        }
        assert_eq!(documented.len(), ROUTES.len(), "{documented:?}");
        let codes = &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
            ["code"]["enum"];
        for code in every_code() {
            let name = serde_json::to_value(code).unwrap();
            assert!(
                codes.as_array().unwrap().contains(&name),
                "{name} is not in the document"
            );
        }
        let s = server("openapi", None);
        let (code, text) = call(&s.app, "GET", "/openapi.json", "").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    }

    #[tokio::test]
    async fn plan_gives_the_bytes_strata_plan_writes() {
        let s = server("plan", None);
        let body =
            serde_json::json!({"closure": closure(), "algorithm": "popularity", "budget": 2});
        let (code, text) = call(&s.app, "POST", "/plan", &body.to_string()).await;
        assert_eq!(code, StatusCode::OK, "{text}");
        let graph = parse_closure(&closure().to_string(), "/nix/store").unwrap();
        let expected = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
        assert_eq!(text, expected.to_json());
        // The closure may also come as a string holding the JSON.
        let body = serde_json::json!({"closure": closure().to_string(), "algorithm": "popularity", "budget": 2});
        assert_eq!(
            call(&s.app, "POST", "/plan", &body.to_string()).await.1,
            text
        );
    }

    #[tokio::test]
    async fn a_build_gives_the_golden_image_once_however_often_it_is_asked() {
        let s = server("build", None);
        // The golden test's image: the same plan and config give the same
        // manifest digest as `image::build` there (and `strata build`).
        let body = serde_json::json!({
            "closure": closure(), "algorithm": "popularity", "budget": 2,
            "name": "golden", "tag": "t", "cmd": ["hello"], "arch": "amd64", "links": true,
        });
        let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
        assert_eq!(code, StatusCode::ACCEPTED, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        let id = answer["id"].as_str().unwrap().to_string();
        assert_eq!(answer["image"], "golden:t");
        assert_eq!(answer["status"], format!("/api/builds/{id}"));
        let status = wait_done(&s.app, &id).await;
        assert_eq!(status.state, crate::builds::State::Done, "{status:?}");
        let golden = std::fs::read_to_string(
            std::path::Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
                .join("testdata/golden/digests.gzip.txt"),
        )
        .unwrap();
        let manifest = status.manifest.clone().unwrap();
        assert!(
            golden.contains(&format!("manifest {manifest}")),
            "{manifest} not in {golden}"
        );
        assert_eq!(status.layers.total, 3);
        assert_eq!(status.layers.done, 3);
        // Asked again: the same build, done at once.
        let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
        assert_eq!(code, StatusCode::ACCEPTED);
        let again: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(again["id"], id.as_str());
        assert_eq!(again["state"], "done");
        // Its downloads: strata build's bytes, with HEAD, Range and ETag.
        let request: BuildRequest = {
            let graph = parse_closure(&closure().to_string(), "/nix/store").unwrap();
            let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
            let config: ImageConfig = serde_json::from_value(serde_json::json!({
                "name": "golden", "tag": "t", "cmd": ["hello"], "arch": "amd64", "links": true,
            }))
            .unwrap();
            BuildRequest { plan, config }
        };
        assert_eq!(request.id(), id, "the id is the request's content");
        let options = request
            .options(
                &NixStore {
                    store_dir: "/nix/store".to_string(),
                    root: Some(s.dir.clone()),
                },
                1,
            )
            .unwrap();
        let scratch = FsStore::open(s.dir.join("scratch")).unwrap();
        let image = crate::image::build(
            &request.plan,
            &options,
            &scratch,
            &crate::image::layer::NoProgress,
        )
        .unwrap();
        let expected = crate::image::archive::docker::write(&image, &scratch, Vec::new()).unwrap();
        let tar = format!("/builds/{id}/image.tar");
        let response = send(&s.app, "GET", &tar, &[]).await;
        assert_eq!(response.0, StatusCode::OK);
        assert_eq!(
            response.2, expected,
            "image.tar is strata build's docker-archive"
        );
        let length = response
            .1
            .get(header::CONTENT_LENGTH)
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(length, expected.len().to_string());
        let etag = response
            .1
            .get(header::ETAG)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let disposition = response.1.get(header::CONTENT_DISPOSITION).unwrap();
        assert_eq!(disposition, "attachment; filename=\"golden-t.tar\"");
        let head = send(&s.app, "HEAD", &tar, &[]).await;
        assert_eq!(head.0, StatusCode::OK);
        assert!(head.2.is_empty());
        assert_eq!(head.1.get(header::CONTENT_LENGTH).unwrap(), length);
        let part = send(&s.app, "GET", &tar, &[("range", "bytes=10-19")]).await;
        assert_eq!(part.0, StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.2, expected[10..20]);
        let content_range = format!("bytes 10-19/{}", expected.len());
        assert_eq!(
            part.1.get(header::CONTENT_RANGE).unwrap().to_str().unwrap(),
            content_range
        );
        let past = send(&s.app, "GET", &tar, &[("range", "bytes=99999999-")]).await;
        assert_eq!(past.0, StatusCode::RANGE_NOT_SATISFIABLE);
        let cached = send(&s.app, "GET", &tar, &[("if-none-match", etag.as_str())]).await;
        assert_eq!(cached.0, StatusCode::NOT_MODIFIED);
        let oci = send(&s.app, "GET", &format!("/builds/{id}/image.oci.tar"), &[]).await;
        assert_eq!(oci.0, StatusCode::OK);
        let expected_oci =
            crate::image::archive::oci::write_archive(&image, &scratch, Vec::new()).unwrap();
        assert_eq!(oci.2, expected_oci);
        let other = send(&s.app, "GET", &format!("/builds/{id}/image.zip"), &[]).await;
        assert_eq!(other.0, StatusCode::NOT_FOUND);
        // Its events: the final status, once.
        let (code, text) = call(&s.app, "GET", &format!("/builds/{id}/events"), "").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(text.matches("event: status").count(), 1, "{text}");
        assert!(text.contains("\"state\":\"done\""), "{text}");
    }

    #[tokio::test]
    async fn client_mistakes_are_4xx_naming_the_field() {
        let s = server("errors", None);
        let plan = |extra: Value| {
            let mut body = serde_json::json!({"closure": closure()});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body.to_string()
        };
        let missing = serde_json::json!({"closure": [
            {"path": "/nix/store/2d2mfgw3cqa8dp1ymhy2sw0ychqdxbgy-absent-1.0", "narSize": 1, "references": []}
        ]});
        let cases: Vec<(&str, String, StatusCode, &str)> = vec![
            ("/plan", String::new(), StatusCode::BAD_REQUEST, "empty"),
            ("/plan", "{nope".into(), StatusCode::BAD_REQUEST, "not JSON"),
            (
                "/plan",
                "[1]".into(),
                StatusCode::BAD_REQUEST,
                "JSON object",
            ),
            (
                "/plan",
                "{}".into(),
                StatusCode::BAD_REQUEST,
                "closure: is missing",
            ),
            (
                "/plan",
                plan(serde_json::json!({"algorithm": "magic"})),
                StatusCode::BAD_REQUEST,
                "algorithm",
            ),
            (
                "/plan",
                plan(serde_json::json!({"budget": 0})),
                StatusCode::BAD_REQUEST,
                "budget",
            ),
            (
                "/plan",
                plan(serde_json::json!({"colour": "red"})),
                StatusCode::BAD_REQUEST,
                "colour",
            ),
            (
                "/plan",
                serde_json::json!({"closure": [{"path": "/etc/passwd"}]}).to_string(),
                StatusCode::BAD_REQUEST,
                "closure",
            ),
            (
                "/builds",
                plan(serde_json::json!({"tag": "-bad"})),
                StatusCode::BAD_REQUEST,
                "tag",
            ),
            (
                "/builds",
                plan(serde_json::json!({"colour": "red"})),
                StatusCode::BAD_REQUEST,
                "colour",
            ),
            (
                "/builds",
                serde_json::json!({"plan": {"version": 9}}).to_string(),
                StatusCode::BAD_REQUEST,
                "plan",
            ),
            (
                "/builds",
                missing.to_string(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "absent-1.0",
            ),
            (
                "/builds",
                format!("{{\"closure\": \"{}\"}}", "x".repeat(70 * 1024)),
                StatusCode::PAYLOAD_TOO_LARGE,
                "max-body",
            ),
        ];
        for (uri, body, want, needle) in cases {
            let (code, text) = call(&s.app, "POST", uri, &body).await;
            assert_eq!(code, want, "{uri} {}: {text}", &body[..body.len().min(80)]);
            let error: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains(needle), "{uri}: {message} lacks {needle}");
            assert!(error["error"]["code"].is_string());
        }
        for (method, uri) in [
            ("GET", "/builds/nope"),
            ("DELETE", "/builds/nope"),
            ("GET", "/builds/nope/events"),
        ] {
            let (code, text) = call(&s.app, method, uri, "").await;
            assert_eq!(code, StatusCode::NOT_FOUND, "{method} {uri}: {text}");
            assert!(text.contains("unknown_build"), "{text}");
        }
    }

    #[tokio::test]
    async fn a_plan_given_with_its_closure_must_lay_it_out() {
        let s = server("plan-and-closure", None);
        let graph = parse_closure(&closure().to_string(), "/nix/store").unwrap();
        let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Auto, 3)).unwrap();
        let plan: Value = serde_json::from_str(&plan.to_json()).unwrap();
        let body = serde_json::json!({"plan": plan, "closure": closure(), "tag": "fits"});
        let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
        assert_eq!(code, StatusCode::ACCEPTED, "{text}");
        // The same plan against a closure with one path more.
        let mut other = closure();
        other.as_array_mut().unwrap().push(serde_json::json!(
            {"path": ABSENT, "narSize": 5, "references": []}
        ));
        let body = serde_json::json!({"plan": plan, "closure": other});
        let (code, text) = call(&s.app, "POST", "/builds", &body.to_string()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{text}");
        assert!(
            text.contains("does not fit the closure") && text.contains(ABSENT),
            "{text}"
        );
    }

    #[tokio::test]
    async fn examples_and_available_say_what_this_server_can_build() {
        let s = server("examples", None);
        let (code, text) = call(&s.app, "GET", "/examples", "").await;
        assert_eq!(code, StatusCode::OK, "{text}");
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list[0]["name"], "debian");
        assert_eq!(list[0]["buildable"], false);
        assert!(list[0]["why"].as_str().unwrap().contains(ABSENT), "{list}");
        assert_eq!(list[1]["name"], "golden");
        assert_eq!(list[1]["buildable"], true);
        assert_eq!(list[1]["paths"], 2);
        assert_eq!(list[1]["closure"], "/api/examples/golden");
        let (code, text) = call(&s.app, "GET", "/examples/golden", "").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), closure());
        let (code, text) = call(&s.app, "GET", "/examples/nope", "").await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{text}");
        assert!(text.contains("unknown_example"), "{text}");
        let (code, text) = call(
            &s.app,
            "POST",
            "/available",
            &serde_json::json!({"closure": closure()}).to_string(),
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["buildable"],
            true
        );
        let absent = serde_json::json!([{"path": ABSENT, "narSize": 5, "references": []}]);
        let (_, text) = call(
            &s.app,
            "POST",
            "/available",
            &serde_json::json!({"closure": absent}).to_string(),
        )
        .await;
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["buildable"], false);
        assert_eq!(answer["missing"], serde_json::json!([ABSENT]));
        let (code, _) = call(
            &s.app,
            "POST",
            "/available",
            &serde_json::json!({"neither": 1}).to_string(),
        )
        .await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_is_a_408_not_a_held_request() {
        use futures_util::StreamExt as _;
        let s = server("slow", None);
        let first = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(
            b"{\"closure\": ",
        ))]);
        let never = first.chain(futures_util::stream::pending());
        let request = Request::builder()
            .method("POST")
            .uri("/plan")
            .body(Body::from_stream(never))
            .unwrap();
        let response =
            tokio::time::timeout(Duration::from_secs(10), s.app.clone().oneshot(request))
                .await
                .expect("answered well before the test gives up")
                .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("\"code\":\"timeout\""));
    }

    #[tokio::test]
    async fn writes_need_the_token_when_one_is_set_and_reads_do_not() {
        let s = server("token", Some("s3cret"));
        let body = serde_json::json!({"closure": closure()}).to_string();
        let (code, text) = call(&s.app, "POST", "/plan", &body).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{text}");
        assert!(text.contains("unauthorized"), "{text}");
        let request = Request::builder()
            .method("POST")
            .uri("/plan")
            .header(header::AUTHORIZATION, "Bearer s3cret")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(
            s.app.clone().oneshot(request).await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(
            call(&s.app, "GET", "/builds/x", "").await.0,
            StatusCode::NOT_FOUND
        );
    }
}
