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

use std::sync::{Arc, Mutex};

use incidex_schema::db::DbPool;
use tokio::sync::Notify;

use crate::keys::RegistryKeys;
use crate::members::AnonymiserCache;

pub mod delivery;
pub mod matcher;
pub mod saved;
pub mod settings;
pub mod webhook;

pub use settings::AlertSettings;

/// The alert services of this process: the matcher (one at a time), the
/// webhook client, and the wake-ups of the matcher and the sender (other
/// replicas poll).
pub struct Alerts {
    pub pool: DbPool,
    pub keys: Arc<RegistryKeys>,
    pub settings: AlertSettings,
    pub sender: webhook::Sender,
    matcher: Mutex<matcher::Matcher>,
    /// Woken when reports change.
    pub matcher_wake: Arc<Notify>,
    /// Woken when notifications are queued.
    pub sender_wake: Arc<Notify>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts").finish_non_exhaustive()
    }
}

impl Alerts {
    /// The alert services; `public_url` is the base of the links in
    /// notifications, `k` the k-anonymity of the shared view they quote.
    pub fn new(
        pool: DbPool,
        members: Arc<AnonymiserCache>,
        keys: Arc<RegistryKeys>,
        settings: AlertSettings,
        k: usize,
        public_url: String,
    ) -> anyhow::Result<Alerts> {
        Ok(Alerts {
            sender: webhook::Sender::new(&settings)?,
            matcher: Mutex::new(matcher::Matcher::new(pool.clone(), members, k, public_url)),
            pool,
            keys,
            settings,
            matcher_wake: Arc::new(Notify::new()),
            sender_wake: Arc::new(Notify::new()),
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

    /// One matcher step: matches the next batch of changes and records the
    /// notifications; wakes the sender when it queued any. Blocking.
    pub fn match_step(&self) -> anyhow::Result<matcher::Step> {
        let mut matcher = self
            .matcher
            .lock()
            .map_err(|_| anyhow::anyhow!("the alert matcher is poisoned"))?;
        let step = matcher.step()?;
        if step.queued > 0 {
            tracing::debug!(
                consumed = step.consumed,
                queued = step.queued,
                "alerts queued"
            );
            self.deliveries_queued();
        }
        Ok(step)
    }

    /// One sender round: claims due notifications, sends them, records the
    /// outcomes. Returns how many were claimed.
    pub async fn deliver_round(&self) -> anyhow::Result<usize> {
        delivery::round(&self.pool, &self.keys, &self.settings, &self.sender).await
    }
}
