//! The error responses of the OpenAPI document, one per status, each a
//! problem+json body: declared once under `components.responses` and
//! referenced by name from every operation (`response = NotFound` in a
//! route's annotation, or added by the rules in `crate::openapi`).

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use super::error::PROBLEM_JSON;

fn problem(description: &str, headers: &[(&str, &str)]) -> RefOr<Response> {
    let mut builder = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
    for (name, description) in headers {
        builder = builder.header(
            *name,
            HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::String),
                ))
                .description(Some(*description))
                .build(),
        );
    }
    builder.build().into()
}

macro_rules! problem_response {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal $(, $header:literal => $header_doc:literal)*;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;

            impl<'s> utoipa::ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), problem($description, &[$(($header, $header_doc)),*]))
                }
            }
        )+

        /// Every shared error response: its status, its name and the response.
        pub fn all() -> Vec<(u16, &'static str, RefOr<Response>)> {
            vec![$(($status, stringify!($name), <$name as utoipa::ToResponse>::response().1)),+]
        }
    };
}

problem_response! {
    BadRequest = 400, "`malformed_json`, `invalid_parameter` (a query parameter or path segment; see `errors`), `invalid_header` or `query_too_complex`";
    Unauthorized = 401, "`unauthenticated`: no bearer token, or one that is invalid, expired or of a revoked credential",
        "www-authenticate" => "`Bearer realm=\"incidex\"`";
    Forbidden = 403, "`forbidden`: the caller's role does not allow this";
    NotFound = 404, "`not_found`: no such resource, or not one the caller may see";
    NotAcceptable = 406, "`not_acceptable`: none of the media types in `Accept` can be served";
    Conflict = 409, "`conflict` with the resource's current state";
    PayloadTooLarge = 413, "`payload_too_large`: the body exceeds the configured limit";
    UnsupportedMediaType = 415, "`unsupported_media_type`: the body is not of a media type this operation takes";
    UnprocessableEntity = 422, "`validation_failed` (the offending fields in `errors`: wrong types, unknown fields, duplicate keys, control characters, rules of the document) or `idempotency_key_reused`";
    TooManyRequests = 429, "`rate_limited`: over a rate limit; retry after `Retry-After` seconds",
        "retry-after" => "seconds to wait";
    InternalError = 500, "`internal`: an unexpected error (logged; no details are returned)";
    ServiceUnavailable = 503, "`service_unavailable`: the database is unreachable or busy, or too many credential checks run at once; retry after `Retry-After` seconds",
        "retry-after" => "seconds to wait";
}
