//! Token exchange and the registry's public keys.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use incidex_schema::db::identity::ClientRow;
use incidex_schema::identity::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CredentialError;
use crate::http::extract::parse_json;
use crate::http::{ApiError, ApiResult, ErrorCode, JsonBody, Problem};
use crate::state::AppState;

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

/// The client-credentials grant as a form (RFC 6749 section 4.4): the
/// client authenticates with HTTP Basic or with `client_id` and
/// `client_secret` in the form, not both.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"grant_type": "client_credentials", "client_id": "ic_0f3a9c2e5b7d4e1f8a6c3b2d1e0f9a8b", "client_secret": "q2VdYp3…"}))]
#[allow(dead_code)]
pub struct TokenForm {
    /// Always `client_credentials`.
    #[schema(pattern = "^client_credentials$")]
    grant_type: String,
    /// The client's id (or send it, with the secret, by HTTP Basic instead).
    client_id: String,
    client_secret: String,
    /// Accepted and ignored: a token carries the client's role.
    scope: Option<String>,
}

/// An OAuth 2.0 error (RFC 6749 section 5.2), answered to the form
/// variant of `POST /api/v1/auth/token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `unsupported_grant_type`.
    #[schema(example = "invalid_client")]
    pub error: &'static str,
    pub error_description: String,
}

fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"incidex\""));
    }
    response.json(OAuthError {
        error,
        error_description: description.to_owned(),
    })
}

fn token_response(state: &AppState, client: &ClientRow, role: Role) -> ApiResult<HttpResponse> {
    let access_token = state
        .tokens
        .issue(&client.id, "client", client.operator_id.as_deref(), role)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: state.tokens.ttl_secs(),
        }))
}

/// The client id and secret of an `Authorization: Basic` header (each
/// form-urlencoded, RFC 6749 section 2.3.1); `Err` when it is malformed.
fn basic_credentials(req: &HttpRequest) -> Option<Result<(String, String), ()>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Some(Err(()));
    };
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(Ok((unescape(id), unescape(secret))))
}

fn content_type(req: &HttpRequest) -> Option<mime::Mime> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
}

/// Exchange an API client's credentials for a short-lived JWT. Two forms:
/// JSON `{client_id, client_secret}` (errors are problem+json), or the
/// OAuth 2.0 client-credentials grant (RFC 6749 section 4.4) as
/// `application/x-www-form-urlencoded` with `grant_type=client_credentials`
/// and the client authenticated by HTTP Basic or by `client_id` and
/// `client_secret` in the form (errors are RFC 6749 JSON: `invalid_request`
/// and `unsupported_grant_type` 400, `invalid_client` 401 with
/// `WWW-Authenticate: Basic`). Rate limits (429) and an overloaded
/// verifier (503) are problem+json in both forms.
#[utoipa::path(
    tag = "auth",
    operation_id = "auth_token",
    request_body(content(
        (TokenRequest = "application/json"),
        (TokenForm = "application/x-www-form-urlencoded"),
    )),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, body = TokenResponse, headers(("cache-control" = String, description = "`no-store`"))),
        (status = 400, description = "malformed request: problem+json for JSON, an RFC 6749 error (`invalid_request`, `unsupported_grant_type`) for the form", content(
            (Problem = "application/problem+json"),
            (OAuthError = "application/json"),
        )),
        (status = 401, description = "unknown, locked, revoked or expired client, or wrong secret (always the same answer): problem+json for JSON, `invalid_client` for the form", headers(("www-authenticate" = String)), content(
            (Problem = "application/problem+json"),
            (OAuthError = "application/json"),
        )),
    )
)]
#[post("/api/v1/auth/token")]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let address = crate::auth::client_address(&req);
    let is_form = content_type(&req).is_some_and(|m| {
        m.type_() == mime::APPLICATION && m.subtype() == mime::WWW_FORM_URLENCODED
    });
    if !is_form {
        let is_json = content_type(&req).is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        });
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "the body must be application/json or application/x-www-form-urlencoded",
            ));
        }
        let request: TokenRequest = parse_json(&body)?;
        let (client, role) =
            crate::auth::check_client(&state, address, request.client_id, request.client_secret)
                .await?;
        return token_response(&state, &client, role);
    }
    let invalid = |d: &str| Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d));
    let mut fields: std::collections::BTreeMap<String, String> = Default::default();
    const KNOWN: [&str; 4] = ["grant_type", "client_id", "client_secret", "scope"];
    for (key, value) in form_urlencoded::parse(&body) {
        // Unknown parameters are ignored (RFC 6749 section 3.2).
        if !KNOWN.contains(&key.as_ref()) {
            continue;
        }
        if value.chars().any(char::is_control) {
            return invalid(&format!("`{key}` holds a control character"));
        }
        if fields
            .insert(key.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return invalid(&format!("`{key}` is given more than once"));
        }
    }
    match fields.get("grant_type").map(String::as_str) {
        None => return invalid("`grant_type` is required"),
        Some("client_credentials") => {}
        Some(_) => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only `client_credentials` is supported",
            ));
        }
    }
    let in_form = (fields.remove("client_id"), fields.remove("client_secret"));
    let (client_id, secret) = match (basic_credentials(&req), in_form) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return invalid("authenticate with HTTP Basic or with the form, not both");
        }
        (Some(Ok(pair)), _) => pair,
        (Some(Err(())), _) => {
            return Ok(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the Basic credentials are malformed",
            ));
        }
        (None, (Some(id), Some(secret))) => (id, secret),
        (None, (Some(_), None)) => return invalid("`client_secret` is required"),
        (None, (None, _)) => {
            return Ok(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required",
            ));
        }
    };
    match crate::auth::check_client(&state, address, client_id, secret).await {
        Ok((client, role)) => token_response(&state, &client, role),
        Err(CredentialError::Refused) => Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "invalid client credentials",
        )),
        Err(other) => Err(other.into()),
    }
}

/// Exchange a web user's username and password for a JWT. After repeated
/// failures the account is locked for a while (answered like a wrong
/// password); too many attempts from one address are answered 429.
#[utoipa::path(
    tag = "auth",
    operation_id = "auth_login",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let address = crate::auth::client_address(&req);
    let (user_id, role) =
        crate::auth::check_password(&state, address, body.value.username, body.value.password)
            .await?;
    let access_token = state
        .tokens
        .issue(&user_id, "user", None, role)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: state.tokens.ttl_secs(),
        }))
}

/// The registry's public keys as a JWK set: verifies its tokens and its
/// publication receipts offline.
#[utoipa::path(tag = "auth", operation_id = "auth_keys", responses((status = 200, description = "JWK set", body = Object)))]
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
