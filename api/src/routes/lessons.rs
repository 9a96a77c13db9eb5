//! Lessons learned: full-text query with filters and facets over the
//! lessons the caller may see, and endorsements ("we applied this too").
//! See `incidex_registry::lessons` for the rules.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use incidex_registry::lessons::{LessonCategory, LessonSource};
use incidex_schema::report::{NetworkDomain, RootCauseCategory, Service, Trigger};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Reader;
use crate::http::ApiResult;
use crate::http::db;
use crate::state::AppState;
use incidex_registry::lessons::{Endorsement, LessonList, LessonQuery};
use incidex_registry::visibility::Viewer;

/// Query parameters of `GET /api/v1/lessons`. List filters take several
/// values, repeated (`service=voice&service=sms`) or comma-separated; a
/// lesson matches a list filter when it has any of the values, and all
/// filters at once. Report fields (service, domain, root cause, trigger)
/// are those of the lesson's report, so curated lessons match none of them.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct LessonParams {
    /// Words that must all appear (stemmed like search: `monitoring` finds
    /// `monitor`); "quoted phrases" must appear as written.
    #[param(max_length = 2000)]
    q: Option<String>,
    category: Option<Vec<LessonCategory>>,
    source: Option<Vec<LessonSource>>,
    service: Option<Vec<Service>>,
    /// Main or other network domain of the report.
    domain: Option<Vec<NetworkDomain>>,
    root_cause_category: Option<Vec<RootCauseCategory>>,
    trigger: Option<Vec<Trigger>>,
    /// Only lessons of this cluster (its members' and curated ones).
    cluster: Option<String>,
    /// `relevance` (default with `q`), `newest` (default without) or `endorsements`.
    #[param(inline)]
    sort: Option<LessonSortParam>,
    /// Default 20.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    #[param(minimum = 0)]
    offset: Option<usize>,
    /// Facet counts (default true).
    facets: Option<bool>,
}

/// The order of lessons.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LessonSortParam {
    Relevance,
    Newest,
    Endorsements,
}

/// Lessons the caller may see (those of reports they may read, and those
/// curated for clusters they may see), with facet counts over every match.
#[utoipa::path(
    tag = "lessons",
    security(("bearer" = [])),
    params(LessonParams),
    responses(
        (status = 200, body = LessonList),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/lessons")]
pub async fn list(
    reader: Reader,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    super::search::check_enumerated(req.query_string())?;
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
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 409, response = crate::http::responses::Conflict),
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
