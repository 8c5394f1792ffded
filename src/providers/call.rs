//! Sending a request upstream: a first-byte timeout, and one retry for a connect error or a 5xx
//! before the first byte (nothing has reached the client yet, so a retry is invisible).

use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit, Response};

use super::{errors, gemini, Upstream, UpstreamRequest};
use crate::catalog::WireFormat;
use crate::error::ApiResult;

const RETRY_PAUSE: Duration = Duration::from_millis(250);

async fn attempt(request: &UpstreamRequest, first_byte: Duration) -> Result<worker::Result<Response>, ()> {
    let headers = Headers::new();
    for (name, value) in &request.headers {
        if headers.set(name, value).is_err() {
            return Ok(Err(worker::Error::RustError(format!("header {name} is invalid"))));
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(request.body.clone().into()));
    let fetch = match Request::new_with_init(&request.url, &init) {
        Ok(req) => Fetch::Request(req),
        Err(e) => return Ok(Err(e)),
    };
    let sending = Box::pin(fetch.send());
    let raced = select(sending, Delay::from(first_byte)).await;
    match raced {
        Either::Left((result, _)) => Ok(result),
        Either::Right(_) => Err(()),
    }
}

/// The upstream's response once its headers arrived with a 2xx status; any other outcome is
/// the mapped `ApiError`.
pub async fn send(
    upstream: &Upstream,
    request: &UpstreamRequest,
    first_byte: Duration,
) -> ApiResult<Response> {
    let provider = upstream.provider.id.as_str();
    let mut retried = false;
    loop {
        let outcome = attempt(request, first_byte)
            .await
            .map_err(|()| errors::timeout(provider, "no response headers in time"))?;
        match outcome {
            Ok(response) if (200..300).contains(&response.status_code()) => return Ok(response),
            Ok(response) if response.status_code() >= 500 && !retried => {
                worker::console_warn!("{provider} answered {}; retrying once", response.status_code());
            }
            Ok(mut response) => {
                let status = response.status_code();
                let mut retry_after = response.headers().get("Retry-After").ok().flatten();
                let body = response.text().await.unwrap_or_default();
                // Gemini puts its retry hint in the body (RetryInfo), not in a header.
                if retry_after.is_none() && upstream.provider.wire == WireFormat::Gemini {
                    retry_after = gemini::retry_delay_secs(&body).map(|s| s.to_string());
                }
                return Err(errors::map_status(
                    provider,
                    status,
                    retry_after.as_deref(),
                    &body,
                ));
            }
            Err(error) if !retried => {
                worker::console_warn!("{provider} unreachable ({error}); retrying once")
            }
            Err(error) => return Err(errors::unreachable(provider, error)),
        }
        retried = true;
        Delay::from(RETRY_PAUSE).await;
    }
}
