//! The search engine in process, on the HTTP benchmark's corpus and query
//! mix (`shared/bench`): index build throughput, peak memory and size,
//! search latency per query kind with the API's defaults (limit 10, facets,
//! 200-character snippets, total), similar incidents, and throughput with
//! concurrent searchers.
//!
//! ```sh
//! cargo bench -p incidex-indexer --bench engine -- build  [--corpus F] [--index DIR]
//! cargo bench -p incidex-indexer --bench engine -- search [--corpus F] [--index DIR] [--queries F]
//! cargo bench -p incidex-indexer --bench engine -- similar [--corpus F] [--index DIR]
//! cargo bench -p incidex-indexer --bench engine -- get     [--corpus F] [--index DIR]
//! cargo bench -p incidex-indexer --bench engine -- trickle [--every-ms 150] [--seconds 60]
//! cargo bench -p incidex-indexer --bench engine -- all
//! ```
//!
//! `--corpus` defaults to `/work/bench-data/corpus-100k.jsonl`, `--index` to
//! `target/bench-cache/<corpus name>`; `search` and `similar` build the index
//! there first when it is missing (`build` always builds afresh). The query
//! file defaults to `target/bench-cache/<corpus name>-queries.jsonl`, made
//! with `python3 /work/shared/bench/queries.py --corpus F --n 1000 --seed 1`
//! when missing. `trickle` copies the index aside and commits one report at
//! a time while a searcher runs the query mix. Other options:
//! `--threads N --heap-mb M --merge-min N --merge-factor F --merge-min-docs
//! D --merge-deleted R --compact 1` (writer, see `WriterOptions`),
//! `--commit-every N` (documents per commit while building), `--rounds R`
//! (measured passes over the queries), `--clients C --seconds S`
//! (throughput run), `--similar N` (probes), `--slowest N` (list the N
//! slowest queries of the last round).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use incidex_indexer::corpus::for_each_jsonl;
use incidex_indexer::{
    IncidentIndex, MergeOptions, SearchRequest, SimilarQuery, Tlp, WriterOptions,
};

/// What a member cleared up to amber sees (the benchmark's reader).
const VISIBLE: [Tlp; 3] = [Tlp::Clear, Tlp::Green, Tlp::Amber];

struct Args {
    mode: String,
    corpus: PathBuf,
    index: PathBuf,
    queries: PathBuf,
    threads: usize,
    heap_mb: usize,
    commit_every: usize,
    rounds: usize,
    clients: usize,
    seconds: u64,
    similar: usize,
    slowest: usize,
    merge: MergeOptions,
    compact: bool,
    every_ms: u64,
}

fn args() -> Args {
    let mut mode = String::from("all");
    let mut kv: BTreeMap<String, String> = BTreeMap::new();
    let mut it = std::env::args().skip(1).peekable();
    while let Some(a) = it.next() {
        if a == "--bench" {
            continue;
        }
        if let Some(k) = a.strip_prefix("--") {
            let v = it.next().unwrap_or_default();
            kv.insert(k.to_string(), v);
        } else {
            mode = a;
        }
    }
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-cache");
    let corpus = PathBuf::from(
        kv.get("corpus")
            .cloned()
            .unwrap_or_else(|| "/work/bench-data/corpus-100k.jsonl".into()),
    );
    let stem = corpus
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corpus".into());
    let num = |k: &str, d: usize| kv.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    Args {
        mode,
        index: kv
            .get("index")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join(&stem)),
        queries: kv
            .get("queries")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join(format!("{stem}-queries.jsonl"))),
        corpus,
        threads: num("threads", 2),
        heap_mb: num("heap-mb", 128),
        commit_every: num("commit-every", 10_000),
        rounds: num("rounds", 3),
        clients: num("clients", 8),
        seconds: num("seconds", 10) as u64,
        similar: num("similar", 1000),
        slowest: num("slowest", 0),
        merge: {
            let d = MergeOptions::default();
            MergeOptions {
                min_segments: num("merge-min", d.min_segments),
                tier_factor: kv
                    .get("merge-factor")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(d.tier_factor),
                min_tier_docs: num("merge-min-docs", d.min_tier_docs as usize) as u32,
                max_deleted_ratio: kv
                    .get("merge-deleted")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(d.max_deleted_ratio),
            }
        },
        compact: num("compact", 0) == 1,
        every_ms: num("every-ms", 150) as u64,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A `/proc/self/status` figure in MB (`VmHWM`, `VmRSS`, `RssAnon`, `RssFile`).
fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_size_mb(p: &Path) -> f64 {
    fn walk(p: &Path) -> u64 {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(p) as f64 / 1e6
}

/// Space by file kind (tantivy's extensions: `store`, `idx`, `pos`, `term`,
/// `fast`, `fieldnorm`, ...).
fn size_by_ext(p: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.filter_map(Result::ok) {
            let path = e.path();
            let ext = path
                .extension()
                .map(|x| x.to_string_lossy().into_owned())
                .unwrap_or_else(|| "other".into());
            if let Ok(m) = e.metadata() {
                *out.entry(ext).or_insert(0.0) += m.len() as f64 / 1e6;
            }
        }
    }
    out
}

fn build(a: &Args) -> IncidentIndex {
    println!(
        "# build {} -> {} (threads {}, heap {} MB, commit every {}); loadavg {}",
        a.corpus.display(),
        a.index.display(),
        a.threads,
        a.heap_mb,
        a.commit_every,
        loadavg()
    );
    if a.index.exists() {
        std::fs::remove_dir_all(&a.index).expect("remove old index");
    }
    let index = IncidentIndex::open_or_create(&a.index).expect("index");
    let rss_before = status_mb("VmRSS:");
    let t0 = Instant::now();
    let mut w = index.writer_with(writer_options(a)).expect("writer");
    let sampler = RssSampler::start();
    let mut n = 0usize;
    let mut bytes = 0usize;
    let mut commits = Vec::new();
    for_each_jsonl(&a.corpus, |d| {
        bytes += d.doc.title.len() + d.doc.summary.len();
        bytes += d.doc.lessons.iter().map(String::len).sum::<usize>();
        w.upsert(&d.doc)?;
        n += 1;
        if n.is_multiple_of(a.commit_every) {
            let c = Instant::now();
            w.commit(n as i64)?;
            commits.push(c.elapsed());
        }
        Ok(())
    })
    .expect("corpus");
    let c = Instant::now();
    w.commit(n as i64).expect("commit");
    commits.push(c.elapsed());
    let indexed = t0.elapsed();
    if a.compact {
        w.compact().expect("compact");
    }
    w.finish().expect("finish");
    let took = t0.elapsed();
    let (anon_max, file_max) = sampler.stop();
    index.reload().expect("reload");
    commits.sort();
    println!(
        "build: {n} docs ({:.0} MB of text) in {:.1} s = {:.0} docs/s; {:.1} s until the last commit ({:.0} docs/s), then {:.1} s for merges",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        indexed.as_secs_f64(),
        n as f64 / indexed.as_secs_f64(),
        (took - indexed).as_secs_f64(),
    );
    println!(
        "build: commits {} (slowest {:.0} ms); peak RSS {:.0} MB (before the writer {:.0} MB; sampled peaks: anon {:.0} MB, file {:.0} MB); {} segments; loadavg {}",
        commits.len(),
        commits.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        status_mb("VmHWM:"),
        rss_before,
        anon_max,
        file_max,
        index.num_segments(),
        loadavg()
    );
    println!(
        "index: {:.1} MB on disk; by kind: {}",
        dir_size_mb(&a.index),
        size_by_ext(&a.index)
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    space(&index);
    index
}

/// The largest parts of the index, by field.
fn space(index: &IncidentIndex) {
    let Ok(usage) = index.space_usage() else {
        return;
    };
    let mut v: Vec<(String, u64)> = usage.into_iter().collect();
    v.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    println!(
        "space: {}",
        v.iter()
            .take(14)
            .map(|(k, n)| format!("{k} {:.1}", *n as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn writer_options(a: &Args) -> WriterOptions {
    WriterOptions {
        threads: a.threads,
        heap_bytes: a.heap_mb << 20,
        merge: a.merge,
    }
}

/// Samples the process's anonymous and file-backed resident memory every
/// 50 ms, keeping the peaks.
struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(f64, f64)>,
}

impl RssSampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut anon, mut file) = (0f64, 0f64);
            while !s.load(Ordering::Relaxed) {
                anon = anon.max(status_mb("RssAnon:"));
                file = file.max(status_mb("RssFile:"));
                std::thread::sleep(Duration::from_millis(50));
            }
            (anon, file)
        });
        RssSampler { stop, handle }
    }

    fn stop(self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or((0.0, 0.0))
    }
}

/// A steady trickle on top of a built index: one new report committed every
/// `--every-ms` for `--seconds`, with a searcher running the query mix at
/// the same time. Reports how long each commit takes to become searchable,
/// the segment count over time, and search latency meanwhile.
fn trickle(a: &Args) {
    let src = open_or_build(a);
    drop(src);
    let dir = a.index.with_extension("trickle");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove old copy");
    }
    std::fs::create_dir_all(&dir).expect("copy dir");
    for e in std::fs::read_dir(&a.index).expect("index dir") {
        let e = e.expect("entry");
        if e.file_name() != ".tantivy-writer.lock" && e.file_name() != ".tantivy-meta.lock" {
            std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
        }
    }
    let index = Arc::new(IncidentIndex::open_or_create(&dir).expect("index"));
    let mut docs = Vec::new();
    for_each_jsonl(&a.corpus, |d| {
        if docs.len() < 5000 {
            docs.push(d.doc);
        }
        Ok(())
    })
    .expect("corpus");
    let qs = Arc::new(queries(a));
    println!(
        "# trickle: one report every {} ms for {} s on {} docs ({} segments), merge {:?}; loadavg {}",
        a.every_ms,
        a.seconds,
        index.num_docs(),
        index.num_segments(),
        a.merge,
        loadavg()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let searcher = {
        let (stop, qs, index) = (stop.clone(), qs.clone(), index.clone());
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let q = &qs[i % qs.len()];
                let t = Instant::now();
                black_box(index.search(&request(&q.q), &VISIBLE).expect("search"));
                lat.push(t.elapsed());
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            lat
        })
    };
    let mut w = index.writer_with(writer_options(a)).expect("writer");
    let mut publish = Vec::new();
    let mut segments = Vec::new();
    let t0 = Instant::now();
    let mut seq = w.last_seq().unwrap_or(0);
    let mut n = 0usize;
    while t0.elapsed() < Duration::from_secs(a.seconds) {
        let tick = Instant::now();
        let mut d = docs[n % docs.len()].clone();
        d.id = format!("trickle-{n}");
        n += 1;
        seq += 1;
        w.upsert(&d).expect("upsert");
        w.commit(seq).expect("commit");
        // Searchable now: the commit reloads the reader.
        publish.push(tick.elapsed());
        segments.push(index.num_segments());
        let spent = tick.elapsed();
        if let Some(rest) = Duration::from_millis(a.every_ms).checked_sub(spent) {
            std::thread::sleep(rest);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let lat = searcher.join().expect("searcher");
    report("commit->seen", publish);
    report("search", lat);
    let max_seg = segments.iter().copied().max().unwrap_or(0);
    let mean_seg = segments.iter().sum::<usize>() as f64 / segments.len().max(1) as f64;
    println!(
        "segments: mean {mean_seg:.1}, max {max_seg}, at the end {}; {} reports; RSS {:.0} MB (anon {:.0}); loadavg {}",
        index.num_segments(),
        n,
        status_mb("VmRSS:"),
        status_mb("RssAnon:"),
        loadavg()
    );
    w.finish().expect("finish");
}

fn open_or_build(a: &Args) -> IncidentIndex {
    if a.index.join("meta.json").exists() {
        let index = IncidentIndex::open_or_create(&a.index).expect("open index");
        if index.num_docs() > 0 {
            println!(
                "# index {} ({} docs, {} segments, {:.1} MB)",
                a.index.display(),
                index.num_docs(),
                index.num_segments(),
                dir_size_mb(&a.index)
            );
            return index;
        }
    }
    build(a)
}

struct Query {
    q: String,
    kind: String,
}

fn queries(a: &Args) -> Vec<Query> {
    if !a.queries.exists() {
        println!("# generating {}", a.queries.display());
        let out = std::process::Command::new("python3")
            .arg("/work/shared/bench/queries.py")
            .arg("--corpus")
            .arg(&a.corpus)
            .args(["--n", "1000", "--seed", "1"])
            .output()
            .expect("queries.py");
        assert!(out.status.success(), "queries.py failed");
        if let Some(dir) = a.queries.parent() {
            std::fs::create_dir_all(dir).expect("cache dir");
        }
        std::fs::write(&a.queries, &out.stdout).expect("write queries");
    }
    std::fs::read_to_string(&a.queries)
        .expect("query file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("query line");
            Query {
                q: v["q"].as_str().unwrap_or_default().to_string(),
                kind: v["kind"].as_str().unwrap_or("?").to_string(),
            }
        })
        .collect()
}

fn request(q: &str) -> SearchRequest {
    SearchRequest {
        limit: 10,
        ..SearchRequest::new(q)
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Wall and thread CPU time of one call.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (c, w) = (thread_cpu(), Instant::now());
    let out = f();
    (out, w.elapsed(), thread_cpu().saturating_sub(c))
}

fn pct(d: &mut [Duration], q: f64) -> f64 {
    d.sort();
    // Nearest rank, as peers.py.
    let i = ((q * d.len() as f64).ceil() as usize).clamp(1, d.len()) - 1;
    d[i].as_secs_f64() * 1e3
}

fn report(label: &str, mut d: Vec<Duration>) {
    let mean = d.iter().map(Duration::as_secs_f64).sum::<f64>() / d.len().max(1) as f64 * 1e3;
    println!(
        "{label:<14} n {:>5}  p50 {:>7.3} ms  p90 {:>7.3}  p99 {:>7.3}  max {:>7.3}  mean {:>7.3}",
        d.len(),
        pct(&mut d, 0.50),
        pct(&mut d, 0.90),
        pct(&mut d, 0.99),
        pct(&mut d, 1.0),
        mean
    );
}

/// Wall-time percentiles, then the same calls' thread CPU time.
fn report_cpu(label: &str, wall: Vec<Duration>, mut cpu: Vec<Duration>) {
    report(label, wall);
    let mean = cpu.iter().map(Duration::as_secs_f64).sum::<f64>() / cpu.len().max(1) as f64 * 1e3;
    println!(
        "{:<14} cpu     p50 {:>7.3} ms  p90 {:>7.3}  p99 {:>7.3}  max {:>7.3}  mean {:>7.3}",
        "",
        pct(&mut cpu, 0.50),
        pct(&mut cpu, 0.90),
        pct(&mut cpu, 0.99),
        pct(&mut cpu, 1.0),
        mean
    );
}

fn search(a: &Args, index: &Arc<IncidentIndex>) {
    let qs = queries(a);
    println!(
        "# search: {} queries x {} rounds (limit 10, facets, snippets 200); loadavg {}",
        qs.len(),
        a.rounds,
        loadavg()
    );
    let rss0 = status_mb("VmRSS:");
    // Warm-up: every query once (page cache, lazy structures).
    let mut totals = 0u64;
    let t0 = Instant::now();
    for q in &qs {
        totals += index
            .search(&request(&q.q), &VISIBLE)
            .expect("search")
            .total;
    }
    println!(
        "warm-up pass: {:.2} s, sum of totals {totals}",
        t0.elapsed().as_secs_f64()
    );
    let mut by_kind: BTreeMap<&str, (Vec<Duration>, Vec<Duration>)> = BTreeMap::new();
    let mut all = Vec::new();
    let mut all_cpu = Vec::new();
    for _ in 0..a.rounds {
        for q in &qs {
            let req = request(&q.q);
            let (r, d, c) = timed(|| index.search(&req, &VISIBLE));
            black_box(r.expect("search"));
            let e = by_kind.entry(q.kind.as_str()).or_default();
            e.0.push(d);
            e.1.push(c);
            all.push(d);
            all_cpu.push(c);
        }
    }
    for (k, (d, c)) in by_kind {
        report_cpu(k, d, c);
    }
    report_cpu("all", all.clone(), all_cpu);
    if a.slowest > 0 {
        // The slowest queries of the last round, with their totals.
        let last = &all[all.len() - qs.len()..];
        let mut order: Vec<usize> = (0..qs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(last[i]));
        for &i in order.iter().take(a.slowest) {
            let total = index
                .search(&request(&qs[i].q), &VISIBLE)
                .expect("search")
                .total;
            println!(
                "  slow {:>7.3} ms  {:<12} total {:>6}  {}",
                last[i].as_secs_f64() * 1e3,
                qs[i].kind,
                total,
                qs[i].q
            );
        }
    }
    println!(
        "RSS: {:.0} MB before the searches, {:.0} MB after (anon {:.0}, file {:.0}); loadavg {}",
        rss0,
        status_mb("VmRSS:"),
        status_mb("RssAnon:"),
        status_mb("RssFile:"),
        loadavg()
    );
    // Throughput: `clients` threads searching back to back.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let qs = Arc::new(qs);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..a.clients)
        .map(|c| {
            let (stop, done, qs, index) = (stop.clone(), done.clone(), qs.clone(), index.clone());
            std::thread::spawn(move || {
                let mut i = c * 131;
                while !stop.load(Ordering::Relaxed) {
                    let q = &qs[i % qs.len()];
                    black_box(index.search(&request(&q.q), &VISIBLE).expect("search"));
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(a.seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client");
    }
    let n = done.load(Ordering::Relaxed);
    println!(
        "throughput: {} clients, {:.0} searches/s over {:.1} s; RSS {:.0} MB; loadavg {}",
        a.clients,
        n as f64 / t0.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        status_mb("VmRSS:"),
        loadavg()
    );
}

fn similar(a: &Args, index: &IncidentIndex) {
    let mut docs: Vec<(String, String)> = Vec::new();
    for_each_jsonl(&a.corpus, |d| {
        let probe: String = d
            .doc
            .summary
            .split_whitespace()
            .take(60)
            .collect::<Vec<_>>()
            .join(" ");
        docs.push((d.doc.id, probe));
        Ok(())
    })
    .expect("corpus");
    println!(
        "# similar: {} probes, k = 10; loadavg {}",
        a.similar,
        loadavg()
    );
    let mut rng = incidex_indexer::corpus::SplitMix64(7);
    let picks: Vec<usize> = (0..a.similar).map(|_| rng.below(docs.len())).collect();
    for &i in picks.iter().take(50) {
        black_box(index.similar_to(&docs[i].0, 10, &VISIBLE).expect("similar"));
    }
    let (mut lat, mut cpu) = (Vec::new(), Vec::new());
    for &i in &picks {
        let (r, d, c) = timed(|| index.similar_to(&docs[i].0, 10, &VISIBLE));
        black_box(r.expect("similar"));
        lat.push(d);
        cpu.push(c);
    }
    report_cpu("similar_to", lat, cpu);
    let (mut lat, mut cpu) = (Vec::new(), Vec::new());
    for &i in &picks {
        let probe = SimilarQuery {
            text: docs[i].1.clone(),
            ..Default::default()
        };
        let (r, d, c) = timed(|| index.similar_to_text(&probe, 10, &VISIBLE));
        black_box(r.expect("similar"));
        lat.push(d);
        cpu.push(c);
    }
    report_cpu("similar_text", lat, cpu);
    println!("loadavg {}", loadavg());
}

/// Reading stored documents by id (random order): what a hit's loading costs.
fn stored(a: &Args, index: &IncidentIndex) {
    let mut ids: Vec<String> = Vec::new();
    for_each_jsonl(&a.corpus, |d| {
        ids.push(d.doc.id);
        Ok(())
    })
    .expect("corpus");
    let mut rng = incidex_indexer::corpus::SplitMix64(11);
    let picks: Vec<usize> = (0..5000).map(|_| rng.below(ids.len())).collect();
    for &i in picks.iter().take(500) {
        black_box(index.get(&ids[i], &VISIBLE).expect("get"));
    }
    let mut lat = Vec::new();
    for &i in &picks {
        let t = Instant::now();
        black_box(index.get(&ids[i], &VISIBLE).expect("get"));
        lat.push(t.elapsed());
    }
    report("get", lat);
}

fn main() {
    let a = args();
    println!("# engine bench, mode {}; loadavg {}", a.mode, loadavg());
    match a.mode.as_str() {
        "build" => {
            build(&a);
        }
        "search" => search(&a, &Arc::new(open_or_build(&a))),
        "similar" => similar(&a, &open_or_build(&a)),
        "get" => stored(&a, &open_or_build(&a)),
        "trickle" => trickle(&a),
        _ => {
            let index = Arc::new(open_or_build(&a));
            search(&a, &index);
            similar(&a, &index);
        }
    }
}
