//! The planning controls and the compare table.

use leptos::prelude::*;
use strata_planner::{human_bytes, Figure};

use crate::fleet::{find_planner, ratio_text, Comparison, Planner, COMPARED};

/// The planner whose layers are shown, and the layer budget.
#[component]
pub fn Controls(algorithm: RwSignal<Planner>, budget: RwSignal<usize>) -> impl IntoView {
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
pub fn Compare(comparisons: Memo<Vec<Comparison>>, algorithm: RwSignal<Planner>) -> impl IntoView {
    type Pick = fn(&strata_planner::Figures) -> &Figure;
    const FIGURES: [(&str, Pick); 3] = [
        ("fleet", |f| &f.fleet),
        ("update", |f| &f.update),
        ("image", |f| &f.image),
    ];
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
                    {move || {
                    let comparisons = comparisons.get();
                    // The fewest bytes of each column, to mark its best cells.
                    let best = FIGURES.map(|(_, pick)| {
                        comparisons.iter()
                            .filter_map(|c| c.result.as_ref().ok())
                            .map(|p| pick(&p.figures).bytes)
                            .min()
                    });
                    comparisons.into_iter().map(|c| {
                        let name = c.planner.key;
                        let selected = move || algorithm.get() == c.planner;
                        match c.result {
                            Ok(plans) => {
                                let f = plans.figures;
                                view! {
                                    <tr data-testid=format!("compare-row-{name}") class:selected=selected>
                                        <th>{name}</th>
                                        {FIGURES.iter().zip(best).map(|(&(figure, pick), best)| {
                                            let fig = *pick(&f);
                                            let is_best = best == Some(fig.bytes);
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
                    }).collect_view()
                    }}
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
