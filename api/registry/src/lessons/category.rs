//! What a lesson is about (a keyword rule for report lessons) and where it
//! comes from.

use std::collections::HashSet;
use std::sync::OnceLock;

use incidex_indexer::analysis::{Mode, analyse};
use incidex_schema::db::lessons::{SOURCE_CURATED, SOURCE_REPORT};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a lesson is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LessonCategory {
    /// Rolling out, testing and reverting changes, procedures.
    ChangeManagement,
    /// Supervision, alarms, detection.
    Monitoring,
    /// Redundancy, diversity, failover, backups.
    Redundancy,
    /// Crisis handling, escalation, communication, restoration.
    IncidentResponse,
    /// Dimensioning, overload protection.
    Capacity,
    /// Vendors, suppliers, contractors, third parties.
    Supplier,
    /// Attacks, access control, hardening.
    Security,
    /// Power, cooling, buildings, cables and other physical plant.
    Facilities,
    Other,
}

/// Keywords of each category, in priority order (ties go to the earlier).
const KEYWORDS: &[(LessonCategory, &[&str])] = &[
    (
        LessonCategory::ChangeManagement,
        &[
            "change",
            "rollout",
            "roll",
            "upgrade",
            "update",
            "release",
            "rollback",
            "revert",
            "staged",
            "stage",
            "progressive",
            "progressively",
            "gradual",
            "gradually",
            "canary",
            "pilot",
            "test",
            "testing",
            "validate",
            "validation",
            "procedure",
            "approval",
            "review",
            "maintenance",
            "window",
            "configuration",
            "config",
            "commands",
            "deploy",
            "deployment",
            "fleet",
            "batch",
            "automation",
            "script",
        ],
    ),
    (
        LessonCategory::Monitoring,
        &[
            "monitor",
            "monitoring",
            "supervise",
            "supervision",
            "alarm",
            "alert",
            "alerting",
            "detect",
            "detection",
            "dashboard",
            "telemetry",
            "probe",
            "visibility",
            "observability",
            "kpi",
            "metrics",
            "logging",
            "logs",
            "expiry",
            "expiration",
            "inventory",
        ],
    ),
    (
        LessonCategory::Redundancy,
        &[
            "redundancy",
            "redundant",
            "diverse",
            "diversity",
            "diversify",
            "failover",
            "fallback",
            "backup",
            "resilience",
            "resilient",
            "geographic",
            "separate",
            "separation",
            "spare",
            "dual",
            "standby",
            "single",
            "independent",
            "duplicate",
        ],
    ),
    (
        LessonCategory::IncidentResponse,
        &[
            "crisis",
            "escalate",
            "escalation",
            "communicate",
            "communication",
            "notify",
            "notification",
            "inform",
            "customers",
            "authorities",
            "regulator",
            "runbook",
            "playbook",
            "drill",
            "exercise",
            "coordination",
            "coordinate",
            "convene",
            "restore",
            "restoration",
            "response",
            "respond",
            "recovery",
        ],
    ),
    (
        LessonCategory::Capacity,
        &[
            "capacity",
            "overload",
            "overloaded",
            "load",
            "throttle",
            "throttling",
            "dimension",
            "dimensioning",
            "scaling",
            "scale",
            "congestion",
            "surge",
            "peak",
            "headroom",
        ],
    ),
    (
        LessonCategory::Supplier,
        &[
            "vendor",
            "supplier",
            "third-party",
            "contract",
            "sla",
            "partner",
            "contractor",
            "outsourced",
            "provider",
        ],
    ),
    (
        LessonCategory::Security,
        &[
            "security",
            "secure",
            "attack",
            "ddos",
            "vulnerability",
            "malware",
            "ransomware",
            "authentication",
            "access",
            "credential",
            "intrusion",
            "hardening",
            "encryption",
            "firewall",
        ],
    ),
    (
        LessonCategory::Facilities,
        &[
            "power",
            "battery",
            "generator",
            "fuel",
            "cooling",
            "hvac",
            "fire",
            "flood",
            "flooding",
            "building",
            "mains",
            "grid",
            "ups",
            "earthquake",
            "weather",
            "cable",
            "duct",
            "excavation",
        ],
    ),
];

impl LessonCategory {
    pub const ALL: &'static [LessonCategory] = &[
        LessonCategory::ChangeManagement,
        LessonCategory::Monitoring,
        LessonCategory::Redundancy,
        LessonCategory::IncidentResponse,
        LessonCategory::Capacity,
        LessonCategory::Supplier,
        LessonCategory::Security,
        LessonCategory::Facilities,
        LessonCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LessonCategory::ChangeManagement => "change_management",
            LessonCategory::Monitoring => "monitoring",
            LessonCategory::Redundancy => "redundancy",
            LessonCategory::IncidentResponse => "incident_response",
            LessonCategory::Capacity => "capacity",
            LessonCategory::Supplier => "supplier",
            LessonCategory::Security => "security",
            LessonCategory::Facilities => "facilities",
            LessonCategory::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<LessonCategory> {
        LessonCategory::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
    }

    /// The category whose keywords occur most often in `text` (analysed like
    /// the search index: stems, so `monitoring` counts for `monitor`); ties
    /// go to the earlier category of the table; none at all is `other`.
    pub fn classify(text: &str) -> LessonCategory {
        let table = keyword_terms();
        let mut counts = vec![0usize; table.len()];
        for token in analyse(text, Mode::Index) {
            for (i, (_, terms)) in table.iter().enumerate() {
                if terms.contains(&token.term) {
                    counts[i] += 1;
                }
            }
        }
        let mut best: Option<(usize, usize)> = None;
        for (i, n) in counts.iter().copied().enumerate() {
            if n > 0 && best.is_none_or(|(_, b)| n > b) {
                best = Some((i, n));
            }
        }
        best.map_or(LessonCategory::Other, |(i, _)| table[i].0)
    }
}

/// The keyword table, analysed once.
fn keyword_terms() -> &'static [(LessonCategory, HashSet<String>)] {
    static TERMS: OnceLock<Vec<(LessonCategory, HashSet<String>)>> = OnceLock::new();
    TERMS.get_or_init(|| {
        KEYWORDS
            .iter()
            .map(|(category, words)| {
                let terms = words
                    .iter()
                    .flat_map(|w| analyse(w, Mode::Query))
                    .map(|t| t.term)
                    .collect();
                (*category, terms)
            })
            .collect()
    })
}

/// Where a lesson comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LessonSource {
    /// A published report's lesson.
    Report,
    /// Added by an analyst to a cluster.
    Curated,
}

impl LessonSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LessonSource::Report => SOURCE_REPORT,
            LessonSource::Curated => SOURCE_CURATED,
        }
    }

    pub fn parse(s: &str) -> Option<LessonSource> {
        [LessonSource::Report, LessonSource::Curated]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}
