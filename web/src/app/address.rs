//! The page's address and the view: read once when the page opens, kept
//! up to date (`history.replaceState`, so Back leaves the page as usual)
//! while the app owns the page.

use leptos::prelude::*;

use super::Ui;
use crate::address::{Address, Origin};

/// The address's view (an empty one when there is no window).
pub fn read() -> Address {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Address::default();
    };
    let mut pairs = Vec::new();
    // `URLSearchParams` iterates as [key, value] arrays.
    if let Ok(Some(iter)) = js_sys::try_iter(&params) {
        for entry in iter.flatten() {
            let entry = js_sys::Array::from(&entry);
            if let (Some(k), Some(v)) = (entry.get(0).as_string(), entry.get(1).as_string()) {
                pairs.push((k, v));
            }
        }
    }
    Address::from_pairs(pairs)
}

/// The view as an address.
fn current(ui: Ui) -> Address {
    let cut = ui.cut.get();
    Address {
        origin: ui.origin.get(),
        algorithm: Some(ui.algorithm.get().key.to_string()),
        budget: Some(ui.budget.get()),
        image: ui.image.get(),
        revision: Some(ui.revision.get()).filter(|&r| r != usize::MAX),
        pins: cut.pins,
        excludes: cut.excludes,
        pipeline: Some(cut.pipeline).filter(|p| !p.trim().is_empty()),
    }
}

/// Writes the view into the address whenever it changes.
pub fn keep(ui: Ui) {
    Effect::new(move |_| {
        let address = current(ui);
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(params) = web_sys::UrlSearchParams::new() else {
            return;
        };
        for (key, value) in address.pairs() {
            params.append(key, &value);
        }
        let query = String::from(params.to_string());
        let path = window.location().pathname().unwrap_or_default();
        let url = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    });
}

/// What the address cannot carry, said next to the closure's name.
pub fn unsharable(origin: &Origin) -> bool {
    *origin == Origin::Local
}
