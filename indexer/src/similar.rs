//! Similar incidents: for a stored report, or for free text plus structured
//! fields that are not stored ("we see these symptoms: has anyone had
//! this?").
//!
//! Policy:
//! - Text similarity is a more-like-this query: the probe's analysed terms,
//!   minus stop words, terms found in no other document and terms in more
//!   than [`SimilarityParams::max_df_ratio`] of documents; the strongest
//!   [`SimilarityParams::max_terms`] by `(1 + ln tf) * idf` are kept and run
//!   as a BM25 disjunction over the `all` field, each boosted by
//!   `1 + ln tf` (BM25 supplies the idf; boosting by idf as well
//!   over-weights rare names and scored worse on the corpora).
//! - Candidates come from that query plus the probe's structured values (so
//!   a report with the same trigger and asset but different wording still
//!   gets a chance); they are re-ranked by a weighted sum of the
//!   candidates' text score and their agreement on structured fields
//!   (trigger, root cause, domain, assets, services, operator type).
//! - The text score blends the more-like-this score (normalised to the best
//!   candidate) with the cosine similarity of the summaries
//!   ([`SimilarityParams::summary_weight`]): a summary states in a few words
//!   what happened, while the long free text also carries names, timelines
//!   and remediation that make unrelated incidents look alike. The vectors
//!   are analysed terms weighted `(1 + ln tf) * idf`, L2-normalised. A
//!   free-text probe compares its text with the candidates' summaries. To
//!   bound the work, only the best [`SimilarityParams::summary_rerank`]
//!   candidates of the first ranking (more-like-this and fields) are
//!   compared and re-ranked, on the first [`SUMMARY_CHARS`] characters of
//!   each summary.
//! - Each hit says why it matched: its strongest shared terms (as written in
//!   the probe), the terms its summary shares with the probe's, and every
//!   structured field it agrees on.
//! - Only documents at the reader's TLP levels are candidates; a stored
//!   probe the reader may not see is [`IndexError::NotFound`]. The probe
//!   itself is never a hit.
//! - Cost: the `all` field's document frequencies (hundreds per probe) come
//!   from per-segment caches beside the segment tables, also for the BM25
//!   statistics of the two queries; the candidates' text-only scores are
//!   asked for by document address. The answers are those of the plain
//!   lookups (the golden test pins them).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::index::SegmentId;
use tantivy::query::{
    Bm25StatisticsProvider, BooleanQuery, BoostQuery, ConstScoreQuery, ConstScorer, EnableScoring,
    Explanation, Occur, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{
    DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED, TantivyDocument, Term,
};

use crate::analysis::{Mode, for_each_token, is_vector_term, term_counts};
use crate::doc::{IndexDoc, Tlp, normalise_value};
use crate::error::{IndexError, Result};
use crate::index::IncidentIndex;
use crate::mapping::KeywordField;
use crate::search::{PageCollector, SegmentTable, visibility_mask};

/// Hash maps of short-lived, per-request term tables (their iteration
/// order never decides a result: sums and rankings sort first).
type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;

/// Largest `k` accepted.
pub const MAX_SIMILAR: usize = 100;

/// Characters compared from the start of each summary (and of a free-text
/// probe standing in for one): enough for any real summary, and a bound on
/// the per-query work (summaries may hold 10,000 characters).
pub const SUMMARY_CHARS: usize = 1_000;

/// A probe that is not stored: free text plus optional structured fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimilarQuery {
    pub text: String,
    pub services: Vec<String>,
    pub network_domain: Option<String>,
    pub other_domains: Vec<String>,
    pub assets: Vec<String>,
    pub trigger: Option<String>,
    pub root_cause_category: Option<String>,
    pub operator_type: Option<String>,
    /// The probe's summary, compared with the candidates' summaries. `None`
    /// (a free-text probe) compares `text` instead: a description typed to
    /// find similar incidents is itself a summary. A stored report without
    /// a summary (`Some("")`) takes no part in that comparison: its long
    /// text is not one.
    pub summary: Option<String>,
}

impl SimilarQuery {
    /// The probe a stored document makes: all its text and its structured
    /// fields.
    pub fn from_doc(doc: &IndexDoc) -> Self {
        SimilarQuery {
            text: doc.full_text(),
            services: doc.services.clone(),
            network_domain: doc.network_domain.clone(),
            other_domains: doc.other_domains.clone(),
            assets: doc.assets.clone(),
            trigger: doc.trigger.clone(),
            root_cause_category: doc.root_cause_category.clone(),
            operator_type: doc.operator_type.clone(),
            summary: Some(doc.summary.clone()),
        }
    }

    /// The text compared with the candidates' summaries.
    fn summary_text(&self) -> &str {
        self.summary.as_deref().unwrap_or(&self.text)
    }
}

/// Weights of structured-field agreement (relative to each other).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FieldWeights {
    pub trigger: f32,
    pub root_cause_category: f32,
    pub network_domain: f32,
    pub assets: f32,
    pub domains: f32,
    pub services: f32,
    pub operator_type: f32,
}

impl Default for FieldWeights {
    fn default() -> Self {
        FieldWeights {
            trigger: 1.0,
            root_cause_category: 1.0,
            network_domain: 0.6,
            assets: 0.8,
            domains: 0.3,
            services: 0.3,
            operator_type: 0.2,
        }
    }
}

/// Tuning of similar-incident search (defaults tuned on the development
/// corpora, see `docs/indexer.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimilarityParams {
    /// Terms kept from the probe.
    pub max_terms: usize,
    /// Terms found in more than this share of documents are ignored.
    pub max_df_ratio: f32,
    /// Candidates re-ranked (at least `k`).
    pub candidates: usize,
    /// Share of the final score given to text (the rest to fields).
    pub text_weight: f32,
    /// Share of the text score given to summary-to-summary cosine
    /// similarity (the rest to the more-like-this score).
    pub summary_weight: f32,
    /// Candidates (the best by more-like-this and fields, at least `k`)
    /// whose summaries are compared and re-ranked; bounds that work.
    pub summary_rerank: usize,
    /// Boost each probe term by `(1 + ln tf) * idf` (true) or by
    /// `1 + ln tf` only, leaving idf to BM25 (false).
    pub idf_boost: bool,
    pub fields: FieldWeights,
}

impl Default for SimilarityParams {
    fn default() -> Self {
        SimilarityParams {
            max_terms: 60,
            max_df_ratio: 0.5,
            candidates: 60,
            text_weight: 0.5,
            summary_weight: 0.25,
            summary_rerank: 20,
            idf_boost: false,
            fields: FieldWeights::default(),
        }
    }
}

/// One similar incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarHit {
    pub id: String,
    pub title: String,
    /// Combined score in `[0, 1]`.
    pub score: f32,
    /// Text part (more-like-this score normalised to the best candidate,
    /// blended with summary similarity) and field part, each in `[0, 1]`.
    pub text_score: f32,
    pub field_score: f32,
    pub reasons: Vec<String>,
}

/// A selected probe term.
#[derive(Debug, Clone)]
struct ProbeTerm {
    term: String,
    surface: String,
    weight: f32,
}

impl IncidentIndex {
    /// Incidents similar to the stored document `id`, excluding itself.
    pub fn similar_to(&self, id: &str, k: usize, visibility: &[Tlp]) -> Result<Vec<SimilarHit>> {
        self.similar_to_with(id, k, visibility, &SimilarityParams::default())
    }

    pub fn similar_to_with(
        &self,
        id: &str,
        k: usize,
        visibility: &[Tlp],
        params: &SimilarityParams,
    ) -> Result<Vec<SimilarHit>> {
        let searcher = self.searcher();
        let (addr, doc) = self
            .find(&searcher, id, visibility)?
            .ok_or_else(|| IndexError::NotFound(id.to_string()))?;
        self.similar_impl(
            &searcher,
            &SimilarQuery::from_doc(&doc),
            Some(addr),
            k,
            visibility,
            params,
            2,
        )
    }

    /// Incidents similar to a probe that is not stored.
    pub fn similar_to_text(
        &self,
        probe: &SimilarQuery,
        k: usize,
        visibility: &[Tlp],
    ) -> Result<Vec<SimilarHit>> {
        self.similar_to_text_with(probe, k, visibility, &SimilarityParams::default())
    }

    pub fn similar_to_text_with(
        &self,
        probe: &SimilarQuery,
        k: usize,
        visibility: &[Tlp],
        params: &SimilarityParams,
    ) -> Result<Vec<SimilarHit>> {
        let searcher = self.searcher();
        self.similar_impl(&searcher, probe, None, k, visibility, params, 1)
    }

    #[allow(clippy::too_many_arguments)]
    fn similar_impl(
        &self,
        searcher: &Searcher,
        probe: &SimilarQuery,
        exclude: Option<DocAddress>,
        k: usize,
        visibility: &[Tlp],
        params: &SimilarityParams,
        min_df: u64,
    ) -> Result<Vec<SimilarHit>> {
        if k == 0 || k > MAX_SIMILAR {
            return Err(IndexError::InvalidRequest(format!(
                "k must be between 1 and {MAX_SIMILAR}"
            )));
        }
        let f = self.fields();
        let stats = DocFreqCache::new(self, searcher)?;
        let terms = self.select_terms(&stats, &probe.text, min_df, params)?;
        let text_clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let q = TermQuery::new(
                    Term::from_field_text(f.all, &t.term),
                    IndexRecordOption::WithFreqs,
                );
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), t.weight)) as Box<dyn Query>,
                )
            })
            .collect();
        let mean_weight = if terms.is_empty() {
            1.0
        } else {
            terms.iter().map(|t| t.weight).sum::<f32>() / terms.len() as f32
        };
        let mut any_clauses: Vec<(Occur, Box<dyn Query>)> = text_clauses
            .iter()
            .map(|(o, q)| (*o, q.box_clone()))
            .collect();
        for (kf, values, w) in structured_probe(probe, &params.fields) {
            for v in values {
                let q = TermQuery::new(
                    Term::from_field_text(self.keyword_field(kf), &v),
                    IndexRecordOption::Basic,
                );
                any_clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), w * mean_weight)),
                ));
            }
        }
        if any_clauses.is_empty() {
            return Ok(Vec::new());
        }
        // Candidates: the union alone, visibility and the probe itself left
        // out as the documents are collected (the scores are the union's,
        // as when those were zero-scored clauses of an intersection).
        let n_candidates = params.candidates.max(k);
        let collector = PageCollector::new(
            TopDocs::with_limit(n_candidates).order_by_score(),
            visibility_mask(visibility),
            false,
            self.segment_tables(),
        )
        .excluding(exclude);
        let (candidates, _, _) = searcher.search_with_statistics_provider(
            &BooleanQuery::new(any_clauses),
            &collector,
            &stats,
        )?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut docs: Vec<(DocAddress, IndexDoc)> = Vec::with_capacity(candidates.len());
        for (_, addr) in &candidates {
            let d: TantivyDocument = searcher.doc(*addr)?;
            docs.push((*addr, f.from_document(&d)));
        }
        // Text-only scores of the candidates (visible, and not the probe).
        let mut text_scores: HashMap<DocAddress, f32> = HashMap::new();
        if !text_clauses.is_empty() {
            let ids = AddressQuery::new(searcher, docs.iter().map(|(a, _)| *a));
            let q = BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(text_clauses)) as Box<dyn Query>,
                ),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(Box::new(ids), 0.0)),
                ),
            ]);
            for (s, a) in searcher.search_with_statistics_provider(
                &q,
                &TopDocs::with_limit(docs.len()).order_by_score(),
                &stats,
            )? {
                text_scores.insert(a, s);
            }
        }
        let max_text = text_scores.values().copied().fold(0.0f32, f32::max);
        let weight_sum = present_weight(probe, &params.fields);
        // Without structured fields in the probe, text is all there is.
        let tw = if weight_sum > 0.0 {
            params.text_weight
        } else {
            1.0
        };
        let mlt: Vec<f32> = docs
            .iter()
            .map(|(addr, _)| {
                if max_text > 0.0 {
                    text_scores.get(addr).copied().unwrap_or(0.0) / max_text
                } else {
                    0.0
                }
            })
            .collect();
        let field: Vec<f32> = docs
            .iter()
            .map(|(_, d)| {
                if weight_sum > 0.0 {
                    field_agreement(probe, d, &params.fields).0 / weight_sum
                } else {
                    0.0
                }
            })
            .collect();
        let by_id = |a: usize, b: usize| docs[a].1.id.cmp(&docs[b].1.id);
        // First ranking: more-like-this and fields. Its best
        // `summary_rerank` (at least k) are re-ranked with the summaries.
        let mut shortlist: Vec<usize> = (0..docs.len()).collect();
        let first = |i: usize| tw * mlt[i] + (1.0 - tw) * field[i];
        shortlist.sort_by(|&a, &b| first(b).total_cmp(&first(a)).then_with(|| by_id(a, b)));
        shortlist.truncate(params.summary_rerank.max(k));
        let sw = params.summary_weight.clamp(0.0, 1.0);
        let summaries = if sw > 0.0 {
            let short: Vec<&IndexDoc> = shortlist.iter().map(|&i| &docs[i].1).collect();
            self.summary_similarities(&stats, probe, &short)?
        } else {
            vec![SummaryMatch::default(); shortlist.len()]
        };
        // Text part: the blend, normalised to the best of the shortlist.
        let blend: Vec<f32> = shortlist
            .iter()
            .zip(&summaries)
            .map(|(&i, m)| (1.0 - sw) * mlt[i] + sw * m.cosine)
            .collect();
        let max_blend = blend.iter().copied().fold(0.0f32, f32::max);
        let mut scored: Vec<(f32, f32, f32, usize, usize)> = shortlist
            .iter()
            .enumerate()
            .map(|(j, &i)| {
                let t = if max_blend > 0.0 {
                    blend[j] / max_blend
                } else {
                    0.0
                };
                (tw * t + (1.0 - tw) * field[i], t, field[i], i, j)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| by_id(a.3, b.3)));
        scored.truncate(k);
        let addrs: Vec<DocAddress> = scored.iter().map(|s| docs[s.3].0).collect();
        let mut present = self.terms_present(searcher, &terms, &addrs)?.into_iter();
        Ok(scored
            .into_iter()
            .map(|(score, t, fs, i, j)| {
                let d = &docs[i].1;
                let mut reasons = Vec::new();
                let shared = shared_terms(present.next().unwrap_or_default());
                if !shared.is_empty() {
                    reasons.push(format!("shared terms: {}", shared.join(", ")));
                }
                if sw > 0.0 && !summaries[j].shared.is_empty() {
                    reasons.push(format!(
                        "similar summary: {}",
                        summaries[j].shared.join(", ")
                    ));
                }
                reasons.extend(field_agreement(probe, d, &params.fields).1);
                SimilarHit {
                    id: d.id.clone(),
                    title: d.title.clone(),
                    score,
                    text_score: t,
                    field_score: fs,
                    reasons,
                }
            })
            .collect())
    }

    /// Cosine similarity of the probe's summary with each candidate's
    /// summary, and the terms they share (strongest first, at most five, as
    /// written in the probe).
    fn summary_similarities(
        &self,
        stats: &DocFreqCache<'_>,
        probe: &SimilarQuery,
        docs: &[&IndexDoc],
    ) -> Result<Vec<SummaryMatch>> {
        let n = stats.searcher.num_docs().max(1) as f32;
        let mut idf: FxMap<String, f32> = FxMap::default();
        let mut vector = |counts: FxMap<String, u32>| -> Result<FxMap<String, f32>> {
            for t in counts.keys() {
                if !idf.contains_key(t) {
                    let df = stats.all_doc_freq(t)?;
                    idf.insert(t.clone(), smooth_idf(n, df as f32));
                }
            }
            Ok(unit_tfidf(counts, &idf))
        };
        let probe_counts = term_counts(clip(probe.summary_text(), SUMMARY_CHARS));
        let surfaces: FxMap<&str, &str> = probe_counts
            .iter()
            .map(|(t, (_, s))| (t.as_str(), s.as_str()))
            .collect();
        let pv = vector(
            probe_counts
                .iter()
                .map(|(t, (n, _))| (t.clone(), *n))
                .collect(),
        )?;
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            if pv.is_empty() || d.summary.trim().is_empty() {
                out.push(SummaryMatch::default());
                continue;
            }
            let dv = vector(frequencies(clip(&d.summary, SUMMARY_CHARS)))?;
            out.push(summary_match(&pv, &dv, &surfaces));
        }
        Ok(out)
    }

    /// For each document, the probe terms its `all` field holds, read from
    /// the postings: the field indexes exactly the analysed terms of the
    /// document's texts, so this is the probe terms found by analysing them
    /// again, without the analysis.
    fn terms_present<'t>(
        &self,
        searcher: &Searcher,
        terms: &'t [ProbeTerm],
        addrs: &[DocAddress],
    ) -> Result<Vec<Vec<&'t ProbeTerm>>> {
        let mut out: Vec<Vec<&ProbeTerm>> = vec![Vec::new(); addrs.len()];
        let all = self.fields().all;
        let mut order: Vec<usize> = (0..addrs.len()).collect();
        order.sort_by_key(|&i| addrs[i]);
        let mut at = 0;
        while at < order.len() {
            let seg = addrs[order[at]].segment_ord;
            let end = order[at..]
                .iter()
                .position(|&i| addrs[i].segment_ord != seg)
                .map_or(order.len(), |p| at + p);
            let inverted = searcher.segment_reader(seg).inverted_index(all)?;
            for t in terms {
                let term = Term::from_field_text(all, &t.term);
                let Some(mut postings) = inverted
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(tantivy::TantivyError::from)?
                else {
                    continue;
                };
                // Documents in increasing order: the postings only seek forward.
                for &i in &order[at..end] {
                    let doc = addrs[i].doc_id;
                    if postings.doc() <= doc && postings.seek(doc) == doc {
                        out[i].push(t);
                    }
                }
            }
            at = end;
        }
        Ok(out)
    }

    /// The probe's strongest distinctive terms.
    fn select_terms(
        &self,
        stats: &DocFreqCache<'_>,
        text: &str,
        min_df: u64,
        params: &SimilarityParams,
    ) -> Result<Vec<ProbeTerm>> {
        let n = stats.searcher.num_docs().max(1) as f32;
        let mut out = Vec::new();
        let counts = term_counts(text);
        let text_tf: HashMap<String, u32> =
            counts.iter().map(|(t, (n, _))| (t.clone(), *n)).collect();
        let term_tf = |n: Option<&u32>| n.copied().unwrap_or(1) as f32;
        for (term, (tf, surface)) in counts {
            let df = stats.all_doc_freq(&term)?;
            if df < min_df {
                continue;
            }
            // Very common words say nothing; on tiny indexes every word is
            // common, so the cut only applies from 20 documents on.
            if n >= 20.0 && df as f32 > params.max_df_ratio * n {
                continue;
            }
            let idf = smooth_idf(n, df as f32);
            out.push(ProbeTerm {
                term,
                surface,
                weight: (1.0 + (tf as f32).ln()) * idf,
            });
        }
        // Selection is always by tf-idf; the boost may leave idf to BM25.
        out.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.term.cmp(&b.term))
        });
        out.truncate(params.max_terms);
        if !params.idf_boost {
            for t in &mut out {
                let tf = term_tf(text_tf.get(&t.term));
                t.weight = 1.0 + tf.ln();
            }
        }
        Ok(out)
    }
}

/// Document frequencies for one similar-incident request: those of the
/// `all` field come from the segment tables' caches (a probe looks up
/// hundreds of terms; each is otherwise a term-dictionary lookup per
/// segment), everything else from the searcher. The same numbers as
/// `Searcher::doc_freq`, which sums the segments' frequencies.
struct DocFreqCache<'a> {
    searcher: &'a Searcher,
    all: tantivy::schema::Field,
    segments: Vec<(Arc<SegmentTable>, Arc<tantivy::InvertedIndexReader>)>,
}

impl<'a> DocFreqCache<'a> {
    fn new(index: &IncidentIndex, searcher: &'a Searcher) -> Result<Self> {
        let all = index.fields().all;
        let tables = index.segment_tables();
        let segments = searcher
            .segment_readers()
            .iter()
            .map(|seg| Ok((tables.get(seg)?, seg.inverted_index(all)?)))
            .collect::<tantivy::Result<_>>()?;
        Ok(DocFreqCache {
            searcher,
            all,
            segments,
        })
    }

    fn all_doc_freq(&self, term: &str) -> Result<u64> {
        let mut df = 0u64;
        for (table, inverted) in &self.segments {
            df += u64::from(table.all_doc_freq(term, inverted, self.all)?);
        }
        Ok(df)
    }
}

impl Bm25StatisticsProvider for DocFreqCache<'_> {
    fn total_num_tokens(&self, field: tantivy::schema::Field) -> tantivy::Result<u64> {
        self.searcher.total_num_tokens(field)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Bm25StatisticsProvider::total_num_docs(self.searcher)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        match term.value().as_str() {
            Some(text) if term.field() == self.all => self
                .all_doc_freq(text)
                .map_err(|e| tantivy::TantivyError::InternalError(e.to_string())),
            _ => self.searcher.doc_freq(term),
        }
    }
}

/// Exactly the documents at the given addresses (the candidates, whose
/// text-only scores are wanted): what the query on their ids matched,
/// without looking the ids up again.
#[derive(Clone)]
struct AddressQuery {
    docs: Arc<HashMap<SegmentId, Vec<DocId>>>,
}

impl AddressQuery {
    fn new(searcher: &Searcher, addrs: impl Iterator<Item = DocAddress>) -> Self {
        let mut docs: HashMap<SegmentId, Vec<DocId>> = HashMap::new();
        let readers = searcher.segment_readers();
        for a in addrs {
            if let Some(r) = readers.get(a.segment_ord as usize) {
                docs.entry(r.segment_id()).or_default().push(a.doc_id);
            }
        }
        for v in docs.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        AddressQuery {
            docs: Arc::new(docs),
        }
    }
}

impl std::fmt::Debug for AddressQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressQuery")
            .field("segments", &self.docs.len())
            .finish()
    }
}

impl Query for AddressQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for AddressQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let docs = self
            .docs
            .get(&reader.segment_id())
            .cloned()
            .unwrap_or_default();
        Ok(Box::new(ConstScorer::new(
            SortedDocs { docs, at: 0 },
            boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        match self.docs.get(&reader.segment_id()) {
            Some(d) if d.binary_search(&doc).is_ok() => Ok(Explanation::new("AddressQuery", 1.0)),
            _ => Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} is not one of the addresses"
            ))),
        }
    }
}

/// A sorted list of documents as a [`DocSet`].
struct SortedDocs {
    docs: Vec<DocId>,
    at: usize,
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        while self.doc() < target {
            self.at += 1;
        }
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        self.docs.len() as u32
    }
}

/// BM25's idf, always positive: `ln(1 + (n - df + 0.5) / (df + 0.5))`.
fn smooth_idf(n: f32, df: f32) -> f32 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// Sum in a fixed order (ascending), so that equal inputs give bit-equal
/// scores whatever the hash maps' iteration order.
fn ordered_sum(mut values: Vec<f32>) -> f32 {
    values.sort_by(f32::total_cmp);
    values.into_iter().sum()
}

/// The first `max` characters of `text`, cut back to the last whitespace
/// when that leaves something (so no word is cut in two).
fn clip(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        None => text,
        Some((end, _)) => {
            let head = &text[..end];
            match head.rfind(char::is_whitespace) {
                Some(ws) if ws > 0 => &head[..ws],
                _ => head,
            }
        }
    }
}

/// Frequencies of the terms that count in a similarity vector
/// ([`is_vector_term`]).
fn frequencies(text: &str) -> FxMap<String, u32> {
    let mut counts: FxMap<String, u32> = FxMap::default();
    for_each_token(text, Mode::Index, |term, _, _| {
        if is_vector_term(term) {
            match counts.get_mut(term) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(term.to_string(), 1);
                }
            }
        }
    });
    counts
}

/// A unit-length vector of `(1 + ln tf) * idf` per term (terms missing from
/// `idf` weigh nothing).
fn unit_tfidf<S: BuildHasher + Default, T: BuildHasher>(
    counts: HashMap<String, u32, S>,
    idf: &HashMap<String, f32, T>,
) -> HashMap<String, f32, S> {
    let mut v: HashMap<String, f32, S> = counts
        .into_iter()
        .map(|(t, tf)| {
            let w = (1.0 + (tf.max(1) as f32).ln()) * idf.get(&t).copied().unwrap_or(0.0);
            (t, w)
        })
        .filter(|(_, w)| *w > 0.0)
        .collect();
    let norm = ordered_sum(v.values().map(|w| w * w).collect()).sqrt();
    if norm > 0.0 {
        for w in v.values_mut() {
            *w /= norm;
        }
    }
    v
}

/// How a candidate's summary matches the probe's.
#[derive(Debug, Clone, Default, PartialEq)]
struct SummaryMatch {
    /// Cosine of the two unit vectors, in `[0, 1]`.
    cosine: f32,
    /// Shared terms by contribution to the cosine, as written in the probe
    /// (at most five).
    shared: Vec<String>,
}

fn summary_match<S: BuildHasher, T: BuildHasher>(
    probe: &HashMap<String, f32, S>,
    cand: &HashMap<String, f32, S>,
    surfaces: &HashMap<&str, &str, T>,
) -> SummaryMatch {
    let (small, large) = if probe.len() <= cand.len() {
        (probe, cand)
    } else {
        (cand, probe)
    };
    let mut parts: Vec<(f32, &str)> = small
        .iter()
        .filter_map(|(t, w)| large.get(t).map(|x| (w * x, t.as_str())))
        .collect();
    let cosine = ordered_sum(parts.iter().map(|p| p.0).collect()).clamp(0.0, 1.0);
    parts.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut shared: Vec<String> = Vec::new();
    for (_, t) in parts {
        let s = surfaces
            .get(t)
            .map_or_else(|| t.to_string(), |s| s.to_string());
        if !shared.contains(&s) {
            shared.push(s);
        }
        if shared.len() == 5 {
            break;
        }
    }
    SummaryMatch { cosine, shared }
}

/// The probe's structured values per keyword field, with their weight.
fn structured_probe(p: &SimilarQuery, w: &FieldWeights) -> Vec<(KeywordField, Vec<String>, f32)> {
    let one = |v: &Option<String>| {
        v.as_deref()
            .and_then(normalise_value)
            .into_iter()
            .collect::<Vec<_>>()
    };
    let many = |v: &[String]| {
        v.iter()
            .filter_map(|s| normalise_value(s))
            .collect::<Vec<_>>()
    };
    vec![
        (KeywordField::Trigger, one(&p.trigger), w.trigger),
        (
            KeywordField::RootCauseCategory,
            one(&p.root_cause_category),
            w.root_cause_category,
        ),
        (
            KeywordField::NetworkDomain,
            one(&p.network_domain),
            w.network_domain,
        ),
        (KeywordField::Asset, many(&p.assets), w.assets),
        (KeywordField::Service, many(&p.services), w.services),
        (
            KeywordField::OperatorType,
            one(&p.operator_type),
            w.operator_type,
        ),
    ]
}

fn present_weight(p: &SimilarQuery, w: &FieldWeights) -> f32 {
    let mut s = 0.0;
    let some = |v: &Option<String>| v.as_deref().and_then(normalise_value).is_some();
    if some(&p.trigger) {
        s += w.trigger;
    }
    if some(&p.root_cause_category) {
        s += w.root_cause_category;
    }
    if some(&p.network_domain) {
        s += w.network_domain;
    }
    if !p.assets.is_empty() {
        s += w.assets;
    }
    if p.network_domain.is_some() || !p.other_domains.is_empty() {
        s += w.domains;
    }
    if !p.services.is_empty() {
        s += w.services;
    }
    if some(&p.operator_type) {
        s += w.operator_type;
    }
    s
}

fn norm_set(v: &[String]) -> HashSet<String> {
    v.iter().filter_map(|s| normalise_value(s)).collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> (f32, Vec<String>) {
    if a.is_empty() || b.is_empty() {
        return (0.0, Vec::new());
    }
    let mut shared: Vec<String> = a.intersection(b).cloned().collect();
    shared.sort();
    let union = a.union(b).count();
    (shared.len() as f32 / union as f32, shared)
}

/// Weighted agreement of a candidate with the probe, and the reasons.
fn field_agreement(p: &SimilarQuery, d: &IndexDoc, w: &FieldWeights) -> (f32, Vec<String>) {
    let mut score = 0.0;
    let mut reasons = Vec::new();
    let same = |a: &Option<String>, b: &Option<String>| match (
        a.as_deref().and_then(normalise_value),
        b.as_deref().and_then(normalise_value),
    ) {
        (Some(x), Some(y)) if x == y => Some(x),
        _ => None,
    };
    if let Some(v) = same(&p.trigger, &d.trigger) {
        score += w.trigger;
        reasons.push(format!("same trigger: {v}"));
    }
    if let Some(v) = same(&p.root_cause_category, &d.root_cause_category) {
        score += w.root_cause_category;
        reasons.push(format!("same root cause: {v}"));
    }
    if let Some(v) = same(&p.network_domain, &d.network_domain) {
        score += w.network_domain;
        reasons.push(format!("same network domain: {v}"));
    }
    let (j, shared) = jaccard(&norm_set(&p.assets), &norm_set(&d.assets));
    if !shared.is_empty() {
        score += w.assets * j;
        reasons.push(format!("shared assets: {}", shared.join(", ")));
    }
    let pd: Vec<String> = p
        .network_domain
        .iter()
        .chain(&p.other_domains)
        .cloned()
        .collect();
    let (j, shared) = jaccard(&norm_set(&pd), &norm_set(&d.all_domains()));
    if !shared.is_empty() {
        score += w.domains * j;
        reasons.push(format!("domains involved: {}", shared.join(", ")));
    }
    let (j, shared) = jaccard(&norm_set(&p.services), &norm_set(&d.services));
    if !shared.is_empty() {
        score += w.services * j;
        reasons.push(format!("services affected: {}", shared.join(", ")));
    }
    if let Some(v) = same(&p.operator_type, &d.operator_type) {
        score += w.operator_type;
        reasons.push(format!("same operator type: {v}"));
    }
    (score, reasons)
}

/// The probe's terms present in the candidate, strongest first, as written
/// in the probe (at most five).
/// The strongest of the probe's terms a document holds (at most five, as
/// written in the probe).
fn shared_terms(mut shared: Vec<&ProbeTerm>) -> Vec<String> {
    shared.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.term.cmp(&b.term))
    });
    let mut out: Vec<String> = Vec::new();
    for t in shared {
        if !out.contains(&t.surface) {
            out.push(t.surface.clone());
        }
        if out.len() == 5 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    fn counts(v: &[(&str, u32)]) -> HashMap<String, u32> {
        v.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn sorted_docs_advance_and_seek() {
        let mut d = SortedDocs {
            docs: vec![2, 5, 9],
            at: 0,
        };
        assert_eq!(d.doc(), 2);
        assert_eq!(d.seek(3), 5);
        assert_eq!(d.seek(5), 5);
        assert_eq!(d.advance(), 9);
        assert_eq!(d.advance(), TERMINATED);
        assert_eq!(d.seek(100), TERMINATED);
        let mut empty = SortedDocs {
            docs: Vec::new(),
            at: 0,
        };
        assert_eq!(empty.doc(), TERMINATED);
        assert_eq!(empty.advance(), TERMINATED);
    }

    #[test]
    fn smooth_idf_is_bm25_idf() {
        // ln(1 + (10 - 2 + 0.5) / (2 + 0.5)) = ln(4.4)
        assert!(close(smooth_idf(10.0, 2.0), 4.4f32.ln()));
        // A term in every document still weighs a little.
        assert!(smooth_idf(10.0, 10.0) > 0.0);
    }

    #[test]
    fn unit_tfidf_weighs_sublinear_tf_times_idf_and_normalises() {
        let idf: HashMap<String, f32> = [("a".to_string(), 2.0), ("b".to_string(), 1.0)].into();
        let v = unit_tfidf(counts(&[("a", 1), ("b", 4), ("c", 3)]), &idf);
        // a: 1 * 2 = 2; b: (1 + ln 4) * 1; c has no idf and is dropped.
        let b = 1.0 + 4f32.ln();
        let norm = (4.0 + b * b).sqrt();
        assert_eq!(v.len(), 2);
        assert!(close(v["a"], 2.0 / norm), "{v:?}");
        assert!(close(v["b"], b / norm), "{v:?}");
        assert!(close(v.values().map(|w| w * w).sum::<f32>(), 1.0));
        let empty = unit_tfidf(counts(&[("c", 2)]), &idf);
        assert!(empty.is_empty());
    }

    #[test]
    fn summary_match_is_the_cosine_and_names_shared_terms_strongest_first() {
        let vec = |v: &[(&str, f32)]| -> HashMap<String, f32> {
            v.iter().map(|(t, w)| (t.to_string(), *w)).collect()
        };
        let surfaces: HashMap<&str, &str> = [("x", "X-ray"), ("y", "Yoke")].into();
        let probe = vec(&[("x", 0.6), ("y", 0.8)]);
        // Shares y only: 0.8 * 0.6.
        let m = summary_match(&probe, &vec(&[("y", 0.6), ("z", 0.8)]), &surfaces);
        assert!(close(m.cosine, 0.48), "{m:?}");
        assert_eq!(m.shared, vec!["Yoke".to_string()]);
        // The same vector: cosine 1, y (0.64) before x (0.36).
        let m = summary_match(&probe, &probe, &surfaces);
        assert!(close(m.cosine, 1.0), "{m:?}");
        assert_eq!(m.shared, vec!["Yoke".to_string(), "X-ray".to_string()]);
        // Symmetric in its two vectors.
        let a = vec(&[("x", 1.0)]);
        assert!(close(
            summary_match(&probe, &a, &surfaces).cosine,
            summary_match(&a, &probe, &surfaces).cosine
        ));
        let none = summary_match(&probe, &vec(&[("z", 1.0)]), &surfaces);
        assert_eq!(none, SummaryMatch::default());
    }

    #[test]
    fn frequencies_count_vector_terms_only() {
        let f = frequencies("The routers rebooted; the router reboot failed in 123456.");
        // Stemmed, stop words and long numbers left out.
        assert_eq!(f.get("router"), Some(&2), "{f:?}");
        assert_eq!(f.get("reboot"), Some(&2), "{f:?}");
        assert!(!f.contains_key("the") && !f.contains_key("in"), "{f:?}");
        assert!(!f.contains_key("123456"), "{f:?}");
        // The same terms as the probe side's counts.
        let tc = term_counts("The routers rebooted; the router reboot failed in 123456.");
        assert_eq!(f.len(), tc.len());
        assert!(f.iter().all(|(t, n)| tc.get(t).map(|c| c.0) == Some(*n)));
    }

    #[test]
    fn clip_keeps_whole_words_within_the_limit() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("alpha beta gamma", 12), "alpha beta");
        assert_eq!(clip("alpha beta gamma", 10), "alpha");
        // No whitespace to cut back to: the characters themselves.
        assert_eq!(clip("abcdefgh", 3), "abc");
        // Multi-byte characters count as one.
        assert_eq!(clip("été été", 3), "été");
    }

    #[test]
    fn free_text_stands_in_for_a_missing_summary_only() {
        let mut q = SimilarQuery {
            text: "whole text".into(),
            ..Default::default()
        };
        assert_eq!(q.summary_text(), "whole text");
        q.summary = Some(String::new());
        assert_eq!(q.summary_text(), "");
        q.summary = Some("short summary".into());
        assert_eq!(q.summary_text(), "short summary");
    }
}
