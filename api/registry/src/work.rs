//! What a unit of background work says about when to run it next. The
//! registry's periodic work (index follower, alert matcher and sender,
//! re-clustering, digests, purges) is written as steps; the HTTP face's job
//! runner runs them on its schedule and this tells it how soon to come back.

use std::time::Duration;

/// When to run a step again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// There is more to do: run again at once.
    Now,
    /// Run again after this long (ignoring wake-ups meanwhile).
    After(Duration),
    /// Nothing left: wait for the next tick or wake-up.
    Idle,
}
