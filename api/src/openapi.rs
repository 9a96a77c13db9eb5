//! The OpenAPI document's top level. Paths and schemas come from the
//! `#[utoipa::path]` annotations of the handlers registered in `routes`.

use utoipa::OpenApi;

use crate::http::{ErrorCode, Problem};
use incidex_registry::alerts::matcher::{Notification, Reason};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "incidex",
        description = "Cross-operator registry of anonymised network-malfunction reports.\n\n\
            Errors are `application/problem+json` (RFC 9457) with a stable `code`; see the `ErrorCode` schema.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem, ErrorCode, Notification, Reason)),
    modifiers(&BearerAuth),
    tags(
        (name = "reports", description = "Filing, amending, publishing and reading incident reports"),
        (name = "search", description = "Full-text search and similar incidents"),
        (name = "clusters", description = "Clusters of similar incidents and the lessons curated for them"),
        (name = "lessons", description = "Lessons learned: query, facets and endorsements"),
        (name = "digests", description = "Periodic digests (JSON, CSV, Markdown, HTML) and their Atom feed"),
        (name = "alerts", description = "Saved searches that notify a signed webhook when a matching report is published (the body sent is the `Notification` schema; see docs/alerts.md)"),
        (name = "anonymisation", description = "The filer's sensitive terms and an anonymisation dry run"),
        (name = "auth", description = "Tokens and the registry's public keys"),
        (name = "admin", description = "Operators, API clients and users (admin role)"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the routes refer to.
#[derive(Debug)]
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
