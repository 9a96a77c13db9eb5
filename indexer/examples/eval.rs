//! Evaluates similar incidents and clustering against a labelled JSONL corpus,
//! ours against a plain TF-IDF cosine baseline.
//!
//! ```text
//! cargo run --release -p incidex-indexer --example eval -- FILE.jsonl --label FIELD [--k 10]
//! ```
//!
//! Documents whose label is null or `Uncategorized` are left out. The label
//! field is cleared from every document before indexing, so neither
//! similarity nor clustering can read it.

use std::path::PathBuf;
use std::process::ExitCode;

use incidex_indexer::cluster::{ClusterInput, ClusterParams, cluster_all, cluster_vectors};
use incidex_indexer::corpus::{blank_label, load_jsonl};
use incidex_indexer::eval::{
    RetrievalScores, TfIdfBaseline, adjusted_rand_index, label_ids, normalized_mutual_info,
    score_rankings,
};
use incidex_indexer::{IncidentIndex, SimilarQuery, SimilarityParams, Tlp};

struct Args {
    file: PathBuf,
    label: String,
    k: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut file = None;
    let mut label = None;
    let mut k = 10;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--label" => label = it.next(),
            "--k" => {
                k = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--k needs a number")?
            }
            _ if file.is_none() => file = Some(PathBuf::from(a)),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    Ok(Args {
        file: file.ok_or("usage: eval FILE.jsonl --label FIELD [--k 10]")?,
        label: label.ok_or("--label FIELD is required")?,
        k,
    })
}

fn row(name: &str, s: &RetrievalScores) {
    println!(
        "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |",
        s.p_at_1, s.p_at_3, s.p_at_5, s.mrr
    );
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eval: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let mut docs: Vec<_> = load_jsonl(&args.file, &args.label)?
        .into_iter()
        .filter(|d| d.label.as_deref().is_some_and(|l| l != "Uncategorized"))
        .collect();
    for d in &mut docs {
        blank_label(&mut d.doc, &args.label);
    }
    let labels: Vec<String> = docs
        .iter()
        .map(|d| d.label.clone().unwrap_or_default())
        .collect();
    let mut classes: Vec<(String, usize)> = Vec::new();
    for l in &labels {
        match classes.iter_mut().find(|c| &c.0 == l) {
            Some(c) => c.1 += 1,
            None => classes.push((l.clone(), 1)),
        }
    }
    classes.sort_by_key(|c| std::cmp::Reverse(c.1));
    println!("corpus: {} (label `{}`)", args.file.display(), args.label);
    println!(
        "documents: {} labelled; classes: {}",
        docs.len(),
        classes
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let index = IncidentIndex::create_in_ram()?;
    let mut w = index.writer()?;
    for d in &docs {
        w.upsert(&d.doc)?;
    }
    w.commit(0)?;
    let pos: std::collections::HashMap<&str, usize> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.doc.id.as_str(), i))
        .collect();
    let all = Tlp::ALL;

    // Ours: stored-document similarity (text + structured fields).
    let mut ours = Vec::new();
    for d in &docs {
        let hits = index.similar_to(&d.doc.id, args.k, &all)?;
        ours.push(
            hits.iter()
                .filter_map(|h| pos.get(h.id.as_str()).copied())
                .collect::<Vec<_>>(),
        );
    }
    // Ours, text only (no structured field in the probe).
    let text_only = SimilarityParams::default();
    let mut ours_text = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let probe = SimilarQuery {
            text: d.doc.full_text(),
            ..Default::default()
        };
        let hits = index.similar_to_text_with(&probe, args.k + 1, &all, &text_only)?;
        ours_text.push(
            hits.iter()
                .filter_map(|h| pos.get(h.id.as_str()).copied())
                .filter(|&j| j != i)
                .take(args.k)
                .collect::<Vec<_>>(),
        );
    }
    let baseline = TfIdfBaseline::new(&docs.iter().map(|d| d.doc.full_text()).collect::<Vec<_>>());
    let base: Vec<Vec<usize>> = (0..docs.len())
        .map(|i| {
            baseline
                .similar(i, args.k)
                .into_iter()
                .map(|e| e.0)
                .collect()
        })
        .collect();

    println!("\nsimilar incidents (a hit is relevant when it shares the query's label)\n");
    println!("| method | P@1 | P@3 | P@5 | MRR |");
    println!("| --- | --- | --- | --- | --- |");
    row("TF-IDF cosine baseline", &score_rankings(&labels, &base));
    row("ours, text only", &score_rankings(&labels, &ours_text));
    row("ours, text + fields", &score_rankings(&labels, &ours));

    let truth = label_ids(&labels);
    let inputs: Vec<ClusterInput> = docs
        .iter()
        .map(|d| ClusterInput::from_doc(&d.doc))
        .collect();
    let defaults = ClusterParams::default();
    println!("\nclustering (ARI / NMI against the label; clusters = number found)\n");
    println!("| vectors | clusters | ARI | NMI |");
    println!("| --- | --- | --- | --- |");
    let b = cluster_vectors(baseline.vectors(), &defaults);
    let c = cluster_all(&inputs, &defaults);
    for (name, a) in [("TF-IDF baseline", &b), ("ours", &c.assignments)] {
        let nc = a.iter().max().map_or(0, |m| m + 1);
        println!(
            "| {name} | {nc} | {:.3} | {:.3} |",
            adjusted_rand_index(a, &truth),
            normalized_mutual_info(a, &truth)
        );
    }
    println!("\nclusters (largest first):");
    let mut cl: Vec<_> = c.clusters.iter().collect();
    cl.sort_by_key(|c| std::cmp::Reverse(c.members.len()));
    for cluster in cl.iter().take(8) {
        let mut lab: Vec<&str> = cluster
            .members
            .iter()
            .filter_map(|m| pos.get(m.as_str()))
            .map(|&i| labels[i].as_str())
            .collect();
        lab.sort();
        println!(
            "- {} [{}]: {}",
            cluster.members.len(),
            cluster.label,
            lab.join(", ")
        );
    }
    Ok(())
}
