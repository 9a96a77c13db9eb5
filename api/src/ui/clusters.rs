//! Clusters of similar incidents (`/clusters`, `/clusters/{id}`) and the
//! analyst's form to add a curated lesson to one. Everything comes from
//! `incidex_registry::clusters` and `incidex_registry::lessons` with the signed-in user as
//! viewer, exactly as `GET /api/v1/clusters` computes it.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use incidex_indexer::DocFreqs;

use super::search::Params;
use super::session::{CSRF_FIELD, Session, csrf_ok};
use super::{Chrome, message_page, render};
use crate::http::ErrorCode;
use crate::http::db;
use crate::state::AppState;
use incidex_registry::clusters::ClusterSort;
use incidex_registry::labels::label;
use incidex_registry::lessons::{Lesson, NewCuratedLesson};
use incidex_registry::visibility::Viewer;

const PAGE_SIZE: usize = 25;

pub(super) struct ClusterRow {
    id: String,
    label: String,
    size: usize,
    first_seen: String,
    last_seen: String,
    recent: usize,
}

#[derive(Template)]
#[template(path = "clusters.html")]
struct ClustersPage {
    chrome: Chrome,
    sort: String,
    clusters: Vec<ClusterRow>,
    total: usize,
    first: usize,
    last: usize,
    prev_url: Option<String>,
    next_url: Option<String>,
}

pub(super) struct LessonView {
    pub id: String,
    pub text: String,
    pub category: String,
    pub curated: bool,
    pub endorsements: i64,
    /// The signed-in analyst endorsed it already.
    pub endorsed: bool,
    pub report_ids: Vec<String>,
    pub cluster_id: Option<String>,
}

impl LessonView {
    pub fn from(l: Lesson) -> LessonView {
        LessonView {
            id: l.id,
            text: l.text,
            category: category_label(l.category.as_str()),
            curated: l.source.as_str() == "curated",
            endorsements: l.endorsements,
            endorsed: l.endorsed,
            report_ids: l.report_ids,
            cluster_id: l.cluster_id,
        }
    }
}

/// `change_management` as `Change management`.
pub(super) fn category_label(slug: &str) -> String {
    let text = slug.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

struct MemberView {
    id: String,
    title: String,
    published_on: String,
    tags: Vec<String>,
}

#[derive(Template)]
#[template(path = "cluster.html")]
struct ClusterPage {
    chrome: Chrome,
    id: String,
    label: String,
    top_terms: Vec<String>,
    size: usize,
    first_seen: String,
    last_seen: String,
    recent: usize,
    members: Vec<MemberView>,
    lessons: Vec<LessonView>,
    csrf: String,
    error: Option<String>,
    draft: String,
}

fn day(d: chrono::NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

/// `GET /clusters`
pub async fn list(s: Session, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let chrome = Chrome::new("Clusters", "clusters", &s);
    let params = Params::parse(req.query_string());
    let (sort_name, sort) = match params.get("sort") {
        Some("size") => ("size", ClusterSort::Size),
        Some("growth") => ("growth", ClusterSort::Growth),
        _ => ("recent", ClusterSort::Recent),
    };
    let offset: usize = params
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let viewer = Viewer::new(&s.principal, &state.registry.keys);
    let stats = state.registry.live_index();
    let page = db(&state, move |conn| {
        incidex_registry::clusters::list_clusters(
            conn,
            &viewer,
            stats.as_deref().map(|s| s as &dyn DocFreqs),
            sort,
            PAGE_SIZE,
            offset,
        )
    })
    .await;
    let page = match page {
        Ok(p) => p,
        Err(e) => return s.finish(super::internal_error(chrome, &e)),
    };
    let url = |o: usize| {
        let mut p = Params::default();
        if sort_name != "recent" {
            p = p.with("sort", sort_name);
        }
        if o > 0 {
            p = p.with("offset", &o.to_string());
        }
        match p.query() {
            q if q.is_empty() => "/clusters".to_owned(),
            q => format!("/clusters?{q}"),
        }
    };
    let shown = page.items.len();
    let view = ClustersPage {
        chrome,
        sort: sort_name.to_owned(),
        total: page.total,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        prev_url: (offset > 0).then(|| url(offset.saturating_sub(PAGE_SIZE))),
        next_url: (offset + shown < page.total).then(|| url(offset + shown)),
        clusters: page
            .items
            .into_iter()
            .map(|c| ClusterRow {
                id: c.id,
                label: c.label,
                size: c.size,
                first_seen: day(c.first_seen),
                last_seen: day(c.last_seen),
                recent: c.growth.last_7_days,
            })
            .collect(),
    };
    s.finish(render(StatusCode::OK, &view))
}

async fn show(
    s: Session,
    state: &AppState,
    id: String,
    error: Option<String>,
    draft: String,
) -> HttpResponse {
    let chrome = Chrome::new("Cluster", "clusters", &s);
    let viewer = Viewer::new(&s.principal, &state.registry.keys);
    let stats = state.registry.live_index();
    let detail = db(state, move |conn| {
        incidex_registry::clusters::cluster_detail(
            conn,
            &viewer,
            stats.as_deref().map(|s| s as &dyn DocFreqs),
            &id,
            incidex_registry::clusters::MAX_MEMBER_PAGE,
            0,
        )
    })
    .await;
    let detail = match detail {
        Ok(d) => d,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return s.finish(message_page(
                StatusCode::NOT_FOUND,
                chrome,
                "Cluster not found",
                "There is no such cluster, or none of its reports is one you may read.",
            ));
        }
        Err(e) => return s.finish(super::internal_error(chrome, &e)),
    };
    let c = detail.cluster;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = ClusterPage {
        chrome: Chrome::new(c.label.clone(), "clusters", &s),
        id: c.id,
        label: c.label,
        top_terms: c.top_terms,
        size: c.size,
        first_seen: day(c.first_seen),
        last_seen: day(c.last_seen),
        recent: c.growth.last_7_days,
        members: detail
            .members
            .into_iter()
            .map(|m| {
                let mut tags = Vec::new();
                if let Some(d) = m.network_domain {
                    tags.push(label("domain", d.as_str()));
                }
                if let Some(r) = m.root_cause_category {
                    tags.push(label("root_cause_category", r.as_str()));
                }
                if let Some(t) = m.trigger {
                    tags.push(label("trigger", t.as_str()));
                }
                tags.extend(m.services.iter().map(|x| label("service", x.as_str())));
                MemberView {
                    id: m.id,
                    title: m.title,
                    published_on: m.published_on.map(day).unwrap_or_default(),
                    tags,
                }
            })
            .collect(),
        lessons: detail.lessons.into_iter().map(LessonView::from).collect(),
        csrf: s.csrf.clone(),
        error,
        draft,
    };
    s.finish(render(status, &view))
}

/// `GET /clusters/{id}`
pub async fn page(s: Session, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    show(s, &state, path.into_inner(), None, String::new()).await
}

/// `POST /clusters/{id}/lessons`: an analyst adds a curated lesson.
pub async fn add_lesson(
    s: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let fields: std::collections::HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !csrf_ok(
        &state,
        &req,
        &s.principal.subject,
        fields.get(CSRF_FIELD).map(String::as_str),
    ) {
        return super::csrf_refused();
    }
    let id = path.into_inner();
    let text = fields.get("text").cloned().unwrap_or_default();
    let viewer = Viewer::new(&s.principal, &state.registry.keys);
    let st = state.get_ref().clone();
    let cluster = id.clone();
    let input = NewCuratedLesson {
        text: text.clone(),
        category: None,
    };
    let added = db(&state, move |conn| {
        incidex_registry::lessons::add_curated(conn, &st.registry.members, &viewer, &cluster, input)
    })
    .await;
    match added {
        Ok(_) => s.finish(
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/clusters/{id}#lessons")))
                .finish(),
        ),
        Err(e) if e.code() == ErrorCode::NotFound => show(s, &state, id, None, text).await,
        Err(e) if e.code().status().is_client_error() => {
            show(s, &state, id, Some(e.problem().detail), text).await
        }
        Err(e) => s.finish(super::internal_error(
            Chrome::new("Cluster", "clusters", &s),
            &e,
        )),
    }
}
