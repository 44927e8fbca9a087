//! The Leptos components: where the closures come from ([`source`]), the
//! planning controls and the compare table ([`compare`]), and one image's
//! layers and reference graph ([`layers`]).

mod build;
mod compare;
mod layers;
mod source;

use leptos::prelude::*;

use crate::fleet::{compare, example_fleet, find_planner, COMPARED};

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
    // The examples of the `strata serve` that served the page; `None` in a
    // docs page with no server, where no build action is shown.
    let server = RwSignal::new(None::<Vec<serde_json::Value>>);
    leptos::task::spawn_local(async move {
        if let Ok(answer) = crate::server::request("GET", "/api/examples", None).await {
            if answer.status == 200 {
                server.set(serde_json::from_str(&answer.text).ok());
            }
        }
    });
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
            <source::Source fleet error server/>
            <compare::Controls algorithm budget/>
            <compare::Compare comparisons algorithm/>
            <layers::Layers fleet comparisons algorithm server/>
        </main>
    }
}
