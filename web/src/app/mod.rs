//! The Leptos components. The state every panel shares is one [`Ui`] in
//! the context; the panels: where the closures come from ([`source`]),
//! the controls and the compare table ([`compare`]), the shown plan's
//! summary, download and table ([`layers`]), its stack ([`stack`]) and
//! reference graph ([`graph`]), the cut by hand ([`hand`]), the address
//! ([`address`]) and the build on the server ([`build`]).

mod address;
mod build;
mod compare;
mod graph;
mod hand;
mod layers;
mod source;
mod stack;

use leptos::prelude::*;
use strata_planner::Plan;

use crate::address::Origin;
use crate::cut::{cut_figures, plan_by_hand, CutFigures, HandCut, Setting};
use crate::fleet::{compare, example_fleet, find_planner, Comparison, Fleet, Planner, COMPARED};

/// The budget the page opens with: small enough that the algorithms differ
/// on the example's 6-52 path images (`?budget=N` overrides it).
const DEFAULT_BUDGET: usize = 20;

/// What the page opens with when the host says (embedding); otherwise the
/// address's query, otherwise the defaults.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// The budget.
    pub budget: Option<usize>,
    /// The compare row whose layers are shown.
    pub algorithm: Option<String>,
    /// Whether the app is the page (`index.html`): it then keeps its view
    /// in the address and takes pastes anywhere on the page. An app
    /// embedded in a docs page leaves the page's address alone.
    pub owns_page: bool,
}

/// The state the panels share: what the user chose, and the plans made
/// from it. Signals and memos are `Copy`, so panels take the whole.
#[derive(Clone, Copy)]
pub struct Ui {
    /// The closures.
    pub fleet: RwSignal<Fleet>,
    /// Where they came from, for the address.
    pub origin: RwSignal<Origin>,
    /// The compare row whose plan is shown.
    pub algorithm: RwSignal<Planner>,
    /// The budget.
    pub budget: RwSignal<usize>,
    /// The image picked (the first while none is).
    pub image: RwSignal<Option<String>>,
    /// The revision picked (`usize::MAX`: the newest).
    pub revision: RwSignal<usize>,
    /// The changes by hand.
    pub cut: RwSignal<HandCut>,
    /// The layer selected in the stack or the graph.
    pub layer: RwSignal<Option<usize>>,
    /// The layer under the pointer.
    pub hover: RwSignal<Option<usize>>,
    /// The path picked in the graph, the stack or the search.
    pub focus: RwSignal<Option<String>>,
    /// The last loading error (what was loaded before stays).
    pub error: RwSignal<Option<String>>,
    /// The serving `strata serve`'s examples; `None` in a docs page with
    /// no server, where no build action is shown.
    pub server: RwSignal<Option<Vec<serde_json::Value>>>,
    /// Every compare row's plans of the fleet.
    pub comparisons: Memo<Vec<Comparison>>,
    /// The revision shown.
    pub shown_revision: Memo<usize>,
    /// The image shown, by name.
    pub shown_image: Memo<String>,
    /// Where the shown image is in the shown revision.
    pub position: Memo<Option<usize>>,
    /// The shown plan, or why there is none.
    pub plan: Memo<Result<Plan, String>>,
    /// The shown plan's figures, before and after the last change.
    pub change: Memo<Change>,
}

/// The figures of the shown plan and of the one before the last change
/// (of the same image at the same revision).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Which plan: the fleet's name, the image and the revision.
    key: (String, String, usize),
    /// Before the last change.
    pub before: Option<CutFigures>,
    /// Now.
    pub now: Option<CutFigures>,
}

impl Ui {
    fn new(start: &Start, address: &crate::address::Address) -> Ui {
        let fleet = RwSignal::new(example_fleet());
        let algorithm = RwSignal::new(
            start
                .algorithm
                .clone()
                .or_else(|| address.algorithm.clone())
                .and_then(|a| find_planner(&a))
                .unwrap_or(COMPARED[0]),
        );
        let budget = RwSignal::new(
            start
                .budget
                .or(address.budget)
                .filter(|&b| b > 0)
                .unwrap_or(DEFAULT_BUDGET),
        );
        let mut cut = HandCut::default();
        for p in &address.pins {
            cut.pin(p);
        }
        for p in &address.excludes {
            cut.exclude(p);
        }
        cut.pipeline = address.pipeline.clone().unwrap_or_default();
        let image = RwSignal::new(address.image.clone());
        let revision = RwSignal::new(address.revision.unwrap_or(usize::MAX));
        let cut = RwSignal::new(cut);
        let comparisons = Memo::new(move |_| fleet.with(|f| compare(f, budget.get(), &COMPARED)));
        let shown_revision = Memo::new(move |_| {
            let revisions = fleet.with(|f| f.revisions.len());
            revision.get().min(revisions.saturating_sub(1))
        });
        // By name, so it stays the same image when revisions hold
        // different sets.
        let shown_image = Memo::new(move |_| {
            let names = fleet.with(Fleet::images);
            image
                .get()
                .filter(|name| names.contains(name))
                .or_else(|| names.first().cloned())
                .unwrap_or_default()
        });
        let position = Memo::new(move |_| {
            let (r, name) = (shown_revision.get(), shown_image.get());
            fleet.with(|f| f.revisions.get(r)?.iter().position(|c| c.image == name))
        });
        let plan = Memo::new(move |_| {
            let (r, name) = (shown_revision.get(), shown_image.get());
            let planner = algorithm.get();
            let Some(i) = position.get() else {
                return Err(format!("{name} is not in revision {r}"));
            };
            comparisons.with(|cs| {
                let row = cs.iter().find(|c| c.planner == planner);
                let plans = match row.map(|c| &c.result) {
                    Some(Ok(plans)) => plans,
                    _ => {
                        return Err(format!(
                            "{} could not plan {name} (see Compare)",
                            planner.key
                        ))
                    }
                };
                let earlier = r.checked_sub(1).and_then(|e| {
                    let at = fleet.with(|f| f.revisions[e].iter().position(|c| c.image == name))?;
                    plans.revisions[e].get(at).cloned()
                });
                fleet.with(|f| {
                    let setting = Setting {
                        closure: &f.revisions[r][i],
                        planner,
                        budget: budget.get(),
                        popularity: f.popularity.as_ref().map(|p| &p.counts),
                        earlier: earlier.as_ref(),
                    };
                    cut.with(|c| plan_by_hand(&setting, c))
                })
            })
        });
        let change = Memo::new(move |previous: Option<&Change>| {
            let key = (
                fleet.with(|f| f.name.clone()),
                shown_image.get(),
                shown_revision.get(),
            );
            let now = plan.with(|p| {
                let p = p.as_ref().ok()?;
                let i = position.get()?;
                comparisons.with(|cs| {
                    let plans = cs
                        .iter()
                        .find(|c| c.planner == algorithm.get())?
                        .result
                        .as_ref()
                        .ok()?;
                    fleet.with(|f| cut_figures(f, plans, key.2, i, p).ok())
                })
            });
            let before = match previous {
                Some(p) if p.key == key && p.now != now => p.now.clone(),
                Some(p) if p.key == key => p.before.clone(),
                _ => None,
            };
            Change { key, before, now }
        });
        Ui {
            fleet,
            origin: RwSignal::new(address.origin.clone()),
            algorithm,
            budget,
            image,
            revision,
            cut,
            layer: RwSignal::new(None),
            hover: RwSignal::new(None),
            focus: RwSignal::new(None),
            error: RwSignal::new(None),
            server: RwSignal::new(None),
            comparisons,
            shown_revision,
            shown_image,
            position,
            plan,
            change,
        }
    }

    /// Shows a newly opened closure or fleet: what was picked and changed
    /// by hand belonged to the one before.
    pub fn open(&self, fleet: Fleet, origin: Origin) {
        self.error.set(None);
        self.fleet.set(fleet);
        self.origin.set(origin);
        self.image.set(None);
        self.revision.set(usize::MAX);
        self.cut.set(HandCut::default());
        self.layer.set(None);
        self.focus.set(None);
    }

    /// The shown image's closure at the shown revision, if it is there.
    pub fn with_closure<T>(&self, f: impl FnOnce(&strata_planner::ImageClosure) -> T) -> Option<T> {
        let (r, i) = (self.shown_revision.get(), self.position.get()?);
        self.fleet.with(|fleet| Some(f(&fleet.revisions[r][i])))
    }
}

/// The whole UI.
#[component]
pub fn App(start: Start) -> impl IntoView {
    let address = address::read();
    let ui = Ui::new(&start, &address);
    provide_context(ui);
    leptos::task::spawn_local(async move {
        if let Ok(answer) = crate::server::request("GET", "/api/examples", None).await {
            if answer.status == 200 {
                ui.server.set(serde_json::from_str(&answer.text).ok());
            }
        }
    });
    source::open_origin(ui, address.origin.clone(), true);
    if start.owns_page {
        address::keep(ui);
        source::paste_anywhere(ui);
    }
    view! {
        <main class="strata" on:dragover=source::drag_over on:drop=source::dropped(ui)>
            <header class="top">
                <div class="title">
                    <h1>"Strata"</h1>
                    <p class="tagline">
                        "How a Nix closure is cut into container image layers, and how many bytes "
                        "each cut makes clients pull. Drop a closure anywhere on the page."
                    </p>
                </div>
                <source::Source/>
            </header>
            <layers::Summary/>
            <div class="workspace">
                <stack::Stack/>
                <graph::Graph/>
                <hand::Hand/>
            </div>
            <div class="below">
                <compare::Compare/>
                <layers::Layers/>
            </div>
        </main>
    }
}
