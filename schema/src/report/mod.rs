//! The incident report: wire types, the validated domain type, the
//! taxonomy, computed metrics and the generalised view of quasi-identifiers.
//! No HTTP and no storage here.
//!
//! The path of a report through this module:
//!
//! 1. a request body (`serde_json::Value`) becomes a [`ReportInput`] with
//!    [`ReportInput::from_json`], which names every structural problem
//!    (missing, unknown, mistyped members) by path;
//! 2. [`ReportInput::validate`] checks limits and consistency, again
//!    collecting every problem, and returns a [`ReportContent`]; a PATCH
//!    goes through [`apply_patch`] first;
//! 3. the anonymiser rewrites free text with [`ReportContent::map_text`];
//! 4. storage keeps the `serde_json` form of the `ReportContent` (identical
//!    to the input's form) and reads it back unchanged;
//! 5. [`ReportContent::metrics`] and [`ReportContent::generalised_context`]
//!    compute what is derived, never stored as declared.
//!
//! Errors are [`ValidationErrors`]: a non-empty list of [`FieldError`]s with
//! stable [`FieldErrorCode`]s, meant for the `errors` member of a
//! `validation_failed` problem. `docs/report-model.md` is the reference for
//! fields, limits, codes and formulas.

mod content;
mod errors;
mod generalise;
mod input;
mod metrics;
mod patch;
mod structure;
mod taxonomy;
mod validate;
mod values;

pub use content::{ReportContent, TextField};
pub use errors::{BODY, FieldError, FieldErrorCode, ValidationErrors, field_error_from_serde};
pub use generalise::{
    DEFAULT_MIN_MEMBERS_PER_COUNTRY, DurationBand, GeneralisedContext, GeneralisedWhen,
    SharedLocation, SubscriberBand, TimeBlock,
};
pub use input::{
    AffectedSystems, CausalChain, EmergencyCallImpact, IncidentCause, IncidentContext,
    IncidentImpact, IncidentResponse, Redundancy, ReportInput, ReportPatch, TimelineEntry,
    report_input_example, report_patch_example,
};
pub use metrics::{
    CRITICAL_USER_HOURS, ENISA_USER_HOURS_THRESHOLD, FCC_MIN_DURATION_MINUTES,
    FCC_USER_MINUTES_THRESHOLD, MAJOR_DURATION_MINUTES, Metrics, ThresholdFlags,
};
pub use patch::apply_patch;
pub use taxonomy::{
    Asset, DayOfWeek, DetectionSource, NetworkDomain, OperatorType, RedundancyOutcome, Region,
    ReportStatus, RestorationMethod, RootCauseCategory, Scope, Service, Severity, Tlp, Trigger,
    UnknownTaxonomyValue,
};
pub use validate::{
    EARLIEST_STARTED_ON, MAX_DURATION_MINUTES, MAX_DURATION_NOTE_CHARS, MAX_EMERGENCY_CALLS_FAILED,
    MAX_ENUM_LIST_ITEMS, MAX_LESSON_CHARS, MAX_LESSONS, MAX_REDUNDANT_SITES,
    MAX_SUBSCRIBERS_AFFECTED, MAX_SUMMARY_CHARS, MAX_TEXT_CHARS, MAX_TIMELINE_ENTRIES,
    MAX_TIMELINE_EVENT_CHARS, MAX_TITLE_CHARS,
};
pub use values::{CountryCode, InvalidValue, TimeOfDay, UtcOffset};

/// Reads and validates a request body in one step.
pub fn parse_report(body: serde_json::Value) -> Result<ReportContent, ValidationErrors> {
    ReportInput::from_json(body)?.validate()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::{Value, json};
    use utoipa::PartialSchema;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date")
    }

    /// The example with every member given a non-null, non-empty value, so
    /// that any field added to the model shows up in its serialised form.
    fn fully_populated() -> ReportContent {
        let mut body = report_input_example();
        body["impact"]["subscribers_affected"] = json!(250_000);
        let content = ReportInput::from_json(body)
            .expect("well formed")
            .validate_at(today())
            .expect("valid");
        let json = serde_json::to_value(&content).expect("serialises");
        let mut empty = Vec::new();
        find_empty(&json, "", &mut empty);
        assert!(
            empty.is_empty(),
            "fill in every member of the fixture so new fields are covered: {empty:?}"
        );
        content
    }

    fn find_empty(value: &Value, path: &str, empty: &mut Vec<String>) {
        match value {
            Value::Null => empty.push(path.to_owned()),
            Value::Array(items) if items.is_empty() => empty.push(path.to_owned()),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    find_empty(item, &format!("{path}[{index}]"), empty);
                }
            }
            Value::Object(members) => {
                for (name, member) in members {
                    let path = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    find_empty(member, &path, empty);
                }
            }
            _ => {}
        }
    }

    /// Every string leaf with its path, list indices written `[]`.
    fn string_leaves(value: &Value, path: &str, leaves: &mut Vec<(String, String)>) {
        match value {
            Value::String(text) => leaves.push((path.to_owned(), text.clone())),
            Value::Array(items) => {
                for item in items {
                    string_leaves(item, &format!("{path}[]"), leaves);
                }
            }
            Value::Object(members) => {
                for (name, member) in members {
                    let path = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    string_leaves(member, &path, leaves);
                }
            }
            _ => {}
        }
    }

    /// String members that are not free text: enum slugs and typed values.
    /// Adding a member here is a decision that it needs no anonymisation.
    const NOT_FREE_TEXT: &[&str] = &[
        "tlp",
        "context.started_on",
        "context.start_time",
        "context.utc_offset",
        "context.country",
        "context.region",
        "context.scope",
        "context.operator_type",
        "affected.services[]",
        "affected.network_domain",
        "affected.other_network_domains[]",
        "affected.assets[]",
        "cause.root_cause_category",
        "cause.trigger",
        "impact.redundancy.outcome",
        "response.detection_source",
        "response.restoration_methods[]",
    ];

    #[test]
    fn map_text_visits_every_free_text_field_and_nothing_else() {
        const MARK: &str = "\u{2063}visited:";
        let mut content = fully_populated();
        let mut visits = 0;
        content.map_text(|text| {
            visits += 1;
            format!("{MARK}{text}")
        });
        let json = serde_json::to_value(&content).expect("serialises");
        let mut leaves = Vec::new();
        string_leaves(&json, "", &mut leaves);
        let mut visited = 0;
        for (path, text) in &leaves {
            if NOT_FREE_TEXT.contains(&path.as_str()) {
                assert!(
                    !text.starts_with(MARK),
                    "{path} is not free text but was rewritten"
                );
            } else {
                assert!(
                    text.starts_with(MARK),
                    "free text at {path} was not visited by map_text"
                );
                assert!(
                    !text[MARK.len()..].starts_with(MARK),
                    "{path} visited twice"
                );
                visited += 1;
            }
        }
        assert_eq!(
            visits, visited,
            "map_text visited something that is not in the output"
        );
        // Every allow-listed path exists, so the list cannot hide a renamed field.
        for path in NOT_FREE_TEXT {
            assert!(
                leaves.iter().any(|(leaf, _)| leaf == path),
                "{path} not in the model"
            );
        }
    }

    #[test]
    fn text_fields_and_map_text_agree_on_paths() {
        let content = fully_populated();
        let listed: Vec<(String, String)> = content
            .text_fields()
            .into_iter()
            .map(|field| (field.path, field.text.to_owned()))
            .collect();
        let mut mapped = Vec::new();
        let mut copy = content.clone();
        copy.map_text_fields(|path, text| {
            mapped.push((path.to_owned(), text.to_owned()));
            text.to_owned()
        });
        assert_eq!(listed, mapped);
        assert_eq!(copy, content, "an identity map changes nothing");
        assert!(listed.iter().any(|(path, _)| path == "lessons[2]"));
        assert!(listed.iter().any(|(path, _)| path == "timeline[3].event"));
        assert!(
            listed
                .iter()
                .any(|(path, _)| path == "cause.causal_chain.recovery_obstacle")
        );
    }

    #[test]
    fn content_round_trips_through_json_losslessly() {
        let content = fully_populated();
        let text = serde_json::to_string(&content).expect("serialises");
        let back: ReportContent = serde_json::from_str(&text).expect("deserialises");
        assert_eq!(back, content);
        assert_eq!(serde_json::to_string(&back).expect("serialises"), text);
        // The stored form is the input form.
        assert_eq!(
            serde_json::to_value(&content).expect("serialises"),
            serde_json::to_value(content.as_input()).expect("serialises")
        );
    }

    #[test]
    fn parse_report_combines_both_steps() {
        assert!(parse_report(report_input_example()).is_ok());
        let errors = parse_report(json!({"title": "", "summary": "s", "context": {}}))
            .expect_err("rejected");
        // Structural problems are reported first; validation runs on a well-formed body.
        assert!(
            errors
                .find("context.started_on", FieldErrorCode::Required)
                .is_some()
        );
    }

    #[test]
    fn the_openapi_limits_match_the_validation_constants() {
        fn schema_of<T: PartialSchema>() -> Value {
            serde_json::to_value(T::schema()).expect("serialises")
        }
        let report = schema_of::<ReportInput>();
        let affected = schema_of::<AffectedSystems>();
        let cause = schema_of::<IncidentCause>();
        let chain = schema_of::<CausalChain>();
        let impact = schema_of::<IncidentImpact>();
        let calls = schema_of::<EmergencyCallImpact>();
        let redundancy = schema_of::<Redundancy>();
        let response = schema_of::<IncidentResponse>();
        let timeline = schema_of::<TimelineEntry>();
        let max_duration = f64::from(MAX_DURATION_MINUTES);
        let text = MAX_TEXT_CHARS as f64;
        let enums = MAX_ENUM_LIST_ITEMS as f64;
        let mut expected = vec![
            (&report, "title", "maxLength", MAX_TITLE_CHARS as f64),
            (&report, "summary", "maxLength", MAX_SUMMARY_CHARS as f64),
            (&report, "notes", "maxLength", text),
            (&report, "timeline", "maxItems", MAX_TIMELINE_ENTRIES as f64),
            (&report, "lessons", "maxItems", MAX_LESSONS as f64),
            (&affected, "services", "maxItems", enums),
            (&affected, "other_network_domains", "maxItems", enums),
            (&affected, "assets", "maxItems", enums),
            (&cause, "detailed_cause", "maxLength", text),
            (&impact, "duration_minutes", "minimum", 1.0),
            (&impact, "duration_minutes", "maximum", max_duration),
            (
                &impact,
                "duration_note",
                "maxLength",
                MAX_DURATION_NOTE_CHARS as f64,
            ),
            (
                &impact,
                "subscribers_affected",
                "maximum",
                MAX_SUBSCRIBERS_AFFECTED as f64,
            ),
            (&impact, "description", "maxLength", text),
            (
                &calls,
                "failed",
                "maximum",
                MAX_EMERGENCY_CALLS_FAILED as f64,
            ),
            (&calls, "share_percent", "minimum", 0.0),
            (&calls, "share_percent", "maximum", 100.0),
            (&redundancy, "sites", "minimum", 1.0),
            (
                &redundancy,
                "sites",
                "maximum",
                f64::from(MAX_REDUNDANT_SITES),
            ),
            (&response, "restoration_methods", "maxItems", enums),
            (&response, "restoration_notes", "maxLength", text),
            (&timeline, "offset_minutes", "minimum", -max_duration),
            (&timeline, "offset_minutes", "maximum", max_duration),
            (
                &timeline,
                "event",
                "maxLength",
                MAX_TIMELINE_EVENT_CHARS as f64,
            ),
        ];
        for link in [
            "initiating_event",
            "latent_condition",
            "propagation",
            "recovery_obstacle",
        ] {
            expected.push((&chain, link, "maxLength", text));
        }
        for time in [
            "minutes_to_detect",
            "minutes_to_diagnose",
            "minutes_to_restore",
            "minutes_to_notify_authorities",
            "minutes_to_notify_operators",
        ] {
            expected.push((&response, time, "maximum", max_duration));
        }
        for (schema, property, keyword, value) in expected {
            let actual = schema["properties"][property][keyword].as_f64();
            assert_eq!(actual, Some(value), "{property}.{keyword}");
        }
    }

    #[test]
    fn the_openapi_schema_carries_the_enums_and_the_example() {
        let schema = serde_json::to_value(ReportInput::schema()).expect("serialises");
        let examples = schema["examples"].as_array().expect("examples present");
        assert_eq!(examples, &vec![report_input_example()]);
        let required = schema["required"].as_array().expect("required listed");
        for member in ["title", "summary", "context"] {
            assert!(
                required.contains(&json!(member)),
                "{member} required in {required:?}"
            );
        }
        assert!(!required.contains(&json!("lessons")));

        let services = serde_json::to_value(Service::schema()).expect("serialises");
        let values: Vec<&str> = services["enum"]
            .as_array()
            .expect("an enum schema")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let expected: Vec<&str> = Service::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(values, expected);

        let codes = serde_json::to_value(FieldErrorCode::schema()).expect("serialises");
        assert!(
            codes["enum"]
                .as_array()
                .is_some_and(|codes| codes.contains(&json!("too_long")))
        );
    }
}
