//! Full-text search: query syntax, filters, facets, snippets, sorting and
//! pagination.
//!
//! Policy:
//! - The query uses tantivy's syntax: terms, `"phrases"`, `AND`/`OR`/`NOT`,
//!   `+`/`-`, parentheses and `field:value` prefixes (any text, keyword, flag,
//!   date or number field). Words are ANDed by default. An empty query
//!   matches every visible document.
//! - A malformed query is an [`IndexError::InvalidQuery`] carrying the byte
//!   position of the problem when it can be located; it never panics.
//! - The reader's TLP levels are a mandatory filter added to every query, so
//!   hits, the total and the facet counts only ever cover visible documents,
//!   whatever the query string says.
//! - Filters are ANDed across fields and ORed within a field; they do not
//!   change scores. Facet counts are computed over the filtered hits.
//! - Sorting is by relevance (ties by index order) or by publication date.
//!   Pagination is by offset: within one index generation and commit the
//!   order is total, so consecutive pages neither repeat nor skip.
//! - One pass over the matches gives the page, the total and the facets.
//!   Each segment has a table of its documents' facet and TLP values (built
//!   by the reader's warmer when a commit or merge makes the segment
//!   visible, dropped with it): documents with the same values share a
//!   profile, so visibility is one array lookup per match and facets count
//!   per profile, whatever the number of matches.
//! - Snippets are what tantivy's `SnippetGenerator` would cut with the index
//!   analyser (summary, then body, lessons, title), computed without
//!   analysing words that cannot match a query term; a highlight reaching
//!   past its fragment (a joined word longer than the snippet, which made
//!   tantivy panic) is cut at the fragment's end.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::ops::Bound;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime as ChronoDateTime, NaiveDate, Utc};
use rustc_hash::FxHasher;
use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector, TopDocs};
use tantivy::columnar::{Cardinality, StrColumn};

use tantivy::index::SegmentId;
use tantivy::query::Weight;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, QueryParserError,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    COLLECT_BLOCK_BUFFER_LEN, DateTime, DocAddress, DocId, DocSet, Order, Score,
    SearcherGeneration, SegmentReader, TERMINATED, TantivyDocument, Term, Warmer,
};

use crate::analysis::{HighlightTerms, best_fragment, fragment_html};
use crate::doc::{IndexDoc, Tlp, normalise_value};
use crate::error::{IndexError, Result};
use crate::index::IncidentIndex;
use crate::mapping::{F_PUBLISHED_AT, FlagField, KeywordField, date_to_tantivy, to_tantivy_date};

/// Largest page size accepted.
pub const MAX_LIMIT: usize = 200;
/// Deepest result reachable by offset.
pub const MAX_WINDOW: usize = 10_000;

/// Result order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    #[default]
    Relevance,
    Newest,
    Oldest,
}

/// Filters; an empty list or `None` means "no constraint".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    /// Values per keyword field; a document matches a field when it has any
    /// of the values.
    pub keywords: BTreeMap<KeywordField, Vec<String>>,
    /// Required flag values.
    pub flags: BTreeMap<FlagField, bool>,
    /// Publication time range, inclusive bounds.
    pub published_from: Option<ChronoDateTime<Utc>>,
    pub published_to: Option<ChronoDateTime<Utc>>,
    /// Start date range, inclusive bounds.
    pub started_from: Option<NaiveDate>,
    pub started_to: Option<NaiveDate>,
}

impl Filters {
    /// Adds accepted values for a keyword field.
    pub fn with(mut self, field: KeywordField, values: &[&str]) -> Self {
        self.keywords
            .entry(field)
            .or_default()
            .extend(values.iter().map(|v| v.to_string()));
        self
    }

    /// Requires a flag value.
    pub fn with_flag(mut self, flag: FlagField, value: bool) -> Self {
        self.flags.insert(flag, value);
        self
    }
}

/// A search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchRequest {
    pub query: String,
    pub filters: Filters,
    pub sort: SortOrder,
    pub offset: usize,
    pub limit: usize,
    /// Compute facet counts for every keyword and flag field.
    pub facets: bool,
    /// Maximum snippet length in characters.
    pub snippet_chars: usize,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            query: String::new(),
            filters: Filters::default(),
            sort: SortOrder::Relevance,
            offset: 0,
            limit: 20,
            facets: true,
            snippet_chars: 200,
        }
    }
}

impl SearchRequest {
    pub fn new(query: impl Into<String>) -> Self {
        SearchRequest {
            query: query.into(),
            ..Default::default()
        }
    }
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: String,
    pub title: String,
    /// HTML-escaped fragment with matches wrapped in `<mark>`.
    pub snippet: String,
    /// Relevance score; `None` when sorted by date.
    pub score: Option<f32>,
    pub published_at: ChronoDateTime<Utc>,
    pub tlp: Tlp,
    pub severity: Option<String>,
    pub network_domain: Option<String>,
    pub trigger: Option<String>,
    pub root_cause_category: Option<String>,
    pub services: Vec<String>,
    pub region: Option<String>,
}

/// Facet counts: field name -> value -> number of matching documents.
pub type FacetCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Number of visible documents matching query and filters.
    pub total: u64,
    pub hits: Vec<Hit>,
    /// Empty unless requested.
    pub facets: FacetCounts,
    /// Offset of the next page, when there is one.
    pub next_offset: Option<usize>,
}

impl IncidentIndex {
    /// Runs a search for a reader who may see `visibility`.
    pub fn search(&self, req: &SearchRequest, visibility: &[Tlp]) -> Result<SearchResults> {
        if req.limit == 0 || req.limit > MAX_LIMIT {
            return Err(IndexError::InvalidRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        if req.offset.saturating_add(req.limit) > MAX_WINDOW {
            return Err(IndexError::InvalidRequest(format!(
                "offset + limit must not exceed {MAX_WINDOW}"
            )));
        }
        let user_query = self.parse_user_query(&req.query)?;
        // Visibility is checked per matching document from the segment
        // tables (one array lookup), not intersected as a query.
        let filters = self.filter_queries(&req.filters)?;
        let query: Box<dyn Query> = if user_query.is::<AllQuery>() {
            // Everything matches and, as when the visibility clause took
            // AllQuery's place in the intersection, every score is 0.
            let all: Box<dyn Query> = Box::new(ConstScoreQuery::new(Box::new(AllQuery), 0.0));
            if filters.is_empty() {
                all
            } else {
                let mut clauses = vec![(Occur::Must, all)];
                clauses.extend(filters.into_iter().map(|q| (Occur::Must, filter(q))));
                Box::new(BooleanQuery::new(clauses))
            }
        } else if filters.is_empty() {
            user_query.box_clone()
        } else {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Must, user_query.box_clone())];
            clauses.extend(filters.into_iter().map(|q| (Occur::Must, filter(q))));
            Box::new(BooleanQuery::new(clauses))
        };
        let searcher = self.searcher();
        let top = TopDocs::with_limit(req.limit).and_offset(req.offset);
        let visible = visibility_mask(visibility);
        let tables = self.segment_tables();
        let (page, total, facets): (Vec<(Option<Score>, DocAddress)>, u64, FacetCounts) =
            match req.sort {
                SortOrder::Relevance => {
                    let collector =
                        PageCollector::new(top.order_by_score(), visible, req.facets, tables);
                    let (p, t, f) = searcher.search(&*query, &collector)?;
                    (p.into_iter().map(|(s, a)| (Some(s), a)).collect(), t, f)
                }
                SortOrder::Newest | SortOrder::Oldest => {
                    let order = if req.sort == SortOrder::Newest {
                        Order::Desc
                    } else {
                        Order::Asc
                    };
                    let collector = PageCollector::new(
                        top.order_by_fast_field::<DateTime>(F_PUBLISHED_AT, order),
                        visible,
                        req.facets,
                        tables,
                    );
                    let (p, t, f) = searcher.search(&*query, &collector)?;
                    (p.into_iter().map(|(_, a)| (None, a)).collect(), t, f)
                }
            };
        let snippets = Snippets::new(self, &searcher, &*user_query, req.snippet_chars)?;
        let mut hits = Vec::with_capacity(page.len());
        for (score, addr) in page {
            let d: TantivyDocument = searcher.doc(addr)?;
            let doc = self.fields().from_document(&d);
            hits.push(Hit {
                snippet: snippets.render(&doc),
                id: doc.id,
                title: doc.title,
                score,
                published_at: doc.published_at,
                tlp: doc.tlp,
                severity: doc.severity,
                network_domain: doc.network_domain,
                trigger: doc.trigger,
                root_cause_category: doc.root_cause_category,
                services: doc.services,
                region: doc.region,
            });
        }
        let seen = (req.offset + hits.len()) as u64;
        let next_offset =
            (seen < total && seen < MAX_WINDOW as u64 && !hits.is_empty()).then_some(seen as usize);
        Ok(SearchResults {
            total,
            hits,
            facets,
            next_offset,
        })
    }

    /// Parses a user query string; empty means "everything".
    pub fn parse_user_query(&self, query: &str) -> Result<Box<dyn Query>> {
        crate::limits::check_query(query).map_err(|limit| IndexError::QueryTooComplex { limit })?;
        if query.trim().is_empty() {
            return Ok(Box::new(AllQuery));
        }
        let f = self.fields();
        let mut parser = QueryParser::new(
            f.schema.clone(),
            f.text_fields().to_vec(),
            self.query_tokenizers().clone(),
        );
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.title, 2.0);
        parser.set_field_boost(f.summary, 1.5);
        let ast = tantivy::query_grammar::parse_query(query).map_err(|_| {
            let (_, errors) = tantivy::query_grammar::parse_query_lenient(query);
            match errors.into_iter().next() {
                Some(e) => IndexError::InvalidQuery {
                    message: e.message,
                    position: Some(e.pos),
                },
                None => IndexError::InvalidQuery {
                    message: "syntax error".into(),
                    position: None,
                },
            }
        })?;
        check_leaves(&ast)?;
        parser
            .build_query_from_user_input_ast(ast)
            .map_err(|e| query_error(query, e))
    }

    pub(crate) fn filter_queries(&self, filters: &Filters) -> Result<Vec<Box<dyn Query>>> {
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        for (k, values) in &filters.keywords {
            let field = self.keyword_field(*k);
            let terms: Vec<Term> = values
                .iter()
                .filter_map(|v| normalise_value(v))
                .map(|v| Term::from_field_text(field, &v))
                .collect();
            if !terms.is_empty() {
                out.push(Box::new(TermSetQuery::new(terms)));
            }
        }
        for (flag, value) in &filters.flags {
            out.push(Box::new(TermQuery::new(
                Term::from_field_bool(self.fields().flag(*flag), *value),
                IndexRecordOption::Basic,
            )));
        }
        let f = self.fields();
        if let Some(q) = date_range(
            f.published_at,
            filters.published_from.map(to_tantivy_date),
            filters.published_to.map(to_tantivy_date),
        )? {
            out.push(q);
        }
        if let Some(q) = date_range(
            f.started_on,
            filters.started_from.map(date_to_tantivy),
            filters.started_to.map(date_to_tantivy),
        )? {
            out.push(q);
        }
        Ok(out)
    }
}

/// Wraps a filter so that it constrains without scoring.
pub(crate) fn filter(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

fn date_range(
    field: Field,
    from: Option<DateTime>,
    to: Option<DateTime>,
) -> Result<Option<Box<dyn Query>>> {
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(IndexError::InvalidRequest(
            "date range ends before it starts".into(),
        ));
    }
    let bound = |d: Option<DateTime>| match d {
        Some(d) => Bound::Included(Term::from_field_date(field, d)),
        None => Bound::Unbounded,
    };
    Ok(Some(Box::new(RangeQuery::new(bound(from), bound(to)))))
}

/// Refuses the query forms the index does not serve: `field:*` (needs a
/// fast field, and text fields are not) and regular expressions (their
/// cost has no bound). Recurses no deeper than the nesting bound.
fn check_leaves(ast: &tantivy::query_grammar::UserInputAst) -> Result<()> {
    use tantivy::query_grammar::{UserInputAst, UserInputLeaf};
    match ast {
        UserInputAst::Clause(clauses) => clauses.iter().try_for_each(|(_, c)| check_leaves(c)),
        UserInputAst::Boost(inner, _) => check_leaves(inner),
        UserInputAst::Leaf(leaf) => match leaf.as_ref() {
            UserInputLeaf::Exists { field } => Err(IndexError::InvalidQuery {
                message: format!("`{field}:*` is not supported: search for words of the field"),
                position: None,
            }),
            UserInputLeaf::Regex { .. } => Err(IndexError::InvalidQuery {
                message: "regular expressions are not supported".into(),
                position: None,
            }),
            _ => Ok(()),
        },
    }
}

fn query_error(query: &str, e: QueryParserError) -> IndexError {
    let position = match &e {
        QueryParserError::FieldDoesNotExist(name)
        | QueryParserError::FieldNotIndexed(name)
        | QueryParserError::FieldDoesNotHavePositionsIndexed(name) => {
            query.find(&format!("{name}:"))
        }
        _ => None,
    };
    IndexError::InvalidQuery {
        message: e.to_string(),
        position,
    }
}

/// Snippet rendering shared by the hits of one search: what tantivy's
/// `SnippetGenerator` would give with the index analyser
/// ([`crate::analysis::best_fragment`]), without analysing words that
/// cannot match.
struct Snippets {
    terms: HighlightTerms,
    max_chars: usize,
}

impl Snippets {
    fn new(
        index: &IncidentIndex,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        max_chars: usize,
    ) -> Result<Self> {
        let text_fields = index.fields().text_fields();
        let mut terms: BTreeSet<Term> = BTreeSet::new();
        query.query_terms(&mut |term, _| {
            if text_fields.contains(&term.field()) {
                terms.insert(term.clone());
            }
        });
        // The same analyser serves every text field, so one term list applies
        // to all of them: score each term by its rarity in the body field.
        let mut terms_text = BTreeMap::new();
        for term in terms {
            if let Some(text) = term.value().as_str() {
                let df = searcher.doc_freq(&term)?;
                let entry = terms_text.entry(text.to_string()).or_insert(0.0f32);
                *entry = entry.max(1.0 / (1.0 + df as f32));
            }
        }
        Ok(Snippets {
            terms: HighlightTerms::new(terms_text),
            max_chars,
        })
    }

    fn render(&self, doc: &IndexDoc) -> String {
        if !self.terms.is_empty() {
            let lessons = doc.lessons.join(" ");
            for text in [&doc.summary, &doc.body, &lessons, &doc.title] {
                if let Some(f) = best_fragment(text, &self.terms, self.max_chars) {
                    return fragment_html(text, &f, "<mark>", "</mark>");
                }
            }
        }
        let source = if doc.summary.is_empty() {
            &doc.body
        } else {
            &doc.summary
        };
        html_escape(&truncate_chars(source, self.max_chars))
    }
}

fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        None => s.to_string(),
        Some((i, _)) => {
            // Cut at the last space before the limit to avoid half words.
            let cut = s[..i].rfind(' ').filter(|&j| j > i / 2).unwrap_or(i);
            format!("{}…", &s[..cut])
        }
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The TLP levels a reader may see, as a bit mask over [`Tlp::ALL`].
pub(crate) fn visibility_mask(visibility: &[Tlp]) -> u8 {
    visibility.iter().fold(0u8, |m, t| m | (1 << tlp_index(*t)))
}

fn tlp_index(t: Tlp) -> usize {
    Tlp::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

/// Facet and visibility values of one segment, built once per segment
/// (when a reader first sees it) and shared by every search on it.
///
/// Documents with the same values in every keyword and flag field share a
/// *profile*; a search counts matches per profile (one array lookup per
/// document) and spreads the counts over the profiles' values at the end,
/// instead of reading fifteen columns per matching document.
pub(crate) struct SegmentTable {
    /// Profile of each document (deleted ones included).
    profile_of: Vec<u32>,
    /// TLP levels of each profile, a mask over [`Tlp::ALL`].
    profile_tlp: Vec<u8>,
    /// Values of each profile: `values[starts[p]..starts[p + 1]]`, as
    /// (index into `strs`, term ordinal), in column order.
    starts: Vec<u32>,
    values: Vec<(u16, u32)>,
    /// Flag values of each profile (`None`: no value).
    flags: Vec<[Option<bool>; 3]>,
    /// The keyword columns this segment has, in [`KeywordField::ALL`] order.
    strs: Vec<(&'static str, StrColumn)>,
    /// Documents visible at each mask of TLP levels, built when first asked.
    visible: Mutex<Vec<(u8, Arc<DocBits>)>>,
    /// Document frequencies of `all` terms looked up so far (similar
    /// incidents look up hundreds per probe); at most [`ALL_DF_CACHED`].
    all_df: Mutex<HashMap<Box<str>, u32, BuildHasherDefault<FxHasher>>>,
}

/// Terms whose `all` document frequency a segment table keeps (a few MB).
const ALL_DF_CACHED: usize = 131_072;

impl SegmentTable {
    fn build(segment: &SegmentReader) -> tantivy::Result<SegmentTable> {
        let ff = segment.fast_fields();
        let mut strs = Vec::new();
        for k in KeywordField::ALL {
            if let Some(col) = ff.str(k.name())? {
                strs.push((k.name(), col));
            }
        }
        let mut flag_cols = Vec::with_capacity(FlagField::ALL.len());
        for f in FlagField::ALL {
            flag_cols.push(ff.bool(f.name())?);
        }
        // The TLP level of each ordinal of the tlp column: a document is
        // visible exactly when one of its tlp terms is a visible level's.
        let tlp_slot = strs
            .iter()
            .position(|(n, _)| *n == KeywordField::Tlp.name());
        let mut tlp_of_ord: Vec<u8> = Vec::new();
        if let Some(slot) = tlp_slot {
            let col = &strs[slot].1;
            let mut buf = String::new();
            for ord in 0..col.num_terms() as u64 {
                buf.clear();
                let mut m = 0u8;
                if col.ord_to_str(ord, &mut buf)? {
                    for t in Tlp::ALL {
                        if t.as_str() == buf {
                            m |= 1 << tlp_index(t);
                        }
                    }
                }
                tlp_of_ord.push(m);
            }
        }
        let max_doc = segment.max_doc();
        let mut ids: HashMap<Vec<u64>, u32, BuildHasherDefault<FxHasher>> = HashMap::default();
        let mut profile_of = Vec::with_capacity(max_doc as usize);
        let mut profile_tlp = Vec::new();
        let mut starts = vec![0u32];
        let mut values: Vec<(u16, u32)> = Vec::new();
        let mut flags = Vec::new();
        let mut key: Vec<u64> = Vec::with_capacity(32);
        for doc in 0..max_doc {
            key.clear();
            for (slot, (_, col)) in strs.iter().enumerate() {
                let ords = col.ords();
                let tag = (slot as u64 + 1) << 32;
                if ords.get_cardinality() == Cardinality::Multivalued {
                    key.extend(ords.values_for_doc(doc).map(|o| tag | o));
                } else if let Some(o) = ords.first(doc) {
                    key.push(tag | o);
                }
            }
            let mut fl = [None; 3];
            for (i, col) in flag_cols.iter().enumerate() {
                fl[i] = col.first(doc);
                let code = match fl[i] {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                };
                key.push(((1000 + i as u64) << 32) | code);
            }
            let next = ids.len() as u32;
            let id = *ids.entry(key.clone()).or_insert(next);
            if id == next {
                let mut tlp = 0u8;
                for &k in key.iter() {
                    let slot = (k >> 32) as usize;
                    if slot == 0 || slot > strs.len() {
                        continue;
                    }
                    let ord = (k & 0xFFFF_FFFF) as u32;
                    if Some(slot - 1) == tlp_slot {
                        tlp |= tlp_of_ord.get(ord as usize).copied().unwrap_or(0);
                    }
                    values.push(((slot - 1) as u16, ord));
                }
                starts.push(values.len() as u32);
                profile_tlp.push(tlp);
                flags.push(fl);
            }
            profile_of.push(id);
        }
        Ok(SegmentTable {
            profile_of,
            profile_tlp,
            starts,
            values,
            flags,
            strs,
            visible: Mutex::new(Vec::new()),
            all_df: Mutex::new(HashMap::default()),
        })
    }

    /// The segment's document frequency of `term` in the `all` field,
    /// remembered.
    pub(crate) fn all_doc_freq(
        &self,
        term: &str,
        inverted: &tantivy::InvertedIndexReader,
        field: Field,
    ) -> tantivy::Result<u32> {
        if let Some(df) = self
            .all_df
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(term)
        {
            return Ok(*df);
        }
        let df = inverted.doc_freq(&Term::from_field_text(field, term))?;
        let mut cache = self.all_df.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() < ALL_DF_CACHED {
            cache.insert(term.into(), df);
        }
        Ok(df)
    }

    fn num_profiles(&self) -> usize {
        self.profile_tlp.len()
    }

    /// Which profiles are visible at `mask`.
    fn visible_profiles(&self, mask: u8) -> Vec<bool> {
        self.profile_tlp.iter().map(|t| t & mask != 0).collect()
    }

    /// The documents visible at `mask` (deleted ones included).
    pub(crate) fn visible_docs(&self, mask: u8) -> Arc<DocBits> {
        let mut cache = self.visible.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, bits)) = cache.iter().find(|(m, _)| *m == mask) {
            return bits.clone();
        }
        let profiles = self.visible_profiles(mask);
        let bits = Arc::new(DocBits::from_fn(self.profile_of.len() as u32, |doc| {
            profiles[self.profile_of[doc as usize] as usize]
        }));
        cache.push((mask, bits.clone()));
        bits
    }

    /// Facet counts from per-profile match counts.
    fn facet_counts(&self, profile_counts: &[u32]) -> tantivy::Result<FacetCounts> {
        let mut per_slot: Vec<Vec<u64>> = self
            .strs
            .iter()
            .map(|(_, col)| vec![0u64; col.num_terms()])
            .collect();
        let mut flag_counts = [[0u64; 2]; 3];
        for (p, &n) in profile_counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let n = u64::from(n);
            let (a, b) = (self.starts[p] as usize, self.starts[p + 1] as usize);
            for &(slot, ord) in &self.values[a..b] {
                if let Some(c) = per_slot[slot as usize].get_mut(ord as usize) {
                    *c += n;
                }
            }
            for (i, f) in self.flags[p].iter().enumerate() {
                if let Some(b) = f {
                    flag_counts[i][usize::from(*b)] += n;
                }
            }
        }
        let mut out = FacetCounts::new();
        let mut buf = String::new();
        for ((name, col), counts) in self.strs.iter().zip(per_slot) {
            let slot = out.entry(name.to_string()).or_default();
            for (ord, n) in counts.into_iter().enumerate() {
                if n > 0 {
                    buf.clear();
                    if col.ord_to_str(ord as u64, &mut buf)? {
                        *slot.entry(buf.clone()).or_default() += n;
                    }
                }
            }
        }
        for (f, [no, yes]) in FlagField::ALL.iter().zip(flag_counts) {
            let slot = out.entry(f.name().to_string()).or_default();
            if no > 0 {
                slot.insert("false".into(), no);
            }
            if yes > 0 {
                slot.insert("true".into(), yes);
            }
        }
        Ok(out)
    }
}

/// A set of documents of one segment, as bits.
#[derive(Debug)]
pub(crate) struct DocBits {
    words: Vec<u64>,
    max_doc: u32,
    len: u32,
}

impl DocBits {
    fn from_fn(max_doc: u32, mut contains: impl FnMut(DocId) -> bool) -> DocBits {
        let mut words = vec![0u64; (max_doc as usize).div_ceil(64)];
        let mut len = 0;
        for doc in 0..max_doc {
            if contains(doc) {
                words[(doc / 64) as usize] |= 1 << (doc % 64);
                len += 1;
            }
        }
        DocBits {
            words,
            max_doc,
            len,
        }
    }

    /// The first document at or after `doc`, or `TERMINATED`.
    fn next_from(&self, doc: DocId) -> DocId {
        if doc >= self.max_doc {
            return TERMINATED;
        }
        let mut w = (doc / 64) as usize;
        let mut bits = self.words[w] & (u64::MAX << (doc % 64));
        loop {
            if bits != 0 {
                let d = (w as u32) * 64 + bits.trailing_zeros();
                return if d < self.max_doc { d } else { TERMINATED };
            }
            w += 1;
            if w >= self.words.len() {
                return TERMINATED;
            }
            bits = self.words[w];
        }
    }

    pub(crate) fn contains(&self, doc: DocId) -> bool {
        doc < self.max_doc && self.words[(doc / 64) as usize] & (1 << (doc % 64)) != 0
    }
}

/// A [`DocSet`] over shared [`DocBits`].
pub(crate) struct DocBitsSet {
    bits: Arc<DocBits>,
    doc: DocId,
}

impl DocBitsSet {
    pub(crate) fn new(bits: Arc<DocBits>) -> Self {
        let doc = bits.next_from(0);
        DocBitsSet { bits, doc }
    }
}

impl DocSet for DocBitsSet {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            self.doc = self.bits.next_from(self.doc + 1);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if target > self.doc {
            self.doc = self.bits.next_from(target);
        }
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.bits.len
    }
}

/// The [`SegmentTable`]s of the segments live readers use: built by the
/// reader's warmer before a new searcher is published (so no search pays
/// for them), dropped with the last searcher that uses their segment.
#[derive(Default)]
pub(crate) struct SegmentTables {
    tables: RwLock<HashMap<SegmentId, Arc<SegmentTable>>>,
}

impl std::fmt::Debug for SegmentTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.tables.read().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("SegmentTables")
            .field("segments", &n)
            .finish()
    }
}

impl SegmentTables {
    /// The table of a segment, built now if the warmer has not.
    pub(crate) fn get(&self, segment: &SegmentReader) -> tantivy::Result<Arc<SegmentTable>> {
        let id = segment.segment_id();
        if let Some(t) = self
            .tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(t.clone());
        }
        let table = Arc::new(SegmentTable::build(segment)?);
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        Ok(tables.entry(id).or_insert(table).clone())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.tables.read().map(|t| t.len()).unwrap_or(0)
    }
}

impl Warmer for SegmentTables {
    fn warm(&self, searcher: &tantivy::Searcher) -> tantivy::Result<()> {
        for segment in searcher.segment_readers() {
            self.get(segment)?;
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: HashSet<SegmentId> = live_generations
            .iter()
            .flat_map(|g| g.segments().keys().copied())
            .collect();
        self.tables
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|id, _| live.contains(id));
    }
}

/// One pass over the matching documents for a page of results: the top
/// documents (any tantivy top-docs collector), the number of visible
/// matches and, when asked, the facet counts. Documents the reader may not
/// see are skipped before anything counts them.
pub(crate) struct PageCollector<C> {
    top: C,
    visible: u8,
    facets: bool,
    tables: Arc<SegmentTables>,
    exclude: Option<DocAddress>,
}

impl<C> PageCollector<C> {
    pub(crate) fn new(top: C, visible: u8, facets: bool, tables: Arc<SegmentTables>) -> Self {
        PageCollector {
            top,
            visible,
            facets,
            tables,
            exclude: None,
        }
    }

    /// Leaves one document out (a similar-incident probe).
    pub(crate) fn excluding(mut self, doc: Option<DocAddress>) -> Self {
        self.exclude = doc;
        self
    }
}

pub(crate) struct PageSegmentCollector<S> {
    top: S,
    table: Arc<SegmentTable>,
    visible: Vec<bool>,
    count: u64,
    profile_counts: Vec<u32>,
    facets: bool,
    exclude: Option<DocId>,
}

impl<S: SegmentCollector> PageSegmentCollector<S> {
    #[inline]
    fn accept(&mut self, doc: DocId) -> bool {
        let p = self
            .table
            .profile_of
            .get(doc as usize)
            .copied()
            .unwrap_or(u32::MAX) as usize;
        if !self.visible.get(p).copied().unwrap_or(false) || self.exclude == Some(doc) {
            return false;
        }
        self.count += 1;
        if self.facets {
            self.profile_counts[p] += 1;
        }
        true
    }
}

impl<S: SegmentCollector> SegmentCollector for PageSegmentCollector<S> {
    type Fruit = tantivy::Result<(S::Fruit, u64, FacetCounts)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.accept(doc) {
            self.top.collect(doc, score);
        }
    }

    fn harvest(self) -> Self::Fruit {
        let facets = if self.facets {
            self.table.facet_counts(&self.profile_counts)?
        } else {
            FacetCounts::new()
        };
        Ok((self.top.harvest(), self.count, facets))
    }
}

impl<C: Collector> Collector for PageCollector<C> {
    type Fruit = (C::Fruit, u64, FacetCounts);
    type Child = PageSegmentCollector<C::Child>;

    fn for_segment(
        &self,
        segment_ord: u32,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let table = self.tables.get(segment)?;
        let profile_counts = if self.facets {
            vec![0u32; table.num_profiles()]
        } else {
            Vec::new()
        };
        Ok(PageSegmentCollector {
            top: self.top.for_segment(segment_ord, segment)?,
            visible: table.visible_profiles(self.visible),
            table,
            count: 0,
            profile_counts,
            facets: self.facets,
            exclude: self
                .exclude
                .filter(|a| a.segment_ord == segment_ord)
                .map(|a| a.doc_id),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.top.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<tantivy::Result<(<C::Child as SegmentCollector>::Fruit, u64, FacetCounts)>>,
    ) -> tantivy::Result<Self::Fruit> {
        let mut tops = Vec::with_capacity(fruits.len());
        let mut total = 0u64;
        let mut out = FacetCounts::new();
        for fruit in fruits {
            let (top, count, facets) = fruit?;
            tops.push(top);
            total += count;
            for (field, values) in facets {
                let slot = out.entry(field).or_default();
                for (v, n) in values {
                    *slot.entry(v).or_default() += n;
                }
            }
        }
        Ok((self.top.merge_fruits(tops)?, total, out))
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<<Self::Child as SegmentCollector>::Fruit> {
        let mut child = self.for_segment(segment_ord, reader)?;
        let alive = reader.alive_bitset();
        if self.requires_scoring() {
            weight.for_each(reader, &mut |doc, score| {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    child.collect(doc, score);
                }
            })?;
        } else {
            let mut buf: Vec<DocId> = Vec::with_capacity(COLLECT_BLOCK_BUFFER_LEN);
            weight.for_each_no_score(reader, &mut |docs| {
                buf.clear();
                for &doc in docs {
                    if alive.is_none_or(|a| a.is_alive(doc)) && child.accept(doc) {
                        buf.push(doc);
                    }
                }
                child.top.collect_block(&buf);
            })?;
        }
        Ok(child.harvest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::WriterOptions;

    fn doc(id: &str, tlp: Tlp, severity: &str) -> IndexDoc {
        let mut d = IndexDoc::new(id, format!("router outage {id}"), tlp);
        d.severity = Some(severity.into());
        d.services = vec!["voice".into(), "data".into()];
        d
    }

    #[test]
    fn segment_tables_are_warmed_per_segment_rebuilt_on_demand_and_dropped() {
        let index = IncidentIndex::create_in_ram().unwrap();
        let mut w = index
            .writer_with(WriterOptions {
                threads: 1,
                heap_bytes: 16_000_000,
                ..Default::default()
            })
            .unwrap();
        w.upsert(&doc("a", Tlp::Clear, "minor")).unwrap();
        w.upsert(&doc("b", Tlp::Red, "minor")).unwrap();
        w.commit(1).unwrap();
        w.upsert(&doc("c", Tlp::Green, "major")).unwrap();
        w.commit(2).unwrap();
        let tables = index.segment_tables();
        let searcher = index.searcher();
        assert_eq!(searcher.segment_readers().len(), 2);
        // The reader's warmer built them on reload.
        assert_eq!(tables.len(), 2);
        let seg = &searcher.segment_readers()[0];
        let t = tables.get(seg).unwrap();
        // Two documents with the same values but different TLP levels are
        // two profiles; visibility follows the level.
        assert_eq!(t.num_profiles(), 2);
        let mask = visibility_mask(&[Tlp::Clear, Tlp::Green]);
        let visible: Vec<bool> = (0..seg.max_doc())
            .map(|d| t.visible_docs(mask).contains(d))
            .collect();
        assert_eq!(visible.iter().filter(|v| **v).count(), 1);
        // Dropped when no live searcher generation has the segment.
        tables.garbage_collect(&[]);
        assert_eq!(tables.len(), 0);
        // And built again when a search needs them.
        let r = index
            .search(&SearchRequest::new("router"), &[Tlp::Clear, Tlp::Green])
            .unwrap();
        assert_eq!(r.total, 2);
        assert_eq!(r.facets["severity"]["minor"], 1);
        assert_eq!(r.facets["severity"]["major"], 1);
        assert_eq!(r.facets["service"]["voice"], 2);
        assert_eq!(r.facets["tlp"].get("red"), None);
        assert_eq!(tables.len(), 2);
    }

    #[test]
    fn doc_bits_iterate_and_seek() {
        let bits = Arc::new(DocBits::from_fn(200, |d| d % 63 == 5 || d == 199));
        let mut set = DocBitsSet::new(bits.clone());
        let mut got = vec![set.doc()];
        while set.advance() != TERMINATED {
            got.push(set.doc());
        }
        assert_eq!(got, vec![5, 68, 131, 194, 199]);
        let mut set = DocBitsSet::new(bits);
        assert_eq!(set.seek(69), 131);
        assert_eq!(set.seek(131), 131);
        assert_eq!(set.seek(198), 199);
        assert_eq!(set.advance(), TERMINATED);
        assert_eq!(set.size_hint(), 5);
        let empty = Arc::new(DocBits::from_fn(0, |_| true));
        assert_eq!(DocBitsSet::new(empty).doc(), TERMINATED);
    }
}
