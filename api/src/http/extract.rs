//! Request extraction with precise field errors.
//!
//! [`IdempotencyKey`] reads the optional `Idempotency-Key` header.
//! [`JsonBody`] replaces `web::Json`: the body size limit gives 413, a wrong
//! media type 415, broken JSON 400 `malformed_json`, and JSON of the wrong
//! shape 422 `validation_failed` naming the field (`impact.duration_minutes`,
//! `lessons[2]`) with a stable code.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use incidex_schema::validation::FieldError;
use serde::de::DeserializeOwned;

use incidex_registry::reports::idempotency::MAX_KEY_CHARS;

use super::error::{ApiError, ErrorCode};

/// The idempotency header.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The optional `Idempotency-Key` header, checked: 1–255 visible ASCII.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
            return ready(Ok(IdempotencyKey(None)));
        };
        let key = value.to_str().ok().map(str::trim).filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic())
        });
        ready(match key {
            Some(k) => Ok(IdempotencyKey(Some(k.to_owned()))),
            None => Err(ApiError::new(
                ErrorCode::InvalidHeader,
                "Idempotency-Key must be 1-255 visible ASCII characters",
            )
            .with_errors(vec![FieldError::new(
                "Idempotency-Key",
                "invalid_value",
                "1-255 visible ASCII characters",
            )])
            .into()),
        })
    }
}

/// A JSON request body, deserialised with field-level errors.
#[derive(Debug)]
pub struct JsonBody<T> {
    pub value: T,
    /// The raw bytes, for idempotency hashing.
    pub raw: web::Bytes,
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == mime::APPLICATION
                    && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
            });
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "the body must be application/json",
                )
                .into());
            }
            let raw = bytes.await.map_err(|e| payload_error(&e))?;
            let value = parse_json(&raw)?;
            Ok(JsonBody { value, raw })
        })
    }
}

fn payload_error(e: &actix_web::Error) -> ApiError {
    let status = e.as_response_error().status_code();
    if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body exceeds the size limit",
        )
    } else {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body could not be read: {e}"),
        )
    }
}

/// Deserialises JSON strictly, turning serde's message into a field error.
///
/// Two passes: the first reads the body into a JSON value, refusing a key
/// that appears twice in one object and any string (key or value) with a
/// control character other than tab and line breaks, each as a field error
/// naming where; the second deserialises the value into `T` with field
/// paths. serde_json's nesting limit (128) holds in the first pass.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let value = strict_value(raw)?;
    match serde_path_to_error::deserialize(value) {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let inner: serde_json::Error = err.into_inner();
            if inner.is_data() {
                Err(ApiError::validation(vec![field_error(&path, &inner)]))
            } else {
                Err(ApiError::new(ErrorCode::MalformedJson, inner.to_string()))
            }
        }
    }
}

/// The body as a JSON value, without duplicate keys or control characters.
pub fn strict_value(raw: &[u8]) -> Result<serde_json::Value, ApiError> {
    use serde::de::DeserializeSeed;
    let problem = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(raw);
    let parsed = StrictSeed {
        path: String::new(),
        problem: &problem,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => match problem.into_inner() {
            Some(field) => Err(ApiError::validation(vec![field])),
            None => Err(ApiError::new(ErrorCode::MalformedJson, e.to_string())),
        },
    }
}

/// Reads any JSON value, noting the first duplicate key or control
/// character with its path.
struct StrictSeed<'a> {
    path: String,
    problem: &'a std::cell::RefCell<Option<FieldError>>,
}

impl StrictSeed<'_> {
    fn child(&self, path: String) -> StrictSeed<'_> {
        StrictSeed {
            path,
            problem: self.problem,
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn field(&self) -> String {
        if self.path.is_empty() {
            "body".to_owned()
        } else {
            self.path.clone()
        }
    }

    fn refuse<E: serde::de::Error>(&self, error: FieldError) -> E {
        let message = error.message.clone();
        *self.problem.borrow_mut() = Some(error);
        E::custom(message)
    }

    fn text<E: serde::de::Error>(&self, v: &str) -> Result<serde_json::Value, E> {
        if v.chars().all(|c| super::edge::is_allowed_char(c, true)) {
            Ok(serde_json::Value::String(v.to_owned()))
        } else {
            Err(self.refuse(super::edge::control_character(self.field())))
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictSeed<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // `4.0` is the integer 4 (JSON Schema's view), for integer fields.
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            return Ok((v as i64).into());
        }
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.text(v)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))?
        {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.key_path(&key);
            if !key.chars().all(|c| super::edge::is_allowed_char(c, false)) {
                return Err(self.refuse(super::edge::control_character(self.field())));
            }
            if object.contains_key(&key) {
                return Err(self.refuse(FieldError::new(
                    path,
                    "duplicate_key",
                    "this key appears more than once in its object",
                )));
            }
            let value = map.next_value_seed(self.child(path))?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

/// Maps serde's data errors to a field path and a stable code.
fn field_error(path: &str, err: &serde_json::Error) -> FieldError {
    let message = err.to_string();
    // serde_json appends " at line L column C"; people need the rest.
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m)
        .to_owned();
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    let base = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    if message.starts_with("unknown field") {
        let name = quoted(&message).unwrap_or_default();
        // serde_path_to_error already points at the unknown key.
        let field = if base.ends_with(&name) {
            base
        } else {
            join(&name)
        };
        FieldError::new(field, "unknown_field", message)
    } else if message.starts_with("missing field") {
        let name = quoted(&message).unwrap_or_default();
        FieldError::new(join(&name), "required", message)
    } else if message.starts_with("invalid type") {
        FieldError::new(or_body(base), "invalid_type", message)
    } else if message.starts_with("invalid length") {
        FieldError::new(or_body(base), "invalid_length", message)
    } else {
        FieldError::new(or_body(base), "invalid_value", message)
    }
}

fn or_body(path: String) -> String {
    if path.is_empty() {
        "body".to_owned()
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
        list: Vec<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        minutes: u32,
    }

    fn errors(json: &str) -> (ErrorCode, Vec<FieldError>) {
        let e = parse_json::<Outer>(json.as_bytes()).expect_err("rejected");
        let p = e.problem();
        (p.code, p.errors)
    }

    #[test]
    fn names_the_offending_field() {
        let (code, errs) = errors(r#"{"name":"x","inner":{"minutes":"ten"},"list":[]}"#);
        assert_eq!(code, ErrorCode::ValidationFailed);
        assert_eq!(errs[0].field, "inner.minutes");
        assert_eq!(errs[0].code, "invalid_type");

        let (_, errs) = errors(r#"{"name":"x","inner":{"minutes":1},"list":[1,-2]}"#);
        assert_eq!(errs[0].field, "list[1]");

        let (_, errs) = errors(r#"{"name":"x","inner":{},"list":[]}"#);
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code.as_str()),
            ("inner.minutes", "required")
        );

        let (_, errs) = errors(r#"{"name":"x","inner":{"minutes":1},"list":[],"extra":1}"#);
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code.as_str()),
            ("extra", "unknown_field")
        );

        let (_, errs) = errors(r#"{"name":"x","inner":{"minutes":1,"secs":2},"list":[]}"#);
        assert_eq!(errs[0].field, "inner.secs");
    }

    #[test]
    fn duplicate_keys_and_control_characters_are_field_errors() {
        let (code, errs) = errors(r#"{"name":"x","name":"y","inner":{"minutes":1},"list":[]}"#);
        assert_eq!(code, ErrorCode::ValidationFailed);
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code.as_str()),
            ("name", "duplicate_key")
        );
        let (_, errs) = errors(r#"{"name":"x","inner":{"minutes":1,"minutes":2},"list":[]}"#);
        assert_eq!(errs[0].field, "inner.minutes");
        let (code, errs) = errors(r#"{"name":"a\u0000b","inner":{"minutes":1},"list":[]}"#);
        assert_eq!(code, ErrorCode::ValidationFailed);
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code.as_str()),
            ("name", "control_character")
        );
        let (_, errs) =
            errors(r#"{"name":"x","inner":{"minutes":1},"list":[],"tags":["ok","\u001b[31m"]}"#);
        assert_eq!(errs[0].field, "tags[1]");
        let (_, errs) = errors(r#"{"name":"x\u0085","inner":{"minutes":1},"list":[]}"#);
        assert_eq!(errs[0].code, "control_character", "C1 controls too");
        // Tab and line breaks are free text.
        let ok: Outer = parse_json(br#"{"name":"a\tb\r\nc","inner":{"minutes":1},"list":[]}"#)
            .expect("accepted");
        assert_eq!(ok.name, "a\tb\r\nc");
    }

    #[test]
    fn broken_json_is_malformed() {
        let (code, errs) = errors(r#"{"name": "#);
        assert_eq!(code, ErrorCode::MalformedJson);
        assert!(errs.is_empty());
    }
}
