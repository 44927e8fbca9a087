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
mod planner;
mod source;
mod stack;

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;

use crate::address::Origin;
use crate::cut::{CutFigures, HandCut};
use crate::drawing::GraphView;
use crate::fleet::{find_planner, Planner, COMPARED};
use crate::planning::{FleetView, Request, Row, Shape, View};

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

/// The shown image's drawing with what the page looks up in it.
#[derive(Debug)]
pub struct Drawn {
    /// Which: fleet version, revision, image.
    pub key: (u64, usize, String),
    /// The layout.
    pub view: GraphView,
    /// Who references each path.
    pub referrers: Vec<Vec<u32>>,
    /// Paths by store path, made at the first lookup ([`Drawn::find`]):
    /// making it for 20,000 paths is a good part of the task that shows a
    /// new drawing, and most drawings are never searched.
    index: std::sync::OnceLock<HashMap<String, usize>>,
    /// Paths, largest first (labels go to the largest).
    pub by_size: Vec<u32>,
}

impl Drawn {
    fn new(key: (u64, usize, String), view: GraphView) -> Drawn {
        let referrers = view.referrers();
        let mut by_size: Vec<u32> = (0..view.len() as u32).collect();
        by_size.sort_by_key(|&i| std::cmp::Reverse(view.sizes[i as usize]));
        Drawn {
            key,
            view,
            referrers,
            index: std::sync::OnceLock::new(),
            by_size,
        }
    }

    /// The drawing's number of a store path.
    pub fn find(&self, path: &str) -> Option<usize> {
        self.index
            .get_or_init(|| {
                let paths = self.view.paths.iter().enumerate();
                paths.map(|(i, p)| (p.clone(), i)).collect()
            })
            .get(path)
            .copied()
    }
}

/// The state the panels share: what the user chose, and what the planning
/// worker made of it. Signals and memos are `Copy`, so panels take the
/// whole.
#[derive(Clone, Copy)]
pub struct Ui {
    /// The closures, as far as the page knows them (the worker holds them).
    pub fleet: RwSignal<FleetView>,
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
    /// The search's text.
    pub query: RwSignal<String>,
    /// The last loading error (what was loaded before stays).
    pub error: RwSignal<Option<String>>,
    /// The serving `strata serve`'s examples; `None` in a docs page with
    /// no server, where no build action is shown.
    pub server: RwSignal<Option<Vec<serde_json::Value>>>,
    /// Every compare row's figures over the fleet.
    pub comparisons: RwSignal<Vec<Row>>,
    /// The revision shown.
    pub shown_revision: Memo<usize>,
    /// The image shown, by name.
    pub shown_image: Memo<String>,
    /// The shown plan's shape, or why there is none.
    pub plan: RwSignal<Result<Shape, String>>,
    /// The shown plan's JSON text (for the download and the build).
    pub plan_blob: RwSignal<Option<web_sys::Blob>, LocalStorage>,
    /// The shown image's drawing.
    pub graph: RwSignal<Option<Arc<Drawn>>>,
    /// Each drawn path's layer in the shown plan.
    pub layer_of: RwSignal<Arc<Vec<Option<u32>>>>,
    /// The `strata plan` line of the shown plan.
    pub command: RwSignal<Option<String>>,
    /// The shown plan's download name.
    pub file_name: RwSignal<String>,
    /// The shown plan's figures, before and after the last change.
    pub change: RwSignal<Change>,
    /// The worker is planning.
    pub planning: RwSignal<bool>,
    /// How long the worker took for the last shown plan and compare
    /// table, in ms (for the benchmark: `data-worker-ms` on `planning`).
    pub worker_ms: RwSignal<(f64, f64)>,
    /// Height of the stack and the graph, in pixels: the window's, less
    /// what is above them.
    pub height: RwSignal<f64>,
    /// The planning worker.
    worker: StoredValue<Option<Rc<planner::Client>>, LocalStorage>,
}

/// The figures of the shown plan and of the one before the last change
/// (of the same image at the same revision).
#[derive(Debug, Clone, Default, PartialEq)]
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
        let fleet = RwSignal::new(FleetView::default());
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
        let shown_revision = Memo::new(move |_| {
            let revisions = fleet.with(|f| f.revisions.len());
            revision.get().min(revisions.saturating_sub(1))
        });
        // By name, so it stays the same image when revisions hold
        // different sets.
        let shown_image = Memo::new(move |_| {
            let names = fleet.with(FleetView::images);
            image
                .get()
                .filter(|name| names.contains(name))
                .or_else(|| names.first().cloned())
                .unwrap_or_default()
        });
        let plan = RwSignal::new(Err("planning…".to_string()));
        let graph: RwSignal<Option<Arc<Drawn>>> = RwSignal::new(None);
        let layer_of = RwSignal::new(Arc::new(Vec::new()));
        Ui {
            fleet,
            origin: RwSignal::new(address.origin.clone()),
            algorithm,
            budget,
            image,
            revision,
            cut: RwSignal::new(cut),
            layer: RwSignal::new(None),
            hover: RwSignal::new(None),
            focus: RwSignal::new(None),
            query: RwSignal::new(String::new()),
            error: RwSignal::new(None),
            server: RwSignal::new(None),
            comparisons: RwSignal::new(Vec::new()),
            shown_revision,
            shown_image,
            plan,
            plan_blob: RwSignal::new_local(None),
            graph,
            layer_of,
            command: RwSignal::new(None),
            file_name: RwSignal::new(String::new()),
            change: RwSignal::new(Change::default()),
            planning: RwSignal::new(false),
            worker_ms: RwSignal::new((0.0, 0.0)),
            height: RwSignal::new(fitting_height()),
            worker: StoredValue::new_local(None),
        }
    }

    /// Asks the planning worker.
    pub fn send(&self, request: Request) {
        let ui = *self;
        self.worker.with_value(|w| match w {
            Some(w) => w.send(ui, request),
            None => ui
                .error
                .set(Some("the planning worker did not start".to_string())),
        });
    }

    /// Opens files in the worker; their texts go beside the request.
    pub fn send_files(
        &self,
        how: crate::planning::How,
        files: source::Files,
        origin: Option<Origin>,
    ) {
        let (names, texts): (Vec<String>, Vec<_>) = files.into_iter().unzip();
        let request = Request::Open {
            files: names.into_iter().map(|n| (n, String::new())).collect(),
            how,
            origin,
        };
        self.worker.with_value(|w| {
            if let Some(w) = w {
                w.post_with(&request, texts.into_iter().collect());
            }
        });
    }

    /// Shows a newly opened closure or fleet: what was picked and changed
    /// by hand belonged to the one before.
    pub fn open(&self, fleet: FleetView, origin: Origin) {
        self.error.set(None);
        self.fleet.set(fleet);
        self.origin.set(origin);
        self.image.set(None);
        self.revision.set(usize::MAX);
        self.cut.set(HandCut::default());
        self.layer.set(None);
        self.focus.set(None);
    }

    /// The size of a path of the shown image (`None`: not in it).
    pub fn size_of(&self, path: &str) -> Option<u64> {
        self.graph.with(|g| {
            let g = g.as_ref()?;
            g.find(path).map(|id| g.view.sizes[id])
        })
    }

    /// Plans whenever the view changes.
    fn plan_on_change(self) {
        let ui = self;
        Effect::new(move |_| {
            let view = View {
                fleet: ui.fleet.with(|f| f.version),
                algorithm: ui.algorithm.get().key.to_string(),
                budget: ui.budget.get(),
                image: ui.image.get(),
                revision: ui.revision.get(),
                cut: ui.cut.get(),
                drawn: None,
            };
            if view.fleet > 0 {
                ui.send(Request::Plan(view));
            }
        });
    }
}

/// A User Timing mark (`performance.mark`), which the browser benchmark
/// (tests/bench/ui.sh) reads: `strata:mounted` when the app is on the
/// page, `strata:planned` when a shown plan arrives,
/// `strata:graph-drawn` when a new drawing is first painted,
/// `strata:compared` when the compare table arrives.
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// The stack's and the graph's height for the window's (the header and
/// the bar above them take about 330 pixels, and the graph's tools; on a
/// phone, about half of it each).
fn fitting_height() -> f64 {
    let window = web_sys::window();
    let size = |f: fn(&web_sys::Window) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>| {
        window
            .as_ref()
            .and_then(|w| f(w).ok())
            .and_then(|v| v.as_f64())
    };
    let (width, height) = (
        size(web_sys::Window::inner_width).unwrap_or(1200.0),
        size(web_sys::Window::inner_height).unwrap_or(800.0),
    );
    if width <= 800.0 {
        // One column (style.css): the stack above the graph, each about
        // half the window.
        (height * 0.55).clamp(300.0, 900.0)
    } else {
        (height - 330.0).clamp(360.0, 1400.0)
    }
}

/// The whole UI.
#[component]
pub fn App(start: Start) -> impl IntoView {
    let address = address::read();
    let ui = Ui::new(&start, &address);
    provide_context(ui);
    match planner::Client::start(ui) {
        Ok(client) => ui.worker.set_value(Some(client)),
        Err(e) => ui.error.set(Some(e)),
    }
    ui.plan_on_change();
    let _ = window_event_listener(leptos::ev::resize, move |_| ui.height.set(fitting_height()));
    leptos::task::spawn_local(async move {
        if let Ok(answer) = crate::server::request("GET", "/api/examples", None).await {
            if answer.status == 200 {
                ui.server.set(serde_json::from_str(&answer.text).ok());
            }
        }
    });
    source::open_origin(ui, address.origin.clone(), true);
    // Files dragged over the page: enter and leave count, as they fire
    // for every element crossed.
    let dragging = RwSignal::new(0i32);
    let drop = source::dropped(ui);
    if start.owns_page {
        address::keep(ui);
        source::paste_anywhere(ui);
    }
    view! {
        <main class="strata" class:dragging=move || { dragging.get() > 0 }
            on:dragenter=move |_| dragging.update(|d| *d += 1)
            on:dragleave=move |_| dragging.update(|d| *d = (*d - 1).max(0))
            on:dragover=source::drag_over
            on:drop=move |ev: web_sys::DragEvent| { dragging.set(0); drop(ev) }>
            <div class="drop-hint" data-testid="drop-hint" aria-hidden="true">"Drop the closure to open it"</div>
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
