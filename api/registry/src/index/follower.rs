//! Keeping the full-text index in step with the database.
//!
//! One follower per process owns the only `IndexWriter`; the job runner
//! steps it. It stands at a position of the report change log (see
//! `incidex_schema::db::changes`: every change below it is in the index),
//! stored in each tantivy commit's payload with the documents. A step takes
//! the next final changes (never one a running transaction could still
//! add to, so nothing is ever skipped), upserts the shared view of each
//! report that is published now (deletes any other), and commits with the
//! new position. After a crash the uncommitted batch is simply done again:
//! upserts are idempotent. Publishing wakes the follower at once; it also
//! polls, so changes made by other replicas arrive too.
//!
//! Catching up (a fresh server, a new replica, a backlog) runs in batches
//! of [`BATCH`] changes, the reports of a batch read in one query per
//! [`READ_CHUNK`] and turned into documents on every core, and without the
//! incremental clustering: clusters follow once the index has caught up
//! (one pass over what is unassigned, or a full re-clustering for a large
//! backlog), never an index that is still behind.
//!
//! What is indexed is the projection of `super::document`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use incidex_indexer::{IncidentWriter, IndexDoc, IndexHandle, WriterOptions};
use incidex_schema::db::DbPool;
use incidex_schema::db::changes::{self, Position};
use incidex_schema::db::reports::{self, ReportRow};
use tokio::sync::Notify;

use super::document::published_doc;
use crate::members::AnonymiserCache;
use crate::work::Next;

/// Changes taken per step (and commit) at most, give or take the rest of
/// one transaction: large, because while catching up a tantivy commit
/// costs more than the documents (measured 938 docs/s with commits of 500
/// on the 10k corpus, 1,588 with commits of 5,000); a steady trickle makes
/// small batches anyway.
pub const BATCH: i64 = 5_000;
/// Reports read per query.
pub const READ_CHUNK: usize = 500;
/// How often the follower looks for changes made elsewhere.
pub const POLL: Duration = Duration::from_millis(250);
/// After a commit that did not fill a batch, the follower lets changes
/// accumulate this long before the next one: under a stream of filings it
/// commits a few times a second instead of once per filing (a tantivy
/// commit and the incremental clustering cost far more than the documents
/// themselves), at the price of search seeing a filing up to this much
/// later. Idle, a change is indexed as soon as it is committed.
pub const COMMIT_EVERY: Duration = Duration::from_millis(150);

/// What a follower step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Changes applied.
    pub applied: usize,
    /// The position committed with them.
    pub committed: Option<Position>,
    /// Whether more final changes are waiting.
    pub more: bool,
}

/// The follower's state between steps.
pub struct Follower {
    pool: DbPool,
    handle: Arc<IndexHandle>,
    members: Arc<AnonymiserCache>,
    k: usize,
    writer: Option<(u64, IncidentWriter)>,
    /// An older generation is left on disk to remove.
    stale: bool,
    /// Where the follower stands when that is past the last commit (steps
    /// that found nothing to index move it without a commit).
    position: Option<Position>,
    /// Whether clustering waits for the index to catch up.
    clustering_due: bool,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("k", &self.k)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

/// Turns stored rows into index documents, on every core for a large
/// batch (JSON parsing and the projection cost more than indexing).
fn documents(
    rows: &[ReportRow],
    counts: &HashMap<String, usize>,
    k: usize,
) -> anyhow::Result<Vec<Option<IndexDoc>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if rows.len() < 256 || threads < 2 {
        return rows.iter().map(|r| published_doc(r, counts, k)).collect();
    }
    let chunk = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|r| published_doc(r, counts, k))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("document builder panicked"))??,
            );
        }
        Ok(out)
    })
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
            stale: false,
            position: None,
            clustering_due: true,
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

    /// Where the follower stands: its own position, else the one the live
    /// index was committed with (0 for a new index).
    pub fn position(&self) -> anyhow::Result<Position> {
        let committed = self.handle.current().last_committed_seq()?.unwrap_or(0);
        Ok(self.position.map_or(committed, |p| p.max(committed)))
    }

    /// Applies the next batch of final changes and commits them; `Ok` with
    /// `applied == 0` when there was nothing to do.
    pub fn step(&mut self) -> anyhow::Result<Step> {
        if self.handle.adopt_from_disk()? {
            // Another process rebuilt the index: it stands where the
            // rebuild stood.
            self.stale = true;
            self.position = None;
        }
        self.remove_stale();
        let from = self.position()?;
        let mut conn = self.pool.get()?;
        let batch = changes::next_changes(&mut conn, from, BATCH)?;
        if batch.changes.is_empty() {
            self.position = Some(batch.next);
            if self.clustering_due {
                self.bring_clusters_up_to_date(&mut conn);
            }
            return Ok(Step::default());
        }
        let counts = self.members.country_counts(&mut conn)?;
        // Each report once, as it is now: a filing's create and publish are
        // two changes of one report.
        let mut ids: Vec<String> = Vec::with_capacity(batch.changes.len());
        let mut seen = std::collections::HashSet::new();
        for change in &batch.changes {
            if seen.insert(change.report_id.as_str()) {
                ids.push(change.report_id.clone());
            }
        }
        let mut rows: Vec<ReportRow> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(READ_CHUNK) {
            rows.extend(reports::find_published(&mut conn, chunk)?);
        }
        let docs = documents(&rows, &counts, self.k)?;
        let published: HashMap<&str, IndexDoc> = rows
            .iter()
            .zip(docs)
            .filter_map(|(row, doc)| doc.map(|d| (row.id.as_str(), d)))
            .collect();
        let writer = self.writer()?;
        for id in &ids {
            match published.get(id.as_str()) {
                Some(doc) => writer.upsert(doc)?,
                None => writer.delete(id),
            }
        }
        writer.commit(batch.next)?;
        self.position = Some(batch.next);
        metrics::counter!("incidex_indexed_changes_total").increment(batch.changes.len() as u64);
        self.clustering_due = true;
        if !batch.more {
            // Caught up: clusters follow what the index now holds.
            self.bring_clusters_up_to_date(&mut conn);
        }
        Ok(Step {
            applied: batch.changes.len(),
            committed: Some(batch.next),
            more: batch.more,
        })
    }

    fn bring_clusters_up_to_date(&mut self, conn: &mut incidex_schema::db::DbConnection) {
        let position = self.position.unwrap_or(0);
        // On failure, retried at the next step.
        self.clustering_due =
            !crate::clusters::after_index_commit(conn, &self.handle.current(), position);
    }

    /// Compares the index with the database and repairs what differs: the
    /// current document of every report that should be there, none of any
    /// other. Returns what differed.
    pub fn reconcile(&mut self) -> anyhow::Result<super::reconcile::Difference> {
        let position = self.position()?;
        let mut conn = self.pool.get()?;
        let diff = super::reconcile::compare(&self.handle.current(), position, &mut conn)?;
        if diff.is_empty() {
            return Ok(diff);
        }
        tracing::warn!(
            missing = diff.missing.len(),
            stale = diff.stale.len(),
            extra = diff.extra.len(),
            "the index differed from the database; repairing"
        );
        let ids = diff.ids();
        let counts = self.members.country_counts(&mut conn)?;
        let mut rows: Vec<ReportRow> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(READ_CHUNK) {
            rows.extend(reports::find_published(&mut conn, chunk)?);
        }
        let docs = documents(&rows, &counts, self.k)?;
        let published: HashMap<&str, IndexDoc> = rows
            .iter()
            .zip(docs)
            .filter_map(|(row, doc)| doc.map(|d| (row.id.as_str(), d)))
            .collect();
        let writer = self.writer()?;
        for id in &ids {
            match published.get(id.as_str()) {
                Some(doc) => writer.upsert(doc)?,
                None => writer.delete(id),
            }
        }
        let committed = writer.last_seq().unwrap_or(0);
        writer.commit(position.max(committed))?;
        metrics::counter!("incidex_index_repairs_total").increment(ids.len() as u64);
        Ok(diff)
    }

    /// Rebuilds the index from the database aside and swaps it in; calls
    /// `progress(done, total)` as it goes. Reads the published reports in
    /// pages in id order (one query per page) and builds their documents on
    /// every core.
    pub fn rebuild(
        pool: &DbPool,
        handle: &IndexHandle,
        members: &AnonymiserCache,
        k: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<u64> {
        let mut conn = pool.get()?;
        // Every change below this position is in what is read next; the
        // follower goes on from here (changes after it are applied again,
        // which is harmless).
        let through = changes::head(&mut conn)?;
        let counts = members.country_counts(&mut conn)?;
        let total = reports::count_published(&mut conn)? as u64;
        let rebuild = handle.prepare_rebuild()?;
        let mut done = 0u64;
        {
            // Two threads and a larger budget: nothing else indexes now.
            let mut writer = rebuild.index().writer_with(WriterOptions::bulk())?;
            let mut after: Option<String> = None;
            loop {
                let rows = reports::published_page(&mut conn, after.as_deref(), 1_000)?;
                let Some(last) = rows.last() else {
                    break;
                };
                after = Some(last.id.clone());
                for doc in documents(&rows, &counts, k)?.into_iter().flatten() {
                    writer.upsert(&doc)?;
                }
                done += rows.len() as u64;
                progress(done, total.max(done));
            }
            writer.commit(through)?;
            // One segment answers searches faster than several.
            writer.compact()?;
            writer.finish()?;
        }
        handle.swap_to(rebuild)?;
        Ok(done)
    }
}

/// How far the index is behind the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lag {
    /// The follower's position in the change log.
    pub position: Position,
    /// Changes the index has not applied yet.
    pub changes: i64,
    /// Seconds since the oldest of them was made (0 when none).
    pub seconds: i64,
    /// Whether the follower has caught up at least once since start.
    pub caught_up: bool,
}

/// The index of a running process and its follower (one writer).
pub struct IndexService {
    pub handle: Arc<IndexHandle>,
    follower: Mutex<Follower>,
    /// Woken when reports change in this process.
    pub wake: Arc<Notify>,
    pool: DbPool,
    /// The follower's position, for readers of the lag.
    position: AtomicI64,
    caught_up: AtomicBool,
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
        let follower = Follower::new(pool.clone(), handle.clone(), members, k);
        let position = follower.position()?;
        Ok(IndexService {
            handle,
            follower: Mutex::new(follower),
            wake: Arc::new(Notify::new()),
            pool,
            position: AtomicI64::new(position),
            caught_up: AtomicBool::new(false),
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
        let result = follower.step();
        if let Ok(p) = follower.position() {
            self.position.store(p, Ordering::Relaxed);
        }
        match result {
            Ok(step) if step.applied > 0 => {
                tracing::debug!(
                    applied = step.applied,
                    position = step.committed,
                    "index caught up"
                );
                if step.more {
                    Ok(Next::Now)
                } else {
                    self.caught_up.store(true, Ordering::Relaxed);
                    Ok(Next::After(COMMIT_EVERY))
                }
            }
            Ok(_) => {
                self.caught_up.store(true, Ordering::Relaxed);
                Ok(Next::Idle)
            }
            Err(e) => {
                // Drop the writer: its uncommitted work is redone next time.
                follower.writer = None;
                Err(e)
            }
        }
    }

    /// Compares the index with the database and repairs any difference.
    /// Blocking.
    pub fn reconcile(&self) -> anyhow::Result<super::reconcile::Difference> {
        let mut follower = self
            .follower
            .lock()
            .map_err(|_| anyhow::anyhow!("the index follower is poisoned"))?;
        let result = follower.reconcile();
        if result.is_err() {
            follower.writer = None;
        }
        result
    }

    /// How far behind the index is now. Reads the database.
    pub fn lag(&self) -> anyhow::Result<Lag> {
        let position = self.position.load(Ordering::Relaxed);
        let mut conn = self.pool.get()?;
        let (changes, oldest) = changes::backlog(&mut conn, position)?;
        let seconds = oldest
            .map(|t| {
                (incidex_schema::db::reports::now() - t)
                    .num_seconds()
                    .max(0)
            })
            .unwrap_or(0);
        let lag = Lag {
            position,
            changes,
            seconds,
            caught_up: self.caught_up.load(Ordering::Relaxed),
        };
        metrics::gauge!("incidex_index_lag_changes").set(lag.changes as f64);
        metrics::gauge!("incidex_index_lag_seconds").set(lag.seconds as f64);
        Ok(lag)
    }
}
