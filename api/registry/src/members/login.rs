//! Checking credentials: an API client's secret, a web user's password
//! with its lockout.
//!
//! Policy: a secret or password is verified against its argon2 hash (an
//! unknown id against a dummy hash, so the time taken does not reveal which
//! ids exist). A client that is revoked or expired is refused like a wrong
//! secret. A user is locked for [`LOCKOUT_MINUTES`] after
//! [`MAX_FAILED_LOGINS`] wrong passwords in a row.

use chrono::TimeDelta;
use incidex_schema::db::identity::{self, ClientRow};
use incidex_schema::db::{DbConnection, reports::now};
use incidex_schema::identity::Role;

use super::SecretHasher;
use crate::error::{RegistryError, RegistryResult};

/// Failed logins in a row before a user is locked out.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_MINUTES: i64 = 15;

fn bad_credentials() -> RegistryError {
    RegistryError::Unauthenticated("invalid credentials".into())
}

/// The client `client_id` if `secret` is its secret and it is neither
/// revoked nor expired.
pub fn check_client(
    conn: &mut DbConnection,
    hasher: &SecretHasher,
    client_id: &str,
    secret: &str,
) -> RegistryResult<(ClientRow, Role)> {
    let row = identity::find_client(conn, client_id)?;
    let ok = hasher.verify(secret, row.as_ref().map(|r| r.secret_hash.as_str()));
    let client = row.filter(|_| ok).ok_or_else(bad_credentials)?;
    let now = now();
    if client.revoked_at.is_some() || client.expires_at.is_some_and(|e| e <= now) {
        return Err(bad_credentials());
    }
    let role = Role::parse(&client.role)
        .ok_or_else(|| RegistryError::internal(anyhow::anyhow!("stored role invalid")))?;
    Ok((client, role))
}

/// The user `username` (its id and role) if `password` is its password;
/// counts failures and locks the account after [`MAX_FAILED_LOGINS`].
pub fn check_password(
    conn: &mut DbConnection,
    hasher: &SecretHasher,
    username: &str,
    password: &str,
) -> RegistryResult<(String, Role)> {
    let user = identity::find_user_by_username(conn, username)?;
    let now = now();
    if let Some(u) = &user
        && u.locked_until.is_some_and(|t| t > now)
    {
        return Err(RegistryError::Throttled(
            "too many failed logins; try again later".into(),
        ));
    }
    let ok = hasher.verify(password, user.as_ref().map(|u| u.password_hash.as_str()));
    let user = user.ok_or_else(bad_credentials)?;
    if !ok {
        let failures = user.failed_logins + 1;
        let locked =
            (failures >= MAX_FAILED_LOGINS).then(|| now + TimeDelta::minutes(LOCKOUT_MINUTES));
        identity::record_login(
            conn,
            &user.id,
            if locked.is_some() { 0 } else { failures },
            locked,
        )?;
        return Err(bad_credentials());
    }
    if user.failed_logins != 0 || user.locked_until.is_some() {
        identity::record_login(conn, &user.id, 0, None)?;
    }
    let role = Role::parse(&user.role)
        .ok_or_else(|| RegistryError::internal(anyhow::anyhow!("stored role invalid")))?;
    Ok((user.id, role))
}
