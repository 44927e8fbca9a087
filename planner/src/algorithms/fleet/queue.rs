//! The merge's candidates, cheapest first, with as little work as the
//! greedy loop needs: most pairs are never looked at in order.
//!
//! Candidates come in rows, one per group: an initial group's row holds
//! its pairs with the later initial groups, a merged group's its pairs
//! with the groups alive when it was made. A heap holds each row's next
//! candidate and the exact deltas pushed back by the loop: a few thousand
//! entries at most (6,900 merging 256 runs of 1,036 paths; the exact
//! deltas of pairs whose groups merge later stay until popped, half of
//! all pops, but dropping them as they pile up was measured no faster);
//! a row is dropped whole when its group is merged away. A row is put in
//! order a chunk at a time (the cheapest few found by selection, then
//! sorted, the pairs of groups merged away dropped first), since the loop
//! reads a few dozen of a row's hundreds of pairs before the row's group
//! is merged.

use std::collections::BinaryHeap;

/// A candidate merge; ordered so the heap pops the cheapest first, ties by
/// group ids (creation order), so the result is deterministic.
///
/// A candidate is first pushed with a lower bound of its delta (`exact`
/// false); only when that bound comes out of the queue is the delta
/// computed and the candidate pushed again. A candidate taken with its
/// exact delta is then the cheapest of all, as if every delta had been
/// computed first (bounds are never above the exact figure, to the bit).
///
/// It is one `u128` whose order is that of `(delta, a, b)`: the heap
/// compares in two instructions and moves 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate(std::cmp::Reverse<u128>);

impl Candidate {
    pub fn new(delta: f64, a: usize, b: usize, exact: bool) -> Candidate {
        // `f64::total_cmp`'s order as an unsigned number.
        let bits = delta.to_bits() as i64;
        let ordered = (bits ^ (((bits >> 63) as u64) >> 1) as i64) as u64 ^ (1 << 63);
        debug_assert!(a < 1 << 31 && b < 1 << 31, "group ids fit in 31 bits");
        Candidate(std::cmp::Reverse(
            (u128::from(ordered) << 64)
                | ((a as u128) << 33)
                | ((b as u128) << 1)
                | u128::from(exact),
        ))
    }

    /// The groups and whether the delta is exact.
    pub fn parts(self) -> (usize, usize, bool) {
        let key = self.0 .0;
        let a = ((key >> 33) as u64 & 0x7fff_ffff) as usize;
        let b = ((key >> 1) as u64 & 0x7fff_ffff) as usize;
        (a, b, key & 1 == 1)
    }
}

/// Pairs a row puts in order at first; each later chunk is twice the last.
const FIRST_CHUNK: usize = 16;

/// One row: `items[..sorted]` is in order (cheapest first), the rest is
/// not, and `items[next..sorted]` is what the heap has not yet seen.
#[derive(Default)]
struct Row {
    items: Vec<Candidate>,
    next: usize,
    sorted: usize,
}

impl Row {
    /// The row's next candidate in order, if any is left; before a chunk
    /// is put in order, the pairs with a group `alive` says is gone are
    /// dropped: they would only be selected, sorted and skipped, and the
    /// row of an early group is mostly such pairs by the time it is read
    /// (the merge loop on 10,000 paths: 2.9 to 2.1 ms).
    fn take_next(&mut self, alive: Option<&[bool]>) -> Option<Candidate> {
        if self.next == self.sorted && self.next < self.items.len() {
            if let Some(alive) = alive {
                let live = |c: &Candidate| {
                    let (a, b, _) = c.parts();
                    alive[a] && alive[b]
                };
                let mut kept = self.next;
                for i in self.next..self.items.len() {
                    if live(&self.items[i]) {
                        self.items[kept] = self.items[i];
                        kept += 1;
                    }
                }
                self.items.truncate(kept);
                if self.next == self.items.len() {
                    return None;
                }
            }
            let cheapest_first = |x: &Candidate, y: &Candidate| y.cmp(x);
            let rest = &mut self.items[self.next..];
            let chunk = FIRST_CHUNK.max(self.sorted).min(rest.len());
            if chunk < rest.len() {
                rest.select_nth_unstable_by(chunk - 1, cheapest_first);
            }
            rest[..chunk].sort_unstable_by(cheapest_first);
            self.sorted += chunk;
        }
        let candidate = self.items.get(self.next).copied();
        self.next += 1;
        candidate
    }
}

/// The candidates of [`super::merge::merge`], cheapest first.
pub struct Queue {
    rows: Vec<Row>,
    heap: BinaryHeap<Candidate>,
    /// Groups numbered below this are initial: a pair of two of them is in
    /// the row of the first, any other pair in the row of the second.
    initial: usize,
}

impl Queue {
    /// A queue for `initial` initial groups, whose rows come next.
    pub fn new(initial: usize) -> Queue {
        Queue {
            rows: Vec::with_capacity(2 * initial),
            heap: BinaryHeap::new(),
            initial,
        }
    }

    /// Adds the row of the next group (numbered in order: every group
    /// gets one, empty or not).
    pub fn push_row(&mut self, items: Vec<Candidate>) {
        let mut row = Row {
            items,
            next: 0,
            sorted: 0,
        };
        if let Some(first) = row.take_next(None) {
            self.heap.push(first);
        }
        self.rows.push(row);
    }

    /// Whether `candidate` comes before every candidate queued, so that
    /// pushing it would pop it next.
    pub fn comes_first(&self, candidate: Candidate) -> bool {
        self.heap.peek().is_none_or(|top| candidate > *top)
    }

    /// Adds a candidate with its exact delta.
    pub fn push_exact(&mut self, candidate: Candidate) {
        self.heap.push(candidate);
    }

    /// The cheapest candidate whose groups were alive when it was queued;
    /// `alive` says which are now, so that dead rows are dropped and a row
    /// sends up its next pair of two live groups.
    pub fn pop(&mut self, alive: &[bool]) -> Option<Candidate> {
        let candidate = self.heap.pop()?;
        let (a, b, exact) = candidate.parts();
        if !exact {
            let owner = if b >= self.initial { b } else { a };
            let row = &mut self.rows[owner];
            if alive[owner] {
                while let Some(next) = row.take_next(Some(alive)) {
                    let (x, y, _) = next.parts();
                    if alive[x] && alive[y] {
                        self.heap.push(next);
                        break;
                    }
                }
            } else {
                *row = Row::default();
            }
        }
        Some(candidate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_order_as_delta_then_groups() {
        let deltas = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-300, 0.5, 3.0, 1e300];
        let mut all = Vec::new();
        for &delta in &deltas {
            for (a, b) in [(0, 1), (0, 7), (3, 4), (1 << 30, (1 << 31) - 1)] {
                all.push((delta, a, b));
            }
        }
        for &(d1, a1, b1) in &all {
            for &(d2, a2, b2) in &all {
                let expected = d2.total_cmp(&d1).then(a2.cmp(&a1)).then(b2.cmp(&b1));
                let got = Candidate::new(d1, a1, b1, false).cmp(&Candidate::new(d2, a2, b2, true));
                let got_same =
                    Candidate::new(d1, a1, b1, true).cmp(&Candidate::new(d2, a2, b2, true));
                assert_eq!(got_same, expected, "{d1} {a1} {b1} vs {d2} {a2} {b2}");
                if expected != std::cmp::Ordering::Equal {
                    assert_eq!(got, expected);
                }
            }
        }
        assert_eq!(Candidate::new(0.5, 3, 9, true).parts(), (3, 9, true));
    }

    #[test]
    fn a_row_comes_out_in_order_across_chunks() {
        // 100 pairs in one row (group 0 with 1..=100), deltas scrambled.
        let items: Vec<Candidate> = (1..=100)
            .map(|b| Candidate::new(((b * 37) % 101) as f64, 0, b, false))
            .collect();
        let mut expected = items.clone();
        expected.sort_unstable_by(|x, y| y.cmp(x));
        let mut queue = Queue::new(101);
        queue.push_row(items);
        let alive = vec![true; 101];
        let got: Vec<Candidate> = std::iter::from_fn(|| queue.pop(&alive)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_row_with_dead_pairs_across_chunks_gives_the_live_ones_in_order() {
        // Group 0 paired with 1..=200; every third partner merged away
        // after the row was queued, so later chunks drop them.
        let items: Vec<Candidate> = (1..=200)
            .map(|b| Candidate::new(((b * 53) % 211) as f64, 0, b, false))
            .collect();
        let mut alive = vec![true; 201];
        for b in (3..=200).step_by(3) {
            alive[b] = false;
        }
        let mut expected: Vec<Candidate> = items
            .iter()
            .copied()
            .filter(|c| alive[c.parts().1])
            .collect();
        expected.sort_unstable_by(|x, y| y.cmp(x));
        let mut queue = Queue::new(201);
        queue.push_row(items);
        let mut got = Vec::new();
        while let Some(c) = queue.pop(&alive) {
            if alive[c.parts().1] {
                got.push(c);
            }
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn comes_first_says_whether_a_push_would_pop_it_next() {
        let mut queue = Queue::new(3);
        assert!(queue.comes_first(Candidate::new(5.0, 0, 1, true)));
        queue.push_exact(Candidate::new(2.0, 0, 2, true));
        assert!(queue.comes_first(Candidate::new(1.0, 1, 2, true)));
        assert!(!queue.comes_first(Candidate::new(3.0, 0, 1, true)));
        // Equal deltas: the lower group ids come first, as the heap pops.
        assert!(queue.comes_first(Candidate::new(2.0, 0, 1, true)));
        assert!(!queue.comes_first(Candidate::new(2.0, 1, 2, true)));
    }

    #[test]
    fn dead_groups_are_skipped_and_dead_rows_dropped() {
        let queue = || {
            let mut queue = Queue::new(3);
            queue.push_row(vec![
                Candidate::new(1.0, 0, 1, false),
                Candidate::new(2.0, 0, 2, false),
            ]);
            queue.push_row(vec![Candidate::new(3.0, 1, 2, false)]);
            queue.push_row(Vec::new());
            queue
        };
        let expected = [
            Some(Candidate::new(1.0, 0, 1, false)),
            Some(Candidate::new(3.0, 1, 2, false)),
            None,
        ];
        // Group 2 merged away: row 0's pair with it is skipped.
        let mut alive = vec![true, true, false];
        let mut q = queue();
        assert_eq!([q.pop(&alive), q.pop(&alive), q.pop(&alive)], expected);
        // Group 0 merged away: its row is dropped.
        alive = vec![false, true, true];
        let mut q = queue();
        assert_eq!([q.pop(&alive), q.pop(&alive), q.pop(&alive)], expected);
        // All alive: every pair, in order.
        alive = vec![true; 3];
        let mut q = queue();
        let all: Vec<Candidate> = std::iter::from_fn(|| q.pop(&alive)).collect();
        assert_eq!(all.len(), 3);
        assert!(all.windows(2).all(|w| w[0] > w[1]));
    }
}
