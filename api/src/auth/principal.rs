//! Authentication as extractors: a handler's signature says which role it
//! needs (`Reporter`, `Reader`, `Analyst`, `Admin`, `AnyRole`), so no route can forget
//! to check.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use incidex_schema::db::identity;
use incidex_schema::identity::Role;

pub use incidex_registry::caller::CallerKind as PrincipalKind;
use incidex_registry::{Caller, RegistryError};

use super::tokens::Claims;
use crate::http::{ApiError, ErrorCode};
use crate::state::AppState;

/// Who is calling, after their token has been checked: the registry's
/// [`Caller`], as an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub Caller);

impl std::ops::Deref for Principal {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// The checked bearer token of a request (or why it was refused).
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub Result<Principal, (ErrorCode, String, Option<u64>)>);

impl Authenticated {
    pub fn to_result(&self) -> Result<Principal, ApiError> {
        self.0.clone().map_err(|(code, detail, retry)| {
            let e = ApiError::new(code, detail);
            match retry {
                Some(secs) => e.retry_after(secs),
                None => e,
            }
        })
    }
}

fn unauthenticated(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, detail)
}

/// The bearer token of a request's `Authorization` header.
pub(crate) fn bearer_of(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = header.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl Principal {
    /// Validates a token and checks that its principal still may act.
    pub async fn from_token(state: &AppState, token: &str) -> Result<Principal, ApiError> {
        let key = super::tokens::token_key(token);
        if let Some(caller) = state.credentials.lookup(&key) {
            return Ok(Principal(caller));
        }
        // Read before the check: a revocation after it moves the epoch on.
        let epoch = state.credentials.current_epoch();
        let claims: Claims = state
            .tokens
            .validate(token)
            .map_err(|e| unauthenticated(&e.to_string()))?;
        let role = *claims
            .roles
            .first()
            .ok_or_else(|| unauthenticated("token carries no role"))?;
        let kind = match claims.kind.as_str() {
            "client" => PrincipalKind::Client,
            "user" => PrincipalKind::User,
            _ => PrincipalKind::External,
        };
        let pool = state.registry.pool.clone();
        let subject = claims.sub.clone();
        let operator = claims.op.clone();
        let check = crate::http::blocking(move || {
            incidex_registry::conn::with_connection(&pool, |conn| {
                liveness(conn, kind, &subject, role, operator.as_ref())
            })
        })
        .await?;
        let Liveness::Live { expires } = check else {
            tracing::warn!(
                security_event = "stale_credential_used",
                credential = ?kind,
                subject = %claims.sub,
                "token of a revoked, expired or unknown credential used"
            );
            return Err(unauthenticated(
                "the credentials behind this token are revoked, expired or unknown",
            ));
        };
        let principal = Principal(Caller {
            subject: claims.sub,
            kind,
            operator_id: claims.op,
            role,
        });
        if let Some(epoch) = epoch {
            state.credentials.store(
                key,
                principal.0.clone(),
                claims.exp.saturating_add(super::tokens::LEEWAY_SECS),
                expires,
                epoch,
            );
        }
        Ok(principal)
    }
}

/// Whether a token's principal may still act, per the database.
enum Liveness {
    Live {
        /// When the credential lapses on its own (a client's expiry).
        expires: Option<chrono::NaiveDateTime>,
    },
    Gone,
}

fn liveness(
    conn: &mut incidex_schema::db::DbConnection,
    kind: PrincipalKind,
    subject: &str,
    role: Role,
    operator: Option<&String>,
) -> Result<Liveness, RegistryError> {
    let live = |ok: bool| {
        if ok {
            Liveness::Live { expires: None }
        } else {
            Liveness::Gone
        }
    };
    Ok(match kind {
        PrincipalKind::Client => match identity::find_client(conn, subject)? {
            Some(c)
                if c.revoked_at.is_none()
                    && c.expires_at
                        .is_none_or(|e| e > chrono::Utc::now().naive_utc())
                    && c.role == role.as_str()
                    && c.operator_id.as_ref() == operator =>
            {
                Liveness::Live {
                    expires: c.expires_at,
                }
            }
            _ => Liveness::Gone,
        },
        PrincipalKind::User => {
            live(identity::find_user(conn, subject)?.is_some_and(|u| u.role == role.as_str()))
        }
        // The provider vouches for the subject; a reporter's operator must be a member.
        PrincipalKind::External => live(match operator {
            Some(op) => identity::find_operator(conn, op)?.is_some(),
            None => role != Role::Reporter,
        }),
    })
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

impl FromRequest for Principal {
    type Error = actix_web::Error;
    type Future = Fut<Principal>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Checked by the `guard` middleware before any extractor ran.
        if let Some(done) = req.extensions().get::<Authenticated>() {
            let outcome = done.to_result();
            return Box::pin(async move { Ok(outcome?) });
        }
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_of(req);
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
            let token = token.ok_or_else(|| unauthenticated("a bearer token is required"))?;
            Ok(Principal::from_token(&state, &token).await?)
        })
    }
}

fn forbidden(needed: &str) -> actix_web::Error {
    ApiError::new(
        ErrorCode::Forbidden,
        format!("this needs the {needed} role"),
    )
    .into()
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $needed:literal, |$p:ident| $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Principal);

        impl FromRequest for $name {
            type Error = actix_web::Error;
            type Future = Fut<$name>;

            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                let principal = Principal::from_request(req, payload);
                Box::pin(async move {
                    let $p = principal.await?;
                    if $allowed { Ok($name($p)) } else { Err(forbidden($needed)) }
                })
            }
        }
    };
}

role_extractor!(
    /// Any authenticated principal.
    AnyRole, "any", |p| { let _ = &p; true }
);
role_extractor!(
    /// Someone who reads what is shared: a reporter or an analyst.
    Reader, "reporter or analyst", |p| matches!(p.role, Role::Reporter | Role::Analyst)
);
role_extractor!(
    /// An administrator.
    Admin, "admin", |p| p.role == Role::Admin
);
role_extractor!(
    /// An analyst (registry or member analyst): reads all that is shared, curates.
    Analyst, "analyst", |p| p.role == Role::Analyst
);

/// An operator's reporting system, with the operator it acts for.
#[derive(Debug, Clone)]
pub struct Reporter {
    pub principal: Principal,
    pub operator_id: String,
}

impl FromRequest for Reporter {
    type Error = actix_web::Error;
    type Future = Fut<Reporter>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let principal = Principal::from_request(req, payload);
        Box::pin(async move {
            let principal = principal.await?;
            match (&principal.role, principal.operator_id.clone()) {
                (Role::Reporter, Some(operator_id)) => Ok(Reporter {
                    principal,
                    operator_id,
                }),
                _ => Err(forbidden("reporter")),
            }
        })
    }
}
