//! The report change log: one row per change to a report, written in the
//! same transaction as the change.
//!
//! The index follower and the alert matcher follow this log (DESIGN.md
//! section 3). Sequence numbers alone cannot say when a follower may move
//! on: on PostgreSQL they are taken before commit, so a transaction that
//! commits late makes an older number visible after newer ones. So each
//! change also records its *position* (`txid`): on PostgreSQL the id of the
//! transaction that wrote it, on SQLite its sequence number (one writer at
//! a time commits in sequence order). A follower stands at a position `P`
//! meaning "every change below `P` is processed", and only ever takes
//! changes below the [`head`]: on PostgreSQL the oldest transaction still
//! running (`pg_snapshot_xmin(pg_current_snapshot())`), below which every
//! transaction has committed or rolled back, so no change can appear there
//! any more. Nothing is skipped on a timeout; a transaction that stays open
//! holds followers back (and [`backlog`] shows it) but never loses a change.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StorageResult};
use crate::schema::report_changes;

/// What happened to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Published,
    Amended,
    Withdrawn,
}

impl ChangeKind {
    pub const ALL: &'static [ChangeKind] = &[
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Published,
        ChangeKind::Amended,
        ChangeKind::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Published => "published",
            ChangeKind::Amended => "amended",
            ChangeKind::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = report_changes)]
pub struct ChangeRow {
    pub seq: i64,
    pub report_id: String,
    pub kind: String,
    pub revision: i32,
    pub changed_at: NaiveDateTime,
    /// The change's position in the log (see the module doc).
    pub txid: i64,
}

/// A follower's place in the log: every change whose position is below it
/// has been processed.
pub type Position = i64;

/// The next changes a follower at some position may take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeBatch {
    /// In log order (position, then sequence).
    pub changes: Vec<ChangeRow>,
    /// Where the follower stands once it has processed them.
    pub next: Position,
    /// Whether more final changes were left for the next batch.
    pub more: bool,
}

#[derive(Insertable)]
#[diesel(table_name = report_changes)]
struct NewChange<'a> {
    report_id: &'a str,
    kind: &'a str,
    revision: i32,
    changed_at: NaiveDateTime,
}

/// Appends one entry. Call it inside the transaction that makes the change.
pub fn record_change(
    conn: &mut DbConnection,
    report_id: &str,
    kind: ChangeKind,
    revision: i32,
    changed_at: NaiveDateTime,
) -> StorageResult<i64> {
    let row: ChangeRow = diesel::insert_into(report_changes::table)
        .values(NewChange {
            report_id,
            kind: kind.as_str(),
            revision,
            changed_at,
        })
        .get_result(conn)?;
    Ok(row.seq)
}

/// Appends many entries in one statement, in the order given (sequence
/// numbers follow it). Call it inside the transaction that makes the
/// changes.
pub fn record_changes(
    conn: &mut DbConnection,
    entries: &[(&str, ChangeKind, i32, NaiveDateTime)],
) -> StorageResult<()> {
    let rows: Vec<NewChange<'_>> = entries
        .iter()
        .map(|(report_id, kind, revision, changed_at)| NewChange {
            report_id,
            kind: kind.as_str(),
            revision: *revision,
            changed_at: *changed_at,
        })
        .collect();
    super::insert_rows!(conn, report_changes::table, &rows)?;
    Ok(())
}

/// Entries after `after_seq`, oldest first, at most `limit`.
pub fn changes_after(
    conn: &mut DbConnection,
    after_seq: i64,
    limit: i64,
) -> StorageResult<Vec<ChangeRow>> {
    Ok(report_changes::table
        .filter(report_changes::seq.gt(after_seq))
        .order(report_changes::seq.asc())
        .limit(limit)
        .select(ChangeRow::as_select())
        .load(conn)?)
}

/// The highest sequence number written so far (0 when the log is empty).
pub fn latest_seq(conn: &mut DbConnection) -> StorageResult<i64> {
    let max: Option<i64> = report_changes::table
        .select(diesel::dsl::max(report_changes::seq))
        .first(conn)?;
    Ok(max.unwrap_or(0))
}

#[derive(diesel::QueryableByName)]
struct Head {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    head: i64,
}

/// The position below which the log is final: no transaction running now
/// can add a change there.
pub fn head(conn: &mut DbConnection) -> StorageResult<Position> {
    match conn {
        DbConnection::Postgresql(c) => {
            let row: Head = diesel::sql_query(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS head",
            )
            .get_result(c)?;
            Ok(row.head)
        }
        DbConnection::Sqlite(_) => {
            let max: Option<i64> = report_changes::table
                .select(diesel::dsl::max(report_changes::txid))
                .first(conn)?;
            Ok(max.map_or(1, |m| m + 1))
        }
    }
}

/// The final changes at or after `from`, about `limit` of them: a batch
/// always ends at a transaction boundary, so it can run over `limit` by the
/// rest of one transaction's changes.
pub fn next_changes(
    conn: &mut DbConnection,
    from: Position,
    limit: i64,
) -> StorageResult<ChangeBatch> {
    let head = head(conn)?;
    let mut changes: Vec<ChangeRow> = report_changes::table
        .filter(report_changes::txid.ge(from))
        .filter(report_changes::txid.lt(head))
        .order((report_changes::txid.asc(), report_changes::seq.asc()))
        .limit(limit + 1)
        .select(ChangeRow::as_select())
        .load(conn)?;
    if changes.len() as i64 <= limit {
        // Everything final is in: the follower can stand at the head.
        return Ok(ChangeBatch {
            changes,
            next: head.max(from),
            more: false,
        });
    }
    let cut = changes[limit as usize].txid;
    changes.retain(|c| c.txid < cut);
    if changes.is_empty() {
        // One transaction with more than `limit` changes: all of it.
        changes = report_changes::table
            .filter(report_changes::txid.eq(cut))
            .order(report_changes::seq.asc())
            .select(ChangeRow::as_select())
            .load(conn)?;
        return Ok(ChangeBatch {
            changes,
            next: cut + 1,
            more: true,
        });
    }
    Ok(ChangeBatch {
        changes,
        next: cut,
        more: true,
    })
}

/// How far behind a follower at `from` is: the changes it has not
/// processed (final or not) and when the oldest of them was made.
pub fn backlog(
    conn: &mut DbConnection,
    from: Position,
) -> StorageResult<(i64, Option<NaiveDateTime>)> {
    let pending = report_changes::table.filter(report_changes::txid.ge(from));
    let count: i64 = pending.count().get_result(conn)?;
    let oldest: Option<NaiveDateTime> = pending
        .select(diesel::dsl::min(report_changes::changed_at))
        .first(conn)?;
    Ok((count, oldest))
}

/// Reports with a change at or after `from` (not processed by a follower
/// standing there yet).
pub fn pending_reports(
    conn: &mut DbConnection,
    from: Position,
) -> StorageResult<std::collections::HashSet<String>> {
    Ok(report_changes::table
        .filter(report_changes::txid.ge(from))
        .select(report_changes::report_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}
