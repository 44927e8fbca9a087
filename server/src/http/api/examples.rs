//! What this server can build: the example closures it offers
//! (`GET /api/examples`, `/api/examples/{name}`) and which store paths a
//! plan or closure lacks (`POST /api/available`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use strata_planner::{parse_closure_with, Plan};

use super::body::{body_object, closure_text, unknown_fields};
use super::{json_response, ApiError, ApiPath, ApiState, Code};
use crate::threads::Threads;

pub(super) async fn examples(State(state): State<ApiState>) -> Response {
    let nix = state.queue.nix().clone();
    let examples = state.examples.clone();
    // A listing stats every example path: off the async threads.
    match tokio::task::spawn_blocking(move || examples.list(&nix)).await {
        Ok(list) => json_response(&list),
        Err(e) => ApiError::new(Code::Internal, format!("listing examples: {e}")).into_response(),
    }
}

pub(super) async fn example(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
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
pub(super) async fn available(
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
            let text = closure_text(closure);
            parse_closure_with(&text, &state.store_dir, &Threads)
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
        nix.missing(&paths).iter().map(|p| p.to_string()).collect()
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("checking the store: {e}")))?;
    Ok(json_response(&serde_json::json!({
        "buildable": missing.is_empty(),
        "missingCount": missing.len(),
        "missing": &missing[..missing.len().min(20)],
    })))
}
