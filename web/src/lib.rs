//! Strata's browser UI: load a fleet of closures (the bundled example or
//! your own files, one set per revision), plan them with each algorithm,
//! compare the algorithms by simulated pulls (the figures `strata simulate`
//! prints for the same closures) and look at one image's layers.
//!
//! It is a client-side Leptos app that calls the planner crate directly,
//! off the page's thread: the same wasm module runs in a Web Worker
//! (`worker.js`, [`planning`]) that parses each closure once and plans on
//! every change, while the page draws ([`drawing`]'s layout, made in the
//! worker, on a canvas). `cargo run -p xtask -- web` builds it into
//! `web/dist`, which `strata serve` serves; a docs page can embed it with
//! [`mount_planner`].

pub mod address;
mod app;
pub mod cut;
pub mod drawing;
pub mod fleet;
pub mod planning;
mod server;
mod worker;

use wasm_bindgen::prelude::*;

/// Mounts the planner UI inside `el` (for embedding in any page; the
/// `<strata-planner>` element in `strata-planner.js` calls it from its
/// shadow root). `budget` and `algorithm` (a compare row: `fleet`,
/// `fleet-alone`, `auto`, ...) set what the page opens with, ahead of the
/// address's `?budget=` and `?algorithm=`. The app lives as long as the
/// page.
#[wasm_bindgen]
pub fn mount_planner(el: web_sys::HtmlElement, budget: Option<u32>, algorithm: Option<String>) {
    let start = app::Start {
        budget: budget.map(|b| b as usize),
        algorithm,
        owns_page: false,
    };
    leptos::mount::mount_to(el, move || app::App(app::AppProps { start })).forget();
    app::mark("strata:mounted");
}

/// Mounts the planner UI as the whole page (`index.html`): the view is
/// kept in the page's address, so it can be shared, and a paste anywhere
/// on the page opens a closure.
#[wasm_bindgen]
pub fn mount_page(el: web_sys::HtmlElement) {
    let start = app::Start {
        owns_page: true,
        ..app::Start::default()
    };
    leptos::mount::mount_to(el, move || app::App(app::AppProps { start })).forget();
    app::mark("strata:mounted");
}
