//! Benchmarks over synthetic corpora of 10k and 100k documents generated
//! from the telecom corpus's vocabulary and structure (deterministic RNG):
//! search and similar latency (criterion, plus p50/p99 over 1,000 calls),
//! indexing throughput and re-clustering time.
//!
//! `cargo bench -p incidex-indexer --bench search`; the 100k fixture is built
//! once per run. Set `INCIDEX_BENCH_SMALL=1` to skip the 100k corpus.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use incidex_indexer::cluster::{ClusterInput, ClusterParams, cluster_all};
use incidex_indexer::corpus::load_jsonl;
use incidex_indexer::{
    IncidentIndex, IndexDoc, KeywordField, SearchRequest, SortOrder, Tlp, WriterOptions,
};

/// SplitMix64: small, deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn templates() -> Vec<IndexDoc> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/data/telecom/incidents.jsonl");
    load_jsonl(&path, "none")
        .expect("telecom corpus")
        .into_iter()
        .map(|d| d.doc)
        .collect()
}

fn sentences(text: &str) -> Vec<String> {
    text.split(". ")
        .map(|s| s.trim().trim_end_matches('.').to_string())
        .filter(|s| s.len() > 20)
        .collect()
}

const ASSETS: &[&str] = &[
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
const SEVERITIES: &[&str] = &["minor", "major", "critical"];
const SCOPES: &[&str] = &["local", "regional", "national", "multi_national"];

/// `n` synthetic documents: each takes a template incident's structured
/// fields and mixes its sentences with other incidents' sentences and
/// random vocabulary words.
fn synthetic(n: usize, seed: u64) -> Vec<IndexDoc> {
    let t = templates();
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
    let mut rng = Rng(seed);
    let start = Utc
        .with_ymd_and_hms(2015, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    (0..n)
        .map(|i| {
            let k = rng.below(t.len());
            let tpl = &t[k];
            let own = &per_template[k];
            let mut text = Vec::new();
            for _ in 0..(3 + rng.below(4)) {
                let s = if rng.below(10) < 6 && !own.is_empty() {
                    own[rng.below(own.len())].clone()
                } else {
                    all_sentences[rng.below(all_sentences.len())].clone()
                };
                let words: Vec<String> = s
                    .split_whitespace()
                    .map(|w| {
                        if rng.below(10) == 0 {
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
            d.summary = text[..2.min(text.len())].join(". ");
            d.body = text[2.min(text.len())..].join(". ");
            d.tlp = Tlp::ALL[rng.below(4)];
            d.assets = vec![ASSETS[rng.below(ASSETS.len())].to_string()];
            d.severity = Some(SEVERITIES[rng.below(3)].to_string());
            d.scope = Some(SCOPES[rng.below(4)].to_string());
            d.published_at = Utc
                .timestamp_opt(start + i as i64 * 600, 0)
                .single()
                .unwrap_or_default();
            d
        })
        .collect()
}

fn build(docs: &[IndexDoc], dir: &std::path::Path) -> (IncidentIndex, Duration) {
    let index = IncidentIndex::open_or_create(dir).unwrap();
    let t0 = Instant::now();
    let mut w = index
        .writer_with(WriterOptions {
            threads: 2,
            heap_bytes: 256 << 20,
            ..Default::default()
        })
        .unwrap();
    for (i, d) in docs.iter().enumerate() {
        w.upsert(d).unwrap();
        if (i + 1) % 20_000 == 0 {
            w.commit(i as i64).unwrap();
        }
    }
    w.commit(docs.len() as i64).unwrap();
    w.finish().unwrap();
    let took = t0.elapsed();
    index.reload().unwrap();
    (index, took)
}

fn queries() -> Vec<SearchRequest> {
    let mut v: Vec<SearchRequest> = [
        "fibre cut",
        "\"emergency calls\"",
        "VoLTE registration",
        "software AND upgrade",
        "power NOT storm",
        "P-CSCF",
        "summary:database",
        "routing OR bgp",
        "subscriber database failed",
        "112",
    ]
    .iter()
    .map(|q| SearchRequest::new(*q))
    .collect();
    let mut f = SearchRequest::new("outage");
    f.filters = f
        .filters
        .with(KeywordField::NetworkDomain, &["core", "ims"])
        .with(KeywordField::Severity, &["critical"]);
    v.push(f);
    v.push(SearchRequest {
        sort: SortOrder::Newest,
        ..SearchRequest::new("network")
    });
    v.push(SearchRequest {
        offset: 100,
        ..SearchRequest::new("customers")
    });
    v
}

fn percentiles(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort();
    let p = |q: f64| d[((d.len() as f64 * q) as usize).min(d.len() - 1)];
    (p(0.50), p(0.99))
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_size_mb(p: &std::path::Path) -> f64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1e6
}

fn bench_size(c: &mut Criterion, n: usize) {
    let docs = synthetic(n, 42);
    let dir = tempfile::tempdir().unwrap();
    let (index, took) = build(&docs, dir.path());
    println!(
        "[{n}] indexed {n} docs in {:.1}s ({:.0} docs/s, 2 threads), index {:.0} MB on disk",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        dir_size_mb(dir.path())
    );
    let vis = [Tlp::Clear, Tlp::Green, Tlp::Amber];
    let qs = queries();
    let mut lat = Vec::new();
    for i in 0..1000 {
        let t0 = Instant::now();
        black_box(index.search(&qs[i % qs.len()], &vis).unwrap());
        lat.push(t0.elapsed());
    }
    let (p50, p99) = percentiles(lat.clone());
    for (qi, q) in qs.iter().enumerate() {
        let mine: Vec<Duration> = lat.iter().skip(qi).step_by(qs.len()).copied().collect();
        let (a, b) = percentiles(mine);
        println!(
            "[{n}]   {:?} sort={:?} offset={}: p50 {:.2} ms, p99 {:.2} ms",
            q.query,
            q.sort,
            q.offset,
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3
        );
    }
    println!(
        "[{n}] search with facets + snippets: p50 {:.2} ms, p99 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    let mut rng = Rng(7);
    let mut lat = Vec::new();
    for _ in 0..1000 {
        let id = &docs[rng.below(docs.len())].id;
        let t0 = Instant::now();
        // The probe may be invisible at these levels (red): that is a
        // NotFound answer, timed as well.
        let _ = black_box(index.similar_to(id, 10, &Tlp::ALL));
        lat.push(t0.elapsed());
    }
    let (p50, p99) = percentiles(lat);
    println!(
        "[{n}] similar (k=10): p50 {:.2} ms, p99 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );

    let mut g = c.benchmark_group(format!("n{n}"));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let mut i = 0;
    g.bench_function("search", |b| {
        b.iter(|| {
            i += 1;
            black_box(index.search(&qs[i % qs.len()], &vis).unwrap())
        })
    });
    let mut rng = Rng(9);
    g.bench_function("similar", |b| {
        b.iter(|| {
            let id = &docs[rng.below(docs.len())].id;
            black_box(index.similar_to(id, 10, &Tlp::ALL).unwrap())
        })
    });
    g.finish();

    let inputs: Vec<ClusterInput> = docs.iter().map(ClusterInput::from_doc).collect();
    let t0 = Instant::now();
    let clustering = cluster_all(&inputs, &ClusterParams::default());
    println!(
        "[{n}] re-cluster: {:.1}s, {} clusters, peak RSS so far {:.0} MB",
        t0.elapsed().as_secs_f64(),
        clustering.clusters.len(),
        peak_rss_mb()
    );
}

fn benches(c: &mut Criterion) {
    // Indexing throughput on 2,000-document batches (in memory).
    let batch = synthetic(2_000, 1);
    let mut g = c.benchmark_group("indexing");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("upsert+commit 2k docs", |b| {
        b.iter(|| {
            let index = IncidentIndex::create_in_ram().unwrap();
            let mut w = index.writer().unwrap();
            for d in &batch {
                w.upsert(d).unwrap();
            }
            w.commit(1).unwrap();
        })
    });
    g.finish();
    bench_size(c, 10_000);
    if std::env::var_os("INCIDEX_BENCH_SMALL").is_none() {
        bench_size(c, 100_000);
    }
    println!("peak RSS of the bench process: {:.0} MB", peak_rss_mb());
}

criterion_group!(search_benches, benches);
criterion_main!(search_benches);
