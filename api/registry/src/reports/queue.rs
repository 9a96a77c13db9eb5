//! Group commit for filing and publishing reports.
//!
//! `POST /api/v1/reports` (with or without `publish=true`) and
//! `POST /api/v1/reports/{id}/publish` do not run their own transaction:
//! the handler queues the validated request, and a writer thread takes
//! every request waiting at that moment and stores them in one
//! transaction, with one multi-row statement per table (reports, first
//! revisions, one publishing UPDATE per operator, change-log entries,
//! lessons, idempotency records) and one commit.
//! Each request is answered only after that commit, so every filing is as
//! durable as before; under load, 32 concurrent filings cost a handful of
//! statements and one WAL flush instead of 300 round trips and 32 flushes.
//! Alone, a filing is a batch of one: nothing waits for company.
//!
//! A batch is all or nothing. When it fails — an `Idempotency-Key` already
//! taken (a retry) or repeated within the batch, a report that is not a
//! draft of its publisher (or is published twice in the batch), a lost
//! connection, any error — it is rolled back and each of its requests runs
//! again on its own through [`store_one`], the one-transaction-per-request
//! path with the usual idempotency handling (replay,
//! `idempotency_key_reused`, 404, 409). So a batch never answers anything
//! the single path would not.
//!
//! The identity epoch is read once per batch, inside its transaction, so a
//! batch is anonymised with the member list current at its commit, as a
//! single filing is.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use incidex_schema::db::idempotency::{self as idem_store, IdempotencyRow};
use incidex_schema::db::lessons::LessonRow;
use incidex_schema::db::reports::{self, NewReport, ReportRow, now};
use incidex_schema::db::{Backend, DbConnection, DbPool, discard_if_lost, write_transaction};
use incidex_schema::report::ReportContent;
use tokio::sync::oneshot;

use super::idempotency::{self, IdempotencyScope, Outcome, Recorded};
use super::intake::anonymise_content;
use super::{OwnedReport, Published, redactions_json};
use crate::error::{RegistryError, RegistryResult};
use crate::keys::RegistryKeys;
use crate::members::AnonymiserCache;
use crate::views::OwnerReport;

/// Filings taken into one transaction at most.
pub const MAX_BATCH: usize = 64;
/// Filings waiting at most; beyond that a request files on its own.
const QUEUE_BOUND: usize = 4096;

/// One validated filing, as the handler hands it over.
#[derive(Debug)]
pub struct Filing {
    pub operator_id: String,
    /// The stored owner (a keyed hash of the operator).
    pub owner: String,
    pub content: ReportContent,
    /// Publish in the same transaction (`?publish=true`).
    pub publish: bool,
    /// The request's `Idempotency-Key`, if it sent one.
    pub idempotency: Option<IdempotencyScope>,
}

/// One publication of a draft, as the handler hands it over.
#[derive(Debug)]
pub struct Publication {
    pub id: String,
    /// The publisher's stored owner key; only its own drafts are published.
    pub owner: String,
    pub idempotency: Option<IdempotencyScope>,
}

/// A request the writers store.
#[derive(Debug)]
pub enum Work {
    File(Box<Filing>),
    Publish(Publication),
}

impl Work {
    /// Whether storing this makes a report visible to others.
    pub fn publishes(&self) -> bool {
        match self {
            Work::File(f) => f.publish,
            Work::Publish(_) => true,
        }
    }
}

impl From<Filing> for Work {
    fn from(filing: Filing) -> Work {
        Work::File(Box::new(filing))
    }
}

/// What a writer needs besides its queue.
#[derive(Clone)]
pub struct FilingContext {
    pub pool: DbPool,
    pub members: Arc<AnonymiserCache>,
    pub keys: Arc<RegistryKeys>,
    pub issuer: String,
}

impl std::fmt::Debug for FilingContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilingContext")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

struct Job {
    work: Work,
    reply: oneshot::Sender<RegistryResult<Recorded>>,
}

/// The queue in front of the writer threads. Dropping it (with the last
/// registry handle) stops them once the queue is drained.
pub struct FilingQueue {
    sender: SyncSender<Job>,
    ctx: FilingContext,
}

impl std::fmt::Debug for FilingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilingQueue").finish_non_exhaustive()
    }
}

/// Writer threads for a backend: PostgreSQL overlaps one batch's commit
/// with the next batch's work; SQLite has one writer at a time anyway.
pub fn writers_for(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 2,
        Backend::Sqlite => 1,
    }
}

impl FilingQueue {
    /// Starts `writers` writer threads; with none, every filing is handed
    /// back to be filed on its own.
    pub fn start(ctx: FilingContext, writers: usize) -> std::io::Result<FilingQueue> {
        let (sender, receiver) = sync_channel::<Job>(QUEUE_BOUND);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..writers {
            let ctx = ctx.clone();
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("filing-writer-{n}"))
                .spawn(move || writer_loop(&ctx, &receiver))?;
        }
        Ok(FilingQueue { sender, ctx })
    }

    /// What the writers store with, for storing a request outside the queue.
    pub fn context(&self) -> &FilingContext {
        &self.ctx
    }

    /// Queues a request; the answer comes once its batch has committed (or
    /// it was stored on its own). Gives the request back when the queue is
    /// full or stopped, for the caller to store it itself.
    pub fn submit(
        &self,
        work: Work,
    ) -> Result<oneshot::Receiver<RegistryResult<Recorded>>, Box<Work>> {
        let (reply, answer) = oneshot::channel();
        match self.sender.try_send(Job { work, reply }) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                Err(Box::new(job.work))
            }
        }
    }
}

fn writer_loop(ctx: &FilingContext, receiver: &Mutex<Receiver<Job>>) {
    loop {
        let batch = {
            let Ok(receiver) = receiver.lock() else {
                return;
            };
            // Wait for one filing, then take whatever else is waiting.
            let Ok(first) = receiver.recv() else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        run_batch(ctx, batch);
    }
}

fn run_batch(ctx: &FilingContext, jobs: Vec<Job>) {
    let mut conn = match ctx.pool.get() {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "no database connection available");
            for job in jobs {
                let _ = job.reply.send(Err(RegistryError::Unavailable(
                    "the database is not available; retry shortly".into(),
                )));
            }
            return;
        }
    };
    let (work, replies): (Vec<Work>, Vec<_>) = jobs.into_iter().map(|j| (j.work, j.reply)).unzip();
    for (reply, result) in replies.into_iter().zip(store_all(ctx, &mut conn, work)) {
        let _ = reply.send(result);
    }
}

/// Stores `work` as one batch ([`store_batch`]) or, when the batch fails,
/// one request at a time ([`store_one`]); one answer per request, in order.
pub fn store_all(
    ctx: &FilingContext,
    conn: &mut DbConnection,
    work: Vec<Work>,
) -> Vec<RegistryResult<Recorded>> {
    match store_batch(ctx, conn, &work) {
        Ok(recorded) => recorded.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::debug!(error = %e, requests = work.len(), "batch rolled back; one by one");
            work.into_iter()
                .map(|w| {
                    let result = store_one(ctx, conn, w);
                    if result.as_ref().is_err_and(RegistryError::is_unexpected) {
                        // A dead connection is not used for the rest.
                        discard_if_lost(conn);
                    }
                    result
                })
                .collect()
        }
    }
}

/// Stores one request in its own transaction, with the usual idempotency
/// handling: the path of a batch that failed, and of a full queue.
pub fn store_one(
    ctx: &FilingContext,
    conn: &mut DbConnection,
    work: Work,
) -> RegistryResult<Recorded> {
    match work {
        Work::File(filing) => file_one(ctx, conn, *filing),
        Work::Publish(publication) => publish_one(ctx, conn, publication),
    }
}

fn idempotency_parts(i: Option<&IdempotencyScope>) -> (&str, Option<&str>, &str) {
    match i {
        Some(i) => (
            i.scope.as_str(),
            Some(i.key.as_str()),
            i.request_hash.as_str(),
        ),
        None => ("", None, ""),
    }
}

fn publish_one(
    ctx: &FilingContext,
    conn: &mut DbConnection,
    p: Publication,
) -> RegistryResult<Recorded> {
    let (scope, key, hash) = idempotency_parts(p.idempotency.as_ref());
    idempotency::run(conn, scope, key, hash, |conn| {
        let (report, receipt) =
            super::filing::publish_report(&ctx.keys, &ctx.issuer, conn, &p.id, &p.owner)?;
        Ok((
            Outcome::Done,
            serde_json::to_value(Published { report, receipt })?,
        ))
    })
}

/// Files one filing in its own transaction, with the usual idempotency
/// handling.
pub fn file_one(
    ctx: &FilingContext,
    conn: &mut DbConnection,
    filing: Filing,
) -> RegistryResult<Recorded> {
    let Filing {
        operator_id,
        owner,
        content,
        publish,
        idempotency,
    } = filing;
    let (scope, key, hash) = match &idempotency {
        Some(i) => (
            i.scope.as_str(),
            Some(i.key.as_str()),
            i.request_hash.as_str(),
        ),
        None => ("", None, ""),
    };
    idempotency::run(conn, scope, key, hash, |conn| {
        let mut filed =
            super::filing::file_report(&ctx.members, conn, &operator_id, &owner, content)?;
        if publish {
            let (report, receipt) = super::filing::publish_report(
                &ctx.keys,
                &ctx.issuer,
                conn,
                &filed.report.id,
                &owner,
            )?;
            filed.report = report;
            filed.receipt = Some(receipt);
        }
        Ok((Outcome::Created, serde_json::to_value(&filed)?))
    })
}

/// Stores every request in one transaction, or none of them; one answer
/// per request, in order.
pub fn store_batch(
    ctx: &FilingContext,
    conn: &mut DbConnection,
    work: &[Work],
) -> RegistryResult<Vec<Recorded>> {
    write_transaction(conn, |conn| {
        let at = now();
        let mut records = Vec::new();
        let mut lessons = Vec::new();
        let filings: Vec<&Filing> = work
            .iter()
            .filter_map(|w| match w {
                Work::File(f) => Some(f.as_ref()),
                Work::Publish(_) => None,
            })
            .collect();
        let publications: Vec<&Publication> = work
            .iter()
            .filter_map(|w| match w {
                Work::Publish(p) => Some(p),
                Work::File(_) => None,
            })
            .collect();
        let mut filed = file_in(ctx, conn, &filings, at, &mut records, &mut lessons)?.into_iter();
        let mut published =
            publish_in(ctx, conn, &publications, at, &mut records, &mut lessons)?.into_iter();
        incidex_schema::db::lessons::insert_lessons(conn, &lessons)?;
        idem_store::insert_all(conn, &records)?;
        work.iter()
            .map(|w| {
                let next = match w {
                    Work::File(_) => filed.next(),
                    Work::Publish(_) => published.next(),
                };
                next.ok_or_else(|| {
                    RegistryError::internal(anyhow::anyhow!("batch answers out of step"))
                })
            })
            .collect()
    })
}

fn record(
    i: Option<&IdempotencyScope>,
    outcome: Outcome,
    body: &serde_json::Value,
    at: NaiveDateTime,
) -> Option<IdempotencyRow> {
    i.map(|i| IdempotencyRow {
        scope: i.scope.clone(),
        idem_key: i.key.clone(),
        request_hash: i.request_hash.clone(),
        response_status: outcome.code(),
        response_body: body.to_string(),
        created_at: at,
    })
}

/// New reports: anonymised with the members of this transaction's epoch,
/// stored with one INSERT per table.
fn file_in(
    ctx: &FilingContext,
    conn: &mut DbConnection,
    filings: &[&Filing],
    at: NaiveDateTime,
    records: &mut Vec<IdempotencyRow>,
    lessons: &mut Vec<LessonRow>,
) -> RegistryResult<Vec<Recorded>> {
    if filings.is_empty() {
        return Ok(Vec::new());
    }
    let members = ctx.members.members(conn)?;
    let mut rows = Vec::with_capacity(filings.len());
    let mut redactions = Vec::with_capacity(filings.len());
    let mut answers = Vec::with_capacity(filings.len());
    for f in filings {
        let terms = members.terms(&f.operator_id)?;
        let anonymised = anonymise_content(&members.anonymiser(), &terms, f.content.clone());
        let row = super::filing::new_report_row(&f.owner, &anonymised.content, f.publish, at)?;
        let receipt = f
            .publish
            .then(|| super::filing::receipt_for(&ctx.keys, &ctx.issuer, &row, at));
        if f.publish {
            lessons.extend(crate::lessons::store::published_lesson_rows(&row)?);
        }
        let body = serde_json::to_value(OwnedReport {
            report: OwnerReport::from_row(&row)?,
            redactions: anonymised.redactions.clone(),
            receipt,
        })?;
        records.extend(record(f.idempotency.as_ref(), Outcome::Created, &body, at));
        redactions.push(redactions_json(&anonymised.redactions));
        rows.push(row);
        answers.push(Recorded {
            outcome: Outcome::Created,
            body,
            replayed: false,
        });
    }
    let new: Vec<NewReport<'_>> = rows
        .iter()
        .zip(&redactions)
        .map(|(row, redactions)| NewReport { row, redactions })
        .collect();
    reports::insert_new_reports(conn, &new)?;
    Ok(answers)
}

/// Publications: one UPDATE per publishing operator. Every one must find
/// its draft, once; otherwise the batch fails and each request gets the
/// single path's answer (404, 409, a replay).
fn publish_in(
    ctx: &FilingContext,
    conn: &mut DbConnection,
    publications: &[&Publication],
    at: NaiveDateTime,
    records: &mut Vec<IdempotencyRow>,
    lessons: &mut Vec<LessonRow>,
) -> RegistryResult<Vec<Recorded>> {
    let mut by_owner: HashMap<&str, Vec<&str>> = HashMap::new();
    for p in publications {
        by_owner
            .entry(p.owner.as_str())
            .or_default()
            .push(p.id.as_str());
    }
    let mut rows: HashMap<String, ReportRow> = HashMap::with_capacity(publications.len());
    for (owner, ids) in by_owner {
        for row in reports::publish_drafts(conn, owner, &ids, at)? {
            rows.insert(row.id.clone(), row);
        }
    }
    if rows.len() != publications.len() {
        return Err(RegistryError::Conflict(
            "a publication in the batch found no draft of its own".into(),
        ));
    }
    publications
        .iter()
        .map(|p| {
            let row = &rows[&p.id];
            lessons.extend(crate::lessons::store::published_lesson_rows(row)?);
            let body = serde_json::to_value(Published {
                report: OwnerReport::from_row(row)?,
                receipt: super::filing::receipt_for(&ctx.keys, &ctx.issuer, row, at),
            })?;
            records.extend(record(p.idempotency.as_ref(), Outcome::Done, &body, at));
            Ok(Recorded {
                outcome: Outcome::Done,
                body,
                replayed: false,
            })
        })
        .collect()
}
