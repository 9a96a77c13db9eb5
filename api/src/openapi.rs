//! The OpenAPI document's top level. Paths and schemas come from the
//! `#[utoipa::path]` annotations of the handlers registered in `routes`.

use utoipa::OpenApi;

use crate::error::{ErrorCode, Problem};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "incidex",
        description = "Cross-operator registry of anonymised network-malfunction reports.\n\n\
            Errors are `application/problem+json` (RFC 9457) with a stable `code`; see the `ErrorCode` schema.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem, ErrorCode)),
    tags(
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;
