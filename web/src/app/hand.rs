//! The cut by hand: the path picked (in the graph, the stack or the
//! search) to pin or exclude, the pins and excludes so far, a base and a
//! previous plan, a `layeringPipeline` editor with its error under it, and
//! what the last change did to the figures. Every change replans at once.

use leptos::prelude::*;
use leptos::task::spawn_local;
use strata_planner::{human_bytes, Figure};
use web_sys::HtmlInputElement;

use super::Ui;
use crate::cut::{CutFigures, PlanFile};
use crate::drawing::layer_colour;

/// One store path, with what can be done to it.
#[component]
pub fn PathRow(
    /// The store path.
    path: String,
    /// Its NAR size.
    size: u64,
    /// Its layer in the shown plan (`None`: excluded, or in another image).
    layer: Option<usize>,
) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let name = path
        .split_once('-')
        .map_or(path.as_str(), |(_, n)| n)
        .to_string();
    let (p1, p2, p3, p4) = (path.clone(), path.clone(), path.clone(), path.clone());
    // A change renumbers the layers: the selection would point elsewhere.
    let change = move |f: &dyn Fn(&mut crate::cut::HandCut)| {
        ui.layer.set(None);
        ui.cut.update(|c| f(c));
    };
    let pinned = move || ui.cut.with(|c| c.pins.contains(&p1));
    let excluded = move || ui.cut.with(|c| c.excludes.contains(&p2));
    view! {
        <li class="path-row" data-testid="path-row" data-path=path.clone()>
            <span class="swatch" style=format!("background: {}", layer_colour(layer))></span>
            <button class="link" title=path.clone() on:click=move |_| ui.focus.set(Some(p3.clone()))>{name}</button>
            <span class="size">{human_bytes(size)}</span>
            {move || {
                let (p, e) = (p4.clone(), p4.clone());
                if pinned() || excluded() {
                    let label = if pinned() { "unpin" } else { "include" };
                    view! { <button data-testid="release" on:click=move |_| change(&|c| c.release(&p))>{label}</button> }.into_any()
                } else {
                    view! {
                        <button data-testid="pin" title="a layer of its own (--pin)" on:click=move |_| change(&|c| c.pin(&p))>"pin"</button>
                        <button data-testid="exclude" title="leave out of the image (--exclude)" on:click=move |_| change(&|c| c.exclude(&e))>"exclude"</button>
                    }.into_any()
                }
            }}
        </li>
    }
}

/// A path of the shown closure as a row, or a note when it is not there.
fn row_for(ui: Ui, path: &str) -> AnyView {
    let layer = layer_of(ui, path);
    let size = ui.size_of(path);
    match size {
        Some(size) => view! { <PathRow path=path.to_string() size layer/> }.into_any(),
        None => {
            let p = path.to_string();
            view! {
                <li class="path-row" data-testid="path-row" data-path=path.to_string()>
                    <span class="missing" title=path.to_string()>{format!("{path} (not in this image)")}</span>
                    <button data-testid="release" on:click=move |_| ui.cut.update(|c| c.release(&p))>"remove"</button>
                </li>
            }
            .into_any()
        }
    }
}

/// A path's layer in the shown plan.
fn layer_of(ui: Ui, path: &str) -> Option<usize> {
    let id = ui.graph.with(|g| g.as_ref()?.find(path))?;
    ui.layer_of
        .with(|l| l.get(id).copied().flatten().map(|l| l as usize))
}

/// Paths of the shown image whose store path holds `query` (any case).
pub fn search(ui: Ui, query: &str) -> Vec<usize> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    ui.graph.with(|g| {
        let Some(g) = g else { return Vec::new() };
        (0..g.view.len())
            .filter(|&id| g.view.paths[id].to_lowercase().contains(&q))
            .collect()
    })
}

/// The panel.
#[component]
pub fn Hand() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let query = ui.query;
    let results = move || {
        let found = search(ui, &query.get());
        let mut found: Vec<(String, u64)> = ui.graph.with(|g| {
            let Some(g) = g else { return Vec::new() };
            found
                .iter()
                .map(|&id| (g.view.paths[id].clone(), g.view.sizes[id]))
                .collect()
        });
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        found.truncate(12);
        found
    };
    let file_error = RwSignal::new(None::<String>);
    let plan_file = move |which: &'static str| {
        move |ev: leptos::ev::Event| {
            let input: HtmlInputElement = event_target(&ev);
            spawn_local(async move {
                let list = input.files();
                let file = list.and_then(|l| l.get(0));
                input.set_value("");
                let Some(file) = file else { return };
                let bytes = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await;
                let text = bytes
                    .map(|b| crate::server::bytes_text(&b))
                    .unwrap_or_default();
                match PlanFile::read(&file.name(), &text) {
                    Ok(plan) => {
                        file_error.set(None);
                        ui.cut.update(|c| c.set_plan_file(which, Some(plan)));
                    }
                    Err(e) => file_error.set(Some(format!("--{which} {e}"))),
                }
            });
        }
    };
    // A `--base` or `--previous` file input, with what it holds.
    let plan_input = move |which: &'static str, hint: &'static str| {
        view! {
            <label class="block">
                <code>{format!("--{which}")}</code>{hint}
                <input type="file" accept=".json,application/json" data-testid=format!("{which}-file") on:change=plan_file(which)/>
            </label>
            {move || ui.cut.with(|c| c.plan_file(which).cloned()).map(|b| view! {
                <p>{b.file}" "<button data-testid=format!("clear-{which}") on:click=move |_| ui.cut.update(|c| c.set_plan_file(which, None))>"remove"</button></p>
            })}
        }
    };
    let plan_error = move || ui.plan.get().err();
    let pipeline_error = move || {
        ui.cut
            .with(|c| c.pipeline().err())
            .or_else(|| plan_error().filter(|e| e.starts_with("pipeline")))
    };
    view! {
        <aside class="hand-panel">
            <h2>"Change the cut"</h2>
            {move || ui.focus.get().map(|path| view! {
                <div class="focus" data-testid="focus-path">
                    <h3>"Picked path"</h3>
                    <ul class="paths">{row_for(ui, &path)}</ul>
                </div>
            })}
            <label class="block">
                "Find a path "
                <input type="search" data-testid="path-search" placeholder="name, e.g. openssl"
                    prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))/>
            </label>
            <ul class="paths" data-testid="search-results">
                {move || results().into_iter().map(|(path, size)| {
                    let layer = layer_of(ui, &path);
                    view! { <PathRow path size layer/> }
                }).collect_view()}
            </ul>
            {move || {
                let cut = ui.cut.get();
                (!cut.pins.is_empty() || !cut.excludes.is_empty()).then(|| view! {
                    <h3>"Pinned"</h3>
                    <ul class="paths" data-testid="pins">{cut.pins.iter().map(|p| row_for(ui, p)).collect_view()}</ul>
                    <h3>"Excluded"</h3>
                    <ul class="paths" data-testid="excludes">{cut.excludes.iter().map(|p| row_for(ui, p)).collect_view()}</ul>
                })
            }}
            <details class="plans">
                <summary>"Base and previous plans"</summary>
                {plan_input("base", " (layers reused whole, as fromImage): ")}
                {plan_input("previous", " (this image's last plan, for stable layers): ")}
                {move || file_error.get().map(|e| view! { <p class="error" data-testid="plan-file-error">{e}</p> })}
            </details>
            <details class="pipeline" open=move || !ui.cut.with(|c| c.pipeline.trim().is_empty())>
                <summary>"layeringPipeline"</summary>
                <textarea data-testid="pipeline" rows="4" spellcheck="false"
                    placeholder=r#"[["popularity_contest"], ["limit_layers", 20]]"#
                    prop:value=move || ui.cut.with(|c| c.pipeline.clone())
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        ui.cut.update(|c| c.pipeline = text);
                    }></textarea>
                {move || pipeline_error().map(|e| view! { <p class="error" data-testid="pipeline-error">{e}</p> })}
            </details>
            {move || plan_error().filter(|e| !e.starts_with("pipeline")).map(|e| view! {
                <p class="error" data-testid="plan-error">{e}</p>
            })}
            <Figures/>
        </aside>
    }
}

/// A ratio and its bytes.
fn figure_text(f: &Figure) -> String {
    match f.ratio {
        Some(r) => format!("{r:.3} · {}", human_bytes(f.bytes)),
        None => "-".to_string(),
    }
}

/// What the last change did: the shown plan's figures before and now.
#[component]
fn Figures() -> impl IntoView {
    let ui = expect_context::<Ui>();
    type Row = (
        &'static str,
        &'static str,
        fn(&CutFigures) -> String,
        fn(&CutFigures) -> f64,
    );
    const ROWS: [Row; 5] = [
        (
            "layers",
            "layers",
            |f| f.layers.to_string(),
            |f| f.layers as f64,
        ),
        (
            "size",
            "image bytes",
            |f| human_bytes(f.size),
            |f| f.size as f64,
        ),
        (
            "largest",
            "largest layer",
            |f| human_bytes(f.largest),
            |f| f.largest as f64,
        ),
        (
            "fleet",
            "fleet pull",
            |f| figure_text(&f.fleet),
            |f| f.fleet.bytes as f64,
        ),
        (
            "update",
            "update pull",
            |f| figure_text(&f.update),
            |f| f.update.bytes as f64,
        ),
    ];
    view! {
        <div class="figures">
            <h3>"What the last change did"</h3>
            <table data-testid="cut-figures">
                <thead><tr><th></th><th>"before"</th><th>"now"</th></tr></thead>
                <tbody>
                    {move || {
                        let change = ui.change.get();
                        ROWS.iter().map(|&(key, label, text, value)| {
                            let before = change.before.as_ref();
                            let now = change.now.as_ref();
                            let moved = match (before, now) {
                                (Some(b), Some(n)) if value(b) < value(n) => "up",
                                (Some(b), Some(n)) if value(b) > value(n) => "down",
                                _ => "",
                            };
                            view! {
                                <tr>
                                    <th>{label}</th>
                                    <td data-testid=format!("figure-{key}-before")>{before.map_or("-".to_string(), text)}</td>
                                    <td data-testid=format!("figure-{key}-now") class=moved>{now.map_or("-".to_string(), text)}</td>
                                </tr>
                            }
                        }).collect_view()
                    }}
                </tbody>
            </table>
            <p class="hint">"Fleet and update: the compare row's figures with this image's plan at this revision replaced by the one shown (lower is better)."</p>
        </div>
    }
}
