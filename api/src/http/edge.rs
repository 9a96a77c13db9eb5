//! Checks at the edge that hold for every API route: no control character
//! in a path segment or a query-string value (they would reach the
//! database, which refuses a NUL on PostgreSQL and stores it on SQLite),
//! and the table of documented routes used to name a segment and to
//! answer 405.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use incidex_schema::validation::FieldError;

use super::error::{ApiError, ErrorCode};

/// Whether `c` may appear in text we accept: no control character, except
/// tab, line feed and carriage return where `free_text` allows them.
pub fn is_allowed_char(c: char, free_text: bool) -> bool {
    !c.is_control() || (free_text && matches!(c, '\t' | '\n' | '\r'))
}

/// The field error of a value with a control character.
pub fn control_character(field: impl Into<String>) -> FieldError {
    FieldError::new(
        field,
        "control_character",
        "control characters (other than tab and line breaks in free text) are not allowed",
    )
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The first offending field of a request's path and query, if any.
fn offending_field(path: &str, query: &str, routes: Option<&RouteTable>) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if percent_decode(segment)
            .chars()
            .any(|c| !is_allowed_char(c, false))
        {
            let name = routes
                .and_then(|r| r.segment_name(path, i))
                .unwrap_or_else(|| "path".to_owned());
            return Some(name);
        }
    }
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key.chars().any(|c| !is_allowed_char(c, false)) {
            return Some("query".to_owned());
        }
        if value.chars().any(|c| !is_allowed_char(c, true)) {
            return Some(key.into_owned());
        }
    }
    None
}

/// Refuses API requests with a control character in the path or query:
/// 400 `invalid_parameter` naming the parameter, or the authentication
/// error when the request's credentials were refused (authentication is
/// decided first).
pub async fn refuse_control_characters(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    if req.path().starts_with("/api/") {
        let routes = req.app_data::<web::Data<RouteTable>>().cloned();
        if let Some(field) = offending_field(
            req.path(),
            req.query_string(),
            routes.as_ref().map(|r| &***r),
        ) {
            let refused = req
                .extensions()
                .get::<crate::http::Refused>()
                .map(|r| r.0.clone());
            let error = match refused {
                Some((code, detail)) => ApiError::new(code, detail),
                None => ApiError::new(
                    ErrorCode::InvalidParameter,
                    format!("`{field}` holds a control character"),
                )
                .with_errors(vec![control_character(field)]),
            };
            let response = error.error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Why a request's credentials were refused, left by the authentication
/// middleware for the checks that come after it.
#[derive(Debug, Clone)]
pub struct Refused(pub (ErrorCode, String));

/// The documented routes (from the OpenAPI document), for 405 answers and
/// to name path parameters.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<(actix_web::dev::ResourceDef, String, Vec<String>)>,
}

impl RouteTable {
    pub fn from_openapi(spec: &utoipa::openapi::OpenApi) -> RouteTable {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods = Vec::new();
                let ops = [
                    ("GET", &item.get),
                    ("PUT", &item.put),
                    ("POST", &item.post),
                    ("DELETE", &item.delete),
                    ("PATCH", &item.patch),
                    ("HEAD", &item.head),
                    ("OPTIONS", &item.options),
                ];
                for (name, op) in ops {
                    if op.is_some() {
                        methods.push(name.to_owned());
                    }
                }
                if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                    methods.push("HEAD".to_owned());
                }
                (
                    actix_web::dev::ResourceDef::new(path.as_str()),
                    path.clone(),
                    methods,
                )
            })
            .collect();
        RouteTable { routes }
    }

    pub fn methods_for(&self, path: &str) -> Vec<String> {
        let mut methods: Vec<String> = self
            .routes
            .iter()
            .filter(|(def, _, _)| def.is_match(path))
            .flat_map(|(_, _, m)| m.iter().cloned())
            .collect();
        methods.sort();
        methods.dedup();
        methods
    }

    /// The name of the path parameter at segment `index` of `path`
    /// (`id` for `/api/v1/reports/{id}`), by the documented route of the
    /// same shape.
    fn segment_name(&self, path: &str, index: usize) -> Option<String> {
        let count = path.split('/').count();
        self.routes.iter().find_map(|(_, pattern, _)| {
            let parts: Vec<&str> = pattern.split('/').collect();
            if parts.len() != count {
                return None;
            }
            let same_shape = parts
                .iter()
                .zip(path.split('/'))
                .all(|(p, s)| p == &s || (p.starts_with('{') && p.ends_with('}')));
            let part = parts.get(index)?;
            (same_shape && part.starts_with('{'))
                .then(|| part.trim_matches(|c| c == '{' || c == '}').to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_in_paths_and_queries() {
        assert_eq!(
            offending_field("/api/v1/reports/a%00b", "", None),
            Some("path".into())
        );
        assert_eq!(
            offending_field("/api/v1/reports/ab", "q=a%00", None),
            Some("q".into())
        );
        assert_eq!(
            offending_field("/api/v1/reports/ab", "q=a%09b%0A", None),
            None,
            "tab and newline in free text"
        );
        assert_eq!(
            offending_field("/api/v1/reports/a%0Ab", "", None),
            Some("path".into())
        );
        assert_eq!(
            offending_field("/api/v1/reports/a%C2%85b", "", None),
            Some("path".into()),
            "C1 control"
        );
        assert_eq!(
            offending_field("/api/v1/search", "q=caf%C3%A9+%22x%22", None),
            None
        );
        assert_eq!(
            offending_field("/api/v1/search", "q%01=x", None),
            Some("query".into())
        );
    }
}
