//! One image's layers at one revision, and its reference graph.

use leptos::prelude::*;
use strata_planner::{human_bytes, Plan};

use crate::drawing::{draw, layer_colour, WIDTH};
use crate::fleet::{Comparison, Fleet, Planner};

/// One image's layers at one revision, from the chosen algorithm's plans.
#[component]
pub fn Layers(
    fleet: RwSignal<Fleet>,
    comparisons: Memo<Vec<Comparison>>,
    algorithm: RwSignal<Planner>,
    /// The serving `strata serve`'s examples; the build action shows only
    /// when there is a server.
    server: RwSignal<Option<Vec<serde_json::Value>>>,
) -> impl IntoView {
    // The image by name, so it stays the same image when revisions hold
    // different sets; the first image until one is picked.
    let image = RwSignal::new(None::<String>);
    let revision = RwSignal::new(usize::MAX);
    let images = move || fleet.with(Fleet::images);
    let revisions = move || fleet.with(|f| f.revisions.len());
    // The newest revision unless one was picked; clamped when the fleet shrinks.
    let shown_revision = move || revision.get().min(revisions().saturating_sub(1));
    let shown_image = move || {
        let names = images();
        image
            .get()
            .filter(|name| names.contains(name))
            .or_else(|| names.first().cloned())
            .unwrap_or_default()
    };
    // Where the shown image is in the shown revision, if it is there.
    let position = move || {
        let (r, name) = (shown_revision(), shown_image());
        fleet.with(|f| f.revisions.get(r)?.iter().position(|c| c.image == name))
    };
    let plan = move || -> Option<Plan> {
        let (r, i) = (shown_revision(), position()?);
        comparisons.with(|cs| {
            let c = cs.iter().find(|c| c.planner == algorithm.get())?;
            c.result.as_ref().ok()?.revisions.get(r)?.get(i).cloned()
        })
    };
    view! {
        <section class="layers">
            <h2>"Layers"</h2>
            <label>
                "Image "
                <select data-testid="image" on:change=move |ev| {
                    image.set(Some(event_target_value(&ev)));
                }>
                    {move || images().into_iter().map(|name| {
                        let selected = { let name = name.clone(); move || shown_image() == name };
                        view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>
                " Revision "
                <select data-testid="revision" on:change=move |ev| {
                    revision.set(event_target_value(&ev).parse().unwrap_or(usize::MAX));
                }>
                    {move || (0..revisions()).map(|r| view! {
                        <option value=r.to_string() selected=move || shown_revision() == r>{r}</option>
                    }).collect_view()}
                </select>
            </label>
            {move || match plan() {
                None => {
                    let (name, r) = (shown_image(), shown_revision());
                    let text = if position().is_some() {
                        format!("{} could not plan {name} (see Compare)", algorithm.get().key)
                    } else {
                        format!("{name} is not in revision {r}")
                    };
                    view! { <p data-testid="plan-summary">{text}</p> }.into_any()
                }
                Some(p) => {
                let total = p.size.max(1);
                let name = shown_image();
                // The plan's canonical bytes, as `strata plan -o` writes them.
                let href = format!(
                    "data:application/json;charset=utf-8,{}",
                    js_sys::encode_uri_component(&p.to_json())
                );
                view! {
                    <p data-testid="plan-summary">
                        {format!("{} paths, {} in {} layers ({})", p.layers.iter().map(|l| l.paths.len()).sum::<usize>(),
                            human_bytes(p.size), p.layers.len(), algorithm.get().key)}
                    </p>
                    <p>
                        <a data-testid="download-plan" href=href
                            download=format!("{name}.rev{}.plan.json", shown_revision())>
                            "Download this plan"
                        </a>
                        " (what "<code>"strata plan"</code>" writes for this image and revision; "
                        <code>"strata build"</code>" builds the image from it)"
                    </p>
                    {
                        let (plan, image) = (p.clone(), name.clone());
                        move || server.get().is_some().then(|| view! {
                            <super::build::Build plan=plan.clone() image=image.clone()/>
                        })
                    }
                    <table data-testid="plan-table">
                        <thead><tr><th>"layer"</th><th>"paths"</th><th>"size"</th><th>"share"</th><th>"largest path"</th></tr></thead>
                        <tbody>
                            {p.layers.iter().enumerate().map(|(i, l)| {
                                let largest = l.largest_path()
                                    .map(|p| p.name().to_string())
                                    .unwrap_or_default();
                                view! {
                                    <tr data-testid="plan-layer" title=l.paths.join("\n")>
                                        <td>
                                            <span class="swatch" style=format!("background: {}", layer_colour(Some(i)))></span>
                                            {i}
                                        </td>
                                        <td>{l.paths.len()}</td>
                                        <td>{human_bytes(l.size)}</td>
                                        <td>{format!("{:.1}%", l.size as f64 * 100.0 / total as f64)}</td>
                                        <td>{largest}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {position().map(|i| graph_view(&fleet, shown_revision(), i, &p))}
                }.into_any()
                }
            }}
        </section>
    }
}

/// The image's reference graph at this revision, each path coloured by its
/// layer in `plan` (hover a path for its name, size and layer).
fn graph_view(
    fleet: &RwSignal<Fleet>,
    revision: usize,
    image: usize,
    plan: &Plan,
) -> impl IntoView {
    let drawing = fleet.with(|f| draw(&f.revisions[revision][image].graph, plan));
    let view_box = format!("0 0 {WIDTH} {:.0}", drawing.height);
    let edges = drawing
        .edges
        .iter()
        .map(|&(from, to)| {
            let (a, b) = (&drawing.nodes[from], &drawing.nodes[to]);
            view! {
                <line x1=format!("{:.1}", a.x) y1=format!("{:.1}", a.y)
                    x2=format!("{:.1}", b.x) y2=format!("{:.1}", b.y)
                    stroke="#bbb" stroke-width="0.7"/>
            }
        })
        .collect_view();
    let nodes = drawing
        .nodes
        .iter()
        .map(|node| {
            let layer = node.layer.map_or("-".to_string(), |l| l.to_string());
            let title = format!("{} ({}), layer {layer}", node.name, human_bytes(node.size));
            view! {
                <circle data-testid="graph-node" data-path=node.path.clone() data-layer=layer
                    cx=format!("{:.1}", node.x) cy=format!("{:.1}", node.y) r=format!("{:.1}", node.r)
                    fill=layer_colour(node.layer) stroke="#333" stroke-width="0.5">
                    <title>{title}</title>
                </circle>
            }
        })
        .collect_view();
    view! {
        <h3>"Reference graph"</h3>
        <p class="hint">"Each circle is a store path (area by size, colour by layer); lines go from a path to what it references, downwards."</p>
        <svg data-testid="graph" viewBox=view_box width="100%" role="img">
            {edges}
            {nodes}
        </svg>
    }
}
