//! Validation: the only way from a [`ReportInput`] to a [`ReportContent`].
//!
//! Policy:
//! - All problems are collected; an `Err` names every rejected field.
//! - Text limits count Unicode characters (`char`s). Required text must not
//!   be blank; optional text is either `null` or not blank (send `null`
//!   rather than `""`). Free text may hold line breaks and tabs but no other
//!   control characters; the title is a single line.
//! - Lists of enum values are deduplicated (first occurrence kept) after
//!   their length is checked; `affected.other_network_domains` also drops
//!   the main `network_domain`.
//! - Numbers are bounded to what a real incident can reach; the bounds are
//!   the `MAX_*` constants below, so clients can read them.

use chrono::{Days, NaiveDate, Utc};

use super::content::ReportContent;
use super::errors::{FieldError, FieldErrorCode, ValidationErrors, item, join};
use super::input::ReportInput;
use super::taxonomy::RedundancyOutcome;

/// Longest title.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest summary.
pub const MAX_SUMMARY_CHARS: usize = 10_000;
/// Longest of the other long free-text fields (detailed cause, causal chain
/// links, impact description, restoration notes, notes).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest `impact.duration_note`.
pub const MAX_DURATION_NOTE_CHARS: usize = 500;
/// Most lessons in one report.
pub const MAX_LESSONS: usize = 20;
/// Longest lesson.
pub const MAX_LESSON_CHARS: usize = 2_000;
/// Most timeline entries.
pub const MAX_TIMELINE_ENTRIES: usize = 100;
/// Longest timeline event.
pub const MAX_TIMELINE_EVENT_CHARS: usize = 1_000;
/// Most items in a list of enum values, before duplicates are removed.
pub const MAX_ENUM_LIST_ITEMS: usize = 50;
/// Longest duration and latest response time: one leap year, in minutes.
pub const MAX_DURATION_MINUTES: u32 = 366 * 24 * 60;
/// Most subscribers affected (more than the world's mobile subscriptions).
pub const MAX_SUBSCRIBERS_AFFECTED: u64 = 10_000_000_000;
/// Most failed emergency calls.
pub const MAX_EMERGENCY_CALLS_FAILED: u64 = 100_000_000;
/// Most redundant sites or instances.
pub const MAX_REDUNDANT_SITES: u16 = 1_000;
/// Earliest accepted start date.
pub const EARLIEST_STARTED_ON: NaiveDate = match NaiveDate::from_ymd_opt(1980, 1, 1) {
    Some(date) => date,
    None => panic!("1980-01-01 is a valid date"),
};

impl ReportInput {
    /// Validates against today's date (UTC) and returns the domain value.
    pub fn validate(self) -> Result<ReportContent, ValidationErrors> {
        self.validate_at(Utc::now().date_naive())
    }

    /// Validates with `today` as the latest plausible date: `started_on` may
    /// be at most one day after it (local dates run ahead of UTC).
    pub fn validate_at(mut self, today: NaiveDate) -> Result<ReportContent, ValidationErrors> {
        let mut check = Checker::default();

        check.single_line_text("title", &self.title, MAX_TITLE_CHARS);
        check.text("summary", &self.summary, MAX_SUMMARY_CHARS);

        // context
        let context = &self.context;
        let latest = today.checked_add_days(Days::new(1)).unwrap_or(today);
        if context.started_on < EARLIEST_STARTED_ON || context.started_on > latest {
            check.error(
                "context.started_on",
                FieldErrorCode::OutOfRange,
                format!("must be between {EARLIEST_STARTED_ON} and {latest}"),
            );
        }
        if context.country.is_some() && context.region.is_none() {
            check.error(
                "context.region",
                FieldErrorCode::Required,
                "is required when a country is given (it is shown instead of the country when too few members share it)",
            );
        }

        // affected
        let affected = &mut self.affected;
        if check.list_len(
            "affected.services",
            affected.services.len(),
            MAX_ENUM_LIST_ITEMS,
        ) {
            dedup(&mut affected.services);
        }
        if check.list_len(
            "affected.other_network_domains",
            affected.other_network_domains.len(),
            MAX_ENUM_LIST_ITEMS,
        ) {
            dedup(&mut affected.other_network_domains);
            if let Some(main) = affected.network_domain {
                affected
                    .other_network_domains
                    .retain(|domain| *domain != main);
            }
        }
        if check.list_len(
            "affected.assets",
            affected.assets.len(),
            MAX_ENUM_LIST_ITEMS,
        ) {
            dedup(&mut affected.assets);
        }

        // cause
        let cause = &self.cause;
        check.optional_text(
            "cause.detailed_cause",
            cause.detailed_cause.as_deref(),
            MAX_TEXT_CHARS,
        );
        if let Some(chain) = &cause.causal_chain {
            for (name, text) in [
                ("initiating_event", &chain.initiating_event),
                ("latent_condition", &chain.latent_condition),
                ("propagation", &chain.propagation),
                ("recovery_obstacle", &chain.recovery_obstacle),
            ] {
                check.optional_text(
                    &join("cause.causal_chain", name),
                    text.as_deref(),
                    MAX_TEXT_CHARS,
                );
            }
        }

        // impact
        let impact = &self.impact;
        if let Some(minutes) = impact.duration_minutes {
            check.range(
                "impact.duration_minutes",
                u64::from(minutes),
                1,
                u64::from(MAX_DURATION_MINUTES),
            );
        }
        check.optional_text(
            "impact.duration_note",
            impact.duration_note.as_deref(),
            MAX_DURATION_NOTE_CHARS,
        );
        if let Some(subscribers) = impact.subscribers_affected {
            check.range(
                "impact.subscribers_affected",
                subscribers,
                0,
                MAX_SUBSCRIBERS_AFFECTED,
            );
        }
        if let Some(calls) = &impact.emergency_calls {
            check.range(
                "impact.emergency_calls.failed",
                calls.failed,
                0,
                MAX_EMERGENCY_CALLS_FAILED,
            );
            if let Some(share) = calls.share_percent
                && !(0.0..=100.0).contains(&share)
            {
                check.error(
                    "impact.emergency_calls.share_percent",
                    FieldErrorCode::OutOfRange,
                    "must be between 0 and 100",
                );
            }
        }
        if let Some(redundancy) = &impact.redundancy
            && let Some(sites) = redundancy.sites
        {
            if redundancy.outcome == RedundancyOutcome::NotPresent {
                check.error(
                    "impact.redundancy.sites",
                    FieldErrorCode::Inconsistent,
                    "must be null when outcome is `not_present`",
                );
            } else {
                check.range(
                    "impact.redundancy.sites",
                    u64::from(sites),
                    1,
                    u64::from(MAX_REDUNDANT_SITES),
                );
            }
        }
        check.optional_text(
            "impact.description",
            impact.description.as_deref(),
            MAX_TEXT_CHARS,
        );

        // response
        let response = &mut self.response;
        for (name, minutes) in [
            ("minutes_to_detect", response.minutes_to_detect),
            ("minutes_to_diagnose", response.minutes_to_diagnose),
            ("minutes_to_restore", response.minutes_to_restore),
            (
                "minutes_to_notify_authorities",
                response.minutes_to_notify_authorities,
            ),
            (
                "minutes_to_notify_operators",
                response.minutes_to_notify_operators,
            ),
        ] {
            if let Some(minutes) = minutes {
                check.range(
                    &join("response", name),
                    u64::from(minutes),
                    0,
                    u64::from(MAX_DURATION_MINUTES),
                );
            }
        }
        if check.list_len(
            "response.restoration_methods",
            response.restoration_methods.len(),
            MAX_ENUM_LIST_ITEMS,
        ) {
            dedup(&mut response.restoration_methods);
        }
        check.optional_text(
            "response.restoration_notes",
            response.restoration_notes.as_deref(),
            MAX_TEXT_CHARS,
        );

        // narrative
        if check.list_len("timeline", self.timeline.len(), MAX_TIMELINE_ENTRIES) {
            let bound = i64::from(MAX_DURATION_MINUTES);
            for (index, entry) in self.timeline.iter().enumerate() {
                let path = item("timeline", index);
                if !(-bound..=bound).contains(&i64::from(entry.offset_minutes)) {
                    check.error(
                        join(&path, "offset_minutes"),
                        FieldErrorCode::OutOfRange,
                        format!("must be between -{bound} and {bound}"),
                    );
                }
                check.text(
                    &join(&path, "event"),
                    &entry.event,
                    MAX_TIMELINE_EVENT_CHARS,
                );
            }
        }
        check.optional_text("notes", self.notes.as_deref(), MAX_TEXT_CHARS);
        if check.list_len("lessons", self.lessons.len(), MAX_LESSONS) {
            for (index, lesson) in self.lessons.iter().enumerate() {
                check.text(&item("lessons", index), lesson, MAX_LESSON_CHARS);
            }
        }

        match ValidationErrors::from_list(check.errors) {
            Some(errors) => Err(errors),
            None => Ok(ReportContent::from_validated(self)),
        }
    }
}

#[derive(Default)]
struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn error(
        &mut self,
        field: impl Into<String>,
        code: FieldErrorCode,
        message: impl Into<String>,
    ) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// Required free text: not blank, at most `max` characters, no control
    /// characters other than line breaks and tabs.
    fn text(&mut self, field: &str, text: &str, max: usize) {
        if self.not_blank_within(field, text, max)
            && text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.error(
                field,
                FieldErrorCode::InvalidValue,
                "must not contain control characters other than line breaks and tabs",
            );
        }
    }

    /// Required text on one line, without any control character.
    fn single_line_text(&mut self, field: &str, text: &str, max: usize) {
        if self.not_blank_within(field, text, max) && text.chars().any(char::is_control) {
            self.error(
                field,
                FieldErrorCode::InvalidValue,
                "must be a single line without control characters",
            );
        }
    }

    fn optional_text(&mut self, field: &str, text: Option<&str>, max: usize) {
        if let Some(text) = text {
            self.text(field, text, max);
        }
    }

    /// Reports blank or too long text; `true` when the text is not blank, so
    /// its characters are worth checking.
    fn not_blank_within(&mut self, field: &str, text: &str, max: usize) -> bool {
        if text.trim().is_empty() {
            self.error(field, FieldErrorCode::Blank, "must not be blank");
            return false;
        }
        let chars = text.chars().count();
        if chars > max {
            self.error(
                field,
                FieldErrorCode::TooLong,
                format!("at most {max} characters, got {chars}"),
            );
        }
        true
    }

    /// Checks a list length; `true` when within the limit, so its items are
    /// worth checking.
    fn list_len(&mut self, field: &str, len: usize, max: usize) -> bool {
        if len > max {
            self.error(
                field,
                FieldErrorCode::TooMany,
                format!("at most {max} items, got {len}"),
            );
            false
        } else {
            true
        }
    }

    fn range(&mut self, field: &str, value: u64, min: u64, max: u64) {
        if !(min..=max).contains(&value) {
            self.error(
                field,
                FieldErrorCode::OutOfRange,
                format!("must be between {min} and {max}"),
            );
        }
    }
}

/// Removes repeated values, keeping the first occurrence of each.
fn dedup<T: PartialEq + Copy>(list: &mut Vec<T>) {
    let mut seen = Vec::with_capacity(list.len());
    list.retain(|value| {
        if seen.contains(value) {
            false
        } else {
            seen.push(*value);
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::input::{
        CausalChain, EmergencyCallImpact, Redundancy, TimelineEntry, report_input_example,
    };
    use crate::report::taxonomy::{Asset, NetworkDomain, Region, RestorationMethod, Service};
    use crate::report::values::CountryCode;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).expect("valid date")
    }

    fn example() -> ReportInput {
        serde_json::from_value(report_input_example()).expect("example deserialises")
    }

    fn rejected(input: ReportInput) -> ValidationErrors {
        input.validate_at(today()).expect_err("must be rejected")
    }

    fn assert_error(errors: &ValidationErrors, field: &str, code: FieldErrorCode) {
        assert!(
            errors.find(field, code).is_some(),
            "expected {code} at `{field}` in {errors:#?}"
        );
    }

    #[test]
    fn the_documented_example_is_valid() {
        let content = example()
            .validate_at(today())
            .expect("the example validates");
        assert_eq!(content.as_input(), &example());
    }

    #[test]
    fn validate_uses_the_clock() {
        assert!(example().validate().is_ok());
        let mut input = example();
        input.context.started_on = Utc::now().date_naive() + Days::new(3);
        assert_error(
            &input.validate().expect_err("future"),
            "context.started_on",
            FieldErrorCode::OutOfRange,
        );
    }

    #[test]
    fn blank_required_and_optional_text_is_rejected() {
        let mut input = example();
        input.title = "   ".into();
        input.summary = String::new();
        input.notes = Some("\n\t".into());
        input.lessons = vec!["ok".into(), " ".into()];
        input.timeline[1].event = String::new();
        input.cause.causal_chain = Some(CausalChain {
            propagation: Some(String::new()),
            ..CausalChain::default()
        });
        let errors = rejected(input);
        for field in [
            "title",
            "summary",
            "notes",
            "lessons[1]",
            "timeline[1].event",
            "cause.causal_chain.propagation",
        ] {
            assert_error(&errors, field, FieldErrorCode::Blank);
        }
        assert_eq!(errors.errors().len(), 6, "{errors:#?}");
    }

    #[test]
    fn text_limits_count_characters_not_bytes() {
        let mut input = example();
        input.title = "é".repeat(MAX_TITLE_CHARS); // 400 bytes, 200 characters
        assert!(input.clone().validate_at(today()).is_ok());
        input.title.push('é');
        input.summary = "s".repeat(MAX_SUMMARY_CHARS + 1);
        input.impact.duration_note = Some("n".repeat(MAX_DURATION_NOTE_CHARS + 1));
        input.impact.description = Some("d".repeat(MAX_TEXT_CHARS + 1));
        input.lessons[2] = "l".repeat(MAX_LESSON_CHARS + 1);
        input.timeline[0].event = "e".repeat(MAX_TIMELINE_EVENT_CHARS + 1);
        let errors = rejected(input);
        for field in [
            "title",
            "summary",
            "impact.duration_note",
            "impact.description",
            "lessons[2]",
            "timeline[0].event",
        ] {
            assert_error(&errors, field, FieldErrorCode::TooLong);
        }
        assert_eq!(errors.errors().len(), 6, "{errors:#?}");
    }

    #[test]
    fn control_characters_are_refused_and_the_title_is_one_line() {
        let mut input = example();
        input.title = "two\nlines".into();
        input.summary = "line one\nline two\ttabbed\r\n".into();
        input.lessons = vec!["bell\u{7}".into()];
        let errors = rejected(input);
        assert_error(&errors, "title", FieldErrorCode::InvalidValue);
        assert_error(&errors, "lessons[0]", FieldErrorCode::InvalidValue);
        assert_eq!(errors.errors().len(), 2, "{errors:#?}");
    }

    #[test]
    fn list_sizes_are_bounded() {
        let mut input = example();
        input.lessons = vec!["lesson".into(); MAX_LESSONS + 1];
        input.timeline = vec![
            TimelineEntry {
                offset_minutes: 0,
                event: "event".into()
            };
            MAX_TIMELINE_ENTRIES + 1
        ];
        input.affected.services = vec![Service::Voice; MAX_ENUM_LIST_ITEMS + 1];
        input.affected.other_network_domains = vec![NetworkDomain::Ims; MAX_ENUM_LIST_ITEMS + 1];
        input.affected.assets = vec![Asset::Msc; MAX_ENUM_LIST_ITEMS + 1];
        input.response.restoration_methods =
            vec![RestorationMethod::Restart; MAX_ENUM_LIST_ITEMS + 1];
        let errors = rejected(input);
        for field in [
            "lessons",
            "timeline",
            "affected.services",
            "affected.other_network_domains",
            "affected.assets",
            "response.restoration_methods",
        ] {
            assert_error(&errors, field, FieldErrorCode::TooMany);
        }
        assert_eq!(errors.errors().len(), 6, "{errors:#?}");
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        let mut input = example();
        input.lessons = vec!["l".repeat(MAX_LESSON_CHARS); MAX_LESSONS];
        input.impact.duration_minutes = Some(MAX_DURATION_MINUTES);
        input.impact.subscribers_affected = Some(MAX_SUBSCRIBERS_AFFECTED);
        input.impact.emergency_calls = Some(EmergencyCallImpact {
            failed: MAX_EMERGENCY_CALLS_FAILED,
            share_percent: Some(100.0),
        });
        input.timeline[0].offset_minutes = -i32::try_from(MAX_DURATION_MINUTES).expect("fits");
        input.context.started_on = today() + Days::new(1);
        assert!(input.clone().validate_at(today()).is_ok());
        input.context.started_on = EARLIEST_STARTED_ON;
        assert!(input.validate_at(today()).is_ok());
    }

    #[test]
    fn numbers_out_of_range_are_named() {
        let mut input = example();
        input.context.started_on = NaiveDate::from_ymd_opt(1979, 12, 31).expect("valid date");
        input.impact.duration_minutes = Some(0);
        input.impact.subscribers_affected = Some(MAX_SUBSCRIBERS_AFFECTED + 1);
        input.impact.emergency_calls = Some(EmergencyCallImpact {
            failed: MAX_EMERGENCY_CALLS_FAILED + 1,
            share_percent: Some(100.5),
        });
        input.impact.redundancy = Some(Redundancy {
            outcome: RedundancyOutcome::Worked,
            sites: Some(0),
        });
        input.response.minutes_to_notify_operators = Some(MAX_DURATION_MINUTES + 1);
        input.timeline[2].offset_minutes = i32::MAX;
        let errors = rejected(input);
        for field in [
            "context.started_on",
            "impact.duration_minutes",
            "impact.subscribers_affected",
            "impact.emergency_calls.failed",
            "impact.emergency_calls.share_percent",
            "impact.redundancy.sites",
            "response.minutes_to_notify_operators",
            "timeline[2].offset_minutes",
        ] {
            assert_error(&errors, field, FieldErrorCode::OutOfRange);
        }
        assert_eq!(errors.errors().len(), 8, "{errors:#?}");
    }

    #[test]
    fn contradictions_are_inconsistent_or_required() {
        let mut input = example();
        input.impact.redundancy = Some(Redundancy {
            outcome: RedundancyOutcome::NotPresent,
            sites: Some(2),
        });
        input.context.region = None;
        let errors = rejected(input);
        assert_error(
            &errors,
            "impact.redundancy.sites",
            FieldErrorCode::Inconsistent,
        );
        assert_error(&errors, "context.region", FieldErrorCode::Required);
        assert_eq!(errors.errors().len(), 2, "{errors:#?}");

        let mut input = example();
        input.context.country = None;
        input.context.region = None;
        assert!(
            input.validate_at(today()).is_ok(),
            "neither country nor region is fine"
        );
    }

    #[test]
    fn enum_lists_are_deduplicated_in_order() {
        let mut input = example();
        input.affected.services = vec![
            Service::Sms,
            Service::Voice,
            Service::Sms,
            Service::Data,
            Service::Voice,
        ];
        input.affected.network_domain = Some(NetworkDomain::Core);
        input.affected.other_network_domains = vec![
            NetworkDomain::Transport,
            NetworkDomain::Core,
            NetworkDomain::Transport,
        ];
        input.affected.assets = vec![Asset::Hlr, Asset::Hlr];
        input.response.restoration_methods =
            vec![RestorationMethod::Restart, RestorationMethod::Restart];
        let content = input.validate_at(today()).expect("valid");
        let affected = content.affected();
        assert_eq!(
            affected.services,
            vec![Service::Sms, Service::Voice, Service::Data]
        );
        assert_eq!(
            affected.other_network_domains,
            vec![NetworkDomain::Transport]
        );
        assert_eq!(affected.assets, vec![Asset::Hlr]);
        assert_eq!(
            content.response().restoration_methods,
            vec![RestorationMethod::Restart]
        );
    }

    #[test]
    fn all_errors_are_collected_in_one_pass() {
        let body = json!({
            "title": "",
            "summary": "fine",
            "context": {"started_on": "1970-01-01", "country": "FR"},
            "impact": {"emergency_calls": {"failed": 1, "share_percent": -1.0}},
            "lessons": ["", "ok", ""]
        });
        let input = ReportInput::from_json(body).expect("structurally fine");
        let errors = rejected(input);
        let fields: Vec<_> = errors
            .errors()
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("title", "blank"),
                ("context.started_on", "out_of_range"),
                ("context.region", "required"),
                ("impact.emergency_calls.share_percent", "out_of_range"),
                ("lessons[0]", "blank"),
                ("lessons[2]", "blank"),
            ]
        );
    }

    #[test]
    fn a_minimal_report_is_valid() {
        let input = ReportInput::from_json(json!({
            "title": "SMS delivery failed", "summary": "SMS were delayed for two hours.",
            "context": {"started_on": "2011-04-24", "country": "AU", "region": "oceania"}
        }))
        .expect("well formed");
        let content = input.validate_at(today()).expect("valid");
        assert_eq!(
            content.context().country,
            Some(CountryCode::parse("AU").expect("assigned"))
        );
        assert_eq!(content.context().region, Some(Region::Oceania));
        assert!(content.lessons().is_empty());
    }
}
