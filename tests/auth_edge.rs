//! Accounts when time passes or outside services are down: a gateway of its own whose email
//! codes live 2 seconds and whose Google, Yandex and mail endpoints point at a closed port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{unique, TestApp};
use serde_json::json;

const VARS: &[(&str, &str)] = &[
    ("EMAIL_CODE_TTL_SECS", "2"),
    ("GOOGLE_TOKENINFO_URL", "http://127.0.0.1:9/tokeninfo"),
    ("YANDEX_OAUTH_URL", "http://127.0.0.1:9/token"),
    ("YANDEX_INFO_URL", "http://127.0.0.1:9/info"),
];

fn app() -> TestApp {
    TestApp::with_vars(VARS)
}

#[tokio::test]
async fn an_email_code_expires() {
    let app = app();
    let email = format!("{}@example.com", unique("expiry"));
    app.post_json("/auth/send-code", &json!({"email": email}))
        .await
        .expect_status(200);
    let mails = app.upstream_requests(&email).await;
    let text = mails.last().unwrap()["body"]["text"].as_str().unwrap().to_owned();
    let code: String = text.chars().filter(char::is_ascii_digit).take(6).collect();
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let response = app
        .post_json("/auth/verify-email", &json!({"email": email, "code": code}))
        .await;
    response.expect_status(400);
    assert_eq!(response.json()["error"]["code"], "code_expired");
}

#[tokio::test]
async fn unreachable_oauth_providers_are_503() {
    let app = app();
    for (path, body) in [
        ("/api/auth/google", json!({"id_token": "anything"})),
        ("/api/auth/yandex", json!({"code": "anything"})),
        ("/api/auth/yandex", json!({"access_token": "anything"})),
    ] {
        let response = app.post_json(path, &body).await;
        response.expect_status(503);
        assert_eq!(response.json()["detail"]["code"], "oauth_unavailable", "{path}");
    }
}
