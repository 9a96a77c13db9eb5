//! The OpenAPI document's top level. Paths and schemas come from the
//! `#[utoipa::path]` annotations of the handlers registered in `routes`.

use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::http::{ErrorCode, Problem};
use incidex_registry::alerts::matcher::{Notification, Reason};
use incidex_registry::clusters::ClusterSort;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "incidex",
        description = "Cross-operator registry of anonymised network-malfunction reports.\n\n\
            Errors are `application/problem+json` (RFC 9457) with a stable `code`; see the `ErrorCode` schema.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem, ErrorCode, Notification, Reason, ClusterSort)),
    modifiers(&BearerAuth),
    tags(
        (name = "reports", description = "Filing, amending, publishing and reading incident reports"),
        (name = "search", description = "Full-text search and similar incidents"),
        (name = "clusters", description = "Clusters of similar incidents and the lessons curated for them"),
        (name = "lessons", description = "Lessons learned: query, facets and endorsements"),
        (name = "digests", description = "Periodic digests (JSON, CSV, Markdown, HTML) and their Atom feed"),
        (name = "alerts", description = "Saved searches that notify a signed webhook when a matching report is published (the body sent is the `Notification` schema; see docs/alerts.md)"),
        (name = "anonymisation", description = "The filer's sensitive terms and an anonymisation dry run"),
        (name = "auth", description = "Tokens and the registry's public keys"),
        (name = "admin", description = "Operators, API clients and users (admin role)"),
        (name = "operations", description = "Health and readiness"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the routes refer to.
#[derive(Debug)]
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "OAuth 2.0 client authentication (RFC 6749 section 2.3.1): client id and secret",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as served and committed: the annotations' paths and
/// schemas, completed by rules that hold for every operation, so no route
/// can forget one:
///
/// - the shared error responses (`components.responses`, see
///   `http::responses`) are referenced by every operation they apply to:
///   400, 500 and 503 on every API route; 401, 403 and 429 where a bearer
///   token is needed; 404 where the path names a resource; 413, 415 and
///   422 where there is a request body; 429 on the token and login routes;
/// - each operation id is its tag and its handler (`reports_list`);
/// - a success response without a description gets its status's name;
/// - a report's content in a response is the `ReportContent` schema (the
///   input's fields, without the input's refusal of other members).
pub fn finish(spec: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut doc) = serde_json::to_value(&spec) else {
        return spec;
    };
    complete(&mut doc);
    serde_json::from_value(doc).unwrap_or(spec)
}

fn complete(doc: &mut Value) {
    let shared = crate::http::responses::all();
    if let Some(responses) = doc
        .pointer_mut("/components")
        .and_then(Value::as_object_mut)
        .map(|c| c.entry("responses").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        for (_, name, response) in &shared {
            responses.insert(
                (*name).to_owned(),
                serde_json::to_value(response).unwrap_or(Value::Null),
            );
        }
    }
    let name_of = |status: u16| {
        shared
            .iter()
            .find(|(s, _, _)| *s == status)
            .map(|(_, n, _)| *n)
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let tag = op
                .get("tags")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
                .unwrap_or("api")
                .to_owned();
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or("operation")
                .to_owned();
            if !id.starts_with(&format!("{tag}_")) {
                op.insert("operationId".into(), json!(format!("{tag}_{id}")));
            }
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            let has_body = op.contains_key("requestBody");
            // Every body the API takes is required.
            if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
                body.insert("required".into(), json!(true));
            }
            let api = path.starts_with("/api/");
            let credentials = path == "/api/v1/auth/token" || path == "/api/v1/auth/login";
            let mut statuses: Vec<u16> = Vec::new();
            if api {
                statuses.extend([400, 500, 503]);
            } else if path != "/healthz" {
                statuses.extend([500, 503]);
            }
            if secured {
                statuses.extend([401, 403, 429]);
            }
            if credentials {
                statuses.extend([401, 429]);
            }
            if path.contains('{') {
                statuses.push(404);
            }
            if has_body {
                statuses.extend([413, 415, 422]);
            }
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            let Some(responses) = responses else { continue };
            for status in statuses {
                let key = status.to_string();
                if responses.contains_key(&key) {
                    continue;
                }
                if let Some(name) = name_of(status) {
                    responses.insert(
                        key,
                        json!({"$ref": format!("#/components/responses/{name}")}),
                    );
                }
            }
            for (status, response) in responses.iter_mut() {
                if let Some(r) = response.as_object_mut()
                    && !r.contains_key("$ref")
                    && r.get("description")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                {
                    let text = match status.as_str() {
                        "200" => "OK",
                        "201" => "Created",
                        "204" => "No content",
                        _ => "Error (problem+json)",
                    };
                    r.insert("description".into(), json!(text));
                }
            }
            let mut sorted: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            responses.extend(sorted);
        }
    }
    report_content(doc);
    request_strings(doc);
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        // A report reads whole for its owner and as the shared view for
        // others; a view may match both descriptions.
        for name in ["ReportRead", "ReportList"] {
            if let Some(one_of) = schemas
                .get_mut(name)
                .and_then(Value::as_object_mut)
                .and_then(|o| o.remove("oneOf"))
                && let Some(o) = schemas.get_mut(name).and_then(Value::as_object_mut)
            {
                o.insert("anyOf".into(), one_of);
            }
        }
        // A merge patch names members of a report, nothing else.
        let properties = schemas
            .get("ReportInput")
            .and_then(|i| i.get("properties"))
            .cloned();
        if let (Some(properties), Some(patch)) = (
            properties,
            schemas
                .get_mut("ReportPatch")
                .and_then(Value::as_object_mut),
        ) {
            patch.insert("properties".into(), properties);
            patch.insert("additionalProperties".into(), json!(false));
        }
    }
}

/// Text the server accepts: no control character but tab and line breaks
/// (see `http::edge`).
pub const TEXT_PATTERN: &str = "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$";
/// A path segment or header value the server accepts: no control character.
pub const SEGMENT_PATTERN: &str = "^[^\\x00-\\x1F\\x7F-\\x9F]*$";

/// Says in the schemas of requests what the edge refuses: control
/// characters in every string of a body or a parameter (each string
/// schema without an enum, a format or a pattern of its own gets one), and
/// the form of an `Idempotency-Key`.
fn request_strings(doc: &mut Value) {
    let mut names = std::collections::BTreeSet::new();
    let mut pending: Vec<Value> = Vec::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in item.values_mut().filter_map(Value::as_object_mut) {
                for parameter in op
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                    let in_path = parameter["in"] == "path";
                    let Some(schema) = parameter.get_mut("schema") else {
                        continue;
                    };
                    if name == "Idempotency-Key" {
                        if let Some(o) = schema.as_object_mut() {
                            o.insert("pattern".into(), json!("^[!-~]+$"));
                            o.insert("minLength".into(), json!(1));
                            o.insert("maxLength".into(), json!(255));
                        }
                        continue;
                    }
                    let pattern = if in_path {
                        SEGMENT_PATTERN
                    } else {
                        TEXT_PATTERN
                    };
                    add_pattern(schema, pattern);
                    pending.push(schema.clone());
                }
                if let Some(content) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(Value::as_object_mut)
                {
                    for media in content.values_mut() {
                        if let Some(schema) = media.get_mut("schema") {
                            add_pattern(schema, TEXT_PATTERN);
                            pending.push(schema.clone());
                        }
                    }
                }
            }
        }
    }
    // The component schemas requests refer to, transitively.
    while let Some(schema) = pending.pop() {
        let mut refs = Vec::new();
        collect_refs(&schema, &mut refs);
        for name in refs {
            if names.insert(name.clone())
                && let Some(component) = doc.pointer_mut(&format!("/components/schemas/{name}"))
            {
                add_pattern(component, TEXT_PATTERN);
                pending.push(component.clone());
            }
        }
    }
}

fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Adds `pattern` to every plain string schema inside `schema`.
fn add_pattern(schema: &mut Value, pattern: &str) {
    match schema {
        Value::Object(map) => {
            let is_string = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_string
                && !map.contains_key("enum")
                && !map.contains_key("format")
                && !map.contains_key("pattern")
            {
                map.insert("pattern".into(), json!(pattern));
            }
            for (key, value) in map.iter_mut() {
                if key != "examples" && key != "example" {
                    add_pattern(value, pattern);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| add_pattern(v, pattern)),
        _ => {}
    }
}

/// Responses carry a report's content as stored: the fields of
/// `ReportInput`, without its `additionalProperties: false` (the views add
/// their own members beside it) and its examples.
fn report_content(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(mut content) = schemas.get("ReportInput").cloned() else {
        return;
    };
    if let Some(c) = content.as_object_mut() {
        c.remove("additionalProperties");
        c.remove("examples");
        c.remove("example");
        c.insert(
            "description".into(),
            json!("A report's content as stored: the fields of `ReportInput`, its free text anonymised."),
        );
    }
    let input = schemas.get("ReportInput").cloned();
    schemas.insert("ReportContent".into(), content);
    let reference = json!({"$ref": "#/components/schemas/ReportContent"});
    // Every response schema that carries a report's content (the owner's
    // view, revisions, pages of them), wherever utoipa inlined it.
    for (name, schema) in schemas.iter_mut() {
        if name != "ReportInput" && name != "ReportContent" && name != "ReportPatch" {
            replace_input(schema, input.as_ref(), &reference);
        }
    }
}

/// Replaces `ReportInput` (by reference or inlined) inside `schema`.
fn replace_input(schema: &mut Value, input: Option<&Value>, reference: &Value) {
    let is_input = schema
        .get("$ref")
        .and_then(Value::as_str)
        .is_some_and(|r| r == "#/components/schemas/ReportInput")
        || (input.is_some() && Some(&*schema) == input);
    if is_input {
        *schema = reference.clone();
        return;
    }
    match schema {
        Value::Object(map) => {
            for (_, v) in map.iter_mut() {
                replace_input(v, input, reference);
            }
        }
        Value::Array(items) => {
            for v in items {
                replace_input(v, input, reference);
            }
        }
        _ => {}
    }
}
