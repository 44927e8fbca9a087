//! Two jobs at once, when the caller can run them so.
//!
//! The planner starts no threads (it stays pure and builds for wasm32);
//! where work splits in two, it hands both halves to a [`Join`] the caller
//! gives. The results never depend on whether the halves ran side by side.

/// Runs two jobs and returns both results.
pub trait Join: Sync {
    /// Whether [`Join::join`] runs its jobs side by side; work is only
    /// split for a `Join` that does.
    fn at_once(&self) -> bool;

    /// Runs `a` and `b`, side by side or (as here, unless overridden) one
    /// after the other.
    fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        let a = a();
        (a, b())
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
