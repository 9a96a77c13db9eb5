//! The whole intake (JSON body -> validation -> anonymisation -> stored
//! form) over arbitrary input: it never panics, what it accepts round-trips
//! through its stored form, member names never survive, and anonymising
//! the stored form again changes nothing.

use incidex_registry::anonymise::{Anonymiser, SensitiveTerms};
use incidex_registry::reports::intake::anonymise_content;
use incidex_schema::report::{ReportContent, parse_report, report_input_example};
use proptest::prelude::*;
use serde_json::{Value, json};

const MEMBERS: &[&str] = &["Acme Mobile", "Acme", "Beta Telecom", "Gamma Networks"];

fn anonymiser() -> Anonymiser {
    Anonymiser::new(&MEMBERS.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Paths of the example report's free-text fields.
const TEXT_PATHS: &[&[&str]] = &[
    &["title"],
    &["summary"],
    &["notes"],
    &["cause", "detailed_cause"],
    &["impact", "description"],
    &["response", "restoration_notes"],
];

fn set(body: &mut Value, path: &[&str], value: Value) {
    let mut at = body;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
}

fn check(body: Value) -> Result<(), TestCaseError> {
    let anonymiser = anonymiser();
    let terms = SensitiveTerms::new(&["Project Phoenix".to_owned()]);
    let Ok(content) = parse_report(body) else {
        return Ok(());
    };
    let out = anonymise_content(&anonymiser, &terms, content);
    let stored = serde_json::to_string(&out.content).expect("serialises");
    let back: ReportContent = serde_json::from_str(&stored).expect("stored form reads back");
    prop_assert_eq!(&back, &out.content);
    for field in back.text_fields() {
        for member in MEMBERS {
            prop_assert!(
                !field.text.to_lowercase().contains(&member.to_lowercase()),
                "{} survived in {}: {:?}",
                member,
                field.path,
                field.text
            );
        }
    }
    let again = anonymise_content(&anonymiser, &terms, back.clone());
    prop_assert_eq!(again.content, back, "anonymising is idempotent");
    prop_assert!(again.redactions.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Arbitrary UTF-8 (with member names mixed in) in every text field.
    #[test]
    fn arbitrary_text_in_every_field(
        texts in prop::collection::vec((".{0,300}", prop::sample::select(MEMBERS.to_vec()), ".{0,50}"), TEXT_PATHS.len()),
        lessons in prop::collection::vec(".{0,200}", 0..4),
    ) {
        let mut body = report_input_example();
        for (path, (before, member, after)) in TEXT_PATHS.iter().zip(&texts) {
            let text = if path == &["title"] {
                format!("{before}{member}").replace(['\n', '\r'], " ")
            } else {
                format!("{before} {member}'s {after}")
            };
            set(&mut body, path, json!(text));
        }
        body["lessons"] = json!(lessons);
        check(body)?;
    }

    /// Arbitrary JSON anywhere in the body: rejected or accepted, never a panic.
    #[test]
    fn arbitrary_json_anywhere(
        field in prop::sample::select(vec!["title", "summary", "context", "affected", "cause", "impact", "response", "timeline", "lessons", "tlp", "notes", "extra"]),
        value in any_json(),
    ) {
        let mut body = report_input_example();
        body[field] = value;
        check(body)?;
    }

    /// Arbitrary bytes as the whole body never panic the parser.
    #[test]
    fn arbitrary_bodies(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            check(value)?;
        }
    }
}
