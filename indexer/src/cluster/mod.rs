//! Clustering of incidents, as pure functions: the API stores assignments
//! and centroids in the database.
//!
//! Policy:
//! - A document is a sparse unit vector over its analysed terms (see
//!   [`text`]: stop words, numbers and identifier shapes such as host names,
//!   tickets and addresses never count), weighted `(1 + ln tf) * idf` and
//!   cut to its [`ClusterParams::max_terms`] strongest terms. Only terms of
//!   middling document frequency count: a term in fewer than
//!   [`ClusterParams::min_df_ratio`] of the documents (at least 2) says
//!   nothing about a group, and one in more than
//!   [`ClusterParams::max_df_ratio`] says nothing about any. Structured
//!   pseudo-terms (`trigger=...`, `network_domain=...`, `asset=...`) form a
//!   second block scaled by [`ClusterParams::field_weight`].
//! - Full clustering ([`cluster_all`], or [`ClusterBuilder`] to stream the
//!   reports in) finds the groups and their number from the data
//!   ([`Method::Buckshot`]): average-linkage agglomerative clustering of an
//!   evenly spread sample of [`ClusterParams::sample_size`] documents, cut
//!   where the sample's mean silhouette is highest, then spherical k-means
//!   over every document from those clusters' centroids. Nobody says how
//!   many clusters there are. Memory is linear in the documents (compact
//!   term ids and `f32` weights, bounded terms per document) plus the
//!   sample's `s * s` similarity matrix.
//! - Every document then goes to its most similar stored centroid (the
//!   truncated, named [`Centroid`] the caller persists), exactly as
//!   [`assign`] will place a new one, so incremental and full clustering
//!   agree. A document less similar to every centroid than
//!   [`Centroid::min_similarity`] resembles nothing and stays alone; that
//!   floor is the similarity that unrelated documents reach (the 99th
//!   percentile of the sample's similarities to other clusters' centroids).
//! - A label is the members' most distinctive words, each shown as the
//!   phrase the members write around it (see `cluster/label.rs`); never an
//!   identifier or a number.
//! - Labels may only be shown to a reader who may see every member they were
//!   computed from: [`Clustering::visible`] (and [`describe`] over the
//!   visible members) recompute members, labels and terms from the
//!   documents at the reader's TLP levels only.

mod label;
mod method;
pub mod synthetic;
pub mod text;
mod vectors;

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use tantivy::Term;

use crate::doc::{IndexDoc, Tlp, normalise_value};
use crate::index::IncidentIndex;
use crate::mapping::KeywordField;
use method::{Centroids, Rng};
use text::{Lexicon, TermCounter};
use vectors::{CountStore, Csr, idf, normalise, tf_weight};

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

/// How the groups are found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Sample dendrogram cut at its best silhouette, then k-means.
    #[default]
    Buckshot,
    /// k-means++ and k-means for a ladder of k, best sample silhouette.
    KMeans,
    /// Single-pass leader clustering at a similarity threshold, then
    /// reassignment passes (the method before; for comparison).
    Leader { threshold: f32 },
}

/// Tuning of clustering (defaults measured in `docs/clustering.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterParams {
    pub method: Method,
    /// Text terms kept per document (its strongest).
    pub max_terms: usize,
    /// Terms in fewer than this share of documents (and at least 2) are
    /// ignored.
    pub min_df_ratio: f32,
    /// Terms in more than this share of documents are ignored (from 20
    /// documents on).
    pub max_df_ratio: f32,
    /// Length of the structured block relative to the text block.
    pub field_weight: f32,
    /// Documents in the sample that decides the groups.
    pub sample_size: usize,
    /// k-means passes over all documents at most.
    pub max_iter: usize,
    /// Items (words or phrases) in a label.
    pub label_terms: usize,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            method: Method::Buckshot,
            max_terms: 128,
            min_df_ratio: 0.01,
            max_df_ratio: 0.5,
            field_weight: 0.5,
            sample_size: 2000,
            max_iter: 10,
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

impl TermStats {
    /// Counts the clustering terms of `inputs` (as [`cluster_all`] does).
    pub fn of(inputs: &[ClusterInput]) -> TermStats {
        let mut counter = TermCounter::default();
        let mut df: FxHashMap<u32, u64> = FxHashMap::default();
        let mut ids = Vec::new();
        let mut pseudo: HashMap<String, u64> = HashMap::new();
        for input in inputs {
            ids.clear();
            counter.terms(&input.text, &mut ids);
            ids.sort_unstable();
            ids.dedup();
            for &t in &ids {
                *df.entry(t).or_default() += 1;
            }
            for p in input.pseudo_terms() {
                *pseudo.entry(p).or_default() += 1;
            }
        }
        let mut out: HashMap<String, u64> = df
            .into_iter()
            .map(|(t, n)| (counter.lexicon.term(t).to_string(), n))
            .collect();
        out.extend(pseudo);
        TermStats {
            num_docs: inputs.len() as u64,
            df: out,
        }
    }
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

/// A stored cluster's centroid: L2-normalised, strongest terms only
/// (analysed terms and `field=value` pseudo-terms, at most
/// [`CENTROID_TERMS`]), and the similarity below which a document does not
/// join it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Centroid {
    pub terms: Vec<(String, f32)>,
    pub size: usize,
    /// Floor for joining (0 for centroids stored before it existed, which
    /// then accept any document with a shared term).
    #[serde(default)]
    pub min_similarity: f32,
}

/// Terms kept in a stored centroid.
pub const CENTROID_TERMS: usize = 200;

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
    /// Document frequencies of the clustered documents (for [`assign`]
    /// right after, before the index has them).
    pub stats: TermStats,
    /// Sizes and where the time went, for logs and benchmarks.
    pub diagnostics: Diagnostics,
    /// Each document's vector terms (weights dropped after clustering).
    vectors: Csr,
    tlps: Vec<Option<Tlp>>,
    ids: Vec<String>,
    lexicon: Lexicon,
    /// Share of documents whose vector holds each term (label background).
    vector_df: Vec<f32>,
    texts: Vec<(usize, String)>,
    label_terms: usize,
}

/// Sizes and seconds of each phase of a full clustering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Diagnostics {
    pub documents: usize,
    /// Distinct terms read.
    pub terms: usize,
    /// `(term, count)` entries held while reading.
    pub count_entries: usize,
    /// Terms that are a dimension of some vector.
    pub dims: usize,
    /// Non-zero entries of all vectors.
    pub vector_entries: usize,
    /// The joining floor found (see [`Centroid::min_similarity`]).
    pub min_similarity: f32,
    /// Analysis (in [`ClusterBuilder::extend`], both threads' wall time).
    pub analyse_secs: f64,
    pub vectors_secs: f64,
    pub cluster_secs: f64,
    pub labels_secs: f64,
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
                let (label, top_terms) = self.label_of(&m);
                ClusterView {
                    cluster: c,
                    members: m.iter().map(|&i| self.ids[i].clone()).collect(),
                    label,
                    top_terms,
                }
            })
            .collect()
    }

    /// The terms (dimensions) of document `i`'s vector.
    fn terms_of(&self, i: usize) -> &[u32] {
        &self.vectors.idx[self.vectors.indptr[i]..self.vectors.indptr[i + 1]]
    }

    fn label_of(&self, members: &[usize]) -> (String, Vec<String>) {
        let terms: Vec<&[u32]> = members.iter().map(|&i| self.terms_of(i)).collect();
        let top = label::distinctive(
            &terms,
            |t| self.vector_df[t as usize],
            |t| self.lexicon.term(t).contains('='),
        );
        let texts: Vec<&str> = members
            .iter()
            .filter_map(|i| {
                self.texts
                    .binary_search_by_key(i, |e| e.0)
                    .ok()
                    .map(|k| self.texts[k].1.as_str())
            })
            .collect();
        let named = label::name(&top, &self.lexicon);
        let (mut label, top_terms) =
            with_counter(|c| label::compose(&named, &texts, self.label_terms, c));
        let shared = shared_fields(&terms, &self.lexicon);
        if !shared.is_empty() {
            label = format!("{label} ({})", shared.join(", "));
        }
        (label, top_terms)
    }
}

/// Structured values (`trigger=fibre_cut` -> `fibre cut`) that at least 60%
/// of two or more members share, two at most.
fn shared_fields(terms: &[&[u32]], lexicon: &Lexicon) -> Vec<String> {
    if terms.len() < 2 {
        return Vec::new();
    }
    let mut count: FxHashMap<u32, usize> = FxHashMap::default();
    for ts in terms {
        for &t in *ts {
            if lexicon.term(t).contains('=') {
                *count.entry(t).or_default() += 1;
            }
        }
    }
    let mut shared: Vec<(u32, usize)> = count
        .into_iter()
        .filter(|&(_, n)| n as f32 >= 0.6 * terms.len() as f32)
        .collect();
    shared.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    shared
        .into_iter()
        .take(2)
        .filter_map(|(t, _)| {
            lexicon
                .term(t)
                .split_once('=')
                .map(|(_, v)| v.replace('_', " "))
        })
        .collect()
}

/// The weighted vector of one document: `terms` are `(term id, tf)` of its
/// text, `pseudo` its pseudo-term ids; `df` gives document frequencies.
fn weigh(
    terms: impl Iterator<Item = (u32, u32)>,
    pseudo: &[u32],
    n: u64,
    df: impl Fn(u32) -> u64,
    params: &ClusterParams,
) -> Vec<(u32, f32)> {
    let (min_df, max_df) = df_band(n, params);
    let mut text: Vec<(u32, f32)> = terms
        .filter_map(|(t, tf)| {
            let d = df(t);
            (d >= min_df && d <= max_df).then(|| (t, tf_weight(tf) * idf(n, d)))
        })
        .collect();
    text.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    text.truncate(params.max_terms);
    normalise(&mut text, 1.0);
    let mut fields: Vec<(u32, f32)> = pseudo.iter().map(|&p| (p, idf(n, df(p).max(1)))).collect();
    normalise(&mut fields, params.field_weight);
    let mut v = text;
    v.extend(fields);
    normalise(&mut v, 1.0);
    v.sort_by_key(|e| e.0);
    v
}

/// Inclusive document-frequency band of the terms that count.
fn df_band(n: u64, params: &ClusterParams) -> (u64, u64) {
    let min_df = ((params.min_df_ratio * n as f32).ceil() as u64).max(2);
    let max_df = if n >= 20 {
        (params.max_df_ratio * n as f32) as u64
    } else {
        u64::MAX
    };
    (min_df, max_df)
}

/// Streams reports into a full clustering, so the caller never holds
/// every text at once: memory grows by about five bytes per distinct term
/// of each report read (term ids and counts), not by its text.
#[derive(Debug)]
pub struct ClusterBuilder {
    params: ClusterParams,
    workers: Vec<TermCounter>,
    remaps: Vec<Vec<u32>>,
    lexicon: Lexicon,
    counts: CountStore,
    pseudo: Vec<Vec<u32>>,
    df: Vec<u32>,
    ids: Vec<String>,
    tlps: Vec<Option<Tlp>>,
    texts: Vec<(usize, String)>,
    rng: Rng,
    analyse_secs: f64,
}

/// Texts kept (a uniform reservoir sample) for the phrases of labels.
const TEXT_SAMPLE: usize = 4000;
/// Reports analysed per worker thread in one step of [`ClusterBuilder::extend`].
const BATCH: usize = 512;

impl ClusterBuilder {
    pub fn new(params: ClusterParams) -> Self {
        ClusterBuilder {
            params,
            workers: vec![TermCounter::default(), TermCounter::default()],
            remaps: vec![Vec::new(), Vec::new()],
            lexicon: Lexicon::default(),
            counts: CountStore::new(),
            pseudo: Vec::new(),
            df: Vec::new(),
            ids: Vec::new(),
            tlps: Vec::new(),
            texts: Vec::new(),
            rng: Rng(0x1ced),
            analyse_secs: 0.0,
        }
    }

    /// Reports read so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds one report (prefer [`ClusterBuilder::extend`] with batches:
    /// it analyses on two threads).
    pub fn add(&mut self, input: &ClusterInput) {
        self.extend(std::slice::from_ref(input));
    }

    /// Adds reports, in order (pass them oldest first).
    pub fn extend(&mut self, inputs: &[ClusterInput]) {
        let t0 = std::time::Instant::now();
        for batch in inputs.chunks(BATCH * self.workers.len()) {
            let analysed: Vec<Vec<Vec<u32>>> = if batch.len() < 64 {
                vec![analyse_batch(&mut self.workers[0], batch)]
            } else {
                let half = batch.len().div_ceil(2);
                let (w0, w1) = self.workers.split_at_mut(1);
                std::thread::scope(|s| {
                    let h = s.spawn(|| analyse_batch(&mut w1[0], &batch[half..]));
                    let a = analyse_batch(&mut w0[0], &batch[..half]);
                    // A panic in the worker is a bug in the analyser.
                    let b = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                    vec![a, b]
                })
            };
            let mut inputs = batch.iter();
            for (w, docs) in analysed.into_iter().enumerate() {
                self.sync_lexicon(w);
                for mut terms in docs {
                    let Some(input) = inputs.next() else { break };
                    let remap = &self.remaps[w];
                    for t in terms.iter_mut() {
                        *t = remap[*t as usize];
                    }
                    self.push(input, &mut terms);
                }
            }
        }
        self.analyse_secs += t0.elapsed().as_secs_f64();
    }

    /// Maps worker `w`'s new local term ids to global ones.
    fn sync_lexicon(&mut self, w: usize) {
        let local = &self.workers[w].lexicon;
        let remap = &mut self.remaps[w];
        for id in remap.len()..local.len() {
            let id = id as u32;
            remap.push(self.lexicon.intern(local.term(id), local.surface(id)));
        }
    }

    fn push(&mut self, input: &ClusterInput, terms: &mut [u32]) {
        let doc = self.ids.len();
        self.counts.push(terms);
        let pseudo: Vec<u32> = input
            .pseudo_terms()
            .iter()
            .map(|p| self.lexicon.intern(p, p))
            .collect();
        if self.df.len() < self.lexicon.len() {
            self.df.resize(self.lexicon.len(), 0);
        }
        for (t, _) in self.counts.doc(doc) {
            self.df[t as usize] += 1;
        }
        for &p in &pseudo {
            self.df[p as usize] += 1;
        }
        self.pseudo.push(pseudo);
        self.ids.push(input.id.clone());
        self.tlps.push(input.tlp);
        // Reservoir sample of texts (algorithm R, seeded: reproducible).
        if self.texts.len() < TEXT_SAMPLE {
            self.texts.push((doc, input.text.clone()));
        } else {
            let j = (self.rng.next_u64() % (doc as u64 + 1)) as usize;
            if j < TEXT_SAMPLE {
                self.texts[j] = (doc, input.text.clone());
            }
        }
    }

    /// Clusters everything read.
    pub fn finish(self) -> Clustering {
        let ClusterBuilder {
            params,
            workers,
            lexicon,
            mut counts,
            pseudo,
            df,
            ids,
            tlps,
            mut texts,
            analyse_secs,
            ..
        } = self;
        drop(workers);
        let t0 = std::time::Instant::now();
        let n = ids.len() as u64;
        let mut diag = Diagnostics {
            documents: ids.len(),
            terms: lexicon.len(),
            count_entries: counts.entries(),
            ..Default::default()
        };
        let df_of = |t: u32| u64::from(df[t as usize]);
        // Exact sizes first, so the vectors are allocated once.
        let (min_df, max_df) = df_band(n, &params);
        let nnz: usize = (0..counts.docs())
            .map(|i| {
                let band = counts
                    .doc(i)
                    .filter(|&(t, _)| (min_df..=max_df).contains(&df_of(t)))
                    .count();
                band.min(params.max_terms) + pseudo[i].len()
            })
            .sum();
        let mut vectors = Csr {
            indptr: Vec::with_capacity(counts.docs() + 1),
            idx: Vec::with_capacity(nnz),
            val: Vec::with_capacity(nnz),
        };
        vectors.indptr.push(0);
        for (i, p) in pseudo.iter().enumerate() {
            let v = weigh(counts.doc(i), p, n, df_of, &params);
            vectors.push_row(&v);
            if i % 1024 == 0 {
                counts.free_before(i);
            }
        }
        drop(counts);
        drop(pseudo);
        // Only terms that made it into a vector are dimensions; the rest
        // of the lexicon goes.
        let mut dim_of: Vec<u32> = vec![u32::MAX; lexicon.len()];
        let mut small = Lexicon::default();
        let mut dim_df: Vec<u32> = Vec::new();
        for t in vectors.idx.iter_mut() {
            let d = &mut dim_of[*t as usize];
            if *d == u32::MAX {
                *d = small.intern(lexicon.term(*t), lexicon.surface(*t));
                dim_df.push(df[*t as usize]);
            }
            *t = *d;
        }
        let mut stats_df: HashMap<String, u64> = HashMap::new();
        for (t, &d) in df.iter().enumerate() {
            if d >= 2 {
                stats_df.insert(lexicon.term(t as u32).to_string(), u64::from(d));
            }
        }
        drop(dim_of);
        drop(lexicon);
        drop(df);
        let lexicon = small;
        let dims = lexicon.len();
        diag.dims = dims;
        diag.vector_entries = vectors.idx.len();
        let t1 = std::time::Instant::now();
        let mut assignments = match params.method {
            Method::Buckshot => {
                method::buckshot(&vectors, dims, params.sample_size, params.max_iter)
            }
            Method::KMeans => method::kmeans_silhouette(
                &vectors,
                dims,
                params.sample_size,
                KMEANS_MAX_K,
                params.max_iter,
            ),
            Method::Leader { threshold } => {
                method::leader(&vectors, dims, threshold, params.max_iter)
            }
        };
        let (centroids, floor) = stored_centroids(&vectors, &assignments, dims);
        // The final placement is the incremental one, on the stored
        // (truncated) centroids and their floors: what `assign` would do.
        // A report that reaches no floor stays alone.
        let k = centroids.k;
        let mut buf = Vec::new();
        let mut extra = k;
        for (i, a) in assignments.iter_mut().enumerate() {
            let (c, s) = centroids.best(vectors.row(i), &mut buf);
            if k > 0 && s > 0.0 && s >= floor {
                *a = c;
            } else {
                *a = extra;
                extra += 1;
            }
        }
        // Renumber in order of first member, remembering each cluster's
        // stored centroid (or, for a report alone, its own vector).
        let mut new_of: FxHashMap<usize, usize> = FxHashMap::default();
        let mut origin: Vec<usize> = Vec::new();
        for a in assignments.iter_mut() {
            let next = new_of.len();
            let j = *new_of.entry(*a).or_insert_with(|| {
                origin.push(*a);
                next
            });
            *a = j;
        }
        let t2 = std::time::Instant::now();
        let n_clusters = origin.len();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_clusters];
        for (i, c) in assignments.iter().enumerate() {
            members[*c].push(i);
        }
        let stored: Vec<Centroid> = origin
            .iter()
            .zip(&members)
            .map(|(&o, m)| {
                if o < k {
                    named_centroid(&centroids, o, m.len(), floor, &lexicon)
                } else {
                    let (idx, val) = vectors.row(m[0]);
                    let mut terms: Vec<(u32, f32)> =
                        idx.iter().copied().zip(val.iter().copied()).collect();
                    terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    Centroid {
                        terms: terms
                            .into_iter()
                            .map(|(t, w)| (lexicon.term(t).to_string(), w))
                            .collect(),
                        size: 1,
                        min_similarity: floor,
                    }
                }
            })
            .collect();
        let mut vector_df = vec![0f32; dims];
        for &t in &vectors.idx {
            vector_df[t as usize] += 1.0;
        }
        for x in &mut vector_df {
            *x /= n.max(1) as f32;
        }
        texts.sort_by_key(|e| e.0);
        // Labels need only which terms each document has.
        vectors.val = Vec::new();
        let mut clustering = Clustering {
            clusters: Vec::new(),
            assignments,
            stats: TermStats {
                num_docs: n,
                df: stats_df,
            },
            diagnostics: Diagnostics::default(),
            vectors,
            tlps,
            ids,
            lexicon,
            vector_df,
            texts,
            label_terms: params.label_terms,
        };
        let clusters = members
            .iter()
            .zip(stored)
            .map(|(m, centroid)| {
                let (label, top_terms) = clustering.label_of(m);
                Cluster {
                    members: m.iter().map(|&i| clustering.ids[i].clone()).collect(),
                    label,
                    top_terms,
                    centroid,
                }
            })
            .collect();
        clustering.clusters = clusters;
        diag.min_similarity = floor;
        diag.analyse_secs = analyse_secs;
        diag.vectors_secs = (t1 - t0).as_secs_f64();
        diag.cluster_secs = (t2 - t1).as_secs_f64();
        diag.labels_secs = t2.elapsed().as_secs_f64();
        clustering.diagnostics = diag;
        clustering
    }
}

/// Largest k tried by [`Method::KMeans`].
const KMEANS_MAX_K: usize = 64;

fn analyse_batch(counter: &mut TermCounter, batch: &[ClusterInput]) -> Vec<Vec<u32>> {
    batch
        .iter()
        .map(|input| {
            let mut ids = Vec::new();
            counter.terms(&input.text, &mut ids);
            ids
        })
        .collect()
}

/// Centroids truncated to their [`CENTROID_TERMS`] strongest terms (what
/// the caller stores), and the joining floor: the 99th percentile of the
/// similarities of sampled reports to the centroids of clusters other than
/// their own, i.e. what unrelated reports reach. (A floor per cluster,
/// from the reports outside it, was measured too: at 100k it left more
/// reports alone and let more reports of an unseen kind join.)
fn stored_centroids(v: &Csr, assign: &[usize], dims: usize) -> (Centroids, f32) {
    let k = assign.iter().max().map_or(0, |m| m + 1);
    let mut cents = Centroids::of(v, assign, k, dims);
    truncate_centroids(&mut cents, dims);
    let sample = method::spread_sample(v.rows(), FLOOR_SAMPLE);
    let mut foreign: Vec<f32> = Vec::new();
    let mut buf = vec![0f32; k];
    for &i in &sample {
        cents.scores(v.row(i), &mut buf);
        for (c, &s) in buf.iter().enumerate() {
            if c != assign[i] {
                foreign.push(s);
            }
        }
    }
    if foreign.is_empty() {
        return (cents, 0.0);
    }
    foreign.sort_by(f32::total_cmp);
    let floor = foreign[((foreign.len() - 1) as f32 * 0.99) as usize];
    (cents, floor)
}

/// Reports sampled for the floors.
const FLOOR_SAMPLE: usize = 2000;

fn truncate_centroids(cents: &mut Centroids, dims: usize) {
    let k = cents.k;
    for c in 0..k {
        let mut col: Vec<(usize, f32)> = (0..dims)
            .map(|t| (t, cents.w[t * k + c]))
            .filter(|e| e.1 > 0.0)
            .collect();
        if col.len() > CENTROID_TERMS {
            col.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for &(t, _) in &col[CENTROID_TERMS..] {
                cents.w[t * k + c] = 0.0;
            }
            col.truncate(CENTROID_TERMS);
        }
        let norm = col.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
        if norm > 0.0 {
            for &(t, _) in &col {
                cents.w[t * k + c] /= norm;
            }
        }
    }
}

fn named_centroid(cents: &Centroids, c: usize, size: usize, floor: f32, lex: &Lexicon) -> Centroid {
    let k = cents.k;
    let mut terms: Vec<(u32, f32)> = (0..cents.w.len() / k.max(1))
        .map(|t| (t as u32, cents.w[t * k + c]))
        .filter(|e| e.1 > 0.0)
        .collect();
    terms.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    terms.truncate(CENTROID_TERMS);
    normalise(&mut terms, 1.0);
    Centroid {
        terms: terms
            .into_iter()
            .map(|(t, w)| (lex.term(t).to_string(), w))
            .collect(),
        size,
        min_similarity: floor,
    }
}

/// Clusters all inputs (the periodic full re-clustering); see
/// [`ClusterBuilder`] to stream them instead.
pub fn cluster_all(inputs: &[ClusterInput], params: &ClusterParams) -> Clustering {
    let mut b = ClusterBuilder::new(*params);
    b.extend(inputs);
    b.finish()
}

/// Decides where a new document goes among stored clusters: the most
/// similar centroid if the similarity reaches its `min_similarity`, else a
/// new cluster. `stats` gives document frequencies (the live index, or the
/// [`TermStats`] of the last full clustering).
pub fn assign(
    new: &ClusterInput,
    clusters: &[Centroid],
    stats: &dyn DocFreqs,
    params: &ClusterParams,
) -> Assignment {
    let v = vectorize(new, stats, params);
    let weights: FxHashMap<&str, f32> = v.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    let mut best: Option<(usize, f32)> = None;
    for (i, c) in clusters.iter().enumerate() {
        let s: f32 = c
            .terms
            .iter()
            .map(|(t, w)| w * weights.get(t.as_str()).copied().unwrap_or(0.0))
            .sum();
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    match best {
        Some((cluster, similarity))
            if similarity > 0.0 && similarity >= clusters[cluster].min_similarity =>
        {
            Assignment::Join {
                cluster,
                similarity,
            }
        }
        _ => Assignment::New,
    }
}

/// The named vector of one document (for [`assign`] and [`Centroid::absorb`]).
pub fn vectorize(
    input: &ClusterInput,
    stats: &dyn DocFreqs,
    params: &ClusterParams,
) -> Vec<(String, f32)> {
    with_counter(|counter| {
        let mut ids = Vec::new();
        counter.terms(&input.text, &mut ids);
        let mut counts = CountStore::new();
        counts.push(&mut ids);
        let pseudo: Vec<u32> = input
            .pseudo_terms()
            .iter()
            .map(|p| counter.lexicon.intern(p, p))
            .collect();
        let lex = &counter.lexicon;
        let v = weigh(
            counts.doc(0),
            &pseudo,
            stats.num_docs(),
            |t| stats.doc_freq(lex.term(t)),
            params,
        );
        v.into_iter()
            .map(|(t, w)| (lex.term(t).to_string(), w))
            .collect()
    })
}

thread_local! {
    /// Memoised analysis for [`vectorize`] and [`describe`]: the registry
    /// places reports one by one, and words repeat across reports.
    static COUNTER: std::cell::RefCell<TermCounter> = std::cell::RefCell::new(TermCounter::default());
}

/// Terms a thread's memo may hold before it starts afresh.
const COUNTER_TERMS: usize = 1 << 20;

fn with_counter<R>(f: impl FnOnce(&mut TermCounter) -> R) -> R {
    COUNTER.with(|c| {
        let mut c = c.borrow_mut();
        if c.lexicon.len() > COUNTER_TERMS {
            *c = TermCounter::default();
        }
        f(&mut c)
    })
}

impl Centroid {
    /// The centroid of a cluster that [`assign`] said to start, before its
    /// first member is absorbed. Give it the `min_similarity` of the stored
    /// centroids (all clusters of one full clustering share it).
    pub fn empty(min_similarity: f32) -> Centroid {
        Centroid {
            terms: Vec::new(),
            size: 0,
            min_similarity,
        }
    }

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

/// Label and top terms for a stored cluster, from the members the reader may
/// see (pass only those; the first 120 are read for
/// phrases).
pub fn describe(
    visible_members: &[ClusterInput],
    stats: &dyn DocFreqs,
    params: &ClusterParams,
) -> (String, Vec<String>) {
    with_counter(|counter| describe_with(counter, visible_members, stats, params))
}

fn describe_with(
    counter: &mut TermCounter,
    visible_members: &[ClusterInput],
    stats: &dyn DocFreqs,
    params: &ClusterParams,
) -> (String, Vec<String>) {
    let mut sets: Vec<Vec<u32>> = Vec::with_capacity(visible_members.len());
    for inp in visible_members {
        let mut ids = Vec::new();
        counter.terms(&inp.text, &mut ids);
        for p in inp.pseudo_terms() {
            ids.push(counter.lexicon.intern(&p, &p));
        }
        ids.sort_unstable();
        ids.dedup();
        sets.push(ids);
    }
    let lex = &counter.lexicon;
    let n = stats.num_docs().max(1) as f32;
    let terms: Vec<&[u32]> = sets.iter().map(Vec::as_slice).collect();
    let top = label::distinctive(
        &terms,
        |t| stats.doc_freq(lex.term(t)).max(1) as f32 / n,
        |t| lex.term(t).contains('='),
    );
    let named = label::name(&top, lex);
    let shared = shared_fields(&terms, lex);
    let texts: Vec<&str> = visible_members.iter().map(|m| m.text.as_str()).collect();
    let (mut label, top_terms) = label::compose(&named, &texts, params.label_terms, counter);
    if !shared.is_empty() {
        label = format!("{label} ({})", shared.join(", "));
    }
    (label, top_terms)
}

/// Clusters unit sparse vectors (sorted by term id, ids below `dims`) with
/// `params.method`; returns the cluster of each vector, numbered densely in
/// order of first member. Exposed for the evaluation's baseline.
pub fn cluster_vectors(vectors: &[Vec<(u32, f32)>], params: &ClusterParams) -> Vec<usize> {
    let mut csr = Csr::new();
    let mut dims = 0usize;
    for v in vectors {
        csr.push_row(v);
        dims = dims.max(v.iter().map(|e| e.0 as usize + 1).max().unwrap_or(0));
    }
    let mut a = match params.method {
        Method::Buckshot => method::buckshot(&csr, dims, params.sample_size, params.max_iter),
        Method::KMeans => method::kmeans_silhouette(
            &csr,
            dims,
            params.sample_size,
            KMEANS_MAX_K,
            params.max_iter,
        ),
        Method::Leader { threshold } => method::leader(&csr, dims, threshold, params.max_iter),
    };
    method::dense_labels(&mut a);
    a
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
        let got = cluster_vectors(
            &[a.clone(), b.clone(), a.clone(), b.clone(), a, b],
            &ClusterParams::default(),
        );
        assert_eq!(got, vec![0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn centroid_absorb_keeps_unit_length() {
        let mut c = Centroid {
            terms: vec![("a".into(), 1.0)],
            size: 1,
            min_similarity: 0.1,
        };
        c.absorb(&[("b".into(), 1.0)]);
        let n: f32 = c.terms.iter().map(|e| e.1 * e.1).sum();
        assert!((n - 1.0).abs() < 1e-5);
        assert_eq!(c.size, 2);
    }

    #[test]
    fn stored_centroids_without_a_floor_still_load() {
        let c: Centroid = serde_json::from_str(r#"{"terms":[["fibr",1.0]],"size":3}"#).unwrap();
        assert_eq!(c.min_similarity, 0.0);
    }

    #[test]
    fn labels_use_surface_forms_and_phrases() {
        let docs = vec![
            input(
                "1",
                "Subscriber database failover failed during the upgrade",
            ),
            input(
                "2",
                "The subscriber database upgrade failed and failover did not work",
            ),
            input(
                "5",
                "Subscriber database failover failed; upgrade rolled back",
            ),
            input("3", "A storm flooded the exchange building"),
            input("4", "Storm damage flooded our exchange building"),
            input("6", "The storm flooded an exchange building"),
        ];
        let c = cluster_all(&docs, &ClusterParams::default());
        let label = c
            .clusters
            .iter()
            .find(|c| c.members.contains(&"1".to_string()))
            .map(|c| c.label.clone())
            .unwrap_or_default();
        assert!(label.contains("subscriber database"), "{label}");
        assert_ne!(c.assignments[0], c.assignments[3]);
    }
}
