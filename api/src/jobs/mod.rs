//! The one runner for every periodic loop of the server.
//!
//! A [`Job`] is a named step, how often to run it, and optionally a wake-up
//! that runs it early. The runner owns the schedule, the hop to the
//! blocking pool, the logging and the backoff, so every loop behaves the
//! same way: a step says when to come back ([`Next`]); a failing step is
//! retried after `every × failures` (at most 20×), logged at its first
//! failure and every tenth after that, and its recovery is logged once.
//! Jobs take the [`Registry`] (and, for the credential cache, the HTTP
//! state's own parts), never the HTTP state as a whole.
//!
//! Every job is safe to run twice and on several replicas at once: the
//! registry decides through the database who does what (claims, cursors,
//! advisory locks), and the same steps run from the command line
//! (`incidex recluster`, `incidex digest`, `incidex reindex`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use incidex_registry::Registry;
use incidex_registry::alerts::delivery::CLAIM;
use incidex_registry::clusters::{ReclusterMode, recluster};
use incidex_registry::index::follower::POLL;
use incidex_registry::work::Next;
use tokio::sync::Notify;

use crate::state::AppState;

/// How often expired idempotency keys are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Longest wait between two checks of the periodic re-clustering.
pub const RECLUSTER_CHECK_AT_LEAST: Duration = Duration::from_secs(600);

type Step = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Next>>>> + Send + Sync>;

/// A named periodic step.
pub struct Job {
    pub name: &'static str,
    /// How long to wait between steps when there is nothing to do.
    pub every: Duration,
    /// Wait this long before the first step (zero: at once).
    pub first_after: Duration,
    /// Runs the step early when notified.
    pub wake: Option<Arc<Notify>>,
    step: Step,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// A job whose step is blocking work (database, index), run on the
    /// blocking pool.
    pub fn blocking(
        name: &'static str,
        every: Duration,
        step: impl Fn() -> anyhow::Result<Next> + Send + Sync + 'static,
    ) -> Job {
        let step = Arc::new(step);
        Job {
            name,
            every,
            first_after: Duration::ZERO,
            wake: None,
            step: Arc::new(move || {
                let step = step.clone();
                Box::pin(async move {
                    tokio::task::spawn_blocking(move || step())
                        .await
                        .map_err(|e| anyhow::anyhow!("job task failed: {e}"))?
                })
            }),
        }
    }

    /// A job whose step is asynchronous (network I/O).
    pub fn asynchronous<F, Fut>(name: &'static str, every: Duration, step: F) -> Job
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Next>> + 'static,
    {
        Job {
            name,
            every,
            first_after: Duration::ZERO,
            wake: None,
            step: Arc::new(move || Box::pin(step())),
        }
    }

    /// Runs early when `wake` is notified.
    pub fn woken_by(mut self, wake: Arc<Notify>) -> Job {
        self.wake = Some(wake);
        self
    }

    /// Waits `delay` before the first step.
    pub fn first_after(mut self, delay: Duration) -> Job {
        self.first_after = delay;
        self
    }

    /// Runs the job on the current actix runtime until the server stops.
    pub fn start(self) {
        actix_web::rt::spawn(self.run());
    }

    async fn run(self) {
        if !self.first_after.is_zero() {
            actix_web::rt::time::sleep(self.first_after).await;
        }
        let mut failures = 0u32;
        loop {
            let wait = match (self.step)().await {
                Ok(next) => {
                    if failures > 0 {
                        tracing::info!(job = self.name, failures, "job recovered");
                    }
                    failures = 0;
                    match next {
                        Next::Now => continue,
                        Next::After(d) => {
                            actix_web::rt::time::sleep(d).await;
                            continue;
                        }
                        Next::Idle => self.every,
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 || failures.is_multiple_of(10) {
                        tracing::error!(job = self.name, failures, error = ?e, "job failed");
                    }
                    self.every * failures.min(20)
                }
            };
            match &self.wake {
                Some(wake) => {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = actix_web::rt::time::sleep(wait) => {}
                    }
                }
                None => actix_web::rt::time::sleep(wait).await,
            }
        }
    }
}

/// Every job of a serving process.
pub fn jobs(state: &AppState) -> Vec<Job> {
    let registry = &state.registry;
    let settings = &registry.settings;
    let mut jobs = Vec::new();

    if let Some(index) = registry.index.clone() {
        let wake = index.wake.clone();
        let follower = index.clone();
        jobs.push(Job::blocking("index-follower", POLL, move || follower.follow()).woken_by(wake));
        let every = Duration::from_secs(state.settings.index_reconcile_interval_secs);
        if !every.is_zero() {
            jobs.push(
                Job::blocking("index-reconcile", every, move || {
                    index.reconcile()?;
                    Ok(Next::Idle)
                })
                .first_after(every),
            );
        }
    }

    jobs.push(identity_epoch(state));

    let r = registry.clone();
    jobs.push(Job::blocking("idempotency-purge", PURGE_EVERY, move || {
        let n = incidex_registry::conn::with_connection(&r.pool, |conn| {
            incidex_registry::reports::idempotency::purge(conn)
        })?;
        if n > 0 {
            tracing::info!(purged = n, "expired idempotency keys purged");
        }
        Ok(Next::Idle)
    }));

    if settings.digests.enabled && !settings.digests.periods.is_empty() {
        let digests = registry.digests.clone();
        let every = Duration::from_secs(settings.digests.tick_secs.max(1));
        // At once: catch up what was missed while the service was down.
        jobs.push(Job::blocking("digests", every, move || {
            incidex_registry::digests::scheduler::tick(
                &digests,
                incidex_schema::db::reports::now(),
            )?;
            Ok(Next::Idle)
        }));
    }

    if settings.alerts.enabled {
        let alerts = registry.alerts.clone();
        let poll = Duration::from_millis(settings.alerts.poll_interval_ms);
        let wake = alerts.matcher_wake.clone();
        let a = alerts.clone();
        jobs.push(
            Job::blocking("alert-matcher", poll, move || {
                let step = a.match_step()?;
                Ok(if step.more { Next::Now } else { Next::Idle })
            })
            .woken_by(wake),
        );
        let wake = alerts.sender_wake.clone();
        jobs.push(
            Job::asynchronous("alert-sender", poll, move || {
                let alerts = alerts.clone();
                async move {
                    let n = alerts.deliver_round().await?;
                    Ok(if n as i64 == CLAIM {
                        Next::Now
                    } else {
                        Next::Idle
                    })
                }
            })
            .woken_by(wake),
        );
    } else {
        tracing::info!("alerts are turned off");
    }

    if settings.recluster_interval_secs > 0 {
        jobs.push(periodic_recluster(registry));
    }
    jobs
}

/// The periodic full re-clustering: checks every `min(interval, 10 min)`
/// and runs when no replica has run it for `interval`.
fn periodic_recluster(registry: &Registry) -> Job {
    let interval = Duration::from_secs(registry.settings.recluster_interval_secs);
    let tick = interval.min(RECLUSTER_CHECK_AT_LEAST);
    let pool = registry.pool.clone();
    Job::blocking("recluster", tick, move || {
        let mut conn = pool.get()?;
        if let Some(s) = recluster(&mut conn, ReclusterMode::Periodic { interval })? {
            tracing::info!(
                reports = s.reports,
                clusters = s.clusters,
                kept_ids = s.kept_ids,
                "re-clustered"
            );
        }
        Ok(Next::Idle)
    })
    .first_after(tick)
}

/// Keeps the credential cache's view of the identity epoch current, so a
/// revocation made by another replica (or the CLI) takes effect here
/// within one poll. Failures only make the cache stop trusting itself.
fn identity_epoch(state: &AppState) -> Job {
    let pool = state.registry.pool.clone();
    let credentials = state.credentials.clone();
    Job::blocking("identity-epoch", crate::auth::EPOCH_POLL, move || {
        let mut conn = pool.get()?;
        credentials.refresh(&mut conn)?;
        Ok(Next::Idle)
    })
}

/// Starts every job of a serving process.
pub fn start(state: &AppState) {
    for job in jobs(state) {
        job.start();
    }
}
