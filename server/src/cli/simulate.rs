//! `strata simulate`: plans of a fleet at several revisions → pulled bytes.
//!
//! Each argument is one revision (oldest first): a directory with one file
//! per image, named `<image>.json` or `<image>.plan.json` (the image is the
//! same image at every revision when the file name is the same). A file is
//! a plan (a full plan, `{"layers": [...]}`, or a list of lists of paths,
//! as pullsim.py writes), or a closure, planned here with the planning
//! flags and, as its `--previous`, the same image's plan at the revision
//! before: what a CI job that keeps its last plan does, and what pullsim.py
//! gives its planners.

use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use strata_planner::{
    human_bytes, read_layers, simulate, Figure, Figures, Graph, History, ImagePlan, Layer, Plan,
    PlanOptions, Revision, RevisionPlanner,
};

use super::error::{bad_input, Classify as _, CliResult};
use super::input::{
    json_shape, parse_closure_text, plan_options, read_json, JsonShape, PlanningArgs,
};
use super::output::Output;

/// The figures and examples for `strata simulate --help`.
pub const HELP: &str = "\
Each REVISION is a directory with one file per image (<image>.json or
<image>.plan.json); give them oldest first. A file is a plan, or a closure
that is planned here with the planning options (-a, -b, ...) and, for
stability, the same image's plan at the revision before (not with --alone);
with --fleet-aware also the latest plan of every image planned so far, as
--fleet gives them to strata plan. Figures (lower is better, 1.000 is the
bound of one layer per store path):
  fleet   a node pulls every image of a revision (summed over revisions)
  update  a node holding revision r-1 of every image pulls revision r
  image   each image alone updated from r-1 to r

Examples:
  strata simulate closures0 closures1 -a fleet -b 20     closures, planned here
  strata simulate closures0 closures1 -a fleet -b 20 --fleet-aware
  for r in 0 1; do mkdir -p rev$r; for c in closures$r/*.json; do
    strata plan $c -o rev$r/$(basename $c); done; done
  strata simulate rev0 rev1                              plans made before";

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Revision directories of plans or closures, oldest first.
    #[arg(required = true, value_name = "REVISION")]
    revisions: Vec<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
    /// Write the figures here (atomically) instead of stdout.
    #[arg(short, long, visible_alias = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Plan each closure alone, without its image's plan of the revision
    /// before (a CI job that keeps no plan).
    #[arg(long)]
    alone: bool,
    /// Plan each closure knowing the fleet, as a registry or a CI job
    /// building the whole fleet does (`strata plan --fleet`): with the
    /// latest plan of every image planned so far (images in name order).
    #[arg(long, conflicts_with = "alone")]
    fleet_aware: bool,
    /// How closures are planned (plans are taken as they are).
    #[command(flatten)]
    planning: PlanningArgs,
}

pub fn run(args: SimulateArgs) -> CliResult {
    if args.planning.previous.is_some() {
        return Err(bad_input(
            "simulate gives each closure the same image's plan at the revision before; \
             --previous is not used here",
        ));
    }
    if args.planning.fleet.is_some() {
        return Err(bad_input(
            "simulate knows the fleet from its own plans with --fleet-aware; \
             --fleet DIR is not used here",
        ));
    }
    let history = match (args.alone, args.fleet_aware) {
        (true, _) => History::Alone,
        (_, true) => History::Fleet,
        _ => History::Previous,
    };
    let mut planner = Planner::new(&args.planning, history);
    let revisions = args
        .revisions
        .iter()
        .map(|dir| load_revision(dir, &mut planner))
        .collect::<CliResult<Vec<_>>>()?;
    if planner.planned() > 0 && io::stderr().is_terminal() {
        let options = planner.options.as_ref().expect("options were made");
        eprintln!(
            "strata: planned {} closures with {}, budget {}",
            planner.planned(),
            options.algorithm,
            options.budget
        );
    }
    let figures = simulate(&revisions).bad_input()?;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&figures).failure()?;
        json.push('\n');
        json
    } else {
        table(&figures)
    };
    Output::create(args.output.as_deref())?.write_all_and_commit(text.as_bytes())
}

/// Plans the closures of the revisions, each image with its own previous
/// layers (the planner's [`RevisionPlanner`], as the web UI does).
struct Planner<'a> {
    args: &'a PlanningArgs,
    /// Made at the first closure, so plans alone need no valid planning
    /// flags (e.g. `-a pipeline` without `--pipeline`).
    options: Option<PlanOptions>,
    /// Each image's layers at the latest revision read.
    revisions: RevisionPlanner,
}

impl<'a> Planner<'a> {
    fn new(args: &'a PlanningArgs, history: History) -> Self {
        Planner {
            args,
            options: None,
            revisions: RevisionPlanner::new(history),
        }
    }

    /// Closures planned so far.
    fn planned(&self) -> usize {
        self.revisions.planned()
    }

    /// The layers of one image's file: read from a plan, or planned from a
    /// closure.
    fn layers(&mut self, image: &str, path: &Path) -> CliResult<Vec<Layer>> {
        let mut text = read_json("plan or closure", path)?;
        if is_layers(&text) {
            let layers = read_layers(&text)
                .with_context(|| format!("plan {}", path.display()))
                .bad_input()?;
            self.revisions.record(image, layers.clone());
            return Ok(layers);
        }
        let graph = parse_closure_text(&mut text, &self.args.store_dir)
            .with_context(|| format!("closure {}", path.display()))
            .bad_input()?;
        drop(text);
        Ok(self
            .plan(image, &graph)
            .map_err(|e| e.context(format!("planning closure {}", path.display())))?
            .layers)
    }

    /// Plans one image's closure, with its layers at the revision before
    /// (if any) as `previous`.
    fn plan(&mut self, image: &str, graph: &Graph) -> CliResult<Plan> {
        if self.options.is_none() {
            self.options = Some(plan_options(self.args)?);
        }
        let options = self.options.as_ref().expect("options were just made");
        self.revisions.plan(image, graph, options).bad_input()
    }
}

/// Whether a file holds layers (a plan in any shape `read_layers` takes)
/// rather than a closure.
fn is_layers(text: &str) -> bool {
    json_shape(text) != JsonShape::Other
}

/// Reads every plan or closure of a revision directory, sorted by image
/// name; closures are planned by `planner`.
fn load_revision(dir: &Path, planner: &mut Planner<'_>) -> CliResult<Revision> {
    let entries = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))
        .bad_input()?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))
            .failure()?
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
        return Err(bad_input(format!(
            "{}: no plan or closure files (*.json)",
            dir.display()
        )));
    }
    files.sort();
    let images = files
        .into_iter()
        .map(|(image, path)| {
            let layers = planner.layers(&image, &path)?;
            Ok(ImagePlan { image, layers })
        })
        .collect::<CliResult<Vec<_>>>()?;
    Ok(Revision { images })
}

/// The figures as a table for people.
fn table(f: &Figures) -> String {
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        planning: PlanningArgs,
    }

    const A: &str = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-hello-2.12";
    const B: &str = "/nix/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-glibc-2.39";

    #[test]
    fn an_image_is_planned_with_its_own_layers_of_the_revision_before() {
        let flags = Flags::parse_from(["simulate", "-b", "2"]);
        let text = serde_json::json!([
            {"path": A, "narSize": 10, "references": [B]},
            {"path": B, "narSize": 20, "references": []},
        ])
        .to_string();
        let graph = strata_planner::parse_closure(&text, "/nix/store").unwrap();
        let mut planner = Planner::new(&flags.planning, History::Previous);
        assert!(!planner.plan("hello", &graph).unwrap().algorithm.previous);
        assert!(planner.plan("hello", &graph).unwrap().algorithm.previous);
        assert!(!planner.plan("other", &graph).unwrap().algorithm.previous);
        assert_eq!(planner.planned(), 3);

        let mut aware = Planner::new(&flags.planning, History::Fleet);
        assert_eq!(
            aware.plan("hello", &graph).unwrap().algorithm.fleet,
            Some(0)
        );
        assert_eq!(
            aware.plan("other", &graph).unwrap().algorithm.fleet,
            Some(1)
        );
    }

    #[test]
    fn plans_in_every_shape_are_told_from_closures() {
        for plan in [
            r#"{"version": 1, "layers": [], "size": 0}"#,
            r#"{"layers": [{"paths": []}]}"#,
            r#" [["/nix/store/x"]]"#,
            "[]",
        ] {
            assert!(is_layers(plan), "{plan}");
        }
        for closure in [
            r#"[{"path": "/nix/store/x", "narSize": 1}]"#,
            r#"{"graph": []}"#,
            r#"{"exportReferencesGraph": {"graph": []}, "graph": []}"#,
            r#"{"/nix/store/x": {"narSize": 1}}"#,
            "not json",
        ] {
            assert!(!is_layers(closure), "{closure}");
        }
    }
}
