//! Checking credentials: an API client's secret, a web user's password,
//! both with a lockout.
//!
//! Policy: a secret or password is verified against its argon2 hash (an
//! unknown id, or a locked one, against a dummy hash, so the time taken
//! does not tell them apart). A credential is locked for [`LOCKOUT_MINUTES`]
//! after [`MAX_FAILED_LOGINS`] failures, each less than that long after
//! the one before. Each attempt is charged to the credential in one
//! conditional UPDATE *before* its secret is verified, so guesses sent in
//! parallel cannot overwrite each other's count: however many arrive at
//! once, at most [`MAX_FAILED_LOGINS`] are verified before the lock. An
//! attempt from a *familiar* address (the caller decides: one this
//! credential was used from successfully) is verified even while the
//! credential is locked, so an outsider who locks it out does not lock out
//! its owner; such attempts are throttled per address by the caller.
//!
//! The database connection is not held while the hash is verified: the
//! caller bounds how many verifications run at once.

use chrono::TimeDelta;
use incidex_schema::db::identity::{self, ClientRow, Credential, LockoutPolicy};
use incidex_schema::db::{DbConnection, DbPool, reports::now};
use incidex_schema::identity::Role;

use crate::conn::with_connection;
use crate::error::{RegistryError, RegistryResult};

/// Failures before a credential is locked out.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a lockout lasts (and how far apart failures may be to count
/// together).
pub const LOCKOUT_MINUTES: i64 = 15;

/// The lockout rule of users and clients.
pub fn lockout_policy() -> LockoutPolicy {
    LockoutPolicy {
        max_failures: MAX_FAILED_LOGINS,
        window: TimeDelta::minutes(LOCKOUT_MINUTES),
    }
}

/// Why credentials were refused. Callers answer every refusal the same
/// way (so none reveals whether an id exists or is locked) and log which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such client or user.
    Unknown,
    /// Wrong secret or password.
    WrongSecret,
    /// This attempt's failure locked the credential.
    LockedNow,
    /// Locked by earlier failures; the secret was not checked.
    Locked,
    /// A revoked client.
    Revoked,
    /// An expired client.
    Expired,
}

impl Refusal {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::WrongSecret => "wrong_secret",
            Refusal::LockedNow => "locked_now",
            Refusal::Locked => "locked",
            Refusal::Revoked => "revoked",
            Refusal::Expired => "expired",
        }
    }
}

/// The outcome of a credential check.
pub type Checked<T> = Result<T, Refusal>;

/// The error every refusal is answered with.
pub fn bad_credentials() -> RegistryError {
    RegistryError::Unauthenticated("invalid credentials".into())
}

/// What is known of a credential before its secret is verified.
struct Attempt {
    /// The hash to verify against (`None`: the dummy).
    hash: Option<String>,
    /// Why it is refused whatever the secret (unknown, locked).
    refused: Option<Refusal>,
    /// Whether the attempt was charged (and so must be cleared on success).
    charged: bool,
}

fn begin(
    conn: &mut DbConnection,
    credential: Credential<'_>,
    hash: Option<String>,
    familiar: bool,
) -> RegistryResult<Attempt> {
    let Some(hash) = hash else {
        return Ok(Attempt {
            hash: None,
            refused: Some(Refusal::Unknown),
            charged: false,
        });
    };
    if familiar {
        return Ok(Attempt {
            hash: Some(hash),
            refused: None,
            charged: false,
        });
    }
    if identity::charge_attempt(conn, credential, lockout_policy(), now())? {
        Ok(Attempt {
            hash: Some(hash),
            refused: None,
            charged: true,
        })
    } else {
        Ok(Attempt {
            hash: None,
            refused: Some(Refusal::Locked),
            charged: false,
        })
    }
}

/// After verification: clears the failures of a good secret, or tells
/// whether this failure locked the credential.
fn finish(
    conn: &mut DbConnection,
    credential: Credential<'_>,
    attempt: &Attempt,
    verified: bool,
) -> RegistryResult<Checked<()>> {
    if let Some(refusal) = attempt.refused {
        return Ok(Err(refusal));
    }
    if verified {
        identity::clear_failures(conn, credential)?;
        return Ok(Ok(()));
    }
    if attempt.charged && identity::locked_until(conn, credential)?.is_some_and(|t| t > now()) {
        return Ok(Err(Refusal::LockedNow));
    }
    Ok(Err(Refusal::WrongSecret))
}

/// The client `client_id` (with its role) if `verify` accepts its secret's
/// hash and it is neither revoked, expired nor locked. `verify` is given
/// the stored hash (`None`: verify against the dummy) and runs without a
/// database connection held.
pub fn check_client(
    pool: &DbPool,
    client_id: &str,
    familiar: bool,
    verify: impl FnOnce(Option<&str>) -> bool,
) -> RegistryResult<Checked<(ClientRow, Role)>> {
    let credential = Credential::Client(client_id);
    let (row, attempt) = with_connection(pool, |conn| {
        let row = identity::find_client(conn, client_id)?;
        let attempt = begin(
            conn,
            credential,
            row.as_ref().map(|r| r.secret_hash.clone()),
            familiar,
        )?;
        Ok((row, attempt))
    })?;
    let verified = verify(attempt.hash.as_deref()) && attempt.hash.is_some();
    let checked = with_connection(pool, |conn| finish(conn, credential, &attempt, verified))?;
    if let Err(refusal) = checked {
        return Ok(Err(refusal));
    }
    let client = row.ok_or_else(|| RegistryError::internal(anyhow::anyhow!("client vanished")))?;
    let now = now();
    if client.revoked_at.is_some() {
        return Ok(Err(Refusal::Revoked));
    }
    if client.expires_at.is_some_and(|e| e <= now) {
        return Ok(Err(Refusal::Expired));
    }
    let role = Role::parse(&client.role)
        .ok_or_else(|| RegistryError::internal(anyhow::anyhow!("stored role invalid")))?;
    Ok(Ok((client, role)))
}

/// The user `username` (its id and role) if `verify` accepts its
/// password's hash and it is not locked; see [`check_client`].
pub fn check_password(
    pool: &DbPool,
    username: &str,
    familiar: bool,
    verify: impl FnOnce(Option<&str>) -> bool,
) -> RegistryResult<Checked<(String, Role)>> {
    let (user, attempt) = with_connection(pool, |conn| {
        let user = identity::find_user_by_username(conn, username)?;
        let attempt = match &user {
            Some(u) => begin(
                conn,
                Credential::User(&u.id),
                Some(u.password_hash.clone()),
                familiar,
            )?,
            None => begin(conn, Credential::User(""), None, familiar)?,
        };
        Ok((user, attempt))
    })?;
    let verified = verify(attempt.hash.as_deref()) && attempt.hash.is_some();
    let Some(user) = user else {
        return Ok(Err(Refusal::Unknown));
    };
    let checked = with_connection(pool, |conn| {
        finish(conn, Credential::User(&user.id), &attempt, verified)
    })?;
    if let Err(refusal) = checked {
        return Ok(Err(refusal));
    }
    let role = Role::parse(&user.role)
        .ok_or_else(|| RegistryError::internal(anyhow::anyhow!("stored role invalid")))?;
    Ok(Ok((user.id, role)))
}
