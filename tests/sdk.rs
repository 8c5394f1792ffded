//! The official `openai` npm package against the running gateway, through Node's test runner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

fn run_node_tests(files: &[&str], env: &[(&str, String)]) {
    let gateway = common::gateway();
    let root = common::repo_root();
    common::run_client_tests(
        "OpenAI SDK",
        Command::new("node")
            .arg("--test")
            .args(files.iter().map(|f| root.join("tests/sdk").join(f)))
            .env("FLINT_URL", &gateway.url)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str()))),
    );
}

#[tokio::test]
async fn the_openai_node_sdk_lists_and_retrieves_models_with_an_api_key() {
    let app = common::TestApp::new();
    let user = app.new_user().await;
    let key = app
        .create_key(&user.token, &serde_json::json!({"name": "sdk"}))
        .await;
    let scoped = app
        .create_key(
            &user.token,
            &serde_json::json!({"name": "scoped", "models": ["gpt-4o-mini"]}),
        )
        .await;
    let revoked = app
        .create_key(&user.token, &serde_json::json!({"name": "revoked"}))
        .await;
    app.delete_as(
        &user.token,
        &format!("/api/keys/{}", revoked["id"].as_str().unwrap()),
    )
    .await
    .expect_status(200);
    run_node_tests(
        &["models.test.mjs"],
        &[
            ("FLINT_API_KEY", key["key"].as_str().unwrap().to_owned()),
            ("FLINT_SCOPED_KEY", scoped["key"].as_str().unwrap().to_owned()),
            ("FLINT_REVOKED_KEY", revoked["key"].as_str().unwrap().to_owned()),
        ],
    );
}

#[tokio::test]
async fn the_openai_node_sdk_chats_streams_and_calls_tools() {
    let app = common::TestApp::new();
    let user = app.new_user().await;
    let key = app
        .create_key(&user.token, &serde_json::json!({"name": "sdk-chat"}))
        .await;
    run_node_tests(
        &["chat.test.mjs"],
        &[("FLINT_API_KEY", key["key"].as_str().unwrap().to_owned())],
    );
}

#[tokio::test]
async fn the_openai_node_sdk_cannot_tell_claude_or_gemini_from_openai() {
    let app = common::TestApp::new();
    let user = app.funded_user(20.0).await;
    let key = app
        .create_key(&user.token, &serde_json::json!({"name": "sdk-providers"}))
        .await;
    run_node_tests(
        &["providers.test.mjs"],
        &[("FLINT_API_KEY", key["key"].as_str().unwrap().to_owned())],
    );
}

#[tokio::test]
async fn the_openai_node_sdk_embeds_in_base64_and_float_alike() {
    let app = common::TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app
        .create_key(&user.token, &serde_json::json!({"name": "sdk-embeddings"}))
        .await;
    run_node_tests(
        &["embeddings.test.mjs"],
        &[("FLINT_API_KEY", key["key"].as_str().unwrap().to_owned())],
    );
}

/// The Python SDK from `tests/python/requirements.txt`, installed by `scripts/setup.sh` into
/// `.venv-sdk`.
#[tokio::test]
async fn the_openai_python_sdk_decodes_base64_embeddings_chats_and_raises_its_errors() {
    let app = common::TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app
        .create_key(&user.token, &serde_json::json!({"name": "python"}))
        .await;
    let broke = app.new_user().await;
    let broke_key = app
        .create_key(&broke.token, &serde_json::json!({"name": "python-broke"}))
        .await;
    let root = common::repo_root();
    let python = root.join(".venv-sdk/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (make test does)",
        python.display()
    );
    common::run_client_tests(
        "Python SDK",
        Command::new(python)
            .arg(root.join("tests/python/test_sdk.py"))
            .env("FLINT_URL", &common::gateway().url)
            .env("FLINT_API_KEY", key["key"].as_str().unwrap())
            .env("FLINT_BROKE_KEY", broke_key["key"].as_str().unwrap()),
    );
}
