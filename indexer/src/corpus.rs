//! Readers for the development corpora (JSON Lines), for the evaluation and
//! the benchmarks.
//!
//! Policy: only fields a registry filing would carry become document fields.
//! The telecom corpus's `operator`, `vendor`, `slug`, `public_sources` and
//! curation `notes` are never read; neither is the postmortem corpus's
//! `labels` list (its categories are near-copies of the evaluation labels).
//! The label under evaluation is kept apart ([`LabelledDoc::label`]) and
//! cleared from the document with [`blank_label`].

use std::path::Path;

use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use crate::doc::{IndexDoc, Tlp};
use crate::error::{IndexError, Result};

/// A corpus document and the value of the evaluation label (if any).
#[derive(Debug, Clone)]
pub struct LabelledDoc {
    pub doc: IndexDoc,
    pub label: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TelecomRecord {
    id: String,
    date: Option<String>,
    country: Option<String>,
    region: Option<String>,
    operator_type: Option<String>,
    #[serde(default)]
    services_affected: Vec<String>,
    network_domain: Option<String>,
    #[serde(default)]
    network_domain_other: Vec<String>,
    trigger: Option<String>,
    root_cause_category: Option<String>,
    duration_hours: Option<f64>,
    duration_note: Option<String>,
    impact_subscribers: Option<f64>,
    emergency_calls_failed: Option<f64>,
    impact_text: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    lessons_learned: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PostmortemRecord {
    id: String,
    title: Option<String>,
    summary: Option<String>,
    text: Option<String>,
    /// Mostly strings, sometimes numbers: read leniently.
    #[serde(default)]
    keywords: Vec<serde_json::Value>,
    /// Usually RFC 3339, sometimes a number or null: read leniently.
    start_time: Option<serde_json::Value>,
}

/// Which corpus a line comes from (told apart by its fields).
fn is_telecom(v: &serde_json::Value) -> bool {
    v.get("impact_text").is_some() || v.get("services_affected").is_some()
}

/// Reads a JSONL corpus, taking `label_field` as the evaluation label.
pub fn load_jsonl(path: &Path, label_field: &str) -> Result<Vec<LabelledDoc>> {
    let text = std::fs::read_to_string(path).map_err(|e| IndexError::io(path, e))?;
    parse_jsonl(&text, label_field)
}

pub fn parse_jsonl(text: &str, label_field: &str) -> Result<Vec<LabelledDoc>> {
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad =
            |e: serde_json::Error| IndexError::InvalidDocument(format!("line {}: {e}", n + 1));
        let v: serde_json::Value = serde_json::from_str(line).map_err(bad)?;
        let label = v
            .get(label_field)
            .and_then(|l| l.as_str())
            .map(str::to_string);
        let doc = if is_telecom(&v) {
            telecom_doc(serde_json::from_value(v).map_err(bad)?)
        } else {
            postmortem_doc(serde_json::from_value(v).map_err(bad)?)
        };
        out.push(LabelledDoc { doc, label });
    }
    Ok(out)
}

fn telecom_doc(r: TelecomRecord) -> IndexDoc {
    let started = r
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let user_hours = match (r.impact_subscribers, r.duration_hours) {
        (Some(s), Some(h)) => Some(s * h),
        _ => None,
    };
    let mut body = String::new();
    for part in [&r.impact_text, &r.duration_note].into_iter().flatten() {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(part);
    }
    let mut d = IndexDoc::new(r.id, String::new(), Tlp::Clear);
    d.summary = r.summary.unwrap_or_default();
    d.body = body;
    d.lessons = r.lessons_learned;
    d.emergency_service_affected = r.services_affected.iter().any(|s| s == "emergency_calls")
        || r.emergency_calls_failed.is_some_and(|n| n > 0.0);
    d.services = r.services_affected;
    d.network_domain = r.network_domain;
    d.other_domains = r.network_domain_other;
    d.root_cause_category = r.root_cause_category;
    d.trigger = r.trigger;
    d.region = r.region;
    d.country = r.country;
    d.operator_type = r.operator_type;
    d.enisa_user_hours_1m = user_hours.is_some_and(|u| u >= 1_000_000.0);
    d.fcc_900k_user_minutes = user_hours.is_some_and(|u| u * 60.0 >= 900_000.0);
    d.user_hours = user_hours;
    d.duration_minutes = r.duration_hours.map(|h| (h * 60.0).round() as u64);
    d.started_on = started;
    d.published_at = started
        .and_then(|s| s.and_hms_opt(12, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .unwrap_or(chrono::DateTime::<Utc>::UNIX_EPOCH);
    d
}

fn postmortem_doc(r: PostmortemRecord) -> IndexDoc {
    let mut d = IndexDoc::new(r.id, r.title.unwrap_or_default(), Tlp::Clear);
    d.summary = r.summary.unwrap_or_default();
    d.body = r.text.unwrap_or_default();
    if !r.keywords.is_empty() {
        d.body.push_str("\nKeywords: ");
        let words: Vec<String> = r
            .keywords
            .iter()
            .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
            .collect();
        d.body.push_str(&words.join(", "));
    }
    let start = r.start_time.as_ref().and_then(|v| v.as_str());
    if let Some(t) = start.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
        d.published_at = t.with_timezone(&Utc);
        d.started_on = Some(d.published_at.date_naive());
    }
    d
}

/// Clears the structured field named `label` from a document, so that
/// similarity and clustering cannot read the answer.
pub fn blank_label(doc: &mut IndexDoc, label: &str) {
    match label {
        "root_cause_category" => doc.root_cause_category = None,
        "trigger" => doc.trigger = None,
        "network_domain" => {
            doc.network_domain = None;
            doc.other_domains.clear();
        }
        "operator_type" => doc.operator_type = None,
        "region" => doc.region = None,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telecom_line_maps_fields_and_blanks_label() {
        let line = r#"{"id":"tel-1","operator":"SECRET OP","vendor":"SECRET V","date":"2020-01-02","country":"FR","region":"Europe","operator_type":"mobile_operator","services_affected":["voice","emergency_calls"],"network_domain":"core","network_domain_other":["ims"],"trigger":"config_change","root_cause_category":"human_error","duration_hours":2.0,"duration_note":"two hours","impact_subscribers":1000000,"emergency_calls_failed":null,"impact_text":"calls failed","summary":"We changed the HSS","lessons_learned":["test changes"]}"#;
        let mut docs = parse_jsonl(line, "trigger").unwrap();
        assert_eq!(docs.len(), 1);
        let d = &mut docs[0];
        assert_eq!(d.label.as_deref(), Some("config_change"));
        assert!(d.doc.enisa_user_hours_1m && d.doc.emergency_service_affected);
        let json = serde_json::to_string(&d.doc).unwrap();
        assert!(
            !json.contains("SECRET"),
            "operator or vendor leaked: {json}"
        );
        blank_label(&mut d.doc, "trigger");
        assert_eq!(d.doc.trigger, None);
        assert_eq!(d.doc.root_cause_category.as_deref(), Some("human_error"));
    }
}
