//! Request and response plumbing shared by every handler: capped JSON bodies with precise 400s,
//! JSON responses, request ids and CORS.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Headers, Request, Response};

use crate::error::{ApiError, ApiResult, ErrorKind, Family};
use crate::json_path::{self, Refusal};

const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access, X-Request-Id, OpenAI-Organization, OpenAI-Project, X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-OS, X-Stainless-Arch, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Retry-Count, X-Stainless-Timeout";
const CORS_EXPOSE_HEADERS: &str = "X-Request-Id, Retry-After, Server-Timing, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens";

/// A fresh random id such as `req_4f9c…` (24 hex digits).
pub fn new_request_id() -> String {
    format!("req_{}", random_hex(12))
}

/// `bytes` random bytes as lowercase hex; falls back to a time-based value only if the platform
/// has no randomness at all (never seen in workerd), so an id is always produced.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::getrandom(&mut buf).is_err() {
        let seed = worker::Date::now().as_millis();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (seed >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
    hex::encode(buf)
}

/// Parses a JSON body into `T`, answering 400s that name the field and the problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    json_path::parse(bytes).map_err(refused)
}

// Not generic, and kept out of line: `parse_json` is compiled once per type.
#[inline(never)]
fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Empty => ApiError::new(
            ErrorKind::BadRequest,
            "invalid_json",
            "The request body is empty; expected a JSON object.",
        ),
        Refusal::NotAnObject => ApiError::new(
            ErrorKind::BadRequest,
            "invalid_request",
            "The request body must be a JSON object.",
        ),
        Refusal::Syntax(e) => ApiError::new(
            ErrorKind::BadRequest,
            "invalid_json",
            format!("The request body is not valid JSON: {e}."),
        ),
        Refusal::Data { path, mut reason } => {
            let param = path.of_param(&reason).bracketed();
            // Rust type names mean nothing to a client.
            if let Some(at) = reason.find("expected struct ") {
                reason.replace_range(at.., "expected a JSON object");
            }
            let message = if param.is_empty() {
                format!("The request body is invalid: {reason}.")
            } else {
                format!("Invalid `{param}`: {reason}.")
            };
            let mut api_error = ApiError::new(ErrorKind::BadRequest, "invalid_request", message);
            if !param.is_empty() {
                api_error = api_error.with_param(param);
            }
            api_error
        }
    }
}

/// Reads the body, refusing (413) as soon as it passes `limit`, with or without Content-Length.
pub async fn read_body_capped(req: &mut Request, limit: usize) -> ApiResult<Vec<u8>> {
    use futures_util::StreamExt;

    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|length| length.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    // Sized once from Content-Length: a large prompt is not copied through doubling buffers.
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(body),
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorKind::BadRequest,
                "body_read_error",
                "The request body could not be read.",
            )
            .with_internal(e)
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and parses a JSON body of at most `limit` bytes.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request, limit: usize) -> ApiResult<T> {
    let body = read_body_capped(req, limit).await?;
    parse_json(&body)
}

/// A request's query string. Read with `form_urlencoded` rather than `Request::url`, which
/// parses the whole URL with the `url` crate: tens of KB of wasm the gateway need not carry.
pub struct Query(String);

impl Query {
    pub fn of(req: &Request) -> Query {
        Query::of_url(&req.inner().url())
    }

    pub fn of_url(url: &str) -> Query {
        let after_path = url.split_once('?').map_or("", |(_, query)| query);
        Query(
            after_path
                .split_once('#')
                .map_or(after_path, |(query, _)| query)
                .to_owned(),
        )
    }

    /// The decoded `(key, value)` pairs, as `Url::query_pairs` gives them.
    pub fn pairs(&self) -> form_urlencoded::Parse<'_> {
        form_urlencoded::parse(self.0.as_bytes())
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.pairs()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.into_owned())
    }

    pub fn has(&self, key: &str) -> bool {
        self.pairs().any(|(k, _)| k == key)
    }
}

/// A JSON answer's body as `T`. Not `Response::json`: that parses with `serde_json::from_str`, a
/// second copy of serde_json's parser in the wasm beside the `from_slice` one everything else uses.
pub async fn response_json<T: DeserializeOwned>(response: &mut Response) -> worker::Result<T> {
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).map_err(worker::Error::from)
}

/// A JSON response with `status`.
pub fn json<T: Serialize>(status: u16, value: &T) -> ApiResult<Response> {
    Ok(Response::from_json(value)?.with_status(status))
}

/// Renders an error in `family`'s envelope, logging what the client must not see.
pub fn error_response(error: &ApiError, family: Family, request_id: &str) -> Response {
    if let Some(internal) = &error.internal {
        worker::console_error!("[{request_id}] {} {}: {internal}", error.status(), error.code);
    }
    let body = error.body(family);
    let mut response = match Response::from_json(&body) {
        Ok(response) => response.with_status(error.status_in(family)),
        Err(_) => Response::empty()
            .map(|r| r.with_status(500))
            .unwrap_or_else(|_| fallback_response()),
    };
    let headers = response.headers_mut();
    for (name, value) in &error.headers {
        let _ = headers.set(name, value);
    }
    if let Some(seconds) = error.retry_after {
        let _ = headers.set("Retry-After", &seconds.to_string());
    }
    response
}

fn fallback_response() -> Response {
    Response::builder().with_status(500).empty()
}

/// The CORS headers every response carries.
pub fn add_cors(headers: &mut Headers) {
    let _ = headers.set("Access-Control-Allow-Origin", "*");
    let _ = headers.set("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    let _ = headers.set("Timing-Allow-Origin", "*");
}

/// The answer to a CORS preflight for a route that allows `methods`.
pub fn preflight(methods: &str) -> Response {
    let mut response = fallback_response().with_status(204);
    let headers = response.headers_mut();
    let _ = headers.set("Access-Control-Allow-Methods", &format!("{methods}, OPTIONS"));
    let _ = headers.set("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
    let _ = headers.set("Access-Control-Max-Age", "86400");
    response
}

/// Adds the request id and CORS headers to any response on its way out.
pub fn finish(mut response: Response, request_id: &str) -> Response {
    let headers = response.headers_mut();
    let _ = headers.set("X-Request-Id", request_id);
    add_cors(headers);
    response
}

/// An answer from a service the gateway calls (mail, OAuth, payments), read whole.
#[derive(Debug)]
pub struct Outbound {
    pub status: u16,
    pub body: String,
}

/// Calls an outside service. A network failure is an `Err`; any HTTP status is an `Ok`.
pub async fn send_outbound(
    method: worker::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> worker::Result<Outbound> {
    let request_headers = Headers::new();
    for (name, value) in headers {
        request_headers.set(name, value)?;
    }
    let mut init = worker::RequestInit::new();
    init.with_method(method).with_headers(request_headers);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let request = Request::new_with_init(url, &init)?;
    let mut response = worker::Fetch::Request(request).send().await?;
    let status = response.status_code();
    let body = response.text().await.unwrap_or_default();
    Ok(Outbound { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        role: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        count: Option<u32>,
        items: Option<Vec<Inner>>,
    }

    fn err(body: &str) -> ApiError {
        match parse_json::<Body>(body.as_bytes()) {
            Ok(_) => panic!("{body} should be refused"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_missing_field_is_named_in_param() {
        let error = err("{}");
        assert_eq!(error.param.as_deref(), Some("email"));
        assert_eq!(error.status(), 400);
        let error = err(r#"{"email":"a","items":[{}]}"#);
        assert_eq!(error.param.as_deref(), Some("items[0].role"));
    }

    #[test]
    fn a_wrong_type_is_named_with_its_path() {
        let error = err(r#"{"email": 5}"#);
        assert_eq!(error.param.as_deref(), Some("email"));
        assert!(
            error
                .message
                .contains("invalid type: integer `5`, expected a string"),
            "{}",
            error.message
        );
        let error = err(r#"{"email":"a","count":-1}"#);
        assert_eq!(error.param.as_deref(), Some("count"));
    }

    #[test]
    fn invalid_json_and_empty_bodies_are_400s_without_param() {
        for body in ["{", "", "   ", "{\"email\":\"a\"} trailing", "nul"] {
            let error = err(body);
            assert_eq!(error.status(), 400, "{body}");
            assert_eq!(error.code, "invalid_json", "{body}");
            assert_eq!(error.param, None);
        }
    }

    #[test]
    fn a_non_object_body_is_a_clear_400() {
        let error = err("[1,2]");
        assert_eq!(error.status(), 400);
        assert_eq!(error.message, "The request body must be a JSON object.");
    }

    #[test]
    fn request_ids_are_random_and_prefixed() {
        let a = new_request_id();
        let b = new_request_id();
        assert!(a.starts_with("req_") && a.len() == 28);
        assert_ne!(a, b);
    }

    #[test]
    fn the_query_is_decoded_as_url_would_and_stops_at_the_fragment() {
        let query = Query::of_url("https://h/api/files?email=A%40b.c&days=7&q=a+b%2Bc&flag#days=30");
        assert_eq!(query.get("email").as_deref(), Some("A@b.c"));
        assert_eq!(query.get("days").as_deref(), Some("7"));
        assert_eq!(query.get("q").as_deref(), Some("a b+c"));
        assert_eq!(query.get("flag").as_deref(), Some(""));
        assert!(query.has("flag") && !query.has("missing"));
        assert_eq!(Query::of_url("https://h/api/files").pairs().count(), 0);
        assert_eq!(Query::of_url("https://h/x?#a=1").pairs().count(), 0);
    }
}
