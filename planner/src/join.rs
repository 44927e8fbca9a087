//! Two jobs at once, when the caller can run them so.
//!
//! The planner starts no threads (it stays pure and builds for wasm32);
//! where work splits in two, it hands both halves to a [`Join`] the caller
//! gives. The results never depend on whether the halves ran side by side.

/// Runs two jobs, side by side or one after the other. Object-safe, so a
/// plan's [`crate::algorithms::Context`] can carry one; callers use
/// `<dyn Join>::join`, which returns both results.
pub trait Join: Sync {
    /// Whether [`Join::run`] runs its jobs side by side; work is only
    /// split for a `Join` that does.
    fn at_once(&self) -> bool;

    /// Runs `a` and `b` once each, side by side or (as here, unless
    /// overridden) one after the other.
    fn run(&self, a: &mut (dyn FnMut() + Send), b: &mut (dyn FnMut() + Send)) {
        a();
        b();
    }
}

impl dyn Join + '_ {
    /// Runs `a` and `b` through [`Join::run`] and returns both results.
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        let (mut a, mut b) = (Some(a), Some(b));
        let (mut ra, mut rb) = (None, None);
        self.run(&mut || ra = a.take().map(|a| a()), &mut || {
            rb = b.take().map(|b| b())
        });
        match (ra, rb) {
            (Some(ra), Some(rb)) => (ra, rb),
            _ => panic!("a Join ran one of its two jobs not at all"),
        }
    }
}

impl std::fmt::Debug for dyn Join + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Join")
            .field("at_once", &self.at_once())
            .finish()
    }
}

/// One job after the other: what the planner does on its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl Join for Sequential {
    fn at_once(&self) -> bool {
        false
    }
}
