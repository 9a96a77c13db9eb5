//! `incidex eval FILE --label FIELD`: loads a labelled JSON Lines corpus
//! into a fresh, throwaway registry through the same code paths as real
//! filings (validation, anonymisation, storage, publication, the index
//! follower, clustering), then measures how often similar incidents share
//! the label (P@k, MRR) and how well clusters match it (ARI, NMI), beside a
//! plain TF-IDF cosine baseline computed on the same stored texts.
//!
//! Two line formats are understood: the telecom corpus
//! (`schema/data/telecom`) and public postmortems with `title`, `summary`
//! and `text`. The label's own structured field is removed before filing,
//! so nothing can read the answer.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use incidex_indexer::cluster::{ClusterInput, ClusterParams, cluster_all, cluster_vectors};
use incidex_indexer::eval::{
    RetrievalScores, TfIdfBaseline, adjusted_rand_index, label_ids, normalized_mutual_info,
    score_rankings,
};
use incidex_indexer::{IndexDoc, Tlp as IndexTlp};
use incidex_schema::corpus::TelecomRecord;
use incidex_schema::report::{ReportInput, Tlp};
use serde_json::{Value, json};

use crate::app::build_state;
use crate::config::{Overrides, Settings};
use incidex_registry::index::{Follower, index_doc};
use incidex_registry::keys::owner_key;
use incidex_registry::members::{self, NewOperator};
use incidex_registry::reports::filing::{file_report, publish_report};

/// The figures `incidex eval` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalReport {
    pub documents: usize,
    pub label: String,
    pub ours: RetrievalScores,
    pub baseline: RetrievalScores,
    pub ours_clusters: usize,
    pub ours_ari: f64,
    pub ours_nmi: f64,
    pub baseline_clusters: usize,
    pub baseline_ari: f64,
    pub baseline_nmi: f64,
}

/// Turns one corpus line into a report body with the label removed, and
/// the label value.
fn to_report(line: &str, label: &str) -> anyhow::Result<Option<(ReportInput, String)>> {
    let value: Value = serde_json::from_str(line)?;
    let label_value = value.get(label).and_then(Value::as_str).map(str::to_owned);
    let Some(label_value) = label_value.filter(|l| !l.is_empty() && l != "Uncategorized") else {
        return Ok(None);
    };
    let mut input =
        if value.get("impact_text").is_some() || value.get("services_affected").is_some() {
            let record: TelecomRecord = serde_json::from_value(value)?;
            record.to_report_input()
        } else {
            postmortem_input(&value)?
        };
    match label {
        "root_cause_category" => input.cause.root_cause_category = None,
        "trigger" => input.cause.trigger = None,
        "network_domain" => {
            input.affected.network_domain = None;
            input.affected.other_network_domains.clear();
        }
        _ => {}
    }
    // The composed corpus title names domain, trigger and services; with
    // the label removed it must not carry it either.
    if label == "root_cause_category" || label == "trigger" || label == "network_domain" {
        input.title = "Incident".to_owned();
    }
    input.tlp = Tlp::Green;
    Ok(Some((input, label_value)))
}

fn postmortem_input(v: &Value) -> anyhow::Result<ReportInput> {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let clip = |s: String, n: usize| s.chars().take(n).collect::<String>();
    let title = clip(text("title").replace(['\n', '\r'], " "), 200);
    // The short summary is the report's summary; the postmortem itself
    // goes where a filer would put the rest of the story (the notes), so
    // the index weighs them as it weighs a real report's fields.
    let (summary, notes) = match (text("summary"), text("text")) {
        (s, t) if s.is_empty() => (t, String::new()),
        (s, t) => (s, t),
    };
    let started = v
        .get("start_time")
        .and_then(Value::as_str)
        .and_then(|s| s.get(..10))
        .filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
        .unwrap_or("2015-01-01")
        .to_owned();
    let body = json!({
        "title": if title.is_empty() { "Incident".to_owned() } else { title },
        "summary": clip(if summary.is_empty() { "No description.".to_owned() } else { summary }, 10_000),
        "context": {"started_on": started},
    });
    let mut body = body;
    if !notes.is_empty() {
        body["notes"] = json!(clip(notes, 10_000));
    }
    ReportInput::from_json(body).map_err(|e| anyhow::anyhow!("{:?}", e.errors()))
}

/// Runs the evaluation in a fresh registry under a temporary directory.
pub fn run(file: &Path, label: &str, k: usize) -> anyhow::Result<EvalReport> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let dir = tempfile::tempdir().context("temporary registry")?;
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        database_url: Some(format!("sqlite://{}", dir.path().join("eval.db").display())),
        ..Overrides::default()
    };
    let mut settings = Settings::load(None, &overrides)?;
    settings.ownership_secret = None;
    let state = build_state(Arc::new(settings), false)?;
    let mut conn = state.registry.pool.get()?;
    let op = members::create_operator(
        &mut conn,
        NewOperator {
            name: "Evaluation Member".into(),
            aliases: vec![],
            country: None,
            operator_type: None,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let owner = owner_key(&state.registry.keys, &op.id);

    let mut labels: HashMap<String, String> = HashMap::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let Some((input, label_value)) =
            to_report(line, label).with_context(|| format!("line {}", n + 1))?
        else {
            continue;
        };
        let content = input
            .validate()
            .map_err(|e| anyhow::anyhow!("line {}: {:?}", n + 1, e.errors()))?;
        let filed = file_report(&state.registry.members, &mut conn, &op.id, &owner, content)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        publish_report(
            &state.registry.keys,
            "incidex",
            &mut conn,
            &filed.report.id,
            &owner,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        labels.insert(filed.report.id, label_value);
    }
    drop(conn);

    // The same follower as the server, run until it has caught up.
    let handle = Arc::new(incidex_indexer::IndexHandle::open(
        dir.path().join("index"),
    )?);
    let mut follower = Follower::new(
        state.registry.pool.clone(),
        handle.clone(),
        state.registry.members.clone(),
        state.settings.k_anonymity,
    );
    while follower.step()?.applied > 0 {}
    let index = handle.current();

    // Documents in a fixed order, with their stored (anonymised) text.
    let mut conn = state.registry.pool.get()?;
    let mut docs: Vec<(IndexDoc, String)> = Vec::new();
    for id in incidex_schema::db::reports::published_ids(&mut conn)? {
        let row = incidex_schema::db::reports::find_report(&mut conn, &id)?.context("report")?;
        let content =
            incidex_registry::views::content_of(&row).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(l) = labels.get(&id) {
            docs.push((index_doc(&row, &content, 0, usize::MAX), l.clone()));
        }
    }
    let pos: HashMap<&str, usize> = docs
        .iter()
        .enumerate()
        .map(|(i, (d, _))| (d.id.as_str(), i))
        .collect();
    let label_list: Vec<String> = docs.iter().map(|(_, l)| l.clone()).collect();
    let visible = IndexTlp::ALL;

    let mut ours = Vec::new();
    for (doc, _) in &docs {
        let hits = index.similar_to(&doc.id, k, &visible)?;
        ours.push(
            hits.iter()
                .filter_map(|h| pos.get(h.id.as_str()).copied())
                .collect::<Vec<_>>(),
        );
    }
    let baseline = TfIdfBaseline::new(&docs.iter().map(|(d, _)| d.full_text()).collect::<Vec<_>>());
    let base: Vec<Vec<usize>> = (0..docs.len())
        .map(|i| baseline.similar(i, k).into_iter().map(|e| e.0).collect())
        .collect();

    let truth = label_ids(&label_list);
    let params = ClusterParams::default();
    let inputs: Vec<ClusterInput> = docs
        .iter()
        .map(|(d, _)| ClusterInput::from_doc(d))
        .collect();
    let clustering = cluster_all(&inputs, &params);
    let base_clusters = cluster_vectors(baseline.vectors(), &params);
    Ok(EvalReport {
        documents: docs.len(),
        label: label.to_owned(),
        ours: score_rankings(&label_list, &ours),
        baseline: score_rankings(&label_list, &base),
        ours_clusters: clustering.clusters.len(),
        ours_ari: adjusted_rand_index(&clustering.assignments, &truth),
        ours_nmi: normalized_mutual_info(&clustering.assignments, &truth),
        baseline_clusters: base_clusters.iter().max().map_or(0, |m| m + 1),
        baseline_ari: adjusted_rand_index(&base_clusters, &truth),
        baseline_nmi: normalized_mutual_info(&base_clusters, &truth),
    })
}

impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} documents, label `{}`\n", self.documents, self.label)?;
        writeln!(
            f,
            "| method | P@1 | P@3 | P@5 | MRR | clusters | ARI | NMI |"
        )?;
        writeln!(f, "| --- | --- | --- | --- | --- | --- | --- | --- |")?;
        let row = |f: &mut std::fmt::Formatter<'_>,
                   name: &str,
                   s: &RetrievalScores,
                   c: usize,
                   ari: f64,
                   nmi: f64| {
            writeln!(
                f,
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {c} | {ari:.3} | {nmi:.3} |",
                s.p_at_1, s.p_at_3, s.p_at_5, s.mrr
            )
        };
        row(
            f,
            "TF-IDF cosine baseline",
            &self.baseline,
            self.baseline_clusters,
            self.baseline_ari,
            self.baseline_nmi,
        )?;
        row(
            f,
            "incidex",
            &self.ours,
            self.ours_clusters,
            self.ours_ari,
            self.ours_nmi,
        )
    }
}
