//! Golden results: what searches, similar incidents, stored-document reads
//! and saved-search matching answer on a fixed corpus, recorded in
//! `tests/golden/engine.json` and compared exactly (hits and their order,
//! scores, totals, facets, snippets, reasons).
//!
//! The engine may be made faster; it must not answer differently. A change
//! that has to alter an answer re-records the file
//! (`INCIDEX_GOLDEN=write cargo test -p incidex-indexer --test golden`) and
//! says why in its commit message.
//!
//! The corpus: the 32 telecom incidents (TLP levels rotated so visibility
//! matters), 600 generated reports with summaries of 300 to 1,100 words,
//! and a few edge cases (HTML in the text, a word longer than a snippet,
//! matches only in the body, lessons or title, Unicode, telecom tokens). It
//! is written in three commits with updates and deletes in between, so the
//! index has several segments and deleted documents.

use std::path::PathBuf;

use chrono::{NaiveDate, TimeZone, Utc};
use incidex_indexer::corpus::{SplitMix64, SyntheticStyle, load_jsonl, synthetic};
use incidex_indexer::{
    FlagField, IncidentIndex, IndexDoc, KeywordField, MatchBatch, MergeOptions, SearchRequest,
    SimilarQuery, SortOrder, Tlp, WriterOptions,
};
use serde_json::{Value, json};

const MEMBER: [Tlp; 3] = [Tlp::Clear, Tlp::Green, Tlp::Amber];
const PUBLIC: [Tlp; 2] = [Tlp::Clear, Tlp::Green];

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/engine.json")
}

fn telecom() -> Vec<IndexDoc> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/data/telecom/incidents.jsonl");
    load_jsonl(&path, "none")
        .expect("telecom corpus")
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut doc = d.doc;
            doc.tlp = Tlp::ALL[i % 4];
            doc.title = doc
                .summary
                .split_whitespace()
                .take(9)
                .collect::<Vec<_>>()
                .join(" ");
            doc
        })
        .collect()
}

fn edge_docs() -> Vec<IndexDoc> {
    let day = |d: u32| Utc.with_ymd_and_hms(2030, 1, d, 8, 0, 0).unwrap();
    let mut out = Vec::new();
    let mut d = IndexDoc::new(
        "edge-html",
        "<script>alert(\"x\")</script> & 'quoted' outage",
        Tlp::Green,
    );
    d.summary = format!(
        "The <b>router</b> & \"switch\" rebooted; {} then the router failed again & again.",
        "a".repeat(260)
    );
    d.published_at = day(1);
    out.push(d);
    let mut d = IndexDoc::new("edge-body", "Quiet title", Tlp::Clear);
    d.body = "Only the body mentions the quasar gateway and the router firmware.".into();
    d.published_at = day(2);
    out.push(d);
    let mut d = IndexDoc::new("edge-lessons", "Another quiet title", Tlp::Green);
    d.summary = "Nothing of note here.".into();
    d.lessons = vec![
        "Keep a spare nebula card".into(),
        "Test the router firmware before rollout".into(),
    ];
    d.published_at = day(3);
    out.push(d);
    let mut d = IndexDoc::new("edge-title", "Pulsar interconnect outage", Tlp::Amber);
    d.summary = "A short summary without the word.".into();
    d.published_at = day(4);
    out.push(d);
    let mut d = IndexDoc::new("edge-unicode", "Störung im Kernnetz", Tlp::Green);
    d.summary = "Die Störung im Kernnetz — façade ½ 東京 fibre; the fiber ring at the centre \
                 and the datacenter failed."
        .into();
    d.published_at = day(5);
    out.push(d);
    let mut d = IndexDoc::new(
        "edge-telecom",
        "P-CSCF/S-CSCF and HSS/UDM failure",
        Tlp::Clear,
    );
    d.summary = "Release 10.2.1 broke the P-CSCF; 7,000,000 customers lost VoLTE, calls to 112 \
                 and 000 failed, two MMEs and the S1-MME links restarted, SIP 408 timeouts \
                 followed on the HLR."
        .into();
    d.services = vec!["voice".into(), "volte".into(), "emergency_calls".into()];
    d.network_domain = Some("ims".into());
    d.other_domains = vec!["core".into(), "ran".into()];
    d.assets = vec!["p-cscf".into(), "hss".into()];
    d.trigger = Some("software_upgrade".into());
    d.emergency_service_affected = true;
    d.published_at = day(6);
    d.started_on = NaiveDate::from_ymd_opt(2029, 12, 30);
    out.push(d);
    let mut d = IndexDoc::new(
        "edge-long",
        "Very long report of a router outage",
        Tlp::Green,
    );
    let words = [
        "router", "link", "the", "failed", "restart", "fibre", "power", "site", "core", "and",
    ];
    let mut rng = SplitMix64(5);
    d.summary = (0..3000)
        .map(|_| words[rng.below(words.len())])
        .collect::<Vec<_>>()
        .join(" ");
    d.published_at = day(7);
    out.push(d);
    out
}

fn build() -> (tempfile::TempDir, IncidentIndex, Vec<IndexDoc>) {
    let tel = telecom();
    let syn = synthetic(&tel, 600, 11, SyntheticStyle::Long);
    let dir = tempfile::tempdir().expect("temp dir");
    let index = IncidentIndex::open_or_create(dir.path()).expect("index");
    // One thread and no merges: segment layout, and so the order of equal
    // scores and the statistics of deleted documents, is then the same on
    // every run.
    let mut w = index
        .writer_with(WriterOptions {
            threads: 1,
            heap_bytes: 64 << 20,
            merge: MergeOptions::none(),
        })
        .expect("writer");
    for d in tel.iter().chain(&syn[..400]) {
        w.upsert(d).expect("upsert");
    }
    w.commit(1).expect("commit");
    for d in &syn[400..] {
        w.upsert(d).expect("upsert");
    }
    // Updates: new text for some documents, and deletes.
    for d in syn.iter().step_by(37) {
        let mut d = d.clone();
        d.summary = format!("Updated report. {}", d.summary);
        d.severity = Some("critical".into());
        w.upsert(&d).expect("upsert");
    }
    for d in syn.iter().skip(5).step_by(53) {
        w.delete(&d.id);
    }
    w.commit(2).expect("commit");
    for d in edge_docs() {
        w.upsert(&d).expect("upsert");
    }
    w.delete(&tel[3].id);
    w.commit(3).expect("commit");
    w.finish().expect("finish");
    index.reload().expect("reload");
    let mut all = tel;
    all.extend(syn);
    all.extend(edge_docs());
    (dir, index, all)
}

/// Lowercase alphabetic words of at least three letters.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 3)
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Queries in the benchmark's mix, drawn from the corpus: single words of
/// every document frequency, two and three required words from one
/// report, and quoted phrases that occur in a report.
fn generated_queries(docs: &[IndexDoc]) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut df: BTreeMap<String, usize> = BTreeMap::new();
    for d in docs {
        let set: BTreeSet<String> = words(&d.full_text()).into_iter().collect();
        for w in set {
            *df.entry(w).or_default() += 1;
        }
    }
    let n = docs.len() as f64;
    let band = |lo: f64, hi: f64| -> Vec<String> {
        df.iter()
            .filter(|(_, c)| (**c as f64) >= lo * n && (**c as f64) < hi * n)
            .map(|(w, _)| w.clone())
            .collect()
    };
    let rare = band(0.0, 0.005);
    let mid = band(0.005, 0.05);
    let common = band(0.05, 0.3);
    let vcommon = band(0.3, 1.01);
    let mut rng = SplitMix64(3);
    let mut pick = |v: &[String]| v[rng.below(v.len())].clone();
    let mut out = Vec::new();
    for _ in 0..6 {
        out.push(pick(&rare));
        out.push(pick(&mid));
        out.push(pick(&common));
    }
    for _ in 0..4 {
        out.push(pick(&vcommon));
        out.push(format!("{} {}", pick(&common), pick(&mid)));
        out.push(format!("{} {}", pick(&vcommon), pick(&common)));
        out.push(format!(
            "{} {} {}",
            pick(&vcommon),
            pick(&common),
            pick(&mid)
        ));
    }
    let mut rng = SplitMix64(4);
    while out.len() < 60 {
        let d = &docs[rng.below(docs.len())];
        let w = words(&d.summary);
        if w.len() < 3 {
            continue;
        }
        let i = rng.below(w.len() - 2);
        let len = 2 + rng.below(2);
        out.push(format!("\"{}\"", w[i..i + len].join(" ")));
    }
    out
}

const FIXED_QUERIES: &[&str] = &[
    "",
    "router",
    "routers failed",
    "\"router failed\"",
    "fibre cut",
    "fiber",
    "\"emergency calls\"",
    "emergency",
    "VoLTE registration",
    "software AND upgrade",
    "power NOT storm",
    "routing OR bgp",
    "P-CSCF",
    "cscf",
    "\"p cscf\"",
    "S1-MME",
    "112",
    "000",
    "10.2.1",
    "HSS/UDM",
    "mme",
    "subscriber database failed",
    "summary:database",
    "title:outage",
    "lessons:firmware",
    "body:quasar",
    "nebula",
    "pulsar",
    "trigger:software_upgrade",
    "severity:critical",
    "tlp:red",
    "tlp:red OR router",
    "emergency_service_affected:true",
    "duration_minutes:[60 TO 600]",
    "published_at:[2020-01-01T00:00:00Z TO 2030-12-31T00:00:00Z]",
    "router -fibre",
    "+router +link",
    "(router OR switch) AND failed",
    "script",
    "aaaa",
    "störung",
    "centre",
    "updated",
    "zzzzunknownword",
    "title:(",
    "\"unterminated",
    "nosuchfield:value",
];

fn results_json(r: incidex_indexer::Result<impl serde::Serialize>) -> Value {
    match r {
        Ok(v) => {
            serde_json::from_str(&serde_json::to_string(&v).expect("serialise")).expect("reparse")
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn record(index: &IncidentIndex, docs: &[IndexDoc]) -> Value {
    let mut searches = Vec::new();
    let mut push = |name: String, req: &SearchRequest, vis: &[Tlp]| {
        let r = index.search(req, vis);
        searches.push(json!({ "name": name, "result": results_json(r) }));
    };
    let api = |q: &str| SearchRequest {
        limit: 10,
        ..SearchRequest::new(q)
    };
    let mut queries: Vec<String> = FIXED_QUERIES.iter().map(|s| s.to_string()).collect();
    queries.extend(generated_queries(docs));
    for q in &queries {
        push(format!("api {q:?}"), &api(q), &MEMBER);
    }
    for q in queries.iter().step_by(3) {
        push(format!("all levels {q:?}"), &api(q), &Tlp::ALL);
        push(format!("public {q:?}"), &api(q), &PUBLIC);
    }
    for q in queries.iter().step_by(7) {
        push(format!("clear only {q:?}"), &api(q), &[Tlp::Clear]);
        push(format!("nothing visible {q:?}"), &api(q), &[]);
        let mut r = SearchRequest::new(q.as_str());
        r.offset = 10;
        r.limit = 25;
        r.snippet_chars = 80;
        push(format!("page 2, short snippets {q:?}"), &r, &MEMBER);
        let mut r = api(q);
        r.facets = false;
        push(format!("no facets {q:?}"), &r, &MEMBER);
        for sort in [SortOrder::Newest, SortOrder::Oldest] {
            let mut r = api(q);
            r.sort = sort;
            push(format!("{sort:?} {q:?}"), &r, &MEMBER);
        }
    }
    for q in ["", "router", "failed", "\"emergency calls\""] {
        let mut r = api(q);
        r.filters = r
            .filters
            .with(KeywordField::Severity, &["critical", "MAJOR"])
            .with(KeywordField::Asset, &["hss", "p-cscf", "msc"]);
        push(format!("keyword filters {q:?}"), &r, &MEMBER);
        let mut r = api(q);
        r.filters = r
            .filters
            .with_flag(FlagField::EmergencyServiceAffected, true)
            .with(KeywordField::Domain, &["core"]);
        push(format!("flag and domain filters {q:?}"), &r, &Tlp::ALL);
        let mut r = api(q);
        r.filters.published_from = Some(Utc.with_ymd_and_hms(2015, 1, 2, 0, 0, 0).unwrap());
        r.filters.published_to = Some(Utc.with_ymd_and_hms(2015, 1, 3, 12, 0, 0).unwrap());
        r.filters.started_from = NaiveDate::from_ymd_opt(2000, 1, 1);
        push(format!("date filters {q:?}"), &r, &MEMBER);
    }
    let mut r = api("router");
    r.offset = 9_995;
    r.limit = 5;
    push("deep offset".into(), &r, &Tlp::ALL);
    let mut r = api("router");
    r.limit = 0;
    push("limit 0".into(), &r, &Tlp::ALL);

    let mut similar = Vec::new();
    let ids: Vec<&str> = docs
        .iter()
        .step_by(41)
        .map(|d| d.id.as_str())
        .chain(["edge-telecom", "edge-html", "syn-000005", "missing-id"])
        .collect();
    for id in &ids {
        for (vis_name, vis) in [("member", &MEMBER[..]), ("all", &Tlp::ALL[..])] {
            similar.push(json!({
                "name": format!("similar_to {id} k10 {vis_name}"),
                "result": results_json(index.similar_to(id, 10, vis)),
            }));
        }
    }
    similar.push(json!({
        "name": "similar_to k0",
        "result": results_json(index.similar_to(ids[0], 0, &MEMBER)),
    }));
    let probes = [
        SimilarQuery {
            text: "The P-CSCF failed after a software upgrade and VoLTE calls dropped".into(),
            ..Default::default()
        },
        SimilarQuery {
            text: "fibre cut by construction works isolated the region".into(),
            trigger: Some("fibre_cut".into()),
            network_domain: Some("transport".into()),
            ..Default::default()
        },
        SimilarQuery {
            text: docs[100].summary.clone(),
            assets: vec!["hss".into()],
            services: vec!["voice".into(), "data".into()],
            operator_type: Some("mobile_operator".into()),
            root_cause_category: Some("system_failure".into()),
            ..Default::default()
        },
        SimilarQuery {
            text: String::new(),
            trigger: Some("config_change".into()),
            ..Default::default()
        },
        SimilarQuery::default(),
    ];
    for (i, p) in probes.iter().enumerate() {
        for k in [5, 10] {
            similar.push(json!({
                "name": format!("similar_to_text probe {i} k{k}"),
                "result": results_json(index.similar_to_text(p, k, &MEMBER)),
            }));
        }
    }

    let mut stored = Vec::new();
    for id in ids.iter().take(12) {
        stored.push(json!({
            "name": format!("get {id}"),
            "result": results_json(index.get(id, &MEMBER)),
        }));
    }
    let all = index.all_docs(&PUBLIC).expect("all docs");
    stored.push(json!({
        "name": "all_docs public",
        "result": { "count": all.len(), "ids": all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>() },
    }));

    let batch = MatchBatch::new(docs.iter().step_by(9).cloned().collect()).expect("batch");
    let mut matches = Vec::new();
    for q in [
        "router",
        "\"emergency calls\"",
        "fibre OR power",
        "trigger:config_change",
        "",
    ] {
        let filters = incidex_indexer::Filters::default();
        matches.push(json!({
            "name": format!("match {q:?}"),
            "result": results_json(batch.matches(q, &filters, &MEMBER)),
        }));
    }

    json!({
        "search": searches,
        "similar": similar,
        "stored": stored,
        "matches": matches,
    })
}

#[test]
fn answers_match_the_golden_file() {
    let (_dir, index, docs) = build();
    let actual = record(&index, &docs);
    let path = golden_path();
    if std::env::var("INCIDEX_GOLDEN").as_deref() == Ok("write") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = serde_json::to_string_pretty(&actual).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
        return;
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; record it with INCIDEX_GOLDEN=write",
                path.display()
            )
        }))
        .expect("golden JSON");
    let mut mismatches = Vec::new();
    for section in ["search", "similar", "stored", "matches"] {
        let exp = expected[section].as_array().expect("section");
        let act = actual[section].as_array().expect("section");
        assert_eq!(exp.len(), act.len(), "number of cases in {section}");
        for (e, a) in exp.iter().zip(act) {
            assert_eq!(e["name"], a["name"], "case order in {section}");
            if e != a {
                mismatches.push(format!(
                    "{section} / {}:\n  expected {}\n  actual   {}",
                    e["name"],
                    truncate(&e["result"].to_string()),
                    truncate(&a["result"].to_string())
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} answers differ from {}:\n{}",
        mismatches.len(),
        path.display(),
        mismatches.join("\n")
    );
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(600) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The golden corpus has what the golden file is meant to cover: long
/// summaries, several segments' worth of documents, deletes and every TLP
/// level; and its answers are not trivially empty.
#[test]
fn golden_corpus_covers_its_cases() {
    let (_dir, index, docs) = build();
    let syn: Vec<&IndexDoc> = docs.iter().filter(|d| d.id.starts_with("syn-")).collect();
    let long = syn
        .iter()
        .filter(|d| d.summary.split_whitespace().count() >= 600)
        .count();
    assert!(long >= 200, "only {long} summaries of 600+ words");
    // 32 + 600 + 7 written, 12 + 1 deleted.
    assert_eq!(index.num_docs(), 32 + 600 + 7 - 12 - 1);
    for t in Tlp::ALL {
        assert!(index.search(&SearchRequest::new(""), &[t]).unwrap().total > 0);
    }
    let r = index
        .search(&SearchRequest::new("router"), &MEMBER)
        .unwrap();
    assert!(r.total > 10 && r.hits.iter().all(|h| h.snippet.contains("<mark>")));
}
