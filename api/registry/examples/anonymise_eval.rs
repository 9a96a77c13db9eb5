//! Measures the anonymiser on labelled sets and on unlabelled public
//! postmortems.
//!
//! ```text
//! cargo run --release -p incidex-registry --example anonymise_eval -- \
//!     --set tests/data/anonymisation-heldout.jsonl \
//!     --postmortems /work/shared/data/public/icco-postmortems.jsonl [--verbose]
//! ```
//!
//! A labelled set is JSON Lines, one case a line: `name`, `text`,
//! `operators` (every member's names and aliases), `sensitive_terms`,
//! optional `allow` (the filer's allow-list), `planted` (`{kind, text}`
//! identifiers that must be removed; the older corpus's `must_remove` list
//! is accepted too) and `must_keep` (technical tokens that must survive).
//! Figures: the share of planted identifiers every letter and digit of
//! whose every occurrence is covered by redactions, the share of must-keep tokens none of whose
//! (whole-word) occurrences a redaction touches, and member names or
//! aliases still present in the output.
//!
//! Postmortems (the `text` field of each record) have no labels: the tool
//! extracts technical tokens by pattern (times, durations, percentages,
//! versions, status codes, counts, dates, acronyms) and reports how many
//! survive, plus the redactions per class. `--verbose` prints the failures
//! of the labelled sets and a sample of postmortem redactions per class, to
//! review false positives on the terminal (the postmortems are GPL-3.0 and
//! are never copied into this repository).

use std::collections::BTreeMap;
use std::process::ExitCode;

use incidex_registry::anonymise::{AllowList, Anonymiser, RedactionKind, Scrubbed, SensitiveTerms};
use regex::Regex;
use serde::Deserialize;

#[derive(Deserialize)]
struct Planted {
    kind: String,
    text: String,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    text: String,
    #[serde(default)]
    operators: Vec<String>,
    #[serde(default)]
    sensitive_terms: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    planted: Vec<Planted>,
    #[serde(default)]
    must_remove: Vec<String>,
    #[serde(default)]
    must_keep: Vec<String>,
}

#[derive(Deserialize)]
struct Postmortem {
    #[serde(default)]
    text: Option<String>,
}

/// Byte ranges of `needle` in `haystack`; with `whole`, only occurrences not
/// glued to a letter or digit.
fn occurrences(haystack: &str, needle: &str, whole: bool) -> Vec<(usize, usize)> {
    haystack
        .match_indices(needle)
        .map(|(i, m)| (i, i + m.len()))
        .filter(|&(s, e)| {
            !whole
                || (!haystack[..s]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_alphanumeric)
                    || !needle.starts_with(char::is_alphanumeric))
                    && (!haystack[e..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric)
                        || !needle.ends_with(char::is_alphanumeric))
        })
        .collect()
}

/// Every letter and digit of `start..end` lies inside a redaction (a
/// separator left between two redactions, as in `[IMSI]-[IMSI]` for an
/// IMSI range, reveals nothing).
fn covered(out: &Scrubbed, text: &str, start: usize, end: usize) -> bool {
    text[start..end].char_indices().all(|(i, c)| {
        let at = start + i;
        !c.is_alphanumeric() || out.redactions.iter().any(|r| r.start <= at && at < r.end)
    })
}

fn touched(out: &Scrubbed, start: usize, end: usize) -> bool {
    out.redactions
        .iter()
        .any(|r| r.start < end && start < r.end)
}

#[derive(Default)]
struct Tally {
    cases: usize,
    planted: usize,
    removed: usize,
    typed: usize,
    keep: usize,
    kept: usize,
    members_leaked: usize,
    not_idempotent: usize,
    per_kind: BTreeMap<String, (usize, usize)>,
}

fn kind_matches(label: &str, got: RedactionKind) -> bool {
    let expected: &[RedactionKind] = match label {
        "host" | "site" => &[RedactionKind::Host],
        "account" => &[RedactionKind::Account],
        "person" => &[RedactionKind::Person],
        "operator" => &[RedactionKind::Operator],
        "mcc_mnc" => &[RedactionKind::Plmn],
        "asn" => &[RedactionKind::Asn],
        "circuit" => &[RedactionKind::Circuit],
        "ticket" => &[RedactionKind::Ticket],
        "address" => &[RedactionKind::Address],
        "gps" => &[RedactionKind::Gps],
        "imsi_range" => &[RedactionKind::Imsi],
        "msisdn_range" | "phone" => &[RedactionKind::Phone],
        "ip" => &[RedactionKind::Ip],
        "email" => &[RedactionKind::Email],
        "url" => &[RedactionKind::Url],
        "term" => &[RedactionKind::Term],
        _ => &[],
    };
    expected.contains(&got)
}

fn run_set(path: &str, verbose: bool) -> Result<Tally, String> {
    let data = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut t = Tally::default();
    for (n, line) in data.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case =
            serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", n + 1))?;
        t.cases += 1;
        let anonymiser = Anonymiser::new(&case.operators);
        let terms = SensitiveTerms::new(&case.sensitive_terms);
        let allow = AllowList::new(&case.allow);
        let out = anonymiser.scrub_with(&case.text, &terms, &allow);
        let mut planted: Vec<(String, String)> = case
            .planted
            .iter()
            .map(|p| (p.kind.clone(), p.text.clone()))
            .collect();
        planted.extend(
            case.must_remove
                .iter()
                .map(|m| ("any".to_string(), m.clone())),
        );
        for (kind, needle) in &planted {
            t.planted += 1;
            let occ = occurrences(&case.text, needle, false);
            // The older corpus's `must_remove` only asks that the string be
            // gone from the output; planted identifiers must be covered.
            let ok = !occ.is_empty()
                && if kind == "any" {
                    !out.text.contains(needle.as_str())
                } else {
                    occ.iter().all(|&(s, e)| covered(&out, &case.text, s, e))
                };
            let entry = t.per_kind.entry(kind.clone()).or_default();
            entry.1 += 1;
            if ok {
                t.removed += 1;
                entry.0 += 1;
                let (s, e) = occ[0];
                if out
                    .redactions
                    .iter()
                    .any(|r| r.start < e && s < r.end && kind_matches(kind, r.kind))
                {
                    t.typed += 1;
                }
            } else if verbose {
                println!("  MISSED  {} [{kind}] {needle:?}", case.name);
            }
        }
        for token in &case.must_keep {
            t.keep += 1;
            let occ = occurrences(&case.text, token, true);
            if !occ.is_empty() && !occ.iter().any(|&(s, e)| touched(&out, s, e)) {
                t.kept += 1;
            } else if verbose {
                println!("  EATEN   {} {token:?}", case.name);
            }
        }
        let lower = out.text.to_lowercase();
        for name in &case.operators {
            let name_lower = name.to_lowercase();
            if name.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
                continue;
            }
            if !occurrences(&lower, &name_lower, true).is_empty() {
                t.members_leaked += 1;
                if verbose {
                    println!("  MEMBER  {} {name:?}", case.name);
                }
            }
        }
        let again = anonymiser.scrub_with(&out.text, &terms, &allow);
        if again.text != out.text {
            t.not_idempotent += 1;
        }
        if verbose {
            println!("  OUT     {}: {}", case.name, out.text);
        }
    }
    Ok(t)
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn run_postmortems(path: &str, verbose: bool) -> Result<(), String> {
    let data = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let technical = Regex::new(
        r"(?x)
          \b\d{1,2}:\d{2}(?::\d{2})?\b
        | \b\d+(?:\.\d+)?\s?%
        | \b\d+(?:\.\d+)?\s?(?:ms|milliseconds?|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?)\b
        | \bv?\d+\.\d+(?:\.\d+)?\b
        | \b(?:HTTP|status|error)\s+[1-5]\d{2}\b
        | \b\d{1,3}(?:,\d{3})+\b
        | \b20\d{2}-\d{2}-\d{2}\b
        | \b[A-Z]{2,6}\b",
    )
    .map_err(|e| e.to_string())?;
    let anonymiser = Anonymiser::new(&[]);
    let terms = SensitiveTerms::empty();
    let mut records = 0;
    let mut bytes = 0;
    let mut keep = 0;
    let mut kept = 0;
    let mut per_kind: BTreeMap<RedactionKind, usize> = BTreeMap::new();
    let mut samples: BTreeMap<RedactionKind, Vec<String>> = BTreeMap::new();
    let mut eaten: BTreeMap<String, usize> = BTreeMap::new();
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let pm: Postmortem = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let Some(text) = pm.text else { continue };
        records += 1;
        bytes += text.len();
        let out = anonymiser.scrub(&text, &terms);
        for r in &out.redactions {
            *per_kind.entry(r.kind).or_default() += 1;
            let list = samples.entry(r.kind).or_default();
            if list.len() < 400 {
                let mut lo = r.start.saturating_sub(30);
                while !text.is_char_boundary(lo) {
                    lo -= 1;
                }
                let mut hi = (r.end + 30).min(text.len());
                while !text.is_char_boundary(hi) {
                    hi += 1;
                }
                list.push(format!(
                    "{:?} in …{}…",
                    r.original,
                    text[lo..hi].replace('\n', " ")
                ));
            }
        }
        for m in technical.find_iter(&text) {
            // An IP address or a phone-like run is not a technical token.
            if m.as_str().matches('.').count() >= 3 {
                continue;
            }
            keep += 1;
            if touched(&out, m.start(), m.end()) {
                *eaten.entry(m.as_str().to_string()).or_default() += 1;
            } else {
                kept += 1;
            }
        }
    }
    println!("postmortems {path}");
    println!("  records {records}, {bytes} bytes");
    println!(
        "  technical tokens kept: {kept}/{keep} ({:.2}%)",
        pct(kept, keep)
    );
    let total: usize = per_kind.values().sum();
    println!("  redactions: {total}");
    for (kind, n) in &per_kind {
        println!("    {:<10} {n}", kind.as_str());
    }
    if verbose {
        let mut eaten: Vec<_> = eaten.into_iter().collect();
        eaten.sort_by_key(|e| std::cmp::Reverse(e.1));
        println!("  technical tokens touched (token, times):");
        for (tok, n) in eaten.iter().take(60) {
            println!("    {tok:?} {n}");
        }
        for (kind, list) in &samples {
            println!("  sample of {} redactions:", kind.as_str());
            for s in list.iter().take(80) {
                println!("    {s}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut sets = Vec::new();
    let mut postmortems = Vec::new();
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--set" => sets.extend(args.next()),
            "--postmortems" => postmortems.extend(args.next()),
            "--verbose" | "-v" => verbose = true,
            other => {
                eprintln!("unknown argument {other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    if sets.is_empty() && postmortems.is_empty() {
        sets.push("tests/data/anonymisation-heldout.jsonl".to_string());
    }
    for path in &sets {
        match run_set(path, verbose) {
            Ok(t) => {
                println!("set {path}");
                println!("  cases {}", t.cases);
                println!(
                    "  planted identifiers removed: {}/{} ({:.2}%), with the expected type: {}",
                    t.removed,
                    t.planted,
                    pct(t.removed, t.planted),
                    t.typed
                );
                for (kind, (ok, n)) in &t.per_kind {
                    println!("    {kind:<13} {ok}/{n}");
                }
                println!(
                    "  must-keep tokens kept: {}/{} ({:.2}%)",
                    t.kept,
                    t.keep,
                    pct(t.kept, t.keep)
                );
                println!("  member names or aliases left: {}", t.members_leaked);
                println!("  not idempotent: {}", t.not_idempotent);
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for path in &postmortems {
        if let Err(e) = run_postmortems(path, verbose) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
