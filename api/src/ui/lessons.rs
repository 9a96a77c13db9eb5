//! The lessons page, `/lessons`: full-text search and filters over the
//! lessons the analyst may see, through `incidex_registry::lessons` exactly as
//! `GET /api/v1/lessons` (the page's query string is the API's).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::clusters::{LessonView, category_label};
use super::search::Params;
use super::session::Session;
use super::{Chrome, render};
use crate::http::ErrorCode;
use crate::http::db;
use crate::state::AppState;
use incidex_registry::labels::{field_label, label};
use incidex_registry::lessons::LessonQuery;
use incidex_registry::visibility::Viewer;

const FACETS: [&str; 6] = [
    "category",
    "source",
    "service",
    "domain",
    "root_cause_category",
    "trigger",
];

struct FacetValue {
    label: String,
    count: usize,
    url: String,
    selected: bool,
}

struct FacetGroup {
    field: &'static str,
    label: &'static str,
    values: Vec<FacetValue>,
}

#[derive(Template)]
#[template(path = "lessons.html")]
struct LessonsPage {
    chrome: Chrome,
    q: String,
    hidden: Vec<(String, String)>,
    facets: Vec<FacetGroup>,
    lessons: Vec<LessonView>,
    total: usize,
    first: usize,
    last: usize,
    prev_url: Option<String>,
    next_url: Option<String>,
    error: Option<String>,
    clear_url: Option<String>,
    /// For the endorse buttons.
    csrf: String,
}

fn value_label(field: &str, slug: &str) -> String {
    match field {
        "category" => category_label(slug),
        "source" if slug == "curated" => "Curated by analysts".to_owned(),
        "source" => "From reports".to_owned(),
        _ => label(field, slug),
    }
}

/// `GET /lessons`
pub async fn page(s: Session, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = Params::parse(req.query_string());
    let mut view = LessonsPage {
        chrome: Chrome::new("Lessons", "lessons", &s),
        q: params.get("q").unwrap_or_default().to_owned(),
        hidden: Vec::new(),
        facets: Vec::new(),
        lessons: Vec::new(),
        total: 0,
        first: 0,
        last: 0,
        prev_url: None,
        next_url: None,
        error: None,
        clear_url: None,
        csrf: s.csrf.clone(),
    };
    view.hidden = params
        .pairs()
        .into_iter()
        .filter(|(k, _)| k != "q" && k != "offset")
        .collect();
    if !view.hidden.is_empty() {
        view.clear_url = Some(match params.get("q") {
            Some(q) => Params::default().with("q", q).url_at("/lessons"),
            None => "/lessons".to_owned(),
        });
    }
    let query = match LessonQuery::parse(&params.query()) {
        Ok(q) => q,
        Err(e) => {
            view.error = Some(e.to_string());
            return s.finish(render(StatusCode::BAD_REQUEST, &view));
        }
    };
    let (offset, limit) = (query.offset, query.limit);
    let viewer = Viewer::new(&s.principal, &state.registry.keys);
    let listed = db(&state, move |conn| {
        incidex_registry::lessons::list_lessons(conn, &viewer, &query)
    })
    .await;
    let list = match listed {
        Ok(l) => l,
        Err(e) if e.code() == ErrorCode::InvalidParameter => {
            view.error = Some(e.to_string());
            return s.finish(render(StatusCode::BAD_REQUEST, &view));
        }
        Err(e) => return s.finish(super::internal_error(view.chrome, &e)),
    };
    view.total = list.total;
    view.first = if list.items.is_empty() { 0 } else { offset + 1 };
    view.last = offset + list.items.len();
    if offset > 0 {
        view.prev_url = Some(
            params
                .with_offset(offset.saturating_sub(limit))
                .url_at("/lessons"),
        );
    }
    view.next_url = list
        .next_offset
        .map(|o| params.with_offset(o).url_at("/lessons"));
    view.facets = FACETS
        .iter()
        .map(|&field| {
            let mut values: Vec<FacetValue> = list
                .facets
                .get(field)
                .into_iter()
                .flatten()
                .filter(|(v, n)| **n > 0 || params.has(field, v))
                .map(|(v, n)| FacetValue {
                    label: value_label(field, v),
                    count: *n,
                    url: params.toggled(field, v).url_at("/lessons"),
                    selected: params.has(field, v),
                })
                .collect();
            values.sort_by(|a, b| {
                b.selected
                    .cmp(&a.selected)
                    .then(b.count.cmp(&a.count))
                    .then(a.label.cmp(&b.label))
            });
            values.truncate(12);
            FacetGroup {
                field,
                label: match field {
                    "category" => "Category",
                    "source" => "Source",
                    other => field_label(other),
                },
                values,
            }
        })
        .filter(|g| !g.values.is_empty())
        .collect();
    view.lessons = list.items.into_iter().map(LessonView::from).collect();
    s.finish(render(StatusCode::OK, &view))
}

/// `POST /lessons/{id}/endorse`: the analyst endorses a lesson ("we applied
/// this too"), then returns to the page it came from.
pub async fn endorse(
    s: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == super::session::CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    if !super::session::csrf_ok(&state, &req, &s.principal.subject, token.as_deref()) {
        return super::csrf_refused();
    }
    let id = path.into_inner();
    let viewer = Viewer::new(&s.principal, &state.registry.keys);
    let lesson = id.clone();
    let done = db(&state, move |conn| {
        incidex_registry::lessons::endorse(conn, &viewer, &lesson)
    })
    .await;
    match done {
        Ok(_) => {
            // Back to the list or cluster it was endorsed from (local paths only).
            let back = req
                .headers()
                .get(actix_web::http::header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| {
                    r.find("://")
                        .map(|i| &r[i + 3..])
                        .and_then(|r| r.find('/').map(|j| r[j..].to_owned()))
                })
                .filter(|p| p.starts_with("/lessons") || p.starts_with("/clusters/"))
                .unwrap_or_else(|| "/lessons".to_owned());
            let back = format!(
                "{}#lesson-{id}",
                back.split('#').next().unwrap_or("/lessons")
            );
            s.finish(
                HttpResponse::SeeOther()
                    .insert_header((actix_web::http::header::LOCATION, back))
                    .finish(),
            )
        }
        Err(e) if e.code().status().is_client_error() => s.finish(super::message_page(
            e.code().status(),
            Chrome::new("Lessons", "lessons", &s),
            "This lesson cannot be endorsed",
            &e.problem().detail,
        )),
        Err(e) => s.finish(super::internal_error(
            Chrome::new("Lessons", "lessons", &s),
            &e,
        )),
    }
}
