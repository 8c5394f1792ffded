//! Oversized bodies, in a test binary (and so a `wrangler dev`) of their own.
//!
//! `wrangler dev`'s local proxy fails or hangs the request that follows an oversized *chunked*
//! upload that the worker refused (reproduced with Python's http.client; a chunked body read in
//! full and answered is fine, and production Cloudflare is not affected). So this binary is one
//! story whose last request is the oversized chunked one; the JSON case has its own binary,
//! tests/body_limits_chunked_json.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{chunked, TestApp};
use serde_json::Value;

pub fn code(body: &Value, stone: bool) -> &Value {
    if stone {
        &body["detail"]["code"]
    } else {
        &body["error"]["code"]
    }
}

fn multipart_body(file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "flintBoundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn png_of(size: usize) -> Vec<u8> {
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    file.resize(size, 7);
    file
}

#[tokio::test]
async fn oversized_bodies_are_413s_with_or_without_content_length() {
    let app = TestApp::unpooled();
    let user = app.new_user().await;

    // JSON bodies, with Content-Length, in each family: at the limit read, one byte over refused.
    let limit = 1024 * 1024;
    let at_limit = format!("{{\"email\": \"{}\"}}", "a".repeat(limit - 13));
    assert_eq!(at_limit.len(), limit);
    let over = format!("{{\"email\": \"{}\"}}", "a".repeat(limit - 12));
    for (path, stone) in [("/api/auth/register", true), ("/auth/send-code", false)] {
        app.post_raw(path, at_limit.clone()).await.expect_status(400);
        let response = app.post_raw(path, over.clone()).await;
        response.expect_status(413);
        assert_eq!(code(&response.json(), stone), "payload_too_large");
    }

    // Uploads: exactly 10 MiB is taken, chunked too; one byte more is refused either way.
    let url = format!("{}/api/chat/upload", app.url);
    let upload = |content_type: &str, body: reqwest::Body| {
        app.send(
            app.client
                .post(&url)
                .bearer_auth(&user.token)
                .header("Content-Type", content_type)
                .body(body),
        )
    };
    let (content_type, exact) = multipart_body(&png_of(10 * 1024 * 1024));
    let accepted = upload(&content_type, chunked(&exact)).await;
    accepted.expect_status(200);
    assert_eq!(accepted.json()["size"], 10_485_760);

    let (content_type, body) = multipart_body(&png_of(10 * 1024 * 1024 + 1));
    let sized = upload(&content_type, body.clone().into()).await;
    sized.expect_status(413);
    assert_eq!(code(&sized.json(), true), "file_too_large");

    // The last request this gateway sees (see the module comment).
    let streamed = upload(&content_type, chunked(&body)).await;
    streamed.expect_status(413);
    assert_eq!(code(&streamed.json(), true), "file_too_large");
}
