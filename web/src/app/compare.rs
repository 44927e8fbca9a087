//! The planning controls, and the compare table: every algorithm's pulled
//! bytes over the fleet as numbers and as bars, the best of each figure
//! marked.

use leptos::prelude::*;
use strata_planner::{human_bytes, Figure, Figures};

use super::Ui;
use crate::fleet::{find_planner, ratio_text, COMPARED};

/// The compare row whose plan is shown, and the layer budget.
#[component]
pub fn Controls() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let (algorithm, budget) = (ui.algorithm, ui.budget);
    view! {
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
            "Budget "
            <input type="number" min="1" max="1000" data-testid="budget" title="most layers for store paths"
                prop:value=move || budget.get().to_string()
                on:change=move |ev| {
                    if let Ok(b) = event_target_value(&ev).trim().parse::<usize>() {
                        if b > 0 {
                            budget.set(b);
                        }
                    }
                }/>
        </label>
    }
}

type Pick = fn(&Figures) -> &Figure;
const FIGURES: [(&str, Pick); 3] = [
    ("fleet", |f| &f.fleet),
    ("update", |f| &f.update),
    ("image", |f| &f.image),
];

/// The width of a figure's bar: its bytes above the bound, against the
/// most any row pulls above it (a sliver when it is the bound itself).
fn bar_width(figure: &Figure, worst: f64) -> f64 {
    let excess = figure.ratio.map_or(0.0, |r| r - 1.0);
    if worst <= 0.0 {
        4.0
    } else {
        4.0 + 96.0 * excess / worst
    }
}

/// Every algorithm's pulled bytes over the fleet, as ratios to the bound
/// of one layer per store path (lower is better); click a row to show
/// its plan.
#[component]
pub fn Compare() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let (comparisons, algorithm) = (ui.comparisons, ui.algorithm);
    view! {
        <section class="compare">
            <h2>"Compare"</h2>
            <table data-testid="compare-table">
                <thead>
                    <tr>
                        <th>"algorithm"</th>
                        {FIGURES.iter().map(|(name, _)| view! { <th class="figure">{*name}</th> }).collect_view()}
                        <th>"layers"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                    let comparisons = comparisons.get();
                    let ok = || comparisons.iter().filter_map(|c| c.result.as_ref().ok());
                    // The fewest bytes of each column, to mark its best, and
                    // the most above the bound, to scale its bars.
                    let best = FIGURES.map(|(_, pick)| ok().map(|p| pick(p).bytes).min());
                    let worst = FIGURES.map(|(_, pick)| {
                        ok().filter_map(|p| pick(p).ratio).fold(0.0, f64::max) - 1.0
                    });
                    comparisons.iter().cloned().filter_map(|c| Some((find_planner(&c.key)?, c.result))).map(|(planner, result)| {
                        let name = planner.key;
                        let selected = move || algorithm.get() == planner;
                        let choose = move |_| algorithm.set(planner);
                        match result {
                            Ok(f) => {
                                view! {
                                    <tr data-testid=format!("compare-row-{name}") class:selected=selected on:click=choose>
                                        <th>{name}</th>
                                        {FIGURES.iter().zip(best).zip(worst).map(|((&(figure, pick), best), worst)| {
                                            let fig = *pick(&f);
                                            let is_best = best == Some(fig.bytes) && fig.ratio.is_some();
                                            let width = format!("width: {:.1}%", bar_width(&fig, worst));
                                            view! {
                                                <td class="figure" title=format!("{} pulled, bound {}", human_bytes(fig.bytes), human_bytes(fig.bound))>
                                                    <span class="bar-track">
                                                        <span class="bar" class:best=is_best style=width></span>
                                                    </span>
                                                    <span class="ratio" class:best=is_best
                                                        data-testid=format!("compare-{name}-{figure}")>
                                                        {ratio_text(&fig)}
                                                    </span>
                                                    <span class="best-mark" class:shown=is_best title="fewest bytes">"best"</span>
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
                "Ratios of bytes pulled to the bound of one layer per store path; lower is better; "
                "bars show the bytes above the bound. fleet: a node pulls every image of each revision. "
                "update: a node holding every image at the revision before pulls the next. image: each "
                "image updated alone. Each image is planned with its own plan at the revision before, "
                "as a CI job keeping its last plan does (fleet-aware: also knowing the latest plan of every "
                "image planned before it, as a registry does; fleet-alone: with neither); "<code>"strata simulate"</code>
                " (with "<code>"--fleet-aware"</code>", "<code>"--alone"</code>") prints the same figures."
            </p>
        </section>
    }
}
