//! Clusters of similar incidents, as each reader may see them, and the
//! lessons analysts curate for them. Everything shown is computed from the
//! members the caller may read (see `incidex_registry::clusters`); a cluster with
//! none is 404.

use actix_web::{HttpResponse, get, post, web};
use incidex_indexer::DocFreqs;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Analyst, Reader};
use crate::http::JsonBody;
use crate::http::db;
use crate::http::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use incidex_registry::clusters::{ClusterDetail, ClusterPage, ClusterSort, MAX_MEMBER_PAGE};
use incidex_registry::lessons::{CuratedLesson, NewCuratedLesson};
use incidex_registry::visibility::Viewer;

pub const MAX_CLUSTER_PAGE: usize = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClusterListQuery {
    /// `recent` (latest visible member first, default), `size` or `growth`.
    pub sort: Option<ClusterSort>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// Clusters to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<usize>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClusterReadQuery {
    /// Members listed, 1 to 200 (default 50); `members_total` says how many.
    #[param(minimum = 1, maximum = 200)]
    pub members_limit: Option<i64>,
    /// Members to skip (default 0).
    #[param(minimum = 0)]
    pub members_offset: Option<i64>,
}

/// The clusters the caller may see: size, label, first and last seen and
/// growth, all computed from the members the caller may read.
#[utoipa::path(
    tag = "clusters",
    security(("bearer" = [])),
    params(ClusterListQuery),
    responses(
        (status = 200, body = ClusterPage),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/clusters")]
pub async fn list(
    reader: Reader,
    state: web::Data<AppState>,
    query: web::Query<ClusterListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_CLUSTER_PAGE).contains(&limit) {
        return Err(
            ApiError::new(ErrorCode::InvalidParameter, "limit is 1 to 200").with_errors(vec![
                incidex_schema::validation::FieldError::new("limit", "out_of_range", "1 to 200"),
            ]),
        );
    }
    let viewer = Viewer::new(&reader.0, &state.registry.keys);
    let stats = state.registry.live_index();
    let page = db(&state, move |conn| {
        incidex_registry::clusters::list_clusters(
            conn,
            &viewer,
            stats.as_deref().map(|s| s as &dyn DocFreqs),
            q.sort.unwrap_or_default(),
            limit,
            q.offset.unwrap_or(0),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One cluster: its visible members (shared view fields) and their
/// lessons, with the lessons analysts curated for it.
#[utoipa::path(
    tag = "clusters",
    security(("bearer" = [])),
    params(("id" = String, Path), ClusterReadQuery),
    responses(
        (status = 200, body = ClusterDetail),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[get("/api/v1/clusters/{id}")]
pub async fn read(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ClusterReadQuery>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let limit = query.members_limit.unwrap_or(50);
    let offset = query.members_offset.unwrap_or(0);
    if !(1..=MAX_MEMBER_PAGE).contains(&limit) || offset < 0 {
        let field = if offset < 0 {
            "members_offset"
        } else {
            "members_limit"
        };
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            format!("{field} is out of range"),
        )
        .with_errors(vec![incidex_schema::validation::FieldError::new(
            field,
            "out_of_range",
            "members_limit is 1 to 200 and members_offset at least 0",
        )]));
    }
    let viewer = Viewer::new(&reader.0, &state.registry.keys);
    let stats = state.registry.live_index();
    let detail = db(&state, move |conn| {
        incidex_registry::clusters::cluster_detail(
            conn,
            &viewer,
            stats.as_deref().map(|s| s as &dyn DocFreqs),
            &id,
            limit,
            offset,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Add a curated lesson to a cluster (analysts). The text is anonymised
/// like report text before it is stored; the category is derived from the
/// text when not given.
#[utoipa::path(
    tag = "clusters",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = NewCuratedLesson,
    responses(
        (status = 201, body = CuratedLesson),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 413, response = crate::http::responses::PayloadTooLarge),
        (status = 415, response = crate::http::responses::UnsupportedMediaType),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/clusters/{id}/lessons")]
pub async fn add_lesson(
    analyst: Analyst,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<NewCuratedLesson>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let viewer = Viewer::new(&analyst.0, &state.registry.keys);
    let st = state.clone();
    let input = body.value;
    let created = db(&state, move |conn| {
        incidex_registry::lessons::add_curated(conn, &st.registry.members, &viewer, &id, input)
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}
