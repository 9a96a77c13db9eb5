//! The digest scheduler: produces the digest of every completed period,
//! once, and writes its files to the export directory.
//!
//! Each [`tick`] (at start-up, then every `digests.tick_secs`):
//! 1. For each configured kind, walks the completed periods from the later
//!    of the first publication in the registry and `now -
//!    digests.catch_up_days`, up to the last completed period. A period
//!    missed while the service was down is therefore produced at the next
//!    start-up.
//! 2. For each audience of each such period that is not done, claims it
//!    (`db::digests::claim`: insert, or take over a failed digest or an
//!    expired lease), builds it, and stores it if it still holds the claim.
//!    A failure is recorded on the row and retried by the next tick; a
//!    digest claimed by a live holder elsewhere is left to it.
//! 3. Writes the files of every done digest not yet exported (JSON, CSV,
//!    Markdown, HTML; each written to a temporary file and renamed), and
//!    refreshes the Atom feed files of the audiences concerned.
//!
//! Ticks are safe to run at once in one process or in several processes
//! over one database: the claim in the database decides who produces what.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{NaiveDateTime, TimeDelta};
use incidex_indexer::DocFreqs;
use incidex_schema::db::DbConnection;
use incidex_schema::db::digests::{self as store, Claim, DigestKey, STATUS_DONE};

use super::render::{self, Format};
use super::{Audience, BuildContext, Digest, Period, digest_id};
use incidex_schema::db::DbPool;

use super::DigestSettings;
use crate::index::IndexService;
use crate::members::AnonymiserCache;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickSummary {
    /// Digests this tick produced.
    pub produced: Vec<String>,
    /// Digests whose production failed (retried next tick), with the error.
    pub failed: Vec<(String, String)>,
    /// Digests another holder is producing.
    pub busy: Vec<String>,
    /// Digests whose files this tick wrote.
    pub exported: Vec<String>,
}

/// Identifies one run, so that only it may complete what it claimed.
fn run_id() -> String {
    format!("{}:{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

/// What the scheduler works with.
#[derive(Clone)]
pub struct DigestScheduler {
    pub pool: DbPool,
    pub members: Arc<AnonymiserCache>,
    pub k_anonymity: usize,
    pub settings: DigestSettings,
    /// Where the files go (`digests.export_dir`, resolved).
    pub export_dir: PathBuf,
    /// The live index where this process runs one (cluster labels).
    pub index: Option<Arc<IndexService>>,
}

impl std::fmt::Debug for DigestScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestScheduler")
            .field("export_dir", &self.export_dir)
            .finish_non_exhaustive()
    }
}

/// One pass of the scheduler as of `now` (naive UTC). Blocking: run it off
/// the async workers.
pub fn tick(scheduler: &DigestScheduler, now: NaiveDateTime) -> anyhow::Result<TickSummary> {
    let settings = &scheduler.settings;
    let mut conn = scheduler.pool.get().context("no database connection")?;
    let holder = run_id();
    let lease = TimeDelta::seconds(i64::try_from(settings.lease_secs).unwrap_or(i64::MAX / 2));
    let stats = scheduler.index.as_ref().map(|i| i.handle.current());
    let ctx = BuildContext {
        members: &scheduler.members,
        k_anonymity: scheduler.k_anonymity,
        stats: stats.as_deref().map(|s| s as &dyn DocFreqs),
    };
    let mut summary = TickSummary::default();
    if let Some(first) = store::first_publication(&mut conn)? {
        let horizon = now - TimeDelta::days(i64::from(settings.catch_up_days));
        for &kind in &settings.periods {
            let mut period = Period::containing(kind, first.max(horizon));
            let statuses = store::statuses_since(&mut conn, kind.as_str(), period.start)?;
            while period.is_complete(now) {
                for &audience in Audience::ALL {
                    let id = digest_id(&period, audience);
                    if statuses.get(&id).map(String::as_str) == Some(STATUS_DONE) {
                        continue;
                    }
                    produce(
                        &mut conn,
                        ctx,
                        &holder,
                        (period, audience, &id),
                        now,
                        lease,
                        &mut summary,
                    )?;
                }
                period = period.next();
            }
        }
    }
    summary.exported = export_pending(&mut conn, &scheduler.export_dir, now)?;
    Ok(summary)
}

/// Claims, builds and stores one digest.
fn produce(
    conn: &mut DbConnection,
    ctx: BuildContext<'_>,
    holder: &str,
    (period, audience, id): (Period, Audience, &str),
    now: NaiveDateTime,
    lease: TimeDelta,
    summary: &mut TickSummary,
) -> anyhow::Result<()> {
    let key = DigestKey {
        id,
        kind: period.kind.as_str(),
        audience: audience.as_str(),
        period_start: period.start,
        period_end: period.end,
    };
    match store::claim(conn, key, holder, now, lease)? {
        Claim::Done => return Ok(()),
        Claim::Busy => {
            summary.busy.push(id.to_owned());
            return Ok(());
        }
        Claim::Claimed { attempt } if attempt > 1 => {
            tracing::info!(digest = id, attempt, "retrying digest");
        }
        Claim::Claimed { .. } => {}
    }
    let built = super::build(conn, ctx, period, audience, now.and_utc())
        .map_err(|e| format!("{e:?}"))
        .and_then(|d| {
            let json = serde_json::to_string(&d).map_err(|e| e.to_string())?;
            Ok((json, i32::try_from(d.incidents.len()).unwrap_or(i32::MAX)))
        });
    match built {
        Ok((json, incidents)) => {
            if store::complete(conn, id, holder, &json, incidents, now)? {
                tracing::info!(digest = id, incidents, "digest produced");
                summary.produced.push(id.to_owned());
            } else {
                tracing::warn!(
                    digest = id,
                    "digest claim was taken over before it was stored"
                );
            }
        }
        Err(error) => {
            let error: String = error.chars().take(2000).collect();
            tracing::error!(digest = id, error = %error, "digest failed; retried next tick");
            store::fail(conn, id, holder, &error, now)?;
            summary.failed.push((id.to_owned(), error));
        }
    }
    Ok(())
}

/// Writes `contents` to `dir/name` through a temporary file and a rename,
/// so a reader never sees a partial file.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn export_one(dir: &Path, content: &str) -> anyhow::Result<Digest> {
    let digest: Digest = serde_json::from_str(content).context("stored digest is corrupt")?;
    for &format in Format::ALL {
        let body = render::render(&digest, format)?;
        write_atomic(dir, &render::file_name(&digest.id, format), body.as_bytes())
            .with_context(|| format!("cannot write to {}", dir.display()))?;
    }
    Ok(digest)
}

/// The file name of an audience's feed in the export directory.
pub fn feed_file_name(audience: Audience) -> String {
    format!("digests-{}.atom", audience.as_str())
}

/// Writes the files of every done digest not exported yet, then the feeds
/// of the audiences concerned. Failures are logged and recorded on the
/// digest; the next tick tries again.
fn export_pending(
    conn: &mut DbConnection,
    dir: &Path,
    now: NaiveDateTime,
) -> anyhow::Result<Vec<String>> {
    let mut exported = Vec::new();
    let mut audiences: Vec<Audience> = Vec::new();
    for row in store::pending_exports(conn)? {
        let Some(content) = row.content.as_deref() else {
            continue;
        };
        match export_one(dir, content) {
            Ok(d) => {
                store::mark_exported(conn, &row.id, now, None)?;
                if !audiences.contains(&d.audience) {
                    audiences.push(d.audience);
                }
                exported.push(row.id);
            }
            Err(e) => {
                tracing::warn!(digest = row.id, error = %format!("{e:#}"), "digest files not written; retried next tick");
                store::mark_exported(conn, &row.id, now, Some(&format!("export: {e:#}")))?;
            }
        }
    }
    for audience in audiences {
        let rows = store::latest_done(conn, audience.as_str(), None, super::feed::FEED_ENTRIES)?;
        let digests = rows
            .iter()
            .filter_map(|r| r.content.as_deref())
            .map(serde_json::from_str::<Digest>)
            .collect::<Result<Vec<_>, _>>()
            .context("stored digest is corrupt")?;
        let name = feed_file_name(audience);
        let feed = super::feed::feed(&digests, audience, None, &name, |d, f| {
            render::file_name(&d.id, f)
        });
        if let Err(e) = write_atomic(dir, &name, feed.as_bytes()) {
            tracing::warn!(file = name, error = %e, "digest feed not written");
        }
    }
    Ok(exported)
}
