//! Errors at the HTTP boundary: one table of error codes, one wire format.
//!
//! Layering: library crates (`schema`, `indexer`, `incidex-registry`)
//! return typed errors (thiserror); code outside the request path (CLI,
//! start-up, jobs) uses `anyhow` with context; a registry failure becomes an
//! [`ApiError`] in exactly one place (`impl From<RegistryError> for
//! ApiError`), which renders RFC 9457 `application/problem+json` with a
//! stable `code`.
//! Unexpected errors are logged with their whole source chain and answered
//! with a 500 that reveals nothing internal.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use incidex_registry::RegistryError;
use incidex_registry::error::is_database_unavailable;
use incidex_schema::validation::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every error code the API returns, each with one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not well-formed JSON.
    MalformedJson,
    /// 400: a query-string parameter or path segment is not acceptable.
    InvalidParameter,
    /// 400: a request header is not acceptable.
    InvalidHeader,
    /// 400: a query is too long, too deep or has too many terms (the
    /// field error names the limit).
    QueryTooComplex,
    /// 401: no valid credentials or token.
    Unauthenticated,
    /// 403: authenticated, but the role does not allow this.
    Forbidden,
    /// 404: no such resource, or not one the caller may see.
    NotFound,
    /// 405: the resource exists but not with this method.
    MethodNotAllowed,
    /// 406: none of the media types in `Accept` can be served.
    NotAcceptable,
    /// 409: the request conflicts with the resource's current state.
    Conflict,
    /// 413: the body is larger than the configured limit.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: the body is JSON but fields are invalid (see `errors`).
    ValidationFailed,
    /// 422: this `Idempotency-Key` was used before with a different request.
    IdempotencyKeyReused,
    /// 429: too many requests; retry later.
    RateLimited,
    /// 500: an unexpected error (logged; details are not returned).
    Internal,
    /// 503: a dependency (the database) is not available right now.
    ServiceUnavailable,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::MalformedJson,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidHeader,
        ErrorCode::QueryTooComplex,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NotAcceptable,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ValidationFailed,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::ServiceUnavailable,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::MalformedJson
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidHeader
            | ErrorCode::QueryTooComplex => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::ValidationFailed | ErrorCode::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidHeader => "invalid_header",
            ErrorCode::QueryTooComplex => "query_too_complex",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotAcceptable => "not_acceptable",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::ServiceUnavailable => "service_unavailable",
        }
    }

    /// The short, fixed title of the problem type.
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "The request body is not valid JSON",
            ErrorCode::InvalidParameter => "A request parameter is invalid",
            ErrorCode::InvalidHeader => "A request header is invalid",
            ErrorCode::QueryTooComplex => "The query is too complex",
            ErrorCode::Unauthenticated => "Authentication is required",
            ErrorCode::Forbidden => "Not allowed for this role",
            ErrorCode::NotFound => "Not found",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::NotAcceptable => "No acceptable representation",
            ErrorCode::Conflict => "Conflict with the current state",
            ErrorCode::PayloadTooLarge => "Request body too large",
            ErrorCode::UnsupportedMediaType => "Unsupported media type",
            ErrorCode::ValidationFailed => "Validation failed",
            ErrorCode::IdempotencyKeyReused => "Idempotency key reused with a different request",
            ErrorCode::RateLimited => "Too many requests",
            ErrorCode::Internal => "Internal error",
            ErrorCode::ServiceUnavailable => "Service unavailable",
        }
    }

    /// The code a bare status maps to, for errors raised outside our handlers.
    pub fn from_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            406 => ErrorCode::NotAcceptable,
            409 => ErrorCode::Conflict,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            422 => ErrorCode::ValidationFailed,
            429 => ErrorCode::RateLimited,
            503 => ErrorCode::ServiceUnavailable,
            400..=499 => ErrorCode::InvalidParameter,
            _ => ErrorCode::Internal,
        }
    }
}

/// The problem+json body (RFC 9457) with our `code` and field `errors`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:incidex:problem:validation_failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "2 fields are invalid",
    "code": "validation_failed",
    "errors": [{"field": "title", "code": "blank", "message": "must not be blank"}]
}))]
pub struct Problem {
    /// `urn:incidex:problem:` + `code`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    /// The offending fields, for `validation_failed` and parameter errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error answered to a client.
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    allow: Option<String>,
    /// Seconds for `Retry-After` (429 and 503; 1 when not set).
    retry_after: Option<u64>,
    /// For 500s: the cause, logged and never sent.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            allow: None,
            retry_after: None,
            source: None,
        }
    }

    /// Sets the seconds of `Retry-After` (429 and 503 only).
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "no such resource")
    }

    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        let detail = match errors.len() {
            1 => format!("field `{}` is invalid", errors[0].field),
            n => format!("{n} fields are invalid"),
        };
        ApiError {
            errors,
            ..ApiError::new(ErrorCode::ValidationFailed, detail)
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> ApiError {
        self.errors = errors;
        self
    }

    pub fn method_not_allowed(allow: &[String]) -> ApiError {
        ApiError {
            allow: Some(allow.join(", ")),
            ..ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("this resource allows {}", allow.join(", ")),
            )
        }
    }

    /// An unexpected failure: logged with its chain, answered with a bare 500.
    pub fn internal(source: impl Into<anyhow::Error>) -> ApiError {
        ApiError {
            source: Some(source.into()),
            ..ApiError::new(
                ErrorCode::Internal,
                "an unexpected error occurred; it has been logged",
            )
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:incidex:problem:{}", self.code.as_str()),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("errors", &self.errors)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            tracing::error!(error = ?source, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(allow) = &self.allow
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.insert_header((header::ALLOW, value));
        }
        if self.code == ErrorCode::Unauthenticated {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"incidex\""),
            ));
        }
        if matches!(
            self.code,
            ErrorCode::ServiceUnavailable | ErrorCode::RateLimited
        ) {
            response.insert_header((
                header::RETRY_AFTER,
                HeaderValue::from(self.retry_after.unwrap_or(1)),
            ));
        }
        response.json(self.problem())
    }
}

/// The error code (and so the HTTP status) of a registry failure: the one
/// place where the registry's terms become HTTP's.
pub fn code_for(e: &RegistryError) -> ErrorCode {
    match e {
        RegistryError::NotFound(_) => ErrorCode::NotFound,
        RegistryError::Conflict(_) => ErrorCode::Conflict,
        RegistryError::Forbidden(_) => ErrorCode::Forbidden,
        RegistryError::Unauthenticated(_) => ErrorCode::Unauthenticated,
        RegistryError::Throttled(_) => ErrorCode::RateLimited,
        RegistryError::Invalid(_) => ErrorCode::ValidationFailed,
        RegistryError::BadParameter { .. } => ErrorCode::InvalidParameter,
        RegistryError::QueryTooComplex { .. } => ErrorCode::QueryTooComplex,
        RegistryError::KeyReused => ErrorCode::IdempotencyKeyReused,
        RegistryError::Unavailable(_) => ErrorCode::ServiceUnavailable,
        RegistryError::Internal(source) if is_database_unavailable(source) => {
            ErrorCode::ServiceUnavailable
        }
        RegistryError::Internal(_) => ErrorCode::Internal,
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        let code = code_for(&e);
        match e {
            RegistryError::Internal(source) if code == ErrorCode::ServiceUnavailable => {
                tracing::warn!(error = ?source, "database unavailable");
                ApiError::new(code, "the database is not reachable; retry shortly")
            }
            RegistryError::Internal(source) => ApiError::internal(source),
            RegistryError::Invalid(errors) => ApiError::validation(errors),
            RegistryError::KeyReused => ApiError::new(
                code,
                "this Idempotency-Key was used with a different request",
            ),
            e => {
                let errors = e.field_errors();
                ApiError::new(code, e.to_string()).with_errors(errors)
            }
        }
    }
}

impl From<incidex_schema::db::StorageError> for ApiError {
    fn from(e: incidex_schema::db::StorageError) -> ApiError {
        RegistryError::from(e).into()
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> ApiError {
        RegistryError::from(e).into()
    }
}

impl From<incidex_schema::report::ValidationErrors> for ApiError {
    fn from(e: incidex_schema::report::ValidationErrors) -> ApiError {
        ApiError::validation(e.into_errors())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> ApiError {
        ApiError::internal(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A real SQLITE_BUSY (another connection holds the write lock past
    /// the busy timeout) is a 503 to retry, not a 500.
    #[test]
    fn a_busy_sqlite_database_is_service_unavailable() {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, SqliteConnection};
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("busy.db");
        let path = path.to_str().expect("utf-8");
        let mut holder = SqliteConnection::establish(path).expect("open");
        holder
            .batch_execute("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .expect("lock");
        let mut other = SqliteConnection::establish(path).expect("open");
        other
            .batch_execute("PRAGMA busy_timeout = 10;")
            .expect("pragma");
        let err = other
            .batch_execute("INSERT INTO t VALUES (2);")
            .expect_err("locked");
        let api = ApiError::from(err);
        assert_eq!(api.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let names: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert!(code.status().is_client_error() || code.status().is_server_error());
            // The serde name is the documented code.
            let json = serde_json::to_value(code).expect("serialise");
            assert_eq!(json, serde_json::json!(code.as_str()));
            if *code != ErrorCode::InvalidParameter
                && *code != ErrorCode::MalformedJson
                && *code != ErrorCode::InvalidHeader
                && *code != ErrorCode::QueryTooComplex
                && *code != ErrorCode::IdempotencyKeyReused
            {
                assert_eq!(ErrorCode::from_status(code.status()), *code);
            }
        }
    }

    #[test]
    fn internal_errors_reveal_nothing() {
        let e = ApiError::internal(anyhow::anyhow!(
            "password authentication failed for user app"
        ));
        let body = serde_json::to_string(&e.problem()).expect("serialise");
        assert!(!body.contains("password"), "{body}");
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
