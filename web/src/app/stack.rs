//! The shown plan as a stack drawn to scale: one bar per layer, the first
//! (most shared) at the bottom, its height by bytes, coloured as in the
//! graph. Pointing at a bar lights its paths in the graph; clicking it
//! lists them below the stack, each one pinnable or excludable.

use leptos::prelude::*;
use strata_planner::human_bytes;

use super::hand::PathRow;
use super::Ui;
use crate::drawing::{layer_colour, stack_heights, text_colour};

/// The least height of a bar (so the smallest layer can still be pointed
/// at); the stack is as high as the graph beside it ([`Ui::height`]).
const LEAST: f64 = 6.0;
/// The selected layer's paths listed at most (the rest are counted).
const LISTED: usize = 200;
/// Bars at least this high carry their label inside.
const LABELLED: f64 = 17.0;

/// "1 path", "3 paths".
fn paths(n: usize) -> String {
    if n == 1 {
        "1 path".to_string()
    } else {
        format!("{n} paths")
    }
}

/// The stack and the selected layer's paths.
#[component]
pub fn Stack() -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        <section class="stack-panel">
            <h2>"Layers, to scale"</h2>
            {move || ui.plan.get().ok().map(|p| {
                let sizes: Vec<u64> = p.layers.iter().map(|l| l.size).collect();
                let heights = stack_heights(&sizes, ui.height.get(), LEAST);
                let bars = p.layers.iter().enumerate().zip(heights).map(|((i, l), h)| {
                    let more = if l.paths > 1 { format!(" +{}", l.paths - 1) } else { String::new() };
                    let label = format!("{i} · {} · {}{more}", human_bytes(l.size), l.largest);
                    let style = format!(
                        "height: {h:.1}px; background: {}; color: {}",
                        layer_colour(Some(i)), text_colour(Some(i))
                    );
                    let title = format!("layer {i}: {}, {}\n{}", paths(l.paths), human_bytes(l.size), l.names);
                    view! {
                        <div class="stack-bar" data-testid="stack-layer" data-layer=i.to_string()
                            data-size=l.size.to_string() style=style title=title
                            class:chosen=move || ui.layer.get() == Some(i)
                            class:lit=move || ui.hover.get() == Some(i)
                            on:mouseenter=move |_| ui.hover.set(Some(i))
                            on:mouseleave=move |_| ui.hover.set(None)
                            on:click=move |_| ui.layer.update(|l| *l = if *l == Some(i) { None } else { Some(i) })>
                            {(h >= LABELLED).then(|| view! { <span class="stack-label">{label}</span> })}
                        </div>
                    }
                }).collect_view();
                view! {
                    <p class="hint">{format!("{} in {} layers; the bottom layer is pulled first and shared most.",
                        human_bytes(p.size), p.layers.len())}</p>
                    <div class="stack" data-testid="stack">{bars}</div>
                }
            })}
            <LayerPaths/>
        </section>
    }
}

/// The selected layer's paths, largest first.
#[component]
fn LayerPaths() -> impl IntoView {
    let ui = expect_context::<Ui>();
    move || {
        let plan = ui.plan.get().ok()?;
        let Some(i) = ui.layer.get().filter(|&i| i < plan.layers.len()) else {
            return Some(
                view! { <p class="hint">"Click a layer to list its paths; click a circle in the graph for one path."</p> }
                    .into_any(),
            );
        };
        let layer = &plan.layers[i];
        let mut rows: Vec<(String, u64)> = ui.graph.with(|g| {
            let Some(g) = g else { return Vec::new() };
            ui.layer_of.with(|l| {
                (0..g.view.len())
                    .filter(|&id| l.get(id).copied().flatten() == Some(i as u32))
                    .map(|id| (g.view.paths[id].clone(), g.view.sizes[id]))
                    .collect()
            })
        });
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let more = rows.len().saturating_sub(LISTED);
        rows.truncate(LISTED);
        Some(
            view! {
                <div class="layer-paths" data-testid="layer-paths">
                    <h3>
                        <span class="swatch" style=format!("background: {}", layer_colour(Some(i)))></span>
                        {format!("Layer {i}: {}, {}", paths(layer.paths), human_bytes(layer.size))}
                        {layer.base.then_some(" (from the base plan)")}
                    </h3>
                    <ul class="paths">
                        {rows.into_iter().map(|(path, size)| view! { <PathRow path size layer=Some(i)/> }).collect_view()}
                    </ul>
                    {(more > 0).then(|| view! { <p class="hint">{format!("… and {more} smaller paths (find one by name)")}</p> })}
                </div>
            }
            .into_any(),
        )
    }
}
