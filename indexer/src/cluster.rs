//! Clustering of incidents, as pure functions: the API stores assignments
//! and centroids in the database.
//!
//! Policy:
//! - A document is a sparse vector: its analysed terms (stop words, terms in
//!   a single document and terms in more than
//!   [`ClusterParams::max_df_ratio`] of documents left out) weighted
//!   `(1 + ln tf) * idf`, L2-normalised and cut to its
//!   [`ClusterParams::max_terms`] strongest terms, plus a block of structured
//!   pseudo-terms (`trigger=...`, `domain=...`, `asset=...`) scaled by
//!   [`ClusterParams::field_weight`].
//! - Full clustering ([`cluster_all`]) is single-pass leader clustering in
//!   input order (pass chronological order): a document joins the most
//!   similar cluster (cosine to the cluster's summed vector) if that is at
//!   least [`ClusterParams::threshold`], or starts a new one. Candidate
//!   clusters are found through an inverted index over each cluster's
//!   strongest terms, so the cost grows with the number of documents, not
//!   its square. Refinement passes then move each document to its most
//!   similar cluster, which repairs order effects. This is what the periodic
//!   re-clustering runs.
//! - Incremental clustering ([`assign`]) puts one new document in the most
//!   similar stored cluster above the threshold, or reports a new cluster.
//! - A label is the cluster's most distinctive terms as written in the
//!   reports, with the structured values most members share.
//! - Labels may only be shown to a reader who may see every member they were
//!   computed from: [`Clustering::visible`] (and [`describe`] over the
//!   visible members) recompute members, labels and terms from the
//!   documents at the reader's TLP levels only.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};
use tantivy::Term;

use crate::analysis::term_counts;
use crate::doc::{IndexDoc, Tlp, normalise_value};
use crate::index::IncidentIndex;
use crate::mapping::KeywordField;

/// What clustering needs of a document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterInput {
    pub id: String,
    pub tlp: Option<Tlp>,
    pub text: String,
    pub trigger: Option<String>,
    pub root_cause_category: Option<String>,
    pub network_domain: Option<String>,
    pub assets: Vec<String>,
    pub services: Vec<String>,
}

impl ClusterInput {
    pub fn from_doc(doc: &IndexDoc) -> Self {
        ClusterInput {
            id: doc.id.clone(),
            tlp: Some(doc.tlp),
            text: doc.full_text(),
            trigger: doc.trigger.clone(),
            root_cause_category: doc.root_cause_category.clone(),
            network_domain: doc.network_domain.clone(),
            assets: doc.assets.clone(),
            services: doc.services.clone(),
        }
    }

    fn pseudo_terms(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |prefix: &str, v: &str| {
            if let Some(v) = normalise_value(v) {
                out.push(format!("{prefix}={v}"));
            }
        };
        if let Some(v) = &self.trigger {
            push("trigger", v);
        }
        if let Some(v) = &self.root_cause_category {
            push("root_cause_category", v);
        }
        if let Some(v) = &self.network_domain {
            push("network_domain", v);
        }
        for v in &self.assets {
            push("asset", v);
        }
        for v in &self.services {
            push("service", v);
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Tuning of clustering (defaults tuned on the development corpora, see
/// `docs/indexer.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterParams {
    /// Minimum cosine similarity to join a cluster.
    pub threshold: f32,
    /// Text terms kept per document.
    pub max_terms: usize,
    /// Terms in more than this share of documents are ignored (from 20
    /// documents on).
    pub max_df_ratio: f32,
    /// Length of the structured block relative to the text block.
    pub field_weight: f32,
    /// Reassignment passes after the first pass.
    pub refine_passes: usize,
    /// Terms in a label.
    pub label_terms: usize,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            threshold: 0.25,
            max_terms: 40,
            max_df_ratio: 0.5,
            field_weight: 0.5,
            refine_passes: 2,
            label_terms: 3,
        }
    }
}

/// Document frequencies, for weighting the terms of a new document.
pub trait DocFreqs {
    fn num_docs(&self) -> u64;
    /// Documents containing an analysed term or a `field=value` pseudo-term.
    fn doc_freq(&self, term: &str) -> u64;
}

/// Document frequencies counted over a set of inputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TermStats {
    pub num_docs: u64,
    pub df: HashMap<String, u64>,
}

impl DocFreqs for TermStats {
    fn num_docs(&self) -> u64 {
        self.num_docs
    }

    fn doc_freq(&self, term: &str) -> u64 {
        self.df.get(term).copied().unwrap_or(0)
    }
}

impl DocFreqs for IncidentIndex {
    fn num_docs(&self) -> u64 {
        self.searcher().num_docs()
    }

    fn doc_freq(&self, term: &str) -> u64 {
        let f = self.fields();
        let t = match term.split_once('=') {
            Some(("trigger", v)) => Term::from_field_text(f.keyword(KeywordField::Trigger), v),
            Some(("root_cause_category", v)) => {
                Term::from_field_text(f.keyword(KeywordField::RootCauseCategory), v)
            }
            Some(("network_domain", v)) => {
                Term::from_field_text(f.keyword(KeywordField::NetworkDomain), v)
            }
            Some(("asset", v)) => Term::from_field_text(f.keyword(KeywordField::Asset), v),
            Some(("service", v)) => Term::from_field_text(f.keyword(KeywordField::Service), v),
            _ => Term::from_field_text(f.all, term),
        };
        // A failed lookup (i/o error on the term dictionary) counts as
        // unseen: the term then simply gets no weight.
        self.searcher().doc_freq(&t).unwrap_or(0)
    }
}

/// A stored cluster's centroid: L2-normalised, strongest terms only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Centroid {
    pub terms: Vec<(String, f32)>,
    pub size: usize,
}

/// One cluster of a full clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub members: Vec<String>,
    pub label: String,
    pub top_terms: Vec<String>,
    pub centroid: Centroid,
}

/// Where a new document goes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Assignment {
    /// Joins the cluster at this index of the slice given to [`assign`].
    Join { cluster: usize, similarity: f32 },
    /// Starts a new cluster.
    New,
}

/// What a reader may see of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    /// Index of the cluster in [`Clustering::clusters`].
    pub cluster: usize,
    pub members: Vec<String>,
    pub label: String,
    pub top_terms: Vec<String>,
}

/// Result of a full clustering.
#[derive(Debug, Clone)]
pub struct Clustering {
    pub clusters: Vec<Cluster>,
    /// Cluster index of each input, in input order.
    pub assignments: Vec<usize>,
    pub stats: TermStats,
    vectors: Vec<SparseVec>,
    tlps: Vec<Option<Tlp>>,
    ids: Vec<String>,
    vocab: Vocab,
    label_terms: usize,
}

impl Clustering {
    /// The clusters as a reader at `visibility` may see them: only visible
    /// members, labels and terms computed from those alone, clusters without
    /// a visible member left out. Inputs without a TLP level are invisible.
    pub fn visible(&self, visibility: &[Tlp]) -> Vec<ClusterView> {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); self.clusters.len()];
        for (i, c) in self.assignments.iter().enumerate() {
            if self.tlps[i].is_some_and(|t| visibility.contains(&t)) {
                members[*c].push(i);
            }
        }
        members
            .into_iter()
            .enumerate()
            .filter(|(_, m)| !m.is_empty())
            .map(|(c, m)| {
                let (label, top_terms) =
                    label_for(&m, &self.vectors, &self.vocab, self.label_terms);
                ClusterView {
                    cluster: c,
                    members: m.iter().map(|&i| self.ids[i].clone()).collect(),
                    label,
                    top_terms,
                }
            })
            .collect()
    }
}

/// A sparse vector: (term id, weight), sorted by term id.
type SparseVec = Vec<(u32, f32)>;

#[derive(Debug, Clone, Default)]
struct Vocab {
    ids: HashMap<String, u32>,
    terms: Vec<String>,
    surfaces: Vec<String>,
}

impl Vocab {
    fn id(&mut self, term: &str, surface: &str) -> u32 {
        if let Some(&id) = self.ids.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.ids.insert(term.to_string(), id);
        self.terms.push(term.to_string());
        self.surfaces.push(surface.to_string());
        id
    }

    fn is_pseudo(&self, id: u32) -> bool {
        self.terms[id as usize].contains('=')
    }
}

/// FxHash: a fast non-cryptographic hasher for small integer keys.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

struct Analysed {
    terms: Vec<(String, u32, String)>,
    pseudo: Vec<String>,
}

fn analyse_inputs(inputs: &[ClusterInput]) -> Vec<Analysed> {
    let work = |chunk: &[ClusterInput]| -> Vec<Analysed> {
        chunk
            .iter()
            .map(|inp| Analysed {
                terms: term_counts(&inp.text)
                    .into_iter()
                    .map(|(t, (n, s))| (t, n, s))
                    .collect(),
                pseudo: inp.pseudo_terms(),
            })
            .collect()
    };
    // Two workers: the service machine has two cores.
    if inputs.len() < 2000 {
        return work(inputs);
    }
    let mid = inputs.len() / 2;
    std::thread::scope(|s| {
        let h = s.spawn(|| work(&inputs[mid..]));
        let mut a = work(&inputs[..mid]);
        // A panic in the worker is a bug in the analyser; propagate it.
        match h.join() {
            Ok(b) => a.extend(b),
            Err(p) => std::panic::resume_unwind(p),
        }
        a
    })
}

fn idf(n: u64, df: u64) -> f32 {
    ((1.0 + n as f32) / (1.0 + df as f32)).ln() + 1.0
}

/// Builds one document vector from its terms and document frequencies.
fn build_vector(
    terms: &[(String, u32, String)],
    pseudo: &[String],
    stats: &dyn DocFreqs,
    params: &ClusterParams,
    mut id_of: impl FnMut(&str, &str) -> Option<u32>,
) -> SparseVec {
    let n = stats.num_docs();
    let max_df = if n >= 20 {
        (params.max_df_ratio * n as f32) as u64
    } else {
        u64::MAX
    };
    let mut text: Vec<(u32, f32)> = Vec::new();
    for (t, tf, surface) in terms {
        let df = stats.doc_freq(t);
        if df < 2 || df > max_df {
            continue;
        }
        if let Some(id) = id_of(t, surface) {
            text.push((id, (1.0 + (*tf as f32).ln()) * idf(n, df)));
        }
    }
    text.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    text.truncate(params.max_terms);
    normalise(&mut text, 1.0);
    let mut fields: Vec<(u32, f32)> = Vec::new();
    for p in pseudo {
        let df = stats.doc_freq(p);
        if let Some(id) = id_of(p, p) {
            fields.push((id, idf(n, df.max(1))));
        }
    }
    normalise(&mut fields, params.field_weight);
    let mut v = text;
    v.extend(fields);
    normalise(&mut v, 1.0);
    v.sort_by_key(|e| e.0);
    v
}

fn normalise(v: &mut [(u32, f32)], length: f32) {
    let norm = v.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
    if norm > 0.0 {
        for e in v.iter_mut() {
            e.1 *= length / norm;
        }
    }
}

/// Clusters all inputs (the periodic full re-clustering).
pub fn cluster_all(inputs: &[ClusterInput], params: &ClusterParams) -> Clustering {
    let analysed = analyse_inputs(inputs);
    let mut stats = TermStats {
        num_docs: inputs.len() as u64,
        df: HashMap::new(),
    };
    for a in &analysed {
        for (t, _, _) in &a.terms {
            *stats.df.entry(t.clone()).or_default() += 1;
        }
        for p in &a.pseudo {
            *stats.df.entry(p.clone()).or_default() += 1;
        }
    }
    let mut vocab = Vocab::default();
    let vectors: Vec<SparseVec> = analysed
        .iter()
        .map(|a| {
            build_vector(&a.terms, &a.pseudo, &stats, params, |t, s| {
                Some(vocab.id(t, s))
            })
        })
        .collect();
    let assignments = cluster_vectors(&vectors, params.threshold, params.refine_passes);
    let n_clusters = assignments.iter().copied().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_clusters];
    for (i, c) in assignments.iter().enumerate() {
        members[*c].push(i);
    }
    let clusters = members
        .iter()
        .map(|m| {
            let (label, top_terms) = label_for(m, &vectors, &vocab, params.label_terms);
            Cluster {
                members: m.iter().map(|&i| inputs[i].id.clone()).collect(),
                label,
                top_terms,
                centroid: centroid_of(m, &vectors, &vocab),
            }
        })
        .collect();
    Clustering {
        clusters,
        assignments,
        stats,
        vectors,
        tlps: inputs.iter().map(|i| i.tlp).collect(),
        ids: inputs.iter().map(|i| i.id.clone()).collect(),
        vocab,
        label_terms: params.label_terms,
    }
}

/// Decides where a new document goes among stored clusters. `stats` gives
/// document frequencies (the live index, or the [`TermStats`] of the last
/// full clustering).
pub fn assign(
    new: &ClusterInput,
    clusters: &[Centroid],
    stats: &dyn DocFreqs,
    params: &ClusterParams,
) -> Assignment {
    let v = vectorize(new, stats, params);
    let mut best: Option<(usize, f32)> = None;
    for (i, c) in clusters.iter().enumerate() {
        let s = cosine_named(&v, &c.terms);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    match best {
        Some((cluster, similarity)) if similarity >= params.threshold => Assignment::Join {
            cluster,
            similarity,
        },
        _ => Assignment::New,
    }
}

/// The named vector of one document (for [`assign`] and [`Centroid::absorb`]).
pub fn vectorize(
    input: &ClusterInput,
    stats: &dyn DocFreqs,
    params: &ClusterParams,
) -> Vec<(String, f32)> {
    let terms: Vec<(String, u32, String)> = term_counts(&input.text)
        .into_iter()
        .map(|(t, (n, s))| (t, n, s))
        .collect();
    let pseudo = input.pseudo_terms();
    let mut names: Vec<String> = Vec::new();
    let v = build_vector(&terms, &pseudo, stats, params, |t, _| {
        names.push(t.to_string());
        Some((names.len() - 1) as u32)
    });
    v.into_iter()
        .map(|(id, w)| (names[id as usize].clone(), w))
        .collect()
}

impl Centroid {
    /// Adds a document vector (from [`vectorize`]) to the centroid.
    pub fn absorb(&mut self, v: &[(String, f32)]) {
        let mut sum: HashMap<String, f32> = self
            .terms
            .iter()
            .map(|(t, w)| (t.clone(), w * self.size as f32))
            .collect();
        for (t, w) in v {
            *sum.entry(t.clone()).or_default() += w;
        }
        self.size += 1;
        let mut terms: Vec<(String, f32)> = sum.into_iter().collect();
        terms.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        terms.truncate(CENTROID_TERMS);
        let norm = terms.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
        if norm > 0.0 {
            for e in &mut terms {
                e.1 /= norm;
            }
        }
        self.terms = terms;
    }
}

fn cosine_named(v: &[(String, f32)], c: &[(String, f32)]) -> f32 {
    let m: HashMap<&str, f32> = c.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    v.iter()
        .map(|(t, w)| w * m.get(t.as_str()).copied().unwrap_or(0.0))
        .sum()
}

const CENTROID_TERMS: usize = 60;

fn centroid_of(members: &[usize], vectors: &[SparseVec], vocab: &Vocab) -> Centroid {
    let mut sum: FxMap<u32, f32> = FxMap::default();
    for &i in members {
        for &(t, w) in &vectors[i] {
            *sum.entry(t).or_default() += w;
        }
    }
    let mut terms: Vec<(u32, f32)> = sum.into_iter().collect();
    terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    terms.truncate(CENTROID_TERMS);
    normalise(&mut terms, 1.0);
    Centroid {
        terms: terms
            .into_iter()
            .map(|(t, w)| (vocab.terms[t as usize].clone(), w))
            .collect(),
        size: members.len(),
    }
}

/// Label and top terms of a set of members: the strongest text terms of
/// their summed vector as written in the reports, then the structured
/// values shared by at least 60% of them.
fn label_for(
    members: &[usize],
    vectors: &[SparseVec],
    vocab: &Vocab,
    n_terms: usize,
) -> (String, Vec<String>) {
    let mut sum: FxMap<u32, (f32, usize)> = FxMap::default();
    for &i in members {
        for &(t, w) in &vectors[i] {
            let e = sum.entry(t).or_default();
            e.0 += w;
            e.1 += 1;
        }
    }
    // Terms shared by several members describe the cluster better than one
    // member's rare word: weight by the share of members holding the term.
    let mut terms: Vec<(u32, f32, usize)> = sum
        .iter()
        .map(|(&t, &(w, n))| (t, w * (n as f32 / members.len() as f32), n))
        .collect();
    terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut top: Vec<String> = Vec::new();
    let mut shared_fields: Vec<String> = Vec::new();
    for (t, _, n) in &terms {
        if vocab.is_pseudo(*t) {
            if members.len() >= 2
                && *n as f32 >= 0.6 * members.len() as f32
                && shared_fields.len() < 2
            {
                let term = &vocab.terms[*t as usize];
                if let Some((_, v)) = term.split_once('=') {
                    shared_fields.push(v.replace('_', " "));
                }
            }
        } else if top.len() < n_terms.max(8) {
            let s = &vocab.surfaces[*t as usize];
            if !top.contains(s) {
                top.push(s.clone());
            }
        }
    }
    let mut label = top
        .iter()
        .take(n_terms)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if !shared_fields.is_empty() {
        label = if label.is_empty() {
            shared_fields.join(", ")
        } else {
            format!("{label} ({})", shared_fields.join(", "))
        };
    }
    if label.is_empty() {
        label = "unlabelled".into();
    }
    (label, top)
}

/// Label and top terms for a stored cluster, from the members the reader may
/// see (pass only those).
pub fn describe(
    visible_members: &[ClusterInput],
    stats: &dyn DocFreqs,
    params: &ClusterParams,
) -> (String, Vec<String>) {
    let mut vocab = Vocab::default();
    let vectors: Vec<SparseVec> = visible_members
        .iter()
        .map(|inp| {
            let terms: Vec<(String, u32, String)> = term_counts(&inp.text)
                .into_iter()
                .map(|(t, (n, s))| (t, n, s))
                .collect();
            build_vector(&terms, &inp.pseudo_terms(), stats, params, |t, s| {
                Some(vocab.id(t, s))
            })
        })
        .collect();
    let all: Vec<usize> = (0..vectors.len()).collect();
    label_for(&all, &vectors, &vocab, params.label_terms)
}

/// Clusters sparse unit vectors (sorted by term id) by leader clustering with
/// refinement; returns the cluster index of each vector, clusters numbered
/// in order of first member. Exposed for the evaluation's baseline.
pub fn cluster_vectors(
    vectors: &[Vec<(u32, f32)>],
    threshold: f32,
    refine_passes: usize,
) -> Vec<usize> {
    let mut state = Leader::default();
    let mut assignment = vec![0usize; vectors.len()];
    for (i, v) in vectors.iter().enumerate() {
        let best = state.best(v, None);
        assignment[i] = match best {
            Some((c, s)) if s >= threshold => {
                state.add(c, v);
                c
            }
            _ => state.create(v),
        };
    }
    for _ in 0..refine_passes {
        // Recompute centroids from the current assignment, then move every
        // document to its most similar centroid (its own included).
        let mut next = Leader::default();
        let n = state.sums.len();
        let mut remap = vec![usize::MAX; n];
        for (i, v) in vectors.iter().enumerate() {
            let c = assignment[i];
            if remap[c] == usize::MAX {
                remap[c] = next.create(v);
            } else {
                next.add(remap[c], v);
            }
        }
        for a in assignment.iter_mut() {
            *a = remap[*a];
        }
        let mut moved = 0usize;
        let mut new_assignment = assignment.clone();
        for (i, v) in vectors.iter().enumerate() {
            let own = assignment[i];
            if let Some((c, s)) = next.best(v, Some(own))
                && c != own
                && s >= threshold
            {
                new_assignment[i] = c;
                moved += 1;
            }
        }
        assignment = new_assignment;
        if moved == 0 {
            break;
        }
    }
    // Renumber densely in order of first member.
    let mut renum: HashMap<usize, usize> = HashMap::new();
    for a in assignment.iter_mut() {
        let next = renum.len();
        *a = *renum.entry(*a).or_insert(next);
    }
    assignment
}

/// Leader-clustering state: summed vectors and an inverted index from terms
/// to the clusters in which they are strong.
#[derive(Default)]
struct Leader {
    sums: Vec<FxMap<u32, f32>>,
    norm2: Vec<f32>,
    sizes: Vec<usize>,
    indexed_at: Vec<usize>,
    postings: FxMap<u32, Vec<u32>>,
}

/// Strong terms of a cluster put in the inverted index.
const SIGNATURE_TERMS: usize = 12;
/// Most recent clusters looked at per posting list.
const POSTING_SCAN: usize = 256;
/// Candidates checked exactly.
const EXACT_CHECKS: usize = 8;

impl Leader {
    fn create(&mut self, v: &[(u32, f32)]) -> usize {
        let c = self.sums.len();
        let mut m = FxMap::default();
        for &(t, w) in v {
            m.insert(t, w);
        }
        self.norm2.push(v.iter().map(|e| e.1 * e.1).sum());
        self.sums.push(m);
        self.sizes.push(1);
        self.indexed_at.push(0);
        self.reindex(c);
        c
    }

    fn add(&mut self, c: usize, v: &[(u32, f32)]) {
        let sum = &mut self.sums[c];
        let mut dot = 0.0;
        for &(t, w) in v {
            let e = sum.entry(t).or_default();
            dot += *e * w;
            *e += w;
        }
        self.norm2[c] += 2.0 * dot + v.iter().map(|e| e.1 * e.1).sum::<f32>();
        self.sizes[c] += 1;
        // Refresh the signature as the cluster grows (at 2, 4, 8, ...).
        if self.sizes[c] >= 2 * self.indexed_at[c] {
            self.reindex(c);
        }
    }

    fn reindex(&mut self, c: usize) {
        let mut top: Vec<(u32, f32)> = self.sums[c].iter().map(|(&t, &w)| (t, w)).collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (t, _) in top.into_iter().take(SIGNATURE_TERMS) {
            let list = self.postings.entry(t).or_default();
            if list.last() != Some(&(c as u32)) && !list.contains(&(c as u32)) {
                list.push(c as u32);
            }
        }
        self.indexed_at[c] = self.sizes[c];
    }

    fn cosine(&self, c: usize, v: &[(u32, f32)]) -> f32 {
        let sum = &self.sums[c];
        let dot: f32 = v
            .iter()
            .map(|(t, w)| w * sum.get(t).copied().unwrap_or(0.0))
            .sum();
        let n = self.norm2[c].sqrt();
        if n > 0.0 { dot / n } else { 0.0 }
    }

    /// The most similar cluster among the candidates the inverted index
    /// proposes (and `also`, when given).
    fn best(&self, v: &[(u32, f32)], also: Option<usize>) -> Option<(usize, f32)> {
        let mut approx: FxMap<u32, f32> = FxMap::default();
        for &(t, w) in v {
            if let Some(list) = self.postings.get(&t) {
                for &c in list.iter().rev().take(POSTING_SCAN) {
                    *approx.entry(c).or_default() += w;
                }
            }
        }
        let mut cands: Vec<(u32, f32)> = approx.into_iter().collect();
        cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut seen = HashSet::new();
        let mut best: Option<(usize, f32)> = None;
        let extra = also.into_iter();
        for c in cands
            .into_iter()
            .take(EXACT_CHECKS)
            .map(|(c, _)| c as usize)
            .chain(extra)
        {
            if !seen.insert(c) {
                continue;
            }
            let s = self.cosine(c, v);
            if best.is_none_or(|(bc, b)| s > b || (s == b && c < bc)) {
                best = Some((c, s));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str, text: &str) -> ClusterInput {
        ClusterInput {
            id: id.into(),
            tlp: Some(Tlp::Clear),
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn cluster_vectors_groups_identical_and_separates_orthogonal() {
        let a = vec![(0, 1.0)];
        let b = vec![(1, 1.0)];
        let got = cluster_vectors(&[a.clone(), b.clone(), a, b], 0.5, 2);
        assert_eq!(got, vec![0, 1, 0, 1]);
    }

    #[test]
    fn centroid_absorb_keeps_unit_length() {
        let mut c = Centroid {
            terms: vec![("a".into(), 1.0)],
            size: 1,
        };
        c.absorb(&[("b".into(), 1.0)]);
        let n: f32 = c.terms.iter().map(|e| e.1 * e.1).sum();
        assert!((n - 1.0).abs() < 1e-5);
        assert_eq!(c.size, 2);
    }

    #[test]
    fn labels_use_surface_forms() {
        let docs = vec![
            input(
                "1",
                "Subscriber database failover failed during the upgrade",
            ),
            input(
                "2",
                "The subscriber database upgrade failed and failover did not work",
            ),
            input("3", "A storm flooded the exchange building"),
            input("4", "Storm damage flooded our exchange building"),
        ];
        let c = cluster_all(
            &docs,
            &ClusterParams {
                threshold: 0.2,
                ..Default::default()
            },
        );
        let db = c
            .clusters
            .iter()
            .find(|c| c.members.contains(&"1".to_string()))
            .map(|c| c.label.clone());
        let label = db.unwrap_or_default();
        assert!(
            label.contains("subscriber")
                || label.contains("database")
                || label.contains("failover"),
            "{label}"
        );
    }
}
