//! Accounts when time passes or outside services are down: a gateway of its own whose email
//! codes live 2 seconds, whose Google, Yandex and mail endpoints point at a closed port, and
//! whose operator token is too short to be accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{unique, TestApp};
use serde_json::json;

const VARS: &[(&str, &str)] = &[
    ("EMAIL_CODE_TTL_SECS", "2"),
    ("GOOGLE_TOKENINFO_URL", "http://127.0.0.1:9/tokeninfo"),
    ("YANDEX_OAUTH_URL", "http://127.0.0.1:9/token"),
    ("YANDEX_INFO_URL", "http://127.0.0.1:9/info"),
    ("ADMIN_TOKEN", SHORT_ADMIN_TOKEN),
];

/// 22 bytes: guessable enough that the gateway refuses to use it.
const SHORT_ADMIN_TOKEN: &str = "e2e-admin-token-5b8d2f";

fn app() -> TestApp {
    TestApp::with_vars(VARS)
}

#[tokio::test]
async fn an_email_code_expires() {
    let app = app();
    let email = format!("{}@example.com", unique("expiry"));
    app.send_code(&email).await.expect_status(200);
    let code = app.mailed_code(&email).await;
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let response = app.verify_email(&email, &code).await;
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

#[tokio::test]
async fn an_admin_token_shorter_than_32_bytes_opens_nothing() {
    let app = app();
    let user = app.new_user().await;
    let response = app
        .send(
            app.client
                .post(format!("{}/admin/users/{}/credit", app.url, user.id))
                .bearer_auth(SHORT_ADMIN_TOKEN)
                .json(&json!({"amount_usd": 100, "reference": unique("short")})),
        )
        .await;
    response.expect_status(500);
    assert!(!response.text.contains("ADMIN_TOKEN"), "{}", response.text);
    assert_eq!(app.balance(&user.token).await, 0.0);
    // The rest of the gateway serves.
    app.health().await.expect_status(200);
}
