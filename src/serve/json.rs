//! The one JSON body extractor of the API: the content type must be JSON (415 otherwise), the
//! body fits the configured limit (413), and a body serde cannot read is 400 `malformed_json`
//! (not JSON) or `invalid_field` naming the field by its path (`events[3].at: …`), never a
//! parser position.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use super::error::{ApiError, Code};

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Largest JSON body, in bytes (from the server's config).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Refuses a body whose content type is not JSON.
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req.content_type().to_ascii_lowercase();
    if ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json")) {
        return Ok(());
    }
    let shown = if ct.is_empty() {
        "none".to_string()
    } else {
        format!("'{ct}'")
    };
    Err(ApiError::new(
        Code::UnsupportedMediaType,
        format!("content type {shown}: send the body as application/json"),
    ))
}

/// Reads a request body up to `limit` bytes: 413 `body_too_large` past it.
pub async fn read_limited(payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(ApiError::new(Code::BadBody, e.to_string())),
        Err(_) => Err(ApiError::new(
            Code::BodyTooLarge,
            format!("body is over the {limit}-byte limit"),
        )),
    }
}

/// Deserialises JSON, naming the field of a value that does not fit by its path. Every body the
/// API takes is a JSON object (serde would also read a struct from an array).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            return Err(ApiError::new(
                Code::InvalidField,
                "body: expected a JSON object",
            ))
        }
        Some(_) => {}
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(de);
    let value = parsed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = without_position(&inner.to_string());
        if !inner.is_data() {
            return ApiError::new(Code::MalformedJson, message);
        }
        ApiError::new(Code::InvalidField, describe(&path, &message))
    })?;
    Ok(value)
}

/// `path: why`, with a missing field named as part of the path (`events[2].at: missing`).
fn describe(path: &str, message: &str) -> String {
    let path = if path == "." { "" } else { path };
    let join = |field: &str, why: &str| {
        if path.is_empty() {
            format!("{field}: {why}")
        } else {
            format!("{path}.{field}: {why}")
        }
    };
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return join(field, "missing");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            // The path already ends at the unknown field.
            let named = path == field || path.ends_with(&format!(".{field}"));
            let why = format!("unknown field{expected}");
            return if named {
                format!("{path}: {why}")
            } else {
                join(field, &why)
            };
        }
    }
    if message.starts_with("unknown variant") {
        return join("type", message);
    }
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

/// serde_json's message without its ` at line L column C` suffix.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(64 * 1024 * 1024, |l| l.0);
        let checked = require_json(req);
        let payload = web::Payload::from_request(req, payload);
        Box::pin(async move {
            checked?;
            let payload = payload
                .await
                .map_err(|e| ApiError::new(Code::BadBody, e.to_string()))?;
            let bytes = read_limited(payload, limit).await?;
            from_slice(&bytes).map(Body)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        at: i64,
        amount: f64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        events: Vec<Inner>,
    }

    fn err(body: &str) -> (&'static str, String) {
        from_slice::<Outer>(body.as_bytes())
            .err()
            .map(|e| (e.code.as_str(), e.message))
            .unwrap_or_default()
    }

    #[test]
    fn a_bad_field_is_named_by_its_path() {
        let (code, m) = err(r#"{"events":[{"at":1,"amount":2},{"amount":3}]}"#);
        assert_eq!(
            (code, m.as_str()),
            ("invalid_field", "events[1].at: missing")
        );
        let (code, m) = err(r#"{"events":[{"at":"x","amount":2}]}"#);
        assert_eq!(code, "invalid_field");
        assert!(m.starts_with("events[0].at: invalid type"), "{m}");
        assert!(!m.contains("line 1"), "{m}");
        let (_, m) = err(r#"{"events":[{"at":1,"amount":2,"extra":1}]}"#);
        assert!(m.starts_with("events[0].extra: unknown field"), "{m}");
        let (_, m) = err(r#"{}"#);
        assert_eq!(m, "events: missing");
        let (code, _) = err(r#"{"events":["#);
        assert_eq!(code, "malformed_json");
    }
}
