//! Flint's own SDKs (`sdk/node`: `@flint-ai/sdk`, `sdk/python`: `flint-ai`) against the running
//! gateway: the OpenAI calls through them, the account, billing and catalog helpers, the 402
//! class on both envelopes, the env var defaults and TechStone's drop-in examples.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use serde_json::json;

/// A funded user's key, a broke user's key and a key scoped to one model (so no `billing` scope).
async fn keys(app: &common::TestApp, name: &str) -> Vec<(&'static str, String)> {
    let user = app.funded_user(5.0).await;
    let key = app.create_key(&user.token, &json!({"name": name})).await;
    let scoped = app
        .create_key(
            &user.token,
            &json!({"name": format!("{name}-scoped"), "models": ["gpt-4o-mini"]}),
        )
        .await;
    let broke = app.new_user().await;
    let broke_key = app
        .create_key(&broke.token, &json!({"name": format!("{name}-broke")}))
        .await;
    vec![
        ("FLINT_BASE_URL", common::gateway().url.clone()),
        ("FLINT_API_KEY", key["key"].as_str().unwrap().to_owned()),
        ("FLINT_SCOPED_KEY", scoped["key"].as_str().unwrap().to_owned()),
        ("FLINT_BROKE_KEY", broke_key["key"].as_str().unwrap().to_owned()),
        ("FLINT_USER_EMAIL", user.email.clone()),
    ]
}

fn run(what: &str, command: &mut Command, env: &[(&str, String)]) {
    common::run_client_tests(what, command.envs(env.iter().map(|(k, v)| (*k, v.as_str()))));
}

#[tokio::test]
async fn the_node_sdk_wraps_openai_and_adds_account_billing_and_catalog() {
    let app = common::TestApp::new();
    let env = keys(&app, "flint-node").await;
    let root = common::repo_root();
    run(
        "@flint-ai/sdk",
        Command::new("node")
            .arg("--test")
            .arg(root.join("tests/sdk/flint.test.mjs")),
        &env,
    );
}

/// The package is installed into `.venv-sdk` (editable) by `scripts/setup.sh`.
#[tokio::test]
async fn the_python_sdk_wraps_openai_and_adds_account_billing_and_catalog() {
    let app = common::TestApp::new();
    let env = keys(&app, "flint-python").await;
    let root = common::repo_root();
    let python = root.join(".venv-sdk/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (make test does)",
        python.display()
    );
    run(
        "flint-ai",
        Command::new(python).arg(root.join("tests/python/test_flint_sdk.py")),
        &env,
    );
}
