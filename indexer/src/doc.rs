//! The flat document the index holds, and the TLP levels that decide who may
//! see it.
//!
//! Policy: an [`IndexDoc`] is the *published, already anonymised* view of a
//! report. It has no field for the filing operator or any other member
//! identity, so nothing the index returns can carry one. Enumerated values
//! are stored case-folded and trimmed (see [`normalise_value`]), so filters
//! and facets compare them without regard to case.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::IndexError;

/// Traffic Light Protocol level of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 4] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::Red => "red",
        }
    }

    /// Every level up to and including `self` (a reader cleared for amber
    /// sees clear, green and amber).
    pub fn up_to(self) -> Vec<Tlp> {
        Tlp::ALL.into_iter().filter(|t| *t <= self).collect()
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tlp {
    type Err = IndexError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "clear" | "white" => Ok(Tlp::Clear),
            "green" => Ok(Tlp::Green),
            "amber" | "amber+strict" => Ok(Tlp::Amber),
            "red" => Ok(Tlp::Red),
            other => Err(IndexError::InvalidDocument(format!(
                "unknown tlp level '{other}'"
            ))),
        }
    }
}

/// One published incident as the index sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDoc {
    /// Opaque report id (the database's), unique in the index.
    pub id: String,
    /// The report's revision this document shows (for reconciling the index
    /// with the database; not searchable).
    #[serde(default)]
    pub revision: u64,
    pub title: String,
    pub summary: String,
    /// All other free text (timeline, impact statement, causal chain, ...).
    pub body: String,
    pub lessons: Vec<String>,
    pub services: Vec<String>,
    /// Main network domain where the fault sat.
    pub network_domain: Option<String>,
    /// Other domains involved.
    pub other_domains: Vec<String>,
    pub assets: Vec<String>,
    pub root_cause_category: Option<String>,
    pub trigger: Option<String>,
    pub severity: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub tlp: Tlp,
    pub scope: Option<String>,
    pub operator_type: Option<String>,
    pub enisa_user_hours_1m: bool,
    pub fcc_900k_user_minutes: bool,
    pub emergency_service_affected: bool,
    pub published_at: DateTime<Utc>,
    pub started_on: Option<NaiveDate>,
    pub duration_minutes: Option<u64>,
    pub user_hours: Option<f64>,
}

impl IndexDoc {
    /// A document with only an id, a title and a TLP level; every other field
    /// empty. Convenient for building documents field by field.
    pub fn new(id: impl Into<String>, title: impl Into<String>, tlp: Tlp) -> Self {
        IndexDoc {
            id: id.into(),
            revision: 0,
            title: title.into(),
            summary: String::new(),
            body: String::new(),
            lessons: Vec::new(),
            services: Vec::new(),
            network_domain: None,
            other_domains: Vec::new(),
            assets: Vec::new(),
            root_cause_category: None,
            trigger: None,
            severity: None,
            region: None,
            country: None,
            tlp,
            scope: None,
            operator_type: None,
            enisa_user_hours_1m: false,
            fcc_900k_user_minutes: false,
            emergency_service_affected: false,
            published_at: DateTime::<Utc>::UNIX_EPOCH,
            started_on: None,
            duration_minutes: None,
            user_hours: None,
        }
    }

    /// The non-empty free texts, in the order title, summary, body, lessons.
    pub fn text_parts(&self) -> impl Iterator<Item = &str> {
        [&self.title, &self.summary, &self.body]
            .into_iter()
            .chain(self.lessons.iter())
            .map(String::as_str)
            .filter(|p| !p.is_empty())
    }

    /// All free text, in the order title, summary, body, lessons.
    pub fn full_text(&self) -> String {
        let mut s = String::with_capacity(
            self.title.len() + self.summary.len() + self.body.len() + 64 * self.lessons.len(),
        );
        for part in [&self.title, &self.summary, &self.body]
            .into_iter()
            .chain(self.lessons.iter())
        {
            if !part.is_empty() {
                if !s.is_empty() {
                    s.push('\n');
                }
                s.push_str(part);
            }
        }
        s
    }

    /// Main and other network domains together, de-duplicated.
    pub fn all_domains(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .network_domain
            .iter()
            .chain(&self.other_domains)
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub(crate) fn validate(&self) -> Result<(), IndexError> {
        if self.id.trim().is_empty() {
            return Err(IndexError::InvalidDocument("empty id".into()));
        }
        if self.user_hours.is_some_and(|h| !h.is_finite() || h < 0.0) {
            return Err(IndexError::InvalidDocument(format!(
                "user_hours of '{}' is not a non-negative number",
                self.id
            )));
        }
        Ok(())
    }
}

/// Case-folds and trims an enumerated value; empty values are dropped.
pub fn normalise_value(v: &str) -> Option<String> {
    let t = v.trim();
    (!t.is_empty()).then(|| t.to_lowercase())
}
