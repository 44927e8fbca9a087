//! The JSON API under `/api/`: plans, and builds with their progress.
//! One file a concern: `body` (reading requests), `plan`, `builds`,
//! `downloads`, `examples` (examples and store availability).
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

mod body;
mod builds;
mod downloads;
mod examples;
mod plan;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use tower_http::timeout::RequestBodyTimeoutLayer;

use super::api_error::{ApiError, Code};
use crate::builds::BuildQueue;
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
        .route("/plan", post(plan::plan))
        .route("/builds", post(builds::submit))
        .route("/builds/{id}", get(builds::status).delete(builds::cancel))
        .route("/builds/{id}/events", get(builds::events))
        .route("/builds/{id}/{file}", get(downloads::download))
        .route("/examples", get(examples::examples))
        .route("/examples/{name}", get(examples::example))
        .route("/available", post(examples::available))
        .route("/openapi.json", get(openapi))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(DefaultBodyLimit::max(state.max_body))
        .layer(RequestBodyTimeoutLayer::new(state.body_timeout))
        .with_state(state)
}

/// `Path`, with a URL that does not decode (`/api/builds/%FF`) answered
/// in the API's error form rather than axum's plain text.
pub(super) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(e) if e.status().is_client_error() => Err(ApiError::new(
                Code::BadRequest,
                format!("the URL could not be read: {}", e.body_text()),
            )),
            Err(e) => Err(ApiError::new(Code::Internal, e.body_text())),
        }
    }
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

pub(super) fn unknown_build(id: &str) -> ApiError {
    ApiError::new(
        Code::UnknownBuild,
        format!("no build {id:?} on this server"),
    )
}

pub(super) fn json_response<T: serde::Serialize>(value: &T) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).expect("a status serialises"),
    )
        .into_response()
}

/// The OpenAPI document, checked against the routes by a test here and
/// against the running server by schemathesis (tests/tests/openapi.rs).
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
