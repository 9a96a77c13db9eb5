//! Filing and reading reports: the lifecycle draft -> published
//! (-> amended ...) -> withdrawn, owner-only changes, TLP-filtered reads.
//! Thin handlers over `incidex_registry::reports`: they parse the request,
//! call the registry and shape the answer.
//!
//! Anyone who is not the owner gets 404 for a report they may not read,
//! so the API never reveals that it exists.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use incidex_registry::receipts::{self, Receipt, ReceiptClaims};
use incidex_registry::reports::idempotency::request_hash;
use incidex_registry::reports::{
    Filing, IdempotencyScope, MAX_PAGE, Outcome, OwnedReport, Page, Preview, Publication,
    Published, Recorded, ReportPage, Revision, Work,
};
use incidex_registry::views::{OwnerReport, SharedReport};
use incidex_schema::report::{ReportInput, ReportPatch, ReportStatus, parse_report};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Reader, Reporter};
use crate::http::{ApiError, ApiResult, ErrorCode, IdempotencyKey, JsonBody, blocking};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// `true`: publish the report in the same request and transaction (the
    /// response carries the receipt), instead of creating a draft.
    #[serde(default)]
    pub publish: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: the caller's own reports (reporters), including drafts.
    #[serde(default)]
    pub mine: bool,
    /// With `mine=true`: only this status.
    pub status: Option<ReportStatus>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The status answering a recorded outcome.
pub fn status_of(outcome: Outcome) -> StatusCode {
    match outcome {
        Outcome::Created => StatusCode::CREATED,
        Outcome::Done => StatusCode::OK,
    }
}

fn respond(recorded: Recorded, with_location: bool) -> HttpResponse {
    let mut response = HttpResponse::build(status_of(recorded.outcome));
    if let Some(id) = recorded
        .body
        .get("id")
        .and_then(Value::as_str)
        .filter(|_| with_location)
    {
        response.insert_header((header::LOCATION, format!("/api/v1/reports/{id}")));
    }
    if recorded.replayed {
        response.insert_header(("idempotent-replayed", "true"));
    }
    response.json(recorded.body)
}

/// File a new report as a draft (or, with `publish=true`, file and publish
/// it at once). Its free text is anonymised before it is stored; the
/// response lists what was redacted.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    request_body(content = ReportInput, example = json!(incidex_schema::report::report_input_example())),
    params(
        CreateQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: a retry with the same key and body returns the first response"),
    ),
    responses(
        (status = 201, body = OwnedReport, headers(("location" = String))),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 413, response = crate::http::responses::PayloadTooLarge),
        (status = 415, response = crate::http::responses::UnsupportedMediaType),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/reports")]
pub async fn create(
    reporter: Reporter,
    state: web::Data<AppState>,
    key: IdempotencyKey,
    req: HttpRequest,
    query: web::Query<CreateQuery>,
    body: JsonBody<Value>,
) -> ApiResult<HttpResponse> {
    let and_publish = query.publish;
    let content = parse_report(body.value)?;
    let target = if and_publish {
        format!("{}?publish=true", req.path())
    } else {
        req.path().to_owned()
    };
    let reports = &state.registry.reports;
    let filing = Filing {
        owner: reports.owner_key(&reporter.operator_id),
        idempotency: key.0.map(|key| IdempotencyScope {
            scope: reports.idempotency_scope(&reporter.principal),
            key,
            request_hash: request_hash("POST", &target, &body.raw),
        }),
        operator_id: reporter.operator_id,
        content,
        publish: and_publish,
    };
    let recorded = reports.store(Work::from(filing)).await?;
    Ok(respond(recorded, true))
}

/// Read a report: the owner sees it whole (any status); other members and
/// analysts see the shared view of a published report their TLP allows.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "`OwnedReport` for the owner, `SharedReport` for others", body = ReportRead),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[get("/api/v1/reports/{id}")]
pub async fn read(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let registry = state.registry.clone();
    let view = blocking(move || registry.reports.read(&reader.0, &id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// List reports: with `mine=true` the caller's own (any status); otherwise
/// the published reports the caller's role may read, newest first.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "`Page` of `OwnerReport` (mine) or `SharedReport`", body = ReportList),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/reports")]
pub async fn list(
    reader: Reader,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    let offset = q.offset.unwrap_or(0);
    if !(1..=MAX_PAGE).contains(&limit) || offset < 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidParameter,
            "limit is 1-200 and offset non-negative",
        )
        .with_errors(vec![incidex_schema::validation::FieldError::new(
            if (1..=MAX_PAGE).contains(&limit) {
                "offset"
            } else {
                "limit"
            },
            "out_of_range",
            "limit is 1-200 and offset non-negative",
        )]));
    }
    let registry = state.registry.clone();
    let page = blocking(move || {
        let reports = &registry.reports;
        Ok(if q.mine {
            ReportPage::Owned(reports.list_mine(&reader.0, q.status, limit, offset)?)
        } else {
            ReportPage::Shared(reports.list_shared(reader.0.role, limit, offset)?)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Replace a report's content. A draft is edited; a published report is
/// amended (new revision). Only the owner may; others get 404.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = ReportInput, example = json!(incidex_schema::report::report_input_example())),
    responses(
        (status = 200, body = OwnedReport),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 409, response = crate::http::responses::Conflict),
        (status = 413, response = crate::http::responses::PayloadTooLarge),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[put("/api/v1/reports/{id}")]
pub async fn replace(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<Value>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let content = parse_report(body.value)?;
    let registry = state.registry.clone();
    let out = blocking(move || registry.reports.replace(&reporter.principal, &id, content)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Change some fields of a report (JSON merge patch, RFC 7396): members
/// set to `null` are removed, lists are replaced whole. Same rules as PUT.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = ReportPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = OwnedReport),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 409, response = crate::http::responses::Conflict),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[patch("/api/v1/reports/{id}")]
pub async fn edit(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonBody<Value>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let patch = body.value;
    let registry = state.registry.clone();
    let out = blocking(move || registry.reports.patch(&reporter.principal, &id, &patch)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Publish a draft: other members can read it from now on (TLP allowing).
/// The response carries a signed receipt.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(
        ("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe publication"),
    ),
    responses(
        (status = 200, body = Published),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 409, response = crate::http::responses::Conflict),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/reports/{id}/publish")]
pub async fn publish(
    reporter: Reporter,
    state: web::Data<AppState>,
    key: IdempotencyKey,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let reports = &state.registry.reports;
    let publication = Publication {
        id: path.into_inner(),
        owner: reports.owner_key(&reporter.operator_id),
        idempotency: key.0.map(|key| IdempotencyScope {
            scope: reports.idempotency_scope(&reporter.principal),
            key,
            request_hash: request_hash("POST", req.path(), b""),
        }),
    };
    let recorded = reports.store(Work::Publish(publication)).await?;
    Ok(respond(recorded, false))
}

/// Withdraw a report: nobody but the owner can read it any more.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = OwnerReport),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 409, response = crate::http::responses::Conflict),
    )
)]
#[post("/api/v1/reports/{id}/withdraw")]
pub async fn withdraw(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let registry = state.registry.clone();
    let out = blocking(move || registry.reports.withdraw(&reporter.principal, &id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Every revision of the caller's report, oldest first.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = RevisionList),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[get("/api/v1/reports/{id}/revisions")]
pub async fn revisions(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let registry = state.registry.clone();
    let items = blocking(move || registry.reports.revisions(&reporter.principal, &id)).await?;
    Ok(HttpResponse::Ok().json(RevisionList { items }))
}

/// Every revision of a report, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionList {
    pub items: Vec<Revision>,
}

/// A report as a reader sees it: the owner's whole report, or the shared
/// view of a published one (documentation only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ReportRead {
    Owned(Box<OwnedReport>),
    Shared(Box<SharedReport>),
}

/// A page of reports: the caller's own (`mine=true`) or the shared views
/// of published ones (documentation only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ReportList {
    Owned(Page<OwnerReport>),
    Shared(Page<SharedReport>),
}

/// Exactly what other members will see of this report once published,
/// with what anonymisation redacted. Owner only.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Preview),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[post("/api/v1/reports/{id}/preview")]
pub async fn preview(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let registry = state.registry.clone();
    let out = blocking(move || registry.reports.preview(&reporter.principal, &id)).await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub receipt: Receipt,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    pub valid: bool,
    /// Why not, when `valid` is false.
    pub reason: Option<String>,
    pub claims: Option<ReceiptClaims>,
}

/// Check a publication receipt's signature (no authentication needed).
#[utoipa::path(
    tag = "reports",
    request_body = VerifyRequest,
    responses(
        (status = 200, body = VerifyResponse),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/receipts/verify")]
pub async fn verify_receipt(
    state: web::Data<AppState>,
    body: JsonBody<VerifyRequest>,
) -> HttpResponse {
    let out = match receipts::verify(&state.registry.keys, &body.value.receipt) {
        Ok(claims) => VerifyResponse {
            valid: true,
            reason: None,
            claims: Some(claims),
        },
        Err(problem) => VerifyResponse {
            valid: false,
            reason: Some(problem.to_string()),
            claims: None,
        },
    };
    HttpResponse::Ok().json(out)
}
