//! Full clustering of a labelled JSONL corpus, scored against a hidden label.
//!
//! ```text
//! cargo run --release -p incidex-indexer --example cluster_eval -- \
//!     --corpus FILE.jsonl --label family [--limit N] [--holdout N] \
//!     [--method buckshot|kmeans|leader:0.25] [--sample N] [--min-df R] \
//!     [--max-terms N] [--show N]
//! ```
//!
//! Only text is read: `title`, `summary`, `text`, `impact_text`, `lessons`
//! and `lessons_learned` (strings or lists of strings), never a label or a
//! structured field. Reports are streamed into a `ClusterBuilder` in
//! batches, as the registry should, so the peak RSS printed (VmHWM) is what
//! the clustering costs plus one batch of text. Reports whose label is
//! missing, null or `Uncategorized` are clustered but left out of the
//! scores. `--holdout N` keeps the last N reports out of the clustering and
//! places them one by one with `assign`, as the registry does for new
//! reports.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::time::Instant;

use incidex_indexer::cluster::{
    Assignment, ClusterBuilder, ClusterInput, ClusterParams, Method, assign, vectorize,
};
use incidex_indexer::eval::{adjusted_rand_index, label_ids, normalized_mutual_info};
use incidex_indexer::{Centroid, Tlp};

struct Args {
    corpus: String,
    label: String,
    limit: usize,
    holdout: usize,
    unseen: Option<String>,
    thin: Option<(String, usize)>,
    members: bool,
    show: usize,
    params: ClusterParams,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        corpus: String::new(),
        label: String::new(),
        limit: usize::MAX,
        holdout: 0,
        unseen: None,
        thin: None,
        members: false,
        show: 12,
        params: ClusterParams::default(),
    };
    fn num<T: std::str::FromStr>(v: Option<String>, name: &str) -> Result<T, String> {
        v.and_then(|v| v.parse().ok())
            .ok_or(format!("{name} needs a number"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--corpus" => a.corpus = it.next().ok_or("--corpus needs a file")?,
            "--label" => a.label = it.next().ok_or("--label needs a field")?,
            "--limit" => a.limit = num(it.next(), "--limit")?,
            "--holdout" => a.holdout = num(it.next(), "--holdout")?,
            "--show" => a.show = num(it.next(), "--show")?,
            "--unseen" => a.unseen = it.next(),
            "--members" => a.members = true,
            "--thin" => {
                let v = it.next().ok_or("--thin needs LABEL:EVERY")?;
                let (l, e) = v.split_once(':').ok_or("--thin needs LABEL:EVERY")?;
                a.thin = Some((l.to_string(), e.parse().map_err(|_| "--thin LABEL:EVERY")?));
            }
            "--sample" => a.params.sample_size = num(it.next(), "--sample")?,
            "--min-df" => a.params.min_df_ratio = num(it.next(), "--min-df")?,
            "--max-terms" => a.params.max_terms = num(it.next(), "--max-terms")?,
            "--method" => {
                let m = it.next().ok_or("--method needs a name")?;
                a.params.method = match m.split_once(':') {
                    None if m == "buckshot" => Method::Buckshot,
                    None if m == "kmeans" => Method::KMeans,
                    Some(("leader", t)) => Method::Leader {
                        threshold: t.parse().map_err(|_| "leader:THRESHOLD")?,
                    },
                    _ => return Err(format!("unknown method {m}")),
                };
            }
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if a.corpus.is_empty() || a.label.is_empty() {
        return Err("usage: cluster_eval --corpus FILE.jsonl --label FIELD [options]".into());
    }
    Ok(a)
}

const TEXT_FIELDS: &[&str] = &[
    "title",
    "summary",
    "text",
    "impact_text",
    "lessons",
    "lessons_learned",
];

fn text_of(v: &serde_json::Value) -> String {
    let mut out = String::new();
    for f in TEXT_FIELDS {
        let parts: Vec<&str> = match v.get(f) {
            Some(serde_json::Value::String(s)) => vec![s.as_str()],
            Some(serde_json::Value::Array(xs)) => xs.iter().filter_map(|x| x.as_str()).collect(),
            _ => Vec::new(),
        };
        for p in parts {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(p);
        }
    }
    out
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cluster_eval: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster_eval: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let file = std::fs::File::open(&args.corpus).map_err(|e| format!("{}: {e}", args.corpus))?;
    // Count lines first so the hold-out is the last N reports.
    let total = BufReader::new(&file).lines().count().min(args.limit);
    let file = std::fs::File::open(&args.corpus).map_err(|e| format!("{}: {e}", args.corpus))?;
    let keep = total.saturating_sub(args.holdout);
    println!(
        "corpus {} ({total} reports, {keep} clustered, {} held out), label {}, method {:?}",
        args.corpus, args.holdout, args.label, args.params.method
    );
    println!("loadavg before: {}", loadavg());
    let t0 = Instant::now();
    let mut builder = ClusterBuilder::new(args.params);
    let mut labels: Vec<Option<String>> = Vec::new();
    let mut held: Vec<(ClusterInput, Option<String>)> = Vec::new();
    let mut batch: Vec<ClusterInput> = Vec::new();
    let mut read_secs = 0.0;
    let mut thinned = 0usize;
    let mut snippets: Vec<String> = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate().take(total) {
        let tr = Instant::now();
        let line = line.map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let label = v
            .get(&args.label)
            .and_then(|l| l.as_str())
            .filter(|l| *l != "Uncategorized")
            .map(str::to_string);
        let input = ClusterInput {
            id: v
                .get("id")
                .and_then(|x| x.as_str())
                .map_or_else(|| format!("line-{i}"), str::to_string),
            tlp: Some(Tlp::Clear),
            text: text_of(&v),
            ..Default::default()
        };
        read_secs += tr.elapsed().as_secs_f64();
        if let Some((l, every)) = &args.thin
            && label.as_deref() == Some(l.as_str())
        {
            thinned += 1;
            if !thinned.is_multiple_of(*every) {
                continue;
            }
        }
        if args.members {
            snippets.push(format!(
                "{} {}: {}",
                input.id,
                label.as_deref().unwrap_or("-"),
                input
                    .text
                    .chars()
                    .take(110)
                    .collect::<String>()
                    .replace('\n', " ")
            ));
        }
        if i >= keep || (args.unseen.is_some() && label == args.unseen) {
            held.push((input, label));
            continue;
        }
        labels.push(label);
        batch.push(input);
        if batch.len() == 1024 {
            builder.extend(&batch);
            batch.clear();
        }
    }
    builder.extend(&batch);
    drop(batch);
    let t_read = t0.elapsed().as_secs_f64();
    let c = builder.finish();
    let t_all = t0.elapsed().as_secs_f64();
    let tm = c.diagnostics;
    println!(
        "time: {:.1} s total ({:.1} s reading JSON, {:.1} s analysis, {:.1} s vectors, {:.1} s clustering, {:.1} s labels); in-library {:.1} s",
        t_all,
        read_secs,
        tm.analyse_secs,
        tm.vectors_secs,
        tm.cluster_secs,
        tm.labels_secs,
        t_all - read_secs - (t_read - read_secs - tm.analyse_secs).max(0.0),
    );
    println!(
        "data: {} terms read, {} term counts held, {} dimensions, {} vector entries",
        tm.terms, tm.count_entries, tm.dims, tm.vector_entries
    );
    println!("peak RSS (VmHWM): {:.0} MB", peak_rss_mb());
    if let Some(first) = c.clusters.first() {
        let json: Vec<usize> = c
            .clusters
            .iter()
            .map(|c| serde_json::to_string(&c.centroid).map_or(0, |s| s.len()))
            .collect();
        println!(
            "joining floor (min_similarity): {:.3}; stored centroid JSON: largest {} bytes, all {} bytes",
            first.centroid.min_similarity,
            json.iter().max().unwrap_or(&0),
            json.iter().sum::<usize>()
        );
    }
    println!("loadavg after: {}", loadavg());

    let scored: Vec<usize> = (0..labels.len()).filter(|&i| labels[i].is_some()).collect();
    let truth = label_ids(
        &scored
            .iter()
            .map(|&i| labels[i].clone().unwrap_or_default())
            .collect::<Vec<_>>(),
    );
    let got: Vec<usize> = scored.iter().map(|&i| c.assignments[i]).collect();
    let mut sizes: Vec<usize> = c.clusters.iter().map(|c| c.members.len()).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let singletons = sizes.iter().filter(|&&s| s == 1).count();
    println!(
        "clusters: {} ({} singletons); ARI {:.3}, NMI {:.3} over {} labelled reports ({} label values)",
        c.clusters.len(),
        singletons,
        adjusted_rand_index(&got, &truth),
        normalized_mutual_info(&got, &truth),
        scored.len(),
        truth.iter().max().map_or(0, |m| m + 1)
    );
    println!(
        "sizes: {}",
        sizes
            .iter()
            .take(40)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );

    // Majority label of each cluster.
    let mut by_cluster: Vec<HashMap<&str, usize>> = vec![HashMap::new(); c.clusters.len()];
    for (i, l) in labels.iter().enumerate() {
        if let Some(l) = l {
            *by_cluster[c.assignments[i]].entry(l.as_str()).or_default() += 1;
        }
    }
    let majority: Vec<Option<&str>> = by_cluster
        .iter()
        .map(|m| {
            m.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|e| *e.0)
        })
        .collect();
    let mut order: Vec<usize> = (0..c.clusters.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(c.clusters[k].members.len()));
    println!("\nlargest clusters (size, label values, label):");
    for &k in order.iter().take(args.show) {
        let mut lab: Vec<(&str, usize)> = by_cluster[k].iter().map(|(a, b)| (*a, *b)).collect();
        lab.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let lab: Vec<String> = lab
            .iter()
            .take(3)
            .map(|(l, n)| format!("{l} {n}"))
            .collect();
        println!(
            "- {:>6} [{}] {}",
            c.clusters[k].members.len(),
            lab.join(", "),
            c.clusters[k].label
        );
        if args.members {
            for m in &c.clusters[k].members {
                if let Some(s) = snippets.iter().find(|s| s.starts_with(&format!("{m} "))) {
                    println!("    {s}");
                }
            }
        }
    }

    if !held.is_empty() {
        let centroids: Vec<Centroid> = c.clusters.iter().map(|c| c.centroid.clone()).collect();
        let (mut joined, mut right, mut labelled) = (0usize, 0usize, 0usize);
        let mut unseen = (0usize, 0usize);
        let t = Instant::now();
        for (input, label) in &held {
            let a = assign(input, &centroids, &c.stats, &args.params);
            if args.unseen.is_some() && *label == args.unseen {
                unseen.0 += 1;
                unseen.1 += usize::from(a == Assignment::New);
                continue;
            }
            if let Assignment::Join { cluster, .. } = a {
                joined += 1;
                if label.is_some() {
                    labelled += 1;
                    if majority[cluster] == label.as_deref() {
                        right += 1;
                    }
                }
            }
        }
        let per = t.elapsed().as_secs_f64() * 1e3 / held.len() as f64;
        if let Some(u) = &args.unseen {
            // The registry's incremental path: a report that starts a
            // cluster becomes its centroid, later ones are absorbed.
            let mut live = centroids.clone();
            let floor = live.first().map_or(0.0, |c| c.min_similarity);
            let first_new = live.len();
            for (input, label) in held.iter().filter(|(_, l)| l.as_deref() == Some(u)) {
                let v = vectorize(input, &c.stats, &args.params);
                match assign(input, &live, &c.stats, &args.params) {
                    Assignment::Join { cluster, .. } => live[cluster].absorb(&v),
                    Assignment::New => {
                        let mut n = Centroid::empty(floor);
                        n.absorb(&v);
                        live.push(n);
                    }
                }
                let _ = label;
            }
            let mut sizes: Vec<usize> = live[first_new..].iter().map(|c| c.size).collect();
            sizes.sort_unstable_by(|a, b| b.cmp(a));
            println!(
                "incremental: the unseen label's reports made {} new clusters, sizes {:?}",
                sizes.len(),
                &sizes[..sizes.len().min(10)]
            );
        }
        if let Some(u) = &args.unseen {
            println!(
                "\nassign: {} reports of the unseen label {u}: {} started a new cluster ({:.1}%)",
                unseen.0,
                unseen.1,
                100.0 * unseen.1 as f64 / unseen.0.max(1) as f64
            );
        }
        println!(
            "assign: {} held-out reports, {joined} joined a cluster ({} of the labelled joiners joined one whose majority label is theirs), {per:.3} ms per report against {} centroids",
            held.len() - unseen.0,
            if labelled > 0 {
                format!("{:.1}%", 100.0 * right as f64 / labelled as f64)
            } else {
                "none".into()
            },
            centroids.len()
        );
    }
    Ok(())
}
