//! Field errors: what the API puts in the `errors` list of a
//! `validation_failed` problem.
//!
//! Policy: every rejected field is reported, not just the first. `field` is
//! a path into the request body: members joined with `.`, list items as
//! `[index]` (`impact.duration_minutes`, `lessons[2]`,
//! `timeline[0].event`); [`BODY`] means the body itself. `code` is a stable
//! machine code from [`FieldErrorCode`]; `message` is for people and may
//! change. The error type itself is the crate-wide
//! [`FieldError`](crate::validation::FieldError), shared with the API's
//! body extractor.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::validation::FieldError;

/// The path of an error about the body as a whole (as the API's extractor
/// names it).
pub const BODY: &str = "body";

/// Stable machine codes of field errors. Codes may be added, never renamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// A required member is missing or `null`.
    Required,
    /// A member the schema does not define.
    UnknownField,
    /// Wrong JSON type (a string where a number is expected, ...).
    InvalidType,
    /// Right type, but not an allowed value: unknown enum value, malformed
    /// date, time, offset or country code, forbidden characters.
    InvalidValue,
    /// Text that is empty or only whitespace where text is required.
    Blank,
    /// Text longer than its limit (counted in Unicode characters).
    TooLong,
    /// A list with more items than its limit.
    TooMany,
    /// A number or date outside its allowed range.
    OutOfRange,
    /// A value that contradicts another field of the report.
    Inconsistent,
}

impl FieldErrorCode {
    pub const ALL: &'static [FieldErrorCode] = &[
        FieldErrorCode::Required,
        FieldErrorCode::UnknownField,
        FieldErrorCode::InvalidType,
        FieldErrorCode::InvalidValue,
        FieldErrorCode::Blank,
        FieldErrorCode::TooLong,
        FieldErrorCode::TooMany,
        FieldErrorCode::OutOfRange,
        FieldErrorCode::Inconsistent,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FieldErrorCode::Required => "required",
            FieldErrorCode::UnknownField => "unknown_field",
            FieldErrorCode::InvalidType => "invalid_type",
            FieldErrorCode::InvalidValue => "invalid_value",
            FieldErrorCode::Blank => "blank",
            FieldErrorCode::TooLong => "too_long",
            FieldErrorCode::TooMany => "too_many",
            FieldErrorCode::OutOfRange => "out_of_range",
            FieldErrorCode::Inconsistent => "inconsistent",
        }
    }
}

impl fmt::Display for FieldErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<FieldErrorCode> for String {
    fn from(code: FieldErrorCode) -> Self {
        code.as_str().to_owned()
    }
}

/// Best-effort translation of a serde_json error for a value at `field`:
/// the code is read from serde's message. Missing and unknown members name
/// the member, which is appended to `field`; an empty `field` means the body.
pub fn field_error_from_serde(field: &str, error: &serde_json::Error) -> FieldError {
    let message = error.to_string();
    // serde_json appends " at line L column C" when reading text.
    let message = match message.rfind(" at line ") {
        Some(position) => message[..position].to_owned(),
        None => message,
    };
    if let Some(member) = quoted_after(&message, "missing field `") {
        return FieldError::new(join(field, member), FieldErrorCode::Required, "is required");
    }
    if let Some(member) = quoted_after(&message, "unknown field `") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, expected)| format!("unknown field, expected {expected}"))
            .unwrap_or_else(|| "unknown field".to_owned());
        return FieldError::new(join(field, member), FieldErrorCode::UnknownField, expected);
    }
    let code = if message.starts_with("invalid type: null") {
        FieldErrorCode::Required
    } else if message.starts_with("invalid type:") {
        FieldErrorCode::InvalidType
    } else if message.starts_with("invalid value: integer") {
        FieldErrorCode::OutOfRange
    } else {
        FieldErrorCode::InvalidValue
    };
    let field = if field.is_empty() { BODY } else { field };
    FieldError::new(field, code, shorten(message))
}

/// A non-empty list of field errors: the `errors` of a `validation_failed`
/// problem. Serialises as the bare list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, thiserror::Error)]
#[serde(transparent)]
#[schema(value_type = Vec<FieldError>)]
#[error("invalid report: {}", summarise(.0))]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// `None` when there is nothing to report, so an `Err` always carries at
    /// least one error.
    pub fn from_list(errors: Vec<FieldError>) -> Option<Self> {
        (!errors.is_empty()).then_some(ValidationErrors(errors))
    }

    pub fn single(error: FieldError) -> Self {
        ValidationErrors(vec![error])
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    /// The error reported for `field` with `code`, if any (handy in tests
    /// and in the UI).
    pub fn find(&self, field: &str, code: FieldErrorCode) -> Option<&FieldError> {
        self.0
            .iter()
            .find(|e| e.field == field && e.code == code.as_str())
    }
}

fn summarise(errors: &[FieldError]) -> String {
    let mut text = errors
        .iter()
        .take(3)
        .map(|error| format!("{}: {} ({})", error.field, error.message, error.code))
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > 3 {
        text.push_str(&format!("; and {} more", errors.len() - 3));
    }
    text
}

/// `prefix.member`, or `member` at the root.
pub(crate) fn join(prefix: &str, member: &str) -> String {
    if prefix.is_empty() {
        member.to_owned()
    } else {
        format!("{prefix}.{member}")
    }
}

/// `prefix[index]`.
pub(crate) fn item(prefix: &str, index: usize) -> String {
    format!("{prefix}[{index}]")
}

fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let start = message.find(marker)? + marker.len();
    let rest = &message[start..];
    rest.find('`').map(|end| &rest[..end])
}

/// serde echoes the offending value; keep messages short whatever was sent.
fn shorten(message: String) -> String {
    const MAX_MESSAGE_CHARS: usize = 300;
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        message
    } else {
        let mut short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        count: u32,
        kind: crate::report::Service,
        name: String,
    }

    fn serde_error(json: &str) -> serde_json::Error {
        serde_json::from_str::<Probe>(json).expect_err("must not deserialise")
    }

    #[test]
    fn serde_errors_are_classified_and_name_the_member() {
        let unknown = field_error_from_serde(
            "impact",
            &serde_error(r#"{"count": 1, "kind": "sms", "name": "x", "colour": 1}"#),
        );
        assert_eq!(unknown.field, "impact.colour");
        assert_eq!(unknown.code, "unknown_field");
        assert!(unknown.message.contains("expected"), "{}", unknown.message);

        let missing = field_error_from_serde("", &serde_error(r#"{"count": 1, "kind": "sms"}"#));
        assert_eq!(
            (missing.field.as_str(), missing.code.as_str()),
            ("name", "required")
        );

        let cases = [
            (
                r#"{"count": "1", "kind": "sms", "name": "x"}"#,
                FieldErrorCode::InvalidType,
            ),
            (
                r#"{"count": -1, "kind": "sms", "name": "x"}"#,
                FieldErrorCode::OutOfRange,
            ),
            (
                r#"{"count": 5000000000, "kind": "sms", "name": "x"}"#,
                FieldErrorCode::OutOfRange,
            ),
            (
                r#"{"count": 1, "kind": "telex", "name": "x"}"#,
                FieldErrorCode::InvalidValue,
            ),
            (
                r#"{"count": 1, "kind": "sms", "name": null}"#,
                FieldErrorCode::Required,
            ),
        ];
        for (json, code) in cases {
            let error = field_error_from_serde("x", &serde_error(json));
            assert_eq!(error.code, code.as_str(), "{json}: {}", error.message);
            assert_eq!(error.field, "x");
            assert!(!error.message.contains(" at line "), "{}", error.message);
        }

        let at_root = field_error_from_serde("", &serde_error("\"text\""));
        assert_eq!(
            (at_root.field.as_str(), at_root.code.as_str()),
            (BODY, "invalid_type")
        );
    }

    #[test]
    fn validation_errors_are_never_empty_and_serialise_as_a_list() {
        assert!(ValidationErrors::from_list(Vec::new()).is_none());
        let errors = ValidationErrors::single(FieldError::new(
            "lessons[2]",
            FieldErrorCode::TooLong,
            "at most 2000 characters",
        ));
        assert_eq!(
            serde_json::to_value(&errors).expect("serialises"),
            serde_json::json!([{"field": "lessons[2]", "code": "too_long", "message": "at most 2000 characters"}])
        );
        assert_eq!(
            errors.to_string(),
            "invalid report: lessons[2]: at most 2000 characters (too_long)"
        );
        assert!(errors.find("lessons[2]", FieldErrorCode::TooLong).is_some());
    }

    #[test]
    fn long_messages_are_shortened() {
        let long = format!(
            r#"{{"count": 1, "kind": "{}", "name": "x"}}"#,
            "v".repeat(5000)
        );
        let error = field_error_from_serde("kind", &serde_error(&long));
        assert!(error.message.chars().count() <= 301);
    }

    #[test]
    fn codes_serialise_as_their_stable_names() {
        for code in FieldErrorCode::ALL.iter().copied() {
            assert_eq!(
                serde_json::to_value(code).expect("serialises"),
                serde_json::Value::String(code.as_str().to_owned())
            );
        }
    }
}
