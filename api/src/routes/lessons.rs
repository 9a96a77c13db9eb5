//! Lessons learned: full-text query with filters and facets over the
//! lessons the caller may see, and endorsements ("we applied this too").
//! See `incidex_registry::lessons` for the rules.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Reader;
use crate::http::db;
use crate::http::{ApiResult, Problem};
use crate::state::AppState;
use incidex_registry::lessons::{Endorsement, LessonList, LessonQuery};
use incidex_registry::visibility::Viewer;

/// Query parameters of `GET /api/v1/lessons`. List filters take several
/// values, repeated (`service=voice&service=sms`) or comma-separated; a
/// lesson matches a list filter when it has any of the values, and all
/// filters at once. Report fields (service, domain, root cause, trigger)
/// are those of the lesson's report, so curated lessons match none of them.
#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)]
pub struct LessonParams {
    /// Words that must all appear (stemmed like search: `monitoring` finds
    /// `monitor`); "quoted phrases" must appear as written.
    q: Option<String>,
    /// change_management, monitoring, redundancy, incident_response,
    /// capacity, supplier, security, facilities, other.
    category: Option<String>,
    /// `report` or `curated`.
    source: Option<String>,
    service: Option<String>,
    /// Main or other network domain of the report.
    domain: Option<String>,
    root_cause_category: Option<String>,
    trigger: Option<String>,
    /// Only lessons of this cluster (its members' and curated ones).
    cluster: Option<String>,
    /// `relevance` (default with `q`), `newest` (default without) or `endorsements`.
    sort: Option<String>,
    /// 1 to 200, default 20.
    limit: Option<usize>,
    offset: Option<usize>,
    /// Facet counts (default true).
    facets: Option<bool>,
}

/// Lessons the caller may see (those of reports they may read, and those
/// curated for clusters they may see), with facet counts over every match.
#[utoipa::path(
    tag = "lessons",
    security(("bearer" = [])),
    params(LessonParams),
    responses(
        (status = 200, body = LessonList),
        (status = 400, description = "unknown parameter or value, unclosed quote (see `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not a reporter or analyst", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/lessons")]
pub async fn list(
    reader: Reader,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let query = LessonQuery::parse(req.query_string())?;
    let viewer = Viewer::new(&reader.0, &state.registry.keys);
    let out = db(&state, move |conn| {
        incidex_registry::lessons::list_lessons(conn, &viewer, &query)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Endorse a lesson: "we applied this too". Counted once per member (an
/// analyst counts as one person; repeating it changes nothing) and never
/// attributed.
#[utoipa::path(
    tag = "lessons",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Endorsement),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not a reporter or analyst", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such lesson, or not one the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "a lesson of the caller's own report", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/lessons/{id}/endorse")]
pub async fn endorse(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let viewer = Viewer::new(&reader.0, &state.registry.keys);
    let out = db(&state, move |conn| {
        incidex_registry::lessons::endorse(conn, &viewer, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}
