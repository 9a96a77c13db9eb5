//! Periodic maintenance jobs of the server. Each is safe to run twice and
//! on several replicas at once.

use std::time::Duration;

use crate::state::AppState;

/// How often expired idempotency keys are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Starts the jobs on the actix runtime; they stop with the server.
pub fn start(state: &AppState) {
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
