//! Saved searches and their webhooks: create, list, read, delete, pause and
//! re-enable, rotate the signing secret, send a test notification, and
//! read the delivery log. See `crate::alerts` for the rules.
//!
//! Members (reporters) own their saved searches together, per operator;
//! an analyst owns its own. Anyone else gets 404 for a saved search, so
//! the API never reveals that it exists. The signing secret is shown once,
//! when it is made.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use incidex_schema::db::alerts::{self, DeliveryRow, DeliveryStatus, SavedSearchRow};
use incidex_schema::db::reports::now;
use incidex_schema::db::{DbConnection, write_transaction};
use incidex_schema::report::Tlp;
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Reader;
use crate::http::JsonBody;
use crate::http::db;
use crate::http::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use incidex_registry::alerts::saved::{
    MAX_NAME_CHARS, Owner, SavedQuery, new_salt, signing_secret,
};
use incidex_registry::alerts::webhook::check_url;

/// The largest body accepted when saving a search.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A search to save, with the webhook to notify.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "P-CSCF trouble",
    "search": "q=p-cscf OR \"call server\"&service=volte&emergency_service_affected=true",
    "webhook_url": "https://noc.example.org/hooks/incidex"
}))]
pub struct NewSavedSearch {
    /// A label of your own (at most 200 characters).
    pub name: Option<String>,
    /// A query string of `GET /api/v1/search` (`q` and filters, without
    /// `sort`, `limit`, `offset` or `facets`); empty matches every report
    /// you may read.
    pub search: String,
    /// `https://…` (or `http://…`) on the public internet; no credentials.
    pub webhook_url: String,
}

/// A saved search (the signing secret is never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearch {
    pub id: String,
    pub name: String,
    /// The query string, as stored.
    pub search: String,
    pub webhook_url: String,
    /// The TLP levels it matches: those the owner's role may read.
    pub tlp_levels: Vec<Tlp>,
    /// `false` once disabled (by its owner, or after repeated failures).
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Failed delivery attempts in a row.
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A saved search just made, with its signing secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSavedSearch {
    #[serde(flatten)]
    pub saved_search: SavedSearch,
    /// The HMAC-SHA256 key of `X-Incidex-Signature`, used whole (prefix
    /// included). Store it now: it is not shown again.
    #[schema(example = "whsec_6f1c…")]
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearchList {
    pub items: Vec<SavedSearch>,
}

/// A new signing secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub secret: String,
}

/// The outcome of a test notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct PingResult {
    /// The receiver answered 2xx.
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

/// One notification in the delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    /// Sent as `X-Incidex-Delivery`, the same on every attempt.
    pub id: String,
    pub report_id: String,
    pub revision: i32,
    /// `report.published` or `report.amended`.
    pub event: String,
    /// `pending`, `failed` (a retry is due at `next_attempt_at`),
    /// `delivered` or `abandoned`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Only this status.
    #[param(value_type = Option<DeliveryStatusParam>, inline)]
    pub status: Option<String>,
    /// Default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The states of a delivery.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum DeliveryStatusParam {
    Pending,
    Failed,
    Delivered,
    Abandoned,
}

fn view(row: &SavedSearchRow) -> SavedSearch {
    let tlp_levels = incidex_schema::identity::Role::parse(&row.role)
        .map(|r| incidex_registry::visibility::readable_tlps(r).to_vec())
        .unwrap_or_default();
    SavedSearch {
        id: row.id.clone(),
        name: row.name.clone(),
        search: row.search.clone(),
        webhook_url: row.webhook_url.clone(),
        tlp_levels,
        active: row.active,
        disabled_reason: row.disabled_reason.clone(),
        disabled_at: row.disabled_at.map(|t| t.and_utc()),
        consecutive_failures: row.consecutive_failures,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

fn delivery_view(row: DeliveryRow) -> Delivery {
    let open = DeliveryStatus::parse(&row.status).is_some_and(DeliveryStatus::is_open);
    Delivery {
        next_attempt_at: open.then(|| row.next_attempt_at.and_utc()),
        id: row.id,
        report_id: row.report_id,
        revision: row.revision,
        event: row.event,
        status: row.status,
        attempts: row.attempts,
        last_attempt_at: row.last_attempt_at.map(|t| t.and_utc()),
        last_status_code: row.last_status_code,
        last_error: row.last_error,
        created_at: row.created_at.and_utc(),
        delivered_at: row.delivered_at.map(|t| t.and_utc()),
    }
}

fn owner_of(reader: &Reader) -> ApiResult<Owner> {
    Owner::of(&reader.0).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Forbidden,
            "saved searches belong to a member operator or an analyst",
        )
    })
}

/// The caller's saved search, or 404.
fn owned(conn: &mut DbConnection, owner: &Owner, id: &str) -> ApiResult<SavedSearchRow> {
    alerts::find_saved_search(conn, id)?
        .filter(|row| owner.owns(row))
        .ok_or_else(ApiError::not_found)
}

/// Validates a new saved search into a row (without its id and times).
fn parse_new(
    body: NewSavedSearch,
    owner: &Owner,
    allow_private: bool,
) -> Result<(String, SavedQuery, String), ApiError> {
    let mut errors = Vec::new();
    let name = body.name.unwrap_or_default().trim().to_owned();
    if name.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new(
            "name",
            "too_long",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    } else if name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "invalid_value",
            "control characters are not allowed",
        ));
    }
    let query = match SavedQuery::parse(&body.search, owner.role) {
        Ok(q) => Some(q),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let url = match check_url(&body.webhook_url, allow_private) {
        Ok(url) => Some(url.to_string()),
        Err(e) => {
            errors.push(FieldError::new("webhook_url", e.code(), e.to_string()));
            None
        }
    };
    match (query, url) {
        (Some(query), Some(url)) if errors.is_empty() => Ok((name, query, url)),
        _ => Err(ApiError::validation(errors)),
    }
}

/// Save a search with a webhook. The response carries the signing secret,
/// shown this once.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    request_body = NewSavedSearch,
    responses(
        (status = 201, body = CreatedSavedSearch, headers(("location" = String))),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 409, response = crate::http::responses::Conflict),
        (status = 413, response = crate::http::responses::PayloadTooLarge),
        (status = 415, response = crate::http::responses::UnsupportedMediaType),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/saved-searches")]
pub async fn create(
    reader: Reader,
    state: web::Data<AppState>,
    body: JsonBody<NewSavedSearch>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    if body.raw.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("a saved search takes at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    let (name, query, url) = parse_new(
        body.value,
        &owner,
        state.settings.alerts.allow_private_targets,
    )?;
    let limit = i64::from(state.settings.alerts.max_per_owner);
    let at = now();
    let row = SavedSearchRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner_kind: owner.kind.as_str().to_owned(),
        owner_id: owner.id.clone(),
        role: owner.role.as_str().to_owned(),
        name,
        search: query.canonical,
        webhook_url: url,
        secret_salt: new_salt(),
        active: true,
        disabled_reason: None,
        disabled_at: None,
        consecutive_failures: 0,
        created_at: at,
        updated_at: at,
    };
    let stored = row.clone();
    db(&state, move |conn| {
        write_transaction(conn, |conn| {
            if alerts::count_owned(conn, owner.kind, &owner.id)? >= limit {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("at most {limit} saved searches per owner; delete one first"),
                ));
            }
            alerts::insert_saved_search(conn, &stored)?;
            Ok(())
        })
    })
    .await?;
    let secret = signing_secret(&state.registry.keys, &row.id, &row.secret_salt);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/saved-searches/{}", row.id),
        ))
        .json(CreatedSavedSearch {
            saved_search: view(&row),
            secret,
        }))
}

/// The caller's saved searches, oldest first.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SavedSearchList),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/saved-searches")]
pub async fn list(reader: Reader, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let rows = db(&state, move |conn| -> ApiResult<_> {
        Ok(alerts::owned_saved_searches(conn, owner.kind, &owner.id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SavedSearchList {
        items: rows.iter().map(view).collect(),
    }))
}

/// One of the caller's saved searches.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = SavedSearch),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[get("/api/v1/saved-searches/{id}")]
pub async fn read(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let id = path.into_inner();
    let row = db(&state, move |conn| owned(conn, &owner, &id)).await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Delete a saved search and its delivery log; nothing more is sent.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[delete("/api/v1/saved-searches/{id}")]
pub async fn remove(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let id = path.into_inner();
    db(&state, move |conn| {
        write_transaction(conn, |conn| -> ApiResult<_> {
            owned(conn, &owner, &id)?;
            alerts::delete_saved_search(conn, &id)?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Enable a saved search again (after it was paused or disabled by
/// failures): its failure count starts from zero, and reports published
/// from now on notify it. Notifications abandoned meanwhile are not sent.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = SavedSearch),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[post("/api/v1/saved-searches/{id}/enable")]
pub async fn enable(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let id = path.into_inner();
    let row = db(&state, move |conn| {
        write_transaction(conn, |conn| {
            owned(conn, &owner, &id)?;
            alerts::enable_saved_search(conn, &id, now())?;
            owned(conn, &owner, &id)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Pause a saved search: nothing is matched or sent until it is enabled
/// again; notifications not yet delivered are abandoned.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = SavedSearch),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[post("/api/v1/saved-searches/{id}/disable")]
pub async fn disable(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let id = path.into_inner();
    let row = db(&state, move |conn| {
        write_transaction(conn, |conn| {
            let row = owned(conn, &owner, &id)?;
            if row.active {
                alerts::disable_saved_search(conn, &id, "paused by its owner", now())?;
            }
            owned(conn, &owner, &id)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&row)))
}

/// Replace the signing secret; the new one (shown this once) signs every
/// request from now on, retries of earlier notifications included.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = RotatedSecret),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[post("/api/v1/saved-searches/{id}/rotate-secret")]
pub async fn rotate_secret(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let id = path.into_inner();
    let salt = new_salt();
    let stored = salt.clone();
    let saved_id = id.clone();
    db(&state, move |conn| {
        write_transaction(conn, |conn| -> ApiResult<_> {
            owned(conn, &owner, &id)?;
            alerts::set_secret_salt(conn, &id, &stored, now())?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(RotatedSecret {
        secret: signing_secret(&state.registry.keys, &saved_id, &salt),
    }))
}

/// Send a signed test notification (`event: ping`) to the webhook now and
/// say how the receiver answered. Works on a disabled saved search too;
/// nothing is logged or counted.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = PingResult),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[post("/api/v1/saved-searches/{id}/test")]
pub async fn test(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let id = path.into_inner();
    let row = db(&state, move |conn| owned(conn, &owner, &id)).await?;
    let secret = signing_secret(&state.registry.keys, &row.id, &row.secret_salt);
    let outcome = incidex_registry::alerts::delivery::ping(
        &state.registry.alerts.sender,
        &row.webhook_url,
        &secret,
        &row.id,
        &row.name,
    )
    .await;
    Ok(HttpResponse::Ok().json(PingResult {
        delivered: outcome.delivered,
        status_code: outcome.status_code,
        error: outcome.error,
    }))
}

/// The delivery log of a saved search, newest first: report, status,
/// attempts, the last answer or error.
#[utoipa::path(
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path), DeliveryQuery),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[get("/api/v1/saved-searches/{id}/deliveries")]
pub async fn deliveries(
    reader: Reader,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> ApiResult<HttpResponse> {
    let owner = owner_of(&reader)?;
    let id = path.into_inner();
    let q = query.into_inner();
    let bad = |field: &str, message: &str| {
        ApiError::new(ErrorCode::InvalidParameter, format!("{field}: {message}"))
            .with_errors(vec![FieldError::new(field, "invalid_value", message)])
    };
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            DeliveryStatus::parse(s)
                .ok_or_else(|| bad("status", "pending, failed, delivered or abandoned"))?,
        ),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(bad("limit", "1 to 200"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(bad("offset", "0 or more"));
    }
    let (rows, total) = db(&state, move |conn| -> ApiResult<_> {
        owned(conn, &owner, &id)?;
        Ok(alerts::list_deliveries(conn, &id, status, limit, offset)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryPage {
        items: rows.into_iter().map(delivery_view).collect(),
        total,
        limit,
        offset,
    }))
}
