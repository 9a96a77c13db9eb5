//! Digests in the web UI: `/digests` lists the analysts' digests (the
//! signed-in analyst's audience, as `GET /api/v1/digests` lists them) with
//! a link to each format; `/digests/{id}?format=` serves one digest, the
//! self-contained HTML page by default, exactly as the API renders it.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use incidex_schema::db::digests as store;

use super::search::Params;
use super::session::Session;
use super::{Chrome, message_page, render};
use crate::http::db;
use crate::http::{ApiResult, ErrorCode};
use crate::state::AppState;
use incidex_registry::digests::render::Format;
use incidex_registry::digests::{Audience, DigestKind, Period};

const PAGE_SIZE: i64 = 25;

struct DigestRowView {
    id: String,
    title: String,
    span: String,
    incidents: i32,
    generated: String,
}

#[derive(Template)]
#[template(path = "digests.html")]
struct DigestsPage {
    chrome: Chrome,
    kind: String,
    digests: Vec<DigestRowView>,
    total: i64,
    first: i64,
    last: i64,
    prev_url: Option<String>,
    next_url: Option<String>,
    formats: Vec<(&'static str, &'static str)>,
}

/// `GET /digests`
pub async fn list(s: Session, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let chrome = Chrome::new("Digests", "digests", &s);
    let Some(audience) = Audience::of_role(s.principal.role) else {
        return s.finish(message_page(
            StatusCode::FORBIDDEN,
            chrome,
            "No digests",
            "Digests are for members and analysts.",
        ));
    };
    let params = Params::parse(req.query_string());
    let kind: Option<DigestKind> = params.get("kind").and_then(|k| k.parse().ok());
    let offset: i64 = params
        .get("offset")
        .and_then(|o| o.parse().ok())
        .filter(|o| *o >= 0)
        .unwrap_or(0);
    let page = db(&state, move |conn| -> ApiResult<_> {
        Ok(store::list_done(
            conn,
            audience.as_str(),
            kind.map(DigestKind::as_str),
            PAGE_SIZE,
            offset,
        )?)
    })
    .await;
    let (rows, total) = match page {
        Ok(p) => p,
        Err(e) => return s.finish(super::internal_error(chrome, &e)),
    };
    let kind_name = kind.map(DigestKind::as_str).unwrap_or("");
    let url = |o: i64| {
        let mut p = Params::default();
        if !kind_name.is_empty() {
            p = p.with("kind", kind_name);
        }
        if o > 0 {
            p = p.with("offset", &o.to_string());
        }
        match p.query() {
            q if q.is_empty() => "/digests".to_owned(),
            q => format!("/digests?{q}"),
        }
    };
    let shown = rows.len() as i64;
    let digests = rows
        .into_iter()
        .filter_map(|r| {
            let kind: DigestKind = r.kind.parse().ok()?;
            let period = Period::containing(kind, r.period_start);
            Some(DigestRowView {
                title: format!("{} digest {}", kind.title(), period.label()),
                span: period.span(),
                incidents: r.incidents.unwrap_or(0),
                generated: r
                    .completed_at
                    .map(|t| t.format("%-d %b %Y %H:%M UTC").to_string())
                    .unwrap_or_default(),
                id: r.id,
            })
        })
        .collect();
    let view = DigestsPage {
        chrome,
        kind: kind_name.to_owned(),
        digests,
        total,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        prev_url: (offset > 0).then(|| url((offset - PAGE_SIZE).max(0))),
        next_url: (offset + shown < total).then(|| url(offset + shown)),
        formats: vec![("json", "JSON"), ("csv", "CSV"), ("md", "Markdown")],
    };
    s.finish(render(StatusCode::OK, &view))
}

/// `GET /digests/{id}?format=html|json|csv|md`
pub async fn show(
    s: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let chrome = Chrome::new("Digest", "digests", &s);
    let params = Params::parse(req.query_string());
    let format = match params.get("format") {
        None => Format::Html,
        Some(f) => match Format::parse(f) {
            Some(f) => f,
            None => {
                return s.finish(message_page(
                    StatusCode::BAD_REQUEST,
                    chrome,
                    "Unknown format",
                    "Digests are available as HTML, JSON, CSV and Markdown.",
                ));
            }
        },
    };
    let Some(audience) = Audience::of_role(s.principal.role) else {
        return s.finish(message_page(
            StatusCode::NOT_FOUND,
            chrome,
            "Digest not found",
            "There is no such digest.",
        ));
    };
    let id = path.into_inner();
    let digest = db(&state, move |conn| {
        incidex_registry::digests::stored_digest(conn, &id, audience)
    })
    .await;
    let response = match digest.and_then(|d| crate::http::digest::respond_digest(&d, format)) {
        Ok(r) => r,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return s.finish(message_page(
                StatusCode::NOT_FOUND,
                chrome,
                "Digest not found",
                "There is no such digest, or it has not been produced yet.",
            ));
        }
        Err(e) => return s.finish(super::internal_error(chrome, &e)),
    };
    let mut response = s.finish(response);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
