//! Reading a request body: whole, up to `--max-body`, as a JSON object;
//! every way it can fail is the client's, in the API's error form.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::{Map, Value};
use strata_planner::input::describe;
use tower_http::timeout::TimeoutError;

use super::{ApiError, Code};

/// The body as a JSON object; too large, not JSON or not an object are
/// the client's mistakes.
pub(super) fn body_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ApiError> {
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

pub(super) fn unknown_fields(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().next() {
        Some(key) => Err(ApiError::field_owned(
            key.clone(),
            "is not a field of this request".to_string(),
        )),
        None => Ok(()),
    }
}

/// A closure field as text: a string holds the closure's JSON; any other
/// value is the closure itself.
pub(super) fn closure_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        value => value.to_string(),
    }
}
