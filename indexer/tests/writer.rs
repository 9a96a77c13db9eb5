//! The writer's merge options and compaction.

use incidex_indexer::{IncidentIndex, IndexDoc, MergeOptions, SearchRequest, Tlp, WriterOptions};

fn doc(i: usize) -> IndexDoc {
    let mut d = IndexDoc::new(
        format!("r{i}"),
        format!("Router {i} outage after a fibre cut"),
        Tlp::ALL[i % 4],
    );
    d.summary = format!(
        "The core router number {i} lost its fibre uplink; {} customers were cut off.",
        i * 7
    );
    d.severity = Some(["minor", "major"][i % 2].into());
    d
}

fn options(merge: MergeOptions) -> WriterOptions {
    WriterOptions {
        threads: 1,
        heap_bytes: 16_000_000,
        merge,
    }
}

/// Answers as comparable values: total, facets, and each hit's id with its
/// score (the order of equal scores follows the segment layout).
fn answers(index: &IncidentIndex) -> Vec<String> {
    ["router", "fibre cut", "\"core router\"", "customers", ""]
        .iter()
        .map(|q| {
            let r = index
                .search(
                    &SearchRequest {
                        limit: 50,
                        ..SearchRequest::new(*q)
                    },
                    &[Tlp::Clear, Tlp::Green, Tlp::Amber],
                )
                .unwrap();
            let mut hits: Vec<String> = r
                .hits
                .iter()
                .map(|h| format!("{}:{:?}:{}", h.id, h.score, h.snippet))
                .collect();
            hits.sort();
            format!("{} {:?} {:?}", r.total, r.facets, hits)
        })
        .collect()
}

#[test]
fn without_merges_every_commit_stays_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let index = IncidentIndex::open_or_create(dir.path()).unwrap();
    let mut w = index.writer_with(options(MergeOptions::none())).unwrap();
    for i in 0..12 {
        w.upsert(&doc(i)).unwrap();
        w.commit(i as i64).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(index.num_segments(), 12);
}

#[test]
fn the_default_policy_merges_a_trickle_of_small_commits() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = IncidentIndex::open_or_create(dir.path()).unwrap();
        let mut w = index.writer_with(options(MergeOptions::default())).unwrap();
        for i in 0..24 {
            w.upsert(&doc(i)).unwrap();
            w.commit(i as i64).unwrap();
        }
        w.finish().unwrap();
    }
    // Reopened: what the merges left on disk.
    let index = IncidentIndex::open_or_create(dir.path()).unwrap();
    let n = index.num_segments();
    assert!(
        (1..10).contains(&n),
        "{n} segments after 24 one-report commits"
    );
    assert_eq!(index.num_docs(), 24);
}

#[test]
fn compaction_leaves_one_segment_and_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let index = IncidentIndex::open_or_create(dir.path()).unwrap();
    let mut w = index.writer_with(options(MergeOptions::none())).unwrap();
    for batch in 0..4 {
        for i in batch * 10..batch * 10 + 10 {
            w.upsert(&doc(i)).unwrap();
        }
        w.commit(batch as i64).unwrap();
    }
    assert_eq!(index.num_segments(), 4);
    let before = answers(&index);
    w.compact().unwrap();
    assert_eq!(index.num_segments(), 1);
    assert_eq!(answers(&index), before);
    // Still a writer: more reports after compaction.
    w.upsert(&doc(99)).unwrap();
    w.commit(9).unwrap();
    assert_eq!(index.num_docs(), 41);
    w.finish().unwrap();
    assert_eq!(index.last_committed_seq().unwrap(), Some(9));
}
