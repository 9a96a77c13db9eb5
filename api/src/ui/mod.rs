//! The analyst web UI: server-rendered HTML (askama templates compiled into
//! the binary, one embedded stylesheet, no JavaScript).
//!
//! Policy: every page reads through the same functions as the API
//! (`parse_search`/`run_search`, `may_read_shared` and the shared view,
//! `visible_tlps`), with the signed-in user's principal, so the UI shows
//! exactly what the API would show that user: the same TLP rules, the
//! same anonymisation, never the filer. Only analysts may sign in. Pages
//! are not part of the OpenAPI document. Every POST needs the session's
//! CSRF token (see [`session`]).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

pub mod charts;
mod clusters;
mod digests;
mod lessons;
mod login;
mod report;
mod search;
pub mod session;
mod trends;

pub use incidex_registry::labels::{label, minutes};

/// The embedded stylesheet.
const APP_CSS: &str = include_str!("../../assets/app.css");

/// The stylesheet's URL, versioned by its content so it can be cached for good.
pub fn css_url() -> &'static str {
    static URL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::{Digest, Sha256};
        let digest = hex::encode(Sha256::digest(APP_CSS.as_bytes()));
        format!("/assets/app.{}.css", &digest[..12])
    });
    URL.as_str()
}

/// Registers the UI's routes on the plain actix app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(search::page))
        .route("/reports/{id}", web::get().to(report::page))
        .route("/trends", web::get().to(trends::page))
        .route("/clusters", web::get().to(clusters::list))
        .route("/clusters/{id}", web::get().to(clusters::page))
        .route(
            "/clusters/{id}/lessons",
            web::post().to(clusters::add_lesson),
        )
        .route("/lessons", web::get().to(lessons::page))
        .route("/lessons/{id}/endorse", web::post().to(lessons::endorse))
        .route("/digests", web::get().to(digests::list))
        .route("/digests/{id}", web::get().to(digests::show))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::get().to(login::confirm))
        .route("/logout", web::post().to(login::logout))
        .route("/assets/{name}", web::get().to(asset));
}

/// What the page frame needs: title, active tab, the user and the CSRF
/// token of the logout form.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub title: String,
    pub active: &'static str,
    pub username: Option<String>,
    pub csrf: String,
    pub css: &'static str,
}

impl Chrome {
    pub fn new(title: impl Into<String>, active: &'static str, s: &session::Session) -> Chrome {
        Chrome {
            title: title.into(),
            active,
            username: Some(s.username.clone()),
            csrf: s.csrf.clone(),
            css: css_url(),
        }
    }

    /// The frame of a page shown before sign-in.
    pub fn anonymous(title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            css: css_url(),
            ..Chrome::default()
        }
    }
}

/// An HTML response with the UI's security headers.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body)
}

/// Renders a template, or a plain 500 page when rendering fails.
pub fn render<T: Template>(status: StatusCode, template: &T) -> HttpResponse {
    match template.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned(),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: String,
    message: String,
    status: u16,
}

/// An error or notice page, in the frame of the signed-in user when known.
pub fn message_page(
    status: StatusCode,
    chrome: Chrome,
    heading: &str,
    message: &str,
) -> HttpResponse {
    render(
        status,
        &MessagePage {
            chrome,
            heading: heading.to_owned(),
            message: message.to_owned(),
            status: status.as_u16(),
        },
    )
}

/// A 403 for a form posted without a valid CSRF token.
pub fn csrf_refused() -> HttpResponse {
    message_page(
        StatusCode::FORBIDDEN,
        Chrome::anonymous("Request refused"),
        "Request refused",
        "This form was sent without a valid security token. It may have expired: \
         go back, reload the page and try again.",
    )
}

/// Logs an unexpected error and shows a page that reveals nothing internal.
pub fn internal_error(chrome: Chrome, error: &crate::http::ApiError) -> HttpResponse {
    tracing::error!(error = %error.problem().detail, "web ui request failed");
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        chrome,
        "Something went wrong",
        "The registry could not complete this request. Try again in a moment.",
    )
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    if format!("/assets/{}", path.as_str()) == css_url() {
        return HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(APP_CSS);
    }
    html(
        StatusCode::NOT_FOUND,
        "<!doctype html><title>Not found</title><p>No such asset.</p>".to_owned(),
    )
}
