//! `incidex admin …`: the same operations as the admin API, from a shell.

use std::io::BufRead;

use anyhow::Context;
use serde::Serialize;

use crate::app::open_database;
use crate::auth::SecretHasher;
use crate::cli::AdminCommand;
use crate::config::Settings;
use incidex_registry::members::{self, MemberError, NewClient, NewOperator, NewUser};

fn explain(e: MemberError) -> anyhow::Error {
    match e {
        MemberError::Invalid(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::Error::new(other),
    }
}

fn print<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
}

pub fn run(settings: &Settings, json: bool, command: AdminCommand) -> anyhow::Result<()> {
    incidex_registry::prepare_data_dir(&settings.data_dir)?;
    let pool = open_database(settings)?;
    let mut conn = pool.get().context("no database connection")?;
    let hasher = SecretHasher::default();
    match command {
        AdminCommand::CreateOperator {
            name,
            aliases,
            country,
            operator_type,
        } => {
            let op = members::create_operator(
                &mut conn,
                NewOperator {
                    name,
                    aliases,
                    country,
                    operator_type,
                },
            )
            .map_err(explain)?;
            print(json, &op, |op| {
                format!("created operator {} ({})", op.name, op.id)
            })
        }
        AdminCommand::ListOperators => {
            let ops = members::list_operators(&mut conn).map_err(explain)?;
            print(json, &ops, |ops| {
                ops.iter()
                    .map(|o| {
                        format!(
                            "{}\t{}\t{}\t{}",
                            o.id,
                            o.name,
                            o.country.as_deref().unwrap_or("-"),
                            o.aliases.join(",")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        AdminCommand::CreateClient {
            operator,
            role,
            expires_in_days,
        } => {
            let client = members::create_client(
                &mut conn,
                &hasher,
                NewClient {
                    operator,
                    role,
                    expires_in_days,
                },
            )
            .map_err(explain)?;
            print(json, &client, |c| {
                format!(
                    "client_id: {}\nclient_secret: {}\n(the secret is shown only now)",
                    c.client_id, c.client_secret
                )
            })
        }
        AdminCommand::ListClients => {
            let clients = members::list_clients(&mut conn).map_err(explain)?;
            print(json, &clients, |cs| {
                cs.iter()
                    .map(|c| {
                        format!(
                            "{}\t{}\t{}\t{}",
                            c.client_id,
                            c.role,
                            c.operator_id.as_deref().unwrap_or("-"),
                            if c.revoked { "revoked" } else { "active" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        AdminCommand::RevokeClient { client_id } => {
            members::revoke_client(&mut conn, &client_id).map_err(explain)?;
            print(
                json,
                &serde_json::json!({"client_id": client_id, "revoked": true}),
                |_| format!("revoked client {client_id}"),
            )
        }
        AdminCommand::CreateUser { username, role, .. } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let user = members::create_user(
                &mut conn,
                &hasher,
                NewUser {
                    username,
                    role,
                    password,
                },
            )
            .map_err(explain)?;
            print(json, &user, |u| {
                format!("created {} user {} ({})", u.role, u.username, u.id)
            })
        }
        AdminCommand::ListUsers => {
            let users = members::list_users(&mut conn).map_err(explain)?;
            print(json, &users, |us| {
                us.iter()
                    .map(|u| format!("{}\t{}\t{}", u.id, u.username, u.role))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}
