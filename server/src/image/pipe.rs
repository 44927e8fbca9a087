//! A writer that hands its bytes to a thread of their own: the blob side
//! of a layer (its sha256 and the file write) runs beside the tar side
//! (reading store paths, their NAR hash, the diff_id), so an uncompressed
//! layer uses two cores instead of one. Bytes go over in 1 MiB buffers,
//! in order, at most [`DEPTH`] in flight; the buffers come back for reuse.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

/// Bytes per buffer handed over.
pub const CHUNK: usize = 1 << 20;
/// Buffers in flight at most.
pub const DEPTH: usize = 4;

/// See the module docs; [`Pipe::finish`] returns the inner writer.
pub struct Pipe<W: Write + Send + 'static> {
    buf: Vec<u8>,
    to_worker: Option<SyncSender<Vec<u8>>>,
    spare: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> Pipe<W> {
    /// Starts the thread writing into `inner`.
    pub fn new(mut inner: W) -> Self {
        let (to_worker, from_main) = mpsc::sync_channel::<Vec<u8>>(DEPTH);
        let (give_back, spare) = mpsc::sync_channel::<Vec<u8>>(DEPTH + 1);
        let worker = thread::spawn(move || {
            for mut buf in from_main {
                inner.write_all(&buf)?;
                buf.clear();
                let _ = give_back.try_send(buf);
            }
            inner.flush()?;
            Ok(inner)
        });
        Pipe {
            buf: Vec::with_capacity(CHUNK),
            to_worker: Some(to_worker),
            spare,
            worker: Some(worker),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        let sent = self
            .to_worker
            .as_ref()
            .expect("open until finish")
            .send(full);
        if sent.is_err() {
            // The thread stopped on an error: report it.
            return self.join().map(drop);
        }
        Ok(())
    }

    fn join(&mut self) -> io::Result<W> {
        self.to_worker = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the blob writer thread panicked")),
            None => Err(io::Error::other("the blob writer thread already stopped")),
        }
    }

    /// Sends what is left, waits for the thread, returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.join()
    }
}

impl<W: Write + Send + 'static> Write for Pipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order_whatever_the_write_sizes() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| (i % 251) as u8).collect();
        for size in [1000, CHUNK, CHUNK + 7] {
            let mut pipe = Pipe::new(Vec::new());
            for piece in data.chunks(size) {
                pipe.write_all(piece).unwrap();
            }
            assert_eq!(pipe.finish().unwrap(), data, "{size}");
        }
    }

    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_threads_error_comes_back() {
        let mut pipe = Pipe::new(Failing);
        let mut result = Ok(());
        for _ in 0..(DEPTH + 3) {
            result = pipe.write_all(&vec![0; CHUNK]);
            if result.is_err() {
                break;
            }
        }
        let err = result.and_then(|()| pipe.finish().map(drop)).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
