//! Full-text search and similar incidents over the index: thin handlers
//! over `incidex_registry::search`. Every call is limited to the TLP levels
//! the reader may see, and the index holds only the shared view of
//! published reports.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDate;
use incidex_registry::search::{SimilarRequest, SimilarResponse, parse_search};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Reader;
use crate::http::{ApiResult, JsonBody, Problem, blocking};
use crate::state::AppState;

/// Query parameters of `GET /api/v1/search`. List filters take several
/// values, repeated (`service=voice&service=sms`) or comma-separated; a
/// report matches a list filter when it has any of the values, and all
/// filters at once.
#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Query: terms, "phrases", AND/OR/NOT, field prefixes (title:, summary:, body:, lessons:).
    q: Option<String>,
    service: Option<String>,
    /// Main or other network domain.
    domain: Option<String>,
    /// Main network domain only.
    network_domain: Option<String>,
    asset: Option<String>,
    root_cause_category: Option<String>,
    trigger: Option<String>,
    severity: Option<String>,
    region: Option<String>,
    country: Option<String>,
    tlp: Option<String>,
    scope: Option<String>,
    operator_type: Option<String>,
    enisa_user_hours_1m: Option<bool>,
    fcc_900k_user_minutes: Option<bool>,
    emergency_service_affected: Option<bool>,
    /// Published on or after (YYYY-MM-DD).
    published_from: Option<NaiveDate>,
    published_to: Option<NaiveDate>,
    /// Started in or after this date's month (YYYY-MM-DD).
    started_from: Option<NaiveDate>,
    started_to: Option<NaiveDate>,
    /// `relevance` (default), `newest` or `oldest`.
    sort: Option<String>,
    /// 1 to 200, default 20.
    limit: Option<usize>,
    offset: Option<usize>,
    /// Facet counts (default true).
    facets: Option<bool>,
}

/// Search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub total: u64,
    pub hits: Vec<SearchHit>,
    /// Field -> value -> count, over every match (not just this page).
    #[schema(value_type = Object)]
    pub facets: BTreeMap<String, BTreeMap<String, u64>>,
    pub next_offset: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    /// HTML-escaped text with matches in `<mark>`.
    pub snippet: String,
    /// Relevance; null when sorted by date.
    pub score: Option<f32>,
    pub published_on: NaiveDate,
    pub tlp: String,
    pub severity: Option<String>,
    pub network_domain: Option<String>,
    pub trigger: Option<String>,
    pub root_cause_category: Option<String>,
    pub services: Vec<String>,
    pub region: Option<String>,
}

fn hit(h: incidex_indexer::Hit) -> SearchHit {
    SearchHit {
        id: h.id,
        title: h.title,
        snippet: h.snippet,
        score: h.score,
        published_on: h.published_at.date_naive(),
        tlp: h.tlp.as_str().to_owned(),
        severity: h.severity,
        network_domain: h.network_domain,
        trigger: h.trigger,
        root_cause_category: h.root_cause_category,
        services: h.services,
        region: h.region,
    }
}

/// Full-text search over the published reports the caller may read.
#[utoipa::path(
    tag = "search",
    security(("bearer" = [])),
    params(SearchParams),
    responses(
        (status = 200, body = SearchResponse),
        (status = 400, description = "malformed query or parameter (see `errors`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/search")]
pub async fn search(
    reader: Reader,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let request = parse_search(req.query_string())?;
    let registry = state.registry.clone();
    let role = reader.0.role;
    let results = blocking(move || registry.search.search(role, &request)).await?;
    Ok(HttpResponse::Ok().json(SearchResponse {
        total: results.total,
        hits: results.hits.into_iter().map(hit).collect(),
        facets: results.facets,
        next_offset: results.next_offset,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KParam {
    /// How many (1 to 50, default 5).
    pub k: Option<usize>,
}

/// The incidents most similar to a report: one the caller may read, or
/// the caller's own (even a draft).
#[utoipa::path(
    tag = "search",
    security(("bearer" = [])),
    params(("id" = String, Path), KParam),
    responses(
        (status = 200, body = SimilarResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/reports/{id}/similar")]
pub async fn similar_to_report(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<KParam>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let k = query.k;
    let registry = state.registry.clone();
    let out = blocking(move || registry.search.similar_to_report(&reader.0, &id, k)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Incidents similar to a description, without filing anything.
#[utoipa::path(
    tag = "search",
    security(("bearer" = [])),
    request_body = SimilarRequest,
    responses(
        (status = 200, body = SimilarResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/similar")]
pub async fn similar_to_text(
    reader: Reader,
    state: web::Data<AppState>,
    body: JsonBody<SimilarRequest>,
) -> ApiResult<HttpResponse> {
    let registry = state.registry.clone();
    let role = reader.0.role;
    let out = blocking(move || registry.search.similar_to_text(role, body.value)).await?;
    Ok(HttpResponse::Ok().json(out))
}
