//! Report rows. Every function that changes a report writes the change log
//! in the same transaction ([`super::changes::record_change`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::changes::{ChangeKind, record_change};
use super::{DbConnection, StorageResult};
use crate::schema::reports;

/// A report as stored: the content is the validated, anonymised report as
/// JSON; the other columns are what lists and filters need.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = reports)]
pub struct ReportRow {
    pub id: String,
    pub owner_key: String,
    pub status: String,
    pub tlp: String,
    pub revision: i32,
    pub content: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub published_at: Option<NaiveDateTime>,
}

/// Inserts a new report and logs [`ChangeKind::Created`].
pub fn insert_report(conn: &mut DbConnection, row: &ReportRow) -> StorageResult<i64> {
    conn.transaction(|conn| {
        diesel::insert_into(reports::table)
            .values(row)
            .execute(conn)?;
        record_change(
            conn,
            &row.id,
            ChangeKind::Created,
            row.revision,
            row.created_at,
        )
    })
}

/// Replaces a stored report's mutable columns and logs `kind`. Returns the
/// change's sequence number, or `None` when no such report exists.
pub fn update_report(
    conn: &mut DbConnection,
    row: &ReportRow,
    kind: ChangeKind,
) -> StorageResult<Option<i64>> {
    conn.transaction(|conn| {
        let n = diesel::update(reports::table.find(&row.id))
            .set((
                reports::status.eq(&row.status),
                reports::tlp.eq(&row.tlp),
                reports::revision.eq(row.revision),
                reports::content.eq(&row.content),
                reports::updated_at.eq(row.updated_at),
                reports::published_at.eq(row.published_at),
            ))
            .execute(conn)?;
        if n == 0 {
            return Ok(None);
        }
        record_change(conn, &row.id, kind, row.revision, row.updated_at).map(Some)
    })
}

pub fn find_report(conn: &mut DbConnection, id: &str) -> StorageResult<Option<ReportRow>> {
    Ok(reports::table
        .find(id)
        .select(ReportRow::as_select())
        .first(conn)
        .optional()?)
}

/// The current time as stored: UTC, truncated to microseconds so that it
/// reads back identically from both backends.
pub fn now() -> NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::microseconds(1)).unwrap_or(now)
}
