//! Token exchange and the registry's public keys.

use actix_web::{HttpResponse, get, post, web};
use chrono::TimeDelta;
use incidex_schema::db::identity;
use incidex_schema::db::reports::now;
use incidex_schema::identity::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::JsonBody;
use crate::http::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;

/// Failed logins in a row before a user is locked out.
pub const MAX_FAILED_LOGINS: i32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_MINUTES: i64 = 15;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"client_id": "ic_0f3a9c2e5b7d4e1f8a6c3b2d1e0f9a8b", "client_secret": "q2VdYp3…"}))]
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "analyst", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

fn bad_credentials() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "invalid credentials")
}

/// Exchange an API client's id and secret for a short-lived JWT.
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "unknown, revoked or expired client, or wrong secret", body = Problem, content_type = "application/problem+json"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/token")]
pub async fn token(
    state: web::Data<AppState>,
    body: JsonBody<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let request = body.value;
    let st = state.clone();
    let client = web::block(move || -> Result<_, ApiError> {
        let mut conn = st
            .registry
            .pool
            .get()
            .map_err(incidex_schema::db::StorageError::from)?;
        let row = identity::find_client(&mut conn, &request.client_id)?;
        let ok = st.registry.hasher.verify(
            &request.client_secret,
            row.as_ref().map(|r| r.secret_hash.as_str()),
        );
        Ok(row.filter(|_| ok))
    })
    .await??;
    let client = client.ok_or_else(bad_credentials)?;
    let now = now();
    if client.revoked_at.is_some() || client.expires_at.is_some_and(|e| e <= now) {
        return Err(bad_credentials());
    }
    let role = Role::parse(&client.role)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored role invalid")))?;
    let access_token = state
        .tokens
        .issue(&client.id, "client", client.operator_id.as_deref(), role)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs(),
    }))
}

/// Exchange a web user's username and password for a JWT. After
/// repeated failures the account is locked for a while.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "locked after repeated failures", body = Problem, content_type = "application/problem+json"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let (user_id, role) = check_password(&state, body.value.username, body.value.password).await?;
    let access_token = state
        .tokens
        .issue(&user_id, "user", None, role)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs(),
    }))
}

/// Verifies a user's password with lockout; the web UI's login uses it too.
pub async fn check_password(
    state: &AppState,
    username: String,
    password: String,
) -> ApiResult<(String, Role)> {
    let st = state.clone();
    web::block(move || -> Result<(String, Role), ApiError> {
        let mut conn = st
            .registry
            .pool
            .get()
            .map_err(incidex_schema::db::StorageError::from)?;
        let user = identity::find_user_by_username(&mut conn, &username)?;
        let now = now();
        if let Some(u) = &user
            && u.locked_until.is_some_and(|t| t > now)
        {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "too many failed logins; try again later",
            ));
        }
        let ok = st
            .registry
            .hasher
            .verify(&password, user.as_ref().map(|u| u.password_hash.as_str()));
        let user = user.ok_or_else(bad_credentials)?;
        if !ok {
            let failures = user.failed_logins + 1;
            let locked =
                (failures >= MAX_FAILED_LOGINS).then(|| now + TimeDelta::minutes(LOCKOUT_MINUTES));
            identity::record_login(
                &mut conn,
                &user.id,
                if locked.is_some() { 0 } else { failures },
                locked,
            )?;
            return Err(bad_credentials());
        }
        if user.failed_logins != 0 || user.locked_until.is_some() {
            identity::record_login(&mut conn, &user.id, 0, None)?;
        }
        let role = Role::parse(&user.role)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored role invalid")))?;
        Ok((user.id, role))
    })
    .await?
}

/// The registry's public keys as a JWK set: verifies its tokens and its
/// publication receipts offline.
#[utoipa::path(tag = "auth", responses((status = 200, description = "JWK set", body = Object)))]
#[get("/api/v1/keys")]
pub async fn keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": state.registry.keys.kid,
            "x": state.registry.keys.public_key_b64(),
        }]
    }))
}
