//! Readers for the development corpora (JSON Lines), for the evaluation and
//! the benchmarks, and a deterministic generator of synthetic reports for
//! tests and benchmarks.
//!
//! Policy: only fields a registry filing would carry become document fields.
//! The telecom corpus's `operator`, `vendor`, `slug`, `public_sources` and
//! curation `notes` are never read; neither is the postmortem corpus's
//! `labels` list (its categories are near-copies of the evaluation labels).
//! The label under evaluation is kept apart ([`LabelledDoc::label`]) and
//! cleared from the document with [`blank_label`].
//!
//! The benchmark corpus of `shared/bench/corpus.py` (`title`, `summary`,
//! `lessons` and hidden labels) is read as the HTTP benchmark files it: the
//! text only, with the fixed context of its import (see
//! [`BENCH_CONTEXT`]); its hidden labels (`family`, `trigger`,
//! `root_cause_category`, `network_domain`) never become fields.

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

#[derive(Debug, Deserialize)]
struct BenchRecord {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    lessons: Vec<String>,
}

/// Which corpus a line comes from (told apart by its fields).
fn is_telecom(v: &serde_json::Value) -> bool {
    v.get("impact_text").is_some() || v.get("services_affected").is_some()
}

/// A line of the benchmark corpus (`title`, `summary` and a `lessons` list).
fn is_bench(v: &serde_json::Value) -> bool {
    v.get("lessons").is_some_and(|l| l.is_array())
}

/// The context every benchmark report is filed with (`shared/bench/README.md`,
/// "Loading the corpus into incidex"), as the index sees it: TLP green,
/// region Europe, regional scope, mobile operator, minor severity (no impact
/// figures), start month March 2024; the country is not shown (one filer is
/// fewer than k members).
pub const BENCH_CONTEXT: &str =
    "tlp green, region europe, scope regional, operator_type mobile_operator, severity minor";

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
        out.extend(parse_line(line, n, label_field)?);
    }
    Ok(out)
}

/// One non-empty line (`n` counts from 0).
fn parse_line(line: &str, n: usize, label_field: &str) -> Result<Option<LabelledDoc>> {
    let bad = |e: serde_json::Error| IndexError::InvalidDocument(format!("line {}: {e}", n + 1));
    let v: serde_json::Value = serde_json::from_str(line).map_err(bad)?;
    let label = v
        .get(label_field)
        .and_then(|l| l.as_str())
        .map(str::to_string);
    let doc = if is_telecom(&v) {
        telecom_doc(serde_json::from_value(v).map_err(bad)?)
    } else if is_bench(&v) {
        bench_doc(serde_json::from_value(v).map_err(bad)?, n)
    } else {
        postmortem_doc(serde_json::from_value(v).map_err(bad)?)
    };
    Ok(Some(LabelledDoc { doc, label }))
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

/// A benchmark report (line `n` of its file) as the HTTP benchmark's import
/// files it: see [`BENCH_CONTEXT`]. Publication times are one minute apart
/// in file order.
fn bench_doc(r: BenchRecord, n: usize) -> IndexDoc {
    // The import cuts titles to 200 characters.
    let title: String = r.title.chars().take(200).collect();
    let mut d = IndexDoc::new(r.id, title, Tlp::Green);
    d.summary = r.summary;
    d.lessons = r.lessons;
    d.region = Some("europe".into());
    d.scope = Some("regional".into());
    d.operator_type = Some("mobile_operator".into());
    d.severity = Some("minor".into());
    d.started_on = NaiveDate::from_ymd_opt(2024, 3, 1);
    let base = Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).single();
    d.published_at = base
        .map(|b| b + chrono::Duration::minutes(n as i64))
        .unwrap_or(chrono::DateTime::<Utc>::UNIX_EPOCH);
    d
}

/// Reads a benchmark corpus file line by line, calling `f` with each
/// document (the reports of `corpus.py`, without holding the whole file).
pub fn for_each_jsonl(path: &Path, mut f: impl FnMut(LabelledDoc) -> Result<()>) -> Result<()> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| IndexError::io(path, e))?;
    let mut line = String::new();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut n = 0usize;
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .map_err(|e| IndexError::io(path, e))?
            == 0
        {
            return Ok(());
        }
        if line.trim().is_empty() {
            n += 1;
            continue;
        }
        let mut docs = parse_line(&line, n, "none")?;
        n += 1;
        if let Some(d) = docs.take() {
            f(d)?;
        }
    }
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

/// SplitMix64: a small deterministic generator for synthetic corpora (the
/// same sequence on every platform and release).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn sentences(text: &str) -> Vec<String> {
    text.split(". ")
        .map(|s| s.trim().trim_end_matches('.').to_string())
        .filter(|s| s.len() > 20)
        .collect()
}

const SYN_ASSETS: &[&str] = &[
    "hss",
    "msc",
    "mme",
    "p-cscf",
    "sbc",
    "dns resolver",
    "core router",
    "olt",
    "pgw",
    "stp",
];
const SYN_SEVERITIES: &[&str] = &["minor", "major", "critical"];
const SYN_SCOPES: &[&str] = &["local", "regional", "national", "multi_national"];

/// How long the synthetic reports are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticStyle {
    /// 3 to 6 sentences of the templates (summaries of about 250
    /// characters): the generator the benchmarks used first.
    Short,
    /// Summaries of 300 to 1,100 words like the HTTP benchmark's corpus:
    /// template sentences mixed with Zipf-like filler drawn from the
    /// templates' vocabulary and from made-up words (rare terms), a body on
    /// one report in three, one to three lessons.
    Long,
}

/// `n` synthetic documents built from `templates` (the telecom corpus):
/// each takes a template incident's structured fields and mixes its
/// sentences with other incidents' sentences and vocabulary words. The same
/// arguments always give the same documents.
pub fn synthetic(
    templates: &[IndexDoc],
    n: usize,
    seed: u64,
    style: SyntheticStyle,
) -> Vec<IndexDoc> {
    let t = templates;
    if t.is_empty() {
        return Vec::new();
    }
    let per_template: Vec<Vec<String>> = t
        .iter()
        .map(|d| sentences(&format!("{}. {}", d.summary, d.body)))
        .collect();
    let all_sentences: Vec<String> = per_template.iter().flatten().cloned().collect();
    let vocab: Vec<String> = all_sentences
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.len() > 3)
        .collect();
    let mut rng = SplitMix64(seed);
    let start = Utc
        .with_ymd_and_hms(2015, 1, 1, 0, 0, 0)
        .single()
        .map_or(0, |d| d.timestamp());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let k = rng.below(t.len());
        let tpl = &t[k];
        let own = &per_template[k];
        let mut text = Vec::new();
        if all_sentences.is_empty() {
            text.push(format!("incident {i}"));
        }
        let count = match style {
            SyntheticStyle::Short => 3 + rng.below(4),
            SyntheticStyle::Long => 4 + rng.below(8),
        };
        for _ in 0..count {
            if all_sentences.is_empty() {
                break;
            }
            let s = if rng.below(10) < 6 && !own.is_empty() {
                own[rng.below(own.len())].clone()
            } else {
                all_sentences[rng.below(all_sentences.len())].clone()
            };
            let words: Vec<String> = s
                .split_whitespace()
                .map(|w| {
                    if rng.below(10) == 0 && !vocab.is_empty() {
                        vocab[rng.below(vocab.len())].clone()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            text.push(words.join(" "));
        }
        let title: String = text[0]
            .split_whitespace()
            .take(7)
            .collect::<Vec<_>>()
            .join(" ");
        let mut d = tpl.clone();
        d.id = format!("syn-{i:06}");
        d.title = title;
        match style {
            SyntheticStyle::Short => {
                d.summary = text[..2.min(text.len())].join(". ");
                d.body = text[2.min(text.len())..].join(". ");
            }
            SyntheticStyle::Long => {
                let target = 300 + rng.below(800);
                let mut words: Vec<String> = Vec::with_capacity(target + 40);
                let mut si = 0;
                while words.len() < target {
                    if si < text.len() && rng.below(4) == 0 {
                        words.extend(text[si].split_whitespace().map(str::to_string));
                        if let Some(w) = words.last_mut() {
                            w.push('.');
                        }
                        si += 1;
                    } else {
                        words.push(filler_word(&mut rng, &vocab));
                    }
                }
                d.summary = words.join(" ");
                d.body = if rng.below(3) == 0 {
                    text[si.min(text.len())..].join(". ")
                } else {
                    String::new()
                };
                let lessons = 1 + rng.below(3);
                d.lessons = (0..lessons)
                    .map(|_| {
                        (0..(6 + rng.below(14)))
                            .map(|_| filler_word(&mut rng, &vocab))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
            }
        }
        d.tlp = Tlp::ALL[rng.below(4)];
        d.assets = vec![SYN_ASSETS[rng.below(SYN_ASSETS.len())].to_string()];
        d.severity = Some(SYN_SEVERITIES[rng.below(3)].to_string());
        d.scope = Some(SYN_SCOPES[rng.below(4)].to_string());
        d.published_at = Utc
            .timestamp_opt(start + i as i64 * 600, 0)
            .single()
            .unwrap_or_default();
        out.push(d);
    }
    out
}

/// A filler word: mostly a vocabulary word drawn with a Zipf-like skew
/// (index `len * u^3`), sometimes a made-up word of 2 to 4 syllables, which
/// gives the long tail of rare terms.
fn filler_word(rng: &mut SplitMix64, vocab: &[String]) -> String {
    const SYLLABLES: &[&str] = &[
        "ba", "con", "de", "ter", "mi", "ral", "lo", "ven", "stra", "ti", "gor", "pel", "na",
        "quo", "sil", "ump", "ex", "fra", "dul", "ker",
    ];
    if vocab.is_empty() || rng.below(8) == 0 {
        let n = 2 + rng.below(3);
        (0..n)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect()
    } else {
        let u = rng.below(1 << 20) as f64 / (1u64 << 20) as f64;
        let i = ((vocab.len() as f64) * u * u * u) as usize;
        vocab[i.min(vocab.len() - 1)]
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
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
