//! The intake pipeline every path into the registry goes through:
//! validate (done by the caller with `incidex_schema::report`) ->
//! anonymise every free-text field -> store.
//!
//! Anonymisation uses every member operator's names and aliases plus the
//! filer's own sensitive terms. The compiled matchers are cached and
//! rebuilt when the operator list or the filer's terms change, so the
//! cache is correct across replicas too (each checks a cheap fingerprint).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use incidex_schema::db::identity;
use incidex_schema::db::{DbConnection, StorageError};
use incidex_schema::report::ReportContent;

use crate::anonymise::{Anonymiser, Scrubbed, SensitiveTerms};
use crate::error::ApiError;
use crate::views::StoredRedaction;

type Fingerprint = (i64, Option<NaiveDateTime>);
/// Members registered per country.
type CountryCounts = Arc<HashMap<String, usize>>;

/// Cached matchers; cheap to share.
#[derive(Default)]
pub struct AnonymiserCache {
    operators: Mutex<Option<(Fingerprint, Arc<Anonymiser>)>>,
    terms: Mutex<HashMap<String, (String, Arc<SensitiveTerms>)>>,
    countries: Mutex<Option<(Fingerprint, CountryCounts)>>,
}

impl std::fmt::Debug for AnonymiserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnonymiserCache").finish_non_exhaustive()
    }
}

impl AnonymiserCache {
    /// The anonymiser for the current operator list.
    pub fn anonymiser(&self, conn: &mut DbConnection) -> Result<Arc<Anonymiser>, StorageError> {
        let fingerprint = identity::operators_fingerprint(conn)?;
        if let Ok(guard) = self.operators.lock()
            && let Some((fp, a)) = guard.as_ref()
            && *fp == fingerprint
        {
            return Ok(a.clone());
        }
        let mut names = Vec::new();
        for op in identity::list_operators(conn)? {
            names.extend(op.alias_list()?);
            names.push(op.name);
        }
        let anonymiser = Arc::new(Anonymiser::new(&names));
        if let Ok(mut guard) = self.operators.lock() {
            *guard = Some((fingerprint, anonymiser.clone()));
        }
        Ok(anonymiser)
    }

    /// How many members are registered per country (for k-anonymity).
    pub fn country_counts(
        &self,
        conn: &mut DbConnection,
    ) -> Result<Arc<HashMap<String, usize>>, StorageError> {
        let fingerprint = identity::operators_fingerprint(conn)?;
        if let Ok(guard) = self.countries.lock()
            && let Some((fp, c)) = guard.as_ref()
            && *fp == fingerprint
        {
            return Ok(c.clone());
        }
        let counts: HashMap<String, usize> = identity::operators_per_country(conn)?
            .into_iter()
            .map(|(c, n)| (c, usize::try_from(n).unwrap_or(usize::MAX)))
            .collect();
        let counts = Arc::new(counts);
        if let Ok(mut guard) = self.countries.lock() {
            *guard = Some((fingerprint, counts.clone()));
        }
        Ok(counts)
    }

    /// The compiled sensitive terms of `operator_id`.
    pub fn terms(
        &self,
        conn: &mut DbConnection,
        operator_id: &str,
    ) -> Result<Arc<SensitiveTerms>, StorageError> {
        let row = identity::find_operator(conn, operator_id)?
            .ok_or_else(|| StorageError::Corrupt(format!("operator {operator_id} is missing")))?;
        if let Ok(guard) = self.terms.lock()
            && let Some((json, t)) = guard.get(operator_id)
            && *json == row.sensitive_terms
        {
            return Ok(t.clone());
        }
        let terms = Arc::new(SensitiveTerms::new(&row.sensitive_term_list()?));
        if let Ok(mut guard) = self.terms.lock() {
            guard.insert(
                operator_id.to_owned(),
                (row.sensitive_terms.clone(), terms.clone()),
            );
        }
        Ok(terms)
    }
}

/// A report after anonymisation, with what was redacted.
#[derive(Debug)]
pub struct Anonymised {
    pub content: ReportContent,
    /// Stored with the revision and shown to the owner: field, kind, span
    /// and placeholder, never the original text.
    pub redactions: Vec<StoredRedaction>,
}

/// Scrubs every free-text field of `content` as filed by `operator_id`.
pub fn anonymise_report(
    cache: &AnonymiserCache,
    conn: &mut DbConnection,
    operator_id: &str,
    content: ReportContent,
) -> Result<Anonymised, ApiError> {
    let anonymiser = cache.anonymiser(conn)?;
    let terms = cache.terms(conn, operator_id)?;
    Ok(anonymise_content(&anonymiser, &terms, content))
}

/// The pure part of the pipeline: every free-text field scrubbed.
pub fn anonymise_content(
    anonymiser: &Anonymiser,
    terms: &SensitiveTerms,
    mut content: ReportContent,
) -> Anonymised {
    let mut redactions = Vec::new();
    content.map_text_fields(|field, text| {
        let scrubbed = anonymiser.scrub(text, terms);
        redactions.extend(scrubbed.redactions.into_iter().map(|r| StoredRedaction {
            field: field.to_owned(),
            kind: r.kind,
            start: r.start,
            end: r.end,
            placeholder: r.placeholder,
        }));
        scrubbed.text
    });
    Anonymised {
        content,
        redactions,
    }
}

/// Scrubs one text as `operator_id` would file it (the dry run).
pub fn anonymise_text(
    cache: &AnonymiserCache,
    conn: &mut DbConnection,
    operator_id: &str,
    text: &str,
) -> Result<Scrubbed, ApiError> {
    let anonymiser = cache.anonymiser(conn)?;
    let terms = cache.terms(conn, operator_id)?;
    Ok(anonymiser.scrub(text, &terms))
}
