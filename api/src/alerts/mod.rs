//! Saved searches and their webhook alerts (DESIGN.md section 9;
//! docs/alerts.md).
//!
//! Policy:
//! - A saved search is a query string of `GET /api/v1/search` with a
//!   webhook. It belongs to the member operator (for reporters: every
//!   client of the member shares it) or to the analyst client or web user
//!   that saved it, and it sees what its owner's role may search: members
//!   `clear` and `green`, analysts also `amber`; `red` and unpublished
//!   reports never.
//! - [`matcher`] follows the report change log with a cursor stored in the
//!   database, in the transaction that records the matches, so a restart
//!   neither misses nor repeats one, and replicas share the work. A report
//!   matches when search would return it to the owner ([`MatchBatch`]:
//!   the same query building and analysers, on the same shared view the
//!   index holds). Publication notifies; an amendment notifies only a saved
//!   search that was never notified about that report.
//! - [`delivery`] sends each notification as a signed POST
//!   ([`webhook`]), at least once: retried with exponential backoff and
//!   jitter, abandoned after `alerts.max_attempts`, and the saved search is
//!   disabled after `alerts.disable_after_failures` failures in a row.
//!   Just before each attempt it checks again that the owner may read the
//!   report (still published, TLP still readable, credentials still valid);
//!   if not, the notification is dropped unsent.
//! - A notification carries the shared view's title, TLP and publication
//!   day, why it matched and a link: never who filed the report.
//! - Webhooks may only target public addresses unless
//!   `alerts.allow_private_targets`: checked when a saved search is created
//!   and again on every connection (after name resolution).
//!
//! [`MatchBatch`]: incidex_indexer::MatchBatch

use tokio::sync::Notify;

use crate::state::AppState;

pub mod delivery;
pub mod matcher;
pub mod saved;
pub mod webhook;

/// What the alert jobs and handlers of this process share: the webhook
/// client and the wake-ups of the matcher and the sender (other replicas
/// poll).
#[derive(Debug)]
pub struct Alerts {
    pub sender: webhook::Sender,
    matcher_wake: Notify,
    sender_wake: Notify,
}

impl Alerts {
    pub fn new(settings: &crate::config::AlertSettings) -> anyhow::Result<Alerts> {
        Ok(Alerts {
            sender: webhook::Sender::new(settings)?,
            matcher_wake: Notify::new(),
            sender_wake: Notify::new(),
        })
    }

    /// Reports changed: the matcher should look at the change log now.
    pub fn reports_changed(&self) {
        self.matcher_wake.notify_one();
    }

    /// Notifications were queued: the sender should look now.
    pub fn deliveries_queued(&self) {
        self.sender_wake.notify_one();
    }
}

/// Starts the matcher and the sender on the actix runtime (`serve` only).
pub fn start(state: &AppState) {
    if !state.settings.alerts.enabled {
        tracing::info!("alerts are turned off");
        return;
    }
    matcher::start(state.clone());
    delivery::start(state.clone());
}
