//! Clustering micro-benchmarks: full clustering of a small synthetic
//! corpus, and placing one new report against stored centroids (the
//! registry's incremental path). The large-corpus figures come from the
//! `cluster_eval` example (see docs/clustering.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use incidex_indexer::cluster::{ClusterParams, assign, cluster_all, synthetic, vectorize};
use incidex_indexer::{IncidentIndex, IndexDoc, Tlp};

fn benches(c: &mut Criterion) {
    let (docs, _) = synthetic::corpus(3_000, 7);
    let params = ClusterParams::default();
    let mut g = c.benchmark_group("cluster");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("cluster_all 3k", |b| {
        b.iter(|| black_box(cluster_all(&docs[..], &params)))
    });
    g.finish();

    let clustering = cluster_all(&docs, &params);
    let centroids: Vec<_> = clustering
        .clusters
        .iter()
        .map(|c| c.centroid.clone())
        .collect();
    let (new, _) = synthetic::corpus(3_100, 7);
    let new = &new[3_000..];
    let mut i = 0;
    let mut g = c.benchmark_group("incremental");
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("assign one report", |b| {
        b.iter(|| {
            i += 1;
            black_box(assign(
                &new[i % new.len()],
                &centroids,
                &clustering.stats,
                &params,
            ))
        })
    });
    // The registry's path: document frequencies from the live index.
    let index = IncidentIndex::create_in_ram().unwrap();
    let mut w = index.writer().unwrap();
    for d in &docs {
        let mut doc = IndexDoc::new(d.id.clone(), String::new(), Tlp::Clear);
        doc.summary = d.text.clone();
        w.upsert(&doc).unwrap();
    }
    w.commit(1).unwrap();
    w.finish().unwrap();
    index.reload().unwrap();
    g.bench_function("assign one report, index doc freqs", |b| {
        b.iter(|| {
            i += 1;
            black_box(assign(&new[i % new.len()], &centroids, &index, &params))
        })
    });
    g.bench_function("vectorize one report", |b| {
        b.iter(|| {
            i += 1;
            black_box(vectorize(&new[i % new.len()], &clustering.stats, &params))
        })
    });
    g.finish();
}

criterion_group!(cluster, benches);
criterion_main!(cluster);
