//! A finished build's archives, `image.tar` and `image.oci.tar`: written
//! once into the store as a blob (the bytes of `strata build --format
//! docker|oci` for the same plan and config), then streamed from its file,
//! with `HEAD`, `Range` for resumed downloads, `ETag` and
//! `If-None-Match`.

use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::super::file_body::file_body;
use super::super::range::ByteRange;
use super::{unknown_build, ApiError, ApiPath, ApiState, Code};
use crate::builds::{ArchiveError, ArchiveFormat};

/// A finished build's archive: whole, or the `Range` asked for.
pub(super) async fn download(
    State(state): State<ApiState>,
    ApiPath((id, file)): ApiPath<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = match file.as_str() {
        "image.tar" => ArchiveFormat::Docker,
        "image.oci.tar" => ArchiveFormat::Oci,
        _ => {
            return Err(ApiError::new(
                Code::UnknownBuild,
                format!("no {file:?} here: a build has image.tar and image.oci.tar"),
            ))
        }
    };
    let queue = state.queue.clone();
    let status = queue.status(&id).ok_or_else(|| unknown_build(&id))?;
    let (digest, len) = tokio::task::spawn_blocking({
        let id = id.clone();
        move || queue.archive(&id, format)
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("writing the archive: {e}")))?
    .map_err(|e| match e {
        ArchiveError::Unknown => unknown_build(&id),
        ArchiveError::NotDone(state) => ApiError::new(
            Code::NotReady,
            format!("build {id} is {state:?}: its image is there once it is done"),
        ),
        ArchiveError::Failed(message) => ApiError::new(Code::Internal, message),
    })?;
    let etag = format!("\"{}\"", digest.hex());
    let name = status.image.replace([':', '/'], "-");
    let disposition = format!(
        "attachment; filename=\"{name}.{file_ext}\"",
        file_ext = match format {
            ArchiveFormat::Docker => "tar",
            ArchiveFormat::Oci => "oci.tar",
        }
    );
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/x-tar")
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_DISPOSITION, disposition);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(axum::body::Body::empty())
            .expect("valid headers"));
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (code, start, count) = match ByteRange::parse(range, len) {
        ByteRange::Full => (StatusCode::OK, 0, len),
        ByteRange::Partial { start, end } => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        ByteRange::Unsatisfiable => {
            let mut response = ApiError::new(
                Code::RangeNotSatisfiable,
                format!("the archive has {len} bytes; the range asked for none of them"),
            )
            .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                format!("bytes */{len}").parse().expect("a valid header"),
            );
            return Ok(response);
        }
    };
    let body = if method == Method::HEAD || count == 0 {
        axum::body::Body::empty()
    } else {
        let path = state.queue.store().local_path(&digest).ok_or_else(|| {
            ApiError::new(
                Code::Internal,
                "this store cannot stream its blobs".to_string(),
            )
        })?;
        file_body(&path, start, count)
            .await
            .map_err(|e| ApiError::new(Code::Internal, format!("reading the archive: {e}")))?
    };
    Ok(builder
        .status(code)
        .header(header::CONTENT_LENGTH, count)
        .body(body)
        .expect("valid headers"))
}
