//! The planning side of the page, which runs in a Web Worker (see
//! [`crate::worker`]) so the page never waits for a plan: the closures are
//! parsed once, when opened, and kept here; each change of the view
//! (budget, algorithm, image, revision, the cut by hand) is one
//! [`Request::Plan`], answered first with the shown plan and its drawing
//! ([`Reply::Planned`]) and then with the compare table ([`Reply::Compared`]).
//! Each compare row's plans are kept for the budget they were made at, so
//! changing only the row shown, the image or the cut plans one image.
//!
//! Messages are JSON (serde) both ways; pure, so it is tested natively.

use serde::{Deserialize, Serialize};
use strata_planner::{Figures, FleetPlans, Plan};

use crate::address::Origin;
use crate::cut::{cli_line, cut_figures, plan_by_hand, CutFigures, HandCut, Setting};
use crate::drawing::{lay_out, GraphView};
use strata_planner::History;

use crate::fleet::{
    compare, example_fleet, find_planner, read_closure, read_popularity, read_revision, Fleet,
    FleetKind, PopularityFile, COMPARED,
};

/// What the page asks of the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Open closure files (name, text).
    Open {
        /// The files.
        files: Vec<(String, String)>,
        /// How.
        how: How,
        /// Where they came from, for the address (`None`: unchanged).
        origin: Option<Origin>,
    },
    /// Open the bundled example; `true`: the view stays (the page
    /// opening with the address's view).
    Example(bool),
    /// Use a popularity file (name, text).
    Popularity(String, String),
    /// Plan what the page shows.
    Plan(View),
}

/// How files open.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum How {
    /// As the page's "Open a closure…" and a drop do: one file is one
    /// closure shown alone, several are a revision of the user's fleet.
    Files,
    /// As the next revision of the user's fleet.
    Revision,
    /// One closure alone, named `label` (a server's example, a URL);
    /// `keep_view`: the address's choices stay.
    Single {
        /// The fleet's name.
        label: String,
        /// Whether the view stays.
        keep_view: bool,
    },
}

/// Everything the shown plan depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// The fleet the page holds ([`FleetView::version`]).
    pub fleet: u64,
    /// The compare row's key.
    pub algorithm: String,
    /// The budget.
    pub budget: usize,
    /// The image asked for (the first when `None` or not there).
    pub image: Option<String>,
    /// The revision asked for (capped to the newest).
    pub revision: usize,
    /// The changes by hand.
    pub cut: HandCut,
    /// The drawing the page holds: fleet, revision, image.
    pub drawn: Option<(u64, usize, String)>,
}

/// What the page knows of the fleet: names, not closures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetView {
    /// Changes whenever the fleet does.
    pub version: u64,
    /// Where it came from, for people.
    pub name: String,
    /// One line for people ([`Fleet::summary`]).
    pub summary: String,
    /// Per revision, the images' names.
    pub revisions: Vec<Vec<String>>,
    /// What it is.
    pub kind: FleetKind,
}

impl FleetView {
    fn of(fleet: &Fleet, version: u64) -> FleetView {
        FleetView {
            version,
            name: fleet.name.clone(),
            summary: fleet.summary(),
            revisions: fleet
                .revisions
                .iter()
                .map(|r| r.iter().map(|c| c.image.clone()).collect())
                .collect(),
            kind: fleet.kind,
        }
    }

    /// Names of the images of the newest revision.
    pub fn images(&self) -> Vec<String> {
        self.revisions.last().cloned().unwrap_or_default()
    }
}

/// The shown plan and what goes with it. The plan's text and the drawing
/// are big: they travel beside the JSON ([`crate::worker`]), not in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    /// The fleet planned.
    pub fleet: u64,
    /// The image shown and the revision.
    pub image: String,
    /// The revision.
    pub revision: usize,
    /// The plan's shape, or why there is none.
    pub shape: Result<Shape, String>,
    /// The plan's JSON text as `strata plan -o` writes it.
    #[serde(skip)]
    pub plan_json: Option<String>,
    /// Each path's layer (`u32::MAX`: in none), in the drawing's order.
    #[serde(skip)]
    pub layer_of: Vec<u32>,
    /// The `strata plan` line that writes it.
    pub command: Option<String>,
    /// The download's file name.
    pub file_name: String,
    /// The drawing, when the page does not hold it yet.
    #[serde(skip)]
    pub graph: Option<GraphView>,
}

/// What the page shows of a plan: its layers' figures, not their paths
/// (those are in the drawing, by [`Shown::layer_of`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// Bytes in the image's store paths.
    pub size: u64,
    /// Store paths in the image.
    pub paths: usize,
    /// Made by a `layeringPipeline`.
    pub pipeline: bool,
    /// The layers, bottom first.
    pub layers: Vec<LayerShape>,
}

/// One layer of a [`Shape`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerShape {
    /// Its bytes.
    pub size: u64,
    /// How many paths.
    pub paths: usize,
    /// Its largest path's `name-version`.
    pub largest: String,
    /// The first [`NAMED`] paths' names, one a line, for a tooltip.
    pub names: String,
    /// Reused whole from the base plan.
    pub base: bool,
}

/// Paths named in a layer's tooltip at most.
const NAMED: usize = 40;

impl Shape {
    /// The shape of `plan`.
    pub fn of(plan: &Plan) -> Shape {
        let layers = plan
            .layers
            .iter()
            .map(|l| {
                let mut names: Vec<&str> = l.paths.iter().take(NAMED).map(|p| p.name()).collect();
                let more = format!("… and {} more", l.paths.len().saturating_sub(NAMED));
                if l.paths.len() > NAMED {
                    names.push(&more);
                }
                LayerShape {
                    size: l.size,
                    paths: l.paths.len(),
                    largest: l
                        .largest_path()
                        .map(|p| p.name().to_string())
                        .unwrap_or_default(),
                    names: names.join("\n"),
                    base: l.base,
                }
            })
            .collect();
        Shape {
            size: plan.size,
            paths: plan.layers.iter().map(|l| l.paths.len()).sum(),
            pipeline: plan.algorithm.name == strata_planner::Algorithm::Pipeline,
            layers,
        }
    }
}

/// One compare row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The planner's key.
    pub key: String,
    /// Its figures over the fleet, or why it could not plan.
    pub result: Result<Figures, String>,
}

/// What the worker answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// A fleet opened; `reset`: what was picked belonged to the one before.
    Opened {
        /// The fleet.
        fleet: FleetView,
        /// Where it came from (`None`: unchanged).
        origin: Option<Origin>,
        /// Whether the view starts afresh.
        reset: bool,
    },
    /// Opening failed; what was open stays.
    Failed(String),
    /// The shown plan.
    Planned(Box<Shown>),
    /// The compare table and the shown plan's figures within the fleet,
    /// last answer to a [`Request::Plan`].
    Compared {
        /// The compare rows.
        rows: Vec<Row>,
        /// The shown plan's figures.
        figures: Option<CutFigures>,
        /// The fleet, image and revision of the shown plan.
        fleet: u64,
        /// The image.
        image: String,
        /// The revision.
        revision: usize,
    },
}

/// The worker's state: the fleet, parsed once, and the compare rows'
/// plans at the last budget.
#[derive(Debug)]
pub struct Planning {
    fleet: Fleet,
    version: u64,
    budget: usize,
    rows: Vec<(&'static str, Result<FleetPlans, String>)>,
}

impl Default for Planning {
    fn default() -> Planning {
        Planning::new(example_fleet())
    }
}

impl Planning {
    /// Starts with `fleet`.
    pub fn new(fleet: Fleet) -> Planning {
        Planning {
            fleet,
            version: 1,
            budget: 0,
            rows: Vec::new(),
        }
    }

    /// The fleet as the page sees it.
    pub fn fleet_view(&self) -> FleetView {
        FleetView::of(&self.fleet, self.version)
    }

    fn replace(&mut self, fleet: Fleet) {
        self.fleet = fleet;
        self.version += 1;
        self.rows.clear();
    }

    fn opened(&self, origin: Option<Origin>, reset: bool) -> Reply {
        Reply::Opened {
            fleet: self.fleet_view(),
            origin,
            reset,
        }
    }

    /// Answers one request; `post` sends each reply as soon as it is
    /// ready.
    pub fn handle(&mut self, request: Request, post: &mut dyn FnMut(Reply)) {
        match request {
            Request::Open { files, how, origin } => post(self.open(files, how, origin)),
            Request::Example(keep_view) => {
                self.replace(example_fleet());
                post(self.opened(Some(Origin::Bundled), !keep_view));
            }
            Request::Popularity(name, text) => match read_popularity(&name, &text) {
                Ok(counts) => {
                    let mut fleet = std::mem::take(&mut self.fleet);
                    fleet.popularity = Some(PopularityFile {
                        file: name,
                        counts,
                        bundled: false,
                    });
                    self.replace(fleet);
                    post(self.opened(None, false));
                }
                Err(e) => post(Reply::Failed(e)),
            },
            Request::Plan(view) => self.plan(view, post),
        }
    }

    fn open(&mut self, files: Vec<(String, String)>, how: How, origin: Option<Origin>) -> Reply {
        let opened = match (&how, files.as_slice()) {
            (_, []) => Err("no closure files chosen".to_string()),
            (How::Single { label, .. }, [(name, text)]) => {
                read_closure(name, text).map(|c| Fleet::single(c, label.clone()))
            }
            (How::Files, [(name, text)]) => read_closure(name, text).map(|c| {
                let label = c.image.clone();
                Fleet::single(c, label)
            }),
            _ => read_revision(&files).map(|revision| {
                let mut fleet = self.fleet.clone();
                fleet.add_user_revision(revision);
                fleet
            }),
        };
        match opened {
            Ok(fleet) => {
                let reset = match how {
                    How::Revision => false,
                    How::Single { keep_view, .. } => !keep_view,
                    How::Files => {
                        !(fleet.kind == FleetKind::Revisions && fleet.revisions.len() > 1)
                    }
                };
                self.replace(fleet);
                self.opened(origin, reset)
            }
            Err(e) => Reply::Failed(e),
        }
    }

    /// The compare row's plans at `budget`, made once per budget (where
    /// they are in `rows`).
    fn row(&mut self, key: &'static str, budget: usize) -> usize {
        if self.budget != budget {
            self.rows.clear();
            self.budget = budget;
        }
        let at = match self.rows.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let planner = find_planner(key).expect("a compared planner");
                let result = compare(&self.fleet, budget, &[planner]).remove(0).result;
                self.rows.push((key, result));
                self.rows.len() - 1
            }
        };
        at
    }

    fn plan(&mut self, view: View, post: &mut dyn FnMut(Reply)) {
        let planner = find_planner(&view.algorithm).unwrap_or(COMPARED[0]);
        let r = view
            .revision
            .min(self.fleet.revisions.len().saturating_sub(1));
        let names = self.fleet.images();
        let name = view
            .image
            .clone()
            .filter(|n| names.contains(n))
            .or_else(|| names.first().cloned())
            .unwrap_or_default();
        let position = self
            .fleet
            .revisions
            .get(r)
            .and_then(|rev| rev.iter().position(|c| c.image == name));
        let several = self.fleet.revisions.len() > 1;
        let mut shown = Shown {
            fleet: self.version,
            image: name.clone(),
            revision: r,
            shape: Err(format!("{name} is not in revision {r}")),
            plan_json: None,
            layer_of: Vec::new(),
            command: None,
            file_name: if several {
                format!("{name}.rev{r}.plan.json")
            } else {
                format!("{name}.plan.json")
            },
            graph: None,
        };
        let mut shown_plan = None;
        if let Some(i) = position {
            // The row's plans are needed first for the plan of the revision
            // before (`--previous`) and, fleet-aware, for what the row knew
            // of the fleet (`--fleet`); otherwise the shown plan is made
            // alone, and the row's (with its simulation) after it.
            let needs_row = match planner.history {
                History::Previous => r > 0,
                History::Fleet => true,
                History::Alone => false,
            };
            let at = needs_row.then(|| self.row(planner.key, view.budget));
            let (fleet, plans) = (&self.fleet, at.map(|at| &self.rows[at].1));
            let earlier_at = r
                .checked_sub(1)
                .and_then(|e| fleet.revisions[e].iter().position(|c| c.image == name));
            let earlier = match (plans, earlier_at) {
                (Some(Ok(p)), Some(at)) => p.revisions[r - 1].get(at),
                _ => None,
            };
            let setting = Setting {
                closure: &fleet.revisions[r][i],
                planner,
                budget: view.budget,
                popularity: fleet.popularity.as_ref().map(|p| &p.counts),
                earlier,
                // Only a plan made by hand needs it: unchanged, the row's
                // own plan is shown.
                fleet: match (planner.history, plans) {
                    (History::Fleet, Some(Ok(p))) if !view.cut.is_empty() => {
                        Some(p.fleet_before(&fleet.revisions, r, i))
                    }
                    _ => None,
                },
            };
            let plan = match plans {
                // Unchanged by hand: the row's own plan (the same bytes).
                Some(Ok(p)) if view.cut.is_empty() => Ok(p.revisions[r][i].clone()),
                Some(Err(_)) => Err(format!(
                    "{} could not plan {name} (see Compare)",
                    planner.key
                )),
                _ => plan_by_hand(&setting, &view.cut),
            };
            let closure = &fleet.revisions[r][i].graph;
            if let Ok(plan) = &plan {
                shown.plan_json = Some(plan.to_json());
                shown.layer_of = vec![u32::MAX; closure.len()];
                for (l, layer) in plan.layers.iter().enumerate() {
                    for path in &layer.paths {
                        if let Some(id) = closure.find(path) {
                            shown.layer_of[id] = l as u32;
                        }
                    }
                }
            }
            shown.shape = plan.as_ref().map(Shape::of).map_err(Clone::clone);
            let closure_file = if several {
                format!("rev{r}/{name}.json")
            } else {
                format!("{name}.json")
            };
            let earlier_file = format!("{name}.rev{}.plan.json", r.saturating_sub(1));
            shown.command = Some(cli_line(&setting, &view.cut, &closure_file, &earlier_file));
            let key = (self.version, r, name.clone());
            if view.drawn.as_ref() != Some(&key) {
                shown.graph = Some(lay_out(closure));
            }
            shown_plan = plan.ok().map(|p| (i, p));
        }
        post(Reply::Planned(Box::new(shown)));
        let rows = COMPARED
            .iter()
            .map(|p| Row {
                key: p.key.to_string(),
                result: {
                    let at = self.row(p.key, view.budget);
                    self.rows[at].1.as_ref()
                }
                .map(|plans| plans.figures.clone())
                .map_err(Clone::clone),
            })
            .collect();
        // The shown plan within the fleet: the row's figures when it is
        // the row's own plan, else simulated with it in its place.
        let figures = shown_plan.and_then(|(i, plan)| {
            let at = self.row(planner.key, view.budget);
            let plans = self.rows[at].1.as_ref().ok()?;
            if view.cut.is_empty() {
                Some(CutFigures {
                    layers: plan.layers.len(),
                    size: plan.size,
                    largest: plan.layers.iter().map(|l| l.size).max().unwrap_or(0),
                    fleet: plans.figures.fleet,
                    update: plans.figures.update,
                })
            } else {
                cut_figures(&self.fleet, plans, r, i, &plan).ok()
            }
        });
        post(Reply::Compared {
            rows,
            figures,
            fleet: self.version,
            image: name,
            revision: r,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(algorithm: &str, budget: usize) -> View {
        View {
            fleet: 1,
            algorithm: algorithm.to_string(),
            budget,
            image: Some("git".to_string()),
            revision: usize::MAX,
            cut: HandCut::default(),
            drawn: None,
        }
    }

    fn replies(planning: &mut Planning, request: Request) -> Vec<Reply> {
        let mut out = Vec::new();
        planning.handle(request, &mut |r| out.push(r));
        out
    }

    #[test]
    fn a_plan_request_answers_the_shown_plan_then_the_compare_table() {
        let mut planning = Planning::default();
        let out = replies(&mut planning, Request::Plan(view("auto", 20)));
        let [Reply::Planned(shown), Reply::Compared { rows, figures, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        let fleet = example_fleet();
        let expected = compare(&fleet, 20, &COMPARED);
        assert_eq!(shown.revision, 2);
        assert_eq!(shown.file_name, "git.rev2.plan.json");
        let i = fleet.revisions[2]
            .iter()
            .position(|c| c.image == "git")
            .unwrap();
        let row = |key: &str| {
            expected
                .iter()
                .find(|c| c.planner.key == key)
                .and_then(|c| c.result.as_ref().ok())
                .unwrap()
        };
        let auto = row("auto");
        let i0 = fleet.revisions[0]
            .iter()
            .position(|c| c.image == "git")
            .unwrap();
        assert_eq!(
            shown.plan_json.as_ref().unwrap(),
            &auto.revisions[2][i].to_json()
        );
        assert_eq!(figures.as_ref().unwrap().fleet, auto.figures.fleet);
        let graph = shown.graph.as_ref().unwrap();
        assert_eq!(graph.len(), fleet.revisions[2][i].graph.len());
        for (row, c) in rows.iter().zip(&expected) {
            assert_eq!(row.key, c.planner.key);
            assert_eq!(
                row.result.as_ref().unwrap(),
                &c.result.as_ref().unwrap().figures
            );
        }
        // The page holds the drawing: not sent again; JSON both ways.
        let mut again = view("fleet", 20);
        again.drawn = Some((1, 2, "git".to_string()));
        let text = serde_json::to_string(&Request::Plan(again)).unwrap();
        let out = replies(&mut planning, serde_json::from_str(&text).unwrap());
        let Reply::Planned(shown) = &out[0] else {
            panic!()
        };
        assert!(shown.graph.is_none());
        let shape = shown.shape.as_ref().unwrap();
        assert_eq!(
            shape.layers.len() as u32,
            shown.layer_of.iter().max().unwrap() + 1
        );
        assert_eq!(shape.paths, shown.layer_of.len());
        let text = serde_json::to_string(&out[1]).unwrap();
        let read = serde_json::from_str::<Reply>(&text).unwrap();
        assert!(matches!(read, Reply::Compared { rows, .. } if rows.len() == COMPARED.len()));
        // At the first revision the shown plan is made alone, and is the
        // row's.
        let mut first = view("popularity", 20);
        first.revision = 0;
        let out = replies(&mut planning, Request::Plan(first));
        let Reply::Planned(shown) = &out[0] else {
            panic!()
        };
        let popularity = &row("popularity").revisions[0][i0];
        assert_eq!(shown.plan_json.as_ref().unwrap(), &popularity.to_json());
    }

    #[test]
    fn files_open_as_the_page_opens_them_and_bad_ones_are_named() {
        let mut planning = Planning::default();
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/fleet/rev0/jq.json"
        ))
        .unwrap();
        let one = Request::Open {
            files: vec![("jq.json".into(), text.clone())],
            how: How::Files,
            origin: Some(Origin::Local),
        };
        let out = replies(&mut planning, one);
        let [Reply::Opened { fleet, reset, .. }] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert!(*reset);
        assert_eq!(fleet.version, 2);
        assert!(fleet.summary.starts_with("jq: one closure, "));
        let bad = Request::Open {
            files: vec![("bad.json".into(), "{".into())],
            how: How::Files,
            origin: None,
        };
        let out = replies(&mut planning, bad);
        assert!(matches!(&out[0], Reply::Failed(e) if e.starts_with("bad.json: ")));
        assert_eq!(planning.fleet_view().version, 2);
        let mut shown = view("fleet", 5);
        shown.image = None;
        let out = replies(&mut planning, Request::Plan(shown));
        let Reply::Planned(shown) = &out[0] else {
            panic!()
        };
        assert_eq!(shown.image, "jq");
        assert_eq!(shown.file_name, "jq.plan.json");
        let plan = strata_planner::read_layers(shown.plan_json.as_ref().unwrap()).unwrap();
        assert!(plan.len() <= 5);
    }
}
