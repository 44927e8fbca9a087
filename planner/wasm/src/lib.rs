//! The planner's JavaScript API, for docs pages and tools that want plans
//! without the UI. Every function takes and returns plain JS objects with
//! the same shapes as the CLI's JSON (camelCase keys): closures in any shape
//! `strata plan` reads, [`PlanOptions`], [`Plan`], [`Figures`].
//!
//! ```js
//! import init, { plan, planFleet } from "./strata_planner_wasm.js";
//! await init();
//! const p = plan(closureText, { algorithm: "fleet", budget: 20 });
//! const f = planFleet([[{ image: "web", closure: text0 }], [{ image: "web", closure: text1 }]],
//!                     { algorithm: "fleet", budget: 20 });
//! console.log(f.figures.update.ratio);
//! // Parse once, plan on every change:
//! const c = new Closure(closureText);
//! const q = c.plan({ algorithm: "auto", budget: 30 });
//! ```

use serde::{Deserialize, Serialize};
use strata_planner::{
    parse_closure, plan_closure, plan_fleet, simulate, Algorithm, Graph, History, ImageClosure,
    PlanOptions, Revision, DEFAULT_STORE_DIR,
};
use wasm_bindgen::prelude::*;

/// One image's closure at one revision, as JS passes it to [`plan_fleet_js`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageClosureText {
    image: String,
    /// The closure's JSON text, in any shape `strata plan` reads.
    closure: String,
}

/// Values go to JS as plain objects (maps as objects, not `Map`s).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

fn options(value: JsValue) -> Result<PlanOptions, JsError> {
    from_js(value, "options")
}

/// The algorithms' names, in the order the UI shows them.
#[wasm_bindgen]
pub fn algorithms() -> Vec<String> {
    Algorithm::ALL
        .iter()
        .map(|a| a.name().to_string())
        .collect()
}

/// Plans a closure (its JSON text) with options (`{algorithm, budget,
/// popularity?, pipeline?, pins?, excludes?, base?, previous?}`).
#[wasm_bindgen]
pub fn plan(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] closure: &JsValue,
    options_js: JsValue,
) -> Result<JsValue, JsError> {
    let options = options(options_js)?;
    let graph = parse_closure(&text_of(closure)?, DEFAULT_STORE_DIR)?;
    to_js(&plan_closure(&graph, &options)?)
}

/// A closure parsed once, to plan many times (as a page does on every
/// change of budget or algorithm) without parsing it again.
#[wasm_bindgen(js_name = Closure)]
pub struct ParsedClosure {
    graph: Graph,
}

#[wasm_bindgen]
extern "C" {
    /// The browser's UTF-8 encoder.
    #[wasm_bindgen(js_name = TextEncoder)]
    type Utf8Encoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Utf8Encoder;
    /// `encode`, taking the JS string as it is.
    #[wasm_bindgen(method, js_class = "TextEncoder")]
    fn encode(this: &Utf8Encoder, text: &JsValue) -> js_sys::Uint8Array;
}

/// A closure's text given as a JS string or as UTF-8 bytes, in wasm's
/// memory. A string is encoded by the browser's `TextEncoder` and copied
/// in one piece: the bindings' own `&str` parameters copy a string one
/// character at a time in JS, which took longer than parsing it.
fn text_of(closure: &JsValue) -> Result<String, JsError> {
    let bytes = if closure.is_string() {
        Utf8Encoder::new().encode(closure)
    } else {
        closure
            .dyn_ref::<js_sys::Uint8Array>()
            .ok_or_else(|| {
                JsError::new("closure: expected its JSON text (a string or UTF-8 bytes)")
            })?
            .clone()
    };
    String::from_utf8(bytes.to_vec()).map_err(|e| JsError::new(&format!("closure: {e}")))
}

#[wasm_bindgen(js_class = Closure)]
impl ParsedClosure {
    /// Parses a closure's JSON text (a string, or its UTF-8 bytes as a
    /// `Uint8Array`), in any shape `strata plan` reads.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] closure: &JsValue,
    ) -> Result<ParsedClosure, JsError> {
        Ok(ParsedClosure {
            graph: parse_closure(&text_of(closure)?, DEFAULT_STORE_DIR)?,
        })
    }

    /// How many store paths.
    #[wasm_bindgen(getter)]
    pub fn paths(&self) -> usize {
        self.graph.len()
    }

    /// Plans it with options, as [`plan`] does.
    pub fn plan(&self, options_js: JsValue) -> Result<JsValue, JsError> {
        let options = options(options_js)?;
        to_js(&plan_closure(&self.graph, &options)?)
    }

    /// Plans it with options and tells only how many layers: the planning
    /// alone, without making the plan a JS object (what a benchmark
    /// compares with the native call).
    #[wasm_bindgen(js_name = layerCount)]
    pub fn layer_count(&self, options_js: JsValue) -> Result<usize, JsError> {
        let options = options(options_js)?;
        Ok(plan_closure(&self.graph, &options)?.layers.len())
    }
}

/// Simulates pulls of plans made before: a list of revisions, each
/// `{images: [{image, layers}]}`, oldest first.
#[wasm_bindgen]
pub fn simulate_plans(revisions: JsValue) -> Result<JsValue, JsError> {
    let revisions: Vec<Revision> = from_js(revisions, "revisions")?;
    to_js(&simulate(&revisions)?)
}

/// Plans a fleet's closures at several revisions (a list, oldest first, of
/// lists of `{image, closure}`), each image with its own previous layers as
/// `strata simulate` does (or alone when `alone` is true, as `strata
/// simulate --alone`), and simulates the pulls: `{revisions: [[Plan]],
/// figures}`.
#[wasm_bindgen(js_name = planFleet)]
pub fn plan_fleet_js(
    revisions: JsValue,
    options_js: JsValue,
    alone: Option<bool>,
) -> Result<JsValue, JsError> {
    let texts: Vec<Vec<ImageClosureText>> = from_js(revisions, "revisions")?;
    let options = options(options_js)?;
    let mut closures = Vec::with_capacity(texts.len());
    for (r, images) in texts.into_iter().enumerate() {
        let mut rev = Vec::with_capacity(images.len());
        for text in images {
            let graph = parse_closure(&text.closure, DEFAULT_STORE_DIR)
                .map_err(|e| JsError::new(&format!("revision {r}, image {}: {e}", text.image)))?;
            rev.push(ImageClosure {
                image: text.image,
                graph,
            });
        }
        closures.push(rev);
    }
    let history = if alone.unwrap_or(false) {
        History::Alone
    } else {
        History::Previous
    };
    to_js(&plan_fleet(&closures, &options, history)?)
}
