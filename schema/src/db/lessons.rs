//! Lesson records and their endorsements.
//!
//! A lesson comes from a published report (`report_id`, `position`) or is
//! curated by an analyst for a cluster (`cluster_id`). Report lessons are
//! written in the same transaction as the report change that makes them
//! (publication, amendment) and deleted with its withdrawal; the API owns
//! that policy. Endorsements store a keyed hash of the endorsing member, so
//! they can be counted once per member but not attributed.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{DbConnection, StorageResult};
use crate::schema::{cluster_members, lesson_endorsements, lessons, reports};

/// Where a lesson comes from.
pub const SOURCE_REPORT: &str = "report";
pub const SOURCE_CURATED: &str = "curated";

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = lessons)]
pub struct LessonRow {
    pub id: String,
    pub report_id: Option<String>,
    /// Curated lessons only (a report lesson's cluster is its report's).
    pub cluster_id: Option<String>,
    pub position: i32,
    /// Anonymised text.
    pub text: String,
    pub category: String,
    /// [`SOURCE_REPORT`] or [`SOURCE_CURATED`].
    pub source: String,
    /// JSON array of the report's services (empty for curated lessons).
    pub report_services: String,
    /// JSON array of the report's network domains, main and other.
    pub report_domains: String,
    pub report_root_cause: Option<String>,
    pub report_trigger: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The report columns a report lesson copies (its shared, filterable fields).
#[derive(Debug, Clone, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = lessons, treat_none_as_null = true)]
pub struct LessonPlacement {
    pub position: i32,
    pub category: String,
    pub report_services: String,
    pub report_domains: String,
    pub report_root_cause: Option<String>,
    pub report_trigger: Option<String>,
}

pub fn insert_lesson(conn: &mut DbConnection, row: &LessonRow) -> StorageResult<()> {
    diesel::insert_into(lessons::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Inserts several records in one statement.
pub fn insert_lessons(conn: &mut DbConnection, rows: &[LessonRow]) -> StorageResult<()> {
    super::insert_rows!(conn, lessons::table, rows)?;
    Ok(())
}

pub fn find_lesson(conn: &mut DbConnection, id: &str) -> StorageResult<Option<LessonRow>> {
    Ok(lessons::table
        .find(id)
        .select(LessonRow::as_select())
        .first(conn)
        .optional()?)
}

/// A report's lessons, in order.
pub fn report_lessons(conn: &mut DbConnection, report_id: &str) -> StorageResult<Vec<LessonRow>> {
    Ok(lessons::table
        .filter(lessons::report_id.eq(report_id))
        .order((lessons::position.asc(), lessons::id.asc()))
        .select(LessonRow::as_select())
        .load(conn)?)
}

/// The lessons of the given reports, by report then position.
pub fn lessons_of_reports(
    conn: &mut DbConnection,
    report_ids: &[String],
) -> StorageResult<Vec<LessonRow>> {
    let mut out = Vec::new();
    for chunk in report_ids.chunks(500) {
        out.extend(
            lessons::table
                .filter(lessons::report_id.eq_any(chunk))
                .order((
                    lessons::report_id.asc(),
                    lessons::position.asc(),
                    lessons::id.asc(),
                ))
                .select(LessonRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Updates the position and copied report fields of a kept lesson.
pub fn place_lesson(
    conn: &mut DbConnection,
    id: &str,
    placement: &LessonPlacement,
) -> StorageResult<()> {
    diesel::update(lessons::table.find(id))
        .set(placement)
        .execute(conn)?;
    Ok(())
}

/// Deletes lessons with their endorsements.
pub fn delete_lessons(conn: &mut DbConnection, ids: &[String]) -> StorageResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(lesson_endorsements::table.filter(lesson_endorsements::lesson_id.eq_any(ids)))
        .execute(conn)?;
    Ok(diesel::delete(lessons::table.filter(lessons::id.eq_any(ids))).execute(conn)?)
}

/// Curated lessons of one cluster, oldest first.
pub fn curated_lessons(conn: &mut DbConnection, cluster_id: &str) -> StorageResult<Vec<LessonRow>> {
    Ok(lessons::table
        .filter(lessons::cluster_id.eq(cluster_id))
        .order((lessons::created_at.asc(), lessons::id.asc()))
        .select(LessonRow::as_select())
        .load(conn)?)
}

/// Clusters that hold curated lessons.
pub fn clusters_with_curated_lessons(conn: &mut DbConnection) -> StorageResult<HashSet<String>> {
    let ids: Vec<Option<String>> = lessons::table
        .filter(lessons::cluster_id.is_not_null())
        .select(lessons::cluster_id)
        .distinct()
        .load(conn)?;
    Ok(ids.into_iter().flatten().collect())
}

/// Moves the curated lessons of one cluster to another (re-clustering).
pub fn move_curated_lessons(conn: &mut DbConnection, from: &str, to: &str) -> StorageResult<usize> {
    Ok(
        diesel::update(lessons::table.filter(lessons::cluster_id.eq(from)))
            .set(lessons::cluster_id.eq(Some(to)))
            .execute(conn)?,
    )
}

/// A lesson a reader may be shown, with the cluster of its report.
#[derive(Debug, Clone, PartialEq)]
pub struct LessonCandidate {
    pub lesson: LessonRow,
    /// The report's cluster (report lessons) or the lesson's own (curated).
    pub cluster_id: Option<String>,
}

/// Who is reading: the TLP levels their role may read and, for a member,
/// the owner key of their own reports (which they may read at any level).
#[derive(Debug, Clone, Copy)]
pub struct ReaderScope<'a> {
    pub tlps: &'a [&'a str],
    pub owner_key: Option<&'a str>,
}

/// Report lessons whose report is published and readable in `scope`, and
/// every curated lesson (whose visibility follows its cluster: the caller
/// filters those). Oldest first.
pub fn readable_lessons(
    conn: &mut DbConnection,
    scope: ReaderScope<'_>,
) -> StorageResult<Vec<LessonCandidate>> {
    let tlps: Vec<String> = scope.tlps.iter().map(|t| t.to_string()).collect();
    let owner = scope.owner_key.unwrap_or("").to_owned();
    let readable = reports::status
        .eq("published")
        .and(reports::tlp.eq_any(tlps).or(reports::owner_key.eq(owner)));
    let rows: Vec<(LessonRow, Option<String>)> = lessons::table
        .left_join(reports::table.on(lessons::report_id.eq(reports::id.nullable())))
        .left_join(
            cluster_members::table.on(lessons::report_id.eq(cluster_members::report_id.nullable())),
        )
        .filter(lessons::report_id.is_null().or(readable))
        .order((lessons::created_at.asc(), lessons::id.asc()))
        .select((
            LessonRow::as_select(),
            cluster_members::cluster_id.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(lesson, member_cluster)| {
            let cluster_id = member_cluster.or_else(|| lesson.cluster_id.clone());
            LessonCandidate { lesson, cluster_id }
        })
        .collect())
}

/// Records that a member endorses a lesson; `false` when it already had.
pub fn endorse(
    conn: &mut DbConnection,
    lesson_id: &str,
    endorser_key: &str,
    at: NaiveDateTime,
) -> StorageResult<bool> {
    let exists = lesson_endorsements::table
        .find((lesson_id, endorser_key))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
    // A concurrent endorsement by the same member may win the race: its
    // primary key makes this one a no-op. The savepoint keeps the
    // surrounding transaction usable on PostgreSQL.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(lesson_endorsements::table)
            .values((
                lesson_endorsements::lesson_id.eq(lesson_id),
                lesson_endorsements::endorser_key.eq(endorser_key),
                lesson_endorsements::created_at.eq(at),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Endorsement counts of the given lessons (lessons without any are absent).
pub fn endorsement_counts(
    conn: &mut DbConnection,
    lesson_ids: &[String],
) -> StorageResult<HashMap<String, i64>> {
    let mut out = HashMap::new();
    // Bounded IN lists: SQLite limits bound parameters per statement.
    for chunk in lesson_ids.chunks(500) {
        let rows: Vec<(String, i64)> = lesson_endorsements::table
            .filter(lesson_endorsements::lesson_id.eq_any(chunk))
            .group_by(lesson_endorsements::lesson_id)
            .select((lesson_endorsements::lesson_id, diesel::dsl::count_star()))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Endorsement counts of every lesson.
pub fn all_endorsement_counts(conn: &mut DbConnection) -> StorageResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = lesson_endorsements::table
        .group_by(lesson_endorsements::lesson_id)
        .select((lesson_endorsements::lesson_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Which of the given lessons this endorser has endorsed.
pub fn endorsed_by(
    conn: &mut DbConnection,
    lesson_ids: &[String],
    endorser_key: &str,
) -> StorageResult<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in lesson_ids.chunks(500) {
        let rows: Vec<String> = lesson_endorsements::table
            .filter(lesson_endorsements::endorser_key.eq(endorser_key))
            .filter(lesson_endorsements::lesson_id.eq_any(chunk))
            .select(lesson_endorsements::lesson_id)
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}
