//! The telecom development corpus (`data/telecom/incidents.jsonl`): 32 real,
//! public outages written as operator filings, and their mapping to
//! [`ReportInput`].
//!
//! Policy:
//! - [`TelecomRecord`] is the line format exactly (unknown members are
//!   rejected, so a format change is noticed).
//! - The mapping keeps everything a filing operator would report and drops
//!   what identifies the operator or only describes the corpus:
//!   `operator`, `vendor` and `slug` name the organisations;
//!   `public_sources` names operators, vendors and press titles (and a
//!   filing does not cite sources); `confidence` grades the corpus authors'
//!   sources, not the incident; `summary_word_count` and
//!   `summary_names_operator` describe the corpus text; `id` is the corpus's
//!   own key (use it as the import's idempotency key, not as report content).
//! - The corpus has no title: one is composed from the taxonomy (domain,
//!   trigger, services), which cannot leak names.
//! - Corpus records are public facts, so they are `tlp: clear`.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::report::{
    AffectedSystems, CountryCode, EmergencyCallImpact, IncidentCause, IncidentContext,
    IncidentImpact, IncidentResponse, NetworkDomain, OperatorType, Region, ReportInput,
    RootCauseCategory, Service, Tlp, Trigger,
};

/// One line of `incidents.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelecomRecord {
    /// `tel-` and 8 hex characters.
    pub id: String,
    /// Human-readable key; names the operator.
    pub slug: String,
    /// Start date, local time of the affected country.
    pub date: NaiveDate,
    /// Main country; `None` for multi-country events.
    pub country: Option<CountryCode>,
    /// Continent or sub-region label (`Europe`, `Asia`, `Global`, ...).
    pub region: String,
    /// Affected organisation(s): public fact, never part of a report.
    pub operator: String,
    pub operator_type: OperatorType,
    /// Supplier, only where publicly named: never part of a report.
    pub vendor: Option<String>,
    pub services_affected: Vec<Service>,
    pub network_domain: Option<NetworkDomain>,
    pub network_domain_other: Vec<NetworkDomain>,
    pub trigger: Option<Trigger>,
    pub root_cause_category: Option<RootCauseCategory>,
    pub third_party_involved: Option<bool>,
    /// Approximate duration of customer impact, in hours.
    pub duration_hours: Option<f64>,
    pub duration_note: String,
    pub impact_subscribers: Option<u64>,
    pub emergency_calls_failed: Option<u64>,
    pub impact_text: String,
    pub summary: String,
    pub summary_word_count: u32,
    pub summary_names_operator: bool,
    pub lessons_learned: Vec<String>,
    pub public_sources: Vec<String>,
    pub confidence: SourceConfidence,
    pub notes: Option<String>,
}

/// How well the sources consulted support a corpus record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceConfidence {
    High,
    Medium,
    Low,
}

/// A line of the corpus that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct CorpusLineError {
    /// 1-based line number.
    pub line: usize,
    #[source]
    pub source: serde_json::Error,
}

/// Reads a JSON Lines corpus; blank lines are skipped. Stops at the first
/// bad line, naming it.
pub fn parse_jsonl(text: &str) -> Result<Vec<TelecomRecord>, CorpusLineError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|source| CorpusLineError {
                line: index + 1,
                source,
            })
        })
        .collect()
}

impl TelecomRecord {
    /// The record as an operator's filing; see the module documentation for
    /// what is dropped.
    pub fn to_report_input(&self) -> ReportInput {
        ReportInput {
            title: self.title(),
            summary: self.summary.clone(),
            tlp: Tlp::Clear,
            context: IncidentContext {
                started_on: self.date,
                start_time: None,
                utc_offset: None,
                country: self.country.clone(),
                region: region_from_label(&self.region),
                scope: None,
                operator_type: Some(self.operator_type),
            },
            affected: AffectedSystems {
                services: self.services_affected.clone(),
                network_domain: self.network_domain,
                other_network_domains: self.network_domain_other.clone(),
                assets: Vec::new(),
            },
            cause: IncidentCause {
                root_cause_category: self.root_cause_category,
                trigger: self.trigger,
                third_party_involved: self.third_party_involved,
                detailed_cause: None,
                causal_chain: None,
            },
            impact: IncidentImpact {
                duration_minutes: self.duration_hours.map(hours_to_minutes),
                duration_note: non_blank(&self.duration_note),
                subscribers_affected: self.impact_subscribers,
                emergency_calls: self
                    .emergency_calls_failed
                    .map(|failed| EmergencyCallImpact {
                        failed,
                        share_percent: None,
                    }),
                redundancy: None,
                description: non_blank(&self.impact_text),
            },
            response: IncidentResponse::default(),
            timeline: Vec::new(),
            notes: self.notes.as_deref().and_then(non_blank),
            lessons: self.lessons_learned.clone(),
        }
    }

    /// `<Domain> outage[ <trigger phrase>][: <services> affected]`, e.g.
    /// "Interconnect outage after a configuration change: emergency calls,
    /// fixed voice and voice affected".
    fn title(&self) -> String {
        let mut title = match self.network_domain {
            Some(domain) => format!("{} outage", domain_phrase(domain)),
            None => "Network outage".to_owned(),
        };
        if let Some(trigger) = self.trigger {
            title.push(' ');
            title.push_str(trigger_phrase(trigger));
        }
        if !self.services_affected.is_empty() {
            let services: Vec<String> = self
                .services_affected
                .iter()
                .map(|service| match service {
                    // Acronyms keep their case in mid-sentence.
                    Service::Volte
                    | Service::Vowifi
                    | Service::Sms
                    | Service::Mms
                    | Service::Tv => service.label().to_owned(),
                    other => other.label().to_lowercase(),
                })
                .collect();
            title.push_str(": ");
            title.push_str(&join_with_and(&services));
            title.push_str(" affected");
        }
        title
    }
}

impl fmt::Display for TelecomRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.date)
    }
}

/// The region enum for a corpus label. The corpus uses `Asia` only for
/// East Asian countries (TW, KR) and `Middle East / South Asia` for one
/// cable cut off Egypt that hit the Middle East first.
pub fn region_from_label(label: &str) -> Option<Region> {
    let region = match label {
        "Europe" => Region::Europe,
        "North America" => Region::NorthAmerica,
        "Central America" => Region::CentralAmerica,
        "Caribbean" => Region::Caribbean,
        "South America" => Region::SouthAmerica,
        "North Africa" => Region::NorthAfrica,
        "West Africa" => Region::WestAfrica,
        "Central Africa" => Region::CentralAfrica,
        "East Africa" => Region::EastAfrica,
        "Southern Africa" => Region::SouthernAfrica,
        "Middle East" | "Middle East / South Asia" => Region::MiddleEast,
        "Central Asia" => Region::CentralAsia,
        "South Asia" => Region::SouthAsia,
        "Asia" | "East Asia" => Region::EastAsia,
        "South-East Asia" | "Southeast Asia" => Region::SouthEastAsia,
        "Oceania" => Region::Oceania,
        "Global" => Region::Global,
        _ => return None,
    };
    Some(region)
}

/// Hours (with decimals) to whole minutes, rounded; negative or non-finite
/// input gives 0, which validation rejects.
fn hours_to_minutes(hours: f64) -> u32 {
    let minutes = (hours * 60.0).round();
    if minutes.is_finite() && minutes > 0.0 {
        // Saturating conversion: `as` clamps to u32::MAX, and validation
        // rejects anything above the maximum duration.
        minutes as u32
    } else {
        0
    }
}

fn non_blank(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

fn domain_phrase(domain: NetworkDomain) -> &'static str {
    match domain {
        NetworkDomain::Ran => "Radio access network",
        NetworkDomain::Transport => "Transport network",
        NetworkDomain::Core => "Core network",
        NetworkDomain::Ims => "IMS",
        NetworkDomain::Interconnect => "Interconnect",
        NetworkDomain::DnsBgp => "Routing and DNS",
        NetworkDomain::OssBss => "OSS/BSS",
        NetworkDomain::Cpe => "Customer equipment",
        NetworkDomain::ServicePlatform => "Service platform",
        NetworkDomain::Facilities => "Facilities",
    }
}

fn trigger_phrase(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::SoftwareUpgrade => "after a software upgrade",
        Trigger::ConfigChange => "after a configuration change",
        Trigger::Maintenance => "during maintenance",
        Trigger::RoutineCommands => "after routine commands",
        Trigger::CapacityExpansion => "during capacity expansion",
        Trigger::HardwareFailure => "after a hardware failure",
        Trigger::SoftwareBug => "from a software defect",
        Trigger::CertificateExpiry => "after a certificate expired",
        Trigger::Overload => "from overload",
        Trigger::Power => "after a power failure",
        Trigger::FibreCut => "after cable cuts",
        Trigger::Weather => "in severe weather",
        Trigger::Cyberattack => "from a cyberattack",
        Trigger::PhysicalAttack => "after a physical attack",
        Trigger::Fire => "after a fire",
    }
}

/// "a", "a and b", "a, b and c".
fn join_with_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::report::{ReportContent, Severity};

    const CORPUS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/telecom/incidents.jsonl"
    ));

    fn records() -> Vec<TelecomRecord> {
        parse_jsonl(CORPUS).expect("the corpus parses")
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date")
    }

    #[test]
    fn all_32_records_parse_with_every_member_read() {
        let records = records();
        assert_eq!(records.len(), 32);
        // Re-serialising gives back each line's members and values.
        for (line, record) in CORPUS.lines().zip(&records) {
            let original: serde_json::Value = serde_json::from_str(line).expect("json");
            let again = serde_json::to_value(record).expect("serialises");
            assert_eq!(numbers_as_f64(again), numbers_as_f64(original), "{record}");
        }
    }

    /// `2` and `2.0` are the same duration; `Value` equality says otherwise.
    fn numbers_as_f64(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Number(number) => number.as_f64().map_or(Value::Null, Value::from),
            Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_f64).collect()),
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(name, member)| (name, numbers_as_f64(member)))
                    .collect(),
            ),
            other => other,
        }
    }

    #[test]
    fn every_record_maps_validates_round_trips_and_keeps_its_fields() {
        for record in records() {
            let input = record.to_report_input();
            let content = input
                .clone()
                .validate_at(today())
                .unwrap_or_else(|errors| panic!("{record}: {errors}"));

            let stored = serde_json::to_string(&content).expect("serialises");
            let read: ReportContent = serde_json::from_str(&stored).expect("deserialises");
            assert_eq!(read, content, "{record}: round trip");
            let read = read.as_input();

            // Validation normalised nothing the corpus holds.
            assert_eq!(
                read, &input,
                "{record}: validation changed the mapped input"
            );

            // Field by field against the record.
            assert_eq!(read.summary, record.summary, "{record}");
            assert_eq!(read.lessons, record.lessons_learned, "{record}");
            assert_eq!(read.tlp, Tlp::Clear);
            let context = &read.context;
            assert_eq!(context.started_on, record.date, "{record}");
            assert_eq!(context.country, record.country, "{record}");
            assert_eq!(
                context.region,
                region_from_label(&record.region),
                "{record}"
            );
            assert!(
                context.region.is_some(),
                "{record}: region label {:?}",
                record.region
            );
            assert_eq!(
                context.operator_type,
                Some(record.operator_type),
                "{record}"
            );
            let affected = &read.affected;
            assert_eq!(affected.services, record.services_affected, "{record}");
            assert_eq!(affected.network_domain, record.network_domain, "{record}");
            assert_eq!(
                affected.other_network_domains, record.network_domain_other,
                "{record}"
            );
            let cause = &read.cause;
            assert_eq!(
                cause.root_cause_category, record.root_cause_category,
                "{record}"
            );
            assert_eq!(cause.trigger, record.trigger, "{record}");
            assert_eq!(
                cause.third_party_involved, record.third_party_involved,
                "{record}"
            );
            let impact = &read.impact;
            assert_eq!(
                impact.duration_minutes.map(|m| f64::from(m) / 60.0),
                record.duration_hours.map(|h| (h * 60.0).round() / 60.0),
                "{record}"
            );
            if let (Some(minutes), Some(hours)) = (impact.duration_minutes, record.duration_hours) {
                assert!((f64::from(minutes) - hours * 60.0).abs() <= 0.5, "{record}");
            }
            assert_eq!(
                impact.duration_note.as_deref(),
                Some(record.duration_note.as_str()),
                "{record}"
            );
            assert_eq!(
                impact.subscribers_affected, record.impact_subscribers,
                "{record}"
            );
            assert_eq!(
                impact.emergency_calls.as_ref().map(|calls| calls.failed),
                record.emergency_calls_failed,
                "{record}"
            );
            assert_eq!(
                impact.description.as_deref(),
                Some(record.impact_text.as_str()),
                "{record}"
            );
            assert_eq!(read.notes, record.notes, "{record}");
        }
    }

    #[test]
    fn nothing_that_names_the_operator_or_vendor_is_mapped() {
        for record in records() {
            let stored = serde_json::to_string(&record.to_report_input()).expect("serialises");
            for (what, value) in [
                ("slug", Some(record.slug.as_str())),
                ("operator", Some(record.operator.as_str())),
                ("vendor", record.vendor.as_deref()),
                ("id", Some(record.id.as_str())),
            ] {
                if let Some(value) = value {
                    assert!(!stored.contains(value), "{record}: {what} {value:?} leaked");
                }
            }
            for source in &record.public_sources {
                assert!(
                    !stored.contains(source.as_str()),
                    "{record}: source {source:?} leaked"
                );
            }
        }
    }

    #[test]
    fn titles_use_only_taxonomy_words() {
        // So a composed title cannot carry a name: every word comes from a
        // domain phrase, a trigger phrase, a service label or the frame.
        let mut vocabulary: Vec<String> = ["network", "outage", "affected", "and"]
            .iter()
            .map(|word| (*word).to_owned())
            .collect();
        let phrases = NetworkDomain::ALL
            .iter()
            .map(|domain| domain_phrase(*domain))
            .chain(Trigger::ALL.iter().map(|trigger| trigger_phrase(*trigger)))
            .chain(Service::ALL.iter().map(|service| service.label()));
        for phrase in phrases {
            vocabulary.extend(words(phrase));
        }
        for record in records() {
            let title = record.to_report_input().title;
            for word in words(&title) {
                assert!(
                    vocabulary.contains(&word),
                    "{record}: {word:?} in {title:?}"
                );
            }
        }
    }

    fn words(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
    }

    #[test]
    fn titles_are_composed_from_the_taxonomy() {
        let records = records();
        let title_of = |id: &str| {
            records
                .iter()
                .find(|record| record.id == id)
                .map(|record| record.to_report_input().title)
                .expect("record present")
        };
        assert_eq!(
            title_of("tel-d2bcba38"),
            "Interconnect outage after a configuration change: emergency calls, fixed voice and voice affected"
        );
        assert_eq!(
            title_of("tel-8ae71aab"),
            "Core network outage after a certificate expired: data, voice and SMS affected"
        );
        // No domain and no trigger.
        assert_eq!(
            title_of("tel-a0d85816"),
            "Network outage: voice, data and SMS affected"
        );
    }

    #[test]
    fn the_corpus_metrics_are_plausible() {
        let metrics: Vec<(String, Severity)> = records()
            .iter()
            .map(|record| {
                let content = record
                    .to_report_input()
                    .validate_at(today())
                    .expect("valid");
                (record.id.clone(), content.metrics().severity)
            })
            .collect();
        let severity_of = |id: &str| {
            metrics
                .iter()
                .find(|(record, _)| record == id)
                .map(|(_, severity)| *severity)
                .expect("record present")
        };
        // 125 M devices × 12 h: far beyond every threshold.
        assert_eq!(severity_of("tel-a3802fdc"), Severity::Critical);
        // Emergency calls failed, but no scope is recorded in the corpus.
        assert_eq!(severity_of("tel-d2bcba38"), Severity::Major);
        // Thousands of SMS users, no duration: nothing crosses a threshold.
        assert_eq!(severity_of("tel-208a26ce"), Severity::Minor);
    }

    #[test]
    fn region_labels_of_the_corpus_readme_map() {
        for label in [
            "Europe",
            "Asia",
            "Middle East / South Asia",
            "Global",
            "Oceania",
            "North America",
            "Caribbean",
            "West Africa",
        ] {
            assert!(region_from_label(label).is_some(), "{label}");
        }
        assert_eq!(region_from_label("Atlantis"), None);
    }

    #[test]
    fn hours_become_rounded_minutes() {
        assert_eq!(hours_to_minutes(19.5), 1170);
        assert_eq!(hours_to_minutes(7.3), 438);
        assert_eq!(hours_to_minutes(12.2), 732);
        assert_eq!(hours_to_minutes(48.6), 2916);
        assert_eq!(hours_to_minutes(0.004), 0);
        assert_eq!(hours_to_minutes(-1.0), 0);
        assert_eq!(hours_to_minutes(f64::NAN), 0);
        assert_eq!(hours_to_minutes(1e12), u32::MAX);
    }

    #[test]
    fn a_bad_line_is_named() {
        let mut lines: Vec<&str> = CORPUS.lines().take(3).collect();
        lines.insert(1, "");
        lines.push(r#"{"id": "tel-00000000"}"#);
        let error = parse_jsonl(&lines.join("\n")).expect_err("last line is incomplete");
        assert_eq!(error.line, 5);
        assert!(
            error.to_string().starts_with("line 5: missing field"),
            "{error}"
        );
        assert_eq!(parse_jsonl("\n\n").expect("empty is fine").len(), 0);
    }
}
