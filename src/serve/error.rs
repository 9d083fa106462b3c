//! The one error mapping of the HTTP API: every failure is `{code, message}` with a stable code,
//! 4xx for the caller's mistakes and 5xx only for ours.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self)
    }
}

/// Maps actix's JSON extractor errors (bad syntax, wrong types, missing fields, too large) to
/// our codes, naming the field where serde does.
pub fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { length, limit } => ApiError::new(
            413,
            "body_too_large",
            format!("body of {length} bytes is over the {limit}-byte limit"),
        ),
        E::Overflow { limit } => ApiError::new(
            413,
            "body_too_large",
            format!("body is over the {limit}-byte limit"),
        ),
        E::ContentType => ApiError::new(
            415,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        E::Deserialize(e) => serde_error(e),
        other => ApiError::bad_request("malformed_json", other.to_string()),
    }
}

/// A body serde could not read: a value of the wrong type or a missing field (`invalid_field`,
/// naming it), or not JSON at all (`malformed_json`).
pub fn serde_error(e: serde_json::Error) -> ApiError {
    if e.is_data() {
        ApiError::bad_request("invalid_field", e.to_string())
    } else {
        ApiError::bad_request("malformed_json", e.to_string())
    }
}
