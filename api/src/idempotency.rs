//! `Idempotency-Key`: a retried request with the same key and body returns
//! the first response and changes nothing; the same key with a different
//! request is refused with `idempotency_key_reused`.
//!
//! The first response is recorded in the same transaction as the change it
//! reports, so a crash cannot separate them, and two concurrent requests
//! with one key cannot both succeed: the second finds the record's key
//! taken (waiting for the first to commit), rolls back, and replays the
//! first's response. Records are
//! scoped by a keyed hash of the caller (so the table does not link clients
//! to reports) and kept for 24 hours.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use chrono::TimeDelta;
use incidex_schema::db::idempotency::{self, IdempotencyRow};
use incidex_schema::db::{DbConnection, reports::now};
use incidex_schema::validation::FieldError;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};

pub const HEADER: &str = "idempotency-key";
pub const MAX_KEY_CHARS: usize = 255;
/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 24;

/// The optional `Idempotency-Key` header, checked: 1–255 visible ASCII.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(HEADER) else {
            return ready(Ok(IdempotencyKey(None)));
        };
        let key = value.to_str().ok().map(str::trim).filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic())
        });
        ready(match key {
            Some(k) => Ok(IdempotencyKey(Some(k.to_owned()))),
            None => Err(ApiError::new(
                ErrorCode::InvalidHeader,
                "Idempotency-Key must be 1-255 visible ASCII characters",
            )
            .with_errors(vec![FieldError::new(
                "Idempotency-Key",
                "invalid_value",
                "1-255 visible ASCII characters",
            )])
            .into()),
        })
    }
}

/// What a request produced: its status and JSON body.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub status: u16,
    pub body: serde_json::Value,
    /// True when this is the stored response of an earlier request.
    pub replayed: bool,
}

enum TxError {
    Api(ApiError),
    KeyTaken,
}

impl From<incidex_schema::db::StorageError> for TxError {
    fn from(e: incidex_schema::db::StorageError) -> Self {
        TxError::Api(e.into())
    }
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Api(e.into())
    }
}

impl From<ApiError> for TxError {
    fn from(e: ApiError) -> Self {
        TxError::Api(e)
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
) -> Result<Recorded, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<(u16, serde_json::Value), ApiError>,
{
    let result = incidex_schema::db::write_transaction::<_, TxError, _>(conn, |conn| {
        let (status, body) = op(conn)?;
        if let Some(key) = key {
            let row = IdempotencyRow {
                scope: scope.to_owned(),
                idem_key: key.to_owned(),
                request_hash: request_hash.to_owned(),
                response_status: i32::from(status),
                response_body: body.to_string(),
                created_at: now(),
            };
            if !idempotency::insert(conn, &row)? {
                return Err(TxError::KeyTaken);
            }
        }
        Ok((status, body))
    });
    match (result, key) {
        (Ok((status, body)), _) => Ok(Recorded {
            status,
            body,
            replayed: false,
        }),
        // An earlier or concurrent request with this key committed first.
        (Err(TxError::KeyTaken), Some(key)) => match idempotency::find(conn, scope, key)? {
            Some(row) => replay(&row, request_hash),
            None => Err(ApiError::new(
                ErrorCode::Conflict,
                "a concurrent request with this Idempotency-Key failed; retry",
            )),
        },
        // A retry can fail where the first request succeeded (a publish
        // finds the report already published): the record decides.
        (Err(TxError::Api(e)), Some(key)) => match idempotency::find(conn, scope, key)? {
            Some(row) => replay(&row, request_hash),
            None => Err(e),
        },
        (Err(TxError::Api(e)), None) => Err(e),
        (Err(TxError::KeyTaken), None) => {
            Err(ApiError::internal(anyhow::anyhow!("no key, no conflict")))
        }
    }
}

fn replay(row: &IdempotencyRow, request_hash: &str) -> Result<Recorded, ApiError> {
    if row.request_hash != request_hash {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used with a different request",
        ));
    }
    let body = serde_json::from_str(&row.response_body).map_err(ApiError::internal)?;
    let status = u16::try_from(row.response_status).map_err(ApiError::internal)?;
    Ok(Recorded {
        status,
        body,
        replayed: true,
    })
}

/// Forgets keys older than the retention period.
pub fn purge(conn: &mut DbConnection) -> Result<usize, ApiError> {
    Ok(idempotency::purge_older_than(
        conn,
        now() - TimeDelta::hours(RETENTION_HOURS),
    )?)
}
