//! The application builder: the same code path for `incidex serve` and for
//! the integration tests, which bind port 0.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use anyhow::Context;
use incidex_registry::Registry;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Settings;
use crate::http::{ApiError, ErrorCode, PROBLEM_JSON, RouteTable};
use crate::openapi::ApiDoc;
use crate::routes;
use crate::state::AppState;
use crate::telemetry::{RequestIdValue, RequestSpan};

/// A bound, ready-to-run server.
pub struct Application {
    server: Server,
    local_addr: SocketAddr,
    state: AppState,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Opens the database the settings name and applies pending migrations.
pub fn open_database(settings: &Settings) -> anyhow::Result<incidex_schema::db::DbPool> {
    incidex_registry::open_database(&settings.database_url()?, settings.db_pool_size)
}

/// Opens storage, loads the keys and starts the registry's services:
/// everything handlers share. Blocking.
pub fn build_state(settings: Arc<Settings>, with_index: bool) -> anyhow::Result<AppState> {
    incidex_registry::prepare_data_dir(&settings.data_dir)?;
    let pool = open_database(&settings)?;
    let registry = Registry::open(settings.registry(), pool, with_index)?;
    let tokens = crate::auth::TokenService::new(
        &registry.keys,
        &settings.token_issuer,
        &settings.token_audience,
        settings.token_ttl_secs,
        &settings.external_issuers,
    )?;
    let throttle = Arc::new(crate::auth::Throttle::new(&settings.limits));
    Ok(AppState {
        registry,
        settings,
        tokens: Arc::new(tokens),
        credentials: Arc::new(crate::auth::CredentialCache::default()),
        throttle,
    })
}

impl Application {
    /// Prepares storage and binds the listener; call [`Application::run`] to serve.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        crate::telemetry::prometheus();
        let settings = Arc::new(settings);
        let prepared = settings.clone();
        let state = actix_web::rt::task::spawn_blocking(move || build_state(prepared, true))
            .await
            .context("start-up task failed")??;
        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local_addr = listener.local_addr()?;
        let routes = Arc::new(RouteTable::from_openapi(&openapi()));
        let app_state = state.clone();
        let mut server = HttpServer::new(move || build_app(app_state.clone(), routes.clone()))
            .shutdown_timeout(settings.shutdown_timeout_secs);
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        let server = server.listen(listener)?.run();
        Ok(Application {
            server,
            local_addr,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish
    /// (up to the configured shutdown timeout).
    pub async fn run(self) -> std::io::Result<()> {
        tracing::info!(address = %self.local_addr, "listening");
        crate::jobs::start(&self.state);
        self.server.await
    }

    /// A handle to stop the server (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    crate::openapi::finish(
        App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .configure(routes::configure)
            .split_for_parts()
            .1,
    )
}

fn build_app(
    state: AppState,
    routes: Arc<RouteTable>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.settings.max_body_bytes;
    let (app, spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    let spec = crate::openapi::finish(spec);
    app.app_data(web::Data::new(state))
        .app_data(web::Data::from(routes))
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(json_error),
        )
        .app_data(web::PayloadConfig::new(limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", spec))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        )
        // The analyst web UI (plain actix routes, not in the OpenAPI document).
        .configure(crate::ui::configure)
        .default_service(web::to(fallback))
        // Authentication first (outermost), then the edge checks, then
        // the handler's extractors.
        .wrap(actix_web::middleware::from_fn(
            crate::http::edge::refuse_control_characters,
        ))
        .wrap(actix_web::middleware::from_fn(crate::auth::authenticate))
        .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
        .wrap(actix_web::middleware::from_fn(request_id_header))
        .wrap(TracingLogger::<RequestSpan>::new())
}

/// Echoes the request id in `x-request-id` (the caller's, when well
/// formed), to match logs to responses.
async fn request_id_header(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<RequestIdValue>()
        .map(|id| id.0.clone());
    let mut res = next.call(req).await?;
    if let Some(id) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}

/// Unknown routes: 405 with `Allow` when the path exists under another
/// method, else 404.
async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    let allowed = routes.methods_for(req.path());
    Err(if allowed.is_empty() {
        ApiError::new(ErrorCode::NotFound, format!("no route for {}", req.path()))
    } else {
        ApiError::method_not_allowed(&allowed)
    })
}

fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { length, limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("body of {length} bytes exceeds the limit of {limit} bytes"),
        ),
        E::Overflow { limit } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("body exceeds the limit of {limit} bytes"),
        ),
        E::ContentType => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be application/json",
        ),
        E::Deserialize(e) if e.is_data() => {
            ApiError::validation(vec![incidex_schema::validation::FieldError::new(
                "body",
                "invalid_value",
                e.to_string(),
            )])
        }
        E::Deserialize(e) => ApiError::new(ErrorCode::MalformedJson, e.to_string()),
        other => ApiError::new(ErrorCode::MalformedJson, other.to_string()),
    };
    api.into()
}

fn query_error(err: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorCode::InvalidParameter, err.to_string()).into()
}

fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorCode::NotFound, err.to_string()).into()
}

/// Any error response not already problem+json (raised by the framework
/// or a middleware) is rewritten as one, keeping its status.
fn problem_for_bare_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // The web UI answers errors with its own HTML pages, the token
    // endpoint's form variant with RFC 6749 JSON errors.
    let is_own = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"text/html") || v.as_bytes().starts_with(b"application/json")
    });
    if is_problem || is_own {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = ErrorCode::from_status(status);
    let detail = res
        .response()
        .error()
        .map(|e| e.to_string())
        .filter(|_| status.is_client_error())
        .unwrap_or_else(|| code.title().to_owned());
    let (req, _) = res.into_parts();
    let problem = ApiError::new(code, detail).error_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, problem).map_into_right_body(),
    ))
}
