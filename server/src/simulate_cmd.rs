//! `strata simulate`: plans of a fleet at several revisions → pulled bytes.
//!
//! Each argument is one revision (oldest first): a directory of plan files,
//! one per image, named `<image>.json` or `<image>.plan.json` (the image is
//! the same image at every revision when the file name is the same).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use strata_planner::{read_layers, simulate, Figure, Figures, ImagePlan, Revision};

use crate::cli::{human_bytes, UsageError};
use crate::files::read_input;

/// Extra help for `strata simulate`.
pub const HELP: &str = "\
Each REVISION is a directory of plans, one file per image (<image>.json or
<image>.plan.json); give them oldest first. Figures (lower is better, 1.000
is the bound of one layer per store path):
  fleet   a node pulls every image of a revision (summed over revisions)
  update  a node holding revision r-1 of every image pulls revision r
  image   each image alone updated from r-1 to r

Example:
  for r in 0 1; do mkdir -p rev$r; for c in closures$r/*.json; do
    strata plan $c -o rev$r/$(basename $c); done; done
  strata simulate rev0 rev1";

/// Arguments of `strata simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Revision directories of plans, oldest first.
    #[arg(required = true, value_name = "REVISION")]
    revisions: Vec<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `strata simulate`.
pub fn run(args: SimulateArgs) -> Result<()> {
    let revisions = args
        .revisions
        .iter()
        .map(|dir| load_revision(dir))
        .collect::<Result<Vec<_>>>()?;
    let figures = simulate(&revisions)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print!("{}", table(&figures));
    }
    Ok(())
}

/// Reads every plan of a revision directory, sorted by image name.
pub fn load_revision(dir: &Path) -> Result<Revision> {
    let entries = fs::read_dir(dir).map_err(|source| crate::files::ReadError {
        path: dir.display().to_string(),
        source,
    })?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(stem) = name.strip_suffix(".json") {
            let image = stem.strip_suffix(".plan").unwrap_or(stem).to_string();
            files.push((image, path));
        }
    }
    if files.is_empty() {
        return Err(UsageError(format!("{}: no plan files (*.json)", dir.display())).into());
    }
    files.sort();
    let images = files
        .into_iter()
        .map(|(image, path)| {
            let text = read_input(&path)?;
            let layers = read_layers(&text).with_context(|| format!("plan {}", path.display()))?;
            Ok(ImagePlan { image, layers })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Revision { images })
}

/// The figures as a table for people.
pub fn table(f: &Figures) -> String {
    let row = |name: &str, fig: &Figure| {
        let ratio = fig.ratio.map_or("-".to_string(), |r| format!("{r:.3}"));
        format!(
            "{name:<8}{ratio:>8}{:>12}{:>12}\n",
            human_bytes(fig.bytes),
            human_bytes(fig.bound)
        )
    };
    let mut out = format!(
        "{} revisions, {} images, at most {} layers\n{:<8}{:>8}{:>12}{:>12}\n",
        f.revisions, f.images, f.max_layers, "figure", "ratio", "pulled", "bound"
    );
    out += &row("fleet", &f.fleet);
    out += &row("update", &f.update);
    out += &row("image", &f.image);
    out
}
