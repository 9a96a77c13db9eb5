//! Checking a client's secret or a user's password at the edge: the
//! budgets first (per address, per client id or username), then one of a
//! bounded number of verification slots, then the registry's check with
//! its lockout; every refusal is logged as a security event and answered
//! alike, so no answer tells an unknown id from a locked one.

use std::net::IpAddr;

use incidex_registry::members::login::{self, Refusal};
use incidex_schema::db::identity::ClientRow;
use incidex_schema::identity::Role;

use super::throttle::Limited;
use crate::http::{ApiError, ErrorCode};
use crate::state::AppState;

/// Why a credential check did not issue a token.
#[derive(Debug)]
pub enum CredentialError {
    /// Over a rate limit (429).
    Limited(Limited),
    /// No verification slot came free in time (503).
    Busy,
    /// Unknown, wrong, locked, revoked or expired (401, always alike).
    Refused,
    /// The database or another failure.
    Failed(ApiError),
}

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> ApiError {
        match e {
            CredentialError::Limited(l) => rate_limited(l),
            CredentialError::Busy => ApiError::new(
                ErrorCode::ServiceUnavailable,
                "too many credential checks at once; retry shortly",
            )
            .retry_after(1),
            CredentialError::Refused => {
                ApiError::new(ErrorCode::Unauthenticated, "invalid credentials")
            }
            CredentialError::Failed(e) => e,
        }
    }
}

/// The 429 answer of a request over its budget, logged as a security event.
pub fn rate_limited(limited: Limited) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "rate limit `{}` exceeded; retry in {} s",
            limited.budget.as_str(),
            limited.retry_after_secs
        ),
    )
    .retry_after(limited.retry_after_secs)
}

/// An address for the logs (`unknown` without one).
pub fn shown(address: Option<IpAddr>) -> String {
    address.map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}

fn log_limited(limited: Limited, subject: &str, address: Option<IpAddr>) {
    tracing::warn!(
        security_event = "rate_limited",
        budget = limited.budget.as_str(),
        subject,
        address = %shown(address),
        retry_after_secs = limited.retry_after_secs,
        "request over its rate limit"
    );
}

/// Client ids are `ic_` and 32 hex digits; anything else is refused
/// before any lookup (the format is no secret, so this reveals nothing).
pub fn is_client_id(id: &str) -> bool {
    id.len() == 35 && id.starts_with("ic_") && id[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn refused(kind: &str, subject: &str, address: Option<IpAddr>, refusal: Refusal) {
    match refusal {
        Refusal::LockedNow => {
            tracing::warn!(
                security_event = "credential_locked",
                credential = kind,
                subject,
                address = %shown(address),
                minutes = login::LOCKOUT_MINUTES,
                "credential locked after repeated failures"
            );
        }
        Refusal::Revoked | Refusal::Expired => {
            tracing::warn!(
                security_event = "stale_credential_used",
                credential = kind,
                subject,
                address = %shown(address),
                reason = refusal.as_str(),
                "revoked or expired credential used"
            );
            return;
        }
        _ => {}
    }
    tracing::warn!(
        security_event = "authentication_failed",
        credential = kind,
        subject,
        address = %shown(address),
        reason = refusal.as_str(),
        "authentication failed"
    );
}

/// Checks an API client's secret; on success remembers the address as
/// familiar to the client.
pub async fn check_client(
    state: &AppState,
    address: Option<IpAddr>,
    client_id: String,
    secret: String,
) -> Result<(ClientRow, Role), CredentialError> {
    let throttle = &state.throttle;
    if let Err(limited) = throttle.token_attempt(&client_id, address) {
        log_limited(limited, &client_id, address);
        return Err(CredentialError::Limited(limited));
    }
    if !is_client_id(&client_id) {
        throttle.failed(address);
        refused("client", &client_id, address, Refusal::Unknown);
        return Err(CredentialError::Refused);
    }
    let familiar_key = format!("client:{client_id}");
    let familiar = throttle.is_familiar(&familiar_key, address);
    let slot = throttle.verification_slot().await.map_err(|_| {
        tracing::warn!(security_event = "verification_busy", credential = "client", subject = %client_id, address = %shown(address), "no verification slot in time");
        CredentialError::Busy
    })?;
    let registry = state.registry.clone();
    let id = client_id.clone();
    let checked = crate::http::blocking(move || {
        let _slot = slot;
        login::check_client(&registry.pool, &id, familiar, |hash| {
            registry.hasher.verify(&secret, hash)
        })
    })
    .await
    .map_err(CredentialError::Failed)?;
    match checked {
        Ok(found) => {
            throttle.remember(&familiar_key, address);
            Ok(found)
        }
        Err(refusal) => {
            throttle.failed(address);
            refused("client", &client_id, address, refusal);
            Err(CredentialError::Refused)
        }
    }
}

/// Verifies a web user's password with its lockout (the API's login and
/// the web UI's).
pub async fn check_password(
    state: &AppState,
    address: Option<IpAddr>,
    username: String,
    password: String,
) -> Result<(String, Role), CredentialError> {
    let throttle = &state.throttle;
    if let Err(limited) = throttle.login_attempt(&username, address) {
        log_limited(limited, &username, address);
        return Err(CredentialError::Limited(limited));
    }
    let familiar_key = format!("user:{username}");
    let familiar = throttle.is_familiar(&familiar_key, address);
    let slot = throttle.verification_slot().await.map_err(|_| {
        tracing::warn!(security_event = "verification_busy", credential = "user", subject = %username, address = %shown(address), "no verification slot in time");
        CredentialError::Busy
    })?;
    let registry = state.registry.clone();
    let name = username.clone();
    let checked = crate::http::blocking(move || {
        let _slot = slot;
        login::check_password(&registry.pool, &name, familiar, |hash| {
            registry.hasher.verify(&password, hash)
        })
    })
    .await
    .map_err(CredentialError::Failed)?;
    match checked {
        Ok(found) => {
            throttle.remember(&familiar_key, address);
            Ok(found)
        }
        Err(refusal) => {
            throttle.failed(address);
            refused("user", &username, address, refusal);
            Err(CredentialError::Refused)
        }
    }
}
