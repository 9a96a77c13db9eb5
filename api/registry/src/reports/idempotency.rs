//! Idempotency keys: a retried request with the same key and body gets the
//! first outcome back and changes nothing; the same key with a different
//! request is refused ([`RegistryError::KeyReused`]).
//!
//! The first response is recorded in the same transaction as the change it
//! reports, so a crash cannot separate them, and two concurrent requests
//! with one key cannot both succeed: the second finds the record's key
//! taken (waiting for the first to commit), rolls back, and replays the
//! first's response. Records are
//! scoped by a keyed hash of the caller (so the table does not link clients
//! to reports) and kept for 24 hours.

use chrono::TimeDelta;
use incidex_schema::db::idempotency::{self, IdempotencyRow};
use incidex_schema::db::{DbConnection, reports::now};
use sha2::{Digest, Sha256};

use crate::error::{RegistryError, RegistryResult};

/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;
/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 24;

/// What identifies a request for idempotency.
#[derive(Debug, Clone)]
pub struct IdempotencyScope {
    /// Keyed hash of the caller.
    pub scope: String,
    pub key: String,
    /// Hash of method, path and body.
    pub request_hash: String,
}

/// What a recorded operation produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Something new was created (a report filed).
    Created,
    /// An existing thing changed (a draft published).
    Done,
}

impl Outcome {
    /// The stored code of an outcome. Records written before outcomes had
    /// names hold the same numbers, so they replay unchanged.
    pub(crate) fn code(self) -> i32 {
        match self {
            Outcome::Created => 201,
            Outcome::Done => 200,
        }
    }

    fn from_code(code: i32) -> RegistryResult<Outcome> {
        match code {
            201 => Ok(Outcome::Created),
            200 => Ok(Outcome::Done),
            other => Err(RegistryError::internal(anyhow::anyhow!(
                "stored idempotency outcome {other} is unknown"
            ))),
        }
    }
}

/// What an operation produced: its outcome and the JSON answer.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub outcome: Outcome,
    pub body: serde_json::Value,
    /// True when this is the stored response of an earlier request.
    pub replayed: bool,
}

enum TxError {
    Registry(RegistryError),
    KeyTaken,
}

impl From<incidex_schema::db::StorageError> for TxError {
    fn from(e: incidex_schema::db::StorageError) -> Self {
        TxError::Registry(e.into())
    }
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Registry(e.into())
    }
}

impl From<RegistryError> for TxError {
    fn from(e: RegistryError) -> Self {
        TxError::Registry(e)
    }
}

/// Hash of what identifies a request: method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// Runs `op` in a transaction, recording its response under `key` when one
/// is given, or replays the response recorded earlier.
///
/// The record is written last, in the same transaction, and looked up only
/// when it is already taken or `op` failed: a first request costs one
/// INSERT, and a retry's work is rolled back before its replay.
pub fn run<F>(
    conn: &mut DbConnection,
    scope: &str,
    key: Option<&str>,
    request_hash: &str,
    op: F,
) -> RegistryResult<Recorded>
where
    F: FnOnce(&mut DbConnection) -> RegistryResult<(Outcome, serde_json::Value)>,
{
    let result = incidex_schema::db::write_transaction::<_, TxError, _>(conn, |conn| {
        let (outcome, body) = op(conn)?;
        if let Some(key) = key {
            let row = IdempotencyRow {
                scope: scope.to_owned(),
                idem_key: key.to_owned(),
                request_hash: request_hash.to_owned(),
                response_status: outcome.code(),
                response_body: body.to_string(),
                created_at: now(),
            };
            if !idempotency::insert(conn, &row)? {
                return Err(TxError::KeyTaken);
            }
        }
        Ok((outcome, body))
    });
    match (result, key) {
        (Ok((outcome, body)), _) => Ok(Recorded {
            outcome,
            body,
            replayed: false,
        }),
        // An earlier or concurrent request with this key committed first.
        (Err(TxError::KeyTaken), Some(key)) => match idempotency::find(conn, scope, key)? {
            Some(row) => replay(&row, request_hash),
            None => Err(RegistryError::Conflict(
                "a concurrent request with this idempotency key failed; retry".into(),
            )),
        },
        // A retry can fail where the first request succeeded (a publish
        // finds the report already published): the record decides.
        (Err(TxError::Registry(e)), Some(key)) => match idempotency::find(conn, scope, key)? {
            Some(row) => replay(&row, request_hash),
            None => Err(e),
        },
        (Err(TxError::Registry(e)), None) => Err(e),
        (Err(TxError::KeyTaken), None) => Err(RegistryError::internal(anyhow::anyhow!(
            "no key, no conflict"
        ))),
    }
}

fn replay(row: &IdempotencyRow, request_hash: &str) -> RegistryResult<Recorded> {
    if row.request_hash != request_hash {
        return Err(RegistryError::KeyReused);
    }
    let body = serde_json::from_str(&row.response_body)?;
    Ok(Recorded {
        outcome: Outcome::from_code(row.response_status)?,
        body,
        replayed: true,
    })
}

/// Forgets keys older than the retention period.
pub fn purge(conn: &mut DbConnection) -> RegistryResult<usize> {
    Ok(idempotency::purge_older_than(
        conn,
        now() - TimeDelta::hours(RETENTION_HOURS),
    )?)
}
