//! The page's side of the planning worker ([`crate::planning`] runs in
//! it): requests go out as JSON, replies update the [`Ui`]'s signals. Plan
//! requests are coalesced: while one is being planned, only the newest
//! change waits, so dragging the budget never queues stale plans.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use super::{Change, Drawn, Ui};
use crate::address::Origin;
use crate::drawing::GraphView;
use crate::planning::{Reply, Request, View};

#[wasm_bindgen(
    inline_js = "export function worker_url() { return new URL('../../worker.js', import.meta.url).href; }"
)]
extern "C" {
    /// `worker.js` beside `strata_web.js` (this snippet is written two
    /// directories below it, in `snippets/strata-web-*/`).
    fn worker_url() -> String;
}

/// The worker and what waits for it.
pub struct Client {
    worker: web_sys::Worker,
    /// A plan request is out (its last reply, the compare table, is not in).
    busy: Cell<bool>,
    /// The newest plan request not sent yet.
    pending: RefCell<Option<View>>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl Client {
    /// Starts the worker; replies go to `ui`.
    pub fn start(ui: Ui) -> Result<Rc<Client>, String> {
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options(&worker_url(), &options)
            .map_err(|e| format!("the planning worker did not start: {e:?}"))?;
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let message: js_sys::Array = event.data().unchecked_into();
                let text = message.get(0).as_string().unwrap_or_default();
                match serde_json::from_str::<Reply>(&text) {
                    Ok(reply) => {
                        let ms = message.get(4).as_f64().unwrap_or(0.0);
                        if matches!(reply, Reply::Planned(_)) {
                            ui.worker_ms.set((ms, ui.worker_ms.get_untracked().1));
                        } else if matches!(reply, Reply::Compared { .. }) {
                            ui.worker_ms.set((ui.worker_ms.get_untracked().0, ms));
                        }
                        apply(ui, reply, message.get(1), message.get(2), message.get(3))
                    }
                    Err(e) => ui
                        .error
                        .set(Some(format!("the worker's answer did not read: {e}"))),
                }
            },
        );
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ok(Rc::new(Client {
            worker,
            busy: Cell::new(false),
            pending: RefCell::new(None),
            _on_message: on_message,
        }))
    }

    fn post(&self, request: &Request) {
        self.post_with(request, js_sys::Array::new());
    }

    /// Posts `[json, texts]`: the texts of [`Request::Open`]'s files
    /// travel as JavaScript bytes beside the JSON, which holds their
    /// names.
    pub fn post_with(&self, request: &Request, texts: js_sys::Array) {
        let text = serde_json::to_string(request).expect("requests serialise");
        let message = js_sys::Array::of2(&JsValue::from_str(&text), &texts);
        let _ = self.worker.post_message(&message);
    }

    /// Sends a request; a plan request waits while another is planned.
    pub fn send(&self, ui: Ui, request: Request) {
        match request {
            Request::Plan(view) => {
                *self.pending.borrow_mut() = Some(view);
                if !self.busy.get() {
                    self.next(ui);
                }
            }
            other => self.post(&other),
        }
    }

    /// Sends the waiting plan request, if any, with the drawing the page
    /// holds by then.
    fn next(&self, ui: Ui) {
        let Some(mut view) = self.pending.borrow_mut().take() else {
            self.busy.set(false);
            ui.planning.set(false);
            return;
        };
        view.drawn = ui
            .graph
            .with_untracked(|g| g.as_ref().map(|g| g.key.clone()));
        self.busy.set(true);
        ui.planning.set(true);
        self.post(&Request::Plan(view));
    }
}

/// Runs `f` in a task of its own, after what is queued.
fn later(f: impl FnOnce() + 'static) {
    let f = Closure::once_into_js(f);
    if let Some(w) = web_sys::window() {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), 0);
    }
}

/// A reply's effect on the page.
/// A drawing from the typed arrays `worker::graph_to_js` made.
fn graph_from_js(object: &JsValue) -> Option<GraphView> {
    let get = |key: &str| js_sys::Reflect::get(object, &key.into()).ok();
    let paths: Vec<String> = get("paths")?
        .as_string()?
        .split('\n')
        .map(str::to_string)
        .collect();
    let floats = |key: &str| get(key).map(|a| js_sys::Float32Array::from(a).to_vec());
    let starts = js_sys::Uint32Array::from(get("starts")?).to_vec();
    let flat = js_sys::Uint32Array::from(get("references")?).to_vec();
    let references = starts
        .windows(2)
        .map(|w| flat[w[0] as usize..w[1] as usize].to_vec())
        .collect();
    Some(GraphView {
        sizes: js_sys::Float64Array::from(get("sizes")?)
            .to_vec()
            .into_iter()
            .map(|s| s as u64)
            .collect(),
        paths,
        references,
        x: floats("x")?,
        y: floats("y")?,
        r: floats("r")?,
        width: get("width")?.as_f64()?,
        height: get("height")?.as_f64()?,
    })
}

fn apply(ui: Ui, reply: Reply, plan: JsValue, graph: JsValue, layer_of: JsValue) {
    match reply {
        Reply::Opened {
            fleet,
            origin,
            reset,
        } => {
            if reset {
                ui.open(fleet, origin.unwrap_or(Origin::Local));
            } else {
                ui.error.set(None);
                ui.fleet.set(fleet);
                if let Some(origin) = origin {
                    ui.origin.set(origin);
                }
            }
        }
        Reply::Failed(e) => ui.error.set(Some(e)),
        Reply::Planned(shown) => {
            let shown = *shown;
            if shown.fleet != ui.fleet.with_untracked(|f| f.version) {
                return;
            }
            if let Some(graph) = graph_from_js(&graph) {
                let key = (shown.fleet, shown.revision, shown.image.clone());
                ui.graph.set(Some(Arc::new(Drawn::new(key, graph))));
            }
            let layer_of: Vec<Option<u32>> = if layer_of.is_object() {
                js_sys::Uint32Array::from(layer_of)
                    .to_vec()
                    .into_iter()
                    .map(|l| (l != u32::MAX).then_some(l))
                    .collect()
            } else {
                Vec::new()
            };
            ui.layer_of.set(Arc::new(layer_of));
            // The graph repaints in this task, the panels in the next, so
            // neither makes one long task of it.
            later(move || {
                ui.command.set(shown.command);
                ui.file_name.set(shown.file_name);
                ui.plan_blob.set(plan.dyn_into::<web_sys::Blob>().ok());
                ui.plan.set(shown.shape);
                super::mark("strata:planned");
            });
        }
        Reply::Compared {
            rows,
            figures,
            fleet,
            image,
            revision,
        } => {
            if fleet == ui.fleet.with_untracked(|f| f.version) {
                let key = (ui.fleet.with_untracked(|f| f.name.clone()), image, revision);
                ui.change.update(|change| {
                    let now = figures;
                    let before = if change.key != key {
                        None
                    } else if change.now != now {
                        change.now.clone()
                    } else {
                        change.before.clone()
                    };
                    *change = Change { key, before, now };
                });
            }
            ui.comparisons.set(rows);
            super::mark("strata:compared");
            ui.worker.with_value(|w| {
                if let Some(w) = w {
                    w.next(ui);
                }
            });
        }
    }
}
