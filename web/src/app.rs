//! The Leptos components: where the closures come from, the planning
//! controls, the compare table and one image's layers.

use leptos::prelude::*;
use leptos::task::spawn_local;
use strata_planner::{human_bytes, Figure, Plan};
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

use crate::drawing::{draw, layer_colour, WIDTH};
use crate::fleet::{
    compare, example_fleet, find_planner, ratio_text, read_popularity, read_revision, Comparison,
    Fleet, Planner, COMPARED,
};

/// The budget the page opens with: small enough that the algorithms differ
/// on the example's 6-52 path images (`?budget=N` overrides it).
const DEFAULT_BUDGET: usize = 20;

/// `?algorithm=auto&budget=12` in the page's address, for links to a view.
fn query(key: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(key)
}

/// What the page opens with when the host says (embedding); otherwise the
/// address's query, otherwise the defaults.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// The budget.
    pub budget: Option<usize>,
    /// The compare row whose layers are shown.
    pub algorithm: Option<String>,
}

/// The whole UI.
#[component]
pub fn App(start: Start) -> impl IntoView {
    let fleet = RwSignal::new(example_fleet());
    let algorithm = RwSignal::new(
        start
            .algorithm
            .or_else(|| query("algorithm"))
            .and_then(|a| find_planner(&a))
            .unwrap_or(COMPARED[0]),
    );
    let budget = RwSignal::new(
        start
            .budget
            .or_else(|| query("budget").and_then(|b| b.parse::<usize>().ok()))
            .filter(|&b| b > 0)
            .unwrap_or(DEFAULT_BUDGET),
    );
    let error = RwSignal::new(None::<String>);
    let comparisons = Memo::new(move |_| fleet.with(|f| compare(f, budget.get(), &COMPARED)));

    view! {
        <main class="strata">
            <header>
                <h1>"Strata"</h1>
                <p>
                    "How a Nix closure is cut into container image layers, and how many bytes "
                    "each cut makes clients pull across a fleet of images and its updates."
                </p>
            </header>
            <Source fleet error/>
            <Controls algorithm budget/>
            <Compare comparisons algorithm/>
            <Layers fleet comparisons algorithm/>
        </main>
    }
}

/// The chosen files' names and texts (the input is cleared, so choosing
/// the same files again is a new choice).
async fn read_files(input: &HtmlInputElement) -> Result<Vec<(String, String)>, String> {
    let files: Vec<web_sys::File> = match input.files() {
        Some(list) => (0..list.length()).filter_map(|i| list.get(i)).collect(),
        None => Vec::new(),
    };
    input.set_value("");
    let mut texts = Vec::with_capacity(files.len());
    for file in files {
        let text = JsFuture::from(file.text())
            .await
            .map_err(|_| format!("{}: could not be read", file.name()))?;
        texts.push((file.name(), text.as_string().unwrap_or_default()));
    }
    Ok(texts)
}

/// Where the closures come from: the example, or the user's files, one
/// file choice per revision; and the popularity `nixery` uses.
#[component]
fn Source(fleet: RwSignal<Fleet>, error: RwSignal<Option<String>>) -> impl IntoView {
    let add_revision = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        spawn_local(async move {
            match read_files(&input)
                .await
                .and_then(|texts| read_revision(&texts))
            {
                Ok(revision) => {
                    error.set(None);
                    fleet.update(|f| f.add_user_revision(revision));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let set_popularity = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        spawn_local(async move {
            let read = read_files(&input)
                .await
                .and_then(|texts| match texts.as_slice() {
                    [(name, text)] => Ok((name.clone(), read_popularity(name, text)?)),
                    _ => Err("choose one popularity file".to_string()),
                });
            match read {
                Ok(popularity) => {
                    error.set(None);
                    fleet.update(|f| f.popularity = Some(popularity));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <section class="source">
            <p data-testid="fleet-summary">{move || fleet.with(Fleet::summary)}</p>
            <label>
                "Add a revision from closure files (one per image, named after it: "
                <code>"nix path-info --json --recursive"</code>" or exportReferencesGraph): "
                <input type="file" multiple accept=".json,application/json"
                    data-testid="add-revision" on:change=add_revision/>
            </label>
            <br/>
            <label>
                "Popularity (Nixery's "<code>"{\"name-version\": count}"</code>", for nixery): "
                <input type="file" accept=".json,application/json"
                    data-testid="popularity-file" on:change=set_popularity/>
            </label>
            " "
            <button data-testid="use-example" on:click=move |_| {
                error.set(None);
                fleet.set(example_fleet());
            }>"Use the example fleet"</button>
            {move || error.get().map(|e| view! { <p class="error" data-testid="error">{e}</p> })}
        </section>
    }
}

/// The planner whose layers are shown, and the layer budget.
#[component]
fn Controls(algorithm: RwSignal<Planner>, budget: RwSignal<usize>) -> impl IntoView {
    view! {
        <section class="controls">
            <label>
                "Algorithm "
                <select data-testid="algorithm" on:change=move |ev| {
                    if let Some(p) = find_planner(&event_target_value(&ev)) {
                        algorithm.set(p);
                    }
                }>
                    {COMPARED.iter().map(|&p| view! {
                        <option value=p.key selected=move || algorithm.get() == p>{p.key}</option>
                    }).collect_view()}
                </select>
            </label>
            <label>
                " Budget (most layers) "
                <input type="number" min="1" max="1000" data-testid="budget"
                    prop:value=move || budget.get().to_string()
                    on:change=move |ev| {
                        if let Ok(b) = event_target_value(&ev).trim().parse::<usize>() {
                            if b > 0 {
                                budget.set(b);
                            }
                        }
                    }/>
            </label>
        </section>
    }
}

/// Every algorithm's pulled bytes over the fleet, as ratios to the bound of
/// one layer per store path (lower is better).
#[component]
fn Compare(comparisons: Memo<Vec<Comparison>>, algorithm: RwSignal<Planner>) -> impl IntoView {
    type Pick = fn(&strata_planner::Figures) -> &Figure;
    const FIGURES: [(&str, Pick); 3] = [
        ("fleet", |f| &f.fleet),
        ("update", |f| &f.update),
        ("image", |f| &f.image),
    ];
    let best = move |pick: Pick| {
        comparisons.with(|cs| {
            cs.iter()
                .filter_map(|c| c.result.as_ref().ok())
                .map(|p| pick(&p.figures).bytes)
                .min()
        })
    };
    view! {
        <section class="compare">
            <h2>"Compare"</h2>
            <table data-testid="compare-table">
                <thead>
                    <tr>
                        <th>"algorithm"</th>
                        {FIGURES.iter().map(|(name, _)| view! { <th>{*name}</th> }).collect_view()}
                        <th>"layers"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || comparisons.get().into_iter().map(|c| {
                        let name = c.planner.key;
                        let selected = move || algorithm.get() == c.planner;
                        match c.result {
                            Ok(plans) => {
                                let f = plans.figures;
                                view! {
                                    <tr data-testid=format!("compare-row-{name}") class:selected=selected>
                                        <th>{name}</th>
                                        {FIGURES.iter().map(|&(figure, pick)| {
                                            let fig = *pick(&f);
                                            let is_best = best(pick) == Some(fig.bytes);
                                            view! {
                                                <td data-testid=format!("compare-{name}-{figure}")
                                                    class:best=is_best
                                                    title=format!("{} pulled, bound {}", human_bytes(fig.bytes), human_bytes(fig.bound))>
                                                    {ratio_text(&fig)}
                                                </td>
                                            }
                                        }).collect_view()}
                                        <td>{f.max_layers}</td>
                                    </tr>
                                }.into_any()
                            }
                            Err(e) => view! {
                                <tr data-testid=format!("compare-row-{name}")>
                                    <th>{name}</th>
                                    <td colspan="4" class="error">{e}</td>
                                </tr>
                            }.into_any(),
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <p class="hint">
                "Ratios of bytes pulled to the bound of one layer per store path; lower is better. "
                "fleet: a node pulls every image of each revision. update: a node holding every "
                "image at the revision before pulls the next. image: each image updated alone. "
                "Each image is planned with its own plan at the revision before, as a CI job "
                "keeping its last plan does (fleet-alone: without it); "<code>"strata simulate"</code>
                " (with "<code>"--alone"</code>") prints the same figures."
            </p>
        </section>
    }
}

/// One image's layers at one revision, from the chosen algorithm's plans.
#[component]
fn Layers(
    fleet: RwSignal<Fleet>,
    comparisons: Memo<Vec<Comparison>>,
    algorithm: RwSignal<Planner>,
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
    let plan = move || -> Option<Plan> {
        let (r, name) = (shown_revision(), shown_image());
        let i = fleet.with(|f| f.revisions.get(r)?.iter().position(|c| c.image == name))?;
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
                    let held = fleet.with(|f| f.revisions.get(r).is_some_and(|rev| rev.iter().any(|c| c.image == name)));
                    let text = if held {
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
                    <table data-testid="plan-table">
                        <thead><tr><th>"layer"</th><th>"paths"</th><th>"size"</th><th>"share"</th><th>"largest path"</th></tr></thead>
                        <tbody>
                            {p.layers.iter().enumerate().map(|(i, l)| {
                                let largest = l.paths.iter().zip(&l.nar_sizes)
                                    .max_by_key(|(_, s)| **s)
                                    .map(|(p, _)| store_name(p).to_string())
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
                    {graph_view(&fleet, &name, shown_revision(), &p)}
                }.into_any()
                }
            }}
        </section>
    }
}

/// The image's reference graph at this revision, each path coloured by its
/// layer in `plan` (hover a path for its name, size and layer).
fn graph_view(fleet: &RwSignal<Fleet>, image: &str, revision: usize, plan: &Plan) -> impl IntoView {
    let drawing = fleet.with(|f| {
        f.revisions
            .get(revision)
            .and_then(|rev| rev.iter().find(|c| c.image == image))
            .map(|c| draw(&c.graph, plan))
            .unwrap_or_default()
    });
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

/// `name-version` of a store path (the part after the hash).
fn store_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.split_once('-').map_or(base, |(_, name)| name)
}
