//! Digest rows, and the claim that makes each digest be produced once.
//!
//! Policy (see `docs/digests.md`):
//! - One row per (kind, period, audience), enforced by the primary key (an
//!   id derived from the three) and a unique constraint on the three. The
//!   row exists from the moment a scheduler claims the digest.
//! - [`claim`] inserts the row as `running` under a lease, or takes over a
//!   row that `failed` or whose lease has expired (its holder crashed or
//!   was stopped mid-run), in one transaction; anything else (done, or
//!   running under a live lease) is left alone. On PostgreSQL two replicas
//!   racing for the same digest meet on the unique key (the loser's insert
//!   fails inside a savepoint) or on the conditional update (the row lock
//!   makes the second update re-check the lease and match nothing); on
//!   SQLite the transaction takes the write lock first.
//! - [`complete`] and [`fail`] only touch a row the caller still holds, so
//!   a holder whose lease was taken over cannot overwrite the new holder's
//!   work.
//! - Content is stored once, as JSON; every other format is rendered from
//!   it, so a stored digest always renders the same.
//! - Every time is passed in by the caller (naive UTC), so tests and
//!   replicas agree on what "now" is for a decision.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::reports::ReportRow;
use super::{DbConnection, StorageResult, write_transaction};
use crate::schema::{digests, lesson_endorsements, report_changes, reports};

pub const STATUS_RUNNING: &str = "running";
pub const STATUS_DONE: &str = "done";
pub const STATUS_FAILED: &str = "failed";

/// A stored digest with its content.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = digests)]
pub struct DigestRow {
    pub id: String,
    pub kind: String,
    pub audience: String,
    pub period_start: NaiveDateTime,
    pub period_end: NaiveDateTime,
    pub status: String,
    /// The digest as JSON (once done).
    pub content: Option<String>,
    /// Incidents in the digest (once done).
    pub incidents: Option<i32>,
    pub holder: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub exported_at: Option<NaiveDateTime>,
}

/// A stored digest without its content (lists).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = digests)]
pub struct DigestListing {
    pub id: String,
    pub kind: String,
    pub audience: String,
    pub period_start: NaiveDateTime,
    pub period_end: NaiveDateTime,
    pub incidents: Option<i32>,
    pub completed_at: Option<NaiveDateTime>,
}

/// What identifies one digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestKey<'a> {
    /// Derived from the other three (e.g. `weekly-2026-W40-members`).
    pub id: &'a str,
    pub kind: &'a str,
    pub audience: &'a str,
    pub period_start: NaiveDateTime,
    pub period_end: NaiveDateTime,
}

/// The outcome of [`claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the lease now; `attempt` counts claims so far.
    Claimed { attempt: i32 },
    /// The digest exists already.
    Done,
    /// Another holder is producing it under a live lease.
    Busy,
}

/// Claims a digest for `holder` until `now + lease`: inserts it as
/// running, or takes it over when it failed or its lease expired.
pub fn claim(
    conn: &mut DbConnection,
    key: DigestKey<'_>,
    holder: &str,
    now: NaiveDateTime,
    lease: TimeDelta,
) -> StorageResult<Claim> {
    let until = now + lease;
    write_transaction(conn, |conn| {
        // The savepoint keeps the transaction usable on PostgreSQL when the
        // insert meets the unique key.
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(digests::table)
                .values(DigestRow {
                    id: key.id.to_owned(),
                    kind: key.kind.to_owned(),
                    audience: key.audience.to_owned(),
                    period_start: key.period_start,
                    period_end: key.period_end,
                    status: STATUS_RUNNING.to_owned(),
                    content: None,
                    incidents: None,
                    holder: Some(holder.to_owned()),
                    lease_until: Some(until),
                    attempts: 1,
                    last_error: None,
                    created_at: now,
                    updated_at: now,
                    completed_at: None,
                    exported_at: None,
                })
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(Claim::Claimed { attempt: 1 }),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
            Err(e) => return Err(e.into()),
        }
        let taken = diesel::update(
            digests::table.filter(digests::id.eq(key.id)).filter(
                digests::status.eq(STATUS_FAILED).or(digests::status
                    .eq(STATUS_RUNNING)
                    .and(digests::lease_until.lt(now))),
            ),
        )
        .set((
            digests::status.eq(STATUS_RUNNING),
            digests::holder.eq(Some(holder)),
            digests::lease_until.eq(Some(until)),
            digests::attempts.eq(digests::attempts + 1),
            digests::updated_at.eq(now),
        ))
        .execute(conn)?;
        let (status, attempts): (String, i32) = digests::table
            .find(key.id)
            .select((digests::status, digests::attempts))
            .first(conn)?;
        Ok(if taken == 1 {
            Claim::Claimed { attempt: attempts }
        } else if status == STATUS_DONE {
            Claim::Done
        } else {
            Claim::Busy
        })
    })
}

/// Stores the content of a digest the caller holds; `false` when it no
/// longer holds it (its lease was taken over).
pub fn complete(
    conn: &mut DbConnection,
    id: &str,
    holder: &str,
    content: &str,
    incidents: i32,
    now: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(held(id, holder))
        .set((
            digests::status.eq(STATUS_DONE),
            digests::content.eq(Some(content)),
            digests::incidents.eq(Some(incidents)),
            digests::holder.eq(None::<String>),
            digests::lease_until.eq(None::<NaiveDateTime>),
            digests::last_error.eq(None::<String>),
            digests::completed_at.eq(Some(now)),
            digests::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Records that producing a digest the caller holds failed (the next tick
/// retries it); `false` when it no longer holds it.
pub fn fail(
    conn: &mut DbConnection,
    id: &str,
    holder: &str,
    error: &str,
    now: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(held(id, holder))
        .set((
            digests::status.eq(STATUS_FAILED),
            digests::holder.eq(None::<String>),
            digests::lease_until.eq(None::<NaiveDateTime>),
            digests::last_error.eq(Some(error)),
            digests::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// The condition of [`held`].
type HeldBy<'a> = diesel::helper_types::And<
    diesel::helper_types::And<
        diesel::helper_types::Eq<digests::id, &'a str>,
        diesel::helper_types::Eq<digests::holder, &'a str>,
    >,
    diesel::helper_types::Eq<digests::status, &'static str>,
>;

/// The row `id` while `holder` holds it.
fn held<'a>(
    id: &'a str,
    holder: &'a str,
) -> diesel::helper_types::Filter<digests::table, HeldBy<'a>> {
    digests::table.filter(
        digests::id
            .eq(id)
            .and(digests::holder.eq(holder))
            .and(digests::status.eq(STATUS_RUNNING)),
    )
}

/// Records that a digest's files were written (or, with an error, not).
pub fn mark_exported(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    error: Option<&str>,
) -> StorageResult<()> {
    match error {
        None => diesel::update(digests::table.find(id))
            .set((
                digests::exported_at.eq(Some(now)),
                digests::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        Some(e) => diesel::update(digests::table.find(id))
            .set(digests::last_error.eq(Some(e)))
            .execute(conn)?,
    };
    Ok(())
}

/// Done digests whose files have not been written yet, oldest first.
pub fn pending_exports(conn: &mut DbConnection) -> StorageResult<Vec<DigestRow>> {
    Ok(digests::table
        .filter(digests::status.eq(STATUS_DONE))
        .filter(digests::exported_at.is_null())
        .order((digests::period_start.asc(), digests::id.asc()))
        .select(DigestRow::as_select())
        .load(conn)?)
}

/// The status of every digest of `kind` starting at or after `from`, by id.
pub fn statuses_since(
    conn: &mut DbConnection,
    kind: &str,
    from: NaiveDateTime,
) -> StorageResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = digests::table
        .filter(digests::kind.eq(kind))
        .filter(digests::period_start.ge(from))
        .select((digests::id, digests::status))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn find(conn: &mut DbConnection, id: &str) -> StorageResult<Option<DigestRow>> {
    Ok(digests::table
        .find(id)
        .select(DigestRow::as_select())
        .first(conn)
        .optional()?)
}

/// A page of done digests of one audience, latest period first.
pub fn list_done(
    conn: &mut DbConnection,
    audience: &str,
    kind: Option<&str>,
    limit: i64,
    offset: i64,
) -> StorageResult<(Vec<DigestListing>, i64)> {
    let mut query = digests::table
        .filter(digests::status.eq(STATUS_DONE))
        .filter(digests::audience.eq(audience.to_owned()))
        .into_boxed();
    let mut count = digests::table
        .filter(digests::status.eq(STATUS_DONE))
        .filter(digests::audience.eq(audience.to_owned()))
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(digests::kind.eq(kind.to_owned()));
        count = count.filter(digests::kind.eq(kind.to_owned()));
    }
    let rows = query
        .order((
            digests::period_end.desc(),
            digests::period_start.desc(),
            digests::id.asc(),
        ))
        .limit(limit)
        .offset(offset)
        .select(DigestListing::as_select())
        .load(conn)?;
    let total = count.count().get_result(conn)?;
    Ok((rows, total))
}

/// Done digests of one audience with their content, latest period first
/// (feeds).
pub fn latest_done(
    conn: &mut DbConnection,
    audience: &str,
    kind: Option<&str>,
    limit: i64,
) -> StorageResult<Vec<DigestRow>> {
    let mut query = digests::table
        .filter(digests::status.eq(STATUS_DONE))
        .filter(digests::audience.eq(audience.to_owned()))
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(digests::kind.eq(kind.to_owned()));
    }
    Ok(query
        .order((
            digests::period_end.desc(),
            digests::period_start.desc(),
            digests::id.asc(),
        ))
        .limit(limit)
        .select(DigestRow::as_select())
        .load(conn)?)
}

// ---------------------------------------------------------------------------
// What a digest is made of
// ---------------------------------------------------------------------------

/// The earliest publication time in the registry (any report ever
/// published, withdrawn since or not).
pub fn first_publication(conn: &mut DbConnection) -> StorageResult<Option<NaiveDateTime>> {
    Ok(reports::table
        .select(diesel::dsl::min(reports::published_at))
        .first(conn)?)
}

/// A report that changed in a period, with its latest amendment in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedReport {
    pub row: ReportRow,
    /// Its latest amendment within the period, if any.
    pub amended_at: Option<NaiveDateTime>,
}

/// Published reports of the given TLP levels that were published, or
/// amended, in `[start, end)`, by id.
pub fn changed_between(
    conn: &mut DbConnection,
    tlps: &[&str],
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> StorageResult<Vec<ChangedReport>> {
    let tlps: Vec<String> = tlps.iter().map(|t| t.to_string()).collect();
    let amendments: Vec<(String, Option<NaiveDateTime>)> = report_changes::table
        .filter(report_changes::kind.eq("amended"))
        .filter(report_changes::changed_at.ge(start))
        .filter(report_changes::changed_at.lt(end))
        .group_by(report_changes::report_id)
        .select((
            report_changes::report_id,
            diesel::dsl::max(report_changes::changed_at),
        ))
        .load(conn)?;
    let amended: HashMap<String, NaiveDateTime> = amendments
        .into_iter()
        .filter_map(|(id, at)| at.map(|at| (id, at)))
        .collect();
    let mut rows: Vec<ReportRow> = reports::table
        .filter(reports::status.eq("published"))
        .filter(reports::tlp.eq_any(&tlps))
        .filter(reports::published_at.ge(start))
        .filter(reports::published_at.lt(end))
        .select(ReportRow::as_select())
        .load(conn)?;
    let mut ids: Vec<String> = amended.keys().cloned().collect();
    ids.sort();
    // Bounded IN lists: SQLite limits bound parameters per statement.
    for chunk in ids.chunks(500) {
        rows.extend(
            reports::table
                .filter(reports::id.eq_any(chunk))
                .filter(reports::status.eq("published"))
                .filter(reports::tlp.eq_any(&tlps))
                .filter(reports::published_at.lt(start))
                .select(ReportRow::as_select())
                .load(conn)?,
        );
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows
        .into_iter()
        .map(|row| ChangedReport {
            amended_at: amended.get(&row.id).copied(),
            row,
        })
        .collect())
}

/// Endorsements recorded in `[start, end)`, per lesson.
pub fn endorsements_between(
    conn: &mut DbConnection,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> StorageResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = lesson_endorsements::table
        .filter(lesson_endorsements::created_at.ge(start))
        .filter(lesson_endorsements::created_at.lt(end))
        .group_by(lesson_endorsements::lesson_id)
        .select((lesson_endorsements::lesson_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}
