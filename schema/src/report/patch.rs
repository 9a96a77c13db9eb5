//! PATCH: JSON merge patch (RFC 7396) over the wire form of a report.
//!
//! Policy: the patch is applied to the serialised [`ReportInput`] of the
//! current revision and the result is read like a new request body, so a
//! patched report passes exactly the checks a created one does (structure
//! here, then [`ReportInput::validate`] by the caller). Members set to
//! `null` are removed: optional values become `null`, defaulted lists and
//! groups their default, and removing a required member is a `required`
//! error. Lists are replaced whole (RFC 7396 has no list operations).

use serde_json::{Map, Value};

use super::errors::{FieldError, FieldErrorCode, ValidationErrors};
use super::input::ReportInput;

/// Applies `patch` to `current` and reads the result as a request body.
pub fn apply_patch(current: &ReportInput, patch: &Value) -> Result<ReportInput, ValidationErrors> {
    let mut document = serde_json::to_value(current).map_err(|error| {
        // Unreachable in practice: every member serialises to JSON.
        ValidationErrors::single(FieldError::new(
            "",
            FieldErrorCode::InvalidValue,
            format!("the current report could not be serialised: {error}"),
        ))
    })?;
    merge_patch(&mut document, patch);
    ReportInput::from_json(document)
}

/// RFC 7396 section 2, `MergePatch(Target, Patch)`.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (name, value) in patch {
            if value.is_null() {
                target.remove(name);
            } else {
                merge_patch(target.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::report::input::{report_input_example, report_patch_example};
    use crate::report::taxonomy::{RedundancyOutcome, Tlp};

    fn example() -> ReportInput {
        ReportInput::from_json(report_input_example()).expect("well formed")
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date")
    }

    #[test]
    fn rfc_7396_appendix_a_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            let mut result = target.clone();
            merge_patch(&mut result, &patch);
            assert_eq!(result, expected, "{target} + {patch}");
        }
    }

    #[test]
    fn the_documented_patch_applies() {
        let patched = apply_patch(&example(), &report_patch_example()).expect("applies");
        assert_eq!(patched.impact.subscribers_affected, Some(250_000));
        assert_eq!(patched.notes, None);
        assert_eq!(patched.lessons.len(), 1);
        assert_eq!(patched.title, example().title, "untouched members stay");
        assert!(patched.validate_at(today()).is_ok());
    }

    #[test]
    fn nested_members_are_merged_and_null_removes() {
        let patch = json!({
            "tlp": null,
            "impact": {"redundancy": {"sites": 4}},
            "cause": {"causal_chain": null},
            "timeline": null
        });
        let patched = apply_patch(&example(), &patch).expect("applies");
        assert_eq!(
            patched.tlp,
            Tlp::Green,
            "removed tlp falls back to its default"
        );
        let redundancy = patched.impact.redundancy.as_ref().expect("kept");
        assert_eq!(redundancy.outcome, RedundancyOutcome::FailedCommonMode);
        assert_eq!(redundancy.sites, Some(4));
        assert_eq!(patched.cause.causal_chain, None);
        assert!(patched.timeline.is_empty());
    }

    #[test]
    fn a_patch_is_checked_like_a_new_body() {
        let patch = json!({
            "title": null,
            "context": {"country": "UK"},
            "impact": {"colour": "red", "duration_minutes": "long"}
        });
        let errors = apply_patch(&example(), &patch).expect_err("rejected");
        for (field, code) in [
            ("title", FieldErrorCode::Required),
            ("context.country", FieldErrorCode::InvalidValue),
            ("impact.colour", FieldErrorCode::UnknownField),
            ("impact.duration_minutes", FieldErrorCode::InvalidType),
        ] {
            assert!(
                errors.find(field, code).is_some(),
                "{field} {code} in {errors:#?}"
            );
        }
        assert_eq!(errors.errors().len(), 4);

        // A new redundancy group without its required outcome.
        let mut current = example();
        current.impact.redundancy = None;
        let errors = apply_patch(&current, &json!({"impact": {"redundancy": {"sites": 2}}}))
            .expect_err("rejected");
        assert!(
            errors
                .find("impact.redundancy.outcome", FieldErrorCode::Required)
                .is_some()
        );

        // Semantic limits are the caller's validate step.
        let patched =
            apply_patch(&example(), &json!({"lessons": [""]})).expect("structurally fine");
        assert!(patched.validate_at(today()).is_err());
    }
}
