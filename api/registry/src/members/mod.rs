//! Registering members and their credentials: the operations behind both
//! `incidex admin …` and the admin API, so the two cannot drift apart.

use chrono::{NaiveDateTime, TimeDelta};
use incidex_schema::db::identity::{self, ClientRow, OperatorRow, UserRow};
use incidex_schema::db::{DbConnection, StorageError, reports::now};
use incidex_schema::identity::Role;
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod cache;
pub mod login;
mod secrets;

pub use cache::{AnonymiserCache, Members};
pub use secrets::{SecretHasher, generate_secret};

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_ALIASES: usize = 20;
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest life of an API client, in days (a hundred years).
pub const MAX_CLIENT_DAYS: u32 = 36_500;

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot hash the secret")]
    Hash,
}

impl From<MemberError> for crate::error::RegistryError {
    fn from(e: MemberError) -> Self {
        use crate::error::RegistryError;
        match e {
            MemberError::Invalid(errors) => RegistryError::Invalid(errors),
            MemberError::Conflict(m) => RegistryError::Conflict(m),
            MemberError::NotFound(m) => RegistryError::NotFound(m),
            MemberError::Storage(s) => s.into(),
            MemberError::Hash => RegistryError::internal(anyhow::anyhow!("argon2 hashing failed")),
        }
    }
}

/// A member operator to register.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Example Mobile", "aliases": ["ExMo", "example-mobile.net"], "country": "FR", "operator_type": "mobile_operator"}))]
pub struct NewOperator {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub operator_type: Option<String>,
}

/// A member operator as administrators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub country: Option<String>,
    pub operator_type: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Operator {
    fn from_row(row: &OperatorRow) -> Result<Operator, StorageError> {
        Ok(Operator {
            id: row.id.clone(),
            name: row.name.clone(),
            aliases: row.alias_list()?,
            country: row.country.clone(),
            operator_type: row.operator_type.clone(),
            created_at: row.created_at.and_utc(),
        })
    }
}

fn check_name(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "blank", "must not be blank"));
    } else if value.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
}

pub fn create_operator(
    conn: &mut DbConnection,
    input: NewOperator,
) -> Result<Operator, MemberError> {
    let mut errors = Vec::new();
    check_name("name", &input.name, &mut errors);
    if input.aliases.len() > MAX_ALIASES {
        errors.push(FieldError::new(
            "aliases",
            "too_many",
            format!("at most {MAX_ALIASES} aliases"),
        ));
    }
    for (i, alias) in input.aliases.iter().enumerate() {
        check_name(&format!("aliases[{i}]"), alias, &mut errors);
    }
    let country = input
        .country
        .as_deref()
        .map(str::trim)
        .map(str::to_ascii_uppercase);
    if let Some(c) = &country
        && (c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()))
    {
        errors.push(FieldError::new(
            "country",
            "invalid_value",
            "an ISO 3166-1 alpha-2 code such as FR",
        ));
    }
    if !errors.is_empty() {
        return Err(MemberError::Invalid(errors));
    }
    let name = input.name.trim().to_owned();
    if identity::find_operator_by_name(conn, &name)?.is_some() {
        return Err(MemberError::Conflict(format!(
            "an operator named {name} exists"
        )));
    }
    let mut aliases: Vec<String> = input.aliases.iter().map(|a| a.trim().to_owned()).collect();
    aliases.dedup();
    let row = OperatorRow {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        aliases: serde_json::to_string(&aliases).unwrap_or_else(|_| "[]".into()),
        country,
        operator_type: input.operator_type.map(|t| t.trim().to_owned()),
        sensitive_terms: "[]".into(),
        created_at: now(),
    };
    identity::insert_operator(conn, &row)?;
    Ok(Operator::from_row(&row)?)
}

pub fn list_operators(conn: &mut DbConnection) -> Result<Vec<Operator>, MemberError> {
    let rows = identity::list_operators(conn)?;
    Ok(rows
        .iter()
        .map(Operator::from_row)
        .collect::<Result<_, _>>()?)
}

/// An API client to create. Reporters belong to an operator (by id or
/// name); analyst and admin clients belong to the registry.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"operator": "Example Mobile", "role": "reporter", "expires_in_days": 365}))]
pub struct NewClient {
    /// Operator id or name; required for `reporter`, refused otherwise.
    pub operator: Option<String>,
    pub role: Role,
    /// The client stops working after this many days (default: never; at
    /// most [`MAX_CLIENT_DAYS`]).
    #[schema(minimum = 1, maximum = 36500)]
    pub expires_in_days: Option<u32>,
}

/// A client as administrators see it (never the secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Client {
    pub client_id: String,
    pub operator_id: Option<String>,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked: bool,
}

/// A new client with its secret, shown exactly once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedClient {
    pub client_id: String,
    /// Shown only now; store it safely. Only its hash is kept.
    pub client_secret: String,
    pub operator_id: Option<String>,
    pub role: Role,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn client_from_row(row: &ClientRow) -> Client {
    Client {
        client_id: row.id.clone(),
        operator_id: row.operator_id.clone(),
        role: Role::parse(&row.role).unwrap_or(Role::Reporter),
        created_at: row.created_at.and_utc(),
        expires_at: row.expires_at.map(|e| e.and_utc()),
        revoked: row.revoked_at.is_some(),
    }
}

pub fn create_client(
    conn: &mut DbConnection,
    hasher: &SecretHasher,
    input: NewClient,
) -> Result<IssuedClient, MemberError> {
    let operator_id = match (input.role, input.operator.as_deref().map(str::trim)) {
        (Role::Reporter, Some(op)) if !op.is_empty() => {
            let found = match identity::find_operator(conn, op)? {
                Some(row) => Some(row),
                None => identity::find_operator_by_name(conn, op)?,
            };
            Some(
                found
                    .ok_or_else(|| MemberError::NotFound(format!("no operator {op}")))?
                    .id,
            )
        }
        (Role::Reporter, _) => {
            return Err(MemberError::Invalid(vec![FieldError::new(
                "operator",
                "required",
                "a reporter client belongs to an operator",
            )]));
        }
        (_, Some(_)) => {
            return Err(MemberError::Invalid(vec![FieldError::new(
                "operator",
                "not_allowed",
                "analyst and admin clients belong to the registry, not to an operator",
            )]));
        }
        (_, None) => None,
    };
    if input
        .expires_in_days
        .is_some_and(|d| d == 0 || d > MAX_CLIENT_DAYS)
    {
        return Err(MemberError::Invalid(vec![FieldError::new(
            "expires_in_days",
            "out_of_range",
            format!("1 to {MAX_CLIENT_DAYS} days"),
        )]));
    }
    let secret = generate_secret();
    let created_at = now();
    let expires_at: Option<NaiveDateTime> = input
        .expires_in_days
        .map(|d| created_at + TimeDelta::days(i64::from(d)));
    let row = ClientRow {
        id: format!("ic_{}", uuid::Uuid::new_v4().simple()),
        operator_id,
        role: input.role.as_str().to_owned(),
        secret_hash: hasher.hash(&secret).map_err(|_| MemberError::Hash)?,
        created_at,
        expires_at,
        revoked_at: None,
    };
    identity::insert_client(conn, &row)?;
    Ok(IssuedClient {
        client_id: row.id,
        client_secret: secret,
        operator_id: row.operator_id,
        role: input.role,
        expires_at: row.expires_at.map(|e| e.and_utc()),
    })
}

pub fn list_clients(conn: &mut DbConnection) -> Result<Vec<Client>, MemberError> {
    Ok(identity::list_clients(conn)?
        .iter()
        .map(client_from_row)
        .collect())
}

pub fn revoke_client(conn: &mut DbConnection, client_id: &str) -> Result<(), MemberError> {
    if identity::revoke_client(conn, client_id, now())? {
        Ok(())
    } else {
        Err(MemberError::NotFound(format!("no client {client_id}")))
    }
}

/// A web user to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "alice", "role": "analyst", "password": "correct horse battery staple"}))]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    #[schema(min_length = 12)]
    pub password: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn user_from_row(row: &UserRow) -> User {
    User {
        id: row.id.clone(),
        username: row.username.clone(),
        role: Role::parse(&row.role).unwrap_or(Role::Analyst),
        created_at: row.created_at.and_utc(),
    }
}

pub fn create_user(
    conn: &mut DbConnection,
    hasher: &SecretHasher,
    input: NewUser,
) -> Result<User, MemberError> {
    let mut errors = Vec::new();
    let username = input.username.trim().to_owned();
    check_name("username", &username, &mut errors);
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        errors.push(FieldError::new(
            "username",
            "invalid_value",
            "letters, digits and . _ - @ only",
        ));
    }
    if input.role == Role::Reporter {
        errors.push(FieldError::new(
            "role",
            "invalid_value",
            "web users are analysts or admins",
        ));
    }
    if input.password.chars().count() < MIN_PASSWORD_CHARS {
        errors.push(FieldError::new(
            "password",
            "too_short",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(MemberError::Invalid(errors));
    }
    if identity::find_user_by_username(conn, &username)?.is_some() {
        return Err(MemberError::Conflict(format!(
            "a user named {username} exists"
        )));
    }
    let row = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        username,
        role: input.role.as_str().to_owned(),
        password_hash: hasher
            .hash(&input.password)
            .map_err(|_| MemberError::Hash)?,
        created_at: now(),
        failed_logins: 0,
        locked_until: None,
    };
    identity::insert_user(conn, &row)?;
    Ok(user_from_row(&row))
}

pub fn list_users(conn: &mut DbConnection) -> Result<Vec<User>, MemberError> {
    Ok(identity::list_users(conn)?
        .iter()
        .map(user_from_row)
        .collect())
}
