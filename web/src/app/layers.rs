//! The shown plan in words and numbers: the bar above the drawings (which
//! image, revision, algorithm and budget; the plan's size; its download
//! and the `strata plan` command that writes the same bytes), and below
//! them the table of layers with the build on the server.

use leptos::prelude::*;
use strata_planner::human_bytes;

use super::Ui;
use crate::cut::{cli_line, Setting};
use crate::drawing::layer_colour;
use crate::fleet::Fleet;

/// The download's file name: the image, and the revision when the page
/// holds several.
fn file_name(ui: Ui) -> String {
    let name = ui.shown_image.get();
    if ui.fleet.with(|f| f.revisions.len()) > 1 {
        format!("{name}.rev{}.plan.json", ui.shown_revision.get())
    } else {
        format!("{name}.plan.json")
    }
}

/// The `strata plan` line for the shown plan.
fn command(ui: Ui) -> Option<String> {
    let (r, name) = (ui.shown_revision.get(), ui.shown_image.get());
    let planner = ui.algorithm.get();
    let earlier = r.checked_sub(1);
    ui.with_closure(|closure| {
        let has_earlier = earlier.is_some_and(|e| {
            ui.fleet
                .with(|f| f.revisions[e].iter().any(|c| c.image == name))
        });
        // Only whether there is one matters to the command line.
        let stand_in = ui.plan.get().ok();
        ui.fleet.with(|f| {
            let setting = Setting {
                closure,
                planner,
                budget: ui.budget.get(),
                popularity: f.popularity.as_ref().map(|p| &p.counts),
                earlier: stand_in.as_ref().filter(|_| has_earlier),
            };
            let closure_file = if f.revisions.len() > 1 {
                format!("rev{r}/{name}.json")
            } else {
                format!("{name}.json")
            };
            let earlier_file = format!("{name}.rev{}.plan.json", r.saturating_sub(1));
            ui.cut
                .with(|c| cli_line(&setting, c, &closure_file, &earlier_file))
        })
    })
}

/// The bar above the drawings.
#[component]
pub fn Summary() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let images = move || ui.fleet.with(Fleet::images);
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
            {move || match ui.plan.get() {
                Err(e) => view! { <p class="plan-summary error" data-testid="plan-summary">{e}</p> }.into_any(),
                Ok(p) => {
                    let paths: usize = p.layers.iter().map(|l| l.paths.len()).sum();
                    let key = if p.algorithm.name == strata_planner::Algorithm::Pipeline {
                        "pipeline"
                    } else {
                        ui.algorithm.get().key
                    };
                    // The plan's canonical bytes, as `strata plan -o` writes them.
                    let href = format!(
                        "data:application/json;charset=utf-8,{}",
                        js_sys::encode_uri_component(&p.to_json())
                    );
                    view! {
                        <p class="plan-summary">
                            <strong>{ui.shown_image.get()}</strong>": "
                            <span data-testid="plan-summary">
                                {format!("{paths} paths, {} in {} layers ({key})", human_bytes(p.size), p.layers.len())}
                            </span>
                        </p>
                        <a class="button primary" data-testid="download-plan" href=href download=file_name(ui)
                            title="what strata plan writes with the flags below; strata build builds the image from it">
                            "Download this plan"
                        </a>
                    }.into_any()
                }
            }}
            {move || command(ui).map(|line| view! {
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
                    let (plan, image) = (p.clone(), name.clone());
                    move || ui.server.get().is_some().then(|| view! {
                        <super::build::Build plan=plan.clone() image=image.clone()/>
                    })
                };
                view! {
                    <table data-testid="plan-table">
                        <thead><tr><th>"layer"</th><th>"paths"</th><th>"size"</th><th>"share"</th><th>"largest path"</th></tr></thead>
                        <tbody>
                            {p.layers.iter().enumerate().map(|(i, l)| {
                                let largest = l.largest_path()
                                    .map(|p| p.name().to_string())
                                    .unwrap_or_default();
                                view! {
                                    <tr data-testid="plan-layer" title=l.paths.join("\n")
                                        class:chosen=move || ui.layer.get() == Some(i)
                                        on:click=move |_| ui.layer.set(Some(i))>
                                        <td>
                                            <span class="swatch" style=format!("background: {}", layer_colour(Some(i)))></span>
                                            {i}
                                        </td>
                                        <td>{l.paths.len()}</td>
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
