//! The wire form of a report: the JSON body of create and replace, and the
//! target of a PATCH (JSON merge patch).
//!
//! Policy:
//! - Unknown members are rejected everywhere (`deny_unknown_fields`).
//! - Required: `title`, `summary`, `context.started_on`. Every other member
//!   may be left out; lists and groups then default to empty, optional
//!   values to `null`. Serialising always writes every member (with `null`
//!   and `[]`), so a stored report has one stable shape.
//! - `lessons` may be empty: a draft is often filed before lessons are
//!   known. Whether publishing requires a lesson is the intake's decision.
//! - Durations and response times are whole minutes. Response times are
//!   measured from the onset of customer impact.
//! - Nothing here is trusted: a `ReportInput` becomes a
//!   [`super::ReportContent`] only through [`ReportInput::validate`].

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::taxonomy::{
    Asset, DetectionSource, NetworkDomain, OperatorType, RedundancyOutcome, Region,
    RestorationMethod, RootCauseCategory, Scope, Service, Tlp, Trigger,
};
use super::values::{CountryCode, TimeOfDay, UtcOffset};

/// An incident report as submitted by an operator (create, replace), before
/// validation. See `docs/report-model.md` for the field reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(report_input_example))]
pub struct ReportInput {
    /// One line naming what failed and the effect (at most 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Narrative of the incident (at most 10,000 characters).
    #[schema(min_length = 1, max_length = 10000)]
    pub summary: String,
    /// Who may read the report. Defaults to `green`.
    #[serde(default)]
    pub tlp: Tlp,
    /// When and where it happened, and what kind of operator filed it.
    pub context: IncidentContext,
    /// What failed: services, network domains, assets.
    #[serde(default)]
    pub affected: AffectedSystems,
    /// Why it happened.
    #[serde(default)]
    pub cause: IncidentCause,
    /// What it did to customers and to the emergency service.
    #[serde(default)]
    pub impact: IncidentImpact,
    /// How it was detected and restored.
    #[serde(default)]
    pub response: IncidentResponse,
    /// Events relative to the onset (at most 100 entries).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub timeline: Vec<TimelineEntry>,
    /// Anything else worth knowing: caveats, contested facts.
    #[schema(min_length = 1, max_length = 10000)]
    pub notes: Option<String>,
    /// Lessons learned, one statement each (at most 20 of at most 2,000
    /// characters). May be empty.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub lessons: Vec<String>,
}

/// When and where: the quasi-identifiers that the shared view generalises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentContext {
    /// Local date on which customer impact started.
    pub started_on: NaiveDate,
    /// Local time of day at which customer impact started (`HH:MM`).
    #[schema(value_type = Option<String>, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "16:45")]
    pub start_time: Option<TimeOfDay>,
    /// Offset of that local time from UTC (`+HH:MM`).
    #[schema(value_type = Option<String>, pattern = "^[+-][0-9]{2}:[0-5][0-9]$", example = "+02:00")]
    pub utc_offset: Option<UtcOffset>,
    /// Main affected country, ISO 3166-1 alpha-2. When given, `region` is
    /// required too (others see the region when too few members share the
    /// country).
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{2}$", example = "FR")]
    pub country: Option<CountryCode>,
    pub region: Option<Region>,
    pub scope: Option<Scope>,
    pub operator_type: Option<OperatorType>,
}

/// What failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffectedSystems {
    /// Services whose users were affected (duplicates are removed).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub services: Vec<Service>,
    /// The domain where the fault sat.
    pub network_domain: Option<NetworkDomain>,
    /// Other domains involved (duplicates and `network_domain` are removed).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub other_network_domains: Vec<NetworkDomain>,
    /// Kinds of network elements involved (duplicates are removed).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub assets: Vec<Asset>,
}

/// Why it happened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentCause {
    /// ENISA root-cause category.
    pub root_cause_category: Option<RootCauseCategory>,
    /// Initiating event or activity under way at onset.
    pub trigger: Option<Trigger>,
    /// A supplier, peer, utility or other third party was part of the causal chain.
    pub third_party_involved: Option<bool>,
    /// The cause in detail.
    #[schema(min_length = 1, max_length = 10000)]
    pub detailed_cause: Option<String>,
    pub causal_chain: Option<CausalChain>,
}

/// The cause told as a chain; every link is optional free text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CausalChain {
    /// What set it off.
    #[schema(min_length = 1, max_length = 10000)]
    pub initiating_event: Option<String>,
    /// The weakness that was already there.
    #[schema(min_length = 1, max_length = 10000)]
    pub latent_condition: Option<String>,
    /// How the failure spread.
    #[schema(min_length = 1, max_length = 10000)]
    pub propagation: Option<String>,
    /// What made recovery slow or hard.
    #[schema(min_length = 1, max_length = 10000)]
    pub recovery_obstacle: Option<String>,
}

/// What it did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentImpact {
    /// Duration of customer impact in whole minutes (1 to 527,040, one leap year).
    #[schema(minimum = 1, maximum = 527040)]
    pub duration_minutes: Option<u32>,
    /// What the duration covers (local times, staged restoration).
    #[schema(min_length = 1, max_length = 500)]
    pub duration_note: Option<String>,
    /// Subscribers (or devices, or residents: say which in `description`) affected.
    #[schema(maximum = 10000000000_u64)]
    pub subscribers_affected: Option<u64>,
    pub emergency_calls: Option<EmergencyCallImpact>,
    pub redundancy: Option<Redundancy>,
    /// Impact in words, with figures.
    #[schema(min_length = 1, max_length = 10000)]
    pub description: Option<String>,
}

/// Emergency calls that failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyCallImpact {
    /// Emergency calls or call attempts that failed.
    #[schema(maximum = 100000000)]
    pub failed: u64,
    /// Failed emergency calls as a percentage (0 to 100) of all emergency
    /// calls attempted during the incident.
    #[schema(minimum = 0, maximum = 100)]
    pub share_percent: Option<f64>,
}

/// Redundancy for the failed element and how it behaved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redundancy {
    pub outcome: RedundancyOutcome,
    /// Number of redundant sites or instances (e.g. failed in common mode
    /// across 6 sites). Not allowed when `outcome` is `not_present`.
    #[schema(minimum = 1, maximum = 1000)]
    pub sites: Option<u16>,
}

/// How it was detected, handled and restored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentResponse {
    pub detection_source: Option<DetectionSource>,
    /// Minutes from onset until the operator knew of the incident.
    #[schema(maximum = 527040)]
    pub minutes_to_detect: Option<u32>,
    /// Minutes from onset until the cause was understood.
    #[schema(maximum = 527040)]
    pub minutes_to_diagnose: Option<u32>,
    /// Minutes from onset until service was restored.
    #[schema(maximum = 527040)]
    pub minutes_to_restore: Option<u32>,
    /// Minutes from onset until the authorities were alerted.
    #[schema(maximum = 527040)]
    pub minutes_to_notify_authorities: Option<u32>,
    /// Minutes from onset until other operators were alerted.
    #[schema(maximum = 527040)]
    pub minutes_to_notify_operators: Option<u32>,
    /// What restored service (duplicates are removed).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub restoration_methods: Vec<RestorationMethod>,
    /// Restoration in words.
    #[schema(min_length = 1, max_length = 10000)]
    pub restoration_notes: Option<String>,
}

/// One event of the timeline. Times are offsets from the onset rather than
/// clock times, so the timeline does not undo the generalised start time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// Minutes after the onset; negative for precursors (e.g. the change
    /// that started 40 minutes before).
    #[schema(minimum = -527040, maximum = 527040)]
    pub offset_minutes: i32,
    /// What happened (at most 1,000 characters).
    #[schema(min_length = 1, max_length = 1000)]
    pub event: String,
}

/// A JSON merge patch (RFC 7396) over a [`ReportInput`]: members present
/// replace the stored ones, `null` removes an optional member, lists are
/// replaced whole. The result is validated as a whole report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object, examples(report_patch_example))]
pub struct ReportPatch(pub Value);

/// The documented example of a [`ReportInput`]: the 2021 emergency-call
/// outage, told without operator or vendor names. A unit test checks that it
/// deserialises and validates.
pub fn report_input_example() -> Value {
    json!({
        "title": "Emergency calls failed for seven hours after routine reconnection commands on call servers",
        "summary": "From about 16:45 until midnight, calls to the national emergency numbers were intermittently not delivered to the answering centres, whichever network the caller used. The call servers that bridge our IP voice platform and the legacy switched network, on which most answering centres still terminate, stopped routing part of the calls. Routine reconnection commands, run on all call servers as part of a modernisation programme, exposed a software defect in the call servers. The servers are spread over six sites for redundancy, but all of them carried the defect and received the same commands, so the redundancy failed in common mode. About 11,800 emergency call attempts, roughly 11% of the total, failed. Detection was slow because emergency call completion was not supervised on its own.",
        "tlp": "green",
        "context": {
            "started_on": "2021-06-02",
            "start_time": "16:45",
            "utc_offset": "+02:00",
            "country": "FR",
            "region": "europe",
            "scope": "national",
            "operator_type": "fixed_and_mobile_operator"
        },
        "affected": {
            "services": ["emergency_calls", "fixed_voice", "voice"],
            "network_domain": "interconnect",
            "other_network_domains": ["ims"],
            "assets": ["call_server"]
        },
        "cause": {
            "root_cause_category": "system_failure",
            "trigger": "routine_commands",
            "third_party_involved": true,
            "detailed_cause": "A latent defect in the call-server software mishandled routine reconnection commands and left the servers unable to route part of the calls towards the switched network.",
            "causal_chain": {
                "initiating_event": "Routine reconnection commands run on all call servers during a modernisation programme.",
                "latent_condition": "The same software defect on every call server; no dedicated supervision of emergency call completion.",
                "propagation": "All six sites received the same commands, so redundancy failed in common mode and callers on every network were affected.",
                "recovery_obstacle": "The fault was first taken for a router problem; the crisis cell met about two hours after onset."
            }
        },
        "impact": {
            "duration_minutes": 438,
            "duration_note": "from about 16:45 to midnight local time, intermittent",
            "subscribers_affected": null,
            "emergency_calls": { "failed": 11800, "share_percent": 11.0 },
            "redundancy": { "outcome": "failed_common_mode", "sites": 6 },
            "description": "About 11,800 emergency call attempts (roughly 11% of the total) were not routed; callers from all networks were affected. Answering centres published temporary ten-digit numbers."
        },
        "response": {
            "detection_source": "emergency_services",
            "minutes_to_detect": 60,
            "minutes_to_diagnose": 240,
            "minutes_to_restore": 438,
            "minutes_to_notify_authorities": 150,
            "minutes_to_notify_operators": 180,
            "restoration_methods": ["rollback", "traffic_rerouting"],
            "restoration_notes": "The commands were reverted on all call servers and emergency traffic was rerouted over the remaining paths while the servers were restarted one by one."
        },
        "timeline": [
            { "offset_minutes": 0, "event": "Emergency call attempts start failing intermittently." },
            { "offset_minutes": 60, "event": "Answering centres report failed calls." },
            { "offset_minutes": 120, "event": "Crisis cell convened." },
            { "offset_minutes": 438, "event": "Emergency call routing back to normal." }
        ],
        "notes": "Early statements blamed a router after maintenance; the inquiry found the call-server defect.",
        "lessons": [
            "Roll changes and bulk commands out to call servers progressively, never to the whole fleet at once.",
            "Supervise emergency call completion end to end with dedicated alarms.",
            "Convene a crisis cell within 30 minutes of any emergency-call degradation."
        ]
    })
}

/// The documented example of a [`ReportPatch`].
pub fn report_patch_example() -> Value {
    json!({
        "impact": { "subscribers_affected": 250000 },
        "notes": null,
        "lessons": ["Supervise emergency call completion end to end with dedicated alarms."]
    })
}
