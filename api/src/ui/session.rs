//! Web sessions and CSRF protection.
//!
//! Policy: a session is a registry JWT (the same token `POST
//! /api/v1/auth/login` issues) kept in an HttpOnly, SameSite=Strict cookie,
//! `Secure` when the request came over TLS, and checked on every page by
//! [`Principal::from_token`], exactly as the API checks a bearer token. It is
//! renewed once less than half its lifetime remains. A second HttpOnly
//! cookie holds a random session id; every form carries an HMAC of that id
//! and the user (signed double submit), checked on every POST. The session
//! id is replaced at login, so a planted id is useless.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use incidex_schema::identity::Role;

use crate::auth::{Principal, generate_secret};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "incidex_session";
pub const SID_COOKIE: &str = "incidex_sid";
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// A signed-in analyst, as resolved for one request.
#[derive(Debug)]
pub struct Session {
    pub principal: Principal,
    pub username: String,
    /// The CSRF token to put in this page's forms.
    pub csrf: String,
    /// A fresh session cookie to send back, when the token was renewed.
    renewed: Option<Cookie<'static>>,
}

impl Session {
    /// Adds the renewed session cookie (if any) to a response.
    pub fn finish(&self, mut response: HttpResponse) -> HttpResponse {
        if let Some(cookie) = &self.renewed {
            let _ = response.add_cookie(cookie);
        }
        response
    }
}

fn is_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// An HttpOnly, SameSite=Strict cookie for the whole site.
pub fn cookie(req: &HttpRequest, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(is_tls(req))
        .finish()
}

/// A cookie that deletes `name`.
pub fn removal(req: &HttpRequest, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(req, name, String::new());
    c.make_removal();
    c
}

/// The CSRF token for session id `sid` and `subject` (`login` before sign-in).
pub fn csrf_token(state: &AppState, sid: &str, subject: &str) -> String {
    state
        .registry
        .keys
        .opaque_key("ui-csrf", &format!("{sid}\u{0}{subject}"))
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `submitted` is the CSRF token of this browser's session id.
pub fn csrf_ok(
    state: &AppState,
    req: &HttpRequest,
    subject: &str,
    submitted: Option<&str>,
) -> bool {
    match (req.cookie(SID_COOKIE), submitted) {
        (Some(sid), Some(token)) if !sid.value().is_empty() => {
            same(&csrf_token(state, sid.value(), subject), token)
        }
        _ => false,
    }
}

/// A new random session id.
pub fn new_sid() -> String {
    generate_secret()
}

/// Where to go after signing in: only a local path, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

/// A 303 to the login page that comes back to this page afterwards.
pub fn to_login(req: &HttpRequest, notice: Option<&str>) -> HttpResponse {
    let here = match req.query_string() {
        "" => req.path().to_owned(),
        q => format!("{}?{q}", req.path()),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    if here != "/" {
        query.append_pair("next", &here);
    }
    if let Some(n) = notice {
        query.append_pair("notice", n);
    }
    let query = query.finish();
    let location = if query.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?{query}")
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The signed-in analyst as an extractor: a page handler that takes a
/// [`Session`] is only reached by an analyst with a live session; anyone
/// else is redirected to the login page (see [`require_analyst`]).
impl actix_web::FromRequest for Session {
    type Error = actix_web::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Session, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = req.app_data::<actix_web::web::Data<AppState>>() else {
                return Err(actix_web::error::ErrorInternalServerError(
                    "application state missing",
                ));
            };
            require_analyst(&req, state).await.map_err(|redirect| {
                actix_web::error::InternalError::from_response("", redirect).into()
            })
        })
    }
}

/// Resolves the signed-in analyst, or answers with a redirect to the login
/// page (no session, an expired or revoked one, or a role without access).
pub async fn require_analyst(req: &HttpRequest, state: &AppState) -> Result<Session, HttpResponse> {
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Err(to_login(req, None));
    };
    let Ok(principal) = Principal::from_token(state, &token).await else {
        let mut res = to_login(req, Some("expired"));
        let _ = res.add_cookie(&removal(req, SESSION_COOKIE));
        return Err(res);
    };
    if principal.role != Role::Analyst {
        return Err(to_login(req, Some("denied")));
    }
    let Some(sid) = req
        .cookie(SID_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|s| !s.is_empty())
    else {
        return Err(to_login(req, Some("expired")));
    };
    let renewed = match state.tokens.validate(&token) {
        Ok(claims) => {
            let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
            let left = claims.exp.saturating_sub(now);
            if left < state.tokens.ttl_secs() / 2 {
                state
                    .tokens
                    .issue(&principal.subject, "user", None, principal.role)
                    .ok()
                    .map(|t| cookie(req, SESSION_COOKIE, t))
            } else {
                None
            }
        }
        Err(_) => None,
    };
    let pool = state.registry.pool.clone();
    let subject = principal.subject.clone();
    let username = actix_web::web::block(move || {
        let mut conn = pool.get().ok()?;
        incidex_schema::db::identity::find_user(&mut conn, &subject)
            .ok()
            .flatten()
            .map(|u| u.username)
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| "analyst".to_owned());
    Ok(Session {
        csrf: csrf_token(state, &sid, &principal.subject),
        principal,
        username,
        renewed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/reports/1?x=2")), "/reports/1?x=2");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn comparison_is_exact() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
