//! The report change log: one row per change to a report, written in the
//! same transaction as the change, with a monotonic sequence number.
//!
//! The indexer follows this log (DESIGN.md section 3). Sequence numbers are
//! unique and increasing but may have gaps (a rolled-back PostgreSQL
//! transaction consumes a value) and, with concurrent writers on
//! PostgreSQL, may become visible slightly out of order; a follower must
//! therefore treat a gap as "maybe not committed yet" for a grace period
//! before skipping it.

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
