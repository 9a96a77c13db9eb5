//! The filer's own anonymisation tools: its sensitive terms and a dry run.

use actix_web::{HttpResponse, get, post, put, web};
use incidex_schema::db::identity;
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Reporter;
use crate::http::JsonBody;
use crate::http::db;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;
use incidex_registry::anonymise::Redaction;
use incidex_registry::reports::intake::anonymise_text;

pub const MAX_TERMS: usize = 500;
pub const MAX_TERM_CHARS: usize = 200;
pub const MAX_DRY_RUN_CHARS: usize = 100_000;

/// Scrubbing of one text, not stored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Contact Dr. Jane Roe on +33 1 23 45 67 89 about ticket INC-20210602-0042; 112 calls failed."}))]
pub struct AnonymiseRequest {
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnonymiseResponse {
    /// The text as it would be stored.
    pub text: String,
    /// What was replaced, with the original (this response only).
    pub redactions: Vec<Redaction>,
}

/// Anonymise a text as the caller's reports would be, without storing or
/// logging anything: a dry run.
#[utoipa::path(
    tag = "anonymisation",
    security(("bearer" = [])),
    request_body = AnonymiseRequest,
    responses(
        (status = 200, body = AnonymiseResponse),
        (status = 400, response = crate::http::responses::BadRequest),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 413, response = crate::http::responses::PayloadTooLarge),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/anonymise")]
pub async fn anonymise(
    reporter: Reporter,
    state: web::Data<AppState>,
    body: JsonBody<AnonymiseRequest>,
) -> ApiResult<HttpResponse> {
    let text = body.value.text;
    if text.chars().count() > MAX_DRY_RUN_CHARS {
        return Err(ApiError::validation(vec![FieldError::new(
            "text",
            "too_long",
            format!("at most {MAX_DRY_RUN_CHARS} characters"),
        )]));
    }
    let st = state.clone();
    let scrubbed = db(&state, move |conn| {
        anonymise_text(&st.registry.members, conn, &reporter.operator_id, &text)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AnonymiseResponse {
        text: scrubbed.text,
        redactions: scrubbed.redactions,
    }))
}

/// The caller's sensitive terms (site, project and system names) scrubbed
/// from its reports as `[TERM]`.
#[utoipa::path(
    tag = "anonymisation",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<String>),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/operators/me/sensitive-terms")]
pub async fn get_terms(reporter: Reporter, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let terms = db(&state, move |conn| -> ApiResult<_> {
        let row = identity::find_operator(conn, &reporter.operator_id)?
            .ok_or_else(ApiError::not_found)?;
        Ok(row.sensitive_term_list()?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(terms))
}

/// Replace the caller's sensitive terms. Applies to reports filed or
/// changed from now on.
#[utoipa::path(
    tag = "anonymisation",
    security(("bearer" = [])),
    request_body(content = Vec<String>, example = json!(["Lyon-Gerland", "Project Phoenix", "CSRV-PAR-07"])),
    responses(
        (status = 200, body = Vec<String>),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 413, response = crate::http::responses::PayloadTooLarge),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[put("/api/v1/operators/me/sensitive-terms")]
pub async fn put_terms(
    reporter: Reporter,
    state: web::Data<AppState>,
    body: JsonBody<Vec<String>>,
) -> ApiResult<HttpResponse> {
    let mut errors = Vec::new();
    if body.value.len() > MAX_TERMS {
        errors.push(FieldError::new(
            "body",
            "too_many",
            format!("at most {MAX_TERMS} terms"),
        ));
    }
    let mut terms: Vec<String> = Vec::new();
    for (i, term) in body.value.iter().enumerate() {
        let t = term.trim();
        if t.is_empty() {
            errors.push(FieldError::new(
                format!("[{i}]"),
                "blank",
                "must not be blank",
            ));
        } else if t.chars().count() > MAX_TERM_CHARS {
            errors.push(FieldError::new(
                format!("[{i}]"),
                "too_long",
                format!("at most {MAX_TERM_CHARS} characters"),
            ));
        } else if !terms.iter().any(|x| x == t) {
            terms.push(t.to_owned());
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let json = serde_json::to_string(&terms).map_err(ApiError::internal)?;
    db(&state, move |conn| -> ApiResult<_> {
        identity::set_sensitive_terms(conn, &reporter.operator_id, &json)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(terms))
}
