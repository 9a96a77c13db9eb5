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

/// Records a login outcome: failures count up and may lock the account.
pub fn record_login(
    conn: &mut DbConnection,
    id: &str,
    failed_logins: i32,
    locked_until: Option<NaiveDateTime>,
) -> StorageResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::failed_logins.eq(failed_logins),
            users::locked_until.eq(locked_until),
        ))
        .execute(conn)?;
    Ok(())
}
