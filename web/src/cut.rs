//! The cut by hand: paths pinned to a layer of their own or left out, a
//! base plan, a previous plan and a `layeringPipeline`, on top of the
//! chosen algorithm. One function makes the shown plan from them, the
//! same `plan_closure` call `strata plan` makes with the same flags, so
//! the page's "Download this plan" is that command's output byte for byte
//! ([`cli_line`] writes the command). Pure, so it is tested natively (and
//! can move into a Web Worker with its inputs as they are).

use serde::{Deserialize, Serialize};
use strata_planner::{
    plan_closure, read_layers, simulate, Algorithm, Figure, FleetPlans, History, ImageClosure,
    ImagePlan, Layer, Plan, PlanOptions, Popularity, Revision,
};

use crate::fleet::{Fleet, Planner};

/// A plan file the user gave for `--base` or `--previous`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Its name, for people and the command line.
    pub file: String,
    /// Its layers.
    pub layers: Vec<Layer>,
}

impl PlanFile {
    /// Reads a plan (or bare layers) file; the error names the file.
    pub fn read(file: &str, text: &str) -> Result<PlanFile, String> {
        let layers = read_layers(text).map_err(|e| format!("{file}: {e}"))?;
        Ok(PlanFile {
            file: file.to_string(),
            layers,
        })
    }
}

/// What the user changed by hand. Pins and excludes are kept sorted, as
/// the planner reports them, so the same cut has one address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HandCut {
    /// Paths with a layer of their own (`--pin`).
    pub pins: Vec<String>,
    /// Paths left out of the image (`--exclude`).
    pub excludes: Vec<String>,
    /// The pipeline editor's text; blank means no pipeline.
    pub pipeline: String,
    /// `--base`.
    pub base: Option<PlanFile>,
    /// `--previous`, which replaces the plan of the revision before.
    pub previous: Option<PlanFile>,
}

impl HandCut {
    /// The plan file of `flag`: `base` (`--base`), else `previous`.
    pub fn plan_file(&self, flag: &str) -> Option<&PlanFile> {
        match flag {
            "base" => self.base.as_ref(),
            _ => self.previous.as_ref(),
        }
    }

    /// Sets (or, with `None`, clears) the plan file of `flag`.
    pub fn set_plan_file(&mut self, flag: &str, file: Option<PlanFile>) {
        match flag {
            "base" => self.base = file,
            _ => self.previous = file,
        }
    }
}

fn insert(list: &mut Vec<String>, path: &str) {
    if let Err(at) = list.binary_search_by(|p| p.as_str().cmp(path)) {
        list.insert(at, path.to_string());
    }
}

impl HandCut {
    /// Gives `path` a layer of its own (and takes it out of the excludes).
    pub fn pin(&mut self, path: &str) {
        self.release(path);
        insert(&mut self.pins, path);
    }

    /// Leaves `path` out of the image (and unpins it).
    pub fn exclude(&mut self, path: &str) {
        self.release(path);
        insert(&mut self.excludes, path);
    }

    /// Neither pinned nor excluded any more.
    pub fn release(&mut self, path: &str) {
        self.pins.retain(|p| p != path);
        self.excludes.retain(|p| p != path);
    }

    /// The pipeline, if the editor holds one; the error is worded as
    /// `strata plan --pipeline` words it.
    pub fn pipeline(&self) -> Result<Option<serde_json::Value>, String> {
        if self.pipeline.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&self.pipeline).map(Some).map_err(|e| {
            format!(
                "malformed JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            )
        })
    }

    /// The pins and excludes that are paths of this closure: those of
    /// another image stay in the cut but are not applied to this one.
    pub fn applied(&self, closure: &ImageClosure) -> (Vec<String>, Vec<String>) {
        let here = |list: &[String]| -> Vec<String> {
            list.iter()
                .filter(|p| closure.graph.find(p).is_some())
                .cloned()
                .collect()
        };
        (here(&self.pins), here(&self.excludes))
    }

    /// Whether anything is changed by hand.
    pub fn is_empty(&self) -> bool {
        *self == HandCut::default()
    }
}

/// Everything the shown plan depends on besides the cut.
#[derive(Debug, Clone)]
pub struct Setting<'a> {
    /// The closure.
    pub closure: &'a ImageClosure,
    /// The compare row chosen.
    pub planner: Planner,
    /// The budget.
    pub budget: usize,
    /// The fleet's popularity, for `nixery`.
    pub popularity: Option<&'a Popularity>,
    /// The image's plan at the revision before, from the compare row's
    /// plans (used as `--previous` unless the user gave one, and only by
    /// a row planning with history).
    pub earlier: Option<&'a Plan>,
    /// The fleet-aware row's knowledge of the fleet when it planned this
    /// image ([`strata_planner::FleetPlans::fleet_before`], as `--fleet`),
    /// when a plan is made by hand.
    pub fleet: Option<Vec<Vec<Layer>>>,
}

impl Setting<'_> {
    /// The algorithm run: `pipeline` when the editor holds one, as
    /// `strata plan --pipeline` without `--algorithm` does.
    fn algorithm(&self, pipeline: bool) -> Algorithm {
        if pipeline {
            Algorithm::Pipeline
        } else {
            self.planner.algorithm
        }
    }

    /// The earlier plan when this row uses it.
    fn earlier(&self) -> Option<&Plan> {
        self.earlier
            .filter(|_| self.planner.history != History::Alone)
    }
}

/// The shown plan: the planner's options with the hand's changes, as
/// `strata plan` with the flags [`cli_line`] writes.
pub fn plan_by_hand(setting: &Setting, cut: &HandCut) -> Result<Plan, String> {
    let pipeline = cut.pipeline().map_err(|e| format!("pipeline: {e}"))?;
    let mut options = PlanOptions::new(setting.algorithm(pipeline.is_some()), setting.budget);
    options.popularity = setting.popularity.cloned();
    options.pipeline = pipeline;
    (options.pins, options.excludes) = cut.applied(setting.closure);
    options.base = cut.base.as_ref().map(|b| b.layers.clone());
    options.previous = match &cut.previous {
        Some(p) => Some(p.layers.clone()),
        None => setting.earlier().map(|p| p.layers.clone()),
    };
    options.fleet = setting.fleet.clone();
    plan_closure(&setting.closure.graph, &options).map_err(|e| e.to_string())
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@".contains(c));
    if plain && !word.is_empty() {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The `strata plan` command that writes the shown plan; `closure` and
/// `earlier` name the files the user would pass (the closure, and the
/// image's plan at the revision before).
pub fn cli_line(setting: &Setting, cut: &HandCut, closure: &str, earlier: &str) -> String {
    let mut words: Vec<String> = vec!["strata".into(), "plan".into()];
    let pipeline = !cut.pipeline.trim().is_empty();
    if !pipeline {
        words.extend(["-a".into(), setting.planner.algorithm.name().into()]);
    }
    words.extend(["-b".into(), setting.budget.to_string()]);
    if setting.popularity.is_some() && setting.planner.algorithm == Algorithm::Nixery {
        words.extend(["--popularity".into(), "popularity.json".into()]);
    }
    if pipeline {
        let compact = cut
            .pipeline()
            .ok()
            .flatten()
            .map_or(cut.pipeline.clone(), |v| v.to_string());
        words.extend(["--pipeline".into(), compact]);
    }
    let (pins, excludes) = cut.applied(setting.closure);
    for p in pins {
        words.extend(["--pin".into(), p]);
    }
    for p in excludes {
        words.extend(["--exclude".into(), p]);
    }
    if let Some(b) = &cut.base {
        words.extend(["--base".into(), b.file.clone()]);
    }
    match (&cut.previous, setting.earlier()) {
        (Some(p), _) => words.extend(["--previous".into(), p.file.clone()]),
        (None, Some(_)) => words.extend(["--previous".into(), earlier.to_string()]),
        (None, None) => {}
    }
    if setting.planner.history == History::Fleet {
        // The directory of the fleet's latest plans (README: "Knowing the
        // fleet").
        words.extend(["--fleet".into(), "plans".into()]);
    }
    words.push(closure.to_string());
    words
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a plan does, for the before/after of a change by hand: its shape,
/// and the compare row's figures with this image's plan at this revision
/// replaced by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutFigures {
    /// Layers.
    pub layers: usize,
    /// Bytes in the image's store paths.
    pub size: u64,
    /// The largest layer's bytes.
    pub largest: u64,
    /// The fleet figure (a node pulls every image of each revision).
    pub fleet: Figure,
    /// The update figure (a node with the revision before pulls the next).
    pub update: Figure,
}

/// [`CutFigures`] of `plan`, standing in for image `image` at revision
/// `revision` of `plans` (the fleet's plans by a compare row).
pub fn cut_figures(
    fleet: &Fleet,
    plans: &FleetPlans,
    revision: usize,
    image: usize,
    plan: &Plan,
) -> Result<CutFigures, String> {
    let revisions: Vec<Revision> = plans
        .revisions
        .iter()
        .enumerate()
        .map(|(r, rev)| Revision {
            images: rev
                .iter()
                .enumerate()
                .map(|(i, p)| ImagePlan {
                    image: fleet.revisions[r][i].image.clone(),
                    layers: if (r, i) == (revision, image) {
                        plan.layers.clone()
                    } else {
                        p.layers.clone()
                    },
                })
                .collect(),
        })
        .collect();
    let figures = simulate(&revisions).map_err(|e| e.to_string())?;
    Ok(CutFigures {
        layers: plan.layers.len(),
        size: plan.size,
        largest: plan.layers.iter().map(|l| l.size).max().unwrap_or(0),
        fleet: figures.fleet,
        update: figures.update,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{compare, example_fleet, find_planner};

    fn git(fleet: &crate::fleet::Fleet, r: usize) -> &ImageClosure {
        fleet.revisions[r]
            .iter()
            .find(|c| c.image == "git")
            .unwrap()
    }

    #[test]
    fn pins_and_excludes_stay_sorted_and_apart() {
        let mut cut = HandCut::default();
        cut.pin("/nix/store/b");
        cut.pin("/nix/store/a");
        cut.pin("/nix/store/a");
        cut.exclude("/nix/store/b");
        assert_eq!(cut.pins, ["/nix/store/a"]);
        assert_eq!(cut.excludes, ["/nix/store/b"]);
        cut.release("/nix/store/a");
        assert!(cut.pins.is_empty());
        assert!(!cut.is_empty());
    }

    #[test]
    fn a_pin_gets_its_own_layer_and_an_exclude_leaves() {
        let fleet = example_fleet();
        let closure = git(&fleet, 0);
        let setting = Setting {
            closure,
            planner: find_planner("auto").unwrap(),
            budget: 20,
            popularity: None,
            earlier: None,
            fleet: None,
        };
        let plain = plan_by_hand(&setting, &HandCut::default()).unwrap();
        let paths: Vec<String> = plain
            .layers
            .iter()
            .flat_map(|l| l.paths.iter().map(|p| p.to_string()))
            .collect();
        let root = closure.graph.path(closure.graph.roots()[0]).to_string();
        let other = paths.iter().find(|p| **p != root).unwrap().clone();
        let mut cut = HandCut::default();
        cut.pin(&root);
        cut.exclude(&other);
        cut.pin("/nix/store/00000000000000000000000000000000-not-here");
        let plan = plan_by_hand(&setting, &cut).unwrap();
        assert!(plan
            .layers
            .iter()
            .any(|l| l.paths.len() == 1 && l.paths[0].as_str() == root));
        assert!(plan
            .layers
            .iter()
            .all(|l| l.paths.iter().all(|p| p.as_str() != other)));
        let line = cli_line(&setting, &cut, "git.json", "git.rev-1.plan.json");
        assert_eq!(
            line,
            format!("strata plan -a auto -b 20 --pin {root} --exclude {other} git.json")
        );
        cut.pipeline = "[[\"popularity_contest\"], ".into();
        let err = plan_by_hand(&setting, &cut).unwrap_err();
        assert!(
            err.starts_with("pipeline: malformed JSON at line 1"),
            "{err}"
        );
        cut.pipeline = r#"[["popularity_contest"], ["limit_layers", 5]]"#.into();
        let plan = plan_by_hand(&setting, &cut).unwrap();
        assert_eq!(plan.algorithm.name, Algorithm::Pipeline);
        assert!(cli_line(&setting, &cut, "git.json", "")
            .contains(r#"--pipeline '[["popularity_contest"],["limit_layers",5]]'"#));
    }

    #[test]
    fn the_fleet_aware_rows_plans_are_made_again_with_what_it_knew() {
        let fleet = example_fleet();
        let planner = find_planner("fleet-aware").unwrap();
        let comparison = &compare(&fleet, 20, &[planner])[0];
        let plans = comparison.result.as_ref().unwrap();
        for (r, images) in fleet.revisions.iter().enumerate() {
            for (i, closure) in images.iter().enumerate() {
                let earlier = r.checked_sub(1).and_then(|e| {
                    let at = fleet.revisions[e]
                        .iter()
                        .position(|c| c.image == closure.image)?;
                    Some(&plans.revisions[e][at])
                });
                let setting = Setting {
                    closure,
                    planner,
                    budget: 20,
                    popularity: None,
                    earlier,
                    fleet: Some(plans.fleet_before(&fleet.revisions, r, i)),
                };
                let plan = plan_by_hand(&setting, &HandCut::default()).unwrap();
                assert_eq!(plan, plans.revisions[r][i], "revision {r}, image {i}");
                let line = cli_line(&setting, &HandCut::default(), "c.json", "e.json");
                assert!(line.ends_with(" --fleet plans c.json"), "{line}");
            }
        }
    }

    #[test]
    fn without_a_change_the_shown_plan_is_the_compare_rows_and_so_are_its_figures() {
        let fleet = example_fleet();
        let planner = find_planner("fleet").unwrap();
        let comparison = &compare(&fleet, 20, &[planner])[0];
        let plans = comparison.result.as_ref().unwrap();
        let i = fleet.revisions[2]
            .iter()
            .position(|c| c.image == "git")
            .unwrap();
        let setting = Setting {
            closure: git(&fleet, 2),
            planner,
            budget: 20,
            popularity: fleet.popularity.as_ref().map(|p| &p.counts),
            earlier: Some(&plans.revisions[1][i]),
            fleet: None,
        };
        let plan = plan_by_hand(&setting, &HandCut::default()).unwrap();
        assert_eq!(plan, plans.revisions[2][i]);
        let figures = cut_figures(&fleet, plans, 2, i, &plan).unwrap();
        assert_eq!(figures.fleet, plans.figures.fleet);
        assert_eq!(figures.update, plans.figures.update);
        assert!(cli_line(
            &setting,
            &HandCut::default(),
            "git.json",
            "git.rev1.plan.json"
        )
        .ends_with("--previous git.rev1.plan.json git.json"));
        let base = PlanFile::read("base.json", &plans.revisions[0][i].to_json()).unwrap();
        assert_eq!(base.layers.len(), plans.revisions[0][i].layers.len());
        assert!(PlanFile::read("bad.json", "{")
            .unwrap_err()
            .starts_with("bad.json: "));
    }
}
