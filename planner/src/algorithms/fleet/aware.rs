//! `fleet` when the fleet's other plans are known (`--fleet`): cut this
//! image into layers that already exist, and pay for every new grouping
//! of paths other images hold.
//!
//! A client reuses a layer only when its exact set of paths was pulled
//! before. Without knowledge, `fleet` guesses which paths other images
//! hold and keeps those alone; with the fleet's plans it knows, so it
//! starts from what clients already have and groups only where grouping
//! is cheap:
//!
//! 1. Initial groups, first come first kept (a path joins one group):
//!    the previous plan's layers whose paths are all unchanged (clients of
//!    this image hold them: keeping them costs nothing now), then the other
//!    images' layers that lie whole in this closure (clients of those
//!    images hold them), then the unchanged previous layers that gave way
//!    to those ([`HELD_ELSEWHERE_SHARE`]: groupings only this image has of
//!    paths other images mostly hold), then the previous plan's layers
//!    found by name, less the paths other images hold (rebuilt paths: the
//!    layer changes anyway, so its own paths keep their grouping while
//!    the held ones are free to be cut as the fleet cuts them:
//!    [`not_held`]), then every other path alone.
//! 2. [`merge`] joins the cheapest pair until the budget is met, the cost
//!    of a group being the bytes an update is expected to pull again plus
//!    [`DUPLICATE_WEIGHT`] times the bytes in it that other images hold,
//!    unless the group is a single path or another image's layer
//!    ([`merge::Duplicates`]): those are the bytes the fleet stores and
//!    pulls twice because this grouping is this image's alone. A small
//!    group of paths held by exactly the same images (one holder class)
//!    costs [`CLASS_DISCOUNT`] of that when the image is short of layers:
//!    the other images of the class, short of layers too, tend to cut it
//!    the same way, and once one has, the rest take it whole (step 1).
//!    A group that regroups this image's unchanged previous layers also
//!    costs [`KEPT_WEIGHT`] times their bytes: its clients pull them again
//!    at once. So room for a reused layer is made among the groups that
//!    change anyway, not by joining layers clients hold.
//!
//! The merge is quadratic in its starting groups: beyond
//! [`merge::AWARE_MERGE_CAP`] of them (twice `fleet`'s own cap: the cut
//! costs more here), the single paths are first cut into runs, while the
//! layers clients hold stay whole and priced as such.
//!
//! A closure within the budget is planned the same way (it takes the
//! layers the fleet has rather than a layer a path). An unchanged fleet
//! gives unchanged plans: an image's previous plan is all unchanged
//! layers within the budget, so nothing is merged.
//!
//! Why it works: the fleet figure is the bytes of distinct layers, so a
//! path held by several images costs once per distinct layer it is in;
//! reusing the layers that exist and pricing every new grouping of held
//! paths keeps their cut the same across images, while the update cost
//! keeps paths that change at different rates apart (the study in the
//! issue that grouped by holders alone lost the image figure for that).
//! Measured with `shared/bench/pullsim.py` (README: "Knowing the fleet"),
//! dev fleet, budget 20: fleet 1.167 to 1.087, update 1.251 to 1.150,
//! image 1.074 to 1.070 against `fleet` alone; budget 100: 1.008 / 1.008
//! / 1.002 to 1.005 / 1.007 / 1.002. Its weak spot is the
//! first image of a new fleet to hold some large base paths: knowing
//! nothing of them, it groups them by update cost alone, every later
//! image holding them takes that layer whole, and each bump of one makes
//! them all pull the group (in some planning orders and seeds the image
//! figure is worse than planned alone, by up to 0.086). On fleets of
//! images smaller than the budget (which alone get a layer a path), or
//! not much larger (`server/benches/fleets/small.txt`), it gains almost
//! nothing (README). Keeping that first image's large unheld paths apart
//! as `fleet` alone would fixes the small images but costs the images
//! short of layers that later hold them (README: tried and not kept).

use std::collections::HashSet;

use super::knowledge::FleetKnowledge;
use super::merge;
use super::previous::PreviousPaths;
use crate::graph::{Graph, NodeId};
use crate::store_path::StorePath;

/// Weight of the bytes other images hold in a grouping only this image
/// has, against the bytes an update is expected to pull again. Measured on
/// the dev fleet at budget 20: 1 and 3 lower the fleet figure by 0.04 and
/// 0.05; 3 costs 0.005 on update and image, and at budget 100 it misses
/// the update goal, 1 meets all three; from 5 on every figure is worse.
pub const DUPLICATE_WEIGHT: f64 = 1.0;

/// Factor on the duplicate cost of a group whose paths are held by exactly
/// the same other images (one holder class), when the image has
/// [`CLASS_PRESSURE`] paths a layer or more and the group is at most
/// [`CLASS_MAX_BYTES`]: an image short of layers groups such small paths
/// first, and the other images of the class, short of layers too, tend
/// to group them the same way (and take the group whole once it exists).
/// Measured with `shared/bench/pullsim.py` on 11 fleet, seed, order and
/// budget variants: 0.2 lowers the fleet figure by 0.01 to 0.04 against
/// no discount; 0.1 costs update and image 0.03.
pub const CLASS_DISCOUNT: f64 = 0.2;

/// Largest group the class discount applies to; on the dev fleet, 2 MB
/// gives little and no limit groups big paths (a language's runtime) that
/// one bump makes every image pull again.
pub const CLASS_MAX_BYTES: u64 = 10_000_000;

/// Paths per layer of budget from which the class discount applies; with
/// fewer, an image can keep most paths apart and grouping only costs (at
/// budget 100 the discount raises the dev fleet's image figure from 1.002
/// to 1.009).
pub const CLASS_PRESSURE: usize = 3;

/// Weight of the bytes of this image's unchanged previous layers that a
/// merge regroups (its clients pull them again now, for certain), against
/// the bytes an update is expected to pull again. Without it, a layer
/// reused from another image that takes a rebuilt path out of this image's
/// old layer leaves a path more to place, and the merge that makes room
/// may join two layers this image's clients hold: measured with
/// `shared/bench/pullsim.py` on 11 fleet, seed, order and budget variants,
/// it lowers the image figure by up to 0.05 (reversed planning order) and
/// the update figure by up to 0.1, for at most 0.004 on the fleet figure;
/// 0.5, 1 and 2 give the same plans within 0.001.
pub const KEPT_WEIGHT: f64 = 1.0;

/// Share of an unchanged previous layer's bytes that other images hold
/// from which the layer gives way to theirs (step 1), when it is a
/// grouping of several paths only this image has. Clients of this image
/// hold it, but so long as it stands, every image that holds its paths
/// in other layers pays for them twice; taken after the other images'
/// layers, it keeps the paths they do not claim and the fleet converges
/// on one cut. Measured with `shared/bench/pullsim.py` on 12 fleet, seed,
/// order and budget variants: 0.8 lowers the fleet figure by up to 0.018
/// (servers fleet, budget 20) and turns two variants that gained less
/// than a third of the excess into ones that gain more; 0.5 gives about
/// the same; deferring every held layer gains a little more on the fleet
/// figure but raises the image figure above `fleet` alone's on five.
pub const HELD_ELSEWHERE_SHARE: f64 = 0.8;

/// The layers of one closure planned with the fleet known; `budget` may
/// be larger than the closure.
pub fn plan(
    graph: &Graph,
    closure_counts: &[usize],
    budget: usize,
    previous: Option<&[Vec<StorePath>]>,
    lookup: &PreviousPaths<'_>,
    fleet: &FleetKnowledge,
) -> Vec<merge::Group> {
    let initial = initial_groups(graph, previous, lookup, fleet);
    let pressed = graph.len() >= CLASS_PRESSURE * budget;
    let duplicates = merge::Duplicates {
        holder_counts: &fleet.holder_counts,
        classes: &fleet.classes,
        class_discount: if pressed { CLASS_DISCOUNT } else { 1.0 },
        existing: &initial.existing,
        kept: &initial.kept,
    };
    merge::merge(
        graph,
        closure_counts,
        initial.groups,
        budget,
        Some(&duplicates),
    )
}

/// Step 1 of the module doc.
struct InitialGroups {
    /// Sorted node ids, in the order they were taken.
    groups: Vec<Vec<NodeId>>,
    /// Per group, whether it costs no duplicates: a single path or another
    /// image's layer.
    existing: Vec<bool>,
    /// Per group, whether it is one of this image's unchanged previous
    /// layers (a single path included).
    kept: Vec<bool>,
}

/// The initial groups of step 1: unchanged previous layers, the other
/// images' layers, renamed previous layers, then single paths.
fn initial_groups(
    graph: &Graph,
    previous: Option<&[Vec<StorePath>]>,
    lookup: &PreviousPaths<'_>,
    fleet: &FleetKnowledge,
) -> InitialGroups {
    let previous = previous.unwrap_or_default();
    let fleet_layers: HashSet<&[NodeId]> = fleet.layers.iter().map(Vec::as_slice).collect();
    let mut taken = vec![false; graph.len()];
    let mut groups: Vec<Vec<NodeId>> = Vec::new();
    let mut existing: Vec<bool> = Vec::new();
    let mut kept: Vec<bool> = Vec::new();
    let mut kept_single: HashSet<NodeId> = HashSet::new();
    let mut take = |mut ids: Vec<NodeId>, clean: bool| {
        ids.sort_unstable();
        ids.dedup();
        if ids.len() < 2 || ids.iter().any(|&id| taken[id]) {
            return;
        }
        let exists = fleet_layers.contains(ids.as_slice());
        for &id in &ids {
            taken[id] = true;
        }
        groups.push(ids);
        existing.push(exists);
        kept.push(clean);
    };
    let unchanged = |layer: &Vec<StorePath>| -> Option<Vec<NodeId>> {
        layer.iter().map(|path| graph.find(path)).collect()
    };
    let mut clean: HashSet<usize> = HashSet::new();
    let mut held_elsewhere: Vec<Vec<NodeId>> = Vec::new();
    for (i, layer) in previous.iter().enumerate() {
        if let Some(mut ids) = unchanged(layer) {
            ids.sort_unstable();
            clean.insert(i);
            if ids.len() == 1 {
                kept_single.insert(ids[0]);
            }
            if mostly_held_elsewhere(graph, fleet, &fleet_layers, &ids) {
                held_elsewhere.push(ids);
            } else {
                take(ids, true);
            }
        }
    }
    for ids in &fleet.layers {
        take(ids.clone(), false);
    }
    for ids in held_elsewhere {
        take(ids, true);
    }
    for (i, layer) in previous.iter().enumerate() {
        if clean.contains(&i) {
            continue;
        }
        let ids: Option<Vec<NodeId>> = layer.iter().map(|path| lookup.find(path)).collect();
        if let Some(ids) = ids {
            take(not_held(fleet, ids), false);
        }
    }
    for (id, _) in taken.iter().enumerate().filter(|(_, taken)| !**taken) {
        groups.push(vec![id]);
        existing.push(true);
        kept.push(kept_single.contains(&id));
    }
    InitialGroups {
        groups,
        existing,
        kept,
    }
}

/// The paths of a renamed previous layer that no other image holds (step
/// 1). The layer is pulled again anyway (a path in it was rebuilt), so
/// keeping the held ones in it buys no cache hit and stores them once more
/// in the fleet; alone, they cost nothing, and the merge groups them as it
/// prices the fleet's cut.
fn not_held(fleet: &FleetKnowledge, ids: Vec<NodeId>) -> Vec<NodeId> {
    ids.into_iter()
        .filter(|&id| fleet.holder_counts[id] == 0)
        .collect()
}

/// Whether an unchanged previous layer of this image (`ids`, sorted)
/// gives way to the other images' layers (step 1): a grouping of several
/// paths that no other image has, whose bytes other images mostly hold
/// as well.
fn mostly_held_elsewhere(
    graph: &Graph,
    fleet: &FleetKnowledge,
    fleet_layers: &HashSet<&[NodeId]>,
    ids: &[NodeId],
) -> bool {
    if ids.len() < 2 || fleet_layers.contains(ids) {
        return false;
    }
    let (mut held, mut total) = (0u64, 0u64);
    for &id in ids {
        let size = graph.node(id).nar_size;
        total += size;
        if fleet.holder_counts[id] > 0 {
            held += size;
        }
    }
    held as f64 >= HELD_ELSEWHERE_SHARE * total as f64
}

#[cfg(test)]
mod tests {
    use crate::graph::Graph;
    use crate::plan::Layer;
    use crate::store_path::{StorePath, HASH_LEN};
    use crate::testutil::{graph, path};
    use crate::{plan_closure, Algorithm, PlanOptions};

    /// Two images on a shared base (`libc`, `ssl`, `z`, `xml`), each with
    /// its own libraries and program.
    fn images() -> (Graph, Graph) {
        let base: [(&str, u64, &[&str]); 4] = [
            ("libc", 3000, &[]),
            ("ssl", 900, &["libc"]),
            ("xml", 700, &["libc", "z"]),
            ("z", 800, &["libc"]),
        ];
        let mut a = base.to_vec();
        a.extend_from_slice(&[
            ("a-lib1", 400, &["libc"]),
            ("a-lib2", 300, &["a-lib1"]),
            ("a-lib3", 50, &["libc"]),
            ("a-app", 200, &["a-lib2", "a-lib3", "ssl", "xml"]),
        ]);
        let mut b = base.to_vec();
        b.extend_from_slice(&[
            ("b-lib1", 500, &["z"]),
            ("b-lib2", 60, &["libc"]),
            ("b-app", 250, &["b-lib1", "b-lib2", "ssl", "xml"]),
        ]);
        (graph(&a), graph(&b))
    }

    fn paths(plan: &crate::Plan) -> Vec<Layer> {
        plan.layers
            .iter()
            .map(|l| Layer {
                paths: l.paths.clone(),
                ..Default::default()
            })
            .collect()
    }

    fn sp(name: &str) -> StorePath {
        path(name).parse().unwrap()
    }

    /// A layer of the test paths `names`.
    fn layer(names: &[&str]) -> Layer {
        Layer {
            paths: names.iter().map(|n| sp(n)).collect(),
            ..Default::default()
        }
    }

    /// Plans each image with the other's latest plan and its own previous
    /// one, as a registry would, for `rounds` rounds.
    fn rounds(budget: usize, rounds: usize) -> Vec<(crate::Plan, crate::Plan)> {
        let (a, b) = images();
        let mut out: Vec<(crate::Plan, crate::Plan)> = Vec::new();
        let mut last_a: Option<Vec<Layer>> = None;
        let mut last_b: Option<Vec<Layer>> = None;
        for _ in 0..rounds {
            let mut options = PlanOptions::new(Algorithm::Fleet, budget);
            options.previous = last_a.clone();
            options.fleet = Some(last_b.iter().chain(&last_a).cloned().collect());
            let plan_a = plan_closure(&a, &options).unwrap();
            last_a = Some(paths(&plan_a));
            let mut options = PlanOptions::new(Algorithm::Fleet, budget);
            options.previous = last_b.clone();
            options.fleet = Some(last_a.iter().chain(&last_b).cloned().collect());
            let plan_b = plan_closure(&b, &options).unwrap();
            last_b = Some(paths(&plan_b));
            out.push((plan_a, plan_b));
        }
        out
    }

    #[test]
    fn plans_are_partitions_within_budget() {
        for budget in 1..9 {
            let (a, b) = images();
            for (plan, graph) in rounds(budget, 2)
                .iter()
                .flat_map(|(pa, pb)| [(pa, &a), (pb, &b)])
            {
                assert!(plan.layers.len() <= budget);
                let mut all: Vec<StorePath> =
                    plan.layers.iter().flat_map(|l| l.paths.clone()).collect();
                all.sort();
                let mut expected: Vec<StorePath> =
                    graph.nodes().iter().map(|n| n.path.clone()).collect();
                expected.sort();
                assert_eq!(all, expected, "budget {budget}");
            }
        }
    }

    #[test]
    fn room_for_a_reused_layer_is_not_made_by_joining_kept_layers() {
        // `libc` and `ssl` were layers of their own and are unchanged; the
        // previous third layer is gone, and another image has
        // `lib` + `newdep`. Four groups for three layers: joining the two
        // small kept layers would add least to updates, but this image's
        // clients would pull both again; `app` joins the reused layer.
        let g = graph(&[
            ("libc", 1000, &[]),
            ("ssl", 1000, &["libc"]),
            ("newdep", 100, &["libc"]),
            ("lib", 100, &["newdep"]),
            ("app", 100, &["lib", "ssl"]),
        ]);
        let mut options = PlanOptions::new(Algorithm::Fleet, 3);
        options.previous = Some(vec![
            layer(&["libc"]),
            layer(&["ssl"]),
            layer(&["gone", "lib"]),
        ]);
        options.fleet = Some(vec![vec![layer(&["lib", "newdep"])]]);
        let plan = plan_closure(&g, &options).unwrap();
        assert_eq!(
            paths(&plan),
            [
                layer(&["libc"]),
                layer(&["ssl"]),
                layer(&["app", "lib", "newdep"])
            ],
        );
    }

    #[test]
    fn an_own_grouping_of_paths_held_elsewhere_gives_way_to_the_fleets() {
        // This image kept `ssl` + `xml` together; the other image has
        // `xml` + `z` and `ssl` alone. While the old grouping stands, both
        // `ssl` and `xml` are stored twice in the fleet; giving way makes
        // every layer but `app` one the other image has. If `ssl` is this
        // image's alone, most of the grouping's bytes are too, and it stays.
        let g = graph(&[
            ("libc", 3000, &[]),
            ("ssl", 900, &["libc"]),
            ("z", 800, &["libc"]),
            ("xml", 700, &["libc", "z"]),
            ("app", 200, &["ssl", "xml"]),
        ]);
        let previous = vec![
            layer(&["libc"]),
            layer(&["ssl", "xml"]),
            layer(&["z"]),
            layer(&["app"]),
        ];
        let other = vec![
            layer(&["libc"]),
            layer(&["ssl"]),
            layer(&["xml", "z"]),
            layer(&["other"]),
        ];
        let mut options = PlanOptions::new(Algorithm::Fleet, 4);
        options.previous = Some(previous.clone());
        options.fleet = Some(vec![other.clone()]);
        let plan = paths(&plan_closure(&g, &options).unwrap());
        assert!(plan.contains(&layer(&["xml", "z"])), "{plan:?}");
        assert!(plan.contains(&layer(&["ssl"])), "{plan:?}");

        let mut other_without_ssl = other;
        other_without_ssl.remove(1);
        options.fleet = Some(vec![other_without_ssl]);
        let mut plan = paths(&plan_closure(&g, &options).unwrap());
        let mut previous = previous;
        plan.sort_by(|a, b| a.paths.cmp(&b.paths));
        previous.sort_by(|a, b| a.paths.cmp(&b.paths));
        assert_eq!(plan, previous);
    }

    #[test]
    fn a_renamed_layer_leaves_the_paths_other_images_hold_alone() {
        // `ssl` was rebuilt (same name, new hash), so the previous layer
        // `ssl` + `lib` + `app` is pulled again anyway. The other image
        // holds `ssl` alone: kept in the renamed layer, `ssl` would be
        // stored twice in the fleet; left alone, it is the other image's
        // layer, and `lib` + `app` (this image's own) stay together.
        let g = graph(&[
            ("libc", 1000, &[]),
            ("ssl", 900, &["libc"]),
            ("lib", 100, &["libc"]),
            ("app", 100, &["lib", "ssl"]),
        ]);
        let old_ssl: StorePath = format!("/nix/store/{}-ssl", "1".repeat(HASH_LEN))
            .parse()
            .unwrap();
        let renamed = Layer {
            paths: vec![old_ssl, sp("lib"), sp("app")],
            ..Default::default()
        };
        let mut options = PlanOptions::new(Algorithm::Fleet, 3);
        options.previous = Some(vec![layer(&["libc"]), renamed]);
        options.fleet = Some(vec![vec![
            layer(&["libc"]),
            layer(&["ssl"]),
            layer(&["other"]),
        ]]);
        let plan = paths(&plan_closure(&g, &options).unwrap());
        assert!(plan.contains(&layer(&["ssl"])), "{plan:?}");
        assert!(plan.contains(&layer(&["app", "lib"])), "{plan:?}");

        // Nobody else holds `ssl`: the renamed layer keeps its grouping.
        options.fleet = Some(vec![vec![layer(&["libc"]), layer(&["other"])]]);
        let plan = paths(&plan_closure(&g, &options).unwrap());
        assert!(plan.contains(&layer(&["app", "lib", "ssl"])), "{plan:?}");
    }

    #[test]
    fn an_unchanged_fleet_gives_unchanged_plans() {
        for budget in [3, 4, 5, 6] {
            let plans = rounds(budget, 4);
            assert_eq!(plans[2].0.layers, plans[3].0.layers, "budget {budget}");
            assert_eq!(plans[2].1.layers, plans[3].1.layers, "budget {budget}");
        }
    }

    #[test]
    fn another_images_layer_that_lies_whole_here_is_reused() {
        let (a, _) = images();
        let mut options = PlanOptions::new(Algorithm::Fleet, 4);
        let alone = plan_closure(&a, &options).unwrap();
        let grouped = [sp("ssl"), sp("xml"), sp("z")];
        assert!(
            !alone.layers.iter().any(|l| l.paths == grouped),
            "the test needs a layer the image would not cut by itself"
        );
        let layer = |paths: &[StorePath]| Layer {
            paths: paths.to_vec(),
            ..Default::default()
        };
        options.fleet = Some(vec![vec![
            layer(&[sp("libc")]),
            layer(&grouped),
            layer(&[sp("b-app"), sp("b-lib1"), sp("b-lib2")]),
        ]]);
        let plan = plan_closure(&a, &options).unwrap();
        assert!(
            plan.layers.iter().any(|l| l.paths == grouped),
            "{:?}",
            plan.layers
        );
    }

    #[test]
    fn paths_other_images_hold_are_grouped_last() {
        // With the other image known, the merged layers of A hold A's own
        // paths; the shared base stays cut as the other image cuts it.
        let plans = rounds(6, 3);
        let (plan_a, plan_b) = &plans[2];
        let shared = ["libc", "ssl", "xml", "z"].map(sp);
        for layer in plan_a.layers.iter().filter(|l| l.paths.len() > 1) {
            let held = layer.paths.iter().filter(|p| shared.contains(p)).count();
            assert!(held == 0 || held == layer.paths.len(), "{:?}", layer.paths);
        }
        // Every layer of A holding shared paths is a layer of B too.
        for layer in plan_a
            .layers
            .iter()
            .filter(|l| l.paths.iter().any(|p| shared.contains(p)))
        {
            assert!(
                plan_b.layers.iter().any(|l| l.paths == layer.paths),
                "{:?}",
                layer.paths
            );
        }
    }

    #[test]
    fn closures_larger_than_the_merge_caps_still_reuse_the_fleets_layers() {
        // Between the two caps the merge starts from every group; beyond
        // the larger one, single paths are cut into runs first, but the
        // other image's layer stays whole and free, so it is reused as it
        // is.
        use crate::algorithms::fleet::{AWARE_MERGE_CAP, MERGE_CAP};
        use crate::graph::PathEntry;
        use crate::testutil::{entry, indexed_path};
        for n in [MERGE_CAP + MERGE_CAP / 2, 3 * AWARE_MERGE_CAP] {
            let names: Vec<String> = (0..n).map(indexed_path).collect();
            let (x, y) = (n / 3, 2 * n / 3);
            let entries: Vec<PathEntry> = (0..n)
                .map(|i| {
                    let refs: Vec<&str> = (i.saturating_sub(2)..i)
                        .map(|r| names[r].as_str())
                        .collect();
                    let size = if i == x || i == y { 1_000_000 } else { 1_000 };
                    entry(&names[i], size, &refs)
                })
                .collect();
            let g = Graph::new(entries, None, "/nix/store").unwrap();
            let reused = Layer {
                paths: vec![names[x].parse().unwrap(), names[y].parse().unwrap()],
                ..Default::default()
            };
            let mut options = PlanOptions::new(Algorithm::Fleet, 10);
            options.fleet = Some(vec![vec![reused.clone()]]);
            let plan = plan_closure(&g, &options).unwrap();
            assert!(plan.layers.len() <= 10);
            assert!(paths(&plan).contains(&reused), "{n} paths");
        }
    }
}
