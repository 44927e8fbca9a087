//! Building the shown plan on the `strata serve` that served the page:
//! whether its store holds the plan's paths (asked before anyone clicks),
//! the image config that matters, live progress from the build's event
//! stream, then the downloads and the pull lines for its registry.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use crate::server::{error_message, registry_host, request_body};

/// What the server's store says of the plan.
#[derive(Debug, Clone)]
enum Availability {
    Checking,
    Buildable,
    Lacks { count: u64, first: String },
    Unknown(String),
}

/// Follows a build's event stream into `status` until it is final.
fn follow(id: &str, status: RwSignal<Option<Value>>) {
    let Ok(source) = web_sys::EventSource::new(&format!("/api/builds/{id}/events")) else {
        return;
    };
    let stream = source.clone();
    let on_status =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let Some(data) = e.data().as_string() else {
                return;
            };
            let Ok(value) = serde_json::from_str::<Value>(&data) else {
                return;
            };
            let state = value["state"].as_str().unwrap_or("").to_string();
            status.set(Some(value));
            if matches!(state.as_str(), "done" | "failed" | "cancelled") {
                stream.close();
            }
        });
    let _ = source.add_event_listener_with_callback("status", on_status.as_ref().unchecked_ref());
    // Lives as long as the stream, which closes itself at the end.
    on_status.forget();
}

/// The build action for one plan; `image` is the image's name in the page.
#[component]
pub fn Build(
    /// The plan's JSON text.
    plan: web_sys::Blob,
    /// The image's name.
    image: String,
) -> impl IntoView {
    let availability = RwSignal::new(Availability::Checking);
    // The plan goes into the requests as it is (a blob from the worker),
    // never read here.
    let with_plan = move |rest: &str| -> JsValue {
        let parts = js_sys::Array::of3(&"{\"plan\":".into(), &plan, &rest.into());
        web_sys::Blob::new_with_blob_sequence(&parts).map_or(JsValue::NULL, JsValue::from)
    };
    let body = with_plan("}");
    spawn_local(async move {
        let answer = request_body("POST", "/api/available", Some(&body)).await;
        availability.set(match answer {
            Ok(a) if a.status == 200 => {
                let v: Value = serde_json::from_str(&a.text).unwrap_or(Value::Null);
                if v["buildable"].as_bool() == Some(true) {
                    Availability::Buildable
                } else {
                    Availability::Lacks {
                        count: v["missingCount"].as_u64().unwrap_or(0),
                        first: v["missing"][0].as_str().unwrap_or("").to_string(),
                    }
                }
            }
            Ok(a) => Availability::Unknown(error_message(&a)),
            Err(e) => Availability::Unknown(e),
        });
    });
    let name = RwSignal::new(image.to_lowercase());
    let tag = RwSignal::new("latest".to_string());
    let cmd = RwSignal::new(String::new());
    let compression = RwSignal::new("gzip".to_string());
    let status = RwSignal::new(None::<Value>);
    let error = RwSignal::new(None::<String>);
    let build = move |_| {
        let mut body = json!({
            "name": name.get(),
            "tag": tag.get(),
            "compression": compression.get(),
        });
        let words: Vec<String> = cmd.get().split_whitespace().map(str::to_string).collect();
        if !words.is_empty() {
            body["cmd"] = json!(words);
        }
        let rest = body.to_string();
        let body = with_plan(&format!(",{}", &rest[1..]));
        error.set(None);
        status.set(None);
        spawn_local(async move {
            match request_body("POST", "/api/builds", Some(&body)).await {
                Ok(a) if a.status == 202 => {
                    let answer: Value = serde_json::from_str(&a.text).unwrap_or(Value::Null);
                    let id = answer["id"].as_str().unwrap_or("").to_string();
                    status.set(Some(answer));
                    follow(&id, status);
                }
                Ok(a) => error.set(Some(error_message(&a))),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let input = |label: &'static str, id: &'static str, value: RwSignal<String>| {
        view! {
            <label>{label}" "
                <input data-testid=id prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>" "
        }
    };
    view! {
        <section class="build" data-testid="build-panel">
            <h3>"Build this image on the server"</h3>
            {move || match availability.get() {
                Availability::Checking => view! { <p>"Asking the server whether its Nix store holds these paths…"</p> }.into_any(),
                Availability::Unknown(e) => view! { <p class="error" data-testid="build-unavailable">{e}</p> }.into_any(),
                Availability::Lacks { count, first } => view! {
                    <p data-testid="build-unavailable">
                        {format!("The server's Nix store lacks {count} of this plan's paths (first: {first}), so it can show this plan but not build it.")}
                    </p>
                }.into_any(),
                Availability::Buildable => view! {
                    <div class="build-form">
                        {input("Name", "build-name", name)}
                        {input("Tag", "build-tag", tag)}
                        {input("Command", "build-cmd", cmd)}
                        <label>"Compression "
                            <select data-testid="build-compression" on:change=move |ev| compression.set(event_target_value(&ev))>
                                <option value="gzip" selected=true>"gzip"</option>
                                <option value="zstd">"zstd"</option>
                                <option value="none">"none"</option>
                            </select>
                        </label>" "
                        <button data-testid="build" on:click=build.clone()>"Build"</button>
                    </div>
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="error" data-testid="build-error">{e}</p> })}
            {move || status.get().map(|s| {
                let state = s["state"].as_str().unwrap_or("").to_string();
                let id = s["id"].as_str().unwrap_or("").to_string();
                let image = s["image"].as_str().unwrap_or("").to_string();
                let layers = &s["layers"];
                let progress = if layers.is_object() {
                    format!(
                        "{state}: {} of {} layers ({} from the cache), {}",
                        layers["done"], layers["total"], layers["cached"],
                        strata_planner::human_bytes(s["bytes"].as_u64().unwrap_or(0))
                    )
                } else {
                    state.clone()
                };
                let failed = s["error"].as_str().map(str::to_string);
                let host = registry_host();
                let (repo, tag) = image.rsplit_once(':').map(|(r, t)| (r.to_string(), t.to_string())).unwrap_or_default();
                view! {
                    <p data-testid="build-progress" data-state=state.clone()>{progress}</p>
                    {failed.map(|e| view! { <p class="error">{e}</p> })}
                    {(state == "done").then(|| view! {
                        <p>
                            <a data-testid="download-docker" href=format!("/api/builds/{id}/image.tar")>"image.tar"</a>
                            " (docker-archive: "<code>"podman load -i"</code>") · "
                            <a data-testid="download-oci" href=format!("/api/builds/{id}/image.oci.tar")>"image.oci.tar"</a>
                            " (OCI archive)"
                        </p>
                        <pre data-testid="pull-lines">
                            {format!("podman pull --tls-verify=false {host}/{image}\nskopeo copy --src-tls-verify=false docker://{host}/{image} oci:{repo}:{tag}")}
                        </pre>
                    })}
                }
            })}
        </section>
    }
}
