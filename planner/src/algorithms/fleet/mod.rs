//! `fleet`: Strata's own layering, chosen for the bytes users pull across a
//! fleet of images and their updates, not for one image alone.
//!
//! A layer is reused by a client only when its exact set of paths was pulled
//! before, so what matters is that two images, or two revisions of one
//! image, cut the paths they share into the same sets. The one cut that is
//! the same in every image is one layer per path (the lower bound of
//! `strata simulate`); `fleet` keeps as close to it as the budget allows:
//!
//! 1. Up to the budget, every path gets a layer of its own.
//! 2. Beyond it, [`SINGLETON_SHARE`] of the budget (but leaving at least
//!    [`MIN_MERGED_LAYERS`] layers for the rest) goes to paths that keep a
//!    layer of their own: those whose bytes it would cost most to pull
//!    twice, scored by [`scores`] (NAR size times how likely other images
//!    hold the same path, plus how likely the rest of the image changes
//!    without it). A path alone in its layer is shared by every image and
//!    revision that has it, whatever else they hold, and is pulled again
//!    only when it changes itself.
//! 3. The other paths are grouped into the remaining layers by [`merge`]:
//!    greedy merging by the expected bytes an update pulls again, so that
//!    paths that change together (a library and the only programs using it,
//!    the image's top paths) share a layer, and small paths that rarely
//!    change are kept apart from the often-changing top. With `--previous`,
//!    the previous plan's layers that are still whole start as groups, so
//!    an update keeps them (and clients keep their cached copies). A path
//!    rebuilt with a new hash but the same name counts as still there
//!    ([`previous`]): its layer changes anyway, but keeping its other
//!    paths together stops the regrouping from changing layers around it.
//!
//! Measured on `shared/bench` fleets (`server/benches/fleet.rs`): singletons
//! alone with one catch-all layer give the best fleet figure but pull the
//! whole catch-all at every update; merging everything by update cost gives
//! the best image figure but cuts shared paths differently in every image.
//! Most of the budget for singletons and the rest merged by update cost is
//! better than every peer on all three figures.
//!
//! The score of a path is its NAR size times two probabilities read off the
//! closure alone:
//!
//! - sharing: the share of this image's paths that depend on it
//!   (`(dependents + 1) / paths`). Base libraries that most of an image
//!   needs are the ones other images hold too, and their bytes would be
//!   pulled once per differently-cut layer; the image's own top paths are
//!   needed by nothing else. On the bench fleets this predicts how many
//!   images hold a path better than the package set's popularity (which
//!   counts direct dependents only and misses paths such as `tar` or
//!   `python3-minimal` that are deep but rarely named). Every blend of the
//!   two measured worse than this share alone, so `fleet` takes
//!   `--popularity` and does not use it;
//! - stability: `1 - closure paths / image paths`, the share of the image a
//!   change could come from without touching this path, weighted by
//!   [`STABILITY_WEIGHT`].
//!
//! With `--previous`, paths that had a layer of their own in the previous
//! plan (matched the same way) get their score raised by
//! [`PREVIOUS_BONUS`], so that close scores do not swap singletons back
//! and forth between revisions.
//!
//! With `--fleet` (the latest plans of the fleet's other images), what was
//! estimated above is known, and [`aware`] plans instead: it starts from
//! the layers clients already hold and prices every grouping of paths
//! other images hold.
//!
//! Layers go bottom to top by the number of paths in their closure (most
//! shared, least changing first), ties by first path.

mod aware;
mod knowledge;
mod merge;
mod previous;
mod queue;

use std::collections::HashSet;

pub use aware::DUPLICATE_WEIGHT;
pub use merge::{AWARE_MERGE_CAP, MERGE_CAP, REBUILD_RATE};

use super::{Context, Layers};
use crate::error::PlanError;
use crate::graph::NodeId;
use crate::store_path::StorePath;
use knowledge::FleetKnowledge;
use previous::PreviousPaths;

/// Weight of stability (update cost) against sharing (fleet cost) in the
/// score. Measured on `shared/bench` fleets at budget 20: from 0.5 to 0.75
/// the dev fleet's figures move by at most 0.001 (the tools check fleet
/// prefers 0.5); at 1 the update and image figures are worse by 0.01 and
/// 0.005, at 0.25 all three are worse.
pub const STABILITY_WEIGHT: f64 = 0.5;

/// Share of the budget (rounded, at most budget - 1) given to paths alone
/// in their layer; the rest holds the merged groups. Measured with
/// `shared/bench/pullsim.py` on three fleets at budgets 20 and 100: 75%
/// favours the image figure, 90% the fleet figure, 85% is better than
/// every peer on all three everywhere.
pub const SINGLETON_SHARE: f64 = 0.85;

/// Fewest layers left for merged groups when the budget allows (below 20,
/// 15% of the budget is fewer): the image's often-changing top, its rarely
/// changing base and what lies between need one each, or an update pulls
/// the base again with the top. On the dev fleet at budgets 8 to 15, three
/// groups instead of one or two lower the update and image figures by 0.01
/// to 0.06 and raise the fleet figure by 0.03 to 0.09 (still well below
/// `auto`'s); with `--previous` that puts the image figure ahead of
/// `auto`'s at budgets 10, 12 and 15. Four groups trade more fleet figure
/// for little. From budget 20 on, 15% is at least three.
pub const MIN_MERGED_LAYERS: usize = 3;

/// Score multiplier for paths that were singletons in the previous plan.
pub const PREVIOUS_BONUS: f64 = 1.25;

/// Plans with the fleet algorithm.
pub fn plan(ctx: &Context<'_>) -> Result<Layers, PlanError> {
    let graph = ctx.graph;
    let n = graph.len();
    let budget = ctx.budget.max(1);
    let reach = graph.reach_counts_with(ctx.join);
    let closure_counts = reach.closure;
    // With the fleet known, even a closure within the budget is planned:
    // a layer the fleet has already is worth more than paths alone.
    if let Some(plans) = ctx.fleet {
        let previous = PreviousPaths::new(graph);
        let fleet = FleetKnowledge::new(graph, &previous, plans, ctx.previous);
        let groups = aware::plan(
            graph,
            &closure_counts,
            budget,
            ctx.previous,
            &previous,
            &fleet,
        );
        return Ok(bottom_first(
            groups
                .into_iter()
                .map(|g| (g.closure_count, g.members))
                .collect(),
        ));
    }

    if n <= budget {
        let mut ids: Vec<NodeId> = (0..n).collect();
        ids.sort_by(|a, b| closure_counts[*a].cmp(&closure_counts[*b]).then(a.cmp(b)));
        return Ok(ids.into_iter().map(|id| vec![id]).collect());
    }
    let previous = PreviousPaths::new(graph);
    let scores = scores(ctx, &closure_counts, &reach.referrers, &previous);
    // Only which paths rank above the cut matters (layers are ordered
    // after), so a selection does, not a sort of every path.
    let singletons = singleton_count(budget);
    let mut ranked: Vec<NodeId> = (0..n).collect();
    ranked.select_nth_unstable_by(singletons, |&a, &b| {
        scores[b].total_cmp(&scores[a]).then(a.cmp(&b))
    });
    let (kept, rest) = ranked.split_at(singletons);
    let groups = initial_groups(n, rest, ctx.previous, &previous);
    let mut layers: Vec<(usize, Vec<NodeId>)> = kept
        .iter()
        .map(|&id| (closure_counts[id], vec![id]))
        .collect();
    layers.extend(
        merge::merge(graph, &closure_counts, groups, budget - singletons, None)
            .into_iter()
            .map(|g| (g.closure_count, g.members)),
    );
    Ok(bottom_first(layers))
}

/// Layers (with the paths in their closure) bottom to top: by closure
/// count, ties by first path.
fn bottom_first(mut layers: Vec<(usize, Vec<NodeId>)>) -> Layers {
    layers.sort_by(|a, b| a.0.cmp(&b.0).then(a.1[0].cmp(&b.1[0])));
    layers.into_iter().map(|(_, members)| members).collect()
}

/// Layers of their own for `budget` (smaller than the closure): the
/// [`SINGLETON_SHARE`], leaving [`MIN_MERGED_LAYERS`] (or, for tiny
/// budgets, all but one, and always at least one) for the rest.
fn singleton_count(budget: usize) -> usize {
    let share = ((budget as f64 * SINGLETON_SHARE).round() as usize).min(budget);
    let merged = (budget - share)
        .max(MIN_MERGED_LAYERS.min(budget.saturating_sub(1)))
        .max(1);
    budget - merged
}

/// One group per path of `rest`, except that the previous plan's layers
/// of two or more paths that are all still here (by path or name), and
/// all in `rest`, stay together. Groups are sorted by first member.
fn initial_groups(
    n: usize,
    rest: &[NodeId],
    previous: Option<&[Vec<StorePath>]>,
    lookup: &PreviousPaths<'_>,
) -> Vec<Vec<NodeId>> {
    // Per node: in `rest` and not grouped yet.
    let mut free = vec![false; n];
    for &id in rest {
        free[id] = true;
    }
    let mut groups: Vec<Vec<NodeId>> = Vec::new();
    let mut keep = |mut ids: Vec<NodeId>, groups: &mut Vec<Vec<NodeId>>| {
        ids.sort_unstable();
        ids.dedup();
        if ids.iter().any(|&id| !free[id]) {
            return;
        }
        for &id in &ids {
            free[id] = false;
        }
        groups.push(ids);
    };
    for layer in previous.into_iter().flatten() {
        if layer.len() < 2 {
            continue;
        }
        let ids: Option<Vec<NodeId>> = layer.iter().map(|path| lookup.find(path)).collect();
        if let Some(ids) = ids {
            keep(ids, &mut groups);
        }
    }
    let grouped_first = groups.len();
    // Ids in order, so both parts are sorted by first member.
    groups.extend((0..n).filter(|&id| free[id]).map(|id| vec![id]));
    if grouped_first > 0 {
        groups.sort_by_key(|g| g[0]);
    }
    groups
}

/// The score of every path: NAR size times (sharing + stability), raised
/// for paths alone in their layer in the previous plan.
fn scores(
    ctx: &Context<'_>,
    closure_counts: &[usize],
    dependents: &[usize],
    lookup: &PreviousPaths<'_>,
) -> Vec<f64> {
    let graph = ctx.graph;
    let n = graph.len() as f64;
    let previous_singletons: HashSet<NodeId> = ctx
        .previous
        .into_iter()
        .flatten()
        .filter(|layer| layer.len() == 1)
        .filter_map(|layer| lookup.find(&layer[0]))
        .collect();
    (0..graph.len())
        .map(|id| {
            let share = (dependents[id] + 1) as f64 / n;
            let stability = 1.0 - closure_counts[id] as f64 / n;
            let mut score = graph.node(id).nar_size as f64 * (share + STABILITY_WEIGHT * stability);
            if previous_singletons.contains(&id) {
                score *= PREVIOUS_BONUS;
            }
            score
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::singleton_count;
    use crate::graph::{Graph, PathEntry};
    use crate::store_path::StorePath;
    use crate::{plan_closure, Algorithm, PlanOptions};

    fn sp(i: usize) -> StorePath {
        p(i).parse().unwrap()
    }

    use crate::testutil::indexed_path as p;

    /// A chain of libraries 0 <- 1 <- ... <- k-1 and an app k using all of
    /// them; sizes grow with the index.
    fn chain(k: usize) -> Graph {
        rebuilt_chain(k, k + 1)
    }

    /// [`chain`] after a rebuild of library `from`: it and everything above
    /// it have new hashes and the same names.
    fn rebuilt_chain(k: usize, from: usize) -> Graph {
        let p = |i: usize| {
            if i >= from {
                format!("/nix/store/{:f>32}-pkg{i}-1.0", i)
            } else {
                p(i)
            }
        };
        let entries = (0..=k)
            .map(|i| PathEntry {
                path: p(i),
                nar_size: 1000 * (i as u64 + 1),
                nar_hash: None,
                closure_size: None,
                references: if i == k {
                    (0..k).map(p).collect()
                } else if i > 0 {
                    vec![p(i - 1)]
                } else {
                    vec![]
                },
            })
            .collect();
        Graph::new(entries, None, "/nix/store").unwrap()
    }

    #[test]
    fn within_budget_every_path_is_alone_bottom_first() {
        let g = chain(4);
        let plan = plan_closure(&g, &PlanOptions::new(Algorithm::Fleet, 10)).unwrap();
        let layers: Vec<Vec<StorePath>> = plan.layers.into_iter().map(|l| l.paths).collect();
        assert_eq!(layers, (0..5).map(|i| vec![sp(i)]).collect::<Vec<_>>());
    }

    #[test]
    fn small_budgets_keep_three_layers_for_merged_groups() {
        assert_eq!(
            (1..=8).map(singleton_count).collect::<Vec<_>>(),
            [0, 1, 1, 1, 2, 3, 4, 5]
        );
        assert_eq!(singleton_count(20), 17);
        assert_eq!(singleton_count(100), 85);
        let g = chain(9);
        let plan = plan_closure(&g, &PlanOptions::new(Algorithm::Fleet, 4)).unwrap();
        assert_eq!(plan.layers.len(), 4);
        let sizes: Vec<usize> = plan.layers.iter().map(|l| l.paths.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 10);
        // The app (top of the closure, changes with everything) is not
        // alone, and not with the base of the chain.
        let top = plan
            .layers
            .iter()
            .find(|l| l.paths.contains(&sp(9)))
            .unwrap();
        assert!(top.paths.len() > 1 && !top.paths.contains(&sp(0)));
    }

    #[test]
    fn budget_twenty_keeps_seventeen_singletons_and_merges_the_rest() {
        let g = chain(40);
        let plan = plan_closure(&g, &PlanOptions::new(Algorithm::Fleet, 20)).unwrap();
        assert_eq!(plan.layers.len(), 20);
        let singles = plan.layers.iter().filter(|l| l.paths.len() == 1).count();
        assert!(singles >= 17, "{singles} singletons");
        // Bottom to top by closure: the first layer holds the chain's base.
        assert!(plan.layers[0].paths.contains(&sp(0)));
    }

    /// `layers` with its merged paths cut into three groups in path order,
    /// unlike the planner's own choice.
    fn regrouped(layers: &[crate::plan::Layer]) -> Vec<crate::plan::Layer> {
        let mut previous: Vec<crate::plan::Layer> = layers
            .iter()
            .filter(|l| l.paths.len() == 1)
            .cloned()
            .collect();
        let rest: Vec<StorePath> = layers
            .iter()
            .filter(|l| l.paths.len() > 1)
            .flat_map(|l| l.paths.clone())
            .collect();
        for part in rest.chunks(rest.len().div_ceil(3)) {
            let mut paths = part.to_vec();
            paths.sort();
            previous.push(crate::plan::Layer {
                paths,
                ..Default::default()
            });
        }
        previous
    }

    #[test]
    fn previous_groups_that_are_still_whole_are_kept() {
        let g = chain(40);
        let mut options = PlanOptions::new(Algorithm::Fleet, 20);
        let first = plan_closure(&g, &options).unwrap();
        let merged: Vec<&crate::plan::Layer> =
            first.layers.iter().filter(|l| l.paths.len() > 1).collect();
        // Hand the planner a previous plan whose groups differ from its own
        // choice: those groups survive as long as they fit.
        assert_eq!(merged.len(), 3);
        let previous = regrouped(&first.layers);
        let own: Vec<&Vec<StorePath>> = merged.iter().map(|l| &l.paths).collect();
        assert!(
            previous[previous.len() - 3..]
                .iter()
                .any(|l| !own.contains(&&l.paths)),
            "the handed-in groups must differ from the planner's own"
        );
        options.previous = Some(previous.clone());
        let second = plan_closure(&g, &options).unwrap();
        for layer in &previous[previous.len() - 3..] {
            let mut paths = layer.paths.clone();
            paths.sort();
            assert!(
                second.layers.iter().any(|l| l.paths == paths),
                "{paths:?} not kept whole"
            );
        }
    }

    #[test]
    fn a_rebuild_keeps_the_grouping_of_the_previous_plan() {
        let names = |layers: &[crate::plan::Layer]| -> Vec<Vec<String>> {
            let mut names: Vec<Vec<String>> = layers
                .iter()
                .map(|l| l.paths.iter().map(|p| p[44..].to_string()).collect())
                .collect();
            names.iter_mut().for_each(|l| l.sort());
            names.sort();
            names
        };
        let mut options = PlanOptions::new(Algorithm::Fleet, 20);
        let own = plan_closure(&chain(40), &options).unwrap();
        let previous = regrouped(&own.layers);
        // Library 30 rebuilt: 30 to 40 have new hashes, some of them in
        // handed-in groups, which exact paths alone would not find.
        let rebuilt = rebuilt_chain(40, 30);
        assert!(previous
            .iter()
            .any(|l| l.paths.len() > 1 && l.paths.iter().any(|p| rebuilt.find(p).is_none())));
        options.previous = Some(previous.clone());
        let after = plan_closure(&rebuilt, &options).unwrap();
        assert_eq!(names(&after.layers), names(&previous));
        assert_ne!(
            names(
                &plan_closure(&rebuilt, &PlanOptions::new(Algorithm::Fleet, 20))
                    .unwrap()
                    .layers
            ),
            names(&previous),
            "the planner alone would group differently"
        );
    }

    #[test]
    fn the_path_most_of_the_image_needs_stays_alone() {
        // p0: a library under three programs and the root; p4: data of the
        // same size that only the root needs. One singleton to give.
        let entry = |i: usize, nar_size: u64, refs: &[usize]| PathEntry {
            path: p(i),
            nar_size,
            nar_hash: None,
            closure_size: None,
            references: refs.iter().map(|&r| p(r)).collect(),
        };
        let g = Graph::new(
            vec![
                entry(0, 1000, &[]),
                entry(1, 10, &[0]),
                entry(2, 10, &[0]),
                entry(3, 10, &[0]),
                entry(4, 1000, &[]),
                entry(5, 10, &[1, 2, 3, 4]),
            ],
            None,
            "/nix/store",
        )
        .unwrap();
        let mut options = PlanOptions::new(Algorithm::Fleet, 2);
        let plan = plan_closure(&g, &options).unwrap();
        assert_eq!(plan.layers[0].paths, [p(0)]);
        assert_eq!(plan.layers[1].paths.len(), 5);
        // Popularity data does not change the choice (see the module doc).
        options.popularity = Some([("pkg4-1.0".to_string(), 10_000)].into_iter().collect());
        assert_eq!(plan_closure(&g, &options).unwrap().layers, plan.layers);
    }

    #[test]
    fn unchanged_closure_with_previous_gives_the_same_plan() {
        let g = chain(12);
        let first = plan_closure(&g, &PlanOptions::new(Algorithm::Fleet, 5)).unwrap();
        let mut options = PlanOptions::new(Algorithm::Fleet, 5);
        options.previous = Some(first.layers.clone());
        let second = plan_closure(&g, &options).unwrap();
        assert_eq!(first.layers, second.layers);
        // And again from the second plan: stable, not oscillating.
        options.previous = Some(second.layers.clone());
        assert_eq!(plan_closure(&g, &options).unwrap().layers, first.layers);
    }

    /// `chain(k)`'s plan at budget `budget` as a fleet plan (paths only).
    fn as_fleet(plan: &crate::Plan) -> Vec<crate::plan::Layer> {
        plan.layers
            .iter()
            .map(|l| crate::plan::Layer {
                paths: l.paths.clone(),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn fleet_plans_give_a_partition_within_budget_whatever_their_order() {
        let other = plan_closure(&chain(30), &PlanOptions::new(Algorithm::Fleet, 6)).unwrap();
        let third = plan_closure(&chain(12), &PlanOptions::new(Algorithm::Fleet, 4)).unwrap();
        let g = rebuilt_chain(40, 35);
        let mut options = PlanOptions::new(Algorithm::Fleet, 8);
        options.fleet = Some(vec![as_fleet(&other), as_fleet(&third)]);
        let plan = plan_closure(&g, &options).unwrap();
        assert!(plan.layers.len() <= 8);
        let mut all: Vec<StorePath> = plan.layers.iter().flat_map(|l| l.paths.clone()).collect();
        all.sort();
        let mut expected: Vec<StorePath> = g.nodes().iter().map(|n| n.path.clone()).collect();
        expected.sort();
        assert_eq!(all, expected);
        options.fleet.as_mut().unwrap().reverse();
        assert_eq!(plan_closure(&g, &options).unwrap().layers, plan.layers);
        // The same inputs again: the same plan.
        assert_eq!(plan_closure(&g, &options).unwrap().layers, plan.layers);
    }

    #[test]
    fn the_images_own_previous_plan_in_the_fleet_is_not_another_image() {
        let g = chain(40);
        let mut options = PlanOptions::new(Algorithm::Fleet, 10);
        let first = plan_closure(&g, &options).unwrap();
        options.previous = Some(first.layers.clone());
        options.fleet = Some(Vec::new());
        let alone = plan_closure(&g, &options).unwrap();
        options.fleet = Some(vec![as_fleet(&first)]);
        assert_eq!(plan_closure(&g, &options).unwrap().layers, alone.layers);
    }

    #[test]
    fn a_path_alone_in_another_images_plan_stays_alone() {
        // Two libraries of equal size and shape: without the fleet the
        // first by path wins the one singleton; the fleet has the other
        // alone, so this image cuts it the same way.
        let entry = |i: usize, refs: &[usize]| PathEntry {
            path: p(i),
            nar_size: if i < 2 { 100 } else { 10 },
            nar_hash: None,
            closure_size: None,
            references: refs.iter().map(|&r| p(r)).collect(),
        };
        let g = Graph::new(
            vec![entry(0, &[]), entry(1, &[]), entry(2, &[0, 1])],
            None,
            "/nix/store",
        )
        .unwrap();
        let mut options = PlanOptions::new(Algorithm::Fleet, 2);
        assert_eq!(plan_closure(&g, &options).unwrap().layers[0].paths, [sp(0)]);
        let layer = |paths: Vec<StorePath>| crate::plan::Layer {
            paths,
            ..Default::default()
        };
        options.fleet = Some(vec![vec![layer(vec![sp(1)]), layer(vec![sp(0), sp(2)])]]);
        assert_eq!(plan_closure(&g, &options).unwrap().layers[0].paths, [sp(1)]);
    }

    #[test]
    fn previous_singletons_win_close_calls() {
        // Two libraries of equal size and shape: the one alone before stays alone.
        let entries = vec![
            PathEntry {
                path: p(0),
                nar_size: 100,
                nar_hash: None,
                closure_size: None,
                references: vec![],
            },
            PathEntry {
                path: p(1),
                nar_size: 100,
                nar_hash: None,
                closure_size: None,
                references: vec![],
            },
            PathEntry {
                path: p(2),
                nar_size: 10,
                nar_hash: None,
                closure_size: None,
                references: vec![p(0), p(1)],
            },
        ];
        let g = Graph::new(entries, None, "/nix/store").unwrap();
        let mut options = PlanOptions::new(Algorithm::Fleet, 2);
        let without = plan_closure(&g, &options).unwrap();
        assert_eq!(without.layers[0].paths, [sp(0)], "ties go by path");
        options.previous = Some(vec![
            crate::plan::Layer {
                paths: vec![sp(1)],
                ..Default::default()
            },
            crate::plan::Layer {
                paths: vec![sp(0), sp(2)],
                ..Default::default()
            },
        ]);
        let with = plan_closure(&g, &options).unwrap();
        assert_eq!(with.layers[0].paths, [p(1)]);
    }
}
