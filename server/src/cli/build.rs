//! `strata build`: a plan (or a closure, planned first) → an image file,
//! and/or an image published in the store (`--publish`) for `strata serve`.
//!
//! Raw flags become [`BuildOptions`] here; the work is [`crate::image`]'s.
//! Outputs never appear half-written: archives go to a temporary file
//! beside the target, renamed at the end and removed on error; an OCI
//! directory gets its `index.json` last (see [`crate::image::archive::oci`]).

use std::fs;
use std::io::{self, BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_planner::{human_bytes, plan_closure_with, Graph, Plan};

use crate::threads::Threads;

use super::error::{bad_input, Classify as _, CliError, CliResult};
use super::input::{
    default_data_dir, load_plan_or_closure, plan_options_for, read_json, PlanOrClosure,
    PlanningArgs,
};
use super::output::{peak_memory, Output};
use super::store_root::{parse_store_root, StoreRootArg, StoreRoots};
use crate::files::WRITE_SIZE;
use crate::image::archive::{docker, oci, ArchiveError};
use crate::image::compress::Compression;
use crate::image::config::{
    check_created, created_unix, key_values, parse_config, ConfigOptions, CreatedError,
};
use crate::image::custom::{Customisation, User, UserError};
use crate::image::layer::{NixStore, Progress};
use crate::image::name::{ImageName, ReferenceError, Tag};
use crate::image::nix_db::NixDb;
use crate::image::perms::Perms;
use crate::image::platform::{MultiImage, Platform, PlatformError};
use crate::image::publish::publish;
use crate::image::{self, BuildError, BuildOptions, Image};
use crate::store::FsStore;

/// Examples and the layer cache for `strata build --help`.
pub const HELP: &str = "\
Examples:
  strata build plan.json -o image.tar                    docker-archive, gzip layers
  nix path-info --json --recursive ./result > closure.json
  strata build closure.json -b 20 --links --cmd hello -o image.tar
  strata build plan.json --format oci-dir --compression zstd -o ./layout
  strata build plan.json -o - | podman load
  strata build plan.json --cache D --publish && strata serve --data-dir D

Layers are cached by content in --cache (default $STRATA_CACHE, else
$XDG_CACHE_HOME/strata/store, else ~/.cache/strata/store): a rebuild of an
unchanged plan reads no store path and writes only the config and manifest.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// docker-archive tarball (`docker load`, `podman load`).
    Docker,
    /// OCI image layout as a tar (`skopeo copy oci-archive:`).
    Oci,
    /// OCI image layout as a directory (`skopeo copy oci:DIR:TAG`, `umoci`).
    OciDir,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// A plan from `strata plan`, or a closure (planned first with the
    /// planning options below); `-` for stdin. Not with --platform.
    #[arg(required_unless_present = "platforms", conflicts_with = "platforms")]
    input: Option<PathBuf>,
    /// Where the image goes: a file, `-` for stdout, or a directory with
    /// `--format oci-dir` (needed unless --publish).
    #[arg(
        short,
        long,
        visible_alias = "out",
        value_name = "PATH",
        required_unless_present = "publish"
    )]
    output: Option<PathBuf>,
    /// Record the image as name:tag in the --cache store, where `strata
    /// serve --data-dir` serves it over the registry API.
    #[arg(long)]
    publish: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Docker)]
    format: Format,
    /// Print the time taken and peak memory to stderr.
    #[arg(long)]
    timings: bool,
    #[command(flatten)]
    pub image: ImageArgs,
}

/// What makes an image from plans: shared by `build` and `push`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// One platform of a multi-platform image and its plan or closure:
    /// OS/ARCH[/VARIANT]=PLAN_OR_CLOSURE (repeatable; several make an OCI
    /// image index, layers shared between platforms stored once).
    #[arg(long = "platform", value_name = "OS/ARCH[/VARIANT]=PLAN", value_parser = parse_platform_input)]
    pub platforms: Vec<(Platform, PathBuf)>,
    /// Layer compression: gzip, zstd or none.
    #[arg(long, default_value = "gzip", value_parser = parse_compression)]
    pub compression: Compression,
    /// Image name: lowercase, `/`-separated, an optional registry[:port]/
    /// first, no tag (default: the first root's name).
    #[arg(long, value_parser = parse_name)]
    name: Option<ImageName>,
    /// Image tag, [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (default: from the
    /// image's content).
    #[arg(long, value_parser = parse_tag)]
    tag: Option<Tag>,
    /// Execution config as JSON with PascalCase keys (Cmd, Env,
    /// Entrypoint, WorkingDir, User, ExposedPorts, Labels, Volumes).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Cmd: one argument per use, or a JSON array.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    cmd: Vec<String>,
    /// Entrypoint: one argument per use, or a JSON array.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    entrypoint: Vec<String>,
    /// An environment variable (repeatable); PATH defaults to the roots' bin.
    #[arg(long, value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// WorkingDir.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// User.
    #[arg(long)]
    user: Option<String>,
    /// An exposed port, e.g. 8080/tcp (repeatable).
    #[arg(long, value_name = "PORT")]
    port: Vec<String>,
    /// A label (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Creation time: RFC 3339, or `now` (default 1970-01-01T00:00:01Z).
    #[arg(long, value_parser = parse_created)]
    created: Option<String>,
    /// Architecture (GOARCH; default: this machine's).
    #[arg(long, conflicts_with = "platforms")]
    arch: Option<String>,
    /// Add a top layer linking the roots' bin, etc, lib and share into `/`.
    #[arg(long)]
    links: bool,
    /// Add a top layer holding this directory's files at `/`.
    #[arg(long, value_name = "DIR")]
    extra: Option<PathBuf>,
    /// Add a user to /etc/passwd and /etc/group in the top layer, with a
    /// home /home/NAME it owns (repeatable; use it with --user NAME).
    #[arg(long, value_name = "NAME:UID:GID", value_parser = parse_user)]
    create_user: Vec<User>,
    /// Owner and mode rules: a JSON list of {path, regex, glob, mode, uid,
    /// gid, uname, gname}, as nix2container's perms.
    #[arg(long, value_name = "FILE")]
    perms: Option<PathBuf>,
    /// Add a layer holding Nix's database of the image's store paths
    /// (/nix/var/nix/db), as dockerTools' includeNixDB; needs a closure.
    #[arg(long)]
    nix_db: bool,
    /// Read store paths under this directory instead of `/`;
    /// OS/ARCH[/VARIANT]=DIR for one --platform's own (repeatable: one
    /// plain DIR for every platform, one per platform).
    #[arg(long, value_name = "[OS/ARCH=]DIR", value_parser = parse_store_root)]
    store_root: Vec<StoreRootArg>,
    /// The layer cache (a blob store directory).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Threads compressing a gzip layer (default: the number of cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No progress bar (it is off anyway when stderr is not a terminal or
    /// CI is set).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    planning: PlanningArgs,
}

/// `--platform linux/arm64/v8=plan.json`.
fn parse_platform_input(s: &str) -> Result<(Platform, PathBuf), String> {
    let (platform, path) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not OS/ARCH[/VARIANT]=PLAN_OR_CLOSURE"))?;
    if path.is_empty() {
        return Err(format!("{s:?}: no plan or closure after '='"));
    }
    Ok((
        platform.parse().map_err(|e: PlatformError| e.to_string())?,
        PathBuf::from(path),
    ))
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse()
}

// Names, tags and times are checked while the flags are read, so a bad
// one is a usage error (exit 2, naming the flag and the value) before
// anything is planned, read or written.

fn parse_name(s: &str) -> Result<ImageName, ReferenceError> {
    s.parse()
}

fn parse_tag(s: &str) -> Result<Tag, ReferenceError> {
    s.parse()
}

fn parse_created(s: &str) -> Result<String, CreatedError> {
    check_created(s)
}

fn parse_user(s: &str) -> Result<User, UserError> {
    s.parse()
}

pub fn run(args: BuildArgs) -> CliResult {
    let start = Instant::now();
    if args.image.platforms.len() > 1 {
        if args.format == Format::Docker {
            return Err(bad_input(
                "a multi-platform image needs --format oci or oci-dir (a docker-archive holds one platform)",
            ));
        }
        if args.publish {
            return Err(bad_input(
                "--publish takes one platform (strata serve's registry serves single manifests)",
            ));
        }
    }
    let target = args
        .output
        .as_deref()
        .map(|out| open_target(out, args.format))
        .transpose()?;
    let cache = cache_dir(args.image.cache.as_deref(), args.publish)?;
    let store = FsStore::open(&cache)
        .with_context(|| format!("cache {}", cache.display()))
        .failure()?;
    let built = build_images(&args.image, args.input.as_deref(), &store)?;
    let image = match built {
        Built::Single(image) => image,
        Built::Multi(multi) => {
            if let Some(target) = target {
                write_multi_output(target, &multi, &store)?;
            }
            eprintln!("strata: {}", multi_summary(&multi, args.image.compression));
            if args.timings {
                eprintln!(
                    "timings: total {:.3}s peak {}",
                    start.elapsed().as_secs_f64(),
                    peak_memory()
                );
            }
            return Ok(());
        }
    };
    if let Some(target) = target {
        write_output(target, args.format, &image, &store)?;
    }
    let published = if args.publish {
        Some(
            publish(&store, &image)
                .with_context(|| format!("publishing into {}", cache.display()))
                .failure()?,
        )
    } else {
        None
    };
    eprintln!("strata: {}", single_summary(&image, args.image.compression));
    if let Some(published) = published {
        eprintln!(
            "strata: published {}:{} in {} (strata serve --data-dir serves it)",
            published.name,
            published.tag,
            cache.display()
        );
    }
    if args.timings {
        eprintln!(
            "timings: total {:.3}s peak {}",
            start.elapsed().as_secs_f64(),
            peak_memory()
        );
    }
    Ok(())
}

/// `hello:demo: 4 layers (0 from cache), 1.0 MiB gzip, manifest sha256:...`.
pub fn single_summary(image: &Image, compression: Compression) -> String {
    let cached = image.layers.iter().filter(|l| l.cached).count();
    let size: u64 = image.layers.iter().map(|l| l.blob.size).sum();
    format!(
        "{}:{}: {} layers ({} from cache), {} {}, manifest {}",
        image.name,
        image.tag,
        image.layers.len(),
        cached,
        human_bytes(size),
        compression,
        image.manifest_digest
    )
}

/// `hello:demo: 2 platforms (linux/amd64, linux/arm64/v8), 5 layers (4
/// shared), ..., index sha256:...`.
pub fn multi_summary(multi: &MultiImage, compression: Compression) -> String {
    let mut unique = std::collections::HashMap::new();
    let mut total = 0;
    let mut cached = 0;
    for (_, image) in &multi.images {
        for layer in &image.layers {
            total += 1;
            cached += usize::from(layer.cached);
            unique.insert(layer.blob.digest, layer.blob.size);
        }
    }
    let platforms: Vec<String> = multi.images.iter().map(|(p, _)| p.to_string()).collect();
    format!(
        "{}:{}: {} platforms ({}), {} layers stored once of {} ({} from cache), {} {}, index {}",
        multi.name,
        multi.tag,
        multi.images.len(),
        platforms.join(", "),
        unique.len(),
        total,
        cached,
        human_bytes(unique.values().sum()),
        compression,
        multi.index_digest
    )
}

/// What [`build_images`] made.
pub enum Built {
    /// One image (no --platform, or one).
    Single(Image),
    /// Several platforms' images and their index.
    Multi(MultiImage),
}

/// Builds the image of `input`, or of each `--platform`, into `store`.
pub fn build_images(args: &ImageArgs, input: Option<&Path>, store: &FsStore) -> CliResult<Built> {
    let options = build_options(args)?;
    let mut images = Vec::new();
    let inputs: Vec<(Option<&Platform>, &Path)> = match (input, args.platforms.as_slice()) {
        (Some(input), []) => vec![(None, input)],
        (None, []) => return Err(bad_input("no plan or closure given (nor --platform)")),
        (Some(_), _) => return Err(bad_input("give a plan or closure, or --platform, not both")),
        (None, platforms) => platforms
            .iter()
            .map(|(p, path)| (Some(p), path.as_path()))
            .collect(),
    };
    let platforms: Vec<&Platform> = inputs.iter().filter_map(|(p, _)| *p).collect();
    let roots = StoreRoots::new(&args.store_root, &platforms)?;
    // Every plan read and its paths found in its store root before any
    // image is built: a platform's missing path fails before the others'
    // layers are written.
    let mut prepared = Vec::with_capacity(inputs.len());
    for (platform, path) in inputs {
        let (plan, graph) = load_plan(path, &args.planning)?;
        let mut options = options.clone();
        options.nix.root = roots.root(platform).map(Path::to_path_buf);
        image::locate_plan(&plan, &options.nix)
            .map_err(|(index, source)| build_error(platform, BuildError::Path { index, source }))?;
        if args.nix_db {
            let graph = graph
                .as_ref()
                .ok_or(crate::image::nix_db::NixDbError::NoClosure);
            let time = created_unix(args.created.as_deref());
            let db = graph
                .and_then(|g| NixDb::new(g, &plan, time))
                .with_context(|| format!("--nix-db {}", path.display()))
                .bad_input()?;
            options.nix_db = Some(db);
        }
        if let Some(platform) = platform {
            options.config.architecture = Some(platform.architecture.clone());
            options.config.os = Some(platform.os.clone());
            options.config.variant = platform.variant.clone();
        }
        prepared.push((platform, plan, options));
    }
    for (platform, plan, options) in prepared {
        let progress = Bar::new(&plan, args.no_progress);
        let image = image::build(&plan, &options, store, &progress)
            .map_err(|e| build_error(platform, e))?;
        progress.bar.finish_and_clear();
        images.push((platform.cloned(), image));
    }
    if images.len() == 1 {
        let (_, image) = images.pop().expect("one image");
        return Ok(Built::Single(image));
    }
    let name = match &args.name {
        Some(name) => name.to_string(),
        None => images[0].1.name.clone(),
    };
    let images = images
        .into_iter()
        .map(|(p, image)| (p.expect("several images come from --platform"), image))
        .collect();
    Ok(Built::Multi(MultiImage::new(
        name,
        args.tag.as_ref().map(ToString::to_string),
        images,
    )))
}

/// A failed build, said to be `--platform`'s; the plan or the store at
/// fault (a missing path, a narHash that differs, a file tar cannot hold)
/// is the user's input.
fn build_error(platform: Option<&Platform>, e: BuildError) -> CliError {
    let bad = e.is_bad_input();
    let e = match platform {
        Some(p) => anyhow::Error::new(e).context(format!("--platform {p}")),
        None => anyhow::Error::new(e),
    };
    if bad {
        CliError::BadInput(e)
    } else {
        CliError::Failure(e)
    }
}

/// The input as a plan: read as one, or planned from a closure (then
/// returned too).
fn load_plan(input: &Path, planning: &PlanningArgs) -> CliResult<(Plan, Option<Graph>)> {
    let loaded = load_plan_or_closure(input, &planning.store_dir)?;
    match loaded {
        PlanOrClosure::Plan(plan) => Ok((plan, None)),
        PlanOrClosure::Closure(graph) => {
            let options = plan_options_for(planning, &graph)?;
            let plan = plan_closure_with(&graph, &options, &Threads).bad_input()?;
            Ok((plan, Some(graph)))
        }
    }
}

fn build_options(args: &ImageArgs) -> CliResult<BuildOptions> {
    let base = match &args.config {
        Some(path) => {
            let text = read_json("--config", path)?;
            Some(
                parse_config(&text)
                    .map_err(|e| bad_input(format!("--config {}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    for entry in args.env.iter().chain(&args.label) {
        if !entry.contains('=') {
            return Err(bad_input(format!("{entry:?} is not KEY=VALUE")));
        }
    }
    if let Some(extra) = &args.extra {
        if !extra.is_dir() {
            return Err(bad_input(format!(
                "--extra {}: not a directory",
                extra.display()
            )));
        }
    }
    let perms = match &args.perms {
        Some(path) => {
            let text = read_json("--perms", path)?;
            Perms::parse(&text)
                .map_err(|e| bad_input(format!("--perms {}: {e}", path.display())))?
        }
        None => Perms::default(),
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    Ok(BuildOptions {
        nix: NixStore {
            store_dir: args.planning.store_dir.clone(),
            // Set per platform by build_images.
            root: None,
        },
        compression: args.compression,
        threads,
        customisation: Customisation {
            links: args.links,
            extra: args.extra.clone(),
            users: args.create_user.clone(),
        },
        nix_db: None,
        perms: std::sync::Arc::new(perms),
        config: ConfigOptions {
            architecture: args.arch.clone(),
            os: None,
            variant: None,
            created: args.created.clone(),
            base,
            cmd: arguments("--cmd", &args.cmd)?,
            entrypoint: arguments("--entrypoint", &args.entrypoint)?,
            env: args.env.clone(),
            working_dir: args.workdir.clone(),
            user: args.user.clone(),
            exposed_ports: args.port.clone(),
            labels: key_values(&args.label),
        },
        name: args.name.as_ref().map(ToString::to_string),
        tag: args.tag.as_ref().map(ToString::to_string),
    })
}

/// `--cmd a --cmd b`, or `--cmd '["a", "b"]'`.
fn arguments(flag: &str, values: &[String]) -> CliResult<Option<Vec<String>>> {
    match values {
        [] => Ok(None),
        [one] if one.trim_start().starts_with('[') => {
            Ok(Some(serde_json::from_str(one).map_err(|e| {
                bad_input(format!("{flag}: not a JSON array of strings: {e}"))
            })?))
        }
        many => Ok(Some(many.to_vec())),
    }
}

/// The store layers are cached in: `--cache`; with `--publish` and no
/// `--cache`, the data directory `strata serve` serves by default, so a
/// published image is where a plain `strata serve` looks; else
/// `$STRATA_CACHE`, `$XDG_CACHE_HOME/strata/store`, `~/.cache/strata/store`.
pub fn cache_dir(given: Option<&Path>, publish: bool) -> CliResult<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    if publish {
        return default_data_dir(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
            .ok_or_else(|| bad_input("--publish without --cache needs XDG_DATA_HOME or HOME"));
    }
    if let Some(dir) = std::env::var_os("STRATA_CACHE") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("strata/store"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".cache/strata/store")),
        None => Err(bad_input("no --cache given and no HOME")),
    }
}

/// Where the image goes; opened before any work, so a bad output path
/// fails first.
enum Target<'a> {
    /// An OCI layout directory (`--format oci-dir`).
    Dir(&'a Path),
    /// An archive: a file, or stdout.
    Archive(Output),
}

fn open_target(out: &Path, format: Format) -> CliResult<Target<'_>> {
    if format == Format::OciDir {
        if out.as_os_str() == "-" {
            return Err(bad_input("--format oci-dir needs a directory, not -"));
        }
        return Ok(Target::Dir(out));
    }
    if out.is_dir() {
        return Err(bad_input(format!(
            "{} is a directory (use --format oci-dir to write a layout there)",
            out.display()
        )));
    }
    Ok(Target::Archive(Output::create(Some(out))?))
}

fn write_output(target: Target<'_>, format: Format, image: &Image, store: &FsStore) -> CliResult {
    write_target(
        target,
        |dir| oci::write_dir(image, store, dir),
        |writer| match format {
            Format::Docker => docker::write(image, store, writer).map(drop),
            Format::Oci | Format::OciDir => oci::write_archive(image, store, writer).map(drop),
        },
    )
}

fn write_multi_output(target: Target<'_>, multi: &MultiImage, store: &FsStore) -> CliResult {
    write_target(
        target,
        |dir| oci::write_multi_dir(multi, store, dir),
        |writer| oci::write_multi_archive(multi, store, writer).map(drop),
    )
}

/// Writes a layout directory (removed again if it did not exist and the
/// write failed) or an archive (committed only when whole).
fn write_target(
    target: Target<'_>,
    write_dir: impl FnOnce(&Path) -> Result<(), ArchiveError>,
    write_archive: impl FnOnce(&mut BufWriter<fs::File>) -> Result<(), ArchiveError>,
) -> CliResult {
    let output = match target {
        Target::Dir(dir) => {
            let existed = dir.exists();
            let result = write_dir(dir);
            if result.is_err() && !existed {
                let _ = fs::remove_dir_all(dir);
            }
            return result
                .with_context(|| format!("writing {}", dir.display()))
                .failure();
        }
        Target::Archive(output) => output,
    };
    let mut output = output;
    let name = output.name();
    // Into the output's `File` (not `Output`): std's `io::copy` then moves
    // each blob from the store in the kernel.
    let file = output.try_clone_file().context(name.clone()).failure()?;
    let mut writer = BufWriter::with_capacity(WRITE_SIZE, file);
    write_archive(&mut writer).context(name.clone()).failure()?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .context(name)
        .failure()?;
    output.commit()
}

/// The progress bar: bytes tarred and layers done, on a terminal only.
struct Bar {
    bar: ProgressBar,
    done: AtomicUsize,
    layers: usize,
}

impl Bar {
    fn new(plan: &Plan, off: bool) -> Self {
        let on = !off && io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = if on {
            ProgressBar::with_draw_target(Some(plan.size), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .expect("the template is valid"),
        );
        let layers = plan.layers.len();
        bar.set_message(format!("layer 0/{layers}"));
        Bar {
            bar,
            done: AtomicUsize::new(0),
            layers,
        }
    }
}

impl Progress for Bar {
    fn bytes(&self, n: u64) {
        self.bar.inc(n);
    }

    fn layer_done(&self, _cached: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar
            .set_message(format!("layer {done}/{}", self.layers));
    }
}
