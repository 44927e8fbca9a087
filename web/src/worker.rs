//! The planning worker's entry: `worker.js` loads this same wasm module in
//! a Web Worker and hands every message to [`worker_handle`], which
//! answers through `postMessage` (see [`crate::planning`]). The page's
//! side is `app::planner`.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::drawing::GraphView;
use crate::planning::{Planning, Reply, Request};

thread_local! {
    static PLANNING: RefCell<Option<Planning>> = const { RefCell::new(None) };
}

/// A reply as `[json, plan, drawing, layers, ms]`: the plan's text as a
/// `Blob` (the page downloads it and sends it to the server, never reads
/// it), the drawing and each path's layer as typed arrays (moved, not
/// copied), so the page parses only the small JSON; `ms`: how long the
/// worker took, from the request to this reply.
fn post(reply: &Reply, since: f64) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let text = serde_json::to_string(reply).expect("replies serialise");
    let message = js_sys::Array::of5(
        &JsValue::from_str(&text),
        &JsValue::NULL,
        &JsValue::NULL,
        &JsValue::NULL,
        &JsValue::from_f64(js_sys::Date::now() - since),
    );
    let transfer = js_sys::Array::new();
    if let Reply::Planned(shown) = reply {
        if let Some(plan) = &shown.plan_json {
            let bytes = js_sys::Uint8Array::from(plan.as_bytes());
            let options = web_sys::BlobPropertyBag::new();
            options.set_type("application/json");
            if let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(
                &js_sys::Array::of1(&bytes),
                &options,
            ) {
                message.set(1, blob.into());
            }
            let layers = js_sys::Uint32Array::from(&shown.layer_of[..]);
            transfer.push(&layers.buffer());
            message.set(3, layers.into());
        }
        if let Some(graph) = &shown.graph {
            message.set(2, graph_to_js(graph, &transfer).into());
        }
    }
    let _ = scope.post_message_with_transfer(&message, &transfer);
}

/// A drawing as a plain object of typed arrays (see
/// `app::planner::graph_from_js`).
fn graph_to_js(graph: &GraphView, transfer: &js_sys::Array) -> js_sys::Object {
    let object = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| {
        let _ = js_sys::Reflect::set(&object, &key.into(), value);
    };
    let mut starts = Vec::with_capacity(graph.len() + 1);
    let mut references = Vec::new();
    for refs in &graph.references {
        starts.push(references.len() as u32);
        references.extend_from_slice(refs);
    }
    starts.push(references.len() as u32);
    let sizes: Vec<f64> = graph.sizes.iter().map(|&s| s as f64).collect();
    set("paths", &JsValue::from_str(&graph.paths.join("\n")));
    let arrays: [(&str, JsValue); 6] = [
        ("sizes", js_sys::Float64Array::from(&sizes[..]).into()),
        ("starts", js_sys::Uint32Array::from(&starts[..]).into()),
        (
            "references",
            js_sys::Uint32Array::from(&references[..]).into(),
        ),
        ("x", js_sys::Float32Array::from(&graph.x[..]).into()),
        ("y", js_sys::Float32Array::from(&graph.y[..]).into()),
        ("r", js_sys::Float32Array::from(&graph.r[..]).into()),
    ];
    for (key, array) in arrays {
        transfer.push(&js_sys::Reflect::get(&array, &"buffer".into()).unwrap_or(JsValue::NULL));
        set(key, &array);
    }
    set("width", &graph.width.into());
    set("height", &graph.height.into());
    object
}

/// Answers one message of the page: `[json, texts]`, a [`Request`] and
/// the texts of the files it opens.
#[wasm_bindgen]
pub fn worker_handle(message: JsValue) {
    let message: js_sys::Array = message.unchecked_into();
    let since = js_sys::Date::now();
    let json = message.get(0).as_string().unwrap_or_default();
    let mut request: Request = match serde_json::from_str(&json) {
        Ok(r) => r,
        Err(e) => {
            let error = format!("the worker got a bad message: {e}");
            return post(&Reply::Failed(error), since);
        }
    };
    if let Request::Open { files, .. } = &mut request {
        let texts: js_sys::Array = message.get(1).unchecked_into();
        for (i, (_, text)) in files.iter_mut().enumerate() {
            *text = crate::server::bytes_text(&texts.get(i as u32));
        }
    }
    PLANNING.with(|p| {
        let mut p = p.borrow_mut();
        p.get_or_insert_with(Planning::default)
            .handle(request, &mut |reply| post(&reply, since));
    });
}
