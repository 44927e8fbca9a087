//! `strata serve`: the web UI over HTTP.
//!
//! Today it serves the UI that `cargo run -p xtask -- web` builds into
//! `web/dist` (gzip-compressed when the client accepts it). The JSON API
//! (`/api/`) and the registry pull API (`/v2/`) come next, on the same
//! router.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use axum::Router;
use clap::Args;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use super::error::{bad_input, Classify as _, CliResult};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The built web UI (`cargo run -p xtask -- web` writes it to web/dist).
    #[arg(long, value_name = "DIR", default_value = "web/dist")]
    ui: PathBuf,
}

/// Examples for `strata serve --help`.
pub const HELP: &str = "\
Examples:
  cargo run -p xtask -- web && strata serve      the UI at http://127.0.0.1:8080/
  strata serve --listen 0.0.0.0:8080 --ui /usr/share/strata/web";

/// The router: the UI's files at `/`.
fn router(ui: PathBuf) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(ui))
        .layer(CompressionLayer::new())
}

/// Runs `strata serve` until interrupted.
pub fn run(args: ServeArgs) -> CliResult {
    if !args.ui.join("index.html").is_file() {
        return Err(bad_input(format!(
            "{}: no built web UI here (no index.html); build it with `cargo run -p xtask -- web`, \
             or point --ui at it",
            args.ui.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .failure()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))
            .failure()?;
        let addr = listener.local_addr().failure()?;
        eprintln!("strata: serving the UI at http://{addr}/");
        axum::serve(listener, router(args.ui))
            .with_graceful_shutdown(shutdown())
            .await
            .context("serving")
            .failure()
    })
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
