//! Sending a request upstream, before its first byte reaches the client (so every retry here is
//! invisible to it): a first-byte timeout; one retry for a connect error or a 5xx; the next key
//! of the provider's pool when a key is refused (401/403) or rate-limited (429); the next route
//! of the model when its provider is unavailable.

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Delay, Env, Fetch, Headers, Method, Request, RequestInit, Response};

use super::keys::{self, Verdict};
use super::{auth_header, errors, Upstream, UpstreamRequest};
use crate::error::{ApiError, ApiResult, ErrorKind};

const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// One try with one key.
enum Outcome {
    Answered(Response),
    /// A non-2xx status, with what the error mapping needs.
    Status {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    Unreachable(worker::Error),
    TimedOut,
}

async fn attempt(request: &UpstreamRequest, first_byte: Duration) -> Outcome {
    let headers = Headers::new();
    for (name, value) in &request.headers {
        if headers.set(name, value).is_err() {
            return Outcome::Unreachable(worker::Error::RustError(format!("header {name} is invalid")));
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(request.body.clone().into()));
    let fetch = match Request::new_with_init(&request.url, &init) {
        Ok(req) => Fetch::Request(req),
        Err(e) => return Outcome::Unreachable(e),
    };
    let sending = Box::pin(fetch.send());
    let raced = select(sending, Delay::from(first_byte)).await;
    match raced {
        Either::Left((Ok(response), _)) if (200..300).contains(&response.status_code()) => {
            Outcome::Answered(response)
        }
        Either::Left((Ok(mut response), _)) => Outcome::Status {
            status: response.status_code(),
            retry_after: response.headers().get("Retry-After").ok().flatten(),
            body: response.text().await.unwrap_or_default(),
        },
        Either::Left((Err(error), _)) => Outcome::Unreachable(error),
        Either::Right(_) => Outcome::TimedOut,
    }
}

/// One key's answer after its retry: the response, or the error with what it says about the key.
async fn with_key(
    upstream: &Upstream,
    request: &UpstreamRequest,
    first_byte: Duration,
) -> Result<Response, (ApiError, Option<Verdict>)> {
    let provider = upstream.provider.id.as_str();
    let mut retried = false;
    loop {
        match attempt(request, first_byte).await {
            Outcome::Answered(response) => return Ok(response),
            Outcome::TimedOut => {
                return Err((errors::timeout(provider, "no response headers in time"), None))
            }
            Outcome::Status { status, .. } if status >= 500 && !retried => {
                worker::console_warn!("{provider} answered {status}; retrying once");
            }
            Outcome::Status {
                status,
                mut retry_after,
                body,
            } => {
                // Some wires name the wait in the body rather than in `Retry-After`.
                if retry_after.is_none() {
                    retry_after = super::wire(upstream.provider.wire)
                        .retry_hint_secs(&body)
                        .map(|s| s.to_string());
                }
                let verdict = match status {
                    401 | 403 => Some(Verdict::Refused),
                    429 => Some(Verdict::Resting {
                        for_ms: errors::retry_after_secs(retry_after.as_deref())
                            .map_or(keys::DEFAULT_REST_MS, |secs| secs.saturating_mul(1000)),
                    }),
                    _ => None,
                };
                return Err((
                    errors::map_status(provider, status, retry_after.as_deref(), &body),
                    verdict,
                ));
            }
            Outcome::Unreachable(error) if !retried => {
                worker::console_warn!("{provider} unreachable ({error}); retrying once")
            }
            Outcome::Unreachable(error) => return Err((errors::unreachable(provider, error), None)),
        }
        retried = true;
        Delay::from(RETRY_PAUSE).await;
    }
}

/// `request` carrying `key` instead of the one it was built with.
fn rekeyed(upstream: &Upstream, request: &UpstreamRequest, key: &str) -> UpstreamRequest {
    let (name, value) = auth_header(upstream.provider.auth, key);
    let mut request = request.clone();
    for header in request
        .headers
        .iter_mut()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        header.1 = value.clone();
    }
    request
}

/// Every usable key of the route's pool in turn, until one is answered: the upstream's
/// response once its headers arrived with a 2xx status; any other outcome is the mapped
/// `ApiError`.
pub async fn send(
    env: &Env,
    upstream: &Upstream,
    request: &UpstreamRequest,
    first_byte: Duration,
) -> ApiResult<Response> {
    let provider = upstream.provider.id.clone();
    if upstream.keys.len() < 2 {
        // One key has nowhere to move to: the provider's own answer is the best one, and a
        // verdict on the key would only keep it from recovering.
        return with_key(upstream, request, first_byte)
            .await
            .map_err(|(error, _)| error);
    }
    // What other isolates learned, for the next requests (never waited for).
    if keys::sync_due(&provider, crate::time::now_ms()) {
        wasm_bindgen_futures::spawn_local(sync_keys(env.clone(), provider.clone()));
    }
    let order = keys::order(&provider, &upstream.keys, crate::time::now_ms());
    if order.is_empty() {
        return Err(no_usable_key(upstream));
    }
    let mut last_error: Option<(ApiError, Verdict)> = None;
    for index in order {
        let Some(key) = upstream.keys.get(index) else {
            continue;
        };
        let keyed;
        let request = if *key == upstream.api_key {
            request
        } else {
            keyed = rekeyed(upstream, request, key);
            &keyed
        };
        match with_key(upstream, request, first_byte).await {
            Ok(response) => return Ok(response),
            Err((error, Some(verdict))) => {
                let report = keys::mark(&provider, key, verdict, crate::time::now_ms());
                worker::console_warn!(
                    "{provider} key {} {}; trying the next key",
                    report.fingerprint,
                    match verdict {
                        Verdict::Refused => "refused: out of the pool for a while",
                        Verdict::Resting { .. } => "rate-limited: resting",
                    }
                );
                wasm_bindgen_futures::spawn_local(report_key(env.clone(), provider.clone(), report));
                last_error = Some((error, verdict));
            }
            Err((error, None)) => return Err(error),
        }
    }
    // Every key failed: the pool's state says when one is back, whatever the last one said.
    Err(match last_error {
        Some((error, Verdict::Resting { .. })) => {
            match keys::soonest_back_secs(&provider, &upstream.keys, crate::time::now_ms()) {
                Some(secs) => error.with_retry_after(secs.max(1)),
                None => no_usable_key(upstream),
            }
        }
        _ => no_usable_key(upstream),
    })
}

async fn sync_keys(env: Env, provider: String) {
    keys::sync(&env, &provider).await;
}

async fn report_key(env: Env, provider: String, report: keys::KeyReport) {
    keys::report(&env, &provider, report).await;
}

/// Every key of the route is out or resting.
fn no_usable_key(upstream: &Upstream) -> ApiError {
    let provider = &upstream.provider.id;
    match keys::soonest_back_secs(provider, &upstream.keys, crate::time::now_ms()) {
        Some(secs) => ApiError::new(
            ErrorKind::RateLimited,
            "upstream_rate_limited",
            format!("The model's provider is rate limiting requests; retry in {secs} s."),
        )
        .with_retry_after(secs.max(1))
        .with_internal(format!("{provider}: every key is resting")),
        None => ApiError::new(
            ErrorKind::Unavailable,
            "upstream_unavailable",
            "The model's provider has no working key on this gateway right now; the operator has been alerted.",
        )
        .with_retry_after(60)
        .with_internal(format!("{provider}: every key was refused (401/403)")),
    }
}

/// Whether the next route may serve after `error`: the provider is unreachable, failing,
/// overloaded or without a usable key. A request the provider rejected would be rejected
/// again.
pub fn next_route_may_serve(error: &ApiError) -> bool {
    matches!(
        error.code.as_ref(),
        "upstream_unreachable"
            | "upstream_error"
            | "upstream_overloaded"
            | "upstream_unavailable"
            | "upstream_rate_limited"
            | "upstream_timeout"
    )
}

/// The routes in order until one answers: the response and the position of the route that
/// served. The last route's error when none did.
pub async fn send_routes(
    env: &Env,
    routes: &[(Upstream, UpstreamRequest)],
    first_byte: Duration,
) -> ApiResult<(Response, usize)> {
    let mut position = 0;
    loop {
        let Some((upstream, request)) = routes.get(position) else {
            return Err(ApiError::internal("a metered request without a route"));
        };
        match send(env, upstream, request, first_byte).await {
            Ok(response) => return Ok((response, position)),
            Err(error) if position + 1 < routes.len() && next_route_may_serve(&error) => {
                worker::console_warn!(
                    "route {} unavailable ({}); trying the next route",
                    upstream.route_name(),
                    error.code
                );
            }
            Err(error) => return Err(error),
        }
        position += 1;
    }
}
