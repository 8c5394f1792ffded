//! The HTTP server: one fallback handler that records the request and dispatches on the
//! path's suffix, so base URLs may carry any prefix (`/deepseek/v1/chat/completions`).

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::serve::ListenerExt as _;
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::answer::{plan, Conversation};
use crate::config::Config;
use crate::error::WireError;
use crate::gemini::Framing;
use crate::knobs::{Knobs, Timing};
use crate::record::{Recorded, Recorder};
use crate::services::{self, Payments};
use crate::stream::{self, assemble};
use crate::{anthropic, embeddings, gemini, openai, responses, util};

/// A tiny valid PNG (2×2, RGBA), served at `/__mock/image.png` and inlined as `b64_json`.
pub const MOCK_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, 0x00, 0x00, 0x00, 0x72, 0xb6, 0x0d, 0x24, 0x00,
    0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0x1f, 0xc7, 0xf0, 0x1f, 0x84, 0x19,
    0x60, 0x0c, 0x00, 0x55, 0xbe, 0x09, 0x71, 0x13, 0xc6, 0x73, 0x44, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Shared server state.
pub struct AppState {
    config: Config,
    base_url: String,
    png_b64: String,
    recorder: Mutex<Recorder>,
    fail_once_seen: Mutex<HashSet<String>>,
    payments: Mutex<Payments>,
    /// Yandex access tokens the token endpoint issued, and the `client_id` each was issued to.
    yandex_tokens: Mutex<HashMap<String, String>>,
    log: Option<std::sync::mpsc::SyncSender<String>>,
}

/// Per-request log lines go through a bounded queue to a writer thread, so a harness that
/// never drains the mock's stderr can't stall request handling; lines beyond the queue are
/// dropped.
fn spawn_logger() -> Option<std::sync::mpsc::SyncSender<String>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(1024);
    std::thread::Builder::new()
        .name("flint-mock-log".into())
        .spawn(move || {
            for line in rx {
                eprintln!("{line}");
            }
        })
        .ok()?;
    Some(tx)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Binds `127.0.0.1:<config.port>` (0 = a free port).
pub async fn bind(config: &Config) -> io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", config.port)).await
}

/// Serves on `listener` until the process ends.
pub async fn serve(listener: TcpListener, config: Config) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let app = router(config, addr);
    let listener = listener.tap_io(|tcp| {
        // Small SSE frames must leave at once, not wait for Nagle.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// Starts a server on the current Tokio runtime; returns its address.
pub async fn spawn(config: Config) -> io::Result<SocketAddr> {
    let listener = bind(&config).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, config).await {
            eprintln!("flint-mock: server error: {e}");
        }
    });
    Ok(addr)
}

/// The router for a server listening on `addr`.
pub fn router(config: Config, addr: SocketAddr) -> Router {
    let state = AppState {
        base_url: format!("http://127.0.0.1:{}", addr.port()),
        png_b64: util::b64_encode(MOCK_PNG),
        recorder: Mutex::new(Recorder::new(config.max_records)),
        fail_once_seen: Mutex::new(HashSet::new()),
        payments: Mutex::new(Payments::default()),
        yandex_tokens: Mutex::new(HashMap::new()),
        log: if config.quiet { None } else { spawn_logger() },
        config,
    };
    Router::new()
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(Arc::new(state))
}

async fn dispatch(
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let control = path == "/__mock" || path.starts_with("/__mock/");
    if !control {
        let entry = Recorded::new(
            method.as_str(),
            &path,
            &query,
            &headers,
            &body,
            util::now_millis(),
        );
        lock(&st.recorder).push(entry);
    }
    let req = Req {
        method,
        path,
        query,
        headers,
        body,
    };
    let response = if control {
        control_route(&st, &req)
    } else {
        route(&st, &req).await
    };
    if let (Some(log), false) = (&st.log, control) {
        let line = format!(
            "flint-mock: {} {} -> {}",
            req.method,
            req.path,
            response.status().as_u16()
        );
        let _ = log.try_send(line);
    }
    response
}

struct Req {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query_value(&self, key: &str) -> Option<String> {
        util::pair_value(&self.query, key)
    }

    /// The token of `Authorization: <scheme> <token>` (scheme matched case-insensitively).
    fn auth_token(&self, scheme: &str) -> Option<&str> {
        let value = self.header("authorization")?.trim();
        let (s, token) = value.split_once(' ')?;
        s.eq_ignore_ascii_case(scheme).then_some(token.trim())
    }

    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| e.to_string())
    }

    fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn reply(r: services::Reply) -> Response {
    json_response(r.0, &r.1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
}

fn wire_error(wire: Wire, err: &WireError) -> Response {
    let body = match wire {
        Wire::OpenAi => openai::error_body(err),
        Wire::Anthropic => anthropic::error_body(err),
        Wire::Gemini => gemini::error_body(err),
    };
    let mut resp = json_response(err.status, &body);
    if let Some(secs) = err.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

async fn route(st: &AppState, req: &Req) -> Response {
    let p = req.path.as_str();
    let post = req.method == Method::POST;
    let get = req.method == Method::GET;
    if post && p.ends_with("/chat/completions") {
        return chat(st, req, Target::OpenAi(openai::Dialect::from_path(p))).await;
    }
    if post && p.ends_with("/responses") {
        return responses_route(st, req).await;
    }
    if post && p.ends_with("/embeddings") {
        return openai_embeddings(st, req).await;
    }
    if post && p.ends_with("/v1/messages/count_tokens") {
        return anthropic_count_tokens(st, req);
    }
    if post && p.ends_with("/v1/messages") {
        return chat(st, req, Target::Anthropic).await;
    }
    if post && p.contains("/models/") && p.contains(':') {
        return gemini_route(st, req).await;
    }
    if post && p.ends_with("/images/generations") {
        return images(st, req).await;
    }
    if post && p.ends_with("/emails") {
        return email(st, req).await;
    }
    if (get || post) && p.ends_with("/tokeninfo") {
        let token = req
            .query_value("id_token")
            .or_else(|| util::pair_value(&req.raw_text(), "id_token"));
        return reply(services::tokeninfo(token.as_deref()));
    }
    if post && p.ends_with("/token") {
        let basic = req.auth_token("basic").and_then(decode_basic);
        let form = req.raw_text();
        let client_id = util::pair_value(&form, "client_id")
            .filter(|v| !v.is_empty())
            .or_else(|| basic.as_ref().map(|(id, _)| id.clone()));
        let answer = services::yandex_token(&form, basic, &st.config.yandex_secret);
        if let (200, Some(token), Some(client_id)) = (answer.0, answer.1["access_token"].as_str(), client_id)
        {
            lock(&st.yandex_tokens).insert(token.to_string(), client_id);
        }
        return reply(answer);
    }
    if get && p.ends_with("/info") {
        let token = req
            .auth_token("oauth")
            .map(str::to_string)
            .or_else(|| req.query_value("oauth_token"));
        let issued_to = token
            .as_ref()
            .and_then(|t| lock(&st.yandex_tokens).get(t).cloned());
        return reply(services::yandex_info_for(token.as_deref(), issued_to.as_deref()));
    }
    if post && p.ends_with("/refunds") {
        let Some((shop_id, _)) = req.auth_token("basic").and_then(decode_basic) else {
            return reply(services::yookassa_auth_error());
        };
        let Ok(body) = req.json() else {
            let body = json!({"type": "error", "id": util::uuid_like(), "code": "invalid_request",
                "description": "Request body is not valid JSON"});
            return json_response(400, &body);
        };
        let key = req.header("idempotence-key");
        return reply(lock(&st.payments).refund(&shop_id, key, &body));
    }
    if get && p.contains("/refunds/") {
        if req.auth_token("basic").and_then(decode_basic).is_none() {
            return reply(services::yookassa_auth_error());
        }
        let id = p.rsplit('/').next().unwrap_or("");
        return reply(lock(&st.payments).get_refund(id));
    }
    if post && p.ends_with("/payments") {
        return create_payment(st, req).await;
    }
    if get && p.contains("/payments/") {
        if req.auth_token("basic").and_then(decode_basic).is_none() {
            return reply(services::yookassa_auth_error());
        }
        let id = p.rsplit('/').next().unwrap_or("");
        return reply(lock(&st.payments).get(id));
    }
    let err = WireError::new(404, format!("Invalid URL ({} {})", req.method, req.path));
    wire_error(Wire::OpenAi, &err)
}

/// `Basic base64(user:password)` → both parts, when both are non-empty.
fn decode_basic(token: &str) -> Option<(String, String)> {
    let raw = util::b64_decode_lenient(token)?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    (!user.is_empty() && !pass.is_empty()).then(|| (user.to_string(), pass.to_string()))
}

/// The auth check of each model wire; `None` when the request may pass.
fn check_model_auth(st: &AppState, req: &Req, wire: Wire) -> Option<Response> {
    let key = st.config.api_key.as_str();
    let given = match wire {
        Wire::OpenAi => req.auth_token("bearer").map(str::to_string),
        Wire::Anthropic => req.header("x-api-key").map(str::to_string),
        Wire::Gemini => req
            .header("x-goog-api-key")
            .map(str::to_string)
            .or_else(|| req.query_value("key")),
    };
    if given.is_some_and(|given| st.config.rate_limited_keys.contains(&given)) {
        let mut err = WireError::new(
            429,
            "Rate limit reached for requests with this key. Please try again in 30s.",
        );
        err.retry_after = Some(30);
        return Some(wire_error(wire, &err));
    }
    match wire {
        Wire::OpenAi => {
            let given = req.auth_token("bearer");
            if given == Some(key) {
                return None;
            }
            let message = match given {
                None => "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".to_string(),
                Some(k) => format!("Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.", mask(k)),
            };
            Some(wire_error(Wire::OpenAi, &WireError::new(401, message)))
        }
        Wire::Anthropic => {
            let err = match req.header("x-api-key") {
                None => WireError::new(401, "x-api-key header is required"),
                Some(k) if k != key => WireError::new(401, "invalid x-api-key"),
                Some(_) if req.header("anthropic-version").is_none() => {
                    WireError::bad_request("anthropic-version: header is required")
                }
                Some(_) => return None,
            };
            Some(wire_error(Wire::Anthropic, &err))
        }
        Wire::Gemini => {
            let given = req
                .header("x-goog-api-key")
                .map(str::to_string)
                .or_else(|| req.query_value("key"));
            match given {
                Some(k) if k == key => None,
                Some(_) => Some(json_response(400, &gemini::invalid_key_body())),
                None => Some(json_response(403, &gemini::missing_key_body())),
            }
        }
    }
}

fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// Waits `ttft`, then applies `fail_once` and `status`; `Some` is the error to answer.
async fn gate(st: &AppState, knobs: &Knobs, timing: &Timing) -> Option<WireError> {
    if timing.ttft_ms > 0 {
        tokio::time::sleep(Duration::from_millis(timing.ttft_ms)).await;
    }
    if let Some(marker) = &knobs.fail_once {
        if lock(&st.fail_once_seen).insert(marker.clone()) {
            return Some(WireError::injected(500, None));
        }
    }
    knobs.status.map(|s| WireError::injected(s, knobs.retry_after))
}

/// Which chat wire a request speaks; Gemini's model, method and framing come from the URL.
enum Target {
    OpenAi(openai::Dialect),
    Anthropic,
    Gemini {
        model: String,
        stream: bool,
        framing: Framing,
    },
}

impl Target {
    fn wire(&self) -> Wire {
        match self {
            Target::OpenAi(_) => Wire::OpenAi,
            Target::Anthropic => Wire::Anthropic,
            Target::Gemini { .. } => Wire::Gemini,
        }
    }
}

async fn gemini_route(st: &AppState, req: &Req) -> Response {
    let tail = req.path.rsplit("/models/").next().unwrap_or("");
    let (model, method) = tail.split_once(':').unwrap_or((tail, ""));
    let model = model.to_string();
    match method {
        "generateContent" | "streamGenerateContent" => {
            let framing = if req.query_value("alt").as_deref() == Some("sse") {
                Framing::Sse
            } else {
                Framing::JsonArray
            };
            let stream = method == "streamGenerateContent";
            chat(
                st,
                req,
                Target::Gemini {
                    model,
                    stream,
                    framing,
                },
            )
            .await
        }
        "embedContent" | "batchEmbedContents" => {
            gemini_embeddings(st, req, &model, method == "batchEmbedContents").await
        }
        "countTokens" => {
            if let Some(resp) = check_model_auth(st, req, Wire::Gemini) {
                return resp;
            }
            let body = match json_body(req, Wire::Gemini) {
                Ok(b) => b,
                Err(e) => return wire_error(Wire::Gemini, &e),
            };
            match gemini::count_tokens(&body) {
                Ok(n) => json_response(200, &json!({"totalTokens": n})),
                Err(e) => wire_error(Wire::Gemini, &e),
            }
        }
        _ => wire_error(
            Wire::Gemini,
            &WireError::new(404, format!("Method not found: {method}")),
        ),
    }
}

fn anthropic_count_tokens(st: &AppState, req: &Req) -> Response {
    if let Some(resp) = check_model_auth(st, req, Wire::Anthropic) {
        return resp;
    }
    let body = match json_body(req, Wire::Anthropic) {
        Ok(b) => b,
        Err(e) => return wire_error(Wire::Anthropic, &e),
    };
    match anthropic::count_tokens(&body) {
        Ok(n) => json_response(200, &json!({"input_tokens": n})),
        Err(e) => wire_error(Wire::Anthropic, &e),
    }
}

/// The shared chat flow: auth → parse → knobs (ttft, fail_once, status) → answer, streamed
/// or whole.
async fn chat(st: &AppState, req: &Req, target: Target) -> Response {
    let wire = target.wire();
    if let Some(resp) = check_model_auth(st, req, wire) {
        return resp;
    }
    let body = match json_body(req, wire) {
        Ok(b) => b,
        Err(e) => return wire_error(wire, &e),
    };
    let parsed: Result<(Conversation, bool), WireError> = match &target {
        Target::OpenAi(dialect) => openai::parse(&body).and_then(|mut r| {
            openai::check_dialect(&body, &mut r.conv, *dialect)?;
            Ok((r.conv, r.include_usage))
        }),
        Target::Anthropic => anthropic::parse(&body).map(|c| (c, false)),
        Target::Gemini { model, stream, .. } => gemini::parse(&body, model, *stream).map(|c| (c, false)),
    };
    let (conv, include_usage) = match parsed {
        Ok(p) => p,
        Err(e) => return wire_error(wire, &e),
    };
    let knobs = conv.knobs();
    let timing = Timing::resolve(&knobs, &st.config.defaults);
    if let Some(err) = gate(st, &knobs, &timing).await {
        return wire_error(wire, &err);
    }
    let answer = plan(&conv, &knobs, &st.config.defaults);
    let request_id = format!("req_{}", util::random_alnum(24));

    if !conv.stream {
        wait_whole(&answer, &timing).await;
        let body = match &target {
            Target::OpenAi(dialect) => openai::completion(&conv, &answer, knobs.no_usage, *dialect),
            Target::Anthropic => anthropic::message(&conv, &answer, knobs.no_usage),
            Target::Gemini { .. } => {
                gemini::generate(&conv, &answer, knobs.no_usage, gemini::includes_thoughts(&body))
            }
        };
        let mut resp = json_response(200, &body);
        add_request_id(&mut resp, wire, &request_id);
        return resp;
    }

    let (events, error_frame, content_type) = match target {
        Target::OpenAi(dialect) => (
            openai::stream_events(&conv, &answer, include_usage, knobs.no_usage, dialect),
            openai::stream_error(),
            "text/event-stream; charset=utf-8",
        ),
        Target::Anthropic => (
            anthropic::stream_events(&conv, &answer, knobs.no_usage, knobs.ping_every),
            anthropic::stream_error(),
            "text/event-stream; charset=utf-8",
        ),
        Target::Gemini { framing, .. } => {
            let thoughts = gemini::includes_thoughts(&body);
            // A thought chunk goes out before the content, so the error follows a comma.
            let emitted = thoughts && !answer.reasoning.is_empty()
                || knobs
                    .error_after
                    .map(|n| n.min(answer.content_chunks()) > 0)
                    .unwrap_or(false);
            (
                gemini::stream_events(&conv, &answer, knobs.no_usage, framing, thoughts),
                gemini::stream_error(framing, emitted),
                if framing == Framing::Sse {
                    "text/event-stream"
                } else {
                    "application/json; charset=UTF-8"
                },
            )
        }
    };
    let stream_plan = assemble(events, timing.delay_ms, &knobs, |_| error_frame);
    sse_response(stream_plan, content_type, wire, &request_id)
}

fn sse_response(
    plan: stream::StreamPlan,
    content_type: &'static str,
    wire: Wire,
    request_id: &str,
) -> Response {
    let mut resp = Response::new(stream::body(plan));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    add_request_id(&mut resp, wire, request_id);
    resp
}

/// The body as JSON, or the wire's own 400 for a body that is not.
fn json_body(req: &Req, wire: Wire) -> Result<Value, WireError> {
    req.json().map_err(|e| {
        WireError::bad_request(match wire {
            Wire::OpenAi => format!("We could not parse the JSON body of your request. ({e})"),
            Wire::Anthropic => "The request body is not valid JSON.".to_string(),
            Wire::Gemini => format!("Invalid JSON payload received. {e}"),
        })
    })
}

/// `POST …/responses`: the OpenAI Responses API, whole or streamed.
async fn responses_route(st: &AppState, req: &Req) -> Response {
    if let Some(resp) = check_model_auth(st, req, Wire::OpenAi) {
        return resp;
    }
    let body = match json_body(req, Wire::OpenAi) {
        Ok(b) => b,
        Err(e) => return wire_error(Wire::OpenAi, &e),
    };
    let parsed = match responses::parse(&body) {
        Ok(p) => p,
        Err(e) => return wire_error(Wire::OpenAi, &e),
    };
    let knobs = parsed.conv.knobs();
    let timing = Timing::resolve(&knobs, &st.config.defaults);
    if let Some(err) = gate(st, &knobs, &timing).await {
        return wire_error(Wire::OpenAi, &err);
    }
    let answer = plan(&parsed.conv, &knobs, &st.config.defaults);
    let request_id = format!("req_{}", util::random_alnum(24));
    if !parsed.conv.stream {
        wait_whole(&answer, &timing).await;
        let mut resp = json_response(200, &responses::response(&parsed, &answer, knobs.no_usage));
        add_request_id(&mut resp, Wire::OpenAi, &request_id);
        return resp;
    }
    let events = responses::stream_events(&parsed, &answer, knobs.no_usage);
    let stream_plan = assemble(events, timing.delay_ms, &knobs, |written| {
        responses::stream_error(&parsed, &answer, knobs.error_event, written)
    });
    sse_response(
        stream_plan,
        "text/event-stream; charset=utf-8",
        Wire::OpenAi,
        &request_id,
    )
}

/// A whole answer waits as long as its stream would have taken.
async fn wait_whole(answer: &crate::answer::Answer, timing: &Timing) {
    let n = answer.content_chunks();
    if n > 1 && timing.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(timing.delay_ms.saturating_mul(n - 1))).await;
    }
}

/// `POST …/embeddings` (OpenAI).
async fn openai_embeddings(st: &AppState, req: &Req) -> Response {
    if let Some(resp) = check_model_auth(st, req, Wire::OpenAi) {
        return resp;
    }
    let body = match json_body(req, Wire::OpenAi) {
        Ok(b) => b,
        Err(e) => return wire_error(Wire::OpenAi, &e),
    };
    let parsed = match embeddings::parse_openai(&body) {
        Ok(p) => p,
        Err(e) => return wire_error(Wire::OpenAi, &e),
    };
    let knobs = Knobs::from_texts(parsed.texts());
    let timing = Timing::resolve(&knobs, &st.config.defaults);
    if let Some(err) = gate(st, &knobs, &timing).await {
        return wire_error(Wire::OpenAi, &err);
    }
    let mut resp = json_response(200, &embeddings::openai_response(&parsed, knobs.no_usage));
    add_request_id(
        &mut resp,
        Wire::OpenAi,
        &format!("req_{}", util::random_alnum(24)),
    );
    resp
}

/// `POST …/models/{model}:embedContent` / `:batchEmbedContents` (Gemini).
async fn gemini_embeddings(st: &AppState, req: &Req, model: &str, batch: bool) -> Response {
    if let Some(resp) = check_model_auth(st, req, Wire::Gemini) {
        return resp;
    }
    let body = match json_body(req, Wire::Gemini) {
        Ok(b) => b,
        Err(e) => return wire_error(Wire::Gemini, &e),
    };
    let embeds = match embeddings::parse_gemini(model, batch, &body) {
        Ok(e) => e,
        Err(e) => return wire_error(Wire::Gemini, &e),
    };
    let knobs = Knobs::from_texts(embeds.iter().map(|e| e.text.as_str()));
    let timing = Timing::resolve(&knobs, &st.config.defaults);
    if let Some(err) = gate(st, &knobs, &timing).await {
        return wire_error(Wire::Gemini, &err);
    }
    json_response(200, &embeddings::gemini_response(model, batch, &embeds))
}

fn add_request_id(resp: &mut Response, wire: Wire, id: &str) {
    let name = match wire {
        Wire::OpenAi => "x-request-id",
        Wire::Anthropic => "request-id",
        Wire::Gemini => return,
    };
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert(name, v);
    }
}

async fn images(st: &AppState, req: &Req) -> Response {
    if let Some(resp) = check_model_auth(st, req, Wire::OpenAi) {
        return resp;
    }
    let body = match req.json() {
        Ok(v) => v,
        Err(e) => {
            let err =
                WireError::bad_request(format!("We could not parse the JSON body of your request. ({e})"));
            return wire_error(Wire::OpenAi, &err);
        }
    };
    let image_req = match openai::parse_images(&body) {
        Ok(r) => r,
        Err(e) => return wire_error(Wire::OpenAi, &e),
    };
    let knobs = Knobs::from_texts([image_req.prompt.as_str()]);
    let timing = Timing::resolve(&knobs, &st.config.defaults);
    if let Some(err) = gate(st, &knobs, &timing).await {
        return wire_error(Wire::OpenAi, &err);
    }
    let url = format!("{}/__mock/image.png", st.base_url);
    json_response(200, &openai::images_response(&image_req, &st.png_b64, &url))
}

async fn email(st: &AppState, req: &Req) -> Response {
    match req.auth_token("bearer") {
        Some(k) if k == st.config.api_key => {}
        given => return reply(services::email_auth_error(given.is_none())),
    }
    let knobs = Knobs::from_texts([req.raw_text().as_str()]);
    let timing = Timing::resolve(&knobs, &st.config.defaults);
    if let Some(err) = gate(st, &knobs, &timing).await {
        let body = json!({"statusCode": err.status, "name": "application_error", "message": err.message});
        return json_response(err.status, &body);
    }
    match req.json() {
        Ok(body) => reply(services::send_email(&body)),
        Err(_) => reply((
            422,
            json!({"statusCode": 422, "name": "validation_error", "message": "Invalid JSON body."}),
        )),
    }
}

async fn create_payment(st: &AppState, req: &Req) -> Response {
    let Some((shop_id, _)) = req.auth_token("basic").and_then(decode_basic) else {
        return reply(services::yookassa_auth_error());
    };
    let knobs = Knobs::from_texts([req.raw_text().as_str()]);
    let timing = Timing::resolve(&knobs, &st.config.defaults);
    if let Some(err) = gate(st, &knobs, &timing).await {
        let code = if err.status >= 500 {
            "internal_server_error"
        } else {
            "invalid_request"
        };
        let body =
            json!({"type": "error", "id": util::uuid_like(), "code": code, "description": err.message});
        return json_response(err.status, &body);
    }
    let body = match req.json() {
        Ok(v) => v,
        Err(_) => {
            let body = json!({"type": "error", "id": util::uuid_like(), "code": "invalid_request",
                "description": "Request body is not valid JSON"});
            return json_response(400, &body);
        }
    };
    let key = req.header("idempotence-key");
    reply(lock(&st.payments).create(&shop_id, key, &body, &st.base_url))
}

fn control_route(st: &AppState, req: &Req) -> Response {
    let p = req.path.as_str();
    let m = &req.method;
    match (m.as_str(), p) {
        ("GET", "/__mock/health") => json_response(200, &json!({"status": "ok"})),
        ("GET", "/__mock/requests") => {
            let needle = req.query_value("contains");
            json_response(200, &Value::Array(lock(&st.recorder).list(needle.as_deref())))
        }
        ("DELETE", "/__mock/requests") => {
            let n = lock(&st.recorder).clear();
            json_response(200, &json!({"cleared": n}))
        }
        ("POST", "/__mock/reset") => {
            lock(&st.recorder).clear();
            lock(&st.fail_once_seen).clear();
            *lock(&st.payments) = Payments::default();
            lock(&st.yandex_tokens).clear();
            json_response(200, &json!({"status": "ok"}))
        }
        ("GET", "/__mock/image.png") => {
            let mut resp = Response::new(Body::from(Bytes::from_static(MOCK_PNG)));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            resp
        }
        _ => {
            if let Some(rest) = p.strip_prefix("/__mock/yookassa/payments/") {
                if let Some((id, action)) = rest.split_once('/') {
                    if m == Method::POST && (action == "succeed" || action == "cancel") {
                        return reply(lock(&st.payments).settle(id, action == "succeed"));
                    }
                }
            }
            if let Some(id) = p.strip_prefix("/__mock/yookassa/confirm/") {
                if m == Method::GET {
                    let mut payments = lock(&st.payments);
                    let settled = payments.settle(id, true);
                    if settled.0 != 200 {
                        return reply(settled);
                    }
                    if let Some(url) = payments.return_url(id) {
                        if let Ok(v) = HeaderValue::from_str(&url) {
                            let mut resp = Response::new(Body::empty());
                            *resp.status_mut() = StatusCode::FOUND;
                            resp.headers_mut().insert(header::LOCATION, v);
                            return resp;
                        }
                    }
                    return reply(settled);
                }
            }
            json_response(
                404,
                &json!({"error": format!("flint-mock: no control route {m} {p}")}),
            )
        }
    }
}
