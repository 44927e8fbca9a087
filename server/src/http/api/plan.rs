//! `POST /api/plan`, and the planning fields every closure-taking request
//! shares (the CLI's planning flags, by name).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use strata_planner::input::describe;
use strata_planner::{
    check_popularity, parse_closure_with, parse_popularity_for, plan_closure_with, read_layers,
    Algorithm, Graph, Plan, PlanOptions,
};

use super::body::{body_object, closure_text, unknown_fields};
use super::{ApiError, ApiState, Code};
use crate::threads::Threads;

/// The planning fields of a body (the CLI's flags by name), taken out of
/// it; what is left is for the caller. `popularity` is checked here but
/// read once the closure is known ([`Popularity`]).
fn planning_options(body: &mut Map<String, Value>) -> Result<(PlanOptions, Popularity), ApiError> {
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
    let popularity = match body.remove("popularity").filter(|v| !v.is_null()) {
        Some(value) => {
            let text = value.to_string();
            check_popularity(&text).map_err(|e| field("popularity", e.to_string()))?;
            Popularity(Some(text))
        }
        None => Popularity(None),
    };
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
    Ok((options, popularity))
}

/// A body's checked `popularity` text, read against the closure: only the
/// counts of its names, and only for an algorithm that reads them.
struct Popularity(Option<String>);

impl Popularity {
    fn read_into(self, graph: &Graph, options: &mut PlanOptions) -> Result<(), ApiError> {
        if let Some(text) = self.0.filter(|_| options.algorithm.uses_popularity()) {
            options.popularity = Some(
                parse_popularity_for(&text, graph)
                    .map_err(|e| ApiError::field("popularity", e.to_string()))?,
            );
        }
        Ok(())
    }
}

/// Plans the body's `closure` (any input format: the JSON itself, or a
/// string holding it) with its planning fields.
pub(super) fn plan_body(body: &mut Map<String, Value>, store_dir: &str) -> Result<Plan, ApiError> {
    plan_body_knowing(body, store_dir, |_, _| Ok(())).map(|(plan, _)| plan)
}

/// [`plan_body`], with `know` adding what the server knows to the options
/// once the closure is read; also gives the closure.
pub(super) fn plan_body_knowing(
    body: &mut Map<String, Value>,
    store_dir: &str,
    know: impl FnOnce(&Graph, &mut PlanOptions) -> Result<(), ApiError>,
) -> Result<(Plan, Graph), ApiError> {
    let closure = match body.remove("closure") {
        None | Some(Value::Null) => {
            return Err(ApiError::field("closure", "is missing".to_string()))
        }
        Some(value) => closure_text(value),
    };
    let (mut options, popularity) = planning_options(body)?;
    let graph = parse_closure_with(&closure, store_dir, &Threads)
        .map_err(|e| ApiError::field("closure", e.to_string()))?;
    popularity.read_into(&graph, &mut options)?;
    know(&graph, &mut options)?;
    let plan = plan_closure_with(&graph, &options, &Threads)
        .map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))?;
    Ok((plan, graph))
}

pub(super) async fn plan(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut body = body_object(body)?;
    let plan = plan_body(&mut body, &state.store_dir)?;
    unknown_fields(&body)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], plan.to_json()).into_response())
}
