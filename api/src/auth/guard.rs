//! Authentication before anything else: a middleware that checks an API
//! request's bearer token before the handler's extractors run, so a
//! revoked or expired credential is answered 401 whatever the body, the
//! query or the path hold; and the per-client rate limits, applied once the
//! caller is known.
//!
//! The outcome is left in the request's extensions for the role
//! extractors ([`super::Principal`]); a route that needs no credentials
//! ignores it. Only the budgets reject here (429): everything else is the
//! extractor's to answer, so an unknown route is still 404.

use std::net::IpAddr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use super::principal::{Authenticated, Principal, bearer_of};
use super::throttle::Budget;
use crate::http::ErrorCode;
use crate::state::AppState;

/// The budget an API request draws on.
pub fn budget_of(method: &actix_web::http::Method, path: &str) -> Budget {
    let search = path == "/api/v1/search"
        || path == "/api/v1/similar"
        || path == "/api/v1/lessons"
        || (path.starts_with("/api/v1/reports/") && path.ends_with("/similar"));
    if search {
        Budget::ApiSearches
    } else if method == actix_web::http::Method::GET || method == actix_web::http::Method::HEAD {
        Budget::ApiReads
    } else {
        Budget::ApiWrites
    }
}

/// The address the request came from (the TCP peer).
pub fn client_address(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// The middleware: authenticates `/api/v1/` requests that carry a bearer
/// token, then charges the caller's budget.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let token = req
        .path()
        .starts_with("/api/v1/")
        .then(|| bearer_of(req.request()))
        .flatten();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let (Some(token), Some(state)) = (token, state) {
        let outcome = Principal::from_token(&state, &token).await;
        if let Ok(principal) = &outcome {
            let budget = budget_of(req.method(), req.path());
            if let Err(limited) = state.throttle.api_call(&principal.subject, budget) {
                tracing::warn!(
                    security_event = "rate_limited",
                    budget = limited.budget.as_str(),
                    subject = %principal.subject,
                    address = %super::login::shown(client_address(req.request())),
                    retry_after_secs = limited.retry_after_secs,
                    "request over its rate limit"
                );
                let response = super::login::rate_limited(limited).error_response();
                return Ok(req.into_response(response).map_into_right_body());
            }
        }
        let outcome = outcome.map_err(|e| {
            let problem = e.problem();
            let retry = (e.code() == ErrorCode::ServiceUnavailable).then_some(1);
            (problem.code, problem.detail, retry)
        });
        if let Err((code, detail, _)) = &outcome {
            req.extensions_mut()
                .insert(crate::http::Refused((*code, detail.clone())));
        }
        req.extensions_mut().insert(Authenticated(outcome));
    }
    Ok(next.call(req).await?.map_into_left_body())
}
