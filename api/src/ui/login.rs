//! Sign-in and sign-out pages.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::{
    self, CSRF_FIELD, SESSION_COOKIE, SID_COOKIE, csrf_ok, csrf_token, new_sid, safe_next,
};
use super::{Chrome, render};
use crate::http::{ApiError, ErrorCode};
use crate::state::AppState;

/// Subject of the CSRF token before sign-in.
const LOGIN_SUBJECT: &str = "login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    chrome: Chrome,
}

fn query_value(req: &HttpRequest, key: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn notice_text(code: &str) -> Option<String> {
    Some(
        match code {
            "expired" => "Your session has ended. Sign in again to continue.",
            "denied" => "This account cannot use the analyst interface.",
            "logged_out" => "You have signed out.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// The login page for a browser with session id `sid`.
fn login_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    sid: Option<String>,
    next: String,
    username: String,
    error: Option<String>,
) -> HttpResponse {
    let (sid, fresh) = match sid.filter(|s| !s.is_empty()) {
        Some(sid) => (sid, false),
        None => (new_sid(), true),
    };
    let page = LoginPage {
        chrome: Chrome::anonymous("Sign in"),
        csrf: csrf_token(state, &sid, LOGIN_SUBJECT),
        next,
        username,
        error,
        notice: query_value(req, "notice").and_then(|n| notice_text(&n)),
    };
    let mut response = render(status, &page);
    if fresh {
        let _ = response.add_cookie(&session::cookie(req, SID_COOKIE, sid));
    }
    response
}

/// `GET /login`
pub async fn form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let sid = req.cookie(SID_COOKIE).map(|c| c.value().to_owned());
    let next = safe_next(query_value(&req, "next").as_deref());
    login_page(&state, &req, StatusCode::OK, sid, next, String::new(), None)
}

fn form_fields(body: &[u8]) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `POST /login`: username, password, csrf, next.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let fields = form_fields(&body);
    if !csrf_ok(
        &state,
        &req,
        LOGIN_SUBJECT,
        fields.get(CSRF_FIELD).map(String::as_str),
    ) {
        return super::csrf_refused();
    }
    let sid = req.cookie(SID_COOKIE).map(|c| c.value().to_owned());
    let username = fields.get("username").cloned().unwrap_or_default();
    let password = fields.get("password").cloned().unwrap_or_default();
    let next = safe_next(fields.get("next").map(String::as_str));
    let has_control = |t: &str| t.chars().any(char::is_control);
    if username.trim().is_empty()
        || password.is_empty()
        || has_control(&username)
        || has_control(&password)
    {
        return login_page(
            &state,
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            sid,
            next,
            username,
            Some("Enter your username and password.".to_owned()),
        );
    }
    let address = crate::auth::client_address(&req);
    let outcome =
        crate::auth::check_password(&state, address, username.trim().to_owned(), password).await;
    let (user_id, role) = match outcome {
        Ok(ok) => ok,
        Err(e) => {
            let e = ApiError::from(e);
            let (status, message) = match e.code() {
                ErrorCode::RateLimited => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many sign-in attempts from here. Try again in a few minutes.".to_owned(),
                ),
                ErrorCode::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    "The username or password is not right.".to_owned(),
                ),
                ErrorCode::ServiceUnavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Signing in is not possible right now. Try again in a moment.".to_owned(),
                ),
                _ => {
                    tracing::error!(error = %e.problem().detail, "web sign-in failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Signing in failed. Try again in a moment.".to_owned(),
                    )
                }
            };
            return login_page(&state, &req, status, sid, next, username, Some(message));
        }
    };
    if role != incidex_schema::identity::Role::Analyst {
        return login_page(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            sid,
            next,
            username,
            Some("This account cannot use the analyst interface.".to_owned()),
        );
    }
    let token = match state.tokens.issue(&user_id, "user", None, role) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "cannot issue a session token");
            return super::message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Chrome::anonymous("Error"),
                "Something went wrong",
                "Signing in failed. Try again in a moment.",
            );
        }
    };
    tracing::info!(user = %user_id, "web sign-in");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(session::cookie(&req, SESSION_COOKIE, token))
        // A new session id at sign-in: one planted before is worthless.
        .cookie(session::cookie(&req, SID_COOKIE, new_sid()))
        .finish()
}

/// `GET /logout`: a confirmation form (signing out changes state, so it is a POST).
pub async fn confirm(s: session::Session) -> HttpResponse {
    s.finish(render(
        StatusCode::OK,
        &LogoutPage {
            chrome: Chrome::new("Sign out", "", &s),
        },
    ))
}

/// `POST /logout` with the CSRF token: ends the session.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let fields = form_fields(&body);
    let subject = match req.cookie(SESSION_COOKIE) {
        Some(c) => state
            .tokens
            .validate(c.value())
            .ok()
            .map(|claims| claims.sub),
        None => None,
    };
    let Some(subject) = subject else {
        // No live session: nothing to end.
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/login?notice=logged_out"))
            .finish();
    };
    if !csrf_ok(
        &state,
        &req,
        &subject,
        fields.get(CSRF_FIELD).map(String::as_str),
    ) {
        return super::csrf_refused();
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login?notice=logged_out"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(session::removal(&req, SESSION_COOKIE))
        .cookie(session::removal(&req, SID_COOKIE))
        .finish()
}
