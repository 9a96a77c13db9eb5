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

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::{DateTime as ChronoDateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{Cardinality, Column, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, QueryParserError,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DateTime, DocAddress, DocId, Order, Score, SegmentReader, TantivyDocument, Term};

use crate::analysis::ANALYZER_NAME;
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
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, user_query.box_clone())];
        clauses.push((Occur::Must, filter(self.visibility_query(visibility))));
        for q in self.filter_queries(&req.filters)? {
            clauses.push((Occur::Must, filter(q)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.searcher();
        let top = TopDocs::with_limit(req.limit).and_offset(req.offset);
        let facet_collector = FacetCollector::new(req.facets);
        let (page, total, facets): (Vec<(Option<Score>, DocAddress)>, usize, FacetCounts) =
            match req.sort {
                SortOrder::Relevance => {
                    let (p, t, f) =
                        searcher.search(&query, &(top.order_by_score(), Count, facet_collector))?;
                    (p.into_iter().map(|(s, a)| (Some(s), a)).collect(), t, f)
                }
                SortOrder::Newest | SortOrder::Oldest => {
                    let order = if req.sort == SortOrder::Newest {
                        Order::Desc
                    } else {
                        Order::Asc
                    };
                    let (p, t, f) = searcher.search(
                        &query,
                        &(
                            top.order_by_fast_field::<DateTime>(F_PUBLISHED_AT, order),
                            Count,
                            facet_collector,
                        ),
                    )?;
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
        let total = total as u64;
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

/// Snippet rendering shared by the hits of one search.
struct Snippets {
    generator: Option<SnippetGenerator>,
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
        let generator = (!terms_text.is_empty()).then(|| {
            let analyzer = index.tantivy_index().tokenizers().get(ANALYZER_NAME);
            analyzer
                .map(|a| SnippetGenerator::new(terms_text, a, index.fields().summary, max_chars))
        });
        Ok(Snippets {
            generator: generator.flatten(),
            max_chars,
        })
    }

    fn render(&self, doc: &IndexDoc) -> String {
        if let Some(generator) = &self.generator {
            let lessons = doc.lessons.join(" ");
            for text in [&doc.summary, &doc.body, &lessons, &doc.title] {
                let mut s = generator.snippet(text);
                if !s.highlighted().is_empty() {
                    s.set_snippet_prefix_postfix("<mark>", "</mark>");
                    return s.to_html();
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

/// Counts values of every keyword and flag field over the matching documents.
struct FacetCollector {
    enabled: bool,
}

impl FacetCollector {
    fn new(enabled: bool) -> Self {
        FacetCollector { enabled }
    }
}

struct FacetSegmentCollector {
    strs: Vec<(&'static str, StrColumn, Vec<u64>)>,
    flags: Vec<(&'static str, Column<bool>, [u64; 2])>,
    ord_buf: Vec<Option<u64>>,
    bool_buf: Vec<Option<bool>>,
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _ord: u32,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let mut strs = Vec::new();
        let mut flags = Vec::new();
        if self.enabled {
            let ff = segment.fast_fields();
            for k in KeywordField::ALL {
                if let Some(col) = ff.str(k.name())? {
                    let n = col.num_terms();
                    strs.push((k.name(), col, vec![0u64; n]));
                }
            }
            for f in FlagField::ALL {
                flags.push((f.name(), ff.bool(f.name())?, [0u64; 2]));
            }
        }
        Ok(FacetSegmentCollector {
            strs,
            flags,
            ord_buf: Vec::new(),
            bool_buf: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<tantivy::Result<FacetCounts>>,
    ) -> tantivy::Result<FacetCounts> {
        let mut out = FacetCounts::new();
        for fruit in fruits {
            for (field, values) in fruit? {
                let slot = out.entry(field).or_default();
                for (v, n) in values {
                    *slot.entry(v).or_default() += n;
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = tantivy::Result<FacetCounts>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for (_, col, counts) in &mut self.strs {
            let ords = col.ords();
            if ords.get_cardinality() == Cardinality::Multivalued {
                for ord in ords.values_for_doc(doc) {
                    if let Some(c) = counts.get_mut(ord as usize) {
                        *c += 1;
                    }
                }
            } else if let Some(ord) = ords.first(doc)
                && let Some(c) = counts.get_mut(ord as usize)
            {
                *c += 1;
            }
        }
        for (_, col, counts) in &mut self.flags {
            if let Some(b) = col.first(doc) {
                counts[usize::from(b)] += 1;
            }
        }
    }

    /// Batched counting: single-valued columns are read a block at a time,
    /// which is several times faster than value-by-value on large result
    /// sets.
    fn collect_block(&mut self, docs: &[DocId]) {
        for (_, col, counts) in &mut self.strs {
            let ords = col.ords();
            if ords.get_cardinality() == Cardinality::Multivalued {
                for &doc in docs {
                    for ord in ords.values_for_doc(doc) {
                        if let Some(c) = counts.get_mut(ord as usize) {
                            *c += 1;
                        }
                    }
                }
            } else {
                self.ord_buf.clear();
                self.ord_buf.resize(docs.len(), None);
                ords.first_vals(docs, &mut self.ord_buf);
                for ord in self.ord_buf.iter().flatten() {
                    if let Some(c) = counts.get_mut(*ord as usize) {
                        *c += 1;
                    }
                }
            }
        }
        for (_, col, counts) in &mut self.flags {
            self.bool_buf.clear();
            self.bool_buf.resize(docs.len(), None);
            col.first_vals(docs, &mut self.bool_buf);
            for b in self.bool_buf.iter().flatten() {
                counts[usize::from(*b)] += 1;
            }
        }
    }

    fn harvest(self) -> tantivy::Result<FacetCounts> {
        let mut out = FacetCounts::new();
        let mut buf = String::new();
        for (name, col, counts) in self.strs {
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
        for (name, _, [f, t]) in self.flags {
            let slot = out.entry(name.to_string()).or_default();
            if f > 0 {
                slot.insert("false".into(), f);
            }
            if t > 0 {
                slot.insert("true".into(), t);
            }
        }
        Ok(out)
    }
}
