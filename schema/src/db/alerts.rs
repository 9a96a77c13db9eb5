//! Saved searches, their webhook deliveries and the matcher's cursor.
//!
//! Policy:
//! - A delivery is one notification of one saved search about one revision
//!   of a report; `(saved_search_id, report_id, revision)` is unique, so
//!   recording a match twice (a replayed change log, two replicas) is a
//!   no-op ([`insert_delivery`]).
//! - Deliveries are claimed by pushing `next_attempt_at` past a lease and
//!   counting the attempt ([`due_deliveries`] + [`mark_attempt`], in one
//!   transaction). PostgreSQL replicas skip rows another replica has locked
//!   (`FOR UPDATE SKIP LOCKED`); SQLite has one writer. An outcome is
//!   recorded only for the attempt that was claimed, so a sender whose lease
//!   ran out cannot overwrite a later attempt.
//! - The matcher's progress through the change log is a named cursor,
//!   advanced in the transaction that records the matches
//!   ([`lock_matcher`] first).

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use super::{DbConnection, StorageResult};
use crate::schema::{alert_cursors, alert_deliveries, saved_searches};

/// Advisory-lock key of the alert matcher ("incidexm").
const MATCHER_LOCK_KEY: i64 = 0x0069_6e63_6964_656d;

/// Who owns a saved search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    /// A member operator: every reporter client of it shares its saved searches.
    Operator,
    /// An analyst API client.
    Client,
    /// A web user.
    User,
    /// A subject of a configured external identity provider.
    External,
}

impl OwnerKind {
    pub const ALL: &'static [OwnerKind] = &[
        OwnerKind::Operator,
        OwnerKind::Client,
        OwnerKind::User,
        OwnerKind::External,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Operator => "operator",
            OwnerKind::Client => "client",
            OwnerKind::User => "user",
            OwnerKind::External => "external",
        }
    }

    pub fn parse(s: &str) -> Option<OwnerKind> {
        OwnerKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// The last attempt failed; another is due at `next_attempt_at`.
    Failed,
    /// The receiver answered 2xx.
    Delivered,
    /// No more attempts: too many failures, or the saved search was disabled.
    Abandoned,
}

impl DeliveryStatus {
    pub const ALL: &'static [DeliveryStatus] = &[
        DeliveryStatus::Pending,
        DeliveryStatus::Failed,
        DeliveryStatus::Delivered,
        DeliveryStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
    }

    /// Still to be sent.
    pub fn is_open(self) -> bool {
        matches!(self, DeliveryStatus::Pending | DeliveryStatus::Failed)
    }
}

const OPEN: [&str; 2] = ["pending", "failed"];

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = saved_searches)]
pub struct SavedSearchRow {
    pub id: String,
    pub owner_kind: String,
    pub owner_id: String,
    pub role: String,
    pub name: String,
    /// The query string, in the syntax of `GET /api/v1/search`.
    pub search: String,
    pub webhook_url: String,
    /// The signing secret is derived from it; never the secret itself.
    pub secret_salt: String,
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<NaiveDateTime>,
    pub consecutive_failures: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = alert_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub saved_search_id: String,
    pub report_id: String,
    pub revision: i32,
    pub event: String,
    /// The JSON body to send.
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

// ---------------------------------------------------------------------------
// Saved searches
// ---------------------------------------------------------------------------

pub fn insert_saved_search(conn: &mut DbConnection, row: &SavedSearchRow) -> StorageResult<()> {
    diesel::insert_into(saved_searches::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_saved_search(
    conn: &mut DbConnection,
    id: &str,
) -> StorageResult<Option<SavedSearchRow>> {
    Ok(saved_searches::table
        .find(id)
        .select(SavedSearchRow::as_select())
        .first(conn)
        .optional()?)
}

/// One owner's saved searches, oldest first.
pub fn owned_saved_searches(
    conn: &mut DbConnection,
    kind: OwnerKind,
    owner_id: &str,
) -> StorageResult<Vec<SavedSearchRow>> {
    Ok(saved_searches::table
        .filter(saved_searches::owner_kind.eq(kind.as_str()))
        .filter(saved_searches::owner_id.eq(owner_id))
        .order((saved_searches::created_at.asc(), saved_searches::id.asc()))
        .select(SavedSearchRow::as_select())
        .load(conn)?)
}

pub fn count_owned(conn: &mut DbConnection, kind: OwnerKind, owner_id: &str) -> StorageResult<i64> {
    Ok(saved_searches::table
        .filter(saved_searches::owner_kind.eq(kind.as_str()))
        .filter(saved_searches::owner_id.eq(owner_id))
        .count()
        .get_result(conn)?)
}

/// Every active saved search, oldest first.
pub fn active_saved_searches(conn: &mut DbConnection) -> StorageResult<Vec<SavedSearchRow>> {
    Ok(saved_searches::table
        .filter(saved_searches::active.eq(true))
        .order((saved_searches::created_at.asc(), saved_searches::id.asc()))
        .select(SavedSearchRow::as_select())
        .load(conn)?)
}

/// Ids of the active saved searches among `ids`.
pub fn active_among(conn: &mut DbConnection, ids: &[String]) -> StorageResult<HashSet<String>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        let found: Vec<String> = saved_searches::table
            .filter(saved_searches::id.eq_any(chunk))
            .filter(saved_searches::active.eq(true))
            .select(saved_searches::id)
            .load(conn)?;
        out.extend(found);
    }
    Ok(out)
}

/// Deletes a saved search and its delivery log; `false` when there was none.
pub fn delete_saved_search(conn: &mut DbConnection, id: &str) -> StorageResult<bool> {
    conn.transaction(|conn| {
        diesel::delete(alert_deliveries::table.filter(alert_deliveries::saved_search_id.eq(id)))
            .execute(conn)?;
        Ok(diesel::delete(saved_searches::table.find(id)).execute(conn)? == 1)
    })
}

/// Re-enables a saved search and forgets its failures; `false` when there
/// is no such saved search.
pub fn enable_saved_search(
    conn: &mut DbConnection,
    id: &str,
    at: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(saved_searches::table.find(id))
        .set((
            saved_searches::active.eq(true),
            saved_searches::disabled_reason.eq(None::<String>),
            saved_searches::disabled_at.eq(None::<NaiveDateTime>),
            saved_searches::consecutive_failures.eq(0),
            saved_searches::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Disables a saved search with a reason and abandons its open
/// deliveries; `false` when there is no such saved search. Call it inside
/// a transaction.
pub fn disable_saved_search(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    at: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(saved_searches::table.find(id))
        .set((
            saved_searches::active.eq(false),
            saved_searches::disabled_reason.eq(Some(reason)),
            saved_searches::disabled_at.eq(Some(at)),
            saved_searches::updated_at.eq(at),
        ))
        .execute(conn)?;
    if n == 0 {
        return Ok(false);
    }
    abandon_open_deliveries(conn, id, "the saved search was disabled", at)?;
    Ok(true)
}

/// Replaces the salt the signing secret is derived from.
pub fn set_secret_salt(
    conn: &mut DbConnection,
    id: &str,
    salt: &str,
    at: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(saved_searches::table.find(id))
        .set((
            saved_searches::secret_salt.eq(salt),
            saved_searches::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Counts one more failed attempt in a row; returns the new count.
pub fn count_failure(conn: &mut DbConnection, id: &str) -> StorageResult<i32> {
    diesel::update(saved_searches::table.find(id))
        .set(saved_searches::consecutive_failures.eq(saved_searches::consecutive_failures + 1))
        .execute(conn)?;
    Ok(saved_searches::table
        .find(id)
        .select(saved_searches::consecutive_failures)
        .first::<i32>(conn)
        .optional()?
        .unwrap_or(0))
}

/// A successful delivery: no failures in a row any more.
pub fn reset_failures(conn: &mut DbConnection, id: &str) -> StorageResult<()> {
    diesel::update(
        saved_searches::table
            .find(id)
            .filter(saved_searches::consecutive_failures.ne(0)),
    )
    .set(saved_searches::consecutive_failures.eq(0))
    .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The matcher's cursor
// ---------------------------------------------------------------------------

/// The change-log sequence a cursor has processed, if it was ever set.
pub fn cursor(conn: &mut DbConnection, name: &str) -> StorageResult<Option<i64>> {
    Ok(alert_cursors::table
        .find(name)
        .select(alert_cursors::last_seq)
        .first(conn)
        .optional()?)
}

/// Sets a cursor (creating it when missing).
pub fn set_cursor(
    conn: &mut DbConnection,
    name: &str,
    last_seq: i64,
    at: NaiveDateTime,
) -> StorageResult<()> {
    let n = diesel::update(alert_cursors::table.find(name))
        .set((
            alert_cursors::last_seq.eq(last_seq),
            alert_cursors::updated_at.eq(at),
        ))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(alert_cursors::table)
            .values((
                alert_cursors::name.eq(name),
                alert_cursors::last_seq.eq(last_seq),
                alert_cursors::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Takes the matcher's lock until the surrounding transaction ends:
/// `false` when another replica holds it (PostgreSQL, without waiting).
/// SQLite: takes the write lock (waiting its turn), which serialises.
pub fn lock_matcher(conn: &mut DbConnection) -> StorageResult<bool> {
    match conn {
        DbConnection::Postgresql(pg) => {
            let row: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                .bind::<BigInt, _>(MATCHER_LOCK_KEY)
                .get_result(pg)?;
            Ok(row.locked)
        }
        DbConnection::Sqlite(_) => {
            super::lock_for_write(conn)?;
            Ok(true)
        }
    }
}

// ---------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------

/// Records a delivery unless one for the same saved search, report and
/// revision exists; returns whether it was inserted.
pub fn insert_delivery(conn: &mut DbConnection, row: &DeliveryRow) -> StorageResult<bool> {
    let insert = diesel::insert_into(alert_deliveries::table)
        .values(row)
        .on_conflict_do_nothing();
    let n = match conn {
        DbConnection::Postgresql(pg) => insert.execute(pg)?,
        DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
    };
    Ok(n == 1)
}

/// The (saved search, report) pairs among `report_ids` that have a
/// delivery, at any revision and in any state.
pub fn notified_pairs(
    conn: &mut DbConnection,
    report_ids: &[String],
) -> StorageResult<HashSet<(String, String)>> {
    let mut out = HashSet::new();
    for chunk in report_ids.chunks(500) {
        let rows: Vec<(String, String)> = alert_deliveries::table
            .filter(alert_deliveries::report_id.eq_any(chunk))
            .select((
                alert_deliveries::saved_search_id,
                alert_deliveries::report_id,
            ))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

pub fn find_delivery(conn: &mut DbConnection, id: &str) -> StorageResult<Option<DeliveryRow>> {
    Ok(alert_deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()?)
}

/// Open deliveries of active saved searches that are due at `now`, oldest
/// due first, at most `limit`. Call it in the claiming transaction and
/// [`mark_attempt`] each one taken: on PostgreSQL the rows stay locked
/// (rows another transaction holds are skipped) until it commits.
pub fn due_deliveries(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> StorageResult<Vec<DeliveryRow>> {
    let active = saved_searches::table
        .filter(saved_searches::active.eq(true))
        .select(saved_searches::id);
    let query = alert_deliveries::table
        .filter(alert_deliveries::status.eq_any(OPEN))
        .filter(alert_deliveries::next_attempt_at.le(now))
        .filter(alert_deliveries::saved_search_id.eq_any(active))
        .order((
            alert_deliveries::next_attempt_at.asc(),
            alert_deliveries::id.asc(),
        ))
        .limit(limit)
        // The column tuple, not `as_select()`: the query serves both backends.
        .select(alert_deliveries::all_columns);
    Ok(match conn {
        DbConnection::Postgresql(pg) => query.for_update().skip_locked().load(pg)?,
        DbConnection::Sqlite(sqlite) => query.load(sqlite)?,
    })
}

/// Whether any open delivery of an active saved search is due at `now`
/// (a cheap read before taking the claiming transaction).
pub fn any_due(conn: &mut DbConnection, now: NaiveDateTime) -> StorageResult<bool> {
    let active = saved_searches::table
        .filter(saved_searches::active.eq(true))
        .select(saved_searches::id);
    Ok(diesel::select(diesel::dsl::exists(
        alert_deliveries::table
            .filter(alert_deliveries::status.eq_any(OPEN))
            .filter(alert_deliveries::next_attempt_at.le(now))
            .filter(alert_deliveries::saved_search_id.eq_any(active)),
    ))
    .get_result(conn)?)
}

/// Claims a delivery for one attempt: counts it and moves its next attempt
/// to `lease_until`, so that nobody else takes it meanwhile (and it is
/// retried then should this attempt never report back).
pub fn mark_attempt(
    conn: &mut DbConnection,
    id: &str,
    attempt: i32,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(
        alert_deliveries::table
            .find(id)
            .filter(alert_deliveries::attempts.eq(attempt - 1))
            .filter(alert_deliveries::status.eq_any(OPEN)),
    )
    .set((
        alert_deliveries::attempts.eq(attempt),
        alert_deliveries::next_attempt_at.eq(lease_until),
        alert_deliveries::last_attempt_at.eq(Some(now)),
        alert_deliveries::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome<'a> {
    pub status: DeliveryStatus,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    /// When the next attempt is due (for [`DeliveryStatus::Failed`]).
    pub next_attempt_at: Option<NaiveDateTime>,
    pub at: NaiveDateTime,
}

/// Records the outcome of attempt number `attempt`; `false` (and nothing
/// changed) when the delivery is gone, finished, or was claimed again since.
pub fn record_attempt(
    conn: &mut DbConnection,
    id: &str,
    attempt: i32,
    outcome: &AttemptOutcome<'_>,
) -> StorageResult<bool> {
    let target = alert_deliveries::table
        .find(id)
        .filter(alert_deliveries::attempts.eq(attempt))
        .filter(alert_deliveries::status.eq_any(OPEN));
    let delivered_at = (outcome.status == DeliveryStatus::Delivered).then_some(outcome.at);
    let n = diesel::update(target)
        .set((
            alert_deliveries::status.eq(outcome.status.as_str()),
            alert_deliveries::last_status_code.eq(outcome.status_code),
            alert_deliveries::last_error.eq(outcome.error),
            alert_deliveries::next_attempt_at.eq(outcome.next_attempt_at.unwrap_or(outcome.at)),
            alert_deliveries::updated_at.eq(outcome.at),
            alert_deliveries::delivered_at.eq(delivered_at),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Gives up a delivery that is still open.
pub fn abandon_delivery(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    at: NaiveDateTime,
) -> StorageResult<bool> {
    let n = diesel::update(
        alert_deliveries::table
            .find(id)
            .filter(alert_deliveries::status.eq_any(OPEN)),
    )
    .set((
        alert_deliveries::status.eq(DeliveryStatus::Abandoned.as_str()),
        alert_deliveries::last_error.eq(Some(reason)),
        alert_deliveries::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Gives up every open delivery of a saved search; returns how many.
pub fn abandon_open_deliveries(
    conn: &mut DbConnection,
    saved_search_id: &str,
    reason: &str,
    at: NaiveDateTime,
) -> StorageResult<usize> {
    Ok(diesel::update(
        alert_deliveries::table
            .filter(alert_deliveries::saved_search_id.eq(saved_search_id))
            .filter(alert_deliveries::status.eq_any(OPEN)),
    )
    .set((
        alert_deliveries::status.eq(DeliveryStatus::Abandoned.as_str()),
        alert_deliveries::last_error.eq(Some(reason)),
        alert_deliveries::updated_at.eq(at),
    ))
    .execute(conn)?)
}

/// Removes a delivery that must not be sent (nor shown) any more.
pub fn delete_delivery(conn: &mut DbConnection, id: &str) -> StorageResult<bool> {
    Ok(diesel::delete(alert_deliveries::table.find(id)).execute(conn)? == 1)
}

/// A page of a saved search's delivery log, newest first, optionally of
/// one status; with the total.
pub fn list_deliveries(
    conn: &mut DbConnection,
    saved_search_id: &str,
    status: Option<DeliveryStatus>,
    limit: i64,
    offset: i64,
) -> StorageResult<(Vec<DeliveryRow>, i64)> {
    let mut query = alert_deliveries::table
        .filter(alert_deliveries::saved_search_id.eq(saved_search_id))
        .into_boxed();
    let mut count = alert_deliveries::table
        .filter(alert_deliveries::saved_search_id.eq(saved_search_id))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(alert_deliveries::status.eq(status.as_str()));
        count = count.filter(alert_deliveries::status.eq(status.as_str()));
    }
    let rows = query
        .order((
            alert_deliveries::created_at.desc(),
            alert_deliveries::id.desc(),
        ))
        .limit(limit)
        .offset(offset)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    let total = count.count().get_result(conn)?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use diesel::Connection;

    use super::*;
    use crate::db::reports::{ReportRow, insert_report, now};
    use crate::db::testing::TestDatabase;
    use crate::db::{Backend, ConnectionManager, PoolOptions, StorageError, run_migrations};

    fn migrated(db: &TestDatabase) -> DbConnection {
        let mut conn = ConnectionManager::new(db.url().clone(), &PoolOptions::default())
            .connect()
            .expect("connect");
        run_migrations(&mut conn).expect("migrate");
        conn
    }

    fn saved_search(id: &str) -> SavedSearchRow {
        let at = now();
        SavedSearchRow {
            id: id.into(),
            owner_kind: "operator".into(),
            owner_id: "op".into(),
            role: "reporter".into(),
            name: String::new(),
            search: "q=core".into(),
            webhook_url: "https://hooks.example.org/x".into(),
            secret_salt: "salt".into(),
            active: true,
            disabled_reason: None,
            disabled_at: None,
            consecutive_failures: 0,
            created_at: at,
            updated_at: at,
        }
    }

    fn delivery(id: &str, search: &str, report: &str, revision: i32) -> DeliveryRow {
        let at = now();
        DeliveryRow {
            id: id.into(),
            saved_search_id: search.into(),
            report_id: report.into(),
            revision,
            event: "report.published".into(),
            payload: "{}".into(),
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: at,
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
            created_at: at,
            updated_at: at,
            delivered_at: None,
        }
    }

    fn world(backend: Backend) -> Option<(TestDatabase, DbConnection)> {
        let db = TestDatabase::create(backend)?;
        let mut conn = migrated(&db);
        let at = now();
        insert_report(
            &mut conn,
            &ReportRow {
                id: "r".into(),
                owner_key: "k".into(),
                status: "published".into(),
                tlp: "green".into(),
                revision: 1,
                content: "{}".into(),
                created_at: at,
                updated_at: at,
                published_at: Some(at),
            },
        )
        .expect("report");
        insert_saved_search(&mut conn, &saved_search("s")).expect("saved search");
        Some((db, conn))
    }

    fn a_match_is_recorded_once(backend: Backend) {
        let Some((_db, mut conn)) = world(backend) else {
            return;
        };
        assert!(insert_delivery(&mut conn, &delivery("d1", "s", "r", 1)).expect("insert"));
        // The same match again (a replay, another replica): nothing new,
        // and a surrounding transaction stays usable.
        conn.transaction::<_, StorageError, _>(|conn| {
            assert!(!insert_delivery(conn, &delivery("d2", "s", "r", 1))?);
            assert!(insert_delivery(conn, &delivery("d3", "s", "r", 2))?);
            Ok(())
        })
        .expect("transaction");
        let (rows, total) = list_deliveries(&mut conn, "s", None, 10, 0).expect("list");
        assert_eq!(total, 2);
        assert_eq!(rows.len(), 2);
        assert!(
            notified_pairs(&mut conn, &["r".into()])
                .expect("pairs")
                .contains(&("s".to_owned(), "r".to_owned()))
        );
    }

    fn claims_are_exclusive_and_outcomes_belong_to_their_attempt(backend: Backend) {
        let Some((db, mut conn)) = world(backend) else {
            return;
        };
        insert_delivery(&mut conn, &delivery("d1", "s", "r", 1)).expect("insert");
        let later = now() + chrono::TimeDelta::seconds(60);
        let mut other = migrated(&db);
        assert!(any_due(&mut conn, now()).expect("due"));
        conn.transaction::<_, StorageError, _>(|conn| {
            let due = due_deliveries(conn, now(), 10)?;
            assert_eq!(due.len(), 1);
            assert!(mark_attempt(conn, "d1", 1, later, now())?);
            if backend == Backend::Postgres {
                // Another replica skips the locked row instead of waiting.
                let seen = other.transaction(|o| due_deliveries(o, now(), 10))?;
                assert!(seen.is_empty());
            }
            Ok(())
        })
        .expect("claim");
        // Claimed: not due again until the lease ends.
        assert!(
            due_deliveries(&mut conn, now(), 10)
                .expect("due")
                .is_empty()
        );
        assert_eq!(due_deliveries(&mut conn, later, 10).expect("due").len(), 1);
        let failed = AttemptOutcome {
            status: DeliveryStatus::Failed,
            status_code: Some(500),
            error: Some("HTTP 500"),
            next_attempt_at: Some(now()),
            at: now(),
        };
        // An outcome of another attempt changes nothing.
        assert!(!record_attempt(&mut conn, "d1", 2, &failed).expect("record"));
        assert!(record_attempt(&mut conn, "d1", 1, &failed).expect("record"));
        assert_eq!(count_failure(&mut conn, "s").expect("count"), 1);
        assert_eq!(count_failure(&mut conn, "s").expect("count"), 2);
        // Disabling abandons what is open and hides it from the sender.
        conn.transaction::<_, StorageError, _>(|conn| {
            disable_saved_search(conn, "s", "too many failures", now()).map(|_| ())
        })
        .expect("disable");
        let d = find_delivery(&mut conn, "d1").expect("find").expect("row");
        assert_eq!(d.status, "abandoned");
        assert_eq!(d.attempts, 1);
        assert!(enable_saved_search(&mut conn, "s", now()).expect("enable"));
        let s = find_saved_search(&mut conn, "s")
            .expect("find")
            .expect("row");
        assert!(s.active && s.consecutive_failures == 0 && s.disabled_reason.is_none());
        assert!(delete_saved_search(&mut conn, "s").expect("delete"));
        assert!(find_delivery(&mut conn, "d1").expect("find").is_none());
    }

    fn the_matcher_lock_admits_one_replica(backend: Backend) {
        let Some((db, mut conn)) = world(backend) else {
            return;
        };
        let mut other = migrated(&db);
        conn.transaction::<_, StorageError, _>(|conn| {
            assert!(lock_matcher(conn)?);
            if backend == Backend::Postgres {
                assert!(!other.transaction(lock_matcher)?);
            }
            assert_eq!(cursor(conn, "matcher")?, None);
            set_cursor(conn, "matcher", 7, now())?;
            set_cursor(conn, "matcher", 9, now())?;
            Ok(())
        })
        .expect("transaction");
        assert_eq!(cursor(&mut other, "matcher").expect("cursor"), Some(9));
    }

    macro_rules! on_both_backends {
        ($($name:ident),* $(,)?) => {
            mod sqlite { $( #[test] fn $name() { super::$name(crate::db::Backend::Sqlite) } )* }
            mod postgres { $( #[test] fn $name() { super::$name(crate::db::Backend::Postgres) } )* }
        };
    }

    on_both_backends!(
        a_match_is_recorded_once,
        claims_are_exclusive_and_outcomes_belong_to_their_attempt,
        the_matcher_lock_admits_one_replica,
    );
}
