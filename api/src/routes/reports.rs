//! Filing and reading reports: the lifecycle draft -> published
//! (-> amended ...) -> withdrawn, owner-only changes, TLP-filtered reads.
//!
//! Anyone who is not the owner gets 404 for a report they may not read,
//! so the API never reveals that it exists.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use incidex_schema::db::changes::ChangeKind;
use incidex_schema::db::reports::{self, ReportRow, now};
use incidex_schema::db::{DbConnection, StorageError};
use incidex_schema::report::{
    ReportContent, ReportInput, ReportPatch, ReportStatus, apply_patch, parse_report,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Reader, Reporter};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::extract::JsonBody;
use crate::filing_queue::{Filing, IdempotencyScope, Publication, Work};
use crate::idempotency::{self, IdempotencyKey, Recorded};
use crate::intake::anonymise_report;
use crate::receipts::{self, Receipt, ReceiptClaims};
use crate::state::AppState;
use crate::views::{OwnerReport, SharedReport, StoredRedaction, may_read_shared, readable_tlps};

pub const MAX_PAGE: i64 = 200;

/// A report as its owner sees it, with the redactions of this revision.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnedReport {
    #[serde(flatten)]
    pub report: OwnerReport,
    /// What anonymisation replaced in this revision (never the original text).
    pub redactions: Vec<StoredRedaction>,
    /// The signed receipt, when the report was filed with `publish=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// Publication result: the report and the signed receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    pub report: OwnerReport,
    pub receipt: Receipt,
}

/// What the owner will share, before publishing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// Exactly what other members will see once published.
    pub shared: SharedReport,
    pub redactions: Vec<StoredRedaction>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revision {
    pub revision: i32,
    pub status: ReportStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = ReportInput)]
    pub report: ReportContent,
    pub redactions: Vec<StoredRedaction>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// `true`: publish the report in the same request and transaction (the
    /// response carries the receipt), instead of creating a draft.
    #[serde(default)]
    pub publish: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: the caller's own reports (reporters), including drafts.
    #[serde(default)]
    pub mine: bool,
    /// With `mine=true`: only this status.
    pub status: Option<ReportStatus>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    pub offset: Option<i64>,
}

/// Runs `f` with a pooled connection on the blocking pool.
pub async fn db<T, F>(state: &AppState, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> ApiResult<T> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get().map_err(StorageError::from)?;
        let result = f(&mut conn);
        if result
            .as_ref()
            .is_err_and(|e| e.code().status().is_server_error())
        {
            // A dead connection is not handed to the next request.
            incidex_schema::db::discard_if_lost(&mut conn);
        }
        result
    })
    .await?
}

/// Stores a filing or publication with whatever else is being filed at the
/// same time (group commit); on its own only when the queue is full.
async fn store(state: &AppState, work: Work) -> ApiResult<Recorded> {
    match state.filings.submit(work) {
        Ok(answer) => answer.await.map_err(|_| {
            ApiError::new(
                ErrorCode::ServiceUnavailable,
                "the service is shutting down",
            )
        })?,
        Err(work) => {
            let ctx = state.filing_context();
            db(state, move |conn| {
                crate::filing_queue::store_one(&ctx, conn, *work)
            })
            .await
        }
    }
}

fn owner_key(state: &AppState, operator_id: &str) -> String {
    crate::filing::owner_key(&state.keys, operator_id)
}

pub(crate) fn redactions_json(redactions: &[StoredRedaction]) -> String {
    serde_json::to_string(redactions).unwrap_or_else(|_| "[]".into())
}

fn stored_redactions(conn: &mut DbConnection, row: &ReportRow) -> ApiResult<Vec<StoredRedaction>> {
    let json =
        reports::latest_redactions(conn, &row.id, row.revision)?.unwrap_or_else(|| "[]".into());
    serde_json::from_str(&json).map_err(ApiError::internal)
}

/// The caller's own report, or 404.
fn owned(conn: &mut DbConnection, id: &str, owner: &str) -> ApiResult<ReportRow> {
    reports::find_report(conn, id)?
        .filter(|r| r.owner_key == owner)
        .ok_or_else(ApiError::not_found)
}

fn to_json<T: Serialize>(value: &T) -> ApiResult<Value> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

fn respond(recorded: Recorded, with_location: bool) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(recorded.status)
        .unwrap_or(actix_web::http::StatusCode::OK);
    let mut response = HttpResponse::build(status);
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
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not a reporter", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields, or the Idempotency-Key was used for a different request", body = Problem, content_type = "application/problem+json"),
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
    let filing = Filing {
        owner: owner_key(&state, &reporter.operator_id),
        operator_id: reporter.operator_id,
        content,
        publish: and_publish,
        idempotency: key.0.map(|key| IdempotencyScope {
            scope: state.keys.opaque_key("idem", &reporter.principal.subject),
            key,
            request_hash: idempotency::request_hash("POST", &target, &body.raw),
        }),
    };
    let recorded = store(&state, Work::from(filing)).await?;
    if and_publish {
        state.reports_changed();
    }
    Ok(respond(recorded, true))
}

/// Read a report: the owner sees it whole (any status); other members and
/// analysts see the shared view of a published report their TLP allows.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "`OwnedReport` for the owner, `SharedReport` for others", body = SharedReport),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "admins do not read reports", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such report, or not one the caller may read", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/reports/{id}")]
pub async fn read(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let owner = reader
        .0
        .operator_id
        .as_deref()
        .map(|op| owner_key(&state, op));
    let st = state.clone();
    let body = db(&state, move |conn| {
        let row = reports::find_report(conn, &id)?.ok_or_else(ApiError::not_found)?;
        if owner.as_deref() == Some(row.owner_key.as_str()) {
            let redactions = stored_redactions(conn, &row)?;
            return to_json(&OwnedReport {
                report: OwnerReport::from_row(&row)?,
                redactions,
                receipt: None,
            });
        }
        if !may_read_shared(&reader.0, &row) {
            return Err(ApiError::not_found());
        }
        let counts = st.members.country_counts(conn)?;
        to_json(&shared_view(&row, &counts, st.settings.k_anonymity)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

pub(crate) fn shared_view(
    row: &ReportRow,
    counts: &std::collections::HashMap<String, usize>,
    k: usize,
) -> ApiResult<SharedReport> {
    let content = crate::views::content_of(row)?;
    let members = content
        .context()
        .country
        .as_ref()
        .and_then(|c| counts.get(c.as_str()).copied())
        .unwrap_or(0);
    SharedReport::from_row(row, members, k)
}

/// List reports: with `mine=true` the caller's own (any status); otherwise
/// the published reports the caller's role may read, newest first.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "`Page` of `OwnerReport` (mine) or `SharedReport`", body = Page<SharedReport>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
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
    let st = state.clone();
    let body = if q.mine {
        let operator = reader.0.operator_id.clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Forbidden,
                "only reporters have reports of their own",
            )
        })?;
        let owner = owner_key(&state, &operator);
        db(&state, move |conn| {
            let status = q.status.map(|s| s.as_str());
            let (rows, total) = reports::list_owned(conn, &owner, status, limit, offset)?;
            let items = rows
                .iter()
                .map(OwnerReport::from_row)
                .collect::<ApiResult<Vec<_>>>()?;
            to_json(&Page {
                items,
                total,
                limit,
                offset,
            })
        })
        .await?
    } else {
        let tlps: Vec<&'static str> = readable_tlps(reader.0.role)
            .iter()
            .map(|t| t.as_str())
            .collect();
        db(&state, move |conn| {
            let (rows, total) = reports::list_published(conn, &tlps, limit, offset)?;
            let counts = st.members.country_counts(conn)?;
            let items = rows
                .iter()
                .map(|r| shared_view(r, &counts, st.settings.k_anonymity))
                .collect::<ApiResult<Vec<_>>>()?;
            to_json(&Page {
                items,
                total,
                limit,
                offset,
            })
        })
        .await?
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Stores new content for the caller's report: a draft is edited in
/// place, a published report is amended (a new revision, still published).
fn save_content(
    st: &AppState,
    conn: &mut DbConnection,
    operator_id: &str,
    row: ReportRow,
    content: ReportContent,
) -> ApiResult<OwnedReport> {
    let kind = match row.status.parse::<ReportStatus>() {
        Ok(ReportStatus::Draft) => ChangeKind::Updated,
        Ok(ReportStatus::Published) => ChangeKind::Amended,
        _ => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "a withdrawn report cannot be changed",
            ));
        }
    };
    let anonymised = anonymise_report(&st.members, conn, operator_id, content)?;
    let updated = ReportRow {
        revision: row.revision + 1,
        tlp: anonymised.content.tlp().as_str().to_owned(),
        content: serde_json::to_string(&anonymised.content).map_err(ApiError::internal)?,
        updated_at: now(),
        ..row
    };
    reports::save_change(
        conn,
        &updated,
        kind,
        Some(&redactions_json(&anonymised.redactions)),
    )?
    .ok_or_else(ApiError::not_found)?;
    // An amended published report's lesson records follow its new content.
    crate::lessons::sync_report_lessons(conn, &updated)?;
    Ok(OwnedReport {
        report: OwnerReport::from_row(&updated)?,
        redactions: anonymised.redactions,
        receipt: None,
    })
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
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the report is withdrawn", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
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
    let owner = owner_key(&state, &reporter.operator_id);
    let st = state.clone();
    let out = db(&state, move |conn| {
        incidex_schema::db::write_transaction(conn, |conn| {
            let row = owned(conn, &id, &owner)?;
            save_content(&st, conn, &reporter.operator_id, row, content)
        })
    })
    .await?;
    state.reports_changed();
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
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
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
    let owner = owner_key(&state, &reporter.operator_id);
    let st = state.clone();
    let patch = body.value;
    let out = db(&state, move |conn| {
        incidex_schema::db::write_transaction(conn, |conn| {
            let row = owned(conn, &id, &owner)?;
            let current = crate::views::content_of(&row)?;
            let content = apply_patch(current.as_input(), &patch)?.validate()?;
            save_content(&st, conn, &reporter.operator_id, row, content)
        })
    })
    .await?;
    state.reports_changed();
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
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "not a draft", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused", body = Problem, content_type = "application/problem+json"),
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
    let publication = Publication {
        id: path.into_inner(),
        owner: owner_key(&state, &reporter.operator_id),
        idempotency: key.0.map(|key| IdempotencyScope {
            scope: state.keys.opaque_key("idem", &reporter.principal.subject),
            key,
            request_hash: idempotency::request_hash("POST", req.path(), b""),
        }),
    };
    let recorded = store(&state, Work::Publish(publication)).await?;
    state.reports_changed();
    Ok(respond(recorded, false))
}

/// Withdraw a report: nobody but the owner can read it any more.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = OwnerReport),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already withdrawn", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/reports/{id}/withdraw")]
pub async fn withdraw(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let owner = owner_key(&state, &reporter.operator_id);
    let out = db(&state, move |conn| {
        incidex_schema::db::write_transaction(conn, |conn| {
            let row = owned(conn, &id, &owner)?;
            if row.status == ReportStatus::Withdrawn.as_str() {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "the report is already withdrawn",
                ));
            }
            let withdrawn = ReportRow {
                status: ReportStatus::Withdrawn.as_str().to_owned(),
                updated_at: now(),
                ..row
            };
            reports::save_change(conn, &withdrawn, ChangeKind::Withdrawn, None)?
                .ok_or_else(ApiError::not_found)?;
            // Withdrawn: its lesson records go too.
            crate::lessons::sync_report_lessons(conn, &withdrawn)?;
            OwnerReport::from_row(&withdrawn)
        })
    })
    .await?;
    state.reports_changed();
    Ok(HttpResponse::Ok().json(out))
}

/// Every revision of the caller's report, oldest first.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Vec<Revision>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/reports/{id}/revisions")]
pub async fn revisions(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let owner = owner_key(&state, &reporter.operator_id);
    let items = db(&state, move |conn| {
        owned(conn, &id, &owner)?;
        reports::revisions(conn, &id)?
            .into_iter()
            .map(|r| {
                Ok(Revision {
                    revision: r.revision,
                    status: r
                        .status
                        .parse()
                        .map_err(|_| ApiError::internal(anyhow::anyhow!("bad status")))?,
                    created_at: r.created_at.and_utc(),
                    report: serde_json::from_str(&r.content).map_err(ApiError::internal)?,
                    redactions: serde_json::from_str(&r.redactions).map_err(ApiError::internal)?,
                })
            })
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// Exactly what other members will see of this report once published,
/// with what anonymisation redacted. Owner only.
#[utoipa::path(
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Preview),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/reports/{id}/preview")]
pub async fn preview(
    reporter: Reporter,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let owner = owner_key(&state, &reporter.operator_id);
    let st = state.clone();
    let out = db(&state, move |conn| {
        let row = owned(conn, &id, &owner)?;
        let redactions = stored_redactions(conn, &row)?;
        let counts = st.members.country_counts(conn)?;
        let as_published = ReportRow {
            status: ReportStatus::Published.as_str().to_owned(),
            published_at: row.published_at.or_else(|| Some(now())),
            ..row
        };
        Ok(Preview {
            shared: shared_view(&as_published, &counts, st.settings.k_anonymity)?,
            redactions,
        })
    })
    .await?;
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
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/receipts/verify")]
pub async fn verify_receipt(
    state: web::Data<AppState>,
    body: JsonBody<VerifyRequest>,
) -> HttpResponse {
    let out = match receipts::verify(&state.keys, &body.value.receipt) {
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
