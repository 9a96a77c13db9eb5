//! Full-text search and similar incidents over the index. Every call is
//! limited to the TLP levels the reader may see, and the index holds only
//! the shared view of published reports.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDate;
use incidex_indexer::{
    FlagField, IndexError, KeywordField, QueryLimit, SearchRequest, SearchResults, SimilarHit,
    SimilarQuery, SortOrder,
};
use incidex_schema::db::reports;
use incidex_schema::report::{
    Asset, NetworkDomain, OperatorType, RootCauseCategory, Service, Trigger,
};
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Reader;
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::extract::JsonBody;
use crate::indexing::visible_tlps;
use crate::routes::reports::db;
use crate::state::AppState;

pub const MAX_K: usize = 50;
pub const MAX_SIMILAR_TEXT_CHARS: usize = 20_000;

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

fn keyword_field(name: &str) -> Option<KeywordField> {
    KeywordField::ALL.into_iter().find(|f| f.name() == name)
}

fn flag_field(name: &str) -> Option<FlagField> {
    FlagField::ALL.into_iter().find(|f| f.name() == name)
}

fn bad_param(field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::new(ErrorCode::InvalidParameter, format!("{field}: {message}"))
        .with_errors(vec![FieldError::new(field, "invalid_value", message)])
}

/// Parses the query string into a search request (repeated keys allowed).
pub fn parse_search(query: &str) -> ApiResult<SearchRequest> {
    let mut req = SearchRequest {
        limit: 20,
        ..SearchRequest::default()
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let key = key.as_ref();
        let value = value.trim();
        let date = |v: &str| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| bad_param(key, "a date YYYY-MM-DD"))
        };
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| bad_param(key, "a whole number"))
        };
        match key {
            "q" => req.query = value.to_owned(),
            "sort" => {
                req.sort = match value {
                    "" | "relevance" => SortOrder::Relevance,
                    "newest" => SortOrder::Newest,
                    "oldest" => SortOrder::Oldest,
                    _ => return Err(bad_param(key, "relevance, newest or oldest")),
                }
            }
            "limit" => req.limit = number(value)?,
            "offset" => req.offset = number(value)?,
            "facets" => req.facets = value.parse().map_err(|_| bad_param(key, "true or false"))?,
            "published_from" => {
                req.filters.published_from = Some(
                    date(value)?
                        .and_hms_opt(0, 0, 0)
                        .unwrap_or_default()
                        .and_utc(),
                )
            }
            "published_to" => {
                req.filters.published_to = Some(
                    date(value)?
                        .and_hms_opt(23, 59, 59)
                        .unwrap_or_default()
                        .and_utc(),
                )
            }
            "started_from" => req.filters.started_from = Some(date(value)?),
            "started_to" => req.filters.started_to = Some(date(value)?),
            _ => {
                if let Some(flag) = flag_field(key) {
                    let on = value.parse().map_err(|_| bad_param(key, "true or false"))?;
                    req.filters.flags.insert(flag, on);
                } else if let Some(field) = keyword_field(key) {
                    let values = req.filters.keywords.entry(field).or_default();
                    values.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|v| !v.is_empty())
                            .map(str::to_owned),
                    );
                } else {
                    return Err(bad_param(key, "unknown parameter"));
                }
            }
        }
    }
    if !(1..=200).contains(&req.limit) {
        return Err(bad_param("limit", "1 to 200"));
    }
    Ok(req)
}

/// A query refused before parsing; the field error names the limit.
pub fn query_too_complex(field: &str, limit: QueryLimit) -> ApiError {
    ApiError::new(
        ErrorCode::QueryTooComplex,
        format!("the query is too complex: {limit}"),
    )
    .with_errors(vec![FieldError::new(
        field,
        limit.name(),
        limit.to_string(),
    )])
}

pub fn index_error(e: IndexError) -> ApiError {
    match e {
        IndexError::InvalidQuery { message, position } => {
            let message = match position {
                Some(p) => format!("{message} (at character {p})"),
                None => message,
            };
            ApiError::new(
                ErrorCode::InvalidParameter,
                format!("the query is not valid: {message}"),
            )
            .with_errors(vec![FieldError::new("q", "invalid_query", message)])
        }
        IndexError::QueryTooComplex { limit } => query_too_complex("q", limit),
        IndexError::InvalidRequest(m) => ApiError::new(ErrorCode::InvalidParameter, m),
        IndexError::NotFound(_) => ApiError::not_found(),
        other => ApiError::internal(other),
    }
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

/// Runs a search for `reader`; shared with the web UI.
pub async fn run_search(
    state: &AppState,
    role: incidex_schema::identity::Role,
    req: SearchRequest,
) -> ApiResult<SearchResults> {
    let index = state.index()?.handle.current();
    let visible = visible_tlps(role);
    web::block(move || index.search(&req, &visible))
        .await?
        .map_err(index_error)
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
    let results = run_search(&state, reader.0.role, request).await?;
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

/// A similar incident and why it matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarItem {
    pub id: String,
    pub title: String,
    /// 0 to 1.
    pub score: f32,
    pub text_score: f32,
    pub field_score: f32,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarResponse {
    pub items: Vec<SimilarItem>,
}

fn similar_response(hits: Vec<SimilarHit>) -> SimilarResponse {
    SimilarResponse {
        items: hits
            .into_iter()
            .map(|h| SimilarItem {
                id: h.id,
                title: h.title,
                score: h.score,
                text_score: h.text_score,
                field_score: h.field_score,
                reasons: h.reasons,
            })
            .collect(),
    }
}

fn check_k(k: Option<usize>) -> ApiResult<usize> {
    let k = k.unwrap_or(5);
    if (1..=MAX_K).contains(&k) {
        Ok(k)
    } else {
        Err(bad_param("k", format!("1 to {MAX_K}")))
    }
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
    let k = check_k(query.k)?;
    let id = path.into_inner();
    let index = state.index()?.handle.current();
    let visible = visible_tlps(reader.0.role);
    let owner = reader
        .0
        .operator_id
        .as_deref()
        .map(|op| crate::filing::owner_key(&state.keys, op));
    let hits = db(&state, move |conn| {
        let row = reports::find_report(conn, &id)?.ok_or_else(ApiError::not_found)?;
        if owner.as_deref() == Some(row.owner_key.as_str()) {
            // The owner's own report, whatever its status: probe with its content.
            let content = crate::views::content_of(&row)?;
            let doc = crate::indexing::index_doc(&row, &content, 0, usize::MAX);
            let probe = SimilarQuery::from_doc(&doc);
            let mut hits = index
                .similar_to_text(&probe, k + 1, &visible)
                .map_err(index_error)?;
            hits.retain(|h| h.id != row.id);
            hits.truncate(k);
            return Ok(hits);
        }
        if !crate::views::may_read_shared(&reader.0, &row) {
            return Err(ApiError::not_found());
        }
        index.similar_to(&id, k, &visible).map_err(index_error)
    })
    .await?;
    Ok(HttpResponse::Ok().json(similar_response(hits)))
}

/// "Has anyone seen this?": free text plus optional structured fields.
/// Nothing sent here is stored or logged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "We plan to run bulk reconnection commands on all call servers during a modernisation; what went wrong for others?", "assets": ["call_server"], "trigger": "routine_commands", "k": 5}))]
pub struct SimilarRequest {
    pub text: String,
    #[serde(default)]
    pub services: Vec<Service>,
    pub network_domain: Option<NetworkDomain>,
    #[serde(default)]
    pub other_domains: Vec<NetworkDomain>,
    #[serde(default)]
    pub assets: Vec<Asset>,
    pub trigger: Option<Trigger>,
    pub root_cause_category: Option<RootCauseCategory>,
    pub operator_type: Option<OperatorType>,
    pub k: Option<usize>,
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
    let r = body.value;
    let k = check_k(r.k)?;
    if r.text.trim().is_empty()
        && r.assets.is_empty()
        && r.services.is_empty()
        && r.trigger.is_none()
    {
        return Err(ApiError::validation(vec![FieldError::new(
            "text",
            "blank",
            "give some text or structured fields",
        )]));
    }
    if r.text.chars().count() > MAX_SIMILAR_TEXT_CHARS {
        return Err(ApiError::validation(vec![FieldError::new(
            "text",
            "too_long",
            format!("at most {MAX_SIMILAR_TEXT_CHARS} characters"),
        )]));
    }
    let probe = SimilarQuery {
        text: r.text,
        services: r.services.iter().map(|s| s.as_str().to_owned()).collect(),
        network_domain: r.network_domain.map(|d| d.as_str().to_owned()),
        other_domains: r
            .other_domains
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect(),
        assets: r.assets.iter().map(|a| a.as_str().to_owned()).collect(),
        trigger: r.trigger.map(|t| t.as_str().to_owned()),
        root_cause_category: r.root_cause_category.map(|c| c.as_str().to_owned()),
        operator_type: r.operator_type.map(|o| o.as_str().to_owned()),
        // The description is compared with the candidates' summaries too.
        summary: None,
    };
    let index = state.index()?.handle.current();
    let visible = visible_tlps(reader.0.role);
    let hits = web::block(move || index.similar_to_text(&probe, k, &visible))
        .await?
        .map_err(index_error)?;
    Ok(HttpResponse::Ok().json(similar_response(hits)))
}
