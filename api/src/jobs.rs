//! Periodic maintenance jobs of the server. Each is safe to run twice and
//! on several replicas at once.

use std::time::Duration;

use crate::state::AppState;

/// How often expired idempotency keys are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the jobs on the actix runtime; they stop with the server.
pub fn start(state: &AppState) {
    poll_identity_epoch(state);
    // Digests of completed periods, caught up at once (see `crate::digests`).
    crate::digests::scheduler::start(state);
    // Saved-search alerts: the matcher and the webhook sender.
    crate::alerts::start(state);
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            let pool = state.pool.clone();
            let result = actix_web::web::block(move || {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                crate::idempotency::purge(&mut conn).map_err(|e| e.to_string())
            })
            .await;
            match result {
                Ok(Ok(n)) if n > 0 => tracing::info!(purged = n, "expired idempotency keys purged"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "idempotency purge failed"),
                Err(e) => tracing::warn!(error = %e, "idempotency purge did not run"),
            }
        }
    });
}

/// Keeps the credential cache's view of the identity epoch current, so a
/// revocation made by another replica (or the CLI) takes effect here
/// within one poll. Failures only make the cache stop trusting itself.
fn poll_identity_epoch(state: &AppState) {
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(crate::auth::EPOCH_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            let pool = state.pool.clone();
            let credentials = state.credentials.clone();
            let result = actix_web::web::block(move || {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                credentials.refresh(&mut conn).map_err(|e| e.to_string())
            })
            .await;
            match result {
                Ok(Ok(_)) => failing = false,
                Ok(Err(e)) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "identity epoch not read; credentials are checked per request");
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "identity epoch poll did not run");
                }
                _ => {}
            }
        }
    });
}
