//! Where the closures come from: the example, or the user's files.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

use crate::fleet::{example_fleet, read_popularity, read_revision, Fleet, PopularityFile};

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
pub fn Source(
    fleet: RwSignal<Fleet>,
    error: RwSignal<Option<String>>,
    /// The serving `strata serve`'s examples, when there is one.
    server: RwSignal<Option<Vec<serde_json::Value>>>,
) -> impl IntoView {
    let open_example = move |name: String| {
        spawn_local(async move {
            let path = format!("/api/examples/{name}");
            let read = match crate::server::request("GET", &path, None).await {
                Ok(a) if a.status == 200 => read_revision(&[(format!("{name}.json"), a.text)]),
                Ok(a) => Err(crate::server::error_message(&a)),
                Err(e) => Err(e),
            };
            match read {
                Ok(revision) => {
                    error.set(None);
                    let mut one = Fleet::default();
                    one.add_user_revision(revision);
                    one.name = format!("{name}, an example of this server");
                    fleet.set(one);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
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
                    [(name, text)] => Ok(PopularityFile {
                        file: name.clone(),
                        counts: read_popularity(name, text)?,
                        bundled: false,
                    }),
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
            {move || server.get().filter(|l| !l.is_empty()).map(|list| view! {
                <p data-testid="server-examples">
                    "Examples on this server: "
                    {list.into_iter().map(|e| {
                        let name = e["name"].as_str().unwrap_or("").to_string();
                        let note = if e["buildable"].as_bool() == Some(true) {
                            "buildable here".to_string()
                        } else {
                            e["why"].as_str().unwrap_or("not buildable here").to_string()
                        };
                        let open = name.clone();
                        view! {
                            <button data-testid=format!("open-example-{name}") title=note
                                on:click=move |_| open_example(open.clone())>{name.clone()}</button>" "
                        }
                    }).collect_view()}
                </p>
            })}
            {move || error.get().map(|e| view! { <p class="error" data-testid="error">{e}</p> })}
        </section>
    }
}
