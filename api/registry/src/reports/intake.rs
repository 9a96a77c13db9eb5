//! The intake pipeline every path into the registry goes through:
//! validate (done at the edge with `incidex_schema::report`) -> anonymise
//! every free-text field with every member's names and aliases and the
//! filer's own sensitive terms -> store.

use incidex_schema::db::DbConnection;
use incidex_schema::report::ReportContent;

use crate::anonymise::{Anonymiser, Scrubbed, SensitiveTerms};
use crate::error::RegistryResult;
use crate::members::AnonymiserCache;
use crate::views::StoredRedaction;

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
) -> RegistryResult<Anonymised> {
    let members = cache.members(conn)?;
    let terms = members.terms(operator_id)?;
    Ok(anonymise_content(&members.anonymiser(), &terms, content))
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
) -> RegistryResult<Scrubbed> {
    let members = cache.members(conn)?;
    let terms = members.terms(operator_id)?;
    Ok(members.anonymiser().scrub(text, &terms))
}
