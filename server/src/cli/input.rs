//! What the user gives the subcommands: the planning flags shared by
//! `plan`, `build` and `simulate`, and the input files (closures, plans,
//! popularity, pipelines). Everything read here that is unusable is a
//! [`BadInput`](super::error::CliError::BadInput), decided here.
//!
//! Files are checked for the two mistakes a JSON parser words worst
//! before the planner sees them: an empty file, and one that is not JSON
//! at all (an HTML error page, a Nix expression, a store path).

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use clap::Args;
use strata_planner::{
    check_popularity, parse_closure_owned_with, parse_closure_with, parse_popularity,
    parse_popularity_for, read_layers, Algorithm, Graph, InputError, Layer, Plan, PlanOptions,
    DEFAULT_STORE_DIR,
};

use super::error::{bad_input, Classify as _, CliResult};
use crate::text_file::Text;
use crate::threads::Threads;

/// The algorithm used when `--algorithm` is not given (and no
/// `--pipeline` implies `pipeline`): the one place it is decided.
pub const DEFAULT_ALGORITHM: Algorithm = Algorithm::Fleet;

/// How a closure is planned: shared by `plan`, `build` and `simulate`.
#[derive(Debug, Args, Clone)]
pub struct PlanningArgs {
    // `None` when not given: `PlanningArgs::algorithm` resolves it, so a
    // `--pipeline` alone means `pipeline` rather than the default. The help
    // text is `algorithm_help`'s, which names the default.
    /// Layering algorithm.
    #[arg(short, long, value_parser = parse_algorithm, help = algorithm_help())]
    pub algorithm: Option<Algorithm>,
    /// Most layers for store paths (dockerTools' maxLayers less the image's own layer).
    #[arg(short, long, default_value_t = 99)]
    pub budget: usize,
    /// Nixery-style popularity file: {"name-version": count}.
    #[arg(long, value_name = "FILE")]
    pub popularity: Option<PathBuf>,
    /// nixpkgs layeringPipeline: a JSON file, or the JSON itself.
    #[arg(long, value_name = "FILE|JSON")]
    pub pipeline: Option<String>,
    /// Give this store path a layer of its own (repeatable, or comma-separated).
    #[arg(long, value_name = "PATH", value_delimiter = ',')]
    pub pin: Vec<String>,
    /// Leave this store path out of the image (repeatable, or comma-separated).
    #[arg(long, value_name = "PATH", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Reuse the layers of this plan first, as dockerTools' fromImage.
    #[arg(long, value_name = "PLAN")]
    pub base: Option<PathBuf>,
    /// This image's plan at its previous revision, for stable layers.
    #[arg(long, value_name = "PLAN")]
    pub previous: Option<PathBuf>,
    /// The latest plans of the fleet's images (`*.json` in DIR: plans, or
    /// {"layers": [{"paths": [...]}]}): the fleet algorithm plans knowing
    /// them, reusing their layers (an empty DIR is a new fleet).
    #[arg(long, value_name = "DIR")]
    pub fleet: Option<PathBuf>,
    /// The Nix store directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STORE_DIR, value_parser = parse_store_dir)]
    pub store_dir: String,
}

impl PlanningArgs {
    /// The algorithm to run: the one given; else `pipeline` when a
    /// `--pipeline` is given; else [`DEFAULT_ALGORITHM`]. A pipeline with
    /// another algorithm is a usage error rather than a silently unused
    /// flag.
    fn algorithm(&self) -> CliResult<Algorithm> {
        match (self.algorithm, &self.pipeline) {
            (Some(algorithm), None) => Ok(algorithm),
            (None, None) => Ok(DEFAULT_ALGORITHM),
            (None | Some(Algorithm::Pipeline), Some(_)) => Ok(Algorithm::Pipeline),
            (Some(other), Some(_)) => Err(bad_input(format!(
                "--pipeline is only used by --algorithm pipeline, not --algorithm {other} \
                 (leave out --algorithm, or the pipeline)"
            ))),
        }
    }
}

/// `--algorithm`'s help, naming the default from [`DEFAULT_ALGORITHM`].
fn algorithm_help() -> String {
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    format!(
        "Layering algorithm: {} [default: {DEFAULT_ALGORITHM}, or pipeline when --pipeline is given]",
        names.join(", ")
    )
}

fn parse_algorithm(s: &str) -> Result<Algorithm, String> {
    s.parse()
}

/// `--store-dir`: trailing slashes are dropped (`/nix/store/` is
/// `/nix/store`, as the planner wants it), but `/` stays `/`. Whether the
/// result is usable is the planner's to say.
pub fn parse_store_dir(s: &str) -> Result<String, String> {
    let trimmed = s.trim_end_matches('/');
    Ok(if trimmed.is_empty() && !s.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    })
}

/// Turns the planning arguments into planner options (reading the files).
pub fn plan_options(args: &PlanningArgs) -> CliResult<PlanOptions> {
    options_for(args, None)
}

/// [`plan_options`] for planning `graph` alone: of `--popularity`, only
/// the counts of its paths' names are kept (and made).
pub fn plan_options_for(args: &PlanningArgs, graph: &Graph) -> CliResult<PlanOptions> {
    options_for(args, Some(graph))
}

fn options_for(args: &PlanningArgs, graph: Option<&Graph>) -> CliResult<PlanOptions> {
    let mut options = PlanOptions::new(args.algorithm()?, args.budget);
    if let Some(path) = &args.popularity {
        let text = read_json("--popularity", path)?;
        let counts = match graph {
            // Checked, not kept: the plan is the same without it.
            Some(_) if !options.algorithm.uses_popularity() => {
                check_popularity(&text).map(|()| None)
            }
            Some(graph) => parse_popularity_for(&text, graph).map(Some),
            None => parse_popularity(&text).map(Some),
        };
        options.popularity = counts
            .with_context(|| format!("--popularity {}", path.display()))
            .bad_input()?;
    }
    if let Some(pipeline) = &args.pipeline {
        let text = if pipeline.trim_start().starts_with('[') {
            Text::from(pipeline.clone())
        } else {
            read_json("--pipeline", Path::new(pipeline))?
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            bad_input(format!(
                "--pipeline: malformed JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        options.pipeline = Some(value);
    } else if options.algorithm == Algorithm::Pipeline {
        return Err(bad_input("--algorithm pipeline needs --pipeline FILE|JSON"));
    }
    options.pins = args.pin.clone();
    options.excludes = args.exclude.clone();
    for (option, path, slot) in [
        ("--base", &args.base, &mut options.base),
        ("--previous", &args.previous, &mut options.previous),
    ] {
        if let Some(path) = path {
            let text = read_json(option, path)?;
            *slot = Some(
                read_layers(&text)
                    .with_context(|| format!("{option} {}", path.display()))
                    .bad_input()?,
            );
        }
    }
    if let Some(dir) = &args.fleet {
        options.fleet = Some(read_fleet_dir(dir, &args.store_dir)?);
    }
    Ok(options)
}

/// Reads `--fleet DIR`: every `*.json` file in it (other names, and
/// hidden files, are not plans and are skipped), in name order. A file
/// that is not a plan, or a plan of another store directory, is an
/// error naming the file: planning against half a fleet would quietly
/// give worse layers.
pub fn read_fleet_dir(dir: &Path, store_dir: &str) -> CliResult<Vec<Vec<Layer>>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("--fleet {}", dir.display()))
        .bad_input()?;
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry
            .with_context(|| format!("--fleet {}", dir.display()))
            .bad_input()?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") && !name.starts_with('.') {
            files.push(entry.path());
        }
    }
    files.sort();
    files
        .iter()
        .map(|file| {
            let text = read_json("--fleet", file)?;
            let layers = read_layers(&text)
                .with_context(|| format!("--fleet {}", file.display()))
                .bad_input()?;
            if let Some(path) = layers
                .iter()
                .flat_map(|l| &l.paths)
                .find(|p| p.store_dir() != store_dir)
            {
                return Err(bad_input(format!(
                    "--fleet {}: {path} is not in the store {store_dir} (a plan of another store?)",
                    file.display()
                )));
            }
            Ok(layers)
        })
        .collect()
}

/// An input file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
struct ReadError {
    path: String,
    #[source]
    source: io::Error,
}

/// Reads a whole input as text; `-` is stdin.
pub fn read_input(path: &Path) -> CliResult<Text> {
    let wrap = |source| ReadError {
        path: path.display().to_string(),
        source,
    };
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map(|_| Text::from(text))
    } else {
        crate::text_file::read_text(path, &Threads)
    };
    text.map_err(wrap).bad_input()
}

/// Reads a JSON input (`what` names it in errors: `closure`, `--base`),
/// refusing an empty file or one that is not JSON at all.
pub fn read_json(what: &str, path: &Path) -> CliResult<Text> {
    let text = read_input(path)?;
    not_json(&text, path.as_os_str() == "-")
        .map_or(Ok(text), |why| {
            Err(anyhow!(why).context(format!("{what} {}", path.display())))
        })
        .bad_input()
}

/// Why `text` cannot be JSON, if it obviously cannot: it is empty, or its
/// first non-space character starts no JSON value. Only the first bytes
/// are looked at, unless the text is refused.
fn not_json(text: &Text, stdin: bool) -> Option<String> {
    let first = text.as_bytes().iter().find(|b| !b.is_ascii_whitespace());
    if matches!(
        first,
        Some(b'{' | b'[' | b'"' | b'-' | b't' | b'f' | b'n' | b'0'..=b'9')
    ) {
        return None;
    }
    let text = text.as_str();
    let start = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if start.is_empty() {
        return Some(
            if stdin {
                "stdin is empty"
            } else {
                "the file is empty"
            }
            .to_string(),
        );
    }
    let before = &text[..text.len() - start.len()];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let shown: String = start.chars().take_while(|&c| c != '\n').take(20).collect();
    let what = if stdin { "the input" } else { "the file" };
    Some(format!(
        "{what} is not JSON (it starts with {shown:?} at line {line}, column {column})"
    ))
}

/// A closure read by [`read_json`], parsed where it lies (a large text
/// in two halves at once).
pub fn parse_closure_text(text: &mut Text, store_dir: &str) -> Result<Graph, InputError> {
    match text.as_mut_string() {
        Some(owned) => parse_closure_owned_with(owned, store_dir, &Threads),
        None => parse_closure_with(text, store_dir, &Threads),
    }
}

/// Reads and validates a closure file.
pub fn load_closure(path: &Path, store_dir: &str) -> CliResult<Graph> {
    let mut text = read_json("closure", path)?;
    parse_closure_text(&mut text, store_dir)
        .with_context(|| format!("closure {}", path.display()))
        .bad_input()
}

/// What `build` takes: a plan as it is, or a closure to plan.
#[derive(Debug)]
pub enum PlanOrClosure {
    Plan(Plan),
    Closure(Graph),
}

/// Reads a plan or a closure file, telling them apart by [`json_shape`].
pub fn load_plan_or_closure(path: &Path, store_dir: &str) -> CliResult<PlanOrClosure> {
    let mut text = read_json("plan or closure", path)?;
    let name = path.display();
    if json_shape(&text) == JsonShape::Plan {
        let plan = Plan::from_json(&text)
            .with_context(|| format!("plan {name}"))
            .bad_input()?;
        return Ok(PlanOrClosure::Plan(plan));
    }
    let graph = parse_closure_text(&mut text, store_dir)
        .with_context(|| format!("closure {name}"))
        .bad_input()?;
    Ok(PlanOrClosure::Closure(graph))
}

/// What a JSON file holds, as far as telling plans from closures goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    /// A full plan: an object with `version` and `layers`.
    Plan,
    /// Layers alone, in a shape `read_layers` takes: `{"layers": [...]}`
    /// or a list of lists of paths (as pullsim.py writes).
    Layers,
    /// Anything else, e.g. a closure (no closure shape has `layers`, and
    /// closure lists hold objects).
    Other,
}

/// The [`JsonShape`] of a text. Only the top-level `version` and `layers`
/// keys are looked at (the rest is skipped, not built), so telling a large
/// closure apart costs one scan of its bytes.
pub fn json_shape(text: &str) -> JsonShape {
    #[derive(serde::Deserialize)]
    struct Probe {
        version: Option<serde::de::IgnoredAny>,
        layers: Option<serde::de::IgnoredAny>,
    }
    let text = text.trim_start();
    if let Some(list) = text.strip_prefix('[') {
        return match list.trim_start().as_bytes().first() {
            Some(b'[' | b']') => JsonShape::Layers,
            _ => JsonShape::Other,
        };
    }
    // A list would fill the fields by position: only objects are probed.
    if !text.starts_with('{') {
        return JsonShape::Other;
    }
    match serde_json::from_str::<Probe>(text) {
        Ok(p) if p.layers.is_some() => {
            if p.version.is_some() {
                JsonShape::Plan
            } else {
                JsonShape::Layers
            }
        }
        _ => JsonShape::Other,
    }
}

/// The data directory when `--data-dir` is not given: `$XDG_DATA_HOME/strata`
/// (an absolute one only, as the XDG spec says), else
/// `$HOME/.local/share/strata`.
pub fn default_data_dir(
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = xdg_data_home.map(PathBuf::from).filter(|d| d.is_absolute()) {
        return Some(dir.join("strata"));
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/strata"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_dir_reads_json_plans_and_names_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = "/nix/store/00000000000000000000000000000000-a-1.0";
        std::fs::write(
            dir.path().join("a.json"),
            format!(r#"{{"layers": [{{"paths": ["{path}"]}}]}}"#),
        )
        .unwrap();
        std::fs::write(dir.path().join("b.json"), format!(r#"[["{path}"]]"#)).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a plan").unwrap();
        std::fs::write(dir.path().join(".c.json.tmp"), "").unwrap();
        let fleet = read_fleet_dir(dir.path(), "/nix/store").unwrap();
        assert_eq!(fleet.len(), 2);
        assert_eq!(fleet[0][0].paths[0].as_str(), path);
        let message = |dir: &Path| {
            let error = read_fleet_dir(dir, "/nix/store").unwrap_err();
            assert_eq!(error.exit_code(), 2);
            format!("{:#}", error.error())
        };
        std::fs::write(dir.path().join("c.json"), r#"{"layers": 3}"#).unwrap();
        assert!(
            message(dir.path()).contains("c.json"),
            "{}",
            message(dir.path())
        );
        std::fs::write(
            dir.path().join("c.json"),
            r#"[["/gnu/store/00000000000000000000000000000000-a-1.0"]]"#,
        )
        .unwrap();
        let foreign = message(dir.path());
        assert!(
            foreign.contains("c.json") && foreign.contains("not in the store /nix/store"),
            "{foreign}"
        );
        assert!(message(&dir.path().join("missing")).contains("missing"));
    }

    #[test]
    fn empty_and_non_json_texts_are_named_before_parsing() {
        let not_json = |text: &str, stdin| super::not_json(&Text::from(text.to_string()), stdin);
        assert_eq!(not_json("", false).unwrap(), "the file is empty");
        assert_eq!(not_json(" \n\t\r\n", false).unwrap(), "the file is empty");
        assert_eq!(not_json("", true).unwrap(), "stdin is empty");
        assert_eq!(
            not_json("\n  <html><body>Not Found</body></html>\n", false).unwrap(),
            "the file is not JSON (it starts with \"<html><body>Not Foun\" at line 2, column 3)"
        );
        assert_eq!(
            not_json("/nix/store/x-hello", false).unwrap(),
            "the file is not JSON (it starts with \"/nix/store/x-hello\" at line 1, column 1)"
        );
        for json in ["{}", " [1]", "\"s\"", "-1", "12", "true", "false", "null"] {
            assert_eq!(not_json(json, false), None, "{json}");
        }
    }
}
