//! The webhook sender: claims due notifications, sends them, records what
//! happened, retries with backoff and disables saved searches that keep
//! failing.
//!
//! Delivery is at least once: a notification is claimed for
//! `request_timeout + LEASE_MARGIN`; should the process die before the
//! outcome is recorded, it is sent again when the lease ends (receivers
//! de-duplicate on `X-Incidex-Delivery`). Replicas claim different rows
//! (PostgreSQL `SKIP LOCKED`).
//!
//! Before each attempt the sender checks again that the owner may read the
//! report: still published, its TLP still readable by the owner's role,
//! the owner's credentials still valid. A notification that fails the
//! first two checks is deleted unsent (the log must not keep a title the
//! owner may no longer read); an owner whose credentials lapsed has the
//! saved search disabled.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use futures_util::StreamExt;
use incidex_schema::db::alerts::{self, AttemptOutcome, DeliveryStatus};
use incidex_schema::db::reports::{self, now};
use incidex_schema::db::{DbConnection, write_transaction};
use incidex_schema::report::ReportStatus;
use rand::Rng;
use serde::Serialize;

use super::saved::{Owner, signing_secret};
use super::settings::AlertSettings;
use super::webhook::{Outgoing, SendOutcome, Sender};
use crate::keys::RegistryKeys;
use incidex_schema::db::DbPool;

/// Notifications claimed per round at most.
pub const CLAIM: i64 = 32;
/// Requests in flight at once per process.
pub const CONCURRENCY: usize = 4;
/// How much longer than the request timeout a claim lasts.
pub const LEASE_MARGIN: Duration = Duration::from_secs(30);

pub const EVENT_PING: &str = "ping";

/// A claimed notification, ready to send.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: String,
    pub saved_search_id: String,
    pub attempt: i32,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub body: String,
}

/// The delay before retry number `attempt` (1 after the first failure):
/// exponential from `retry_base_ms`, capped at `retry_max_ms`, with the
/// upper half randomised ("equal jitter") so that receivers coming back
/// are not hit by every sender at once.
pub fn backoff(settings: &AlertSettings, attempt: u32) -> Duration {
    let exp = settings
        .retry_base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(32))
        .min(settings.retry_max_ms);
    let half = exp / 2;
    Duration::from_millis(half + rand::rng().random_range(0..=exp - half))
}

fn add(at: NaiveDateTime, d: Duration) -> NaiveDateTime {
    at + TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Whether the stored owner may read the stored report now.
fn readable(owner: &Owner, report: &reports::ReportRow) -> bool {
    report.status == ReportStatus::Published.as_str()
        && owner.visible().iter().any(|t| t.as_str() == report.tlp)
}

/// Claims due notifications, dropping those that must not be sent.
pub fn claim(
    conn: &mut DbConnection,
    keys: &RegistryKeys,
    settings: &AlertSettings,
    limit: i64,
) -> anyhow::Result<Vec<Claimed>> {
    let lease = Duration::from_millis(settings.request_timeout_ms) + LEASE_MARGIN;
    // Most polls find nothing: no write transaction for them.
    if !alerts::any_due(conn, now())? {
        return Ok(Vec::new());
    }
    write_transaction(conn, |conn| {
        let at = now();
        let mut out = Vec::new();
        for d in alerts::due_deliveries(conn, at, limit)? {
            let Some(search) = alerts::find_saved_search(conn, &d.saved_search_id)? else {
                continue;
            };
            let Some(owner) = Owner::of_row(&search) else {
                continue;
            };
            let report = reports::find_report(conn, &d.report_id)?;
            if !report.as_ref().is_some_and(|r| readable(&owner, r)) {
                // Withdrawn, or raised above what the owner may read.
                alerts::delete_delivery(conn, &d.id)?;
                tracing::info!(delivery = %d.id, "notification dropped: the report is no longer readable by its subscriber");
                continue;
            }
            if !owner.is_live(conn)? {
                alerts::disable_saved_search(
                    conn,
                    &search.id,
                    "the credentials that own it are revoked, expired or gone",
                    at,
                )?;
                continue;
            }
            let attempt = d.attempts + 1;
            if alerts::mark_attempt(conn, &d.id, attempt, add(at, lease), at)? {
                out.push(Claimed {
                    delivery_id: d.id,
                    saved_search_id: search.id.clone(),
                    attempt,
                    url: search.webhook_url.clone(),
                    secret: signing_secret(keys, &search.id, &search.secret_salt),
                    event: d.event,
                    body: d.payload,
                });
            }
        }
        Ok(out)
    })
}

/// Records the outcome of a claimed attempt: delivered, failed with a
/// retry due, or abandoned; disables the saved search after too many
/// failures in a row.
pub fn record(
    conn: &mut DbConnection,
    settings: &AlertSettings,
    claimed: &Claimed,
    outcome: &SendOutcome,
) -> anyhow::Result<()> {
    write_transaction(conn, |conn| {
        let at = now();
        let code = outcome.status_code.map(i32::from);
        if outcome.delivered {
            let done = AttemptOutcome {
                status: DeliveryStatus::Delivered,
                status_code: code,
                error: None,
                next_attempt_at: None,
                at,
            };
            if alerts::record_attempt(conn, &claimed.delivery_id, claimed.attempt, &done)? {
                alerts::reset_failures(conn, &claimed.saved_search_id)?;
            }
            return Ok(());
        }
        let error = outcome.error.as_deref().unwrap_or("failed");
        let last = claimed.attempt >= i32::try_from(settings.max_attempts).unwrap_or(i32::MAX);
        let failed = AttemptOutcome {
            status: if last {
                DeliveryStatus::Abandoned
            } else {
                DeliveryStatus::Failed
            },
            status_code: code,
            error: Some(error),
            next_attempt_at: (!last).then(|| {
                add(
                    at,
                    backoff(settings, u32::try_from(claimed.attempt).unwrap_or(1)),
                )
            }),
            at,
        };
        if !alerts::record_attempt(conn, &claimed.delivery_id, claimed.attempt, &failed)? {
            return Ok(());
        }
        let in_a_row = alerts::count_failure(conn, &claimed.saved_search_id)?;
        if in_a_row >= i32::try_from(settings.disable_after_failures).unwrap_or(i32::MAX) {
            let reason =
                format!("disabled after {in_a_row} failed deliveries in a row (last: {error})");
            alerts::disable_saved_search(conn, &claimed.saved_search_id, &reason, at)?;
            tracing::warn!(saved_search = %claimed.saved_search_id, failures = in_a_row, "saved search disabled");
        }
        Ok(())
    })
}

/// The body of a test notification.
#[derive(Debug, Serialize)]
struct Ping<'a> {
    event: &'a str,
    delivery_id: String,
    saved_search_id: &'a str,
    saved_search_name: &'a str,
}

/// Sends a test notification (`ping`) now; nothing is recorded.
pub async fn ping(
    sender: &Sender,
    url: &str,
    secret: &str,
    saved_search_id: &str,
    saved_search_name: &str,
) -> SendOutcome {
    let body = Ping {
        event: EVENT_PING,
        delivery_id: uuid::Uuid::new_v4().to_string(),
        saved_search_id,
        saved_search_name,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    sender
        .send(&Outgoing {
            url,
            secret,
            event: EVENT_PING,
            delivery_id: &body.delivery_id,
            body: &bytes,
        })
        .await
}

/// One round: claim, send, record. Returns how many were claimed.
pub async fn round(
    pool: &DbPool,
    keys: &std::sync::Arc<RegistryKeys>,
    settings: &AlertSettings,
    sender: &Sender,
) -> anyhow::Result<usize> {
    let (p, k, s) = (pool.clone(), keys.clone(), settings.clone());
    let claimed = tokio::task::spawn_blocking(move || {
        let mut conn = p.get()?;
        claim(&mut conn, &k, &s, CLAIM)
    })
    .await??;
    let n = claimed.len();
    if n == 0 {
        return Ok(0);
    }
    let results: Vec<(Claimed, SendOutcome)> = futures_util::stream::iter(claimed)
        .map(|c| async move {
            let outcome = sender
                .send(&Outgoing {
                    url: &c.url,
                    secret: &c.secret,
                    event: &c.event,
                    delivery_id: &c.delivery_id,
                    body: c.body.as_bytes(),
                })
                .await;
            (c, outcome)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let (p, s) = (pool.clone(), settings.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = p.get()?;
        for (c, outcome) in &results {
            if let Err(e) = record(&mut conn, &s, c, outcome) {
                // The claim runs out and the notification is sent again.
                tracing::error!(error = ?e, delivery = %c.delivery_id, "recording a delivery failed");
            }
        }
        Ok(())
    })
    .await??;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        let s = AlertSettings {
            retry_base_ms: 1_000,
            retry_max_ms: 60_000,
            ..AlertSettings::default()
        };
        for _ in 0..50 {
            let first = backoff(&s, 1).as_millis();
            assert!((500..=1_000).contains(&first), "{first}");
            let third = backoff(&s, 3).as_millis();
            assert!((2_000..=4_000).contains(&third), "{third}");
            let late = backoff(&s, 40).as_millis();
            assert!((30_000..=60_000).contains(&late), "{late}");
        }
    }
}
