//! Report rows. Every function that changes a report writes the change log
//! in the same transaction ([`super::changes::record_change`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::changes::{ChangeKind, record_change};
use super::{DbConnection, StorageResult, atomically};
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
    atomically(conn, |conn| {
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
    atomically(conn, |conn| {
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

/// Publishes a draft of `owner_key` in one statement (the content is not
/// rewritten) and logs [`ChangeKind::Published`]. Returns the published
/// row, or `None` when there is no such draft of that owner (the caller
/// finds out which).
pub fn publish_draft(
    conn: &mut DbConnection,
    id: &str,
    owner_key: &str,
    at: NaiveDateTime,
) -> StorageResult<Option<ReportRow>> {
    atomically(conn, |conn| {
        let row: Option<ReportRow> = diesel::update(
            reports::table
                .find(id)
                .filter(reports::owner_key.eq(owner_key))
                .filter(reports::status.eq("draft")),
        )
        .set((
            reports::status.eq("published"),
            reports::published_at.eq(Some(at)),
            reports::updated_at.eq(at),
        ))
        .returning(reports::all_columns)
        .get_result(conn)
        .optional()?;
        if let Some(row) = &row {
            record_change(conn, &row.id, ChangeKind::Published, row.revision, at)?;
        }
        Ok(row)
    })
}

/// Publishes the drafts among `ids` that belong to `owner_key`, in one
/// statement (the content is not rewritten), and logs
/// [`ChangeKind::Published`] for each in one more. Returns the published
/// rows; ids that are not drafts of that owner are left out (the caller
/// finds out which).
pub fn publish_drafts(
    conn: &mut DbConnection,
    owner_key: &str,
    ids: &[&str],
    at: NaiveDateTime,
) -> StorageResult<Vec<ReportRow>> {
    atomically(conn, |conn| {
        let rows: Vec<ReportRow> = diesel::update(
            reports::table
                .filter(reports::id.eq_any(ids))
                .filter(reports::owner_key.eq(owner_key))
                .filter(reports::status.eq("draft")),
        )
        .set((
            reports::status.eq("published"),
            reports::published_at.eq(Some(at)),
            reports::updated_at.eq(at),
        ))
        .returning(reports::all_columns)
        .get_results(conn)?;
        let entries: Vec<_> = rows
            .iter()
            .map(|r| (r.id.as_str(), ChangeKind::Published, r.revision, at))
            .collect();
        super::changes::record_changes(conn, &entries)?;
        Ok(rows)
    })
}

/// The published reports among `ids` (any order; others are left out).
pub fn find_published(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<ReportRow>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            reports::table
                .filter(reports::id.eq_any(chunk))
                .filter(reports::status.eq("published"))
                .select(ReportRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
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

/// One stored revision of a report's content.
///
/// The current revision's content is the report's own (`reports.content`):
/// it is stored once, and its revision row holds an empty `content` until a
/// newer revision supersedes it. The functions here always return the
/// content filled in.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::report_revisions)]
pub struct RevisionRow {
    pub report_id: String,
    pub revision: i32,
    pub status: String,
    pub content: String,
    /// JSON list of redactions (never the original text).
    pub redactions: String,
    pub created_at: NaiveDateTime,
}

/// Inserts a new report with its first revision and logs
/// [`ChangeKind::Created`], in one transaction.
pub fn create_with_revision(
    conn: &mut DbConnection,
    row: &ReportRow,
    redactions: &str,
) -> StorageResult<i64> {
    atomically(conn, |conn| {
        let seq = insert_report(conn, row)?;
        insert_revision(conn, row, redactions)?;
        Ok(seq)
    })
}

/// A new report for [`insert_new_reports`].
#[derive(Debug, Clone, Copy)]
pub struct NewReport<'a> {
    /// The row as it is to be stored: a draft, or already published.
    pub row: &'a ReportRow,
    /// The redactions of its first revision (JSON).
    pub redactions: &'a str,
}

/// Stores many new reports with one multi-row INSERT per table, exactly as
/// [`create_with_revision`] followed, for rows already published, by
/// [`publish_draft`] would one at a time: the reports, their first
/// revisions (stored as drafts, as filed), and change-log entries
/// `created` (and then `published`) per report, in the order given. Call
/// it inside a transaction.
pub fn insert_new_reports(conn: &mut DbConnection, new: &[NewReport<'_>]) -> StorageResult<()> {
    use crate::schema::report_revisions;
    let rows: Vec<ReportRow> = new.iter().map(|n| n.row.clone()).collect();
    super::insert_rows!(conn, reports::table, &rows)?;
    let revisions: Vec<RevisionRow> = new
        .iter()
        .map(|n| RevisionRow {
            report_id: n.row.id.clone(),
            revision: n.row.revision,
            status: "draft".to_owned(),
            // The current revision's content is the report's own.
            content: String::new(),
            redactions: n.redactions.to_owned(),
            created_at: n.row.created_at,
        })
        .collect();
    super::insert_rows!(conn, report_revisions::table, &revisions)?;
    let mut entries = Vec::with_capacity(new.len() * 2);
    for n in new {
        let r = n.row;
        entries.push((r.id.as_str(), ChangeKind::Created, r.revision, r.created_at));
        if let Some(at) = r.published_at.filter(|_| r.status == "published") {
            entries.push((r.id.as_str(), ChangeKind::Published, r.revision, at));
        }
    }
    super::changes::record_changes(conn, &entries)
}

/// Stores a changed report (and, when its content changed, the new
/// revision) and logs `kind`, in one transaction.
pub fn save_change(
    conn: &mut DbConnection,
    row: &ReportRow,
    kind: ChangeKind,
    new_revision_redactions: Option<&str>,
) -> StorageResult<Option<i64>> {
    atomically(conn, |conn| {
        if new_revision_redactions.is_some() {
            keep_superseded_content(conn, &row.id, row.revision - 1)?;
        }
        let seq = update_report(conn, row, kind)?;
        if seq.is_some()
            && let Some(redactions) = new_revision_redactions
        {
            insert_revision(conn, row, redactions)?;
        }
        Ok(seq)
    })
}

/// Copies the report's content (still that of `revision`) into the row of
/// `revision`, which a new revision is about to supersede.
fn keep_superseded_content(
    conn: &mut DbConnection,
    report_id: &str,
    revision: i32,
) -> StorageResult<()> {
    use crate::schema::report_revisions;
    let current = reports::table
        .find(report_id)
        .filter(reports::revision.eq(revision))
        .select(reports::content);
    diesel::update(
        report_revisions::table
            .filter(report_revisions::report_id.eq(report_id))
            .filter(report_revisions::revision.eq(revision))
            .filter(report_revisions::content.eq("")),
    )
    .set(report_revisions::content.eq(current.single_value().assume_not_null()))
    .execute(conn)?;
    Ok(())
}

/// Fills in the content of the current revision (stored empty).
fn with_content(
    conn: &mut DbConnection,
    mut rows: Vec<RevisionRow>,
) -> StorageResult<Vec<RevisionRow>> {
    for row in rows.iter_mut().filter(|r| r.content.is_empty()) {
        if let Some(content) = reports::table
            .find(&row.report_id)
            .filter(reports::revision.eq(row.revision))
            .select(reports::content)
            .first::<String>(conn)
            .optional()?
        {
            row.content = content;
        }
    }
    Ok(rows)
}

fn insert_revision(
    conn: &mut DbConnection,
    row: &ReportRow,
    redactions: &str,
) -> StorageResult<()> {
    use crate::schema::report_revisions;
    diesel::insert_into(report_revisions::table)
        .values(RevisionRow {
            report_id: row.id.clone(),
            revision: row.revision,
            status: row.status.clone(),
            // The current revision's content is the report's own.
            content: String::new(),
            redactions: redactions.to_owned(),
            created_at: row.updated_at,
        })
        .execute(conn)?;
    Ok(())
}

/// Every revision of a report, oldest first.
pub fn revisions(conn: &mut DbConnection, report_id: &str) -> StorageResult<Vec<RevisionRow>> {
    use crate::schema::report_revisions;
    let rows = report_revisions::table
        .filter(report_revisions::report_id.eq(report_id))
        .order(report_revisions::revision.asc())
        .select(RevisionRow::as_select())
        .load(conn)?;
    with_content(conn, rows)
}

/// One stored revision of a report.
pub fn find_revision(
    conn: &mut DbConnection,
    report_id: &str,
    revision: i32,
) -> StorageResult<Option<RevisionRow>> {
    use crate::schema::report_revisions;
    let row = report_revisions::table
        .find((report_id, revision))
        .select(RevisionRow::as_select())
        .first(conn)
        .optional()?;
    Ok(with_content(conn, row.into_iter().collect())?.pop())
}

/// The latest revision's stored redactions.
pub fn latest_redactions(
    conn: &mut DbConnection,
    report_id: &str,
    revision: i32,
) -> StorageResult<Option<String>> {
    use crate::schema::report_revisions;
    Ok(report_revisions::table
        .find((report_id, revision))
        .select(report_revisions::redactions)
        .first(conn)
        .optional()?)
}

/// A page of one owner's reports, newest first, optionally of one status.
pub fn list_owned(
    conn: &mut DbConnection,
    owner_key: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> StorageResult<(Vec<ReportRow>, i64)> {
    let mut query = reports::table
        .filter(reports::owner_key.eq(owner_key))
        .into_boxed();
    let mut count = reports::table
        .filter(reports::owner_key.eq(owner_key))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(reports::status.eq(status.to_owned()));
        count = count.filter(reports::status.eq(status.to_owned()));
    }
    let rows = query
        .order((reports::updated_at.desc(), reports::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(ReportRow::as_select())
        .load(conn)?;
    let total = count.count().get_result(conn)?;
    Ok((rows, total))
}

/// A page of published reports of the given TLP levels, most recently
/// published first.
pub fn list_published(
    conn: &mut DbConnection,
    tlps: &[&str],
    limit: i64,
    offset: i64,
) -> StorageResult<(Vec<ReportRow>, i64)> {
    let tlps: Vec<String> = tlps.iter().map(|t| t.to_string()).collect();
    let rows = reports::table
        .filter(reports::status.eq("published"))
        .filter(reports::tlp.eq_any(&tlps))
        .order((reports::published_at.desc(), reports::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(ReportRow::as_select())
        .load(conn)?;
    let total = reports::table
        .filter(reports::status.eq("published"))
        .filter(reports::tlp.eq_any(&tlps))
        .count()
        .get_result(conn)?;
    Ok((rows, total))
}

/// Ids of every published report (for rebuilding derived data).
/// How many reports are published.
pub fn count_published(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(reports::table
        .filter(reports::status.eq("published"))
        .count()
        .get_result(conn)?)
}

/// Up to `limit` published reports with ids after `after`, in id order:
/// a page for reading every published report without holding them all.
pub fn published_page(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> StorageResult<Vec<ReportRow>> {
    let mut query = reports::table
        .filter(reports::status.eq("published"))
        .order(reports::id.asc())
        .limit(limit)
        .select(ReportRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(reports::id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

pub fn published_ids(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    Ok(reports::table
        .filter(reports::status.eq("published"))
        .order(reports::id.asc())
        .select(reports::id)
        .load(conn)?)
}
