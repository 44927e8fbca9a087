//! `strata push`: an image into a registry (`docker://HOST/NAME[:TAG]`),
//! from an archive or layout on disk, or built on the way from a plan or
//! closure (or several, with `--platform`) into the layer cache and pushed
//! from there: no tarball is written, each layer compressed once.
//!
//! Exit codes as everywhere ([`super::error`]): 2 for what the user is to
//! fix (a bad destination or source, an unknown or unreachable host,
//! credentials missing or refused, a manifest the registry rejects), 1
//! for the rest.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use indicatif::{MultiProgress, ProgressDrawTarget};
use strata_planner::human_bytes;

use super::build::{build_images, cache_dir, multi_summary, single_summary, Built, ImageArgs};
use super::error::{bad_input, Classify as _, CliError, CliResult};
use crate::image::digest::Sha256Digest;
use crate::push::auth::{auth_files, AuthEnv, AuthFile, CredentialSource};
use crate::push::client::{Connection, Registry};
use crate::push::reference::{Destination, DestinationError};
use crate::push::upload::{push, PushOptions};
use crate::push::{source, PushSet};
use crate::store::{BlobStore, FsStore};

/// Examples for `strata push --help`.
pub const HELP: &str = "\
Examples:
  strata push image.tar docker://registry.example/team/hello:v1
  strata push plan.json docker://127.0.0.1:5000/hello:v1 --tls-verify=false --cmd hello
  strata push docker://127.0.0.1:5000/hello:multi --tls-verify=false \\
      --platform linux/amd64=amd64.plan.json --platform linux/arm64/v8=arm64.plan.json

SOURCE is a docker-archive or OCI archive (a file), an OCI layout (a
directory), or a plan or closure, built on the way into the layer cache
(--cache) with the image flags of `strata build`. Without SOURCE,
--platform gives the plans of a multi-platform image.

Credentials, when the registry asks: --authfile, else the first of
$REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
$XDG_CONFIG_HOME/containers/auth.json (~/.config/...), ~/.docker/config.json
and ~/.dockercfg with some for the registry (what `podman login` and
`docker login` write). In a file, credHelpers[HOST], else credsStore, names
a helper run as `docker-credential-NAME get` from PATH, as docker does;
else its auths entry.";

#[derive(Debug, Args)]
pub struct PushArgs {
    /// [SOURCE] DEST: what to push (an archive, an OCI layout, a plan or a
    /// closure; left out with --platform), and where: docker://HOST[:PORT]/NAME[:TAG].
    #[arg(value_name = "[SOURCE] DEST", num_args = 1..=2, required = true)]
    operands: Vec<String>,
    /// Require HTTPS and check certificates (false: try HTTPS without
    /// checking, then plain HTTP, as podman does).
    #[arg(
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    tls_verify: bool,
    /// The auth file to read credentials from (containers-auth.json).
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
    /// Blobs pushed at once.
    #[arg(long, value_name = "N", default_value_t = 3)]
    jobs: usize,
    /// Upload blobs in PATCH chunks of this many bytes (default: one PUT each).
    #[arg(long, value_name = "BYTES")]
    chunk_size: Option<u64>,
    #[command(flatten)]
    image: ImageArgs,
}

fn parse_destination(s: &str) -> CliResult<Destination> {
    s.parse()
        .map_err(|e: DestinationError| CliError::BadInput(e.into()))
}

/// What is pushed, with a line saying what it is.
struct Prepared {
    set: PushSet,
    built: Option<String>,
}

pub fn run(args: PushArgs) -> CliResult {
    let start = Instant::now();
    let (source, dest) = match args.operands.as_slice() {
        [dest] if !args.image.platforms.is_empty() => (None, dest),
        [_] => {
            return Err(bad_input(
                "strata push needs SOURCE and DEST (or --platform plans and DEST)",
            ))
        }
        [_, _] if !args.image.platforms.is_empty() => {
            return Err(bad_input(
                "--platform builds the image to push: give DEST alone, not a SOURCE too",
            ))
        }
        [source, dest] => (Some(Path::new(source)), dest),
        _ => unreachable!("clap takes one or two operands"),
    };
    let dest = parse_destination(dest)?;
    if args.chunk_size == Some(0) {
        return Err(bad_input("--chunk-size must be at least 1"));
    }
    let cache = cache_dir(args.image.cache.as_deref(), false)?;
    let store = FsStore::open(&cache)
        .with_context(|| format!("cache {}", cache.display()))
        .failure()?;
    let prepared = prepare(&args, source, &dest, &store)?;
    if let Some(line) = &prepared.built {
        eprintln!("strata: {line}");
    }
    let set = prepared.set;
    let tag = dest
        .tag
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| set.tag.clone())
        .unwrap_or_else(|| "latest".to_string());
    let repository = dest.repository.to_string();
    // Looked up when the registry asks for credentials (push/auth).
    let files = match &args.authfile {
        Some(path) => vec![AuthFile {
            path: path.clone(),
            legacy: false,
        }],
        None => {
            let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
            auth_files(AuthEnv {
                registry_auth_file: var("REGISTRY_AUTH_FILE"),
                xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
                xdg_config_home: var("XDG_CONFIG_HOME"),
                home: var("HOME"),
            })
        }
    };
    let records = MountRecords {
        store: &store,
        host: &dest.host,
    };
    let mut mount_from: Vec<String> = set
        .blobs
        .iter()
        .filter_map(|b| records.get(&b.digest))
        .filter(|r| *r != repository)
        .collect();
    mount_from.sort();
    mount_from.dedup();
    let registry = Registry::connect(Connection {
        host: dest.host.clone(),
        repository: repository.clone(),
        mount_from,
        tls_verify: args.tls_verify,
        credentials: CredentialSource::Files(files),
    })
    .map_err(|e| classify(e.into()))?;
    let progress = (!args.image.no_progress
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none())
    .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    let options = PushOptions {
        jobs: args.jobs.max(1),
        chunk_size: args.chunk_size,
    };
    let summary = push(
        &registry,
        &repository,
        &set,
        &tag,
        &|digest| records.get(digest),
        &options,
        progress.as_ref(),
    )
    .map_err(classify)?;
    for digest in &summary.placed {
        // A lost record only costs a mount later: not worth failing for.
        let _ = records.put(digest, &repository);
    }
    let counters = &registry.counters;
    let bytes = counters.bytes.load(Ordering::Relaxed);
    eprintln!(
        "strata: pushed {}/{}:{tag}, {} {}",
        dest.host,
        repository,
        if set.index.is_some() {
            "index"
        } else {
            "manifest"
        },
        set.top().digest
    );
    eprintln!(
        "strata: blobs: {} pushed, {} mounted, {} skipped; {} bytes uploaded ({}); {} requests; {:.2}s",
        summary.pushed,
        summary.mounted,
        summary.skipped,
        bytes,
        human_bytes(bytes),
        counters.requests.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn classify(e: crate::push::upload::PushError) -> CliError {
    if e.is_bad_input() {
        CliError::BadInput(e.into())
    } else {
        CliError::Failure(e.into())
    }
}

/// The push set of the source: read from an archive or layout, or built.
fn prepare(
    args: &PushArgs,
    source: Option<&Path>,
    dest: &Destination,
    store: &FsStore,
) -> CliResult<Prepared> {
    let build = |input: Option<&Path>| -> CliResult<Prepared> {
        let built = build_images(&args.image, input, store)?;
        let (set, line) = match &built {
            Built::Single(image) => (
                PushSet::from_image(image, store),
                single_summary(image, args.image.compression),
            ),
            Built::Multi(multi) => (
                PushSet::from_multi(multi, store),
                multi_summary(multi, args.image.compression),
            ),
        };
        Ok(Prepared {
            set: set.failure()?,
            built: Some(line),
        })
    };
    let Some(source) = source else {
        return build(None);
    };
    if source.as_os_str() == "-" || is_json(source)? {
        return build(Some(source));
    }
    let set = source::read(source, dest.tag.as_ref().map(|t| t.as_str())).bad_input()?;
    Ok(Prepared { set, built: None })
}

/// Whether `path` is a JSON file (a plan or closure) rather than an
/// archive or a layout: its first non-blank byte opens an object or array.
fn is_json(path: &Path) -> CliResult<bool> {
    if path.is_dir() {
        return Ok(false);
    }
    let mut head = [0u8; 512];
    let mut file = std::fs::File::open(path)
        .with_context(|| format!("{}", path.display()))
        .bad_input()?;
    let n = file
        .read(&mut head)
        .with_context(|| format!("{}", path.display()))
        .bad_input()?;
    Ok(head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'[')))
}

/// Which repository of a registry this machine pushed a blob to, kept in
/// the layer cache's records (`pushed/<host>/<hex>`), so a push to a
/// second repository mounts the blob instead of uploading it again.
struct MountRecords<'a> {
    store: &'a FsStore,
    host: &'a str,
}

impl MountRecords<'_> {
    fn name(&self, digest: &Sha256Digest) -> Option<String> {
        // A host is [A-Za-z0-9.-] with a port or an IPv6 literal; anything
        // that could not be one record component is not recorded.
        let host: String = self
            .host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        (!host.starts_with('.')).then(|| format!("pushed/{host}/{}", digest.hex()))
    }

    fn get(&self, digest: &Sha256Digest) -> Option<String> {
        let bytes = self.store.get_record(&self.name(digest)?).ok()??;
        String::from_utf8(bytes).ok()
    }

    fn put(&self, digest: &Sha256Digest, repository: &str) -> Option<()> {
        self.store
            .put_record(&self.name(digest)?, repository.as_bytes())
            .ok()
    }
}
