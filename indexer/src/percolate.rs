//! Matching documents against stored queries (saved searches of alerts).
//!
//! Policy:
//! - A stored query matches a document exactly when a search with the same
//!   query string, filters and reader visibility would return it: the
//!   documents are put in a throwaway in-memory index with the search
//!   index's own mapping and analysers, and the query is built by the same
//!   code as [`IncidentIndex::search`]. Scores play no part: a document
//!   matches or it does not.
//! - Why a document matched is what can be shown of the match without
//!   reading anything outside the document: the words of the query found
//!   in it (quoted as the document writes them, with the field), and its
//!   values for the filters.
//! - Like every read of this crate, the caller's visibility is a mandatory
//!   filter: a document above the reader's TLP never matches.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, DocSetCollector};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TokenStream;
use tantivy::{TantivyDocument, Term};

use crate::analysis::ANALYZER_NAME;
use crate::doc::{IndexDoc, Tlp, normalise_value};
use crate::error::Result;
use crate::index::{IncidentIndex, WriterOptions};
use crate::search::{Filters, filter};

/// tantivy's smallest writer budget is 15 MB per thread; a batch of new
/// reports needs no more.
const BATCH_HEAP_BYTES: usize = 16_000_000;

/// One reason a document matched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MatchReason {
    /// `title`, `summary`, `body` or `lessons` for a word of the query;
    /// otherwise the field of a filter or of a `field:value` query term
    /// (`service`, `trigger`, `emergency_service_affected`, `started_on`, ...).
    pub field: String,
    /// The word as the document writes it, or the document's value.
    pub value: String,
}

/// A document that matched a stored query, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMatch {
    pub id: String,
    pub reasons: Vec<MatchReason>,
}

/// A batch of documents to match stored queries against.
pub struct MatchBatch {
    index: IncidentIndex,
    docs: HashMap<String, IndexDoc>,
}

impl std::fmt::Debug for MatchBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchBatch")
            .field("docs", &self.docs.len())
            .finish_non_exhaustive()
    }
}

impl MatchBatch {
    /// Indexes `docs` in memory (a later document with the same id replaces
    /// an earlier one).
    pub fn new(docs: Vec<IndexDoc>) -> Result<MatchBatch> {
        let index = IncidentIndex::create_in_ram()?;
        if !docs.is_empty() {
            let mut writer = index.writer_with(WriterOptions {
                threads: 1,
                heap_bytes: BATCH_HEAP_BYTES,
                ..Default::default()
            })?;
            for doc in &docs {
                writer.upsert(doc)?;
            }
            writer.commit(0)?;
            writer.finish()?;
        }
        let docs = docs.into_iter().map(|d| (d.id.clone(), d)).collect();
        Ok(MatchBatch { index, docs })
    }

    /// Checks a stored query and its filters without any document: the
    /// errors a search with them would give ([`crate::IndexError::InvalidQuery`]
    /// or [`crate::IndexError::InvalidRequest`]).
    pub fn check(query: &str, filters: &Filters) -> Result<()> {
        MatchBatch::new(Vec::new())?
            .matches(query, filters, &Tlp::ALL)
            .map(|_| ())
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The documents of the batch that a search with `query` and `filters`
    /// by a reader who may see `visibility` would return, ordered by id,
    /// each with why it matched.
    pub fn matches(
        &self,
        query: &str,
        filters: &Filters,
        visibility: &[Tlp],
    ) -> Result<Vec<DocMatch>> {
        let user_query = self.index.parse_user_query(query)?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, user_query.box_clone())];
        clauses.push((Occur::Must, filter(self.index.visibility_query(visibility))));
        for q in self.index.filter_queries(filters)? {
            clauses.push((Occur::Must, filter(q)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.index.searcher();
        let found = searcher.search(&query, &DocSetCollector)?;
        let fields = self.index.fields();
        let mut ids = BTreeSet::new();
        for addr in found {
            let d: TantivyDocument = searcher.doc(addr)?;
            if let Some(id) = d
                .get_first(fields.id)
                .and_then(|v| tantivy::schema::Value::as_str(&v).map(str::to_owned))
            {
                ids.insert(id);
            }
        }
        let mut query_terms: BTreeSet<Term> = BTreeSet::new();
        user_query.query_terms(&mut |term, _| {
            query_terms.insert(term.clone());
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(doc) = self.docs.get(&id) else {
                continue;
            };
            let mut reasons = self.term_reasons(&searcher, doc, &query_terms)?;
            reasons.extend(filter_reasons(doc, filters));
            reasons.dedup();
            out.push(DocMatch { id, reasons });
        }
        Ok(out)
    }

    /// The query's terms present in `doc`: text words quoted as written.
    fn term_reasons(
        &self,
        searcher: &tantivy::Searcher,
        doc: &IndexDoc,
        terms: &BTreeSet<Term>,
    ) -> Result<Vec<MatchReason>> {
        let fields = self.index.fields();
        let schema = &fields.schema;
        let id_query: Box<dyn Query> = Box::new(TermQuery::new(
            fields.id_term(&doc.id),
            IndexRecordOption::Basic,
        ));
        let mut reasons = Vec::new();
        for term in terms {
            let present = BooleanQuery::new(vec![
                (Occur::Must, id_query.box_clone()),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
                ),
            ]);
            if searcher.search(&present, &Count)? == 0 {
                continue;
            }
            let field = schema.get_field_name(term.field()).to_owned();
            let value = term.value();
            let Some(token) = value.as_str() else {
                // A flag named in the query; dates and numbers have no
                // single value worth quoting.
                if let Some(b) = value.as_bool() {
                    reasons.push(MatchReason {
                        field,
                        value: b.to_string(),
                    });
                }
                continue;
            };
            let text = match field.as_str() {
                "title" => Some(doc.title.clone()),
                "summary" => Some(doc.summary.clone()),
                "body" => Some(doc.body.clone()),
                "lessons" => Some(doc.lessons.join("\n")),
                _ => None,
            };
            let value = match text {
                Some(text) => self
                    .as_written(&text, token)
                    .unwrap_or_else(|| token.to_owned()),
                None => token.to_owned(),
            };
            reasons.push(MatchReason { field, value });
        }
        reasons.sort();
        Ok(reasons)
    }

    /// The first word of `text` that analyses to `token`, as written.
    fn as_written(&self, text: &str, token: &str) -> Option<String> {
        let mut analyzer = self.index.tantivy_index().tokenizers().get(ANALYZER_NAME)?;
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            let t = stream.token();
            if t.text == token {
                return text.get(t.offset_from..t.offset_to).map(str::to_owned);
            }
        }
        None
    }
}

/// The document's values for the filters it satisfied.
fn filter_reasons(doc: &IndexDoc, filters: &Filters) -> Vec<MatchReason> {
    let mut reasons = Vec::new();
    for (field, wanted) in &filters.keywords {
        let wanted: BTreeSet<String> = wanted.iter().filter_map(|v| normalise_value(v)).collect();
        for value in field.values(doc) {
            if wanted.contains(&value) {
                reasons.push(MatchReason {
                    field: field.name().to_owned(),
                    value,
                });
            }
        }
    }
    for (flag, value) in &filters.flags {
        reasons.push(MatchReason {
            field: flag.name().to_owned(),
            value: value.to_string(),
        });
    }
    if filters.published_from.is_some() || filters.published_to.is_some() {
        reasons.push(MatchReason {
            field: "published_on".into(),
            value: doc.published_at.date_naive().to_string(),
        });
    }
    if (filters.started_from.is_some() || filters.started_to.is_some())
        && let Some(day) = doc.started_on
    {
        reasons.push(MatchReason {
            field: "started_on".into(),
            value: day.format("%Y-%m").to_string(),
        });
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{FlagField, KeywordField};

    fn doc(id: &str, tlp: Tlp, summary: &str) -> IndexDoc {
        let mut d = IndexDoc::new(id, format!("Outage {id}"), tlp);
        d.summary = summary.to_owned();
        d.services = vec!["voice".into(), "volte".into()];
        d.trigger = Some("software_upgrade".into());
        d.emergency_service_affected = true;
        d
    }

    fn batch() -> MatchBatch {
        MatchBatch::new(vec![
            doc("a", Tlp::Green, "The P-CSCF pool failed after upgrades."),
            doc("b", Tlp::Amber, "The P-CSCF pool failed after upgrades."),
            doc("c", Tlp::Green, "A fibre cut isolated the core."),
        ])
        .expect("batch")
    }

    fn ids(m: &[DocMatch]) -> Vec<&str> {
        m.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn matches_like_search_within_visibility() {
        let b = batch();
        let member = Tlp::Green.up_to();
        let analyst = Tlp::Amber.up_to();
        let none = Filters::default();
        assert_eq!(ids(&b.matches("p-cscf", &none, &member).expect("m")), ["a"]);
        assert_eq!(
            ids(&b.matches("p-cscf", &none, &analyst).expect("m")),
            ["a", "b"]
        );
        assert_eq!(
            ids(&b.matches("", &none, &member).expect("m")),
            ["a", "c"],
            "an empty query matches every visible document"
        );
        assert!(
            b.matches("zebrafinch", &none, &analyst)
                .expect("m")
                .is_empty()
        );
        assert_eq!(
            ids(&b.matches("pool NOT fibre", &none, &member).expect("m")),
            ["a"]
        );
        let filtered =
            Filters::default().with(KeywordField::Trigger, &["fibre_cut", "software_upgrade"]);
        assert_eq!(
            ids(&b.matches("", &filtered, &member).expect("m")),
            ["a", "c"]
        );
        let not_flagged = Filters::default().with_flag(FlagField::EmergencyServiceAffected, false);
        assert!(b.matches("", &not_flagged, &analyst).expect("m").is_empty());
    }

    #[test]
    fn says_why_with_words_as_written_and_filter_values() {
        let b = batch();
        let filters = Filters::default()
            .with(KeywordField::Service, &["VoLTE", "sms"])
            .with_flag(FlagField::EmergencyServiceAffected, true);
        let m = b
            .matches("upgrade AND p-cscf", &filters, &Tlp::Green.up_to())
            .expect("m");
        assert_eq!(ids(&m), ["a"]);
        let reasons = &m[0].reasons;
        let has =
            |field: &str, value: &str| reasons.iter().any(|r| r.field == field && r.value == value);
        assert!(has("summary", "P-CSCF"), "{reasons:?}");
        assert!(
            has("summary", "upgrades"),
            "stemmed match quoted as written: {reasons:?}"
        );
        assert!(has("service", "volte"), "{reasons:?}");
        assert!(
            !has("service", "sms"),
            "only values the report has: {reasons:?}"
        );
        assert!(has("emergency_service_affected", "true"), "{reasons:?}");
    }

    #[test]
    fn bad_queries_and_filters_are_reported() {
        assert!(matches!(
            MatchBatch::check("title:(", &Filters::default()),
            Err(crate::IndexError::InvalidQuery { .. })
        ));
        assert!(matches!(
            MatchBatch::check("nosuchfield:x", &Filters::default()),
            Err(crate::IndexError::InvalidQuery { .. })
        ));
        let backwards = Filters {
            started_from: chrono::NaiveDate::from_ymd_opt(2024, 5, 1),
            started_to: chrono::NaiveDate::from_ymd_opt(2024, 1, 1),
            ..Filters::default()
        };
        assert!(matches!(
            MatchBatch::check("", &backwards),
            Err(crate::IndexError::InvalidRequest(_))
        ));
        assert!(MatchBatch::check("volte OR \"call server\"", &Filters::default()).is_ok());
    }
}
