//! Field-level validation errors, shared by every layer that turns input into
//! domain values. The API returns them in problem+json `errors`.

use serde::Serialize;
use utoipa::ToSchema;

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where the value is: a dotted path with indexes, e.g. `impact.duration_minutes`
    /// or `lessons[2]`; for query parameters and headers, their name.
    #[schema(example = "impact.duration_minutes")]
    pub field: String,
    /// Stable machine code: `required`, `unknown_field`, `invalid_type`,
    /// `invalid_value`, `too_long`, `too_short`, `too_many`, `out_of_range`, `blank`,
    /// `inconsistent`, `not_allowed`, ...
    #[schema(example = "out_of_range")]
    pub code: String,
    /// A sentence for people.
    #[schema(example = "must be between 0 and 525600")]
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}
