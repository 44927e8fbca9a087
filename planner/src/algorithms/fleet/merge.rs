//! Grouping the paths that get no layer of their own, by the bytes an
//! update would make clients pull again.
//!
//! A layer is pulled again whenever any path in it changes, and a path
//! changes whenever anything in its closure is rebuilt (a Nix rebuild
//! changes a path and everything depending on it). With every path rebuilt
//! independently with probability [`REBUILD_RATE`] per revision, a group
//! `L` changes with probability `1 - (1 - rate)^|closure(L)|`, so its
//! expected cost per revision is `bytes(L)` times that. Starting from one
//! group per path (or the previous plan's layers that are still whole,
//! which cost nothing to keep), the pair whose merge adds the least
//! expected cost is merged until the budget is met: paths that change
//! together (a library and the programs built on it) end up together, and
//! small paths that rarely change (whose closures are small) are grouped
//! with each other rather than with the image's often-changing top.

use super::aware::{CLASS_MAX_BYTES, DUPLICATE_WEIGHT, KEPT_WEIGHT};
use super::queue::{Candidate, Queue};
use crate::graph::{Graph, NodeId};

/// Chance that a given store path is rebuilt between two revisions of an
/// image. Only its order of magnitude matters: measured with
/// `shared/bench/pullsim.py`, rates from 1% to 3% give the same plans within
/// noise; at 10% every large group looks equally doomed to change.
pub const REBUILD_RATE: f64 = 0.02;

/// Most groups the exact pairwise merge starts from. Larger closures (rare:
/// a big image has a few hundred paths) are first cut into this many runs
/// of paths in closure order, which keeps planning linear in the closure
/// and quadratic only in this constant. The merge's time goes with its
/// square (a 5,000-path closure: 12.5 ms at 384, 7.9 ms at 256); what the
/// cut costs grows slowly with paths per run: on the dev fleet at budget
/// 20, cutting its 100-300-path images to 128 runs changes nothing, to 64
/// adds 0.016 to the update figure, to 16 adds 0.03.
pub const MERGE_CAP: usize = 256;

/// [`MERGE_CAP`] when the fleet is known. Cutting there costs far more: a
/// run is a new grouping of paths, so the cut throws away the layers
/// clients hold (this image's kept layers, other images' layers) and
/// groups paths other images hold in ways no image has. Measured with
/// `shared/bench/pullsim.py`, the servers check fleet at budget 100 (images
/// of up to 500 paths): 1.055 / 1.021 / 1.123 at 256 and 1.027 / 1.019 /
/// 1.023 from 512 on; at 128 every fleet is worse, the dev fleet at budget
/// 100 from 1.005 / 1.007 / 1.002 to 1.112 / 1.114 / 1.046. Only closures
/// planned with `--fleet` pay the larger merge.
pub const AWARE_MERGE_CAP: usize = 512;

/// A group of paths with the number of paths in its closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Node ids, sorted.
    pub members: Vec<NodeId>,
    /// Number of paths in the closure of the members (themselves included).
    pub closure_count: usize,
}

/// Merges `groups` (disjoint, non-empty) into at most `target` groups;
/// `closure_counts` is [`Graph::closure_counts`], which the caller has.
/// With `duplicates` (the fleet is known), a group also costs the bytes
/// other images hold that it groups in a way no other image has.
pub fn merge(
    graph: &Graph,
    closure_counts: &[usize],
    groups: Vec<Vec<NodeId>>,
    target: usize,
    duplicates: Option<&Duplicates<'_>>,
) -> Vec<Group> {
    let target = target.max(1);
    let (groups, origins) = match duplicates {
        Some(d) => precut_keeping(closure_counts, groups, d),
        None => (precut(closure_counts, groups, MERGE_CAP), Vec::new()),
    };
    let unchanged = change_table(graph.len());
    let mut closures: Vec<Vec<u64>> = closure_bitsets(graph, closure_counts, &groups);
    let mut bytes: Vec<u64> = groups
        .iter()
        .map(|g| g.iter().map(|&id| graph.node(id).nar_size).sum())
        .collect();
    // Per group, what the fleet knows of it; empty without `duplicates`.
    let mut fleet: Vec<FleetSide> = match duplicates {
        Some(d) => groups
            .iter()
            .enumerate()
            .map(|(g, members)| {
                // The runs of a cut are new groupings (neither a kept
                // layer nor an existing one), unless a run is one path.
                let kept = origins[g].is_some_and(|o| d.kept[o]);
                FleetSide {
                    held: d.held_bytes(graph, members),
                    kept,
                    kept_bytes: match kept {
                        true => bytes[g] as f64,
                        false => 0.0,
                    },
                    free: origins[g].map_or(members.len() == 1, |o| d.existing[o]),
                    class: d.class(members),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let mut members: Vec<Vec<NodeId>> = groups;
    let mut alive: Vec<bool> = vec![true; members.len()];
    let update_cost = |bytes: u64, closure: usize| bytes as f64 * (1.0 - unchanged[closure]);
    let duplicated = |side: Option<&FleetSide>, bytes: u64| match (duplicates, side) {
        (Some(d), Some(side)) => d.cost(side, bytes),
        _ => 0.0,
    };
    let mut counts: Vec<usize> = closures.iter().map(|c| popcount(c)).collect();
    let mut costs: Vec<f64> = (0..members.len())
        .map(|g| update_cost(bytes[g], counts[g]) + duplicated(fleet.get(g), bytes[g]))
        .collect();
    let delta = |a: usize,
                 b: usize,
                 closures: &[Vec<u64>],
                 counts: &[usize],
                 bytes: &[u64],
                 fleet: &[FleetSide],
                 costs: &[f64]| {
        let union = counts[a] + counts[b] - common_count(&closures[a], &closures[b]);
        let joined = bytes[a] + bytes[b];
        let side = match (fleet.get(a), fleet.get(b)) {
            (Some(x), Some(y)) => Some(x.join(y)),
            _ => None,
        };
        update_cost(joined, union) + duplicated(side.as_ref(), joined) - costs[a] - costs[b]
    };
    // `delta` with the union's count replaced by the larger closure's
    // (update_cost grows with the count) and without the duplicate term
    // (a join never costs less than its parts): never above `delta`.
    let bound = |a: usize, b: usize, counts: &[usize], bytes: &[u64], costs: &[f64]| {
        update_cost(bytes[a] + bytes[b], counts[a].max(counts[b])) - costs[a] - costs[b]
    };
    let mut queue = Queue::new(members.len());
    for a in 0..members.len() {
        queue.push_row(
            (a + 1..members.len())
                .map(|b| Candidate::new(bound(a, b, &counts, &bytes, &costs), a, b, false))
                .collect(),
        );
    }
    let mut count = members.len();
    while count > target {
        let Some(candidate) = queue.pop(&alive) else {
            break;
        };
        let (a, b, exact) = candidate.parts();
        if !alive[a] || !alive[b] {
            continue;
        }
        if !exact {
            let exact = Candidate::new(
                delta(a, b, &closures, &counts, &bytes, &fleet, &costs),
                a,
                b,
                true,
            );
            // Still the cheapest: taken now rather than pushed and popped.
            if !queue.comes_first(exact) {
                queue.push_exact(exact);
                continue;
            }
        }
        alive[a] = false;
        alive[b] = false;
        let merged = concat(
            std::mem::take(&mut members[a]),
            std::mem::take(&mut members[b]),
        );
        let closure = union(
            &std::mem::take(&mut closures[a]),
            &std::mem::take(&mut closures[b]),
        );
        let k = members.len();
        members.push(merged);
        bytes.push(bytes[a] + bytes[b]);
        if !fleet.is_empty() {
            let joined = fleet[a].join(&fleet[b]);
            fleet.push(joined);
        }
        counts.push(popcount(&closure));
        costs.push(update_cost(bytes[k], counts[k]) + duplicated(fleet.get(k), bytes[k]));
        closures.push(closure);
        alive.push(true);
        count -= 1;
        queue.push_row(
            (0..k)
                .filter(|&o| alive[o])
                .map(|o| Candidate::new(bound(o, k, &counts, &bytes, &costs), o, k, false))
                .collect(),
        );
    }
    (0..members.len())
        .filter(|&g| alive[g])
        .map(|g| {
            let mut members = std::mem::take(&mut members[g]);
            members.sort_unstable();
            Group {
                members,
                closure_count: counts[g],
            }
        })
        .collect()
}

/// What the fleet knows that [`merge`] prices: grouping paths other
/// images hold in a layer no other image has makes the fleet store and
/// pull their bytes once more.
pub struct Duplicates<'k> {
    /// Per node, how many other images hold it.
    pub holder_counts: &'k [usize],
    /// Per node, its holder class (0: no other image holds it).
    pub classes: &'k [u32],
    /// Factor on the cost of a small group of one holder class (other
    /// images holding those paths may group them the same way).
    pub class_discount: f64,
    /// Per initial group, whether it costs nothing as it is: a single path
    /// or a layer another image has.
    pub existing: &'k [bool],
    /// Per initial group, whether it is one of this image's unchanged
    /// previous layers: its clients hold it, and regrouping it makes them
    /// pull its bytes again.
    pub kept: &'k [bool],
}

/// What the fleet knows of one group.
struct FleetSide {
    /// Bytes of the members other images hold.
    held: f64,
    /// A single path or another image's layer: no duplicate cost.
    free: bool,
    /// The holder class all members share, or 0.
    class: u32,
    /// Exactly one of this image's unchanged previous layers.
    kept: bool,
    /// Bytes of members from this image's unchanged previous layers.
    kept_bytes: f64,
}

impl FleetSide {
    fn join(&self, other: &FleetSide) -> FleetSide {
        FleetSide {
            held: self.held + other.held,
            free: false,
            class: if self.class == other.class {
                self.class
            } else {
                0
            },
            kept: false,
            kept_bytes: self.kept_bytes + other.kept_bytes,
        }
    }
}

impl Duplicates<'_> {
    /// What a group of `bytes` costs beyond its expected update: the bytes
    /// other images hold, unless free, discounted for a small group of one
    /// class; and the bytes of this image's unchanged layers it regroups.
    fn cost(&self, side: &FleetSide, bytes: u64) -> f64 {
        let duplicated = match (side.free, side.class != 0 && bytes <= CLASS_MAX_BYTES) {
            (true, _) => 0.0,
            (false, true) => DUPLICATE_WEIGHT * side.held * self.class_discount,
            (false, false) => DUPLICATE_WEIGHT * side.held,
        };
        let regrouped = match side.kept {
            true => 0.0,
            false => KEPT_WEIGHT * side.kept_bytes,
        };
        duplicated + regrouped
    }

    /// Bytes of `members` that other images hold.
    fn held_bytes(&self, graph: &Graph, members: &[NodeId]) -> f64 {
        members
            .iter()
            .filter(|&&id| self.holder_counts[id] > 0)
            .map(|&id| graph.node(id).nar_size as f64)
            .sum()
    }

    /// The holder class all of `members` share, or 0.
    fn class(&self, members: &[NodeId]) -> u32 {
        let first = self.classes[members[0]];
        match members.iter().all(|&id| self.classes[id] == first) {
            true => first,
            false => 0,
        }
    }
}

/// `unchanged[k]`: chance that a closure of `k` paths sees no rebuild,
/// `(1 - rate)^k` by repeated multiplication (exactly rounded, so native
/// and wasm builds agree to the bit, unlike `powi`).
fn change_table(n: usize) -> Vec<f64> {
    let mut table = Vec::with_capacity(n + 1);
    let mut q = 1.0;
    for _ in 0..=n {
        table.push(q);
        q *= 1.0 - REBUILD_RATE;
    }
    table
}

/// Cuts more than `cap` groups into that many runs, in order of their
/// largest member's closure count (ties by first member).
fn precut(closure_counts: &[usize], mut groups: Vec<Vec<NodeId>>, cap: usize) -> Vec<Vec<NodeId>> {
    if groups.len() <= cap {
        return groups;
    }
    // Keys once, then an unstable sort of small tuples (first members
    // differ, so the order is total): recomputing a group's level in every
    // comparison made this sort a visible share of the universe's plan.
    let mut order: Vec<(usize, NodeId, usize)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let level = g.iter().map(|&id| closure_counts[id]).max().unwrap_or(0);
            (level, g.first().copied().unwrap_or(NodeId::MAX), i)
        })
        .collect();
    order.sort_unstable();
    let total = groups.len();
    let mut runs: Vec<Vec<NodeId>> = vec![Vec::new(); cap];
    for (rank, &(_, _, i)) in order.iter().enumerate() {
        runs[rank * cap / total].append(&mut groups[i]);
    }
    for run in &mut runs {
        run.sort_unstable();
    }
    runs
}

/// [`precut`] to [`AWARE_MERGE_CAP`] for a merge that knows the fleet:
/// the groups clients hold (layers of two or more paths, and this image's
/// kept layers) stay whole, and only the other single paths are cut into
/// runs, so what clients hold is still priced as such. With as many whole
/// groups as the cap, everything is cut. `origins` gives each result's
/// initial group, `None` for a run.
fn precut_keeping(
    closure_counts: &[usize],
    groups: Vec<Vec<NodeId>>,
    duplicates: &Duplicates<'_>,
) -> (Vec<Vec<NodeId>>, Vec<Option<usize>>) {
    let n = groups.len();
    if n <= AWARE_MERGE_CAP {
        return (groups, (0..n).map(Some).collect());
    }
    let mut whole: Vec<Vec<NodeId>> = Vec::new();
    let mut origins: Vec<Option<usize>> = Vec::new();
    let mut singles: Vec<Vec<NodeId>> = Vec::new();
    for (g, members) in groups.into_iter().enumerate() {
        if members.len() >= 2 || duplicates.kept[g] {
            whole.push(members);
            origins.push(Some(g));
        } else {
            singles.push(members);
        }
    }
    let slots = AWARE_MERGE_CAP.saturating_sub(whole.len());
    if slots == 0 {
        whole.extend(singles);
        let runs = precut(closure_counts, whole, AWARE_MERGE_CAP);
        let origins = vec![None; runs.len()];
        return (runs, origins);
    }
    let runs = precut(closure_counts, singles, slots);
    origins.extend(runs.iter().map(|_| None));
    whole.extend(runs);
    (whole, origins)
}

/// For each group, the set of paths in its closure, as a bitset over
/// nodes ranked by closure count (ties by id), cut after its last set
/// word. Group membership is pushed down the graph in topological order
/// (referrers first), so the cost is linear in the graph times the number
/// of groups / 64.
///
/// A closure holds only paths with smaller closures than its members', so
/// in this order most bitsets are short prefixes and [`common_count`]
/// reads only the shorter of two (a third of the words on average, on the
/// Debian universe).
fn closure_bitsets(
    graph: &Graph,
    closure_counts: &[usize],
    groups: &[Vec<NodeId>],
) -> Vec<Vec<u64>> {
    let n = graph.len();
    let words = groups.len().div_ceil(64).max(1);
    let mut reach = vec![0u64; n * words];
    for (g, members) in groups.iter().enumerate() {
        for &id in members {
            reach[id * words + g / 64] |= 1 << (g % 64);
        }
    }
    for id in graph.referrers_first() {
        for &r in &graph.node(id).references {
            for w in 0..words {
                let bits = reach[id * words + w];
                reach[r * words + w] |= bits;
            }
        }
    }
    let mut by_count: Vec<NodeId> = (0..n).collect();
    by_count.sort_unstable_by_key(|&id| (closure_counts[id], id));
    let node_words = n.div_ceil(64).max(1);
    let mut closures = vec![vec![0u64; node_words]; groups.len()];
    for (rank, &id) in by_count.iter().enumerate() {
        for w in 0..words {
            let mut bits = reach[id * words + w];
            while bits != 0 {
                let g = w * 64 + bits.trailing_zeros() as usize;
                closures[g][rank / 64] |= 1 << (rank % 64);
                bits &= bits - 1;
            }
        }
    }
    for closure in &mut closures {
        let used = closure.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        closure.truncate(used);
        closure.shrink_to_fit();
    }
    closures
}

fn popcount(bits: &[u64]) -> usize {
    bits.iter().map(|w| w.count_ones() as usize).sum()
}

/// Paths in both closures (bitsets of any lengths, missing words zero).
fn common_count(a: &[u64], b: &[u64]) -> usize {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x & y).count_ones() as usize)
        .sum()
}

/// The union of two bitsets of any lengths.
fn union(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out = long.to_vec();
    for (o, s) in out.iter_mut().zip(short) {
        *o |= s;
    }
    out
}

/// Two id lists as one, the shorter appended to the longer: a group
/// absorbing run after run copies each run once, where keeping it sorted
/// copied the whole group at every merge (a third of the merge's time on
/// the Debian universe). Groups are sorted once, when the merge ends.
fn concat(a: Vec<NodeId>, b: Vec<NodeId>) -> Vec<NodeId> {
    let (mut long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    long.extend_from_slice(&short);
    long
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::PathEntry;

    use crate::testutil::indexed_path as p;

    fn graph(refs: &[&[usize]], sizes: &[u64]) -> Graph {
        let entries = refs
            .iter()
            .enumerate()
            .map(|(i, r)| PathEntry {
                path: p(i),
                nar_size: sizes[i],
                nar_hash: None,
                closure_size: None,
                references: r.iter().map(|&j| p(j)).collect(),
            })
            .collect();
        Graph::new(entries, None, "/nix/store").unwrap()
    }

    #[test]
    fn a_library_goes_with_the_program_that_alone_uses_it() {
        // 0: libc; 1: lib used only by 2; 2: app; 3: tool on libc only.
        let g = graph(&[&[], &[0], &[0, 1], &[0]], &[100, 50, 40, 40]);
        let groups = merge(
            &g,
            &g.closure_counts(),
            (0..4).map(|i| vec![i]).collect(),
            3,
            None,
        );
        let members: Vec<Vec<NodeId>> = groups.into_iter().map(|g| g.members).collect();
        assert!(members.contains(&vec![1, 2]), "{members:?}");
    }

    #[test]
    fn closure_counts_are_of_the_union() {
        let g = graph(&[&[], &[0], &[0], &[1, 2]], &[1, 1, 1, 1]);
        let groups = merge(
            &g,
            &g.closure_counts(),
            vec![vec![1, 2], vec![0], vec![3]],
            3,
            None,
        );
        let by_members: Vec<(Vec<NodeId>, usize)> = groups
            .into_iter()
            .map(|g| (g.members, g.closure_count))
            .collect();
        assert!(by_members.contains(&(vec![1, 2], 3)));
        assert!(by_members.contains(&(vec![3], 4)));
    }

    #[test]
    fn many_groups_are_cut_first_and_still_partition() {
        let n = MERGE_CAP * 3;
        let refs: Vec<Vec<usize>> = (0..n)
            .map(|i| if i > 0 { vec![i / 2] } else { vec![] })
            .collect();
        let refs: Vec<&[usize]> = refs.iter().map(Vec::as_slice).collect();
        let sizes: Vec<u64> = (0..n as u64).map(|i| 1 + i % 7).collect();
        let g = graph(&refs, &sizes);
        let groups = merge(
            &g,
            &g.closure_counts(),
            (0..n).map(|i| vec![i]).collect(),
            5,
            None,
        );
        assert_eq!(groups.len(), 5);
        let mut all: Vec<NodeId> = groups.into_iter().flat_map(|g| g.members).collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }
}
