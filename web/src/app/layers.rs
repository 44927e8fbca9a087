//! The shown plan in words and numbers: the bar above the drawings (which
//! image, revision, algorithm and budget; the plan's size; its download
//! and the `strata plan` command that writes the same bytes), and below
//! them the table of layers with the build on the server.

use leptos::prelude::*;
use strata_planner::human_bytes;

use super::Ui;
use crate::drawing::layer_colour;
use crate::planning::FleetView;

/// The bar above the drawings.
#[component]
pub fn Summary() -> impl IntoView {
    let ui = expect_context::<Ui>();
    // The plan's canonical bytes, as `strata plan -o` writes them, as a
    // blob (a data: address of a big plan would weigh on the page).
    let href = RwSignal::new(String::new());
    Effect::new(move |previous: Option<String>| {
        if let Some(old) = previous.filter(|u| !u.is_empty()) {
            let _ = web_sys::Url::revoke_object_url(&old);
        }
        let url = ui
            .plan_blob
            .with(|b| {
                b.as_ref()
                    .and_then(|b| web_sys::Url::create_object_url_with_blob(b).ok())
            })
            .unwrap_or_default();
        href.set(url.clone());
        url
    });
    let images = move || ui.fleet.with(FleetView::images);
    let revisions = move || ui.fleet.with(|f| f.revisions.len());
    view! {
        <section class="summary-bar">
            <div class="controls">
                <super::compare::Controls/>
                <label class:hidden=move || images().len() < 2>
                    "Image "
                    <select data-testid="image" on:change=move |ev| {
                        ui.image.set(Some(event_target_value(&ev)));
                    }>
                        {move || images().into_iter().map(|name| {
                            let selected = { let name = name.clone(); move || ui.shown_image.get() == name };
                            view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label class:hidden=move || revisions() < 2>
                    "Revision "
                    <select data-testid="revision" on:change=move |ev| {
                        ui.revision.set(event_target_value(&ev).parse().unwrap_or(usize::MAX));
                    }>
                        {move || (0..revisions()).map(|r| view! {
                            <option value=r.to_string() selected=move || ui.shown_revision.get() == r>{r}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <span class="hint planning" data-testid="planning"
                data-worker-ms=move || { let (p, c) = ui.worker_ms.get(); format!("{p:.0} {c:.0}") }>{move || ui.planning.get().then_some("planning…")}</span>
            {move || match ui.plan.get() {
                Err(e) => view! { <p class="plan-summary error" data-testid="plan-summary">{e}</p> }.into_any(),
                Ok(p) => {
                    let paths = p.paths;
                    let key = if p.pipeline {
                        "pipeline"
                    } else {
                        ui.algorithm.get().key
                    };
                    view! {
                        <p class="plan-summary">
                            <strong>{ui.shown_image.get()}</strong>": "
                            <span data-testid="plan-summary">
                                {format!("{paths} paths, {} in {} layers ({key})", human_bytes(p.size), p.layers.len())}
                            </span>
                        </p>
                        <a class="button primary" data-testid="download-plan" href=move || href.get() download=move || ui.file_name.get()
                            title="what strata plan writes with the flags below; strata build builds the image from it">
                            "Download this plan"
                        </a>
                    }.into_any()
                }
            }}
            {move || ui.command.get().map(|line| view! {
                <code class="cli" data-testid="cli-line" title="the same plan from the command line">{line}</code>
            })}
        </section>
    }
}

/// The table of layers, and the build on the server when there is one.
#[component]
pub fn Layers() -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        <section class="layers">
            <h2>"Layers"</h2>
            {move || ui.plan.get().ok().map(|p| {
                let total = p.size.max(1);
                let name = ui.shown_image.get();
                let build = {
                    let image = name.clone();
                    move || {
                        ui.server.get()?;
                        let plan = ui.plan_blob.get()?;
                        Some(view! { <super::build::Build plan image=image.clone()/> })
                    }
                };
                view! {
                    <table data-testid="plan-table">
                        <thead><tr><th>"layer"</th><th>"paths"</th><th>"size"</th><th>"share"</th><th>"largest path"</th></tr></thead>
                        <tbody>
                            {p.layers.iter().enumerate().map(|(i, l)| {
                                let largest = l.largest.clone();
                                view! {
                                    <tr data-testid="plan-layer" title=l.names.clone()
                                        class:chosen=move || ui.layer.get() == Some(i)
                                        on:click=move |_| ui.layer.set(Some(i))>
                                        <td>
                                            <span class="swatch" style=format!("background: {}", layer_colour(Some(i)))></span>
                                            {i}
                                        </td>
                                        <td>{l.paths}</td>
                                        <td>{human_bytes(l.size)}</td>
                                        <td>{format!("{:.1}%", l.size as f64 * 100.0 / total as f64)}</td>
                                        <td>{largest}{l.base.then_some(" (base)")}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {build}
                }
            })}
        </section>
    }
}
