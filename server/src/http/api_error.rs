//! The JSON API's errors: `{"error": {"code", "message"}}` with the HTTP
//! status the code implies. Every client mistake has a 4xx code here; a
//! 5xx is only ever the server's own failure.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong, as a stable machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The request (its URL or body) could not be read.
    BadRequest,
    /// The body is not a JSON object.
    InvalidJson,
    /// A field is missing, of the wrong type, or unusable.
    InvalidField,
    /// A path of the plan is not in the server's Nix store.
    PathMissing,
    /// No build has that id.
    UnknownBuild,
    /// No example has that name.
    UnknownExample,
    /// The build is not done, so it has no image yet.
    NotReady,
    /// A write without the server's token.
    Unauthorized,
    /// The body is larger than `--max-body`.
    TooLarge,
    /// The body stopped arriving for longer than the server waits.
    Timeout,
    /// A `Range` that the file does not have.
    RangeNotSatisfiable,
    /// Too many builds wait already.
    QueueFull,
    /// The server failed (its store, a build).
    Internal,
}

impl Code {
    fn status(self) -> StatusCode {
        match self {
            Code::BadRequest | Code::InvalidJson | Code::InvalidField => StatusCode::BAD_REQUEST,
            Code::PathMissing => StatusCode::UNPROCESSABLE_ENTITY,
            Code::UnknownBuild | Code::UnknownExample => StatusCode::NOT_FOUND,
            Code::NotReady => StatusCode::CONFLICT,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::Timeout => StatusCode::REQUEST_TIMEOUT,
            Code::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::QueueFull => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An API error response.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    code: Code,
    message: String,
}

impl ApiError {
    /// An error with a code and a message for people.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// A field of the request is unusable; the message names it.
    pub fn field(name: &'static str, message: impl Into<String>) -> Self {
        Self::new(Code::InvalidField, format!("{name}: {}", message.into()))
    }

    /// [`ApiError::field`] for a field named at run time.
    pub fn field_owned(name: String, message: String) -> Self {
        Self::new(Code::InvalidField, format!("{name}: {message}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = serde_json::json!({ "error": self }).to_string();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}
