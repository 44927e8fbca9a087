//! Where a subcommand's result goes (`-o`/`--output` on every subcommand
//! that writes one), and the lines printed about it for people.
//!
//! An output path is the user's input: one that cannot be opened (its
//! directory is missing, it is a directory) is a bad input, named as
//! given. Once open, a failed write is a failure. Files are written as
//! [`AtomicFile`]s: whole, or not at all, and devices and fifos in place.

use std::io::{self, Write};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use strata_planner::{human_bytes, Plan};

use super::error::{Classify as _, CliResult};
use crate::files::AtomicFile;

/// An open output: stdout (no `-o`, or `-o -`) or a file.
pub enum Output {
    Stdout(io::StdoutLock<'static>),
    File { path: PathBuf, file: AtomicFile },
}

impl Output {
    /// Opens `path`, or stdout when it is `None` or `-`.
    pub fn create(path: Option<&Path>) -> CliResult<Self> {
        match path {
            None => Ok(Output::Stdout(io::stdout().lock())),
            Some(path) if path.as_os_str() == "-" => Ok(Output::Stdout(io::stdout().lock())),
            Some(path) => {
                let file = AtomicFile::create(path)
                    .with_context(|| format!("writing {}", path.display()))
                    .bad_input()?;
                Ok(Output::File {
                    path: path.to_path_buf(),
                    file,
                })
            }
        }
    }

    /// Writes `bytes` and commits.
    pub fn write_all_and_commit(mut self, bytes: &[u8]) -> CliResult<()> {
        let written = self.write_all(bytes);
        written.with_context(|| self.name()).failure()?;
        self.commit()
    }

    /// The output's open file as a `File` of its own (stdout's descriptor
    /// duplicated, after what stdout buffered is flushed), so that std's
    /// `io::copy` from a blob's file into it runs in the kernel
    /// (`copy_file_range`, `sendfile`, `splice`) instead of through a
    /// buffer: it does so only for types it knows. [`Output::commit`]
    /// still finishes the output.
    pub fn try_clone_file(&mut self) -> io::Result<std::fs::File> {
        match self {
            Output::Stdout(stdout) => {
                stdout.flush()?;
                Ok(std::fs::File::from(stdout.as_fd().try_clone_to_owned()?))
            }
            Output::File { file, .. } => file.try_clone_file(),
        }
    }

    /// Finishes the output: stdout flushed, a file renamed into place.
    pub fn commit(self) -> CliResult<()> {
        let name = self.name();
        match self {
            Output::Stdout(mut stdout) => stdout.flush(),
            Output::File { file, .. } => file.commit(),
        }
        .context(name)
        .failure()
    }

    /// How errors name the output.
    pub fn name(&self) -> String {
        match self {
            Output::Stdout(_) => "writing to stdout".to_string(),
            Output::File { path, .. } => format!("writing {}", path.display()),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(stdout) => stdout.write(buf),
            Output::File { file, .. } => file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(stdout) => stdout.write_all(buf),
            Output::File { file, .. } => file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(stdout) => stdout.flush(),
            Output::File { file, .. } => file.flush(),
        }
    }
}

/// A plan in one line: layers, budget, paths, size, algorithm.
pub fn summary_line(plan: &Plan) -> String {
    let paths: usize = plan.layers.iter().map(|l| l.paths.len()).sum();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} (budget {}), {}, {} by {}",
        plural(plan.layers.len(), "layer"),
        plan.algorithm.budget,
        plural(paths, "path"),
        human_bytes(plan.size),
        plan.algorithm.name
    )
}

/// Peak resident memory of this process (Linux `VmHWM`), for `--timings`.
pub fn peak_memory() -> String {
    let peak = || -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    peak().map_or("unknown".to_string(), human_bytes)
}
