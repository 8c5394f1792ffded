//! Flint's own SDKs (`sdk/node`: `@flint-ai/sdk`, `sdk/python`: `flint-ai`) against the running
//! gateway: the OpenAI calls through them, the account, billing and catalog helpers, the 402
//! class on both envelopes, the env var defaults and TechStone's drop-in examples.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use serde_json::json;

/// A funded user's key, a broke user's key and a key scoped to one model (so no `billing` scope).
async fn keys(app: &common::TestApp, name: &str) -> Vec<(&'static str, String)> {
    let (user, key, broke_key) = app.funded_and_broke_keys(5.0, name).await;
    let scoped = app
        .create_key(
            &user.token,
            &json!({"name": format!("{name}-scoped"), "models": ["gpt-4o-mini"]}),
        )
        .await;
    vec![
        ("FLINT_BASE_URL", common::gateway().url.clone()),
        ("FLINT_API_KEY", key),
        ("FLINT_SCOPED_KEY", scoped["key"].as_str().unwrap().to_owned()),
        ("FLINT_BROKE_KEY", broke_key),
        ("FLINT_USER_EMAIL", user.email.clone()),
    ]
}

/// Runs a client's suite with the keys of `keys` (named after `key_name`) in its environment.
async fn run_with_keys(what: &str, key_name: &str, command: &mut Command) {
    let app = common::TestApp::new();
    let env = keys(&app, key_name).await;
    common::run_client_tests(what, command.envs(env.iter().map(|(k, v)| (*k, v.as_str()))));
}

#[tokio::test]
async fn the_node_sdk_wraps_openai_and_adds_account_billing_and_catalog() {
    run_with_keys(
        "@flint-ai/sdk",
        "flint-node",
        &mut common::node_tests(&["flint.test.mjs"]),
    )
    .await;
}

/// The package is installed into `.venv-sdk` (editable) by `scripts/setup.sh`.
#[tokio::test]
async fn the_python_sdk_wraps_openai_and_adds_account_billing_and_catalog() {
    let script = common::repo_root().join("tests/python/test_flint_sdk.py");
    run_with_keys(
        "flint-ai",
        "flint-python",
        Command::new(common::sdk_python()).arg(script),
    )
    .await;
}
