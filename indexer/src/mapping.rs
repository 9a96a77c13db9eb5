//! The tantivy schema for incidents and the conversion between
//! [`IndexDoc`] and tantivy documents.
//!
//! Policy:
//! - Free text (`title`, `summary`, `body`, `lessons`) is analysed with the
//!   incident analyser, with positions (phrases) and stored (snippets).
//! - `all` holds every free-text field again, frequencies only and not
//!   stored: it is what similarity and clustering read document frequencies
//!   from. Each text is a value of its own (the terms of
//!   [`IndexDoc::full_text`], which joins them with line breaks).
//! - Enumerated fields are raw, case-folded strings, indexed (filters and
//!   `field:value` queries) and fast (facets); flags are bools; dates are
//!   seconds-precision date fields; numbers are fast and indexed.
//! - The id is a raw string term: upsert deletes by it before adding, which
//!   makes replaying a batch idempotent.

use chrono::{DateTime as ChronoDateTime, NaiveDate, NaiveTime, Utc};
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, NumericOptions,
    STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{TextAnalyzer, TokenizerManager};
use tantivy::{DateTime, Index, TantivyDocument, Term};

use crate::analysis::{ANALYZER_NAME, IncidentTokenizer, Mode};
use crate::doc::{IndexDoc, Tlp, normalise_value};
use crate::error::{IndexError, Result};

/// Enumerated (keyword) fields: filterable, faceted, usable as `field:value`
/// in queries. The names are the facet and filter keys of the API.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum KeywordField {
    Service,
    NetworkDomain,
    /// Main and other domains together.
    Domain,
    Asset,
    RootCauseCategory,
    Trigger,
    Severity,
    Region,
    Country,
    Tlp,
    Scope,
    OperatorType,
}

impl KeywordField {
    pub const ALL: [KeywordField; 12] = [
        KeywordField::Service,
        KeywordField::NetworkDomain,
        KeywordField::Domain,
        KeywordField::Asset,
        KeywordField::RootCauseCategory,
        KeywordField::Trigger,
        KeywordField::Severity,
        KeywordField::Region,
        KeywordField::Country,
        KeywordField::Tlp,
        KeywordField::Scope,
        KeywordField::OperatorType,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeywordField::Service => "service",
            KeywordField::NetworkDomain => "network_domain",
            KeywordField::Domain => "domain",
            KeywordField::Asset => "asset",
            KeywordField::RootCauseCategory => "root_cause_category",
            KeywordField::Trigger => "trigger",
            KeywordField::Severity => "severity",
            KeywordField::Region => "region",
            KeywordField::Country => "country",
            KeywordField::Tlp => "tlp",
            KeywordField::Scope => "scope",
            KeywordField::OperatorType => "operator_type",
        }
    }

    /// The values of this field in a document (normalised).
    pub fn values(self, doc: &IndexDoc) -> Vec<String> {
        let one = |v: &Option<String>| v.as_deref().and_then(normalise_value).into_iter().collect();
        let many = |v: &[String]| {
            let mut out: Vec<String> = v.iter().filter_map(|s| normalise_value(s)).collect();
            out.sort();
            out.dedup();
            out
        };
        match self {
            KeywordField::Service => many(&doc.services),
            KeywordField::NetworkDomain => one(&doc.network_domain),
            KeywordField::Domain => many(&doc.all_domains()),
            KeywordField::Asset => many(&doc.assets),
            KeywordField::RootCauseCategory => one(&doc.root_cause_category),
            KeywordField::Trigger => one(&doc.trigger),
            KeywordField::Severity => one(&doc.severity),
            KeywordField::Region => one(&doc.region),
            KeywordField::Country => one(&doc.country),
            KeywordField::Tlp => vec![doc.tlp.as_str().to_string()],
            KeywordField::Scope => one(&doc.scope),
            KeywordField::OperatorType => one(&doc.operator_type),
        }
    }
}

/// Threshold flags: filterable and faceted (`"true"`/`"false"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FlagField {
    EnisaUserHours1m,
    Fcc900kUserMinutes,
    EmergencyServiceAffected,
}

impl FlagField {
    pub const ALL: [FlagField; 3] = [
        FlagField::EnisaUserHours1m,
        FlagField::Fcc900kUserMinutes,
        FlagField::EmergencyServiceAffected,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FlagField::EnisaUserHours1m => "enisa_user_hours_1m",
            FlagField::Fcc900kUserMinutes => "fcc_900k_user_minutes",
            FlagField::EmergencyServiceAffected => "emergency_service_affected",
        }
    }

    pub fn value(self, doc: &IndexDoc) -> bool {
        match self {
            FlagField::EnisaUserHours1m => doc.enisa_user_hours_1m,
            FlagField::Fcc900kUserMinutes => doc.fcc_900k_user_minutes,
            FlagField::EmergencyServiceAffected => doc.emergency_service_affected,
        }
    }
}

/// Handles to the schema's fields.
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub id: Field,
    pub title: Field,
    pub summary: Field,
    pub body: Field,
    pub lessons: Field,
    pub all: Field,
    pub other_domain: Field,
    keywords: Vec<(KeywordField, Field)>,
    flags: Vec<(FlagField, Field)>,
    pub published_at: Field,
    pub started_on: Field,
    pub duration_minutes: Field,
    pub user_hours: Field,
    pub revision: Field,
}

pub(crate) const F_PUBLISHED_AT: &str = "published_at";
pub(crate) const F_STARTED_ON: &str = "started_on";
pub(crate) const F_ID: &str = "id";
pub(crate) const F_REVISION: &str = "revision";

impl Fields {
    pub fn build_schema() -> Schema {
        let mut b = Schema::builder();
        let text = |stored: bool, positions: bool| {
            let idx = TextFieldIndexing::default()
                .set_tokenizer(ANALYZER_NAME)
                .set_index_option(if positions {
                    IndexRecordOption::WithFreqsAndPositions
                } else {
                    IndexRecordOption::WithFreqs
                });
            let o = TextOptions::default().set_indexing_options(idx);
            if stored { o.set_stored() } else { o }
        };
        b.add_text_field(F_ID, STRING | STORED | FAST);
        b.add_text_field("title", text(true, true));
        b.add_text_field("summary", text(true, true));
        b.add_text_field("body", text(true, true));
        b.add_text_field("lessons", text(true, true));
        b.add_text_field("all", text(false, false));
        b.add_text_field("other_domain", STRING | STORED);
        for k in KeywordField::ALL {
            // `domain` is derived from network_domain + other_domain, so it
            // need not be stored.
            if k == KeywordField::Domain {
                b.add_text_field(k.name(), STRING | FAST);
            } else {
                b.add_text_field(k.name(), STRING | FAST | STORED);
            }
        }
        for f in FlagField::ALL {
            b.add_bool_field(f.name(), INDEXED | FAST | STORED);
        }
        // Microseconds: publication times order results, and equal
        // seconds must not leave the order to segment layout.
        let date = DateOptions::from(INDEXED | FAST | STORED)
            .set_precision(DateTimePrecision::Microseconds);
        b.add_date_field(F_PUBLISHED_AT, date.clone());
        b.add_date_field(F_STARTED_ON, date);
        let num = NumericOptions::from(INDEXED | FAST | STORED);
        b.add_u64_field("duration_minutes", num.clone());
        b.add_f64_field("user_hours", num);
        // Fast and stored only: compared with the database, never queried.
        b.add_u64_field(
            F_REVISION,
            NumericOptions::default().set_fast().set_stored(),
        );
        b.build()
    }

    pub fn from_schema(schema: Schema) -> Result<Fields> {
        let get = |name: &str| {
            schema.get_field(name).map_err(|_| IndexError::Layout {
                path: Default::default(),
                reason: format!("index schema has no field '{name}'"),
            })
        };
        Ok(Fields {
            id: get(F_ID)?,
            title: get("title")?,
            summary: get("summary")?,
            body: get("body")?,
            lessons: get("lessons")?,
            all: get("all")?,
            other_domain: get("other_domain")?,
            keywords: KeywordField::ALL
                .iter()
                .map(|k| Ok((*k, get(k.name())?)))
                .collect::<Result<_>>()?,
            flags: FlagField::ALL
                .iter()
                .map(|f| Ok((*f, get(f.name())?)))
                .collect::<Result<_>>()?,
            published_at: get(F_PUBLISHED_AT)?,
            started_on: get(F_STARTED_ON)?,
            duration_minutes: get("duration_minutes")?,
            user_hours: get("user_hours")?,
            revision: get(F_REVISION)?,
            schema,
        })
    }

    pub fn keyword(&self, k: KeywordField) -> Field {
        // The vector is built from KeywordField::ALL, so every variant is present.
        self.keywords
            .iter()
            .find(|(kk, _)| *kk == k)
            .map(|(_, f)| *f)
            .unwrap_or(self.id)
    }

    pub fn flag(&self, f: FlagField) -> Field {
        self.flags
            .iter()
            .find(|(ff, _)| *ff == f)
            .map(|(_, x)| *x)
            .unwrap_or(self.id)
    }

    pub fn text_fields(&self) -> [Field; 4] {
        [self.title, self.summary, self.body, self.lessons]
    }

    pub fn id_term(&self, id: &str) -> Term {
        Term::from_field_text(self.id, id)
    }

    pub fn tlp_term(&self, tlp: Tlp) -> Term {
        Term::from_field_text(self.keyword(KeywordField::Tlp), tlp.as_str())
    }

    pub fn to_document(&self, doc: &IndexDoc) -> Result<TantivyDocument> {
        doc.validate()?;
        let mut d = TantivyDocument::new();
        d.add_text(self.id, &doc.id);
        d.add_text(self.title, &doc.title);
        d.add_text(self.summary, &doc.summary);
        d.add_text(self.body, &doc.body);
        for l in &doc.lessons {
            d.add_text(self.lessons, l);
        }
        // `all` gets each text again as a value of its own rather than
        // joined: the same terms, frequencies and length (it has no
        // positions), and the analyser reuses the tokens it just made.
        for part in doc.text_parts() {
            d.add_text(self.all, part);
        }
        for v in doc.other_domains.iter().filter_map(|s| normalise_value(s)) {
            d.add_text(self.other_domain, v);
        }
        for (k, f) in &self.keywords {
            for v in k.values(doc) {
                d.add_text(*f, v);
            }
        }
        for (k, f) in &self.flags {
            d.add_bool(*f, k.value(doc));
        }
        d.add_date(self.published_at, to_tantivy_date(doc.published_at));
        if let Some(day) = doc.started_on {
            d.add_date(self.started_on, date_to_tantivy(day));
        }
        if let Some(m) = doc.duration_minutes {
            d.add_u64(self.duration_minutes, m);
        }
        if let Some(h) = doc.user_hours {
            d.add_f64(self.user_hours, h);
        }
        d.add_u64(self.revision, doc.revision);
        Ok(d)
    }

    /// Rebuilds the [`IndexDoc`] from a stored document.
    pub fn from_document(&self, d: &TantivyDocument) -> IndexDoc {
        let texts = |f: Field| -> Vec<String> {
            d.get_all(f)
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let first = |f: Field| d.get_first(f).and_then(|v| v.as_str().map(str::to_string));
        let kw = |k: KeywordField| first(self.keyword(k));
        let flag = |k: FlagField| d.get_first(self.flag(k)).and_then(|v| v.as_bool()) == Some(true);
        let date = |f: Field| {
            d.get_first(f)
                .and_then(|v| v.as_datetime())
                .and_then(from_tantivy_date)
        };
        // A stored document always has a valid tlp; should it not, the most
        // restrictive level is the safe reading.
        let tlp = kw(KeywordField::Tlp)
            .and_then(|s| s.parse::<Tlp>().ok())
            .unwrap_or(Tlp::Red);
        IndexDoc {
            id: first(self.id).unwrap_or_default(),
            revision: d
                .get_first(self.revision)
                .and_then(|v| v.as_u64())
                .unwrap_or_default(),
            title: first(self.title).unwrap_or_default(),
            summary: first(self.summary).unwrap_or_default(),
            body: first(self.body).unwrap_or_default(),
            lessons: texts(self.lessons),
            services: texts(self.keyword(KeywordField::Service)),
            network_domain: kw(KeywordField::NetworkDomain),
            other_domains: texts(self.other_domain),
            assets: texts(self.keyword(KeywordField::Asset)),
            root_cause_category: kw(KeywordField::RootCauseCategory),
            trigger: kw(KeywordField::Trigger),
            severity: kw(KeywordField::Severity),
            region: kw(KeywordField::Region),
            country: kw(KeywordField::Country),
            tlp,
            scope: kw(KeywordField::Scope),
            operator_type: kw(KeywordField::OperatorType),
            enisa_user_hours_1m: flag(FlagField::EnisaUserHours1m),
            fcc_900k_user_minutes: flag(FlagField::Fcc900kUserMinutes),
            emergency_service_affected: flag(FlagField::EmergencyServiceAffected),
            published_at: date(self.published_at).unwrap_or(ChronoDateTime::<Utc>::UNIX_EPOCH),
            started_on: date(self.started_on).map(|dt| dt.date_naive()),
            duration_minutes: d.get_first(self.duration_minutes).and_then(|v| v.as_u64()),
            user_hours: d.get_first(self.user_hours).and_then(|v| v.as_f64()),
        }
    }
}

pub(crate) fn to_tantivy_date(dt: ChronoDateTime<Utc>) -> DateTime {
    DateTime::from_timestamp_micros(dt.timestamp_micros())
}

pub(crate) fn date_to_tantivy(day: NaiveDate) -> DateTime {
    to_tantivy_date(day.and_time(NaiveTime::MIN).and_utc())
}

pub(crate) fn from_tantivy_date(dt: DateTime) -> Option<ChronoDateTime<Utc>> {
    ChronoDateTime::<Utc>::from_timestamp(dt.into_timestamp_secs(), 0)
}

/// Registers the incident analyser (index mode) on an index.
pub(crate) fn register_analyzers(index: &Index) {
    index.tokenizers().register(
        ANALYZER_NAME,
        TextAnalyzer::from(IncidentTokenizer::new(Mode::Index)),
    );
}

/// A tokenizer manager whose incident analyser runs in query mode, for the
/// query parser.
pub(crate) fn query_tokenizers() -> TokenizerManager {
    let m = TokenizerManager::default();
    m.register(
        ANALYZER_NAME,
        TextAnalyzer::from(IncidentTokenizer::new(Mode::Query)),
    );
    m
}
