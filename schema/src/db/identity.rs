//! Operators (members), API clients and web users.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StorageError, StorageResult, atomically};
use crate::schema::{api_clients, identity_epoch, operators, users};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = operators)]
pub struct OperatorRow {
    pub id: String,
    pub name: String,
    /// JSON array of strings.
    pub aliases: String,
    pub country: Option<String>,
    pub operator_type: Option<String>,
    /// JSON array of strings.
    pub sensitive_terms: String,
    pub created_at: NaiveDateTime,
}

impl OperatorRow {
    pub fn alias_list(&self) -> StorageResult<Vec<String>> {
        serde_json::from_str(&self.aliases)
            .map_err(|e| StorageError::Corrupt(format!("operator aliases: {e}")))
    }

    pub fn sensitive_term_list(&self) -> StorageResult<Vec<String>> {
        serde_json::from_str(&self.sensitive_terms)
            .map_err(|e| StorageError::Corrupt(format!("sensitive terms: {e}")))
    }
}

/// The identity epoch: it changes whenever a member is registered, an
/// operator's sensitive terms change or a client is revoked, in the same
/// transaction as the change. Caches keyed by it need no other check.
pub fn epoch(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(identity_epoch::table
        .find(1)
        .select(identity_epoch::value)
        .first(conn)?)
}

/// Moves the epoch on; call it inside the transaction of the change.
fn bump_epoch(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(identity_epoch::table.find(1))
        .set(identity_epoch::value.eq(identity_epoch::value + 1))
        .execute(conn)?;
    Ok(())
}

pub fn insert_operator(conn: &mut DbConnection, row: &OperatorRow) -> StorageResult<()> {
    atomically(conn, |conn| {
        diesel::insert_into(operators::table)
            .values(row)
            .execute(conn)?;
        bump_epoch(conn)
    })?;
    Ok(())
}

pub fn list_operators(conn: &mut DbConnection) -> StorageResult<Vec<OperatorRow>> {
    Ok(operators::table
        .order((operators::name.asc(), operators::id.asc()))
        .select(OperatorRow::as_select())
        .load(conn)?)
}

pub fn find_operator(conn: &mut DbConnection, id: &str) -> StorageResult<Option<OperatorRow>> {
    Ok(operators::table
        .find(id)
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_operator_by_name(
    conn: &mut DbConnection,
    name: &str,
) -> StorageResult<Option<OperatorRow>> {
    Ok(operators::table
        .filter(operators::name.eq(name))
        .select(OperatorRow::as_select())
        .first(conn)
        .optional()?)
}

/// Replaces an operator's sensitive terms (a JSON array).
pub fn set_sensitive_terms(
    conn: &mut DbConnection,
    id: &str,
    terms_json: &str,
) -> StorageResult<bool> {
    atomically(conn, |conn| {
        let n = diesel::update(operators::table.find(id))
            .set(operators::sensitive_terms.eq(terms_json))
            .execute(conn)?;
        if n == 1 {
            bump_epoch(conn)?;
        }
        Ok(n == 1)
    })
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_clients)]
pub struct ClientRow {
    pub id: String,
    pub operator_id: Option<String>,
    pub role: String,
    pub secret_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert_client(conn: &mut DbConnection, row: &ClientRow) -> StorageResult<()> {
    diesel::insert_into(api_clients::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_client(conn: &mut DbConnection, id: &str) -> StorageResult<Option<ClientRow>> {
    Ok(api_clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list_clients(conn: &mut DbConnection) -> StorageResult<Vec<ClientRow>> {
    Ok(api_clients::table
        .order((api_clients::created_at.asc(), api_clients::id.asc()))
        .select(ClientRow::as_select())
        .load(conn)?)
}

/// Marks a client revoked; `false` when there is no such client.
pub fn revoke_client(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> StorageResult<bool> {
    let n = atomically(conn, |conn| {
        let n = diesel::update(
            api_clients::table
                .find(id)
                .filter(api_clients::revoked_at.is_null()),
        )
        .set(api_clients::revoked_at.eq(Some(at)))
        .execute(conn)?;
        if n == 1 {
            bump_epoch(conn)?;
        }
        QueryResult::Ok(n)
    })?;
    if n == 1 {
        return Ok(true);
    }
    // Already revoked counts as done; unknown does not.
    Ok(find_client(conn, id)?.is_some())
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub failed_logins: i32,
    pub locked_until: Option<NaiveDateTime>,
}

pub fn insert_user(conn: &mut DbConnection, row: &UserRow) -> StorageResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find_user_by_username(
    conn: &mut DbConnection,
    username: &str,
) -> StorageResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> StorageResult<Option<UserRow>> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list_users(conn: &mut DbConnection) -> StorageResult<Vec<UserRow>> {
    Ok(users::table
        .order((users::username.asc(), users::id.asc()))
        .select(UserRow::as_select())
        .load(conn)?)
}

/// How a credential's failures are counted: `max` failures, each less than
/// `window` after the one before, lock it until `window` after the last.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: i32,
    pub window: chrono::TimeDelta,
}

/// Which credential an attempt is charged to.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    User(&'a str),
    Client(&'a str),
}

/// Charges one attempt to a credential before its secret is verified, in
/// a single conditional UPDATE: `true` when the credential exists, is not
/// locked, and the attempt was counted (as a failure, until
/// [`clear_failures`] says otherwise); `false` when it is locked or
/// unknown. Counting before verifying bounds the verifications of a
/// locked-out credential to `max_failures` however many guesses arrive at
/// once; the attempt that reaches `max_failures` locks it.
pub fn charge_attempt(
    conn: &mut DbConnection,
    credential: Credential<'_>,
    policy: LockoutPolicy,
    now: NaiveDateTime,
) -> StorageResult<bool> {
    use diesel::dsl::{case_when, not};
    let window_start = now - policy.window;
    let lock_until = Some(now + policy.window);
    let reaches = policy.max_failures.saturating_sub(1);
    let n = match credential {
        Credential::User(id) => {
            use users::dsl as u;
            // A failure longer than the window after the previous one
            // starts the count again.
            let fresh = u::last_failed_at
                .is_null()
                .or(u::last_failed_at.le(window_start).assume_not_null());
            diesel::update(
                u::users.find(id).filter(
                    u::locked_until
                        .is_null()
                        .or(u::locked_until.le(now).assume_not_null()),
                ),
            )
            .set((
                u::failed_logins.eq(case_when::<_, _, diesel::sql_types::Integer>(fresh, 1)
                    .otherwise(u::failed_logins + 1)),
                u::locked_until.eq(case_when(
                    not(fresh).and(u::failed_logins.ge(reaches)),
                    lock_until,
                )
                .otherwise(None::<NaiveDateTime>)),
                u::last_failed_at.eq(Some(now)),
            ))
            .execute(conn)?
        }
        Credential::Client(id) => {
            use api_clients::dsl as c;
            let fresh = c::last_failed_at
                .is_null()
                .or(c::last_failed_at.le(window_start).assume_not_null());
            diesel::update(
                c::api_clients.find(id).filter(
                    c::locked_until
                        .is_null()
                        .or(c::locked_until.le(now).assume_not_null()),
                ),
            )
            .set((
                c::failed_attempts.eq(case_when::<_, _, diesel::sql_types::Integer>(fresh, 1)
                    .otherwise(c::failed_attempts + 1)),
                c::locked_until.eq(case_when(
                    not(fresh).and(c::failed_attempts.ge(reaches)),
                    lock_until,
                )
                .otherwise(None::<NaiveDateTime>)),
                c::last_failed_at.eq(Some(now)),
            ))
            .execute(conn)?
        }
    };
    Ok(n == 1)
}

/// Forgets a credential's failures after its secret was verified.
pub fn clear_failures(conn: &mut DbConnection, credential: Credential<'_>) -> StorageResult<()> {
    match credential {
        Credential::User(id) => diesel::update(users::table.find(id))
            .set((
                users::failed_logins.eq(0),
                users::locked_until.eq(None::<NaiveDateTime>),
                users::last_failed_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
        Credential::Client(id) => diesel::update(api_clients::table.find(id))
            .set((
                api_clients::failed_attempts.eq(0),
                api_clients::locked_until.eq(None::<NaiveDateTime>),
                api_clients::last_failed_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Whether a credential is locked now (for tests and `incidex admin`).
pub fn locked_until(
    conn: &mut DbConnection,
    credential: Credential<'_>,
) -> StorageResult<Option<NaiveDateTime>> {
    Ok(match credential {
        Credential::User(id) => users::table
            .find(id)
            .select(users::locked_until)
            .first::<Option<NaiveDateTime>>(conn)
            .optional()?
            .flatten(),
        Credential::Client(id) => api_clients::table
            .find(id)
            .select(api_clients::locked_until)
            .first::<Option<NaiveDateTime>>(conn)
            .optional()?
            .flatten(),
    })
}
