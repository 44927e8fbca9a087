//! A byte range of a local file as a streamed response body: blobs and
//! downloads are sent in 64 KiB reads, never read whole into memory.

use std::io::SeekFrom;
use std::path::Path;

use axum::body::Body;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

/// Bytes a read asks for: large reads keep the per-chunk cost (a task
/// wake-up, a frame) small against the copy; measured on a 64 MiB blob
/// (tests/bench/registry.sh).
const BUFFER: usize = 1 << 20;

/// `count` bytes of the file at `path` from `start`.
pub async fn file_body(path: &Path, start: u64, count: u64) -> std::io::Result<Body> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(SeekFrom::Start(start)).await?;
    Ok(Body::from_stream(ReaderStream::with_capacity(
        file.take(count),
        BUFFER,
    )))
}
