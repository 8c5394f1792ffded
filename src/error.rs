//! `ApiError`: every failure a handler can answer with, rendered in the envelope of the route
//! family the request came in on. Internal details are logged by the responder, never returned.

use std::borrow::Cow;
use std::fmt::Display;

use serde_json::{json, Map, Value};

/// Which error envelope a path answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `/api/*`: `{"detail": {"error": "...", "code": "...", ...}}` (the Stone seed).
    Stone,
    /// Everything else: OpenAI's `{"error": {"message","type","param","code"}}`.
    OpenAi,
    /// `/v1/messages*`: Anthropic's `{"type":"error","error":{"type","message"}}`.
    Anthropic,
}

impl Family {
    pub fn of_path(path: &str) -> Family {
        let path = path.split('?').next().unwrap_or(path);
        if path == "/api" || path.starts_with("/api/") {
            Family::Stone
        } else if path == "/v1/messages" || path.starts_with("/v1/messages/") {
            Family::Anthropic
        } else {
            Family::OpenAi
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    PaymentRequired,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Internal,
    BadGateway,
    Unavailable,
    GatewayTimeout,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::PaymentRequired => 402,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::BadGateway => 502,
            ErrorKind::Unavailable => 503,
            ErrorKind::GatewayTimeout => 504,
        }
    }

    /// The `type` field of OpenAI's envelope.
    fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest
            | ErrorKind::NotFound
            | ErrorKind::MethodNotAllowed
            | ErrorKind::Conflict
            | ErrorKind::PayloadTooLarge
            | ErrorKind::UnsupportedMediaType => "invalid_request_error",
            ErrorKind::Unauthorized => "authentication_error",
            ErrorKind::Forbidden => "permission_error",
            ErrorKind::PaymentRequired => "insufficient_quota",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Internal => "server_error",
            ErrorKind::BadGateway | ErrorKind::Unavailable | ErrorKind::GatewayTimeout => "api_error",
        }
    }

    /// The `error.type` of Anthropic's envelope, which its SDKs map to their exception classes.
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest | ErrorKind::MethodNotAllowed | ErrorKind::UnsupportedMediaType => {
                "invalid_request_error"
            }
            ErrorKind::Unauthorized => "authentication_error",
            ErrorKind::PaymentRequired => "billing_error",
            ErrorKind::Forbidden => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::Conflict => "conflict_error",
            ErrorKind::PayloadTooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::Internal | ErrorKind::BadGateway => "api_error",
            ErrorKind::Unavailable => "overloaded_error",
            ErrorKind::GatewayTimeout => "timeout_error",
        }
    }
}

/// Boxed so that `Result<T, ApiError>` stays one pointer wide on the happy path.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorBody>);

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub code: Cow<'static, str>,
    pub message: String,
    pub param: Option<String>,
    pub retry_after: Option<u64>,
    /// Extra fields of the Stone `detail` object (`plan`, `tier`, `used_today`, ...).
    pub detail: Map<String, Value>,
    /// Extra response headers (`Allow` on 405, rate-limit headers on 429, ...).
    pub headers: Vec<(&'static str, String)>,
    /// What went wrong inside, for the log only.
    pub internal: Option<String>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorBody {
            kind,
            code: code.into(),
            message: message.into(),
            param: None,
            retry_after: None,
            detail: Map::new(),
            headers: Vec::new(),
            internal: None,
        }))
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Attaches a cause for the log; the client never sees it.
    pub fn with_internal(mut self, what: impl Display) -> Self {
        self.internal = Some(what.to_string());
        self
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The status as `family` answers it: Anthropic's SDKs raise `OverloadedError` only for its
    /// own 529, so an unavailable upstream is a 529 on `/v1/messages*` and a 503 elsewhere.
    pub fn status_in(&self, family: Family) -> u16 {
        match (family, self.kind) {
            (Family::Anthropic, ErrorKind::Unavailable) => 529,
            _ => self.status(),
        }
    }

    /// The frame ending an Anthropic stream that failed after its `200`.
    pub fn anthropic_event(&self) -> String {
        format!("event: error\ndata: {}\n\n", self.body(Family::Anthropic))
    }

    pub fn bad_request(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::BadRequest, "invalid_request", message).with_param(param)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::NotFound, "not_found", message)
    }

    pub fn model_not_found(model: &str) -> Self {
        ApiError::new(
            ErrorKind::NotFound,
            "model_not_found",
            format!("The model `{model}` does not exist. GET /v1/models lists the models available."),
        )
        .with_param("model")
    }

    pub fn route_not_found(method: &str, path: &str) -> Self {
        ApiError::new(
            ErrorKind::NotFound,
            "route_not_found",
            format!("No route for {method} {path}. See the README for the list of routes."),
        )
    }

    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> Self {
        ApiError::new(
            ErrorKind::MethodNotAllowed,
            "method_not_allowed",
            format!("{method} is not allowed on {path}; allowed: {allowed}."),
        )
        .with_header("Allow", allowed)
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            "payload_too_large",
            format!("The request body is larger than the limit of {limit_bytes} bytes."),
        )
    }

    /// A failure inside the gateway: the client sees a generic message, the log sees `what`.
    pub fn internal(what: impl Display) -> Self {
        let mut error = ApiError::new(
            ErrorKind::Internal,
            "internal_error",
            "The gateway hit an internal error. It has been logged; please retry later.",
        );
        error.internal = Some(what.to_string());
        error
    }

    /// The envelope of `family`, as a JSON value.
    pub fn body(&self, family: Family) -> Value {
        match family {
            Family::OpenAi => json!({
                "error": {
                    "message": self.message,
                    "type": self.kind.openai_type(),
                    "param": self.param,
                    "code": self.code,
                }
            }),
            Family::Anthropic => json!({
                "type": "error",
                "error": {
                    "type": self.kind.anthropic_type(),
                    "message": self.message,
                }
            }),
            Family::Stone => {
                let mut detail = Map::new();
                detail.insert("error".into(), Value::String(self.message.clone()));
                detail.insert("code".into(), Value::String(self.code.to_string()));
                if let Some(param) = &self.param {
                    detail.insert("param".into(), Value::String(param.clone()));
                }
                for (key, value) in &self.detail {
                    detail.insert(key.clone(), value.clone());
                }
                json!({ "detail": detail })
            }
        }
    }
}

/// The client's message (what a serde `try_from` reports when a checked type refuses).
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<worker::Error> for ApiError {
    fn from(error: worker::Error) -> Self {
        ApiError::internal(error)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_use_the_stone_envelope_and_everything_else_openai() {
        assert_eq!(Family::of_path("/api/models"), Family::Stone);
        assert_eq!(Family::of_path("/api"), Family::Stone);
        assert_eq!(Family::of_path("/apix"), Family::OpenAi);
        assert_eq!(Family::of_path("/v1/models"), Family::OpenAi);
        assert_eq!(Family::of_path("/auth/me"), Family::OpenAi);
        assert_eq!(Family::of_path("/"), Family::OpenAi);
    }

    #[test]
    fn openai_envelope_has_message_type_param_and_code() {
        let body = ApiError::bad_request("messages", "`messages` must not be empty").body(Family::OpenAi);
        assert_eq!(
            body,
            json!({"error": {"message": "`messages` must not be empty", "type": "invalid_request_error", "param": "messages", "code": "invalid_request"}})
        );
    }

    #[test]
    fn stone_envelope_carries_detail_fields() {
        let body = ApiError::new(
            ErrorKind::PaymentRequired,
            "insufficient_balance",
            "Insufficient balance",
        )
        .with_detail("plan", "free")
        .with_detail("need_balance", true)
        .body(Family::Stone);
        assert_eq!(
            body,
            json!({"detail": {"error": "Insufficient balance", "code": "insufficient_balance", "plan": "free", "need_balance": true}})
        );
    }

    #[test]
    fn messages_paths_use_the_anthropic_envelope() {
        assert_eq!(Family::of_path("/v1/messages"), Family::Anthropic);
        assert_eq!(Family::of_path("/v1/messages?beta=true"), Family::Anthropic);
        assert_eq!(Family::of_path("/v1/messages/count_tokens"), Family::Anthropic);
        assert_eq!(Family::of_path("/v1/messagesx"), Family::OpenAi);
        assert_eq!(Family::of_path("/v1/models"), Family::OpenAi);
    }

    #[test]
    fn anthropic_envelope_types_follow_the_status_table() {
        let cases = [
            (ErrorKind::BadRequest, 400, "invalid_request_error"),
            (ErrorKind::Unauthorized, 401, "authentication_error"),
            (ErrorKind::PaymentRequired, 402, "billing_error"),
            (ErrorKind::Forbidden, 403, "permission_error"),
            (ErrorKind::NotFound, 404, "not_found_error"),
            (ErrorKind::PayloadTooLarge, 413, "request_too_large"),
            (ErrorKind::RateLimited, 429, "rate_limit_error"),
            (ErrorKind::Internal, 500, "api_error"),
            (ErrorKind::BadGateway, 502, "api_error"),
            (ErrorKind::Unavailable, 529, "overloaded_error"),
            (ErrorKind::GatewayTimeout, 504, "timeout_error"),
        ];
        for (kind, status, kind_name) in cases {
            let error = ApiError::new(kind, "code", "what happened");
            assert_eq!(error.status_in(Family::Anthropic), status, "{kind:?}");
            assert_eq!(
                error.body(Family::Anthropic),
                json!({"type": "error", "error": {"type": kind_name, "message": "what happened"}})
            );
        }
        assert_eq!(
            ApiError::new(ErrorKind::Unavailable, "c", "m").status_in(Family::OpenAi),
            503
        );
    }

    #[test]
    fn an_anthropic_stream_ends_with_an_error_event() {
        let frame =
            ApiError::new(ErrorKind::Unavailable, "upstream_overloaded", "Overloaded").anthropic_event();
        assert_eq!(
            frame,
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
        );
    }

    #[test]
    fn internal_errors_never_render_their_cause() {
        let error = ApiError::internal("D1 said: no such table users");
        let text = error.body(Family::OpenAi).to_string()
            + &error.body(Family::Stone).to_string()
            + &error.body(Family::Anthropic).to_string();
        assert!(!text.contains("no such table"));
        assert_eq!(error.status(), 500);
    }
}
