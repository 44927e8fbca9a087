//! Builds: `POST /api/builds`, a build's status, its event stream, and
//! cancelling it.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use strata_planner::input::describe;
use strata_planner::{
    check_plan, parse_closure_with, Algorithm, Graph, Plan, PlanOptions, StorePath,
};

use super::body::{body_object, closure_text};
use super::plan::plan_body_knowing;
use super::{json_response, unknown_build, ApiError, ApiPath, ApiState, Code};
use crate::builds::fleet::read_fleet;
use crate::builds::{BuildRequest, ImageConfig, SubmitError};
use crate::image::config::created_unix;
use crate::image::default_name;
use crate::image::nix_db::NixDb;
use crate::store::BlobStore;
use crate::threads::Threads;

pub(super) async fn submit(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut body = body_object(body)?;
    let (plan, graph) = match body.remove("plan") {
        Some(plan) if !plan.is_null() => {
            let plan = Plan::from_json(&plan.to_string())
                .map_err(|e| ApiError::field("plan", e.to_string()))?;
            // With its closure beside it, a plan must lay it out (as
            // `strata check`), or the image would not be the closure's.
            let mut graph = None;
            if let Some(closure) = body.remove("closure").filter(|c| !c.is_null()) {
                let text = closure_text(closure);
                let closure = parse_closure_with(&text, &state.store_dir, &Threads)
                    .map_err(|e| ApiError::field("closure", e.to_string()))?;
                check_plan(&plan, &closure).map_err(|e| {
                    ApiError::field("plan", format!("does not fit the closure: {e}"))
                })?;
                graph = Some(closure);
            }
            (plan, graph)
        }
        _ => {
            let knowing = match body.remove("fleet") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => b,
                Some(other) => {
                    return Err(ApiError::field(
                        "fleet",
                        format!("must be a boolean, not {}", describe(&other)),
                    ))
                }
            };
            let name = body.get("name").and_then(Value::as_str).map(str::to_string);
            let store = state.queue.store().clone();
            let (plan, graph) =
                plan_body_knowing(&mut body, &state.store_dir, |graph, options| {
                    if knowing {
                        know_fleet(&*store, name, graph, options)?;
                    }
                    Ok(())
                })?;
            (plan, Some(graph))
        }
    };
    let config: ImageConfig = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::new(Code::InvalidField, format!("image config: {e}")))?;
    // The database needs the closure's references and hashes.
    let nix_db = match (config.nix_db, &graph) {
        (true, Some(graph)) => Some(
            NixDb::new(graph, &plan, created_unix(config.created.as_deref()))
                .map_err(|e| ApiError::field("nixDb", e.to_string()))?,
        ),
        _ => None,
    };
    let queue = state.queue.clone();
    let status = queue
        .submit(BuildRequest {
            plan,
            config,
            nix_db,
        })
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

/// With `fleet`, hands the planner the latest plan of every image built
/// here (as `strata plan --fleet DIR`), and this image's own as
/// `previous` unless the request gave one. This image's own is left out
/// when it was planned for another budget: kept whole, its layers would
/// keep the image at that budget. Nothing when nothing else is known: the
/// first image is planned as `strata plan` plans it.
fn know_fleet(
    store: &dyn BlobStore,
    name: Option<String>,
    graph: &Graph,
    options: &mut PlanOptions,
) -> Result<(), ApiError> {
    if options.algorithm != Algorithm::Fleet {
        return Ok(());
    }
    let mut plans = read_fleet(store).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    let name = name.unwrap_or_else(|| {
        let roots: Vec<StorePath> = graph
            .roots()
            .iter()
            .map(|&id| graph.path(id).clone())
            .collect();
        default_name(&roots)
    });
    plans.retain(|p| p.image != name || p.budget == options.budget);
    if plans.is_empty() {
        return Ok(());
    }
    if options.previous.is_none() {
        options.previous = plans
            .iter()
            .find(|p| p.image == name)
            .map(|p| p.layers.clone());
    }
    options.fleet = Some(plans.into_iter().map(|p| p.layers).collect());
    Ok(())
}

pub(super) async fn status(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let status = state.queue.status(&id).ok_or_else(|| unknown_build(&id))?;
    Ok(json_response(&status))
}

pub(super) async fn cancel(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let status = state.queue.cancel(&id).ok_or_else(|| unknown_build(&id))?;
    Ok(json_response(&status))
}

/// The status as events: one now, one each change, ending after the
/// final one; a finished build gives its one final event.
pub(super) async fn events(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
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
