//! The real Codex CLI (`@openai/codex` 0.169.0, pinned in package.json) driving the gateway as
//! a custom `wire_api = "responses"` provider (notes/codex.md): one turn on an OpenAI model
//! (native) and one on Claude (translated), each answered, recorded upstream and billed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};

use common::{unique, TestApp};

const MOCK_TEXT: &str = "Mock answer ё→ 3 4 5 6 7";

async fn codex_turn(model: &str, upstream_path: &str) {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app
        .create_key(&user.token, &serde_json::json!({"name": "codex"}))
        .await;
    let home = tempdir("codex-home");
    let work = tempdir("codex-work");
    std::fs::write(
        home.join("config.toml"),
        format!(
            r#"model = "{model}"
model_provider = "flint"
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false

[model_providers.flint]
name = "Flint"
base_url = "{}/v1"
env_key = "FLINT_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"#,
            common::gateway().url
        ),
    )
    .unwrap();
    let marker = unique("codex");
    // `tools=0`: the mock answers text although Codex declares its tools.
    let prompt = format!("say hi {marker} [[mock tools=0]]");
    let output = Command::new(common::repo_root().join("node_modules/.bin/codex"))
        .args(["exec", "--skip-git-repo-check", &prompt])
        .current_dir(&work)
        .env("CODEX_HOME", &home)
        .env("FLINT_API_KEY", key["key"].as_str().unwrap())
        .stdin(Stdio::null())
        .output()
        .expect("run codex (npm ci installs @openai/codex)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "codex failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), MOCK_TEXT, "{stderr}");
    let sent = app.upstream_requests(&marker).await;
    assert_eq!(sent.len(), 1, "one model turn");
    assert!(
        sent[0]["path"].as_str().unwrap().ends_with(upstream_path),
        "{}",
        sent[0]["path"]
    );
    let left = app.assert_books_balance(&user.token).await;
    assert!(left < 5.0, "the turn was billed: {left}");
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&work);
}

fn tempdir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn codex_exec_runs_a_turn_on_an_openai_model() {
    codex_turn("gpt-4o", "/responses").await;
}

#[tokio::test]
async fn codex_exec_runs_a_turn_on_claude() {
    codex_turn("claude-sonnet-4.5", "/messages").await;
}
