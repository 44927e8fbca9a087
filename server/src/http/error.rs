//! Registry errors in the distribution spec's JSON form:
//! `{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "...", "detail": {...}}]}`.
//!
//! The codes are our own enum rather than `oci_spec::distribution::ErrorCode`
//! because that one lacks `TAG_INVALID` and `PAGINATION_NUMBER_INVALID`
//! (both the reference registry's) and a code for an unsatisfiable range.
//! A client's mistake gets its detail; a store failure gets a generic
//! message, and the cause goes to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use crate::image::repository::RepositoryError;
use crate::store::StoreError;

/// A registry error code, serialised SCREAMING_SNAKE_CASE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// A blob the name does not have.
    BlobUnknown,
    /// A digest that is not `sha256:<64 lowercase hex digits>`.
    DigestInvalid,
    /// A tag or manifest digest the name does not have.
    ManifestUnknown,
    /// A name that breaks the reference grammar.
    NameInvalid,
    /// A name with no tags.
    NameUnknown,
    /// A tag that breaks the tag grammar.
    TagInvalid,
    /// `n` of a tag list that is not a number.
    PaginationNumberInvalid,
    /// A `Range` outside the blob (strata's own code: the spec has none).
    RangeNotSatisfiable,
    /// A write, or a path that is no pull endpoint.
    Unsupported,
    /// The server failed.
    Unknown,
}

/// One failed request: the status, the error body and any extra header.
#[derive(Debug)]
pub struct RegistryError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    detail: Value,
    content_range: Option<String>,
}

impl RegistryError {
    /// An error with its status, code, message and detail.
    pub fn new(
        status: StatusCode,
        code: ErrorCode,
        message: impl Into<String>,
        detail: Value,
    ) -> Self {
        RegistryError {
            status,
            code,
            message: message.into(),
            detail,
            content_range: None,
        }
    }

    /// 400 `NAME_INVALID`, `TAG_INVALID`, `DIGEST_INVALID`, ...
    pub fn invalid(code: ErrorCode, message: impl Into<String>, value: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code,
            message,
            json!({ "value": value }),
        )
    }

    /// 404 with `code`.
    pub fn unknown(code: ErrorCode, message: impl Into<String>, detail: Value) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message, detail)
    }

    /// 416 for a blob of `len` bytes, with `Content-Range: bytes */len`.
    pub fn range(len: u64) -> Self {
        RegistryError {
            content_range: Some(format!("bytes */{len}")),
            ..Self::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::RangeNotSatisfiable,
                "the range is outside the blob",
                json!({ "size": len }),
            )
        }
    }

    /// The code, for tests and logs.
    #[cfg(test)]
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// A server-side failure: logged here with its cause, answered with
    /// a generic message.
    fn internal(cause: &dyn std::error::Error) -> Self {
        let mut text = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!("registry: {text}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unknown,
            "internal error (see the server's log)",
            Value::Null,
        )
    }
}

impl From<RepositoryError> for RegistryError {
    fn from(e: RepositoryError) -> Self {
        Self::internal(&e)
    }
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        Self::internal(&e)
    }
}

impl From<std::io::Error> for RegistryError {
    fn from(e: std::io::Error) -> Self {
        Self::internal(&e)
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let body = json!({
            "errors": [{"code": self.code, "message": self.message, "detail": self.detail}]
        });
        let body = serde_json::to_vec(&body).expect("an error body serialises");
        let json = HeaderValue::from_static("application/json");
        let mut response = (self.status, [(header::CONTENT_TYPE, json)], body).into_response();
        if let Some(range) = self
            .content_range
            .and_then(|r| HeaderValue::try_from(r).ok())
        {
            response.headers_mut().insert(header::CONTENT_RANGE, range);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_screaming_snake_case() {
        for (code, text) in [
            (ErrorCode::BlobUnknown, "BLOB_UNKNOWN"),
            (ErrorCode::TagInvalid, "TAG_INVALID"),
            (
                ErrorCode::PaginationNumberInvalid,
                "PAGINATION_NUMBER_INVALID",
            ),
            (ErrorCode::Unsupported, "UNSUPPORTED"),
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), text);
        }
    }
}
