//! `incidex import FILE.jsonl --operator NAME`: files reports in bulk
//! through the same pipeline as the API (validate, anonymise, store), with
//! a progress bar. Each line is filed under an idempotency key derived from
//! the line (the record's `id` for the telecom corpus format), so running
//! the same import twice files nothing twice. A bad line is reported with
//! its number; `--on-error skip` goes on with the rest, `stop` (the
//! default) stops there, keeping what was filed before it.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use incidex_schema::corpus::TelecomRecord;
use incidex_schema::db::identity;
use incidex_schema::report::{ReportContent, ReportInput, ValidationErrors};
use serde_json::Value;

use crate::app::build_state;
use crate::config::Settings;
use incidex_registry::keys::owner_key;
use incidex_registry::reports::filing::{file_report, publish_report};
use incidex_registry::reports::idempotency::{self, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Each line is a report body as `POST /api/v1/reports` takes it, or a
    /// telecom corpus record (decided per line).
    Auto,
    /// Each line is a report body.
    Report,
    /// Each line is a record of the telecom corpus format (schema/data/telecom).
    Telecom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Stop at the first bad line (lines before it stay filed).
    Stop,
    /// Report the bad line and go on.
    Skip,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub filed: usize,
    pub already_filed: usize,
    pub published: usize,
    pub failed: Vec<(usize, String)>,
}

fn describe(errors: &ValidationErrors) -> String {
    errors
        .errors()
        .iter()
        .map(|e| format!("{} ({}): {}", e.field, e.code, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses one line into validated content and an idempotency key.
fn parse_line(line: &str, format: InputFormat) -> Result<(ReportContent, String), String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let key_from_line = || idempotency::request_hash("IMPORT", "", line.as_bytes());
    let telecom = |value: Value| -> Result<(ReportContent, String), String> {
        let record: TelecomRecord =
            serde_json::from_value(value).map_err(|e| format!("not a telecom record: {e}"))?;
        let content = record
            .to_report_input()
            .validate()
            .map_err(|e| describe(&e))?;
        Ok((content, format!("telecom:{}", record.id)))
    };
    match format {
        InputFormat::Telecom => telecom(value),
        InputFormat::Report => {
            let content = ReportInput::from_json(value)
                .and_then(ReportInput::validate)
                .map_err(|e| describe(&e))?;
            Ok((content, key_from_line()))
        }
        InputFormat::Auto => match ReportInput::from_json(value.clone()) {
            Ok(input) => Ok((input.validate().map_err(|e| describe(&e))?, key_from_line())),
            Err(report_errors) => telecom(value).map_err(|telecom_error| {
                format!(
                    "neither a report ({}) nor a {telecom_error}",
                    describe(&report_errors)
                )
            }),
        },
    }
}

pub fn run(
    settings: Settings,
    file: &Path,
    operator: &str,
    publish: bool,
    format: InputFormat,
    on_error: OnError,
) -> anyhow::Result<ImportSummary> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let total_lines = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    )
    .lines()
    .count();
    let state = build_state(Arc::new(settings), false)?;
    let mut conn = state
        .registry
        .pool
        .get()
        .context("no database connection")?;
    let op = match identity::find_operator_by_name(&mut conn, operator)? {
        Some(op) => op,
        None => identity::find_operator(&mut conn, operator)?.with_context(|| {
            format!("no operator named {operator} (create it with `incidex admin create-operator`)")
        })?,
    };
    let owner = owner_key(&state.registry.keys, &op.id);
    let scope = state
        .registry
        .keys
        .opaque_key("idem", &format!("import:{}", op.id));
    let bar = indicatif::ProgressBar::new(total_lines as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} lines {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut summary = ImportSummary::default();
    for (index, line) in std::io::BufReader::new(input).lines().enumerate() {
        let number = index + 1;
        bar.inc(1);
        let line = line.with_context(|| format!("cannot read line {number}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let outcome = parse_line(&line, format).and_then(|(content, key)| {
            let hash = idempotency::request_hash("IMPORT", &key, line.as_bytes());
            idempotency::run(&mut conn, &scope, Some(&key), &hash, |conn| {
                let filed = file_report(&state.registry.members, conn, &op.id, &owner, content)?;
                let id = filed.report.id.clone();
                if publish {
                    publish_report(
                        &state.registry.keys,
                        &state.settings.token_issuer,
                        conn,
                        &id,
                        &owner,
                    )?;
                }
                Ok((
                    Outcome::Created,
                    serde_json::json!({ "id": id, "published": publish }),
                ))
            })
            .map_err(|e| e.to_string())
        });
        match outcome {
            Ok(recorded) if recorded.replayed => summary.already_filed += 1,
            Ok(recorded) => {
                summary.filed += 1;
                if recorded.body["published"] == true {
                    summary.published += 1;
                }
            }
            Err(reason) => {
                bar.suspend(|| eprintln!("line {number}: {reason}"));
                summary.failed.push((number, reason));
                if on_error == OnError::Stop {
                    break;
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_in_both_formats() {
        let corpus = include_str!("../../../schema/data/telecom/incidents.jsonl");
        let first = corpus.lines().next().expect("a line");
        let (_, key) = parse_line(first, InputFormat::Auto).expect("telecom record");
        assert!(key.starts_with("telecom:tel-"), "{key}");
        let report = incidex_schema::report::report_input_example().to_string();
        let (content, key) = parse_line(&report, InputFormat::Auto).expect("report body");
        assert_eq!(
            content.title(),
            incidex_schema::report::report_input_example()["title"]
        );
        assert_eq!(key.len(), 64);
        assert!(parse_line(&report, InputFormat::Telecom).is_err());
        let err = parse_line("{\"title\": 1}", InputFormat::Auto).expect_err("bad line");
        assert!(err.contains("title"), "{err}");
        assert!(
            parse_line("not json", InputFormat::Report)
                .expect_err("bad")
                .starts_with("not JSON")
        );
    }
}
