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

/// The tests of this binary run one at a time (see the module comment).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn chunked(bytes: &[u8]) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn an_oversized_json_body_is_a_413_with_or_without_content_length_in_each_family() {
    let _serial = SERIAL.lock().await;
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

#[tokio::test]
async fn an_upload_one_byte_over_ten_mebibytes_is_a_413_with_or_without_content_length() {
    let _serial = SERIAL.lock().await;
    let mut app = TestApp::new();
    app.client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let user = app.new_user().await;
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    file.resize(10 * 1024 * 1024 + 1, 7);
    let (content_type, body) = multipart_body(&file);
    let url = format!("{}/api/chat/upload", app.url);

    let sized = app
        .send(
            app.client
                .post(&url)
                .bearer_auth(&user.token)
                .header("Content-Type", &content_type)
                .body(body.clone()),
        )
        .await;
    sized.expect_status(413);
    assert_eq!(code(&sized.json(), true), "file_too_large");

    let streamed = app
        .send(
            app.client
                .post(&url)
                .bearer_auth(&user.token)
                .header("Content-Type", &content_type)
                .body(chunked(&body)),
        )
        .await;
    streamed.expect_status(413);
    assert_eq!(code(&streamed.json(), true), "file_too_large");
    app.health().await;
}
