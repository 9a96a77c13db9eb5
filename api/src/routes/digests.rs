//! Digests: the list, one digest in any format, and the Atom feed. A
//! reader sees the digests of their audience only (reporters: `members`,
//! TLP clear and green; analysts: `analysts`, clear, green and amber); any
//! other digest is 404, so its existence is not revealed. See
//! `incidex_registry::digests` and `docs/digests.md`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use incidex_schema::db::digests::{self as store, DigestListing};
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Principal, Reader};
use crate::http::digest::{negotiate_format, respond_digest};
use crate::http::{ApiError, ApiResult, ErrorCode, db};
use crate::state::AppState;
use incidex_registry::digests::render::Format;
use incidex_registry::digests::{Audience, Digest, DigestKind, PeriodInfo, feed, stored_digest};

pub const MAX_DIGEST_PAGE: i64 = 200;

fn audience_of(principal: &Principal) -> ApiResult<Audience> {
    Audience::of_role(principal.role).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Forbidden,
            "this needs the reporter or analyst role",
        )
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DigestListQuery {
    /// Only digests of this kind.
    pub kind: Option<DigestKind>,
    /// Page size (default 20).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Digests to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Where a digest is served in each format.
#[derive(Debug, Serialize, ToSchema)]
pub struct DigestLinks {
    #[schema(example = "/api/v1/digests/weekly-2026-W40-members?format=json")]
    pub json: String,
    pub csv: String,
    pub md: String,
    pub html: String,
}

impl DigestLinks {
    fn of(id: &str) -> DigestLinks {
        let link = |f: Format| format!("/api/v1/digests/{id}?format={}", f.as_str());
        DigestLinks {
            json: link(Format::Json),
            csv: link(Format::Csv),
            md: link(Format::Markdown),
            html: link(Format::Html),
        }
    }
}

/// A digest in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DigestSummary {
    #[schema(example = "weekly-2026-W40-members")]
    pub id: String,
    pub kind: DigestKind,
    pub audience: Audience,
    pub period: PeriodInfo,
    pub generated_at: Option<DateTime<Utc>>,
    /// Incidents published or amended in the period.
    pub incidents: i64,
    pub links: DigestLinks,
}

impl DigestSummary {
    fn from_listing(l: DigestListing) -> Option<DigestSummary> {
        let kind: DigestKind = l.kind.parse().ok()?;
        let period = incidex_registry::digests::Period::containing(kind, l.period_start);
        Some(DigestSummary {
            links: DigestLinks::of(&l.id),
            kind,
            audience: Audience::parse(&l.audience)?,
            period: PeriodInfo::of(&period),
            generated_at: l.completed_at.map(|t| t.and_utc()),
            incidents: i64::from(l.incidents.unwrap_or(0)),
            id: l.id,
        })
    }
}

/// A page of digests.
#[derive(Debug, Serialize, ToSchema)]
pub struct DigestList {
    pub items: Vec<DigestSummary>,
    /// Digests of the caller's audience (and kind, when filtered).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub next_offset: Option<i64>,
}

fn out_of_range(field: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameter, format!("{field}: {message}"))
        .with_errors(vec![FieldError::new(field, "out_of_range", message)])
}

/// The digests the caller's audience receives, latest period first: for a
/// reporter the `members` digests (TLP clear and green), for an analyst the
/// `analysts` digests (also amber). Red material is never in a digest.
#[utoipa::path(
    tag = "digests",
    security(("bearer" = [])),
    params(DigestListQuery),
    responses(
        (status = 200, body = DigestList),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/digests")]
pub async fn list(
    reader: Reader,
    state: web::Data<AppState>,
    query: web::Query<DigestListQuery>,
) -> ApiResult<HttpResponse> {
    let audience = audience_of(&reader.0)?;
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(20);
    let offset = q.offset.unwrap_or(0);
    if !(1..=MAX_DIGEST_PAGE).contains(&limit) {
        return Err(out_of_range("limit", "1 to 200"));
    }
    if offset < 0 {
        return Err(out_of_range("offset", "0 or more"));
    }
    let kind = q.kind;
    let (rows, total) = db(&state, move |conn| -> ApiResult<_> {
        Ok(store::list_done(
            conn,
            audience.as_str(),
            kind.map(DigestKind::as_str),
            limit,
            offset,
        )?)
    })
    .await?;
    let items: Vec<DigestSummary> = rows
        .into_iter()
        .filter_map(DigestSummary::from_listing)
        .collect();
    let end = offset + items.len() as i64;
    Ok(HttpResponse::Ok().json(DigestList {
        next_offset: (end < total).then_some(end),
        items,
        total,
        limit,
        offset,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DigestFormatQuery {
    /// `json`, `csv`, `md` or `html`; when given it decides over `Accept`.
    #[param(value_type = Option<DigestFormatParam>, inline)]
    pub format: Option<String>,
}

/// One digest, in the format asked for with `format` or negotiated from
/// `Accept`. The JSON form is the `Digest` schema; CSV has one row per
/// incident; HTML is one self-contained, printable page.
#[utoipa::path(
    tag = "digests",
    security(("bearer" = [])),
    params(("id" = String, Path, example = "weekly-2026-W40-members"), DigestFormatQuery),
    responses(
        (status = 200, description = "the digest in the negotiated format", content(
            (Digest = "application/json"),
            (String = "text/csv"),
            (String = "text/markdown"),
            (String = "text/html"),
        )),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 406, response = crate::http::responses::NotAcceptable),
    )
)]
#[get("/api/v1/digests/{id}")]
pub async fn read(
    reader: Reader,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DigestFormatQuery>,
) -> ApiResult<HttpResponse> {
    let audience = audience_of(&reader.0)?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = negotiate_format(accept, query.format.as_deref())?;
    let id = path.into_inner();
    let digest = db(&state, move |conn| stored_digest(conn, &id, audience)).await?;
    respond_digest(&digest, format)
}

/// The formats of a digest.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum DigestFormatParam {
    Json,
    Csv,
    Md,
    Html,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only digests of this kind.
    pub kind: Option<DigestKind>,
}

/// The Atom feed of the caller's audience's digests (the latest 50), each
/// entry linking to the digest in every format.
#[utoipa::path(
    tag = "digests",
    security(("bearer" = [])),
    params(FeedQuery),
    responses(
        (status = 200, description = "an Atom feed (RFC 4287)", body = String, content_type = "application/atom+xml"),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/digests/feed.atom")]
pub async fn atom(
    reader: Reader,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FeedQuery>,
) -> ApiResult<HttpResponse> {
    let audience = audience_of(&reader.0)?;
    let kind = query.kind;
    let rows = db(&state, move |conn| -> ApiResult<_> {
        Ok(store::latest_done(
            conn,
            audience.as_str(),
            kind.map(DigestKind::as_str),
            feed::FEED_ENTRIES,
        )?)
    })
    .await?;
    let digests = rows
        .iter()
        .filter_map(|r| r.content.as_deref())
        .map(serde_json::from_str::<Digest>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let info = req.connection_info();
    let base = format!("{}://{}", info.scheme(), info.host());
    let self_href = match kind {
        Some(k) => format!("{base}/api/v1/digests/feed.atom?kind={}", k.as_str()),
        None => format!("{base}/api/v1/digests/feed.atom"),
    };
    let body = feed::feed(&digests, audience, kind, &self_href, |d, f| {
        format!("{base}/api/v1/digests/{}?format={}", d.id, f.as_str())
    });
    Ok(HttpResponse::Ok()
        .content_type("application/atom+xml; charset=utf-8")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}
