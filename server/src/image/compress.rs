//! Layer compression with pinned settings, so the same tar gives the same
//! blob on every machine.
//!
//! - `gzip` (the default, what every client reads): deflate level 6 from
//!   zlib-rs (pure Rust; the version is pinned with `=` in the workspace
//!   manifest, and its match finder hashes the same way on every CPU, so
//!   no CPU feature changes the bytes). The tar is cut into 256 KiB chunks,
//!   each compressed on its own thread with the previous 32 KiB as its
//!   dictionary and ended with a sync flush, then the chunks are joined
//!   and closed with an empty final block, as pigz does. The bytes depend
//!   on the chunk size, never on the number of threads. Header: no name,
//!   mtime 0, XFL 0, OS 255 (unknown).
//! - `zstd`: level 3 with a content checksum and blocks of at most
//!   [`ZSTD_BLOCK`], from the libzstd bundled by `zstd-sys` (pinned by the
//!   lockfile), in libzstd's multi-threaded mode (`ZSTD_c_nbWorkers` >= 1,
//!   even for one thread): it cuts the input into jobs of a size set by
//!   the level alone (8 MiB at level 3), so the bytes depend on the level,
//!   never on the number of workers (a test compares 1, 2 and 3). They
//!   differ from the single-threaded mode's (`nbWorkers` 0), which is why
//!   one thread still runs the multi-threaded mode.
//! - `none`: the tar itself.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use flate2::{Compress, FlushCompress};
use oci_spec::image::MediaType;

/// deflate level for gzip layers (gzip's and pigz's default).
pub const GZIP_LEVEL: u32 = 6;
/// Uncompressed bytes per independently compressed gzip chunk.
pub const GZIP_CHUNK: usize = 256 * 1024;
/// Dictionary carried from one chunk to the next (deflate's window).
pub const GZIP_DICTIONARY: usize = 32 * 1024;
/// zstd level for zstd layers (zstd's default).
pub const ZSTD_LEVEL: i32 = 3;
/// Largest zstd block: 127 KiB, just under libzstd's 128 KiB. libzstd
/// 1.5.7 cuts full 128 KiB blocks by a pre-splitter (new in 1.5.7, on by
/// default at every level); on the benchmark's 858 MiB at level 3 it
/// costs 15% of the compression time for 0.6% smaller output. Blocks
/// under 128 KiB are never pre-split, which gives the blocks of zstd up to
/// 1.5.6 (Debian's `zstd` 1.5.4 makes streams within 0.05% of this size).
/// `ZSTD_c_blockSplitterLevel`, which says so directly, is not in
/// zstd-safe's API, and calling libzstd by hand needs `unsafe`.
pub const ZSTD_BLOCK: u32 = 127 * 1024;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// The tar as is.
    None,
    /// gzip (the default).
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The OCI media type of a layer compressed this way.
    pub fn media_type(self) -> MediaType {
        match self {
            Compression::None => MediaType::ImageLayer,
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
        }
    }

    /// Everything that decides the compressed bytes, for cache keys: a
    /// change of any pinned setting must miss the cache.
    pub fn settings(self) -> String {
        match self {
            Compression::None => "none".to_string(),
            Compression::Gzip => format!(
                "gzip level={GZIP_LEVEL} chunk={GZIP_CHUNK} dict={GZIP_DICTIONARY} deflate=zlib-rs-0.6.8"
            ),
            Compression::Zstd => format!(
                "zstd level={ZSTD_LEVEL} checksum=1 mt=1 block={ZSTD_BLOCK} libzstd={}",
                zstd::zstd_safe::version_number()
            ),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

impl FromStr for Compression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(format!("unknown compression {s:?} (gzip, zstd, none)")),
        }
    }
}

/// A writer compressing into `W`; [`Compressor::finish`] ends the stream.
pub enum Compressor<W: Write> {
    /// No compression.
    None(W),
    /// Parallel chunked gzip.
    Gzip(ParallelGzip<W>),
    /// zstd (multi-threaded mode).
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write + Send> Compressor<W> {
    /// Starts a stream into `out`, compressed by `threads` threads.
    pub fn new(compression: Compression, out: W, threads: usize) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Compressor::None(out),
            Compression::Gzip => Compressor::Gzip(ParallelGzip::new(out, threads)?),
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                encoder.include_checksum(true)?;
                encoder.multithread(u32::try_from(threads.max(1)).unwrap_or(u32::MAX))?;
                encoder.set_parameter(zstd::zstd_safe::CParameter::MaxBlockSize(ZSTD_BLOCK))?;
                Compressor::Zstd(encoder)
            }
        })
    }

    /// Ends the stream; returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressor::None(w) => Ok(w),
            Compressor::Gzip(g) => g.finish(),
            Compressor::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::None(w) => w.write(buf),
            Compressor::Gzip(g) => g.write(buf),
            Compressor::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::None(w) => w.flush(),
            Compressor::Gzip(g) => g.flush(),
            Compressor::Zstd(z) => z.flush(),
        }
    }
}

type Chunk = Arc<Vec<u8>>;

struct Job {
    dictionary: Option<Chunk>,
    data: Chunk,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// gzip compressed by several threads at once (see the module docs); the
/// output does not depend on how many.
pub struct ParallelGzip<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    total: u64,
    current: Vec<u8>,
    previous: Option<Chunk>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

/// gzip member header: magic, deflate, no flags, mtime 0, XFL 0, OS 255.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// An empty final fixed-Huffman block: ends the deflate stream.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

impl<W: Write> ParallelGzip<W> {
    /// Starts a gzip member in `out`, compressed by `threads` threads.
    pub fn new(mut out: W, threads: usize) -> io::Result<Self> {
        out.write_all(&GZIP_HEADER)?;
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = Arc::clone(&queue);
                thread::spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let result =
                        deflate_chunk(job.dictionary.as_deref().map(Vec::as_slice), &job.data);
                    let _ = job.reply.send(result);
                })
            })
            .collect();
        Ok(ParallelGzip {
            out,
            crc: crc32fast::Hasher::new(),
            total: 0,
            current: Vec::with_capacity(GZIP_CHUNK),
            previous: None,
            pending: VecDeque::new(),
            max_pending: threads * 2 + 1,
            jobs: Some(jobs),
            workers,
        })
    }

    fn dispatch(&mut self) -> io::Result<()> {
        let data = Arc::new(std::mem::replace(
            &mut self.current,
            Vec::with_capacity(GZIP_CHUNK),
        ));
        let (reply, result) = mpsc::sync_channel(1);
        let job = Job {
            dictionary: self.previous.replace(Arc::clone(&data)),
            data,
            reply,
        };
        self.jobs
            .as_ref()
            .expect("jobs are open until finish")
            .send(job)
            .map_err(|_| io::Error::other("a gzip thread stopped"))?;
        self.pending.push_back(result);
        while self.pending.len() >= self.max_pending {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(result) = self.pending.pop_front() {
            let bytes = result
                .recv()
                .map_err(|_| io::Error::other("a gzip thread stopped"))??;
            self.out.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Compresses what is left, writes the trailer, returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.current.is_empty() {
            self.dispatch()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.stop();
        self.out.write_all(&FINAL_BLOCK)?;
        let crc = std::mem::take(&mut self.crc).finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&(self.total as u32).to_le_bytes())?;
        let workers = std::mem::take(&mut self.workers);
        for w in workers {
            let _ = w.join();
        }
        // `self` has no Drop of its own: moving `out` out is fine.
        Ok(self.out)
    }

    fn stop(&mut self) {
        self.jobs = None;
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        self.crc.update(buf);
        self.total += n as u64;
        while !buf.is_empty() {
            let room = GZIP_CHUNK - self.current.len();
            let take = room.min(buf.len());
            self.current.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.current.len() == GZIP_CHUNK {
                self.dispatch()?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One chunk as raw deflate, ended by a sync flush (byte-aligned, not
/// final), so chunks concatenate into one stream.
fn deflate_chunk(dictionary: Option<&[u8]>, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut deflate = Compress::new(flate2::Compression::new(GZIP_LEVEL), false);
    if let Some(dict) = dictionary {
        let start = dict.len().saturating_sub(GZIP_DICTIONARY);
        deflate
            .set_dictionary(&dict[start..])
            .map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 64);
    loop {
        let consumed = deflate.total_in() as usize;
        deflate
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        if deflate.total_in() as usize == data.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(64 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: words with a varying counter.
        let mut out = Vec::with_capacity(len);
        let mut i = 0u64;
        while out.len() < len {
            out.extend_from_slice(
                format!("line {i} of the sample {}\n", i * 7919 % 1013).as_bytes(),
            );
            i += 1;
        }
        out.truncate(len);
        out
    }

    fn gzip(data: &[u8], threads: usize, write_size: usize) -> Vec<u8> {
        let mut g = ParallelGzip::new(Vec::new(), threads).unwrap();
        for piece in data.chunks(write_size) {
            g.write_all(piece).unwrap();
        }
        g.finish().unwrap()
    }

    #[test]
    fn gzip_round_trips_and_ignores_thread_count_and_write_sizes() {
        for len in [0, 1, GZIP_CHUNK, GZIP_CHUNK * 3 + 17] {
            let data = sample(len);
            let one = gzip(&data, 1, 4096);
            assert_eq!(one, gzip(&data, 3, 100_000), "len {len}");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "len {len}");
        }
    }

    /// The pinned bytes: if this fails, gzip layers changed for everyone
    /// (a zlib-rs update or a changed setting); bump the cache key.
    #[test]
    fn gzip_bytes_are_pinned() {
        let data = sample(GZIP_CHUNK * 2 + 1000);
        let digest = crate::image::digest::Sha256Digest::of(&gzip(&data, 2, 65536));
        assert_eq!(
            digest.to_string(),
            "sha256:b555db0cb75139ffda85dfd3531406f7fa1f7a2bffedc677b262133b2ff432d9"
        );
    }

    fn zstd(data: &[u8], threads: usize, write_size: usize) -> Vec<u8> {
        let mut z = Compressor::new(Compression::Zstd, Vec::new(), threads).unwrap();
        for piece in data.chunks(write_size) {
            z.write_all(piece).unwrap();
        }
        z.finish().unwrap()
    }

    #[test]
    fn zstd_round_trips_and_ignores_thread_count_and_write_sizes() {
        // Past one job (level 3: 8 MiB) so two workers really split it.
        for len in [0, 100_000, 20 << 20] {
            let data = sample(len);
            let one = zstd(&data, 1, 4096);
            assert_eq!(one, zstd(&data, 2, 1 << 20), "len {len}");
            assert_eq!(one, zstd(&data, 3, 65536), "len {len}");
            assert_eq!(zstd::decode_all(&one[..]).unwrap(), data, "len {len}");
        }
    }

    /// The pinned bytes: if this fails, zstd layers changed for everyone
    /// (a libzstd update or a changed setting); bump the cache key.
    #[test]
    fn zstd_bytes_are_pinned() {
        let digest = crate::image::digest::Sha256Digest::of(&zstd(&sample(10 << 20), 2, 65536));
        assert_eq!(
            digest.to_string(),
            "sha256:2f6e1f0f212e1cfac8e267fb33166a3ff79c1778b36cc03f200f6ecb39985ce1"
        );
    }
}
