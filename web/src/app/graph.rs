//! The shown image's reference graph on a canvas, so 20,000 paths draw
//! in a few milliseconds: each path a circle (area by size, colour by its
//! layer in the shown plan), roots on top, references pointing down (the
//! layout comes from the worker, [`crate::drawing::lay_out`]). Wheel or
//! the buttons zoom, dragging pans; pointing at a path shows its store
//! path, size, closure size and referrers; a click picks it (for pinning
//! or excluding) and lights it with every path depending on it. The layer
//! pointed at or selected in the stack is lit, the rest fade; paths the
//! search finds are ringed. Level of detail: every reference is drawn
//! while there are few enough to read, otherwise only the pointed and
//! picked paths'; labels go to the largest paths that have room at the
//! current zoom, at a fixed type size.

use std::f64::consts::TAU;
use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;
use strata_planner::human_bytes;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::hand::search;
use super::{Drawn, Ui};
use crate::drawing::layer_colour;

/// Labels drawn at most, and paths tried for one.
const LABELS: usize = 24;
const LABEL_TRIES: usize = 800;
/// Longest label, in characters.
const LABEL_CHARS: usize = 28;
/// Width of a label character at 12px, in pixels (for spacing labels).
const LABEL_CHAR: f64 = 6.6;
/// Every reference is drawn up to this many; beyond, only those of the
/// pointed and picked paths (a hairball helps nobody).
const ALL_EDGES: usize = 6000;
/// Lit paths outlined when at most this many are lit.
const OUTLINED: usize = 300;
/// Referrers named in the tooltip at most.
const NAMED: usize = 6;

/// Where the drawing is on the canvas: screen = world × scale + offset,
/// in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Camera {
    scale: f64,
    x: f64,
    y: f64,
}

impl Camera {
    /// The whole drawing in a `width` × `height` canvas, centred.
    fn fit(drawn: &Drawn, width: f64, height: f64) -> Camera {
        let (w, h) = (drawn.view.width, drawn.view.height);
        let scale = (width / w).min(height / h).max(1e-3);
        Camera {
            scale,
            x: (width - w * scale) / 2.0,
            y: (height - h * scale) / 2.0,
        }
    }

    fn screen(&self, x: f32, y: f32) -> (f64, f64) {
        (
            x as f64 * self.scale + self.x,
            y as f64 * self.scale + self.y,
        )
    }

    /// Zooms by `factor` keeping the point (`px`, `py`) in place.
    fn zoom(&self, factor: f64, px: f64, py: f64) -> Camera {
        let scale = (self.scale * factor).clamp(0.02, 60.0);
        let k = scale / self.scale;
        Camera {
            scale,
            x: px - (px - self.x) * k,
            y: py - (py - self.y) * k,
        }
    }
}

/// Which paths are lit; `None`: all.
fn lit_mask(ui: Ui, drawn: &Drawn, layer_of: &[Option<u32>]) -> Option<Vec<bool>> {
    // The layer pointed at in the stack wins, then the picked path and
    // what depends on it, then the selected layer.
    let layer_mask = |l: usize| {
        Some(
            layer_of
                .iter()
                .map(|&x| x == Some(l as u32))
                .collect::<Vec<_>>(),
        )
    };
    if let Some(l) = ui.hover.get() {
        return layer_mask(l);
    }
    let focus = ui.focus.with(|f| f.as_ref().and_then(|p| drawn.find(p)));
    if let Some(id) = focus {
        return Some(drawn.view.dependents(&drawn.referrers, id));
    }
    ui.layer.get().and_then(layer_mask)
}

fn short(name: &str) -> String {
    if name.chars().count() <= LABEL_CHARS {
        name.to_string()
    } else {
        let cut: String = name.chars().take(LABEL_CHARS - 1).collect();
        format!("{cut}…")
    }
}

/// Everything one frame shows.
struct Frame<'a> {
    drawn: &'a Drawn,
    layer_of: &'a [Option<u32>],
    lit: Option<&'a [bool]>,
    found: &'a [usize],
    focus: Option<usize>,
    pointed: Option<usize>,
    camera: Camera,
    width: f64,
    height: f64,
}

impl Frame<'_> {
    fn dim(&self, id: usize) -> bool {
        self.lit.is_some_and(|l| !l[id])
    }

    fn paint(&self, ctx: &CanvasRenderingContext2d) {
        let view = &self.drawn.view;
        let cam = self.camera;
        ctx.clear_rect(0.0, 0.0, self.width, self.height);
        let visible = |sx: f64, sy: f64, r: f64| {
            sx + r >= 0.0 && sx - r <= self.width && sy + r >= 0.0 && sy - r <= self.height
        };
        // References.
        let edges: usize = view.references.iter().map(Vec::len).sum();
        let line = |ctx: &CanvasRenderingContext2d, from: usize, to: usize| {
            let (ax, ay) = cam.screen(view.x[from], view.y[from]);
            let (bx, by) = cam.screen(view.x[to], view.y[to]);
            ctx.move_to(ax, ay);
            ctx.line_to(bx, by);
        };
        ctx.set_line_width(1.0);
        if edges <= ALL_EDGES {
            for faint in [true, false] {
                ctx.begin_path();
                for (from, refs) in view.references.iter().enumerate() {
                    for &to in refs {
                        let to = to as usize;
                        if (self.dim(from) || self.dim(to)) == faint {
                            line(ctx, from, to);
                        }
                    }
                }
                ctx.set_stroke_style_str(if faint { "#ecece8" } else { "#c4c4c0" });
                ctx.stroke();
            }
        }
        for id in [self.focus, self.pointed].into_iter().flatten() {
            ctx.begin_path();
            for &to in &view.references[id] {
                line(ctx, id, to as usize);
            }
            ctx.set_stroke_style_str("#3a6ea5");
            ctx.stroke();
            ctx.begin_path();
            for &from in &self.drawn.referrers[id] {
                line(ctx, from as usize, id);
            }
            ctx.set_stroke_style_str("#c0392b");
            ctx.stroke();
        }
        // Paths, one fill per colour: faded first, lit on top.
        let colours = 21;
        let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); colours * 2];
        for id in 0..view.len() {
            let colour = self
                .layer_of
                .get(id)
                .copied()
                .flatten()
                .map_or(20, |l| l as usize % 20);
            buckets[colour + if self.dim(id) { colours } else { 0 }].push(id);
        }
        for (b, ids) in buckets.iter().enumerate().rev() {
            if ids.is_empty() {
                continue;
            }
            let (colour, faded) = (b % colours, b >= colours);
            ctx.begin_path();
            for &id in ids {
                let (sx, sy) = cam.screen(view.x[id], view.y[id]);
                let r = (view.r[id] as f64 * cam.scale).max(1.2);
                if !visible(sx, sy, r) {
                    continue;
                }
                if r < 2.0 {
                    ctx.rect(sx - r, sy - r, 2.0 * r, 2.0 * r);
                } else {
                    ctx.move_to(sx + r, sy);
                    let _ = ctx.arc(sx, sy, r, 0.0, TAU);
                }
            }
            ctx.set_global_alpha(if faded { 0.15 } else { 1.0 });
            ctx.set_fill_style_str(&layer_colour((colour < 20).then_some(colour)));
            ctx.fill();
        }
        ctx.set_global_alpha(1.0);
        // A few lit paths among many faded: outlined, so they are found.
        if let Some(lit) = self.lit {
            let count = lit.iter().filter(|&&l| l).count();
            if count <= OUTLINED && count < view.len() {
                ctx.begin_path();
                for id in (0..view.len()).filter(|&id| lit[id]) {
                    let (sx, sy) = cam.screen(view.x[id], view.y[id]);
                    let r = (view.r[id] as f64 * cam.scale).max(1.2) + 1.5;
                    ctx.move_to(sx + r, sy);
                    let _ = ctx.arc(sx, sy, r, 0.0, TAU);
                }
                ctx.set_line_width(1.5);
                ctx.set_stroke_style_str("#111");
                ctx.stroke();
            }
        }
        // Rings: found by the search, the picked path, the pointed one.
        let ring = |id: usize, gap: f64, width: f64, colour: &str| {
            let (sx, sy) = cam.screen(view.x[id], view.y[id]);
            let r = (view.r[id] as f64 * cam.scale).max(1.2) + gap;
            ctx.begin_path();
            let _ = ctx.arc(sx, sy, r, 0.0, TAU);
            ctx.set_line_width(width);
            ctx.set_stroke_style_str(colour);
            ctx.stroke();
        };
        for &id in self.found.iter().take(2000) {
            ring(id, 2.5, 1.5, "#d81b60");
        }
        if let Some(id) = self.focus {
            ring(id, 2.0, 3.0, "#000");
        }
        if let Some(id) = self.pointed {
            ring(id, 1.0, 2.0, "#111");
        }
        self.labels(ctx, &visible);
    }

    /// Labels for the largest lit paths that have room.
    fn labels(&self, ctx: &CanvasRenderingContext2d, visible: &dyn Fn(f64, f64, f64) -> bool) {
        let view = &self.drawn.view;
        let cam = self.camera;
        ctx.set_font("12px system-ui, -apple-system, 'Segoe UI', sans-serif");
        ctx.set_text_align("center");
        ctx.set_line_width(3.0);
        ctx.set_line_join("round");
        let mut placed: Vec<(f64, f64, f64)> = Vec::new();
        let first = self.focus.into_iter();
        let rest = self.drawn.by_size.iter().map(|&i| i as usize);
        for id in first.chain(rest).take(LABEL_TRIES) {
            if placed.len() == LABELS {
                break;
            }
            if self.dim(id) {
                continue;
            }
            let (sx, sy) = cam.screen(view.x[id], view.y[id]);
            let r = (view.r[id] as f64 * cam.scale).max(1.2);
            if !visible(sx, sy, r) {
                continue;
            }
            let text = short(view.name(id));
            let half = text.chars().count() as f64 * LABEL_CHAR / 2.0 + 2.0;
            let (lx, ly) = (sx.clamp(half, (self.width - half).max(half)), sy + r + 12.0);
            let clear = placed
                .iter()
                .all(|&(x, y, h)| (ly - y).abs() > 13.0 || (lx - x).abs() > half + h + 4.0);
            if !clear {
                continue;
            }
            placed.push((lx, ly, half));
            ctx.set_stroke_style_str("#fff");
            let _ = ctx.stroke_text(&text, lx, ly);
            ctx.set_fill_style_str("#222");
            let _ = ctx.fill_text(&text, lx, ly);
        }
    }

    /// The path under (`px`, `py`), if any.
    fn hit(drawn: &Drawn, camera: Camera, px: f64, py: f64) -> Option<usize> {
        let view = &drawn.view;
        let mut best: Option<(f64, usize)> = None;
        for id in 0..view.len() {
            let (sx, sy) = camera.screen(view.x[id], view.y[id]);
            let r = (view.r[id] as f64 * camera.scale).max(4.0);
            let d = (sx - px).powi(2) + (sy - py).powi(2);
            if d <= r * r && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, id));
            }
        }
        best.map(|(_, id)| id)
    }
}

/// What the tooltip says of a path.
fn tooltip(ui: Ui, drawn: &Drawn, id: usize) -> impl IntoView {
    let view = &drawn.view;
    let layer = ui
        .layer_of
        .with(|l| l.get(id).copied().flatten())
        .map_or("none (excluded)".to_string(), |l| l.to_string());
    let referrers = &drawn.referrers[id];
    let mut named: Vec<&str> = referrers
        .iter()
        .take(NAMED)
        .map(|&r| view.name(r as usize))
        .collect();
    let more = format!("+{} more", referrers.len().saturating_sub(NAMED));
    if referrers.len() > NAMED {
        named.push(&more);
    }
    let by = if referrers.is_empty() {
        "no path references it (a root)".to_string()
    } else {
        format!("referenced by {}: {}", referrers.len(), named.join(", "))
    };
    view! {
        <strong>{view.name(id).to_string()}</strong>
        <span class="tip-path">{view.paths[id].clone()}</span>
        <span>{format!("size {} · closure {} · layer {layer}", human_bytes(view.sizes[id]),
            human_bytes(view.closure_size(id)))}</span>
        <span>{by}</span>
    }
}

/// The reference graph panel.
#[component]
pub fn Graph() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let canvas = NodeRef::<Canvas>::new();
    let camera = RwSignal::new(None::<Camera>);
    let pointed = RwSignal::new(None::<(usize, f64, f64)>);
    // Where a drag started: pointer and camera.
    let drag = StoredValue::new(None::<(f64, f64, Camera, bool)>);
    // The drawing last painted, to mark its first paint.
    let first_paint = StoredValue::new(None::<(u64, usize, String)>);
    let size = move || {
        canvas
            .get_untracked()
            .map(|c: HtmlCanvasElement| (c.client_width() as f64, c.client_height() as f64))
            .unwrap_or((600.0, 400.0))
    };
    // A new drawing starts whole.
    Effect::new(move |_| {
        ui.graph.track();
        ui.height.track();
        camera.set(None);
        pointed.set(None);
    });
    let found = Memo::new(move |_| Arc::new(search(ui, &ui.query.get())));
    let focus_id = Memo::new(move |_| {
        let path = ui.focus.get()?;
        ui.graph.with(|g| g.as_ref()?.find(&path))
    });
    // Paints once per animation frame, in a task of its own (a change of
    // several signals, or many pointer moves, paint once).
    let paint = move || {
        let Some(el) = canvas.get_untracked() else {
            return;
        };
        let height = ui.height.get_untracked();
        let Some(drawn) = ui.graph.get_untracked() else {
            return;
        };
        let layer_of = ui.layer_of.get_untracked();
        let found = found.get_untracked();
        let focus = focus_id.get_untracked();
        let pointed = pointed.get_untracked().map(|p| p.0);
        let lit = untrack(|| lit_mask(ui, &drawn, &layer_of));
        let (width, _) = size();
        let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
        // Setting a canvas's size, even to the one it has, makes it a new
        // bitmap: only when it changed.
        let (w, h) = ((width * dpr) as u32, (height * dpr) as u32);
        if (el.width(), el.height()) != (w, h) {
            el.set_width(w);
            el.set_height(h);
        }
        let cam = match camera.get_untracked() {
            Some(c) => c,
            None => {
                let c = Camera::fit(&drawn, width, height);
                camera.set(Some(c));
                c
            }
        };
        let Some(ctx) = el
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
        else {
            return;
        };
        let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
        let frame = Frame {
            drawn: &drawn,
            layer_of: &layer_of,
            lit: lit.as_deref(),
            found: &found,
            focus,
            pointed,
            camera: cam,
            width,
            height,
        };
        frame.paint(&ctx);
        if first_paint.get_value().as_ref() != Some(&drawn.key) {
            first_paint.set_value(Some(drawn.key.clone()));
            super::mark("strata:graph-drawn");
        }
        let lit_count = lit
            .as_ref()
            .map_or(drawn.view.len(), |l| l.iter().filter(|&&x| x).count());
        let _ = el.set_attribute("data-paths", &drawn.view.len().to_string());
        let _ = el.set_attribute("data-lit", &lit_count.to_string());
    };
    let frame_asked = StoredValue::new(false);
    Effect::new(move |_| {
        canvas.track();
        ui.height.track();
        ui.graph.track();
        ui.layer_of.track();
        found.track();
        focus_id.track();
        pointed.track();
        camera.track();
        ui.hover.track();
        ui.focus.track();
        ui.layer.track();
        if frame_asked.get_value() {
            return;
        }
        frame_asked.set_value(true);
        let callback = Closure::once_into_js(move || {
            frame_asked.set_value(false);
            paint();
        });
        if let Some(w) = web_sys::window() {
            let _ = w.request_animation_frame(callback.unchecked_ref());
        }
    });
    // The page's own tests read the drawing through two functions on the
    // canvas (a canvas has no elements to query).
    Effect::new(move |_| {
        let Some(el) = canvas.get() else { return };
        let nodes = Closure::<dyn Fn() -> JsValue>::new(move || {
            let out = js_sys::Array::new();
            let Some(drawn) = ui.graph.get_untracked() else {
                return out.into();
            };
            let layer_of = ui.layer_of.get_untracked();
            let lit = untrack(|| lit_mask(ui, &drawn, &layer_of));
            for id in 0..drawn.view.len() {
                let layer = layer_of.get(id).copied().flatten();
                let row = js_sys::Array::new();
                row.push(&JsValue::from_str(&drawn.view.paths[id]));
                row.push(&JsValue::from_str(
                    &layer.map_or("-".to_string(), |l| l.to_string()),
                ));
                row.push(&JsValue::from_str(&layer_colour(layer.map(|l| l as usize))));
                row.push(&JsValue::from_bool(lit.as_ref().is_some_and(|l| !l[id])));
                out.push(&row);
            }
            out.into()
        });
        let locate = Closure::<dyn Fn(String) -> JsValue>::new(move |path: String| {
            let Some(drawn) = ui.graph.get_untracked() else {
                return JsValue::NULL;
            };
            let Some(id) = drawn.find(&path) else {
                return JsValue::NULL;
            };
            let Some(el) = canvas.get_untracked() else {
                return JsValue::NULL;
            };
            let Some(cam) = camera.get_untracked() else {
                return JsValue::NULL;
            };
            let (sx, sy) = cam.screen(drawn.view.x[id], drawn.view.y[id]);
            let rect = el.get_bounding_client_rect();
            let at = js_sys::Array::new();
            at.push(&JsValue::from_f64(rect.left() + sx));
            at.push(&JsValue::from_f64(rect.top() + sy));
            at.into()
        });
        let _ = js_sys::Reflect::set(&el, &"strataNodes".into(), nodes.as_ref());
        let _ = js_sys::Reflect::set(&el, &"strataLocate".into(), locate.as_ref());
        nodes.forget();
        locate.forget();
    });
    let local = move |ev: &web_sys::MouseEvent| {
        let rect = canvas
            .get_untracked()
            .map(|c: HtmlCanvasElement| c.get_bounding_client_rect());
        let (left, top) = rect.map_or((0.0, 0.0), |r| (r.left(), r.top()));
        (ev.client_x() as f64 - left, ev.client_y() as f64 - top)
    };
    let on_wheel = move |ev: web_sys::WheelEvent| {
        let Some(cam) = camera.get_untracked() else {
            return;
        };
        ev.prevent_default();
        let (px, py) = local(&ev);
        camera.set(Some(cam.zoom((-ev.delta_y() * 0.0015).exp(), px, py)));
    };
    let on_down = move |ev: web_sys::MouseEvent| {
        let (px, py) = local(&ev);
        if let Some(cam) = camera.get_untracked() {
            drag.set_value(Some((px, py, cam, false)));
        }
    };
    let on_move = move |ev: web_sys::MouseEvent| {
        let (px, py) = local(&ev);
        if let Some((x0, y0, cam, moved)) = drag.get_value() {
            let moved = moved || (px - x0).abs() + (py - y0).abs() > 3.0;
            drag.set_value(Some((x0, y0, cam, moved)));
            if moved {
                camera.set(Some(Camera {
                    x: cam.x + px - x0,
                    y: cam.y + py - y0,
                    ..cam
                }));
                return;
            }
        }
        let hit = ui.graph.with_untracked(|g| {
            let g = g.as_ref()?;
            Frame::hit(g, camera.get_untracked()?, px, py)
        });
        if hit != pointed.get_untracked().map(|p| p.0) || hit.is_some() {
            pointed.set(hit.map(|id| (id, px, py)));
        }
    };
    let on_up = move |ev: web_sys::MouseEvent| {
        let moved = drag.get_value().is_some_and(|d| d.3);
        drag.set_value(None);
        if moved {
            return;
        }
        let (px, py) = local(&ev);
        let picked = ui.graph.with_untracked(|g| {
            let g = g.as_ref()?;
            let id = Frame::hit(g, camera.get_untracked()?, px, py)?;
            Some((g.view.paths[id].clone(), id))
        });
        match picked {
            Some((path, id)) => {
                let layer = ui.layer_of.with_untracked(|l| l.get(id).copied().flatten());
                ui.focus.set(Some(path));
                ui.layer.set(layer.map(|l| l as usize));
            }
            None => ui.focus.set(None),
        }
    };
    let zoom_by = move |factor: f64| {
        let (w, h) = size();
        if let Some(cam) = camera.get_untracked() {
            camera.set(Some(cam.zoom(factor, w / 2.0, h / 2.0)));
        }
    };
    let tip = move || {
        let (id, px, py) = pointed.get()?;
        let drawn = ui.graph.get()?;
        let (w, _) = size();
        // Left of the pointer on the right half, so it stays inside.
        let style = if px > w / 2.0 {
            format!("right: {:.0}px; top: {:.0}px", w - px + 14.0, py + 14.0)
        } else {
            format!("left: {:.0}px; top: {:.0}px", px + 14.0, py + 14.0)
        };
        Some(
            view! { <div class="graph-tip" data-testid="graph-tip" style=style>{tooltip(ui, &drawn, id)}</div> },
        )
    };
    let status = move || {
        let drawn = ui.graph.get()?;
        let n = drawn.view.len();
        let edges: usize = drawn.view.references.iter().map(Vec::len).sum();
        let found = found.with(|f| f.len());
        let mut line = format!("{n} paths, {edges} references");
        if edges > ALL_EDGES {
            line += " (point at a path to see its own)";
        }
        if !ui.query.with(|q| q.trim().is_empty()) {
            line += &format!("; {found} found by the search, ringed");
        }
        Some(line)
    };
    view! {
        <section class="graph-panel">
            <h2>"Reference graph"</h2>
            <p class="hint">"One circle per store path (area by size, colour by layer), roots on top, references pointing down. "
                "Wheel to zoom, drag to pan, point at a path for its sizes and referrers; click it to pick it (it and every path depending on it stay lit)."</p>
            <div class="graph-tools">
                <button data-testid="zoom-in" title="zoom in" on:click=move |_| zoom_by(1.5)>"+"</button>
                <button data-testid="zoom-out" title="zoom out" on:click=move |_| zoom_by(1.0 / 1.5)>"−"</button>
                <button data-testid="zoom-fit" title="the whole graph" on:click=move |_| camera.set(None)>"fit"</button>
                <span class="hint" data-testid="graph-status">{status}</span>
            </div>
            <div class="graph-box" style=move || format!("height: {:.0}px", ui.height.get())>
                <canvas data-testid="graph" node_ref=canvas role="img" aria-label="reference graph of the shown image"
                    on:wheel=on_wheel on:mousedown=on_down on:mousemove=on_move on:mouseup=on_up
                    on:mouseleave=move |_| { pointed.set(None); drag.set_value(None); }></canvas>
                {tip}
            </div>
        </section>
    }
}
