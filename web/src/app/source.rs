//! Where the closures come from: one closure (a file dropped anywhere on
//! the page, chosen, or pasted; an example of the server; an address),
//! several files as a revision of a fleet, or the bundled example fleet.
//! A file that does not read is named in the error, and what was loaded
//! before stays.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

use super::Ui;
use crate::address::Origin;
use crate::fleet::image_name;
use crate::planning::{How, Request};

/// Files' names and texts; the texts stay JavaScript bytes (a file's or
/// a download's `ArrayBuffer`, a paste's `Uint8Array`), handed to the
/// worker as they are (a big closure is never decoded nor copied into the
/// page's wasm).
pub type Files = Vec<(String, JsValue)>;

/// A pasted text as the worker takes every closure: its UTF-8 bytes.
fn utf8_bytes(text: &str) -> JsValue {
    js_sys::Uint8Array::from(text.as_bytes()).into()
}

/// The files' names and bytes.
async fn read_list(list: Option<web_sys::FileList>) -> Result<Files, String> {
    let files: Vec<web_sys::File> = match list {
        Some(list) => (0..list.length()).filter_map(|i| list.get(i)).collect(),
        None => Vec::new(),
    };
    let mut texts = Vec::with_capacity(files.len());
    for file in files {
        let text = JsFuture::from(file.array_buffer())
            .await
            .map_err(|_| format!("{}: could not be read", file.name()))?;
        texts.push((file.name(), text));
    }
    Ok(texts)
}

/// The chosen files (the input is cleared, so choosing the same files
/// again is a new choice).
async fn read_files(input: &HtmlInputElement) -> Result<Files, String> {
    let list = input.files();
    let texts = read_list(list).await;
    input.set_value("");
    texts
}

/// Opens files as the page's closures: one file is one closure, shown at
/// once; several are a revision of a fleet (the next one, when the page
/// already holds revisions of files). The worker reads them.
pub fn open_files(ui: Ui, files: Files, origin: Origin) {
    if files.is_empty() {
        ui.error.set(Some("no closure files chosen".to_string()));
        return;
    }
    ui.send_files(How::Files, files, Some(origin));
}

/// Opens a closure by where it is (a server's example, or a URL): from
/// the address (`keep_view`: the address's choices stay) or a click. The
/// bundled example opens in the worker.
pub fn open_origin(ui: Ui, origin: Origin, keep_view: bool) {
    let (url, name) = match &origin {
        Origin::ServerExample(name) => (format!("/api/examples/{name}"), name.clone()),
        Origin::Url(url) => (
            url.clone(),
            image_name(url.rsplit('/').next().unwrap_or(url)),
        ),
        Origin::Bundled | Origin::Local => return ui.send(Request::Example(keep_view)),
    };
    spawn_local(async move {
        match crate::server::fetch_bytes(&url).await {
            Ok((200, text)) => {
                let label = match &origin {
                    Origin::ServerExample(_) => format!("{name}, an example of this server"),
                    _ => url.clone(),
                };
                let files = vec![(format!("{name}.json"), text)];
                ui.send_files(How::Single { label, keep_view }, files, Some(origin));
            }
            Ok((status, text)) => {
                let answer = crate::server::Answer {
                    status,
                    text: crate::server::bytes_text(&text),
                };
                let message = crate::server::error_message(&answer);
                ui.error.set(Some(format!("{url}: {message}")));
            }
            Err(e) => ui.error.set(Some(e)),
        }
    });
}

/// Lets files be dropped on the page (the browser would open them).
pub fn drag_over(ev: web_sys::DragEvent) {
    ev.prevent_default();
}

/// Opens the files dropped on the page.
pub fn dropped(ui: Ui) -> impl Fn(web_sys::DragEvent) + 'static {
    move |ev: web_sys::DragEvent| {
        ev.prevent_default();
        let list = ev.data_transfer().and_then(|d| d.files());
        spawn_local(async move {
            match read_list(list).await {
                Ok(texts) if texts.is_empty() => {}
                Ok(texts) => open_files(ui, texts, Origin::Local),
                Err(e) => ui.error.set(Some(e)),
            }
        });
    }
}

/// A paste anywhere on the page outside a text field opens the pasted
/// JSON as a closure.
pub fn paste_anywhere(ui: Ui) {
    let _ = window_event_listener(leptos::ev::paste, move |ev: web_sys::ClipboardEvent| {
        let in_field = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA"));
        if in_field {
            return;
        }
        if let Some(text) = ev.clipboard_data().and_then(|d| d.get_data("text").ok()) {
            ev.prevent_default();
            open_files(
                ui,
                vec![("pasted closure".to_string(), utf8_bytes(&text))],
                Origin::Local,
            );
        }
    });
}

/// The source bar: what is open, and the ways to open something else.
#[component]
pub fn Source() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let open_chosen = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        spawn_local(async move {
            match read_files(&input).await {
                Ok(texts) => open_files(ui, texts, Origin::Local),
                Err(e) => ui.error.set(Some(e)),
            }
        });
    };
    let add_revision = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        spawn_local(async move {
            match read_files(&input).await {
                Ok(files) => ui.send_files(How::Revision, files, Some(Origin::Local)),
                Err(e) => ui.error.set(Some(e)),
            }
        });
    };
    let set_popularity = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        spawn_local(async move {
            match read_files(&input)
                .await
                .map(|mut t| (t.pop(), t.is_empty()))
            {
                Ok((Some((name, bytes)), true)) => {
                    ui.send(Request::Popularity(name, crate::server::bytes_text(&bytes)))
                }
                Ok(_) => ui.error.set(Some("choose one popularity file".to_string())),
                Err(e) => ui.error.set(Some(e)),
            }
        });
    };
    let pasted = RwSignal::new(String::new());
    let open_pasted = move |_| {
        open_files(
            ui,
            vec![(
                "pasted closure".to_string(),
                utf8_bytes(&pasted.get_untracked()),
            )],
            Origin::Local,
        );
    };
    view! {
        <section class="source">
            <p class="opened">
                <span data-testid="fleet-summary">{move || ui.fleet.with(|f| f.summary.clone())}</span>
                {move || super::address::unsharable(&ui.origin.get()).then(|| view! {
                    <span class="hint" data-testid="unsharable">
                        " (opened from your disk: the address keeps the view, not the closure)"
                    </span>
                })}
            </p>
            <div class="open">
                <label class="button primary">
                    "Open a closure…"
                    <input type="file" multiple accept=".json,application/json"
                        data-testid="open-closure" on:change=open_chosen/>
                </label>
                <details class="paste">
                    <summary>"Paste JSON"</summary>
                    <textarea data-testid="paste-closure" rows="4" spellcheck="false"
                        placeholder="nix path-info --json --recursive ./result, an exportReferencesGraph .attrs.json, or a list of entries"
                        prop:value=move || pasted.get()
                        on:input=move |ev| pasted.set(event_target_value(&ev))></textarea>
                    <button data-testid="open-pasted" on:click=open_pasted>"Open"</button>
                </details>
                <button data-testid="use-example" on:click=move |_| {
                    ui.send(Request::Example(false));
                }>"Example fleet"</button>
                {move || ui.server.get().filter(|l| !l.is_empty()).map(|list| view! {
                    <span data-testid="server-examples">
                        "On this server: "
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
                                    on:click=move |_| open_origin(ui, Origin::ServerExample(open.clone()), false)>
                                    {name.clone()}
                                </button>" "
                            }
                        }).collect_view()}
                    </span>
                })}
                <details class="more">
                    <summary>"Fleet files"</summary>
                    <label>
                        "Add a revision (one closure file per image, named after it): "
                        <input type="file" multiple accept=".json,application/json"
                            data-testid="add-revision" on:change=add_revision/>
                    </label>
                    <label>
                        "Popularity (Nixery's "<code>"{\"name-version\": count}"</code>", for nixery): "
                        <input type="file" accept=".json,application/json"
                            data-testid="popularity-file" on:change=set_popularity/>
                    </label>
                </details>
            </div>
            {move || ui.error.get().map(|e| view! { <p class="error" data-testid="error">{e}</p> })}
        </section>
    }
}
