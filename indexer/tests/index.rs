//! Integration tests against a real tantivy index in a temporary directory.

use chrono::{NaiveDate, TimeZone, Utc};
use incidex_indexer::cluster::{Assignment, ClusterInput, ClusterParams, assign, cluster_all};
use incidex_indexer::{
    FlagField, IncidentIndex, IndexDoc, IndexError, IndexHandle, KeywordField, SearchRequest,
    SimilarQuery, SimilarityParams, SortOrder, Tlp,
};

const ALL: [Tlp; 4] = Tlp::ALL;
const PUBLIC: [Tlp; 2] = [Tlp::Clear, Tlp::Green];

fn doc(id: &str, tlp: Tlp, day: u32, title: &str, summary: &str) -> IndexDoc {
    let mut d = IndexDoc::new(id, title, tlp);
    d.summary = summary.into();
    d.published_at = Utc.with_ymd_and_hms(2024, 1, day, 12, 0, 0).unwrap();
    d.started_on = NaiveDate::from_ymd_opt(2024, 1, day);
    d
}

/// A small corpus exercising every field.
fn corpus() -> Vec<IndexDoc> {
    let mut a = doc(
        "a",
        Tlp::Clear,
        1,
        "VoLTE registration failure after P-CSCF upgrade",
        "After a software upgrade of the P-CSCF, VoLTE registrations failed with SIP 408 timeouts.",
    );
    a.services = vec!["volte".into(), "voice".into()];
    a.network_domain = Some("ims".into());
    a.assets = vec!["p-cscf".into()];
    a.trigger = Some("software_upgrade".into());
    a.root_cause_category = Some("system_failure".into());
    a.severity = Some("major".into());
    a.region = Some("Europe".into());
    a.lessons = vec!["Canary upgrades on one P-CSCF first".into()];
    a.enisa_user_hours_1m = true;

    let mut b = doc(
        "b",
        Tlp::Green,
        2,
        "Fibre cut isolates region",
        "A construction crew cut the backbone fibre; transport links failed and data services were lost.",
    );
    b.services = vec!["data".into()];
    b.network_domain = Some("transport".into());
    b.trigger = Some("fibre_cut".into());
    b.root_cause_category = Some("third_party_failure".into());
    b.severity = Some("minor".into());
    b.region = Some("Asia".into());

    let mut c = doc(
        "c",
        Tlp::Amber,
        3,
        "Emergency calls to 112 failed",
        "A routing configuration change on the MSC broke 112 emergency calls; S1-MME links stayed up.",
    );
    c.services = vec!["emergency_calls".into(), "voice".into()];
    c.network_domain = Some("core".into());
    c.other_domains = vec!["interconnect".into()];
    c.assets = vec!["msc".into()];
    c.trigger = Some("config_change".into());
    c.root_cause_category = Some("human_error".into());
    c.severity = Some("critical".into());
    c.region = Some("Europe".into());
    c.emergency_service_affected = true;
    c.fcc_900k_user_minutes = true;

    let mut d = doc(
        "d",
        Tlp::Red,
        4,
        "Secret zanzibar outage",
        "Our zanzibar platform failed after a configuration change on the HSS.",
    );
    d.network_domain = Some("core".into());
    d.assets = vec!["hss".into()];
    d.trigger = Some("config_change".into());
    d.root_cause_category = Some("human_error".into());
    d.region = Some("Europe".into());
    vec![a, b, c, d]
}

fn build(dir: &std::path::Path, docs: &[IndexDoc]) -> IncidentIndex {
    let index = IncidentIndex::open_or_create(dir).unwrap();
    let mut w = index.writer().unwrap();
    for d in docs {
        w.upsert(d).unwrap();
    }
    w.commit(docs.len() as i64).unwrap();
    index
}

fn ids(index: &IncidentIndex, q: &str, vis: &[Tlp]) -> Vec<String> {
    let mut v: Vec<String> = index
        .search(&SearchRequest::new(q), vis)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    v.sort();
    v
}

#[test]
fn index_then_search_terms_phrases_booleans_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    assert_eq!(ids(&index, "upgrade", &ALL), vec!["a"]);
    assert_eq!(ids(&index, "\"backbone fibre\"", &ALL), vec!["b"]);
    assert!(ids(&index, "\"fibre backbone\"", &ALL).is_empty());
    assert_eq!(
        ids(&index, "configuration AND change", &ALL),
        vec!["c", "d"]
    );
    assert_eq!(ids(&index, "configuration NOT hss", &ALL), vec!["c"]);
    assert_eq!(ids(&index, "upgrade OR fibre", &ALL), vec!["a", "b"]);
    assert_eq!(ids(&index, "title:emergency", &ALL), vec!["c"]);
    assert!(ids(&index, "title:configuration", &ALL).is_empty());
    assert_eq!(ids(&index, "trigger:config_change", &ALL), vec!["c", "d"]);
    assert_eq!(ids(&index, "lessons:canary", &ALL), vec!["a"]);
}

#[test]
fn telecom_tokens_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    assert_eq!(ids(&index, "P-CSCF", &ALL), vec!["a"]);
    assert_eq!(ids(&index, "p-cscf", &ALL), vec!["a"]);
    assert_eq!(ids(&index, "cscf", &ALL), vec!["a"]);
    assert_eq!(ids(&index, "VoLTE", &ALL), vec!["a"]);
    assert_eq!(ids(&index, "volte", &ALL), vec!["a"]);
    assert_eq!(ids(&index, "S1-MME", &ALL), vec!["c"]);
    assert_eq!(ids(&index, "\"S1 MME\"", &ALL), vec!["c"]);
    assert_eq!(ids(&index, "112", &ALL), vec!["c"]);
    assert_eq!(ids(&index, "\"SIP 408\"", &ALL), vec!["a"]);
    // Stemming: plural and inflected forms.
    assert_eq!(ids(&index, "registration", &ALL), vec!["a"]);
    assert_eq!(ids(&index, "upgrades", &ALL), vec!["a"]);
    // `volt` must not match VoLTE (the stemmer would have folded them).
    assert!(ids(&index, "volt", &ALL).is_empty());
}

#[test]
fn every_filter_applies() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    let run = |req: SearchRequest| -> Vec<String> {
        let mut v: Vec<String> = index
            .search(&req, &ALL)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect();
        v.sort();
        v
    };
    let with = |k: KeywordField, v: &[&str]| {
        SearchRequest {
            filters: Default::default(),
            ..SearchRequest::default()
        }
        .filters_with(k, v)
    };
    assert_eq!(run(with(KeywordField::Service, &["voice"])), vec!["a", "c"]);
    assert_eq!(
        run(with(KeywordField::NetworkDomain, &["core"])),
        vec!["c", "d"]
    );
    assert_eq!(
        run(with(KeywordField::Domain, &["interconnect"])),
        vec!["c"]
    );
    assert_eq!(
        run(with(KeywordField::Asset, &["hss", "msc"])),
        vec!["c", "d"]
    );
    assert_eq!(
        run(with(
            KeywordField::RootCauseCategory,
            &["third_party_failure"]
        )),
        vec!["b"]
    );
    assert_eq!(
        run(with(KeywordField::Trigger, &["software_upgrade"])),
        vec!["a"]
    );
    assert_eq!(run(with(KeywordField::Severity, &["critical"])), vec!["c"]);
    // Case-folded values.
    assert_eq!(
        run(with(KeywordField::Region, &["EUROPE"])),
        vec!["a", "c", "d"]
    );
    assert_eq!(run(with(KeywordField::Tlp, &["green"])), vec!["b"]);
    let flag = |f: FlagField, v: bool| {
        let mut r = SearchRequest::default();
        r.filters = r.filters.with_flag(f, v);
        r
    };
    assert_eq!(run(flag(FlagField::EnisaUserHours1m, true)), vec!["a"]);
    assert_eq!(run(flag(FlagField::Fcc900kUserMinutes, true)), vec!["c"]);
    assert_eq!(
        run(flag(FlagField::EmergencyServiceAffected, true)),
        vec!["c"]
    );
    assert_eq!(
        run(flag(FlagField::EmergencyServiceAffected, false)),
        vec!["a", "b", "d"]
    );
    let mut r = SearchRequest::default();
    r.filters.published_from = Some(Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap());
    r.filters.published_to = Some(Utc.with_ymd_and_hms(2024, 1, 3, 23, 0, 0).unwrap());
    assert_eq!(run(r), vec!["b", "c"]);
    let mut r = SearchRequest::default();
    r.filters.started_from = NaiveDate::from_ymd_opt(2024, 1, 3);
    assert_eq!(run(r), vec!["c", "d"]);
    // Filters combine with AND across fields, OR within one.
    let r = with(KeywordField::Region, &["europe"])
        .filters_with(KeywordField::Trigger, &["config_change", "fibre_cut"]);
    assert_eq!(run(r), vec!["c", "d"]);
}

/// Helper trait so tests read naturally.
trait WithFilter {
    fn filters_with(self, k: KeywordField, v: &[&str]) -> Self;
}

impl WithFilter for SearchRequest {
    fn filters_with(mut self, k: KeywordField, v: &[&str]) -> Self {
        self.filters = self.filters.with(k, v);
        self
    }
}

#[test]
fn facets_respect_filters_and_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    let all = index.search(&SearchRequest::default(), &ALL).unwrap();
    assert_eq!(all.total, 4);
    assert_eq!(all.facets["network_domain"]["core"], 2);
    assert_eq!(all.facets["region"]["europe"], 3);
    assert_eq!(all.facets["tlp"]["red"], 1);
    assert_eq!(all.facets["emergency_service_affected"]["true"], 1);
    assert_eq!(all.facets["service"]["voice"], 2);

    let public = index.search(&SearchRequest::default(), &PUBLIC).unwrap();
    assert_eq!(public.total, 2);
    assert_eq!(public.facets["region"].get("europe"), Some(&1));
    assert!(
        !public.facets["tlp"].contains_key("red") && !public.facets["tlp"].contains_key("amber")
    );
    assert!(!public.facets["network_domain"].contains_key("core"));

    let filtered = index
        .search(
            &SearchRequest::default().filters_with(KeywordField::Region, &["europe"]),
            &ALL,
        )
        .unwrap();
    assert_eq!(filtered.total, 3);
    assert!(!filtered.facets["region"].contains_key("asia"));
    assert_eq!(filtered.facets["trigger"]["config_change"], 2);
}

#[test]
fn tlp_never_leaks_in_search_even_through_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    for q in [
        "zanzibar",
        "tlp:red",
        "tlp:red OR zanzibar",
        "*",
        "id:d",
        "",
        "hss",
    ] {
        let r = index.search(&SearchRequest::new(q), &PUBLIC).unwrap();
        assert!(
            r.hits
                .iter()
                .all(|h| h.tlp == Tlp::Clear || h.tlp == Tlp::Green),
            "{q}"
        );
        assert!(r.hits.iter().all(|h| h.id != "c" && h.id != "d"), "{q}");
        assert!(r.total <= 2, "{q}");
    }
    // No levels: nothing at all.
    assert_eq!(
        index.search(&SearchRequest::default(), &[]).unwrap().total,
        0
    );
    assert_eq!(index.get("d", &PUBLIC).unwrap(), None);
    assert!(index.get("d", &ALL).unwrap().is_some());
}

#[test]
fn tlp_never_leaks_in_similar() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    // The probe itself is invisible: not found.
    assert!(matches!(
        index.similar_to("d", 5, &PUBLIC),
        Err(IndexError::NotFound(_))
    ));
    for probe in [
        "configuration change HSS zanzibar",
        "112 emergency calls MSC routing",
    ] {
        let q = SimilarQuery {
            text: probe.into(),
            trigger: Some("config_change".into()),
            ..Default::default()
        };
        let hits = index.similar_to_text(&q, 10, &PUBLIC).unwrap();
        assert!(hits.iter().all(|h| h.id == "a" || h.id == "b"), "{hits:?}");
        assert!(
            hits.iter()
                .all(|h| h.reasons.iter().all(|r| !r.contains("zanzibar")))
        );
        let hits = index.similar_to_text(&q, 10, &ALL).unwrap();
        assert!(hits.iter().any(|h| h.id == "d"), "{hits:?}");
    }
}

#[test]
fn tlp_never_leaks_in_clusters() {
    let docs = corpus();
    // Two red reports share the word "zanzibar" (so it is a distinctive
    // term of their cluster); a clear report tells the same story without it.
    let mut red_twin = docs[3].clone();
    red_twin.id = "d3".into();
    let mut twin = docs[3].clone();
    twin.id = "d2".into();
    twin.tlp = Tlp::Clear;
    twin.title = "Platform outage".into();
    twin.summary = "Our platform failed after a configuration change on the HSS.".into();
    let mut inputs: Vec<ClusterInput> = docs.iter().map(ClusterInput::from_doc).collect();
    inputs.push(ClusterInput::from_doc(&red_twin));
    inputs.push(ClusterInput::from_doc(&twin));
    let c = cluster_all(&inputs, &ClusterParams::default());
    let view = c.visible(&PUBLIC);
    for v in &view {
        assert!(
            v.members.iter().all(|m| m == "a" || m == "b" || m == "d2"),
            "{v:?}"
        );
        assert!(
            !v.label.contains("zanzibar") && v.top_terms.iter().all(|t| t != "zanzibar"),
            "{v:?}"
        );
    }
    assert!(view.iter().any(|v| v.members.contains(&"d2".to_string())));
    // The full view does carry the red-only term: the filter above is what
    // stops it, not luck.
    let full = c.visible(&ALL);
    let red = full
        .iter()
        .find(|v| v.members.contains(&"d".to_string()))
        .unwrap();
    assert!(red.top_terms.iter().any(|t| t == "zanzibar"), "{red:?}");
}

#[test]
fn highlight_contains_the_match_and_escapes_html() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs = corpus();
    docs[1].summary.push_str(" <script>alert(1)</script>");
    let index = build(dir.path(), &docs);
    let r = index
        .search(&SearchRequest::new("registrations"), &ALL)
        .unwrap();
    assert!(
        r.hits[0].snippet.contains("<mark>registrations</mark>"),
        "{}",
        r.hits[0].snippet
    );
    let r = index.search(&SearchRequest::new("P-CSCF"), &ALL).unwrap();
    assert!(
        r.hits[0].snippet.contains("<mark>P-CSCF</mark>"),
        "{}",
        r.hits[0].snippet
    );
    let r = index
        .search(&SearchRequest::new("construction"), &ALL)
        .unwrap();
    assert!(
        !r.hits[0].snippet.contains("<script>"),
        "{}",
        r.hits[0].snippet
    );
}

#[test]
fn sort_by_date_and_relevance() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    let mut req = SearchRequest {
        sort: SortOrder::Newest,
        ..Default::default()
    };
    let newest: Vec<String> = index
        .search(&req, &ALL)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(newest, vec!["d", "c", "b", "a"]);
    req.sort = SortOrder::Oldest;
    let oldest: Vec<String> = index
        .search(&req, &ALL)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(oldest, vec!["a", "b", "c", "d"]);
    let rel = index
        .search(&SearchRequest::new("configuration OR hss"), &ALL)
        .unwrap();
    // d mentions both words, c only one.
    assert_eq!(rel.hits[0].id, "d");
    assert!(rel.hits[0].score >= rel.hits[1].score);
}

#[test]
fn pagination_is_stable_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let docs: Vec<IndexDoc> = (0..25)
        .map(|i| {
            doc(
                &format!("p{i:02}"),
                Tlp::Clear,
                1 + (i % 28) as u32,
                "link outage",
                "the link failed",
            )
        })
        .collect();
    let index = build(dir.path(), &docs);
    for sort in [SortOrder::Relevance, SortOrder::Newest] {
        let mut seen = Vec::new();
        let mut offset = Some(0);
        while let Some(o) = offset {
            let r = index
                .search(
                    &SearchRequest {
                        query: "link".into(),
                        offset: o,
                        limit: 7,
                        sort,
                        ..Default::default()
                    },
                    &ALL,
                )
                .unwrap();
            assert_eq!(r.total, 25);
            seen.extend(r.hits.into_iter().map(|h| h.id));
            offset = r.next_offset;
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 25, "{sort:?}: {seen:?}");
        // The same page twice is the same.
        let p = |o| {
            index
                .search(
                    &SearchRequest {
                        query: "link".into(),
                        offset: o,
                        limit: 7,
                        sort,
                        ..Default::default()
                    },
                    &ALL,
                )
                .unwrap()
                .hits
        };
        assert_eq!(p(7), p(7));
    }
}

#[test]
fn malformed_queries_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let index = build(dir.path(), &corpus());
    for q in [
        "\"unclosed phrase",
        "(volte",
        "title:",
        "nosuchfield:foo",
        "published_at:[2020 TO",
        "AND",
        "volte)",
        "+-",
        "duration_minutes:abc",
    ] {
        match index.search(&SearchRequest::new(q), &ALL) {
            Err(IndexError::InvalidQuery { message, .. }) => assert!(!message.is_empty()),
            Ok(_) => {} // some of these are accepted leniently by the grammar
            Err(e) => panic!("{q}: unexpected error {e}"),
        }
    }
    match index.search(&SearchRequest::new("volte AND nosuchfield:foo"), &ALL) {
        Err(IndexError::InvalidQuery { position, message }) => {
            assert_eq!(position, Some(10), "{message}");
        }
        other => panic!("expected an invalid query, got {other:?}"),
    }
    assert!(matches!(
        index.search(&SearchRequest::new("\"unclosed"), &ALL),
        Err(IndexError::InvalidQuery { .. })
    ));
    assert!(matches!(
        index.search(
            &SearchRequest {
                limit: 0,
                ..Default::default()
            },
            &ALL
        ),
        Err(IndexError::InvalidRequest(_))
    ));
}

#[test]
fn commit_payload_sequence_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = IncidentIndex::open_or_create(dir.path()).unwrap();
        assert_eq!(index.last_committed_seq().unwrap(), None);
        let mut w = index.writer().unwrap();
        w.upsert(&corpus()[0]).unwrap();
        w.commit(41).unwrap();
        w.upsert(&corpus()[1]).unwrap();
        w.commit(42).unwrap();
        assert!(w.commit(40).is_err(), "sequence must not go backwards");
    }
    let index = IncidentIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(index.last_committed_seq().unwrap(), Some(42));
    assert_eq!(index.num_docs(), 2);
}

#[test]
fn uncommitted_batch_is_lost_on_drop_and_redone_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let docs = corpus();
    {
        let index = IncidentIndex::open_or_create(dir.path()).unwrap();
        let mut w = index.writer().unwrap();
        w.upsert(&docs[0]).unwrap();
        w.upsert(&docs[1]).unwrap();
        w.commit(2).unwrap();
        // A batch that never commits (the process dies).
        w.upsert(&docs[2]).unwrap();
        w.upsert(&docs[3]).unwrap();
        w.delete("a");
        drop(w);
    }
    let index = IncidentIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(index.last_committed_seq().unwrap(), Some(2));
    assert_eq!(index.num_docs(), 2);
    // Replay from seq 2: the whole change log tail, including changes that
    // were already committed (at-least-once delivery).
    let mut w = index.writer().unwrap();
    for d in &docs[1..] {
        w.upsert(d).unwrap();
    }
    w.delete("a");
    w.commit(5).unwrap();
    w.upsert(&docs[2]).unwrap();
    w.commit(5).unwrap();
    assert_eq!(index.num_docs(), 3);
    assert_eq!(ids(&index, "", &ALL), vec!["b", "c", "d"]);
    let r = index
        .search(&SearchRequest::new("emergency"), &ALL)
        .unwrap();
    assert_eq!(r.total, 1, "upsert must not duplicate");
}

#[test]
fn upsert_replaces_and_delete_removes() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs = corpus();
    let index = build(dir.path(), &docs);
    docs[0].summary = "Completely rewritten narrative about a lighthouse".into();
    let mut w = index.writer().unwrap();
    w.upsert(&docs[0]).unwrap();
    w.delete("b");
    w.commit(10).unwrap();
    assert_eq!(ids(&index, "lighthouse", &ALL), vec!["a"]);
    assert!(ids(&index, "timeouts", &ALL).is_empty());
    assert!(ids(&index, "construction", &ALL).is_empty());
    assert_eq!(
        index.get("a", &ALL).unwrap().map(|d| d.summary),
        Some(docs[0].summary.clone())
    );
}

#[test]
fn build_aside_and_swap_gives_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let docs = corpus();
    let handle = IndexHandle::open(dir.path()).unwrap();
    assert_eq!(handle.generation(), 1);
    {
        let live = handle.current();
        let mut w = live.writer().unwrap();
        for d in &docs {
            w.upsert(d).unwrap();
        }
        w.commit(7).unwrap();
    }
    let before = handle
        .current()
        .search(&SearchRequest::new("configuration"), &ALL)
        .unwrap();
    let held = handle.current();

    let rebuild = handle.prepare_rebuild().unwrap();
    {
        let mut w = rebuild.index().writer().unwrap();
        for d in &docs {
            w.upsert(d).unwrap();
        }
        w.commit(7).unwrap();
    }
    // Searches keep working on the live generation during the rebuild.
    assert_eq!(
        handle
            .current()
            .search(&SearchRequest::new("configuration"), &ALL)
            .unwrap(),
        before
    );
    handle.swap_to(rebuild).unwrap();
    assert_eq!(handle.generation(), 2);
    let after = handle
        .current()
        .search(&SearchRequest::new("configuration"), &ALL)
        .unwrap();
    assert_eq!(before.total, after.total);
    assert_eq!(
        before.hits.iter().map(|h| &h.id).collect::<Vec<_>>(),
        after.hits.iter().map(|h| &h.id).collect::<Vec<_>>()
    );
    assert_eq!(before.facets, after.facets);
    assert_eq!(handle.current().last_committed_seq().unwrap(), Some(7));
    // A search holding the old generation still completes.
    assert_eq!(
        held.search(&SearchRequest::new("configuration"), &ALL)
            .unwrap()
            .total,
        before.total
    );
    drop(held);
    assert_eq!(handle.remove_stale_generations().unwrap(), 1);
    // Reopening follows CURRENT.
    drop(handle);
    let reopened = IndexHandle::open(dir.path()).unwrap();
    assert_eq!(reopened.generation(), 2);
    assert_eq!(reopened.current().num_docs(), 4);
}

#[test]
fn similar_excludes_self_and_gives_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs = corpus();
    let mut twin = docs[0].clone();
    twin.id = "a2".into();
    twin.summary =
        "VoLTE registrations failed with SIP 408 after the P-CSCF software upgrade.".into();
    docs.push(twin);
    let index = build(dir.path(), &docs);
    let hits = index.similar_to("a", 3, &ALL).unwrap();
    assert!(hits.iter().all(|h| h.id != "a"));
    assert_eq!(hits[0].id, "a2");
    let reasons = hits[0].reasons.join("; ");
    assert!(reasons.contains("shared terms"), "{reasons}");
    assert!(
        reasons.contains("same trigger: software_upgrade"),
        "{reasons}"
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));

    let probe = SimilarQuery {
        text: "we plan a software upgrade of our P-CSCF; could VoLTE registration fail?".into(),
        assets: vec!["P-CSCF".into()],
        ..Default::default()
    };
    let hits = index.similar_to_text(&probe, 2, &ALL).unwrap();
    assert!(hits[0].id == "a" || hits[0].id == "a2", "{hits:?}");
    assert!(
        hits[0]
            .reasons
            .iter()
            .any(|r| r.contains("shared assets: p-cscf")),
        "{hits:?}"
    );
    assert!(matches!(
        index.similar_to("nope", 3, &ALL),
        Err(IndexError::NotFound(_))
    ));
}

#[test]
fn similar_summaries_lift_a_candidate_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let shared_story = "The Kestrel team paged the Osprey on-call during the Helsinki \
        maintenance window; escalation took forty minutes and the Kestrel dashboard stayed red.";
    let mut p = doc(
        "p",
        Tlp::Clear,
        5,
        "Outage",
        "A configuration push to the edge routers withdrew the default route.",
    );
    p.body = shared_story.into();
    // Same long story (names, timeline), different incident.
    let mut x = doc(
        "x",
        Tlp::Clear,
        6,
        "Outage",
        "A diesel generator failed during a utility power cut in the data hall.",
    );
    x.body = shared_story.into();
    // Different story, same incident in its summary.
    let mut y = doc(
        "y",
        Tlp::Clear,
        7,
        "Outage",
        "A configuration push withdrew the default route from the edge routers.",
    );
    y.body = "Customers saw timeouts for an hour until the change was rolled back.".into();
    let mut docs = corpus();
    docs.extend([p, x, y]);
    let index = build(dir.path(), &docs);

    let with = |w: f32| SimilarityParams {
        summary_weight: w,
        ..SimilarityParams::default()
    };
    let rank = |hits: &[incidex_indexer::SimilarHit], id: &str| {
        hits.iter().position(|h| h.id == id).unwrap()
    };
    let mlt_only = index.similar_to_with("p", 5, &ALL, &with(0.0)).unwrap();
    assert!(rank(&mlt_only, "x") < rank(&mlt_only, "y"), "{mlt_only:?}");
    assert!(
        mlt_only
            .iter()
            .all(|h| h.reasons.iter().all(|r| !r.starts_with("similar summary"))),
        "{mlt_only:?}"
    );
    let summary_only = index.similar_to_with("p", 5, &ALL, &with(1.0)).unwrap();
    assert_eq!(summary_only[0].id, "y", "{summary_only:?}");
    // Only the shortlist of the first ranking is re-ranked: with room for
    // one candidate, x (first by more-like-this) is all there is.
    let short = SimilarityParams {
        summary_rerank: 1,
        ..with(1.0)
    };
    let one = index.similar_to_with("p", 1, &ALL, &short).unwrap();
    assert_eq!(one[0].id, "x", "{one:?}");
    let one = index.similar_to_with("p", 1, &ALL, &with(1.0)).unwrap();
    assert_eq!(one[0].id, "y", "{one:?}");

    // The default blends both: y's text score rises, and y says why.
    let blended = index.similar_to("p", 5, &ALL).unwrap();
    let y_hit = &blended[rank(&blended, "y")];
    assert!(y_hit.text_score > mlt_only[rank(&mlt_only, "y")].text_score);
    let reason = y_hit
        .reasons
        .iter()
        .find(|r| r.starts_with("similar summary: "))
        .unwrap_or_else(|| panic!("{y_hit:?}"));
    let y_summary = "a configuration push withdrew the default route from the edge routers.";
    for term in reason["similar summary: ".len()..].split(", ") {
        assert!(y_summary.contains(term), "{term} in {reason}");
    }
    let x_hit = &blended[rank(&blended, "x")];
    assert!(
        x_hit
            .reasons
            .iter()
            .all(|r| !r.starts_with("similar summary")),
        "{x_hit:?}"
    );

    // A free-text probe compares its text with the summaries.
    let probe = SimilarQuery {
        text: "configuration push withdrew the default route".into(),
        ..Default::default()
    };
    let hits = index.similar_to_text(&probe, 3, &ALL).unwrap();
    assert!(
        hits.iter()
            .find(|h| h.id == "y")
            .is_some_and(|h| h.reasons.iter().any(|r| r.starts_with("similar summary"))),
        "{hits:?}"
    );
}

#[test]
fn clustering_groups_near_duplicates_and_separates_unrelated() {
    let texts = [
        (
            "f1",
            "Backhoe cut the backbone fibre cable between two cities; transport links down until the fibre was spliced.",
        ),
        (
            "f2",
            "A construction crew cut a backbone fibre cable; transport links failed until splicing restored the fibre.",
        ),
        (
            "f3",
            "Backbone fibre cable cut by roadworks; transport links down, fibre spliced overnight.",
        ),
        (
            "u1",
            "Expired TLS certificate on the HSS Diameter interface rejected every subscriber authentication.",
        ),
        (
            "u2",
            "The TLS certificate of the HSS expired and Diameter authentication of subscribers was rejected.",
        ),
        (
            "s1",
            "A hurricane flooded cell sites and generators ran out of fuel in the storm.",
        ),
    ];
    let inputs: Vec<ClusterInput> = texts
        .iter()
        .map(|(id, t)| ClusterInput {
            id: id.to_string(),
            tlp: Some(Tlp::Clear),
            text: t.to_string(),
            ..Default::default()
        })
        .collect();
    let params = ClusterParams::default();
    let c = cluster_all(&inputs, &params);
    let a = &c.assignments;
    assert_eq!(a[0], a[1]);
    assert_eq!(a[1], a[2]);
    assert_eq!(a[3], a[4]);
    assert_ne!(a[0], a[3]);
    assert_ne!(a[5], a[0]);
    assert_ne!(a[5], a[3]);
    let fibre = &c.clusters[a[0]];
    assert!(
        fibre.label.contains("fibre")
            || fibre.label.contains("backbone")
            || fibre.label.contains("cable"),
        "{}",
        fibre.label
    );

    // Incremental: a new fibre cut joins the fibre cluster, an unrelated
    // report starts a new one.
    let centroids: Vec<_> = c.clusters.iter().map(|c| c.centroid.clone()).collect();
    let new = ClusterInput {
        id: "f4".into(),
        text: "Excavator cut the backbone fibre cable; transport links down until spliced.".into(),
        ..Default::default()
    };
    match assign(&new, &centroids, &c.stats, &params) {
        Assignment::Join { cluster, .. } => assert_eq!(cluster, a[0]),
        Assignment::New => panic!("should join the fibre cluster"),
    }
    let other = ClusterInput {
        id: "x".into(),
        text: "Billing system double-charged prepaid customers.".into(),
        ..Default::default()
    };
    assert_eq!(
        assign(&other, &centroids, &c.stats, &params),
        Assignment::New
    );
}

#[test]
fn assign_with_live_index_stats() {
    let dir = tempfile::tempdir().unwrap();
    let docs = corpus();
    let index = build(dir.path(), &docs);
    let inputs: Vec<ClusterInput> = index
        .all_docs(&ALL)
        .unwrap()
        .iter()
        .map(ClusterInput::from_doc)
        .collect();
    assert_eq!(inputs.len(), 4);
    let c = cluster_all(&inputs, &ClusterParams::default());
    let centroids: Vec<_> = c.clusters.iter().map(|c| c.centroid.clone()).collect();
    let mut probe = ClusterInput::from_doc(&docs[0]);
    probe.id = "a-again".into();
    match assign(&probe, &centroids, &index, &ClusterParams::default()) {
        Assignment::Join { cluster, .. } => {
            assert!(c.clusters[cluster].members.contains(&"a".to_string()))
        }
        Assignment::New => panic!("an identical document must join its twin's cluster"),
    }
}
