//! Cluster rows and cluster assignments.
//!
//! Assignments live in the database, so every replica shows the same
//! clusters: one `cluster_members` row per clustered report (a report is in
//! at most one cluster). Labels, top terms and centroids are derived data
//! computed by the API from the indexer's clustering; the label is a cache
//! valid for the member revisions recorded in `label_basis`.
//!
//! Writers serialise on [`lock_assignments`] (the index followers of all
//! replicas and the full re-clustering); the periodic re-clustering also
//! takes [`try_lock_recluster`] so only one replica runs it. Both are
//! transaction-scoped: call them first inside the writing transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use super::reports::ReportRow;
use super::{DbConnection, StorageResult};
use crate::schema::{cluster_members, cluster_stamp, clusters, recluster_runs, reports};

/// Advisory-lock key serialising cluster assignment writers ("incidexa").
const ASSIGN_LOCK_KEY: i64 = 0x0069_6e63_6964_6561;
/// Advisory-lock key of the full re-clustering ("incidexr").
const RECLUSTER_LOCK_KEY: i64 = 0x0069_6e63_6964_6572;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = clusters)]
pub struct ClusterRow {
    pub id: String,
    pub label: String,
    /// JSON array of strings.
    pub top_terms: String,
    /// JSON of the indexer's `Centroid`.
    pub centroid: String,
    /// Hash of the member ids and revisions `label` was computed from.
    pub label_basis: String,
    /// JSON array of `{basis, label, top_terms}`: labels of the members
    /// each reader class may see, each with the hash of its member set.
    pub shared_labels: String,
    /// Publication time of the earliest member.
    pub first_seen: NaiveDateTime,
    /// Publication time of the latest member.
    pub last_seen: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// JSON array: what each reader class sees of the cluster (the
    /// registry's `ClassView`).
    pub class_views: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = cluster_members)]
pub struct MemberRow {
    pub report_id: String,
    pub cluster_id: String,
    pub joined_at: NaiveDateTime,
}

/// A cluster member with what visibility decisions need (never the content).
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct MemberReport {
    pub cluster_id: String,
    pub report_id: String,
    pub status: String,
    pub tlp: String,
    pub owner_key: String,
    pub revision: i32,
    pub published_at: Option<NaiveDateTime>,
    pub joined_at: NaiveDateTime,
}

pub fn insert_cluster(conn: &mut DbConnection, row: &ClusterRow) -> StorageResult<()> {
    diesel::insert_into(clusters::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Replaces a cluster's columns; `false` when there is no such cluster.
pub fn update_cluster(conn: &mut DbConnection, row: &ClusterRow) -> StorageResult<bool> {
    let n = diesel::update(clusters::table.find(&row.id))
        .set(row)
        .execute(conn)?;
    Ok(n == 1)
}

pub fn find_cluster(conn: &mut DbConnection, id: &str) -> StorageResult<Option<ClusterRow>> {
    Ok(clusters::table
        .find(id)
        .select(ClusterRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every cluster, oldest first.
/// How many clusters there are.
pub fn count_clusters(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(clusters::table.count().get_result(conn)?)
}

pub fn all_clusters(conn: &mut DbConnection) -> StorageResult<Vec<ClusterRow>> {
    Ok(clusters::table
        .order((clusters::created_at.asc(), clusters::id.asc()))
        .select(ClusterRow::as_select())
        .load(conn)?)
}

/// Clusters by id (any order).
pub fn clusters_by_id(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<ClusterRow>> {
    Ok(clusters::table
        .filter(clusters::id.eq_any(ids))
        .select(ClusterRow::as_select())
        .load(conn)?)
}

/// Deletes a cluster that no member and no lesson refers to any more.
pub fn delete_cluster(conn: &mut DbConnection, id: &str) -> StorageResult<bool> {
    Ok(diesel::delete(clusters::table.find(id)).execute(conn)? == 1)
}

pub fn insert_member(conn: &mut DbConnection, row: &MemberRow) -> StorageResult<()> {
    diesel::insert_into(cluster_members::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Inserts many memberships, a few statements for all of them.
pub fn insert_members(conn: &mut DbConnection, rows: &[MemberRow]) -> StorageResult<()> {
    super::insert_rows!(conn, cluster_members::table, rows)?;
    Ok(())
}

/// Removes a report from its cluster; `false` when it was in none.
pub fn delete_member(conn: &mut DbConnection, report_id: &str) -> StorageResult<bool> {
    Ok(diesel::delete(cluster_members::table.find(report_id)).execute(conn)? == 1)
}

/// Removes every assignment (the full re-clustering replaces them all).
pub fn delete_all_members(conn: &mut DbConnection) -> StorageResult<usize> {
    Ok(diesel::delete(cluster_members::table).execute(conn)?)
}

pub fn member_of(conn: &mut DbConnection, report_id: &str) -> StorageResult<Option<MemberRow>> {
    Ok(cluster_members::table
        .find(report_id)
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every assignment.
pub fn all_members(conn: &mut DbConnection) -> StorageResult<Vec<MemberRow>> {
    Ok(cluster_members::table
        .order(cluster_members::report_id.asc())
        .select(MemberRow::as_select())
        .load(conn)?)
}

/// The members of every cluster (or of one), with their reports' status,
/// TLP, owner and revision.
pub fn member_reports(
    conn: &mut DbConnection,
    cluster_id: Option<&str>,
) -> StorageResult<Vec<MemberReport>> {
    let mut query = cluster_members::table
        .inner_join(reports::table)
        .select((
            cluster_members::cluster_id,
            cluster_members::report_id,
            reports::status,
            reports::tlp,
            reports::owner_key,
            reports::revision,
            reports::published_at,
            cluster_members::joined_at,
        ))
        .order((cluster_members::cluster_id.asc(), reports::id.asc()))
        .into_boxed();
    if let Some(id) = cluster_id {
        query = query.filter(cluster_members::cluster_id.eq(id.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Published reports in no cluster, oldest publication first, at most `limit`.
pub fn unassigned_published(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<ReportRow>> {
    Ok(reports::table
        .filter(reports::status.eq("published"))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            cluster_members::table.filter(cluster_members::report_id.eq(reports::id)),
        )))
        .order((reports::published_at.asc(), reports::id.asc()))
        .limit(limit)
        .select(ReportRow::as_select())
        .load(conn)?)
}

/// Assignments of reports that are no longer published (withdrawn).
pub fn unpublished_members(conn: &mut DbConnection) -> StorageResult<Vec<MemberRow>> {
    Ok(cluster_members::table
        .inner_join(reports::table)
        .filter(reports::status.ne("published"))
        .select(MemberRow::as_select())
        .load(conn)?)
}

/// The published reports of one cluster, by id.
pub fn published_members(
    conn: &mut DbConnection,
    cluster_id: &str,
) -> StorageResult<Vec<ReportRow>> {
    Ok(cluster_members::table
        .inner_join(reports::table)
        .filter(cluster_members::cluster_id.eq(cluster_id))
        .filter(reports::status.eq("published"))
        .order(reports::id.asc())
        .select(ReportRow::as_select())
        .load(conn)?)
}

/// A completed full re-clustering.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = recluster_runs)]
pub struct ReclusterRun {
    pub id: String,
    pub finished_at: NaiveDateTime,
    pub reports: i32,
    pub clusters: i32,
}

pub fn record_run(conn: &mut DbConnection, run: &ReclusterRun) -> StorageResult<()> {
    diesel::insert_into(recluster_runs::table)
        .values(run)
        .execute(conn)?;
    Ok(())
}

/// The most recent full re-clustering.
pub fn last_run(conn: &mut DbConnection) -> StorageResult<Option<ReclusterRun>> {
    Ok(recluster_runs::table
        .order((recluster_runs::finished_at.desc(), recluster_runs::id.asc()))
        .select(ReclusterRun::as_select())
        .first(conn)
        .optional()?)
}

/// Takes the write lock for assignments until the surrounding transaction
/// ends, waiting for another holder. PostgreSQL: a transaction-level
/// advisory lock. SQLite: a write that changes nothing, which takes the
/// database's write lock now rather than at the first real write (a
/// transaction that read first could otherwise fail on a stale snapshot).
pub fn lock_assignments(conn: &mut DbConnection) -> StorageResult<()> {
    match conn {
        DbConnection::Postgresql(pg) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<BigInt, _>(ASSIGN_LOCK_KEY)
                .execute(pg)?;
        }
        DbConnection::Sqlite(_) => super::lock_for_write(conn)?,
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Takes the re-clustering lock until the surrounding transaction ends:
/// `false` when another replica holds it (PostgreSQL). With `wait`, waits
/// for it instead. On SQLite, one process serves the database and its write
/// lock (see [`lock_assignments`]) is enough.
pub fn lock_recluster(conn: &mut DbConnection, wait: bool) -> StorageResult<bool> {
    match conn {
        DbConnection::Postgresql(pg) => {
            if wait {
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<BigInt, _>(RECLUSTER_LOCK_KEY)
                    .execute(pg)?;
                Ok(true)
            } else {
                let row: Locked =
                    diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                        .bind::<BigInt, _>(RECLUSTER_LOCK_KEY)
                        .get_result(pg)?;
                Ok(row.locked)
            }
        }
        DbConnection::Sqlite(_) => Ok(true),
    }
}

/// How many published reports are in no cluster.
pub fn count_unassigned(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(reports::table
        .filter(reports::status.eq("published"))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            cluster_members::table.filter(cluster_members::report_id.eq(reports::id)),
        )))
        .count()
        .get_result(conn)?)
}

/// Every published report, oldest publication first (the order the full
/// clustering takes them in).
pub fn published_chronological(conn: &mut DbConnection) -> StorageResult<Vec<ReportRow>> {
    Ok(reports::table
        .filter(reports::status.eq("published"))
        .order((reports::published_at.asc(), reports::id.asc()))
        .select(ReportRow::as_select())
        .load(conn)?)
}

/// Up to `limit` published reports after `after` (publication time, id)
/// in publication order: a page for reading every published report
/// without holding them all.
pub fn published_chronological_page(
    conn: &mut DbConnection,
    after: Option<(NaiveDateTime, &str)>,
    limit: i64,
) -> StorageResult<Vec<ReportRow>> {
    let mut query = reports::table
        .filter(reports::status.eq("published"))
        .order((reports::published_at.asc(), reports::id.asc()))
        .limit(limit)
        .select(ReportRow::as_select())
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            reports::published_at.gt(at).or(reports::published_at
                .eq(at)
                .and(reports::id.gt(id.to_owned()))),
        );
    }
    Ok(query.load(conn)?)
}

/// The revision of every published report.
pub fn published_revisions(conn: &mut DbConnection) -> StorageResult<Vec<(String, i32)>> {
    Ok(reports::table
        .filter(reports::status.eq("published"))
        .select((reports::id, reports::revision))
        .load(conn)?)
}

/// Reports by id (any order; unknown ids are left out).
pub fn reports_by_id(conn: &mut DbConnection, ids: &[String]) -> StorageResult<Vec<ReportRow>> {
    let mut out = Vec::with_capacity(ids.len());
    // Bounded IN lists: SQLite limits bound parameters per statement.
    for chunk in ids.chunks(500) {
        out.extend(
            reports::table
                .filter(reports::id.eq_any(chunk))
                .select(ReportRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// How many reports (any status) are assigned to a cluster.
pub fn count_members(conn: &mut DbConnection, cluster_id: &str) -> StorageResult<i64> {
    Ok(cluster_members::table
        .filter(cluster_members::cluster_id.eq(cluster_id))
        .count()
        .get_result(conn)?)
}

/// The change-log position below which every change is reflected in the
/// clusters' stored views.
pub fn stamp(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(cluster_stamp::table
        .find(1)
        .select(cluster_stamp::position)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0))
}

/// Moves the stamp up to `position` (never down).
pub fn advance_stamp(conn: &mut DbConnection, position: i64) -> StorageResult<()> {
    diesel::update(
        cluster_stamp::table
            .filter(cluster_stamp::id.eq(1))
            .filter(cluster_stamp::position.lt(position)),
    )
    .set(cluster_stamp::position.eq(position))
    .execute(conn)?;
    Ok(())
}

/// The cluster of each of `report_ids` that is in one.
pub fn clusters_of(
    conn: &mut DbConnection,
    report_ids: &[String],
) -> StorageResult<Vec<MemberRow>> {
    let mut out = Vec::new();
    for chunk in report_ids.chunks(500) {
        out.extend(
            cluster_members::table
                .filter(cluster_members::report_id.eq_any(chunk))
                .select(MemberRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Cluster memberships of an owner's published reports whose TLP is not
/// one of `shared_tlps` (what only the owner sees of a cluster).
pub fn own_unshared_members(
    conn: &mut DbConnection,
    owner_key: &str,
    shared_tlps: &[&str],
) -> StorageResult<Vec<MemberRow>> {
    Ok(cluster_members::table
        .inner_join(reports::table)
        .filter(reports::owner_key.eq(owner_key))
        .filter(reports::status.eq("published"))
        .filter(diesel::dsl::not(reports::tlp.eq_any(shared_tlps)))
        .select(MemberRow::as_select())
        .load(conn)?)
}

/// The members of the clusters `ids` (see [`member_reports`]).
pub fn members_of_clusters(
    conn: &mut DbConnection,
    ids: &[String],
) -> StorageResult<Vec<MemberReport>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(200) {
        out.extend(
            cluster_members::table
                .inner_join(reports::table)
                .filter(cluster_members::cluster_id.eq_any(chunk))
                .select((
                    cluster_members::cluster_id,
                    cluster_members::report_id,
                    reports::status,
                    reports::tlp,
                    reports::owner_key,
                    reports::revision,
                    reports::published_at,
                    cluster_members::joined_at,
                ))
                .order((cluster_members::cluster_id.asc(), reports::id.asc()))
                .load::<MemberReport>(conn)?,
        );
    }
    Ok(out)
}

/// One page of a cluster's members that a reader sees: published, of a TLP
/// in `tlps` or of `owner_key`; latest publication first.
pub fn visible_member_page(
    conn: &mut DbConnection,
    cluster_id: &str,
    tlps: &[&str],
    owner_key: Option<&str>,
    limit: i64,
    offset: i64,
) -> StorageResult<(Vec<ReportRow>, i64)> {
    let visible = || {
        let mut q = cluster_members::table
            .inner_join(reports::table)
            .filter(cluster_members::cluster_id.eq(cluster_id.to_owned()))
            .filter(reports::status.eq("published"))
            .into_boxed();
        q = match owner_key {
            Some(owner) => q.filter(
                reports::tlp
                    .eq_any(tlps.to_vec())
                    .or(reports::owner_key.eq(owner.to_owned())),
            ),
            None => q.filter(reports::tlp.eq_any(tlps.to_vec())),
        };
        q
    };
    let total: i64 = visible().count().get_result(conn)?;
    let rows = visible()
        .order((reports::published_at.desc(), reports::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(ReportRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use diesel::Connection;

    use super::*;
    use crate::db::lessons::{self, LessonRow, ReaderScope};
    use crate::db::testing::TestDatabase;
    use crate::db::{Backend, ConnectionManager, PoolOptions, StorageError, run_migrations};

    fn migrated(db: &TestDatabase) -> DbConnection {
        let mut conn = ConnectionManager::new(db.url().clone(), &PoolOptions::default())
            .connect()
            .expect("connect");
        run_migrations(&mut conn).expect("migrate");
        conn
    }

    fn report(id: &str, status: &str, tlp: &str, owner: &str) -> ReportRow {
        let now = crate::db::reports::now();
        ReportRow {
            id: id.into(),
            owner_key: owner.into(),
            status: status.into(),
            tlp: tlp.into(),
            revision: 1,
            content: "{}".into(),
            created_at: now,
            updated_at: now,
            published_at: (status != "draft").then_some(now),
        }
    }

    fn lesson(id: &str, report_id: Option<&str>, cluster_id: Option<&str>) -> LessonRow {
        LessonRow {
            id: id.into(),
            report_id: report_id.map(str::to_owned),
            cluster_id: cluster_id.map(str::to_owned),
            position: 0,
            text: format!("lesson {id}"),
            category: "other".into(),
            source: if report_id.is_some() {
                "report"
            } else {
                "curated"
            }
            .into(),
            report_services: "[]".into(),
            report_domains: "[]".into(),
            report_root_cause: None,
            report_trigger: None,
            created_at: crate::db::reports::now(),
        }
    }

    fn recluster_lock_is_held_by_one_replica(backend: Backend) {
        let Some(db) = TestDatabase::create(backend) else {
            return;
        };
        let mut first = migrated(&db);
        let mut second = migrated(&db);
        first
            .transaction::<_, StorageError, _>(|first| {
                assert!(lock_recluster(first, false)?);
                let other = second.transaction(|second| lock_recluster(second, false))?;
                // SQLite has one server process; its write lock serialises.
                assert_eq!(other, backend == Backend::Sqlite);
                Ok(())
            })
            .expect("transaction");
        // Released with the transaction.
        let again = second
            .transaction(|second| lock_recluster(second, false))
            .expect("transaction");
        assert!(again);
    }

    fn readable_lessons_follow_status_tlp_and_owner(backend: Backend) {
        let Some(db) = TestDatabase::create(backend) else {
            return;
        };
        let mut conn = migrated(&db);
        for r in [
            report("green", "published", "green", "x"),
            report("amber", "published", "amber", "x"),
            report("draft", "draft", "green", "x"),
            report("gone", "withdrawn", "green", "x"),
        ] {
            crate::db::reports::insert_report(&mut conn, &r).expect("report");
        }
        let at = crate::db::reports::now();
        insert_cluster(
            &mut conn,
            &ClusterRow {
                id: "c".into(),
                label: String::new(),
                top_terms: "[]".into(),
                centroid: "{}".into(),
                label_basis: String::new(),
                shared_labels: "[]".into(),
                first_seen: at,
                last_seen: at,
                created_at: at,
                updated_at: at,
                class_views: "[]".into(),
            },
        )
        .expect("cluster");
        insert_member(
            &mut conn,
            &MemberRow {
                report_id: "green".into(),
                cluster_id: "c".into(),
                joined_at: at,
            },
        )
        .expect("member");
        for l in [
            lesson("l-green", Some("green"), None),
            lesson("l-amber", Some("amber"), None),
            lesson("l-draft", Some("draft"), None),
            lesson("l-gone", Some("gone"), None),
            lesson("l-curated", None, Some("c")),
        ] {
            lessons::insert_lesson(&mut conn, &l).expect("lesson");
        }
        let ids = |conn: &mut DbConnection, tlps: &[&str], owner: Option<&str>| {
            let mut v: Vec<(String, Option<String>)> = lessons::readable_lessons(
                conn,
                ReaderScope {
                    tlps,
                    owner_key: owner,
                },
            )
            .expect("lessons")
            .into_iter()
            .map(|c| (c.lesson.id, c.cluster_id))
            .collect();
            v.sort();
            v
        };
        let c = Some("c".to_owned());
        assert_eq!(
            ids(&mut conn, &["clear", "green"], Some("y")),
            vec![
                ("l-curated".into(), c.clone()),
                ("l-green".into(), c.clone())
            ]
        );
        assert_eq!(
            ids(&mut conn, &["clear", "green"], Some("x")),
            vec![
                ("l-amber".into(), None),
                ("l-curated".into(), c.clone()),
                ("l-green".into(), c.clone()),
            ]
        );
        assert_eq!(
            ids(&mut conn, &["clear", "green", "amber"], None).len(),
            3,
            "analysts: green, amber and the curated one"
        );
        assert_eq!(count_unassigned(&mut conn).expect("count"), 1, "amber");
        assert_eq!(
            unassigned_published(&mut conn, 10).expect("unassigned")[0].id,
            "amber"
        );
        // Endorsing twice counts once.
        assert!(lessons::endorse(&mut conn, "l-green", "k", at).expect("endorse"));
        assert!(!lessons::endorse(&mut conn, "l-green", "k", at).expect("endorse"));
        assert_eq!(
            lessons::endorsement_counts(&mut conn, &["l-green".into()]).expect("counts")["l-green"],
            1
        );
        assert_eq!(
            lessons::delete_lessons(&mut conn, &["l-green".into()]).expect("delete"),
            1
        );
    }

    macro_rules! on_both_backends {
        ($($name:ident),* $(,)?) => {
            mod sqlite { $( #[test] fn $name() { super::$name(crate::db::Backend::Sqlite) } )* }
            mod postgres { $( #[test] fn $name() { super::$name(crate::db::Backend::Postgres) } )* }
        };
    }

    on_both_backends!(
        recluster_lock_is_held_by_one_replica,
        readable_lessons_follow_status_tlp_and_owner,
    );
}
