//! `incidex serve --demo`: fills an empty registry with the telecom corpus
//! (schema/data/telecom), filed and published through the normal intake as
//! three demo operators, and creates the web user `analyst`. Safe to run on
//! every start: operators and the user are created only when missing, and
//! the corpus is filed only into a registry without reports.

use anyhow::Context;
use incidex_schema::corpus::parse_jsonl;
use incidex_schema::db::{identity, reports};
use incidex_schema::identity::Role;

use crate::members::{self, NewOperator, NewUser, SecretHasher};
use crate::reports::Reports;
use crate::reports::filing::{file_report, publish_report};

/// The corpus, compiled in.
const CORPUS: &str = include_str!("../../../schema/data/telecom/incidents.jsonl");

/// The demo operators: name, alias, country, type.
const OPERATORS: [(&str, &str, &str, &str); 3] = [
    ("Demo Mobile", "DemoMob", "FR", "mobile_operator"),
    ("Demo Fixed", "DemoFix", "DE", "fixed_operator"),
    ("Demo Carrier", "DemoCar", "GB", "mobile_operator"),
];

pub const DEMO_USER: &str = "analyst";

/// What seeding did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoSeed {
    pub published: usize,
    /// The generated password, when the user was created with one.
    pub generated_password: Option<String>,
    pub user_created: bool,
}

/// Seeds the registry (blocking: call it off the async workers).
/// `password` is the analyst's password (from `INCIDEX_DEMO_PASSWORD`);
/// without one a password is generated.
pub fn seed(
    reports_service: &Reports,
    hasher: &SecretHasher,
    password: Option<String>,
) -> anyhow::Result<DemoSeed> {
    let state = reports_service;
    let mut conn = state.pool.get().context("no database connection")?;
    let mut outcome = DemoSeed::default();
    let mut operator_ids = Vec::new();
    for (name, alias, country, kind) in OPERATORS {
        let id = match identity::find_operator_by_name(&mut conn, name)? {
            Some(op) => op.id,
            None => {
                members::create_operator(
                    &mut conn,
                    NewOperator {
                        name: name.to_owned(),
                        aliases: vec![alias.to_owned()],
                        country: Some(country.to_owned()),
                        operator_type: Some(kind.to_owned()),
                    },
                )
                .map_err(|e| anyhow::anyhow!("cannot create demo operator {name}: {e}"))?
                .id
            }
        };
        operator_ids.push(id);
    }
    if reports::published_ids(&mut conn)?.is_empty() {
        let records = parse_jsonl(CORPUS).map_err(|e| anyhow::anyhow!("demo corpus: {e:?}"))?;
        for (i, record) in records.iter().enumerate() {
            let operator = &operator_ids[i % operator_ids.len()];
            let content = record
                .to_report_input()
                .validate()
                .map_err(|e| anyhow::anyhow!("demo corpus record {}: {e:?}", record.id))?;
            let owner = state.owner_key(operator);
            let filed = file_report(&state.members, &mut conn, operator, &owner, content)
                .map_err(|e| anyhow::anyhow!("cannot file {}: {e}", record.id))?;
            publish_report(
                &state.keys,
                &state.issuer,
                &mut conn,
                &filed.report.id,
                &owner,
            )
            .map_err(|e| anyhow::anyhow!("cannot publish {}: {e}", record.id))?;
            outcome.published += 1;
        }
        state.changed.notify();
    }
    if identity::find_user_by_username(&mut conn, DEMO_USER)?.is_none() {
        let (password, generated) = match password.filter(|p| !p.is_empty()) {
            Some(p) => (p, false),
            None => (crate::members::generate_secret()[..20].to_owned(), true),
        };
        members::create_user(
            &mut conn,
            hasher,
            NewUser {
                username: DEMO_USER.to_owned(),
                role: Role::Analyst,
                password: password.clone(),
            },
        )
        .map_err(|e| match e {
            members::MemberError::Invalid(errors) => anyhow::anyhow!(
                "cannot create the demo user: {}",
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            other => anyhow::anyhow!("cannot create the demo user: {other}"),
        })?;
        outcome.user_created = true;
        outcome.generated_password = generated.then_some(password);
    }
    Ok(outcome)
}
