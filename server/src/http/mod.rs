//! The HTTP side of `strata serve`: one router for the JSON API (`/api/`,
//! [`api`]), the registry pull API (`/v2/`, [`registry`]) and the web UI's
//! files (everything else). Images built through the API are published
//! into the store the registry serves, so they pull at the name and tag
//! their build answered.

mod accept;
pub mod api;
mod api_error;
mod error;
mod file_body;
mod range;
mod registry;
mod route;

use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::any;
use axum::Router;
use tower_http::compression::Compression;
use tower_http::services::ServeDir;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;

use crate::store::BlobStore;

/// What every handler shares: the blob store images are served from.
#[derive(Clone)]
pub struct AppState {
    /// The store `strata build --publish` wrote into.
    pub store: Arc<dyn BlobStore>,
}

/// The whole router. `ui`, when given, is served at `/` (gzip-compressed
/// when the client accepts it).
pub fn app(state: AppState, api: Option<api::ApiState>, ui: Option<PathBuf>) -> Router {
    let mut registry = Router::new()
        .route("/v2/", any(registry::base))
        .route("/v2/{*rest}", any(registry::dispatch))
        .layer(axum::middleware::map_response(registry::api_version))
        .with_state(state);
    if let Some(api) = api {
        registry = registry.nest("/api", api::routes(api));
    }
    let app = match ui {
        // Compression for the UI only: registry clients check digests and
        // lengths of the bytes as stored, and ranges index into them.
        Some(ui) => registry.fallback_service(Compression::new(ServeDir::new(ui))),
        None => registry,
    };
    // Outermost, so the line has the final status and the whole time.
    app.layer(
        TraceLayer::new_for_http()
            .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
            .on_response(
                DefaultOnResponse::new()
                    .level(Level::INFO)
                    .latency_unit(LatencyUnit::Micros),
            ),
    )
}
