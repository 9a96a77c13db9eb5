//! [`ReportContent`]: a validated report, the value the rest of the system
//! works with.
//!
//! Policy:
//! - A `ReportContent` is made by [`ReportInput::validate`] (requests) or by
//!   deserialising what this type serialised (storage, which is trusted:
//!   reading back does not re-validate, so a tightened limit never makes a
//!   stored report unreadable). Request bodies must never be deserialised
//!   into it directly.
//! - It serialises exactly like the [`ReportInput`] it came from
//!   (transparent), so it round-trips through `serde_json` losslessly and
//!   can be turned back into an input for PATCH.
//! - Free text is reached through [`ReportContent::map_text`] and
//!   [`ReportContent::text_fields`], which visit every free-text field; the
//!   anonymiser and the indexer rely on nothing being left out.

use serde::{Deserialize, Serialize};

use super::errors::{item, join};
use super::input::{
    AffectedSystems, IncidentCause, IncidentContext, IncidentImpact, IncidentResponse, ReportInput,
    TimelineEntry,
};
use super::taxonomy::Tlp;

/// A validated incident report (the content of one revision).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReportContent(ReportInput);

/// One free-text field: its path in the report and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextField<'a> {
    /// Same path syntax as field errors (`timeline[2].event`).
    pub path: String,
    pub text: &'a str,
}

impl ReportContent {
    /// Only [`ReportInput::validate_at`] calls this.
    pub(super) fn from_validated(input: ReportInput) -> Self {
        ReportContent(input)
    }

    /// The content in wire form (e.g. as the base of a merge patch).
    pub fn as_input(&self) -> &ReportInput {
        &self.0
    }

    pub fn into_input(self) -> ReportInput {
        self.0
    }

    pub fn title(&self) -> &str {
        &self.0.title
    }

    pub fn summary(&self) -> &str {
        &self.0.summary
    }

    pub fn tlp(&self) -> Tlp {
        self.0.tlp
    }

    pub fn context(&self) -> &IncidentContext {
        &self.0.context
    }

    pub fn affected(&self) -> &AffectedSystems {
        &self.0.affected
    }

    pub fn cause(&self) -> &IncidentCause {
        &self.0.cause
    }

    pub fn impact(&self) -> &IncidentImpact {
        &self.0.impact
    }

    pub fn response(&self) -> &IncidentResponse {
        &self.0.response
    }

    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.0.timeline
    }

    pub fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    pub fn lessons(&self) -> &[String] {
        &self.0.lessons
    }

    /// Replaces every free-text field with `f(text)`.
    ///
    /// The result is not validated again: replacements such as
    /// `[OPERATOR]` may make a text longer than the input limit, which is
    /// accepted in stored content. `f` must not return blank text.
    pub fn map_text(&mut self, mut f: impl FnMut(&str) -> String) {
        self.map_text_fields(|_, text| f(text));
    }

    /// Like [`ReportContent::map_text`], with the field's path as the first
    /// argument (for a redaction report that says where each redaction was).
    pub fn map_text_fields(&mut self, mut f: impl FnMut(&str, &str) -> String) {
        visit_text_mut(&mut self.0, &mut |path, text| {
            *text = f(path, text);
        });
    }

    /// Every free-text field with its path, in document order.
    pub fn text_fields(&self) -> Vec<TextField<'_>> {
        let mut fields = Vec::new();
        visit_text(&self.0, &mut |path, text| {
            fields.push(TextField {
                path: path.to_owned(),
                text,
            });
        });
        fields
    }
}

/// Visits every free-text field of `report`. Keep in step with
/// [`visit_text`]; the tests check both against the serialised form.
fn visit_text_mut(report: &mut ReportInput, visit: &mut dyn FnMut(&str, &mut String)) {
    visit("title", &mut report.title);
    visit("summary", &mut report.summary);
    let cause = &mut report.cause;
    if let Some(text) = &mut cause.detailed_cause {
        visit("cause.detailed_cause", text);
    }
    if let Some(chain) = &mut cause.causal_chain {
        for (name, text) in [
            ("initiating_event", &mut chain.initiating_event),
            ("latent_condition", &mut chain.latent_condition),
            ("propagation", &mut chain.propagation),
            ("recovery_obstacle", &mut chain.recovery_obstacle),
        ] {
            if let Some(text) = text {
                visit(&join("cause.causal_chain", name), text);
            }
        }
    }
    let impact = &mut report.impact;
    if let Some(text) = &mut impact.duration_note {
        visit("impact.duration_note", text);
    }
    if let Some(text) = &mut impact.description {
        visit("impact.description", text);
    }
    if let Some(text) = &mut report.response.restoration_notes {
        visit("response.restoration_notes", text);
    }
    for (index, entry) in report.timeline.iter_mut().enumerate() {
        visit(&join(&item("timeline", index), "event"), &mut entry.event);
    }
    if let Some(text) = &mut report.notes {
        visit("notes", text);
    }
    for (index, lesson) in report.lessons.iter_mut().enumerate() {
        visit(&item("lessons", index), lesson);
    }
}

/// Read-only twin of [`visit_text_mut`].
fn visit_text<'a>(report: &'a ReportInput, visit: &mut dyn FnMut(&str, &'a str)) {
    visit("title", &report.title);
    visit("summary", &report.summary);
    let cause = &report.cause;
    if let Some(text) = &cause.detailed_cause {
        visit("cause.detailed_cause", text);
    }
    if let Some(chain) = &cause.causal_chain {
        for (name, text) in [
            ("initiating_event", &chain.initiating_event),
            ("latent_condition", &chain.latent_condition),
            ("propagation", &chain.propagation),
            ("recovery_obstacle", &chain.recovery_obstacle),
        ] {
            if let Some(text) = text {
                visit(&join("cause.causal_chain", name), text);
            }
        }
    }
    let impact = &report.impact;
    if let Some(text) = &impact.duration_note {
        visit("impact.duration_note", text);
    }
    if let Some(text) = &impact.description {
        visit("impact.description", text);
    }
    if let Some(text) = &report.response.restoration_notes {
        visit("response.restoration_notes", text);
    }
    for (index, entry) in report.timeline.iter().enumerate() {
        visit(&join(&item("timeline", index), "event"), &entry.event);
    }
    if let Some(text) = &report.notes {
        visit("notes", text);
    }
    for (index, lesson) in report.lessons.iter().enumerate() {
        visit(&item("lessons", index), lesson);
    }
}
