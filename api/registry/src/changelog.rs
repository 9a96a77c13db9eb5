//! Waking the followers of the report change log.
//!
//! Every change to a report writes a change-log row in its transaction;
//! the index follower and the alert matcher follow that log. They poll it
//! (changes made by other replicas arrive that way), and a committed change
//! in this process wakes them at once through a [`ChangeSignal`].

use std::sync::{Arc, Mutex};

type Wake = Arc<dyn Fn() + Send + Sync>;

/// Wakes every subscriber after a committed change.
#[derive(Default)]
pub struct ChangeSignal {
    subscribers: Mutex<Vec<Wake>>,
}

impl std::fmt::Debug for ChangeSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeSignal").finish_non_exhaustive()
    }
}

impl ChangeSignal {
    /// Calls `wake` after every committed change from now on. It must be
    /// cheap and must not block (send on a channel, notify a task).
    pub fn subscribe(&self, wake: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut subscribers) = self.subscribers.lock() {
            subscribers.push(Arc::new(wake));
        }
    }

    /// Tells every subscriber that reports changed.
    pub fn notify(&self) {
        let subscribers = match self.subscribers.lock() {
            Ok(s) => s.clone(),
            Err(_) => return,
        };
        for wake in subscribers {
            wake();
        }
    }
}
