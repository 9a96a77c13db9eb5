//! Keeping the full-text index in step with the database.
//!
//! One follower per process owns the only `IndexWriter`; the job runner
//! steps it. It reads
//! the report change log after the sequence number the index last
//! committed, upserts the shared view of each published report (deletes
//! anything else), and commits in batches, storing the new sequence in the
//! same tantivy commit. After a crash the uncommitted batch is simply done
//! again: upserts are idempotent. Publishing wakes the follower at once;
//! it also polls, so changes made by other replicas arrive too.
//!
//! Gaps in the sequence (a PostgreSQL transaction that took a number and
//! has not committed yet, or rolled back) are waited for up to
//! [`GAP_GRACE`]; then the follower moves past them.
//!
//! What is indexed is the projection of `super::document`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use incidex_indexer::{IncidentWriter, IndexHandle};
use incidex_schema::db::DbPool;
use incidex_schema::db::changes::{self, ChangeRow};
use incidex_schema::db::reports::{self, ReportRow};

use tokio::sync::Notify;

use super::document::{current_doc, published_doc};
use crate::members::AnonymiserCache;
use crate::work::Next;

/// How long a gap in the change log is waited for.
pub const GAP_GRACE: Duration = Duration::from_secs(5);
/// Changes applied per commit at most.
pub const BATCH: i64 = 500;
/// How often the follower looks for changes made elsewhere.
pub const POLL: Duration = Duration::from_millis(250);
/// After a commit that did not fill a batch, the follower lets changes
/// accumulate this long before the next one: under a stream of filings it
/// commits a few times a second instead of once per filing (a tantivy
/// commit and the incremental clustering cost far more than the documents
/// themselves), at the price of search seeing a filing up to this much
/// later. Idle, a change is indexed as soon as it is committed.
pub const COMMIT_EVERY: Duration = Duration::from_millis(200);

/// What a follower step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub applied: usize,
    pub committed_seq: Option<i64>,
}

/// Which changes after a processed sequence number a follower of the
/// change log may take now: those before the first gap that is still
/// within [`GAP_GRACE`] (a transaction that took the number may not have
/// committed yet). Shared by the index follower and the alert matcher.
#[derive(Debug, Default)]
pub struct GapTracker {
    gap: Option<(i64, Instant)>,
}

impl GapTracker {
    /// The prefix of `changes` (read after `last`, in order) that may be
    /// processed now.
    pub fn contiguous<'a>(&mut self, last: i64, changes: &'a [ChangeRow]) -> &'a [ChangeRow] {
        let mut expected = last + 1;
        for (i, change) in changes.iter().enumerate() {
            if change.seq != expected {
                let first_seen = match self.gap {
                    Some((seq, at)) if seq == expected => at,
                    _ => {
                        self.gap = Some((expected, Instant::now()));
                        Instant::now()
                    }
                };
                if first_seen.elapsed() < GAP_GRACE {
                    return &changes[..i];
                }
                tracing::warn!(
                    missing_from = expected,
                    next = change.seq,
                    "skipping a gap in the change log"
                );
            }
            expected = change.seq + 1;
        }
        self.gap = None;
        changes
    }
}

/// The follower's state between steps.
pub struct Follower {
    pool: DbPool,
    handle: Arc<IndexHandle>,
    members: Arc<AnonymiserCache>,
    k: usize,
    writer: Option<(u64, IncidentWriter)>,
    gaps: GapTracker,
    /// An older generation is left on disk to remove.
    stale: bool,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("k", &self.k)
            .finish_non_exhaustive()
    }
}

impl Follower {
    pub fn new(
        pool: DbPool,
        handle: Arc<IndexHandle>,
        members: Arc<AnonymiserCache>,
        k: usize,
    ) -> Follower {
        Follower {
            pool,
            handle,
            members,
            k,
            writer: None,
            gaps: GapTracker::default(),
            stale: false,
        }
    }

    fn writer(&mut self) -> anyhow::Result<&mut IncidentWriter> {
        let generation = self.handle.generation();
        if self.writer.as_ref().is_none_or(|(g, _)| *g != generation) {
            // A reindex swapped generations: the old writer goes first
            // (finishing its merges), then the old folders.
            if let Some((_, old)) = self.writer.take() {
                if let Err(e) = old.finish() {
                    tracing::warn!(error = %e, "closing the old index writer failed");
                }
                self.stale = true;
            }
            let writer = self.handle.current().writer()?;
            self.writer = Some((generation, writer));
            self.remove_stale();
        }
        match self.writer.as_mut() {
            Some((_, w)) => Ok(w),
            None => anyhow::bail!("index writer unavailable"),
        }
    }

    /// Deletes generations older than the live one once no writer of ours
    /// is open on them; retried on every step until it succeeds.
    fn remove_stale(&mut self) {
        let live = self.handle.generation();
        if !self.stale || self.writer.as_ref().is_some_and(|(g, _)| *g != live) {
            return;
        }
        match self.handle.remove_stale_generations() {
            Ok(_) => self.stale = false,
            Err(e) => tracing::warn!(error = %e, "old index generation not removed yet"),
        }
    }

    /// Applies up to [`BATCH`] changes and commits them; `Ok` with
    /// `applied == 0` when there was nothing to do.
    pub fn step(&mut self) -> anyhow::Result<Step> {
        if self.handle.adopt_from_disk()? {
            self.stale = true;
        }
        self.remove_stale();
        let last = self.handle.current().last_committed_seq()?.unwrap_or(0);
        let mut conn = self.pool.get()?;
        let changes = changes::changes_after(&mut conn, last, BATCH)?;
        let usable = self.gaps.contiguous(last, &changes);
        if usable.is_empty() {
            return Ok(Step::default());
        }
        let counts = self.members.country_counts(&mut conn)?;
        let k = self.k;
        // Each report once, as it is now: its published rows in one query
        // (a filing's create and publish are two changes of one report).
        let mut ids: Vec<String> = Vec::with_capacity(usable.len());
        let mut seen = std::collections::HashSet::new();
        for change in usable {
            if seen.insert(change.report_id.as_str()) {
                ids.push(change.report_id.clone());
            }
        }
        let published: HashMap<String, ReportRow> = reports::find_published(&mut conn, &ids)?
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect();
        let mut docs = Vec::with_capacity(ids.len());
        for id in ids {
            let doc = match published.get(&id) {
                Some(row) => published_doc(row, &counts, k)?,
                None => None,
            };
            docs.push((id, doc));
        }
        let through = usable.last().map(|c| c.seq).unwrap_or(last);
        let writer = self.writer()?;
        for (id, doc) in &docs {
            match doc {
                Some(doc) => writer.upsert(doc)?,
                None => writer.delete(id),
            }
        }
        writer.commit(through)?;
        // Cluster assignments follow what the index now holds.
        crate::clusters::after_index_commit(
            &mut conn,
            &self.handle.current(),
            docs.iter().map(|(id, _)| id.as_str()),
        );
        Ok(Step {
            applied: usable.len(),
            committed_seq: Some(through),
        })
    }

    /// Rebuilds the index from the database aside and swaps it in; calls
    /// `progress(done, total)` as it goes.
    pub fn rebuild(
        pool: &DbPool,
        handle: &IndexHandle,
        members: &AnonymiserCache,
        k: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<u64> {
        let mut conn = pool.get()?;
        // Everything up to this sequence is in the snapshot; the follower
        // continues after it.
        let through = changes::latest_seq(&mut conn)?;
        let counts = members.country_counts(&mut conn)?;
        let ids = reports::published_ids(&mut conn)?;
        let rebuild = handle.prepare_rebuild()?;
        {
            let mut writer = rebuild.index().writer()?;
            let total = ids.len() as u64;
            for (n, id) in ids.iter().enumerate() {
                if let Some(doc) = current_doc(&mut conn, id, &counts, k)? {
                    writer.upsert(&doc)?;
                }
                progress(n as u64 + 1, total);
            }
            writer.commit(through)?;
            writer.finish()?;
        }
        handle.swap_to(rebuild)?;
        Ok(ids.len() as u64)
    }
}

/// The index of a running process and its follower (one writer).
pub struct IndexService {
    pub handle: Arc<IndexHandle>,
    follower: Mutex<Follower>,
    /// Woken when reports change in this process.
    pub wake: Arc<Notify>,
}

impl std::fmt::Debug for IndexService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexService").finish_non_exhaustive()
    }
}

impl IndexService {
    /// Opens the index under `<data_dir>/index`; the follower runs when the
    /// job runner calls [`IndexService::follow`].
    pub fn open(
        data_dir: &std::path::Path,
        pool: DbPool,
        members: Arc<AnonymiserCache>,
        k: usize,
    ) -> anyhow::Result<IndexService> {
        let handle = Arc::new(IndexHandle::open(data_dir.join("index"))?);
        let follower = Follower::new(pool, handle.clone(), members, k);
        Ok(IndexService {
            handle,
            follower: Mutex::new(follower),
            wake: Arc::new(Notify::new()),
        })
    }

    /// Asks the follower to look at the change log now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// One follower step, and when to take the next: at once after a full
    /// batch, after [`COMMIT_EVERY`] after a partial one (so a stream of
    /// filings is committed a few times a second, not once per filing),
    /// else when woken or polled. Blocking.
    pub fn follow(&self) -> anyhow::Result<Next> {
        let mut follower = self
            .follower
            .lock()
            .map_err(|_| anyhow::anyhow!("the index follower is poisoned"))?;
        match follower.step() {
            Ok(step) if step.applied > 0 => {
                tracing::debug!(
                    applied = step.applied,
                    seq = step.committed_seq,
                    "index caught up"
                );
                if i64::try_from(step.applied).is_ok_and(|n| n < BATCH) {
                    Ok(Next::After(COMMIT_EVERY))
                } else {
                    Ok(Next::Now)
                }
            }
            Ok(_) => Ok(Next::Idle),
            Err(e) => {
                // Drop the writer: its uncommitted work is redone next time.
                follower.writer = None;
                Err(e)
            }
        }
    }
}
