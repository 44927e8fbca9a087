//! `strata serve`: the registry pull API (`/v2/`) over the images
//! `strata build --publish` recorded in a blob store, and the web UI.
//!
//! The store is `--data-dir` (default `default_data_dir`). The UI is the
//! one `cargo run -p xtask -- web` builds into `web/dist`: a `--ui` that
//! holds none is an error, while a missing default only leaves the UI out,
//! so a registry needs no UI build. The JSON build API (`/api/`) builds
//! images into the same store, reading store paths from the local Nix
//! store (or `--store-root`), so what it builds pulls from `/v2/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use super::error::{bad_input, Classify as _, CliResult};
use super::input::{default_data_dir, parse_store_dir};
use crate::builds::{BuildQueue, QueueOptions};
use crate::examples::Examples;
use crate::http::api::ApiState;
use crate::http::{app, AppState};
use crate::image::layer::NixStore;
use crate::store::{BlobStore, FsStore};
use strata_planner::DEFAULT_STORE_DIR;

/// A line to stderr that, unlike `eprintln!`, does not panic when stderr
/// is closed (a supervisor that read the address and went away).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Where the UI is looked for when `--ui` is not given.
pub const DEFAULT_UI: &str = "web/dist";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The built web UI (`cargo run -p xtask -- web` writes it to
    /// web/dist; default web/dist, left out when not built there).
    #[arg(long, value_name = "DIR")]
    ui: Option<PathBuf>,
    /// The blob store images are built into and served from (also what
    /// `strata build --publish` writes); default $XDG_DATA_HOME/strata,
    /// else ~/.local/share/strata.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Read store paths under this directory instead of `/` (as `strata
    /// build --store-root`).
    #[arg(long, value_name = "DIR")]
    store_root: Option<PathBuf>,
    /// The Nix store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STORE_DIR, value_parser = parse_store_dir)]
    store_dir: String,
    /// Builds that run at once.
    #[arg(long, value_name = "N", default_value_t = 2)]
    jobs: usize,
    /// Builds that may wait for a slot; more are refused with 503.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_queued: usize,
    /// The largest request body taken by the API, in bytes (a closure of
    /// 60,000 paths is about 35 MB).
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    max_body: usize,
    /// Seconds a request body may stop arriving before the request is
    /// refused (408).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    body_timeout: u64,
    /// When set (or $STRATA_TOKEN), POST and DELETE under /api/ need
    /// `Authorization: Bearer <token>`; pulls and the UI stay open.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// A folder of example closures (`*.json`) the API and UI offer,
    /// each saying whether this server's store can build it (repeatable).
    #[arg(long, value_name = "DIR")]
    examples: Vec<PathBuf>,
}

/// Examples for `strata serve --help`.
pub const HELP: &str = "\
Examples:
  cargo run -p xtask -- web && strata serve      the UI at http://127.0.0.1:8080/
  curl --data-binary @request.json http://127.0.0.1:8080/api/builds
      builds request.json: {\"closure\": ..., \"name\": \"hello\", \"tag\": \"v1\"}
  podman pull --tls-verify=false 127.0.0.1:8080/hello:v1
  strata serve --listen 0.0.0.0:8080 --ui /usr/share/strata/web
  strata build plan.json --cache D --publish --name hello --tag v1
  strata serve --data-dir D                      then: skopeo inspect --tls-verify=false \\
                                                   docker://127.0.0.1:8080/hello:v1";

/// The UI to serve, if any.
fn ui_dir(given: Option<PathBuf>) -> CliResult<Option<PathBuf>> {
    let has_ui = |dir: &Path| dir.join("index.html").is_file();
    match given {
        Some(dir) if has_ui(&dir) => Ok(Some(dir)),
        Some(dir) => Err(bad_input(format!(
            "{}: no built web UI here (no index.html); build it with `cargo run -p xtask -- web`, \
             or point --ui at it",
            dir.display()
        ))),
        None if has_ui(Path::new(DEFAULT_UI)) => Ok(Some(PathBuf::from(DEFAULT_UI))),
        None => {
            say!(
                "strata: no web UI in {DEFAULT_UI} (`cargo run -p xtask -- web` builds it); \
                 serving the registry only"
            );
            Ok(None)
        }
    }
}

/// Runs `strata serve` until interrupted.
pub fn run(args: ServeArgs) -> CliResult {
    let ui = ui_dir(args.ui)?;
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
            .ok_or_else(|| {
                bad_input("no --data-dir given and neither XDG_DATA_HOME nor HOME set")
            })?,
    };
    let examples = Examples::load(&args.examples, &args.store_dir).bad_input()?;
    let store = FsStore::open(&data_dir)
        .with_context(|| format!("data directory {}", data_dir.display()))
        .failure()?;
    // Logs to stderr, one line per request; a second init (tests running
    // `run` twice in one process) keeps the first. A closed stderr (a
    // parent that read the address and went) must not fail requests:
    // the subscriber would report that with `eprintln!`, which panics.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .try_init();
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
        if ui.is_some() {
            say!("strata: serving the UI at http://{addr}/");
        }
        say!(
            "strata: serving the registry at http://{addr}/v2/ from {}",
            data_dir.display()
        );
        say!("strata: serving the build API at http://{addr}/api/");
        let store: Arc<dyn BlobStore> = Arc::new(store);
        let queue = BuildQueue::new(
            store.clone(),
            QueueOptions {
                nix: NixStore {
                    store_dir: args.store_dir.clone(),
                    root: args.store_root.clone(),
                },
                jobs: args.jobs.max(1),
                max_queued: args.max_queued,
                threads: std::thread::available_parallelism()
                    .map_or(1, std::num::NonZeroUsize::get),
            },
        );
        let token = args
            .token
            .or_else(|| std::env::var("STRATA_TOKEN").ok())
            .filter(|t| !t.is_empty());
        let api = ApiState {
            queue,
            store_dir: args.store_dir.as_str().into(),
            token: token.map(Into::into),
            max_body: args.max_body,
            body_timeout: std::time::Duration::from_secs(args.body_timeout),
            examples: Arc::new(examples),
        };
        let state = AppState { store };
        axum::serve(listener, app(state, Some(api), ui))
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    #[test]
    fn the_data_dir_follows_xdg_then_home() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            default_data_dir(os("/data"), os("/home/u")),
            Some(PathBuf::from("/data/strata"))
        );
        assert_eq!(
            default_data_dir(os("relative"), os("/home/u")),
            Some(PathBuf::from("/home/u/.local/share/strata"))
        );
        assert_eq!(
            default_data_dir(os(""), os("/home/u")),
            Some(PathBuf::from("/home/u/.local/share/strata"))
        );
        assert_eq!(default_data_dir(None, None), None);
    }
}
