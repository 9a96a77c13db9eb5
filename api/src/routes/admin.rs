//! Administration: operators, API clients and users. Admin role only.

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::http::ApiResult;
use crate::http::JsonBody;
use crate::state::AppState;
use incidex_registry::members::{
    self, Client, IssuedClient, NewClient, NewOperator, NewUser, Operator, User,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

async fn with_conn<T, F>(state: &AppState, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut incidex_schema::db::DbConnection) -> Result<T, members::MemberError>
        + Send
        + 'static,
{
    crate::http::db(state, move |conn| {
        f(conn).map_err(incidex_registry::RegistryError::from)
    })
    .await
}

/// Register a member operator (its name and aliases are scrubbed from every report).
#[utoipa::path(
    tag = "admin",
    request_body = NewOperator,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Operator),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 409, response = crate::http::responses::Conflict),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/admin/operators")]
pub async fn create_operator(
    _admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<NewOperator>,
) -> ApiResult<HttpResponse> {
    let input = body.value;
    let op = with_conn(&state, move |conn| members::create_operator(conn, input)).await?;
    Ok(HttpResponse::Created().json(op))
}

/// List member operators.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Items<Operator>),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/admin/operators")]
pub async fn list_operators(_admin: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let items = with_conn(&state, members::list_operators).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Create an API client; the secret is in this response only.
#[utoipa::path(
    tag = "admin",
    request_body = NewClient,
    security(("bearer" = [])),
    responses(
        (status = 201, body = IssuedClient),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/admin/clients")]
pub async fn create_client(
    _admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<NewClient>,
) -> ApiResult<HttpResponse> {
    let input = body.value;
    let hasher = state.registry.hasher.clone();
    let client = with_conn(&state, move |conn| {
        members::create_client(conn, &hasher, input)
    })
    .await?;
    Ok(HttpResponse::Created().json(client))
}

/// List API clients (never their secrets).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Items<Client>),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/admin/clients")]
pub async fn list_clients(_admin: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let items = with_conn(&state, members::list_clients).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// Revoke an API client: its tokens stop working at once.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("client_id" = String, Path)),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 404, response = crate::http::responses::NotFound),
    )
)]
#[post("/api/v1/admin/clients/{client_id}/revoke")]
pub async fn revoke_client(
    _admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let credentials = state.credentials.clone();
    with_conn(&state, move |conn| {
        members::revoke_client(conn, &id)?;
        // This process stops accepting the client's tokens now, not at
        // the next poll.
        credentials.refresh(conn)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Create a web user (analyst or admin).
#[utoipa::path(
    tag = "admin",
    request_body = NewUser,
    security(("bearer" = [])),
    responses(
        (status = 201, body = User),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
        (status = 409, response = crate::http::responses::Conflict),
        (status = 422, response = crate::http::responses::UnprocessableEntity),
    )
)]
#[post("/api/v1/admin/users")]
pub async fn create_user(
    _admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<NewUser>,
) -> ApiResult<HttpResponse> {
    let input = body.value;
    let hasher = state.registry.hasher.clone();
    let user = with_conn(&state, move |conn| {
        members::create_user(conn, &hasher, input)
    })
    .await?;
    Ok(HttpResponse::Created().json(user))
}

/// List web users.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Items<User>),
        (status = 401, response = crate::http::responses::Unauthorized),
        (status = 403, response = crate::http::responses::Forbidden),
    )
)]
#[get("/api/v1/admin/users")]
pub async fn list_users(_admin: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let items = with_conn(&state, members::list_users).await?;
    Ok(HttpResponse::Ok().json(Items { items }))
}
