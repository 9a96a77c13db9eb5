//! Structural check of a request body: turning JSON into a [`ReportInput`]
//! with every structural problem named by path.
//!
//! serde stops at the first problem and does not say where it is. So
//! [`ReportInput::from_json`] first lets serde try; only when that fails does
//! it walk the body member by member, deserialising each member into its
//! field's type on its own and recursing into groups and lists, so that all
//! missing, unknown and mistyped members are reported with their paths.
//!
//! serde's derive stays the single definition of the format: the walk below
//! only explains a failure, and a unit test checks that each walk visits
//! exactly the members serde knows. If the walk ever finds nothing (it and
//! serde disagree), serde's own error is reported at the body.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::errors::{
    BODY, FieldError, FieldErrorCode, ValidationErrors, field_error_from_serde, item, join,
};
use super::input::{
    AffectedSystems, CausalChain, EmergencyCallImpact, IncidentCause, IncidentContext,
    IncidentImpact, IncidentResponse, Redundancy, ReportInput, TimelineEntry,
};
use super::taxonomy::{Asset, NetworkDomain, RestorationMethod, Service};

impl ReportInput {
    /// Reads a request body. Every structural problem (missing, unknown or
    /// mistyped member, unknown enum value, malformed date) is reported with
    /// its path; limits and consistency are checked later by
    /// [`ReportInput::validate`].
    pub fn from_json(body: Value) -> Result<ReportInput, ValidationErrors> {
        match serde_json::from_value::<ReportInput>(body.clone()) {
            Ok(input) => Ok(input),
            Err(serde_error) => {
                let mut errors = Vec::new();
                match &body {
                    Value::Object(object) => {
                        let mut members = Members::new(object, String::new(), &mut errors);
                        ReportInput::walk(&mut members);
                        members.finish();
                    }
                    _ => errors.push(FieldError::new(
                        BODY,
                        FieldErrorCode::InvalidType,
                        "the body must be a JSON object",
                    )),
                }
                Err(ValidationErrors::from_list(errors).unwrap_or_else(|| {
                    ValidationErrors::single(field_error_from_serde("", &serde_error))
                }))
            }
        }
    }
}

/// A JSON object type whose members can be checked one by one.
pub(crate) trait Walk {
    /// Declares every member, in the order of the struct.
    fn walk(members: &mut Members<'_>);
}

/// Checks the members of one JSON object at `path`, collecting errors.
pub(crate) struct Members<'a> {
    object: &'a Map<String, Value>,
    path: String,
    known: Vec<&'static str>,
    errors: &'a mut Vec<FieldError>,
}

impl<'a> Members<'a> {
    fn new(object: &'a Map<String, Value>, path: String, errors: &'a mut Vec<FieldError>) -> Self {
        Members {
            object,
            path,
            known: Vec::new(),
            errors,
        }
    }

    fn take(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.object.get(name)
    }

    /// A member that must be present and not `null`.
    fn required<T: DeserializeOwned>(&mut self, name: &'static str) {
        match self.take(name) {
            None | Some(Value::Null) => self.missing(name),
            Some(value) => check::<T>(value, &join(&self.path, name), self.errors),
        }
    }

    /// A member that may be left out; `T` says whether `null` is allowed
    /// (`Option<_>`) or not (a defaulted list or value).
    fn optional<T: DeserializeOwned>(&mut self, name: &'static str) {
        if let Some(value) = self.take(name) {
            check::<T>(value, &join(&self.path, name), self.errors);
        }
    }

    /// A list that may be left out (not `null`); each item is checked.
    fn list<T: DeserializeOwned>(&mut self, name: &'static str) {
        if let Some(value) = self.take(name) {
            let path = join(&self.path, name);
            match value {
                Value::Array(items) => {
                    for (index, value) in items.iter().enumerate() {
                        check::<T>(value, &item(&path, index), self.errors);
                    }
                }
                _ => self.errors.push(not_a(&path, "a list")),
            }
        }
    }

    /// A group that must be present.
    fn required_group<T: Walk>(&mut self, name: &'static str) {
        match self.take(name) {
            None | Some(Value::Null) => self.missing(name),
            Some(value) => walk_object::<T>(value, join(&self.path, name), self.errors),
        }
    }

    /// A group that may be left out; `nullable` when the field is an `Option`.
    fn optional_group<T: Walk>(&mut self, name: &'static str, nullable: bool) {
        match self.take(name) {
            None => {}
            Some(Value::Null) if nullable => {}
            Some(value) => walk_object::<T>(value, join(&self.path, name), self.errors),
        }
    }

    /// A list of groups that may be left out (not `null`).
    fn group_list<T: Walk>(&mut self, name: &'static str) {
        if let Some(value) = self.take(name) {
            let path = join(&self.path, name);
            match value {
                Value::Array(items) => {
                    for (index, value) in items.iter().enumerate() {
                        walk_object::<T>(value, item(&path, index), self.errors);
                    }
                }
                _ => self.errors.push(not_a(&path, "a list")),
            }
        }
    }

    fn missing(&mut self, name: &'static str) {
        self.errors.push(FieldError::new(
            join(&self.path, name),
            FieldErrorCode::Required,
            "is required",
        ));
    }

    /// Reports the members that no declaration claimed.
    fn finish(self) {
        for name in self.object.keys() {
            if !self.known.contains(&name.as_str()) {
                self.errors.push(FieldError::new(
                    join(&self.path, name),
                    FieldErrorCode::UnknownField,
                    format!("unknown field, expected one of: {}", self.known.join(", ")),
                ));
            }
        }
    }
}

fn walk_object<T: Walk>(value: &Value, path: String, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(object) => {
            let mut members = Members::new(object, path, errors);
            T::walk(&mut members);
            members.finish();
        }
        _ => errors.push(not_a(&path, "an object")),
    }
}

fn check<T: DeserializeOwned>(value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if let Err(error) = T::deserialize(value) {
        errors.push(field_error_from_serde(path, &error));
    }
}

fn not_a(path: &str, expected: &str) -> FieldError {
    FieldError::new(
        path,
        FieldErrorCode::InvalidType,
        format!("expected {expected}"),
    )
}

impl Walk for ReportInput {
    fn walk(m: &mut Members<'_>) {
        m.required::<String>("title");
        m.required::<String>("summary");
        m.optional::<super::taxonomy::Tlp>("tlp");
        m.required_group::<IncidentContext>("context");
        m.optional_group::<AffectedSystems>("affected", false);
        m.optional_group::<IncidentCause>("cause", false);
        m.optional_group::<IncidentImpact>("impact", false);
        m.optional_group::<IncidentResponse>("response", false);
        m.group_list::<TimelineEntry>("timeline");
        m.optional::<Option<String>>("notes");
        m.list::<String>("lessons");
    }
}

impl Walk for IncidentContext {
    fn walk(m: &mut Members<'_>) {
        m.required::<chrono::NaiveDate>("started_on");
        m.optional::<Option<super::values::TimeOfDay>>("start_time");
        m.optional::<Option<super::values::UtcOffset>>("utc_offset");
        m.optional::<Option<super::values::CountryCode>>("country");
        m.optional::<Option<super::taxonomy::Region>>("region");
        m.optional::<Option<super::taxonomy::Scope>>("scope");
        m.optional::<Option<super::taxonomy::OperatorType>>("operator_type");
    }
}

impl Walk for AffectedSystems {
    fn walk(m: &mut Members<'_>) {
        m.list::<Service>("services");
        m.optional::<Option<NetworkDomain>>("network_domain");
        m.list::<NetworkDomain>("other_network_domains");
        m.list::<Asset>("assets");
    }
}

impl Walk for IncidentCause {
    fn walk(m: &mut Members<'_>) {
        m.optional::<Option<super::taxonomy::RootCauseCategory>>("root_cause_category");
        m.optional::<Option<super::taxonomy::Trigger>>("trigger");
        m.optional::<Option<bool>>("third_party_involved");
        m.optional::<Option<String>>("detailed_cause");
        m.optional_group::<CausalChain>("causal_chain", true);
    }
}

impl Walk for CausalChain {
    fn walk(m: &mut Members<'_>) {
        m.optional::<Option<String>>("initiating_event");
        m.optional::<Option<String>>("latent_condition");
        m.optional::<Option<String>>("propagation");
        m.optional::<Option<String>>("recovery_obstacle");
    }
}

impl Walk for IncidentImpact {
    fn walk(m: &mut Members<'_>) {
        m.optional::<Option<u32>>("duration_minutes");
        m.optional::<Option<String>>("duration_note");
        m.optional::<Option<u64>>("subscribers_affected");
        m.optional_group::<EmergencyCallImpact>("emergency_calls", true);
        m.optional_group::<Redundancy>("redundancy", true);
        m.optional::<Option<String>>("description");
    }
}

impl Walk for EmergencyCallImpact {
    fn walk(m: &mut Members<'_>) {
        m.required::<u64>("failed");
        m.optional::<Option<f64>>("share_percent");
    }
}

impl Walk for Redundancy {
    fn walk(m: &mut Members<'_>) {
        m.required::<super::taxonomy::RedundancyOutcome>("outcome");
        m.optional::<Option<u16>>("sites");
    }
}

impl Walk for IncidentResponse {
    fn walk(m: &mut Members<'_>) {
        m.optional::<Option<super::taxonomy::DetectionSource>>("detection_source");
        m.optional::<Option<u32>>("minutes_to_detect");
        m.optional::<Option<u32>>("minutes_to_diagnose");
        m.optional::<Option<u32>>("minutes_to_restore");
        m.optional::<Option<u32>>("minutes_to_notify_authorities");
        m.optional::<Option<u32>>("minutes_to_notify_operators");
        m.list::<RestorationMethod>("restoration_methods");
        m.optional::<Option<String>>("restoration_notes");
    }
}

impl Walk for TimelineEntry {
    fn walk(m: &mut Members<'_>) {
        m.required::<i32>("offset_minutes");
        m.required::<String>("event");
    }
}

#[cfg(test)]
mod tests {
    use serde::de::{self, Deserializer, Visitor};
    use serde_json::json;

    use super::*;
    use crate::report::input::report_input_example;

    /// The member names serde's derive expects for `T`, captured from the
    /// `deserialize_struct` call it makes.
    fn serde_members<T: DeserializeOwned>() -> Vec<&'static str> {
        struct Capture<'a>(&'a mut Vec<&'static str>);

        impl<'de> Deserializer<'de> for Capture<'_> {
            type Error = de::value::Error;

            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }

            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _name: &'static str,
                fields: &'static [&'static str],
                _visitor: V,
            ) -> Result<V::Value, Self::Error> {
                self.0.extend_from_slice(fields);
                Err(de::Error::custom("captured"))
            }

            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map enum identifier ignored_any
            }
        }

        let mut fields = Vec::new();
        let _ = T::deserialize(Capture(&mut fields));
        fields
    }

    fn walked_members<T: Walk>() -> Vec<&'static str> {
        let empty = Map::new();
        let mut errors = Vec::new();
        let mut members = Members::new(&empty, String::new(), &mut errors);
        T::walk(&mut members);
        members.known
    }

    fn same_members<T: Walk + DeserializeOwned>() {
        let serde = serde_members::<T>();
        assert!(!serde.is_empty(), "{}", std::any::type_name::<T>());
        assert_eq!(
            walked_members::<T>(),
            serde,
            "{}",
            std::any::type_name::<T>()
        );
    }

    #[test]
    fn each_walk_declares_exactly_the_members_serde_knows() {
        same_members::<ReportInput>();
        same_members::<IncidentContext>();
        same_members::<AffectedSystems>();
        same_members::<IncidentCause>();
        same_members::<CausalChain>();
        same_members::<IncidentImpact>();
        same_members::<EmergencyCallImpact>();
        same_members::<Redundancy>();
        same_members::<IncidentResponse>();
        same_members::<TimelineEntry>();
    }

    fn errors_of(body: Value) -> Vec<(String, String)> {
        let errors = ReportInput::from_json(body).expect_err("must be rejected");
        errors
            .into_errors()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pair(field: &str, code: FieldErrorCode) -> (String, String) {
        (field.to_owned(), code.into())
    }

    #[test]
    fn a_valid_body_is_read_as_is() {
        let input = ReportInput::from_json(report_input_example()).expect("example is well formed");
        assert_eq!(
            serde_json::to_value(&input).expect("serialises"),
            report_input_example()
        );
    }

    #[test]
    fn a_minimal_body_gets_defaults() {
        let input = ReportInput::from_json(json!({
            "title": "t", "summary": "s", "context": {"started_on": "2024-01-03"}
        }))
        .expect("well formed");
        assert_eq!(input.tlp, crate::report::Tlp::Green);
        assert!(input.lessons.is_empty() && input.timeline.is_empty());
        assert_eq!(input.affected, AffectedSystems::default());
        assert_eq!(input.context.country, None);
    }

    #[test]
    fn every_structural_problem_is_reported_with_its_path() {
        let body = json!({
            "summary": 42,
            "tlp": "purple",
            "context": {"started_on": "2024-02-30", "start_time": "25:00", "country": "UK", "colour": "red"},
            "affected": {"services": ["voice", "telex"], "network_domain": null, "assets": "msc"},
            "cause": {"causal_chain": {"initiating_event": "x", "root": "y"}},
            "impact": {
                "duration_minutes": -5,
                "subscribers_affected": 1.5,
                "emergency_calls": {"share_percent": 10.0},
                "redundancy": {"outcome": "failed_common_mode", "sites": 70000}
            },
            "response": {"restoration_methods": ["rollback", 3], "minutes_to_detect": "ten"},
            "timeline": [{"offset_minutes": 0, "event": "ok"}, {"event": "no offset"}, "text"],
            "notes": null,
            "lessons": ["fine", null],
            "operator": "must not be here"
        });
        let errors = errors_of(body);
        let expected = [
            pair("title", FieldErrorCode::Required),
            pair("summary", FieldErrorCode::InvalidType),
            pair("tlp", FieldErrorCode::InvalidValue),
            pair("context.started_on", FieldErrorCode::InvalidValue),
            pair("context.start_time", FieldErrorCode::InvalidValue),
            pair("context.country", FieldErrorCode::InvalidValue),
            pair("context.colour", FieldErrorCode::UnknownField),
            pair("affected.services[1]", FieldErrorCode::InvalidValue),
            pair("affected.assets", FieldErrorCode::InvalidType),
            pair("cause.causal_chain.root", FieldErrorCode::UnknownField),
            pair("impact.duration_minutes", FieldErrorCode::OutOfRange),
            pair("impact.subscribers_affected", FieldErrorCode::InvalidType),
            pair("impact.emergency_calls.failed", FieldErrorCode::Required),
            pair("impact.redundancy.sites", FieldErrorCode::OutOfRange),
            pair("response.minutes_to_detect", FieldErrorCode::InvalidType),
            pair(
                "response.restoration_methods[1]",
                FieldErrorCode::InvalidType,
            ),
            pair("timeline[1].offset_minutes", FieldErrorCode::Required),
            pair("timeline[2]", FieldErrorCode::InvalidType),
            pair("lessons[1]", FieldErrorCode::Required),
            pair("operator", FieldErrorCode::UnknownField),
        ];
        for error in &expected {
            assert!(errors.contains(error), "missing {error:?} in {errors:#?}");
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    }

    #[test]
    fn unknown_members_name_the_expected_ones() {
        let mut body = report_input_example();
        body["impact"]["downtime"] = json!(3);
        let errors = ReportInput::from_json(body).expect_err("unknown member");
        let error = errors
            .find("impact.downtime", FieldErrorCode::UnknownField)
            .expect("named with its path");
        assert!(
            error.message.contains("duration_minutes"),
            "{}",
            error.message
        );
        assert_eq!(errors.errors().len(), 1);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_rejected_at_the_root() {
        for body in [json!([]), json!("report"), json!(null)] {
            assert_eq!(
                errors_of(body),
                vec![pair(BODY, FieldErrorCode::InvalidType)]
            );
        }
    }

    #[test]
    fn null_is_refused_where_serde_refuses_it() {
        // Lists and defaulted groups may be left out but not set to null;
        // optional values may be null.
        let mut body = report_input_example();
        body["affected"] = Value::Null;
        body["lessons"] = Value::Null;
        body["impact"]["redundancy"] = Value::Null;
        body["cause"]["trigger"] = Value::Null;
        let errors = errors_of(body);
        assert!(
            errors.contains(&pair("affected", FieldErrorCode::InvalidType)),
            "{errors:?}"
        );
        assert!(
            errors.contains(&pair("lessons", FieldErrorCode::InvalidType)),
            "{errors:?}"
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
