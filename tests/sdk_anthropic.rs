//! The official `@anthropic-ai/sdk` npm package against the running gateway, through Node's test
//! runner (tests/sdk/messages.test.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

#[tokio::test]
async fn the_anthropic_node_sdk_talks_to_every_model() {
    let app = common::TestApp::new();
    let funded = app.funded_user(20.0).await;
    let key = app
        .create_key(&funded.token, &serde_json::json!({"name": "sdk-anthropic"}))
        .await;
    let poor = app.new_user().await;
    let free_key = app
        .create_key(&poor.token, &serde_json::json!({"name": "sdk-free"}))
        .await;
    let root = common::repo_root();
    common::run_client_tests(
        "Anthropic SDK",
        Command::new("node")
            .arg("--test")
            .arg(root.join("tests/sdk/messages.test.mjs"))
            .env("FLINT_URL", &app.url)
            .env("FLINT_API_KEY", key["key"].as_str().unwrap())
            .env("FLINT_FREE_KEY", free_key["key"].as_str().unwrap()),
    );
    app.assert_books_balance(&funded.token).await;
}
