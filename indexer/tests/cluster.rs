//! Clustering on a synthetic corpus with hidden families (word salad,
//! identifiers, confounders) and on the real outages: the groups found,
//! their labels, and incremental placement.

use std::collections::HashMap;

use incidex_indexer::cluster::{
    Assignment, Centroid, ClusterBuilder, ClusterInput, ClusterParams, assign, cluster_all,
    synthetic,
};
use incidex_indexer::eval::adjusted_rand_index;

const N: usize = 1200;

fn centroids(c: &incidex_indexer::Clustering) -> Vec<Centroid> {
    c.clusters.iter().map(|c| c.centroid.clone()).collect()
}

/// The family most members of each cluster belong to.
fn majority(assignments: &[usize], families: &[usize], k: usize) -> Vec<usize> {
    let mut counts = vec![HashMap::<usize, usize>::new(); k];
    for (&a, &f) in assignments.iter().zip(families) {
        *counts[a].entry(f).or_default() += 1;
    }
    counts
        .iter()
        .map(|m| {
            m.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or(usize::MAX, |e| *e.0)
        })
        .collect()
}

#[test]
fn hidden_families_are_found_without_being_told_how_many() {
    let (docs, families) = synthetic::corpus(N, 1);
    let c = cluster_all(&docs, &ClusterParams::default());
    let ari = adjusted_rand_index(&c.assignments, &families);
    assert!(ari >= 0.8, "ARI {ari}");
    // Few clusters, not one per report: the families, plus at most a few
    // reports that resemble nothing.
    let big = c.clusters.iter().filter(|c| c.members.len() >= 10).count();
    assert!(
        (synthetic::FAMILIES.len() - 1..=synthetic::FAMILIES.len() + 2).contains(&big),
        "{big} clusters of 10 or more"
    );
    assert!(
        c.clusters.len() <= 3 * synthetic::FAMILIES.len(),
        "{}",
        c.clusters.len()
    );
    let alone = c.clusters.iter().filter(|c| c.members.len() == 1).count();
    assert!(alone * 100 <= N, "{alone} reports alone");
}

fn identifier_like(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit())
}

#[test]
fn labels_are_words_and_phrases_never_identifiers() {
    let (docs, families) = synthetic::corpus(N, 2);
    let c = cluster_all(&docs, &ClusterParams::default());
    let known: Vec<&str> = synthetic::FAMILIES
        .iter()
        .flat_map(|(_, phrases)| phrases.iter())
        .flat_map(|p| p.split_whitespace())
        .collect();
    let k = c.clusters.len();
    let major = majority(&c.assignments, &families, k);
    for (i, cluster) in c.clusters.iter().enumerate() {
        for word in cluster
            .label
            .split([',', ' ', '(', ')'])
            .chain(cluster.top_terms.iter().map(String::as_str))
            .filter(|w| !w.is_empty())
        {
            assert!(!identifier_like(word), "{word:?} in {:?}", cluster.label);
            for host in ["mme", "sgw", "pgw", "rtr"] {
                assert!(!word.starts_with(&format!("{host}-")), "{word}");
            }
            assert!(!word.starts_with("inc") || word.len() > 6, "{word}");
        }
        if cluster.members.len() >= 10 {
            // A big cluster's label is made of its family's words.
            let fam = synthetic::FAMILIES[major[i]].1;
            let first = cluster.label.split(", ").next().unwrap_or_default();
            assert!(
                first.split(' ').any(|w| {
                    fam.iter()
                        .any(|p| p.split(' ').any(|x| x.starts_with(&w[..w.len().min(5)])))
                }),
                "label {:?} of a {} cluster",
                cluster.label,
                synthetic::FAMILIES[major[i]].0
            );
            assert!(first.split(' ').all(|w| known.contains(&w)), "{first}");
        }
    }
    // Phrases as written, not just single words, for the big clusters.
    let phrases = c
        .clusters
        .iter()
        .filter(|c| c.members.len() >= 10)
        .filter(|c| c.label.split(", ").any(|item| item.contains(' ')))
        .count();
    assert!(
        phrases >= 3,
        "{:?}",
        c.clusters.iter().map(|c| &c.label).collect::<Vec<_>>()
    );
}

#[test]
fn a_new_report_joins_its_familys_cluster() {
    let (all, families) = synthetic::corpus(N + 100, 3);
    let params = ClusterParams::default();
    let c = cluster_all(&all[..N], &params);
    let major = majority(&c.assignments, &families[..N], c.clusters.len());
    let stored = centroids(&c);
    let mut right = 0;
    for (doc, fam) in all[N..].iter().zip(&families[N..]) {
        match assign(doc, &stored, &c.stats, &params) {
            Assignment::Join { cluster, .. } if major[cluster] == *fam => right += 1,
            _ => {}
        }
    }
    assert!(right >= 95, "{right} of 100 joined their family's cluster");
}

#[test]
fn a_report_of_an_unseen_kind_starts_a_new_cluster() {
    let (all, families) = synthetic::corpus(N, 4);
    let unseen = 0;
    let seen: Vec<ClusterInput> = all
        .iter()
        .zip(&families)
        .filter(|(_, f)| **f != unseen)
        .map(|(d, _)| d.clone())
        .collect();
    let params = ClusterParams::default();
    let c = cluster_all(&seen, &params);
    let stored = centroids(&c);
    let (mut new, mut total) = (0, 0);
    for (doc, _) in all.iter().zip(&families).filter(|(_, f)| **f == unseen) {
        total += 1;
        if assign(doc, &stored, &c.stats, &params) == Assignment::New {
            new += 1;
        }
    }
    assert!(total > 50);
    assert!(
        new * 10 >= total * 7,
        "{new} of {total} started a new cluster"
    );
}

#[test]
fn full_and_incremental_clustering_agree() {
    let (docs, _) = synthetic::corpus(N, 5);
    let params = ClusterParams::default();
    let c = cluster_all(&docs, &params);
    let stored = centroids(&c);
    let mut agree = 0;
    let probe: Vec<usize> = (0..N).step_by(7).collect();
    for &i in &probe {
        let own = c.assignments[i];
        let alone = c.clusters[own].members.len() == 1;
        match assign(&docs[i], &stored, &c.stats, &params) {
            Assignment::Join { cluster, .. } if cluster == own => agree += 1,
            Assignment::New if alone => agree += 1,
            _ => {}
        }
    }
    assert!(
        agree * 100 >= probe.len() * 99,
        "{agree} of {}",
        probe.len()
    );
}

#[test]
fn streaming_in_batches_gives_the_same_clustering() {
    let (docs, _) = synthetic::corpus(600, 6);
    let params = ClusterParams::default();
    let whole = cluster_all(&docs, &params);
    let mut b = ClusterBuilder::new(params);
    for chunk in docs[..560].chunks(70) {
        b.extend(chunk);
    }
    for d in &docs[560..] {
        b.add(d);
    }
    let streamed = b.finish();
    assert_eq!(whole.assignments, streamed.assignments);
    let labels = |c: &incidex_indexer::Clustering| -> Vec<String> {
        c.clusters.iter().map(|c| c.label.clone()).collect()
    };
    assert_eq!(labels(&whole), labels(&streamed));
}

#[test]
fn real_outages_group_like_an_engineer_would() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/data/telecom/incidents.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("telecom corpus");
    let docs: Vec<ClusterInput> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            let mut t = String::new();
            for f in ["summary", "impact_text"] {
                if let Some(s) = v.get(f).and_then(|x| x.as_str()) {
                    t.push_str(s);
                    t.push('\n');
                }
            }
            for l in v["lessons_learned"].as_array().into_iter().flatten() {
                t.push_str(l.as_str().unwrap_or_default());
                t.push('\n');
            }
            ClusterInput {
                id: v["id"].as_str().unwrap_or_default().to_string(),
                text: t,
                ..Default::default()
            }
        })
        .collect();
    let c = cluster_all(&docs, &ClusterParams::default());
    let cluster_of = |id: &str| {
        let i = docs.iter().position(|d| d.id == id).expect(id);
        c.assignments[i]
    };
    // The three submarine-cable faults belong together.
    assert_eq!(cluster_of("tel-711d585e"), cluster_of("tel-2ecb0626"));
    assert_eq!(cluster_of("tel-711d585e"), cluster_of("tel-44867fa5"));
    // Few reports stay alone, and groups are not one big lump.
    let alone = c.clusters.iter().filter(|c| c.members.len() == 1).count();
    assert!(alone <= 4, "{alone} alone");
    assert!(c.clusters.iter().all(|c| c.members.len() <= docs.len() / 3));
}
