//! The one error mapping of the HTTP API: every failure is `{code, message}` with a stable code,
//! 4xx for the caller's mistakes and 5xx only for ours. The codes are one enum, each with its
//! status; the layers' errors become an `ApiError` here, through exhaustive matches, and nowhere
//! else.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::scoring::lists::ListError;
use crate::state::{StateError, StoreError};

/// Every error code the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Unauthorized,
    AdminDisabled,
    MalformedJson,
    /// A body that could not be read.
    BadBody,
    InvalidField,
    MissingField,
    MalformedNdjson,
    InvalidParquet,
    MissingColumn,
    ModelRefused,
    InvalidRules,
    UnknownMember,
    NotScored,
    UnknownList,
    UnknownListKey,
    UnknownModel,
    UnknownTenant,
    UnknownEvent,
    UnknownGang,
    NoRoute,
    MethodNotAllowed,
    MemberExists,
    NoEventStore,
    NoChallenger,
    ExportExists,
    BodyTooLarge,
    TooManyIds,
    UnsupportedMediaType,
    StoreUnavailable,
    NotReady,
    Internal,
}

impl Code {
    pub fn status(self) -> u16 {
        use Code::*;
        match self {
            MalformedJson | BadBody | InvalidField | MissingField | MalformedNdjson
            | InvalidParquet | MissingColumn | ModelRefused | InvalidRules => 400,
            Unauthorized => 401,
            AdminDisabled => 403,
            UnknownMember | NotScored | UnknownList | UnknownListKey | UnknownModel
            | UnknownTenant | UnknownEvent | UnknownGang | NoRoute => 404,
            MethodNotAllowed => 405,
            MemberExists | NoEventStore | NoChallenger | ExportExists => 409,
            BodyTooLarge | TooManyIds => 413,
            UnsupportedMediaType => 415,
            Internal => 500,
            StoreUnavailable | NotReady => 503,
        }
    }

    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            Unauthorized => "unauthorized",
            AdminDisabled => "admin_disabled",
            MalformedJson => "malformed_json",
            BadBody => "bad_body",
            InvalidField => "invalid_field",
            MissingField => "missing_field",
            MalformedNdjson => "malformed_ndjson",
            InvalidParquet => "invalid_parquet",
            MissingColumn => "missing_column",
            ModelRefused => "model_refused",
            InvalidRules => "invalid_rules",
            UnknownMember => "unknown_member",
            NotScored => "not_scored",
            UnknownList => "unknown_list",
            UnknownListKey => "unknown_list_key",
            UnknownModel => "unknown_model",
            UnknownTenant => "unknown_tenant",
            UnknownEvent => "unknown_event",
            UnknownGang => "unknown_gang",
            NoRoute => "no_route",
            MethodNotAllowed => "method_not_allowed",
            MemberExists => "member_exists",
            NoEventStore => "no_event_store",
            NoChallenger => "no_challenger",
            ExportExists => "export_exists",
            BodyTooLarge => "body_too_large",
            TooManyIds => "too_many_ids",
            UnsupportedMediaType => "unsupported_media_type",
            StoreUnavailable => "store_unavailable",
            NotReady => "not_ready",
            Internal => "internal",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
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

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        let code = match &e {
            ListError::UnknownKey(_) => Code::UnknownListKey,
            ListError::UnknownList(_) => Code::UnknownList,
            ListError::InvalidValue { .. } => Code::InvalidField,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(Code::StoreUnavailable, e.to_string())
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        let code = match &e {
            StateError::Store(_) => Code::StoreUnavailable,
            StateError::Event(_) | StateError::InvalidField { .. } => Code::InvalidField,
            StateError::List(l) => {
                return ApiError::new(ApiError::from(l.clone()).code, e.to_string())
            }
            StateError::Rules(_) => Code::InvalidRules,
            StateError::MissingField(_) => Code::MissingField,
            StateError::MemberExists(_) => Code::MemberExists,
            StateError::UnknownMember(_) => Code::UnknownMember,
            StateError::NotScored(_) => Code::NotScored,
            StateError::NoEventStore => Code::NoEventStore,
            StateError::NoChallenger => Code::NoChallenger,
            StateError::ExportExists(_) => Code::ExportExists,
            StateError::UnknownModel(_) => Code::UnknownModel,
            StateError::ModelRefused(_) => Code::ModelRefused,
            StateError::Score(_) | StateError::Poisoned | StateError::Export(_) => Code::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}
