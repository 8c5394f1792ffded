//! Oversized bodies, in a test binary (and so a `wrangler dev`) of their own.
//!
//! `wrangler dev`'s local proxy fails the request that follows an oversized *chunked* upload on
//! the same worker with a 503 "Your worker restarted mid-request" (reproduced with Python's
//! http.client too; GETs are retried by the proxy, other methods are not). So these checks run
//! one after another here, each chunked upload followed by a GET that absorbs it, instead of
//! beside tests they could disturb.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestApp;
use serde_json::Value;

fn code(body: &Value, stone: bool) -> &Value {
    if stone {
        &body["detail"]["code"]
    } else {
        &body["error"]["code"]
    }
}

fn chunked(bytes: &[u8]) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn an_oversized_json_body_is_a_413_with_or_without_content_length_in_each_family() {
    let mut app = TestApp::new();
    app.client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let limit = 1024 * 1024;
    let at_limit = format!("{{\"email\": \"{}\"}}", "a".repeat(limit - 13));
    assert_eq!(at_limit.len(), limit);
    let over = format!("{{\"email\": \"{}\"}}", "a".repeat(limit - 12));

    for (path, stone) in [("/api/auth/register", true), ("/auth/send-code", false)] {
        // Exactly at the limit is read (and then refused for what it says, not its size).
        let response = app.post_raw(path, at_limit.clone()).await;
        response.expect_status(400);

        let response = app.post_raw(path, over.clone()).await;
        response.expect_status(413);
        assert_eq!(code(&response.json(), stone), "payload_too_large");

        let response = app.post_raw(path, chunked(over.as_bytes())).await;
        response.expect_status(413);
        assert_eq!(code(&response.json(), stone), "payload_too_large");
        app.health().await;
    }
}
