//! The official `openai` npm package against the running gateway, through Node's test runner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

fn run_node_tests(files: &[&str], env: &[(&str, String)]) {
    common::run_client_tests(
        "OpenAI SDK",
        common::node_tests(files)
            .env("FLINT_URL", &common::gateway().url)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str()))),
    );
}

#[tokio::test]
async fn the_openai_node_sdk_lists_and_retrieves_models_with_an_api_key() {
    let app = common::TestApp::new();
    let user = app.new_user().await;
    let key = app.key_secret(&user.token, "sdk").await;
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
            ("FLINT_API_KEY", key),
            ("FLINT_SCOPED_KEY", scoped["key"].as_str().unwrap().to_owned()),
            ("FLINT_REVOKED_KEY", revoked["key"].as_str().unwrap().to_owned()),
        ],
    );
}

/// The node suite `file` with one API key (`FLINT_API_KEY`), of a user with `usd` on the balance
/// (`None`: a new user, with nothing).
async fn run_with_one_key(file: &str, key_name: &str, usd: Option<f64>) {
    let app = common::TestApp::new();
    let user = match usd {
        Some(usd) => app.funded_user(usd).await,
        None => app.new_user().await,
    };
    let key = app.key_secret(&user.token, key_name).await;
    run_node_tests(&[file], &[("FLINT_API_KEY", key)]);
}

#[tokio::test]
async fn the_openai_node_sdk_chats_streams_and_calls_tools() {
    run_with_one_key("chat.test.mjs", "sdk-chat", None).await;
}

#[tokio::test]
async fn the_openai_node_sdk_cannot_tell_claude_or_gemini_from_openai() {
    run_with_one_key("providers.test.mjs", "sdk-providers", Some(20.0)).await;
}

#[tokio::test]
async fn the_openai_node_sdk_embeds_in_base64_and_float_alike() {
    run_with_one_key("embeddings.test.mjs", "sdk-embeddings", Some(5.0)).await;
}

/// The Python SDK from `tests/python/requirements.txt`, installed by `scripts/setup.sh` into
/// `.venv-sdk`.
#[tokio::test]
async fn the_openai_python_sdk_decodes_base64_embeddings_chats_and_raises_its_errors() {
    let app = common::TestApp::new();
    let (_, key, broke_key) = app.funded_and_broke_keys(5.0, "python").await;
    common::run_client_tests(
        "Python SDK",
        Command::new(common::sdk_python())
            .arg(common::repo_root().join("tests/python/test_sdk.py"))
            .env("FLINT_URL", &common::gateway().url)
            .env("FLINT_API_KEY", key)
            .env("FLINT_BROKE_KEY", broke_key),
    );
}
