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
use strata_planner::{check_plan, parse_closure, Plan};

use super::body::{body_object, closure_text};
use super::plan::plan_body;
use super::{json_response, unknown_build, ApiError, ApiPath, ApiState, Code};
use crate::builds::{BuildRequest, ImageConfig, SubmitError};

pub(super) async fn submit(
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
                let text = closure_text(closure);
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
