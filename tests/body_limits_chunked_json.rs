//! An oversized chunked JSON body: refused while reading, without Content-Length. Alone in its
//! binary because `wrangler dev`'s proxy disturbs the request after it (see tests/body_limits.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestApp;

#[tokio::test]
async fn an_oversized_chunked_json_body_is_a_413() {
    let app = TestApp::unpooled();
    let over = format!("{{\"email\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let response = app
        .post_raw("/api/auth/register", common::chunked(over.as_bytes()))
        .await;
    response.expect_status(413);
    assert_eq!(response.json()["detail"]["code"], "payload_too_large");
}
