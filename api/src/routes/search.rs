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

use incidex_schema::report::{
    Asset, NetworkDomain, OperatorType, Region, RootCauseCategory, Scope, Service, Severity, Tlp,
    Trigger,
};
use incidex_schema::validation::FieldError;

use crate::auth::Reader;
use crate::http::{ApiError, ApiResult, ErrorCode, JsonBody, blocking};
use crate::state::AppState;

/// Query parameters of `GET /api/v1/search`. List filters take several
/// values, repeated (`service=voice&service=sms`) or comma-separated; a
/// report matches a list filter when it has any of the values, and all
/// filters at once. An unknown parameter or value is refused (400).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Query: terms, "phrases", AND/OR/NOT, field prefixes (title:, summary:, body:, lessons:).
    #[param(max_length = 2000)]
    q: Option<String>,
    service: Option<Vec<Service>>,
    /// Main or other network domain.
    domain: Option<Vec<NetworkDomain>>,
    /// Main network domain only.
    network_domain: Option<Vec<NetworkDomain>>,
    asset: Option<Vec<Asset>>,
    root_cause_category: Option<Vec<RootCauseCategory>>,
    trigger: Option<Vec<Trigger>>,
    severity: Option<Vec<Severity>>,
    region: Option<Vec<Region>>,
    /// ISO 3166-1 alpha-2 (shown only where k-anonymous).
    country: Option<Vec<String>>,
    tlp: Option<Vec<Tlp>>,
    scope: Option<Vec<Scope>>,
    operator_type: Option<Vec<OperatorType>>,
    enisa_user_hours_1m: Option<bool>,
    fcc_900k_user_minutes: Option<bool>,
    emergency_service_affected: Option<bool>,
    /// Published on or after (YYYY-MM-DD, 1900 to 2199 like every date here).
    published_from: Option<NaiveDate>,
    published_to: Option<NaiveDate>,
    /// Started in or after this date's month (YYYY-MM-DD).
    started_from: Option<NaiveDate>,
    started_to: Option<NaiveDate>,
    /// Default `relevance`.
    #[param(inline)]
    sort: Option<SearchSort>,
    /// Default 20.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    #[param(minimum = 0)]
    offset: Option<usize>,
    /// Facet counts (default true).
    facets: Option<bool>,
}

/// The order of search results.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    Relevance,
    Newest,
    Oldest,
}

/// Refuses a value of an enumerated list filter that is not one of its
/// values (the documented enums), naming the parameter.
pub(crate) fn check_enumerated(query: &str) -> ApiResult<()> {
    fn known<T: std::str::FromStr>(v: &str) -> bool {
        v.parse::<T>().is_ok()
    }
    fn date_in_range(v: &str) -> bool {
        NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_or(true, |d| {
            (1900..=2199).contains(&chrono::Datelike::year(&d))
        })
    }
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if matches!(
            key.as_ref(),
            "published_from" | "published_to" | "started_from" | "started_to"
        ) && !date_in_range(&value)
        {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("{key}: a date from 1900-01-01 to 2199-12-31"),
            )
            .with_errors(vec![FieldError::new(
                key.as_ref(),
                "out_of_range",
                "a date from 1900-01-01 to 2199-12-31",
            )]));
        }
        let check: fn(&str) -> bool = match key.as_ref() {
            "service" => known::<Service>,
            "domain" | "network_domain" => known::<NetworkDomain>,
            "asset" => known::<Asset>,
            "root_cause_category" => known::<RootCauseCategory>,
            "trigger" => known::<Trigger>,
            "severity" => known::<Severity>,
            "region" => known::<Region>,
            "tlp" => known::<Tlp>,
            "scope" => known::<Scope>,
            "operator_type" => known::<OperatorType>,
            "category" => |v: &str| incidex_registry::lessons::LessonCategory::parse(v).is_some(),
            "source" => |v: &str| incidex_registry::lessons::LessonSource::parse(v).is_some(),
            _ => continue,
        };
        if let Some(bad) = value.split(',').map(str::trim).find(|v| !check(v)) {
            return Err(ApiError::new(
                ErrorCode::InvalidParameter,
                format!("{key}: unknown value `{bad}`"),
            )
            .with_errors(vec![FieldError::new(
                key.as_ref(),
                "invalid_value",
                format!("unknown value `{bad}`"),
            )]));
        }
    }
    Ok(())
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
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/search")]
pub async fn search(
    reader: Reader,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    check_enumerated(req.query_string())?;
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
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KParam {
    /// How many (default 5).
    #[param(minimum = 1, maximum = 50)]
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
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
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
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 413, response = crate::http::responses::PayloadTooLarge),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
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
