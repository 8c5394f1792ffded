//! An oversized chunked JSON body: refused while reading, without Content-Length. Alone in its
//! binary because `wrangler dev`'s proxy disturbs the request after it (see tests/body_limits.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestApp;

#[tokio::test]
async fn an_oversized_chunked_json_body_is_a_413() {
    let mut app = TestApp::new();
    app.client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let over = format!("{{\"email\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = over
        .as_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let response = app
        .post_raw(
            "/api/auth/register",
            reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    response.expect_status(413);
    assert_eq!(response.json()["detail"]["code"], "payload_too_large");
}
