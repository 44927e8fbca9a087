//! The shown image's reference graph, each path coloured by its layer in
//! the shown plan, the largest paths labelled. The layer pointed at or
//! selected in the stack is lit (the rest fade); a click on a path picks
//! it for pinning or excluding and selects its layer.

use leptos::prelude::*;
use strata_planner::human_bytes;

use super::Ui;
use crate::drawing::{draw, label_x, labelled, layer_colour, WIDTH};

/// How many of the largest paths carry a label.
const LABELS: usize = 18;
/// Longest label, in characters.
const LABEL_CHARS: usize = 24;

fn short(name: &str) -> String {
    if name.chars().count() <= LABEL_CHARS {
        name.to_string()
    } else {
        let cut: String = name.chars().take(LABEL_CHARS - 1).collect();
        format!("{cut}…")
    }
}

/// The reference graph panel.
#[component]
pub fn Graph() -> impl IntoView {
    let ui = expect_context::<Ui>();
    // The layer to light: the one pointed at, else the one selected.
    let lit = move || ui.hover.get().or(ui.layer.get());
    let drawing = move || {
        let plan = ui.plan.get().ok()?;
        ui.with_closure(|c| draw(&c.graph, &plan))
    };
    view! {
        <section class="graph-panel">
            <h2>"Reference graph"</h2>
            <p class="hint">"One circle per store path (area by size, colour by layer), roots on top, references pointing down. Click a path to pin or exclude it."</p>
            {move || drawing().map(|drawing| {
                let view_box = format!("0 0 {WIDTH} {:.0}", drawing.height);
                let edges = drawing.edges.iter().map(|&(from, to)| {
                    let (a, b) = (&drawing.nodes[from], &drawing.nodes[to]);
                    let (la, lb) = (a.layer, b.layer);
                    view! {
                        <line x1=format!("{:.1}", a.x) y1=format!("{:.1}", a.y)
                            x2=format!("{:.1}", b.x) y2=format!("{:.1}", b.y)
                            class="edge" class:dim=move || lit().is_some_and(|l| Some(l) != la && Some(l) != lb)/>
                    }
                }).collect_view();
                let nodes = drawing.nodes.iter().map(|node| {
                    let layer = node.layer.map_or("-".to_string(), |l| l.to_string());
                    let title = format!("{} ({}), layer {layer}", node.name, human_bytes(node.size));
                    let (path, own) = (node.path.clone(), node.layer);
                    let focused = { let path = path.clone(); move || ui.focus.get().as_deref() == Some(path.as_str()) };
                    let pick = move |_| {
                        ui.focus.set(Some(path.clone()));
                        ui.layer.set(own);
                    };
                    view! {
                        <circle data-testid="graph-node" data-path=node.path.clone() data-layer=layer
                            cx=format!("{:.1}", node.x) cy=format!("{:.1}", node.y) r=format!("{:.1}", node.r)
                            fill=layer_colour(node.layer) class="node"
                            class:dim=move || lit().is_some_and(|l| Some(l) != own)
                            class:focused=focused
                            on:click=pick
                            on:mouseenter=move |_| ui.hover.set(own)
                            on:mouseleave=move |_| ui.hover.set(None)>
                            <title>{title}</title>
                        </circle>
                    }
                }).collect_view();
                let labels = labelled(&drawing, LABELS, LABEL_CHARS).into_iter().map(|i| {
                    let node = &drawing.nodes[i];
                    let own = node.layer;
                    view! {
                        <text x=format!("{:.1}", label_x(node, LABEL_CHARS)) y=format!("{:.1}", node.y + node.r + 12.0)
                            class="label" class:dim=move || lit().is_some_and(|l| Some(l) != own)>
                            {short(&node.name)}
                        </text>
                    }
                }).collect_view();
                view! {
                    <svg data-testid="graph" viewBox=view_box width="100%" role="img"
                        aria-label="reference graph of the shown image">
                        <g>{edges}</g>
                        <g>{nodes}</g>
                        <g>{labels}</g>
                    </svg>
                }
            })}
        </section>
    }
}
