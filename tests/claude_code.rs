//! The real Claude Code CLI (`@anthropic-ai/claude-code`, pinned in package.json) in print mode
//! against the gateway: a Claude model served natively and a non-Claude model translated, each
//! answering the mock's text and billed. Run offline as notes/claude-code.md describes: `env -i`
//! (no developer settings leak in), a fresh HOME, no nonessential traffic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{unique, TestApp, User};
use serde_json::{json, Value};

const MOCK_TEXT: &str = "Mock answer ё→ 3 4 5 6 7";

/// Runs `claude -p <prompt> [--model <model>] --output-format json`; its JSON result.
fn claude(app: &TestApp, key: &str, prompt: &str, model: Option<&str>) -> Value {
    let root = common::repo_root();
    let binary = root.join("node_modules/.bin/claude");
    assert!(
        binary.exists(),
        "Claude Code is not installed: run `npm ci` (package.json pins @anthropic-ai/claude-code)"
    );
    let home = std::env::temp_dir().join(unique("claude-home"));
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(&binary);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("ANTHROPIC_BASE_URL", &app.url)
        .env("ANTHROPIC_API_KEY", key)
        .current_dir(&home)
        .args(["-p", prompt, "--output-format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(model) = model {
        command.args(["--model", model]);
    }
    let mut child = command.spawn().expect("start claude");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("claude -p did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&home);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "claude failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn usage_rows(user: &User) -> Vec<Value> {
    let rows = common::d1_execute(&format!(
        "SELECT model, status, cost_nanos, tokens_in, tokens_out, latency_ms FROM usage_events WHERE user_id = {}",
        user.id
    ));
    rows[0]["results"].as_array().cloned().unwrap_or_default()
}

async fn billed(user: &User) -> Vec<Value> {
    for _ in 0..100 {
        let rows = usage_rows(user);
        if !rows.is_empty() {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("Claude Code's request was never billed");
}

#[tokio::test]
async fn claude_code_answers_with_its_default_claude_model_and_is_billed() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app.create_key(&user.token, &json!({"name": "claude-code"})).await;
    let marker = unique("cc-claude");
    // tools=0: the mock answers text although Claude Code declares its tools.
    let result = claude(
        &app,
        key["key"].as_str().unwrap(),
        &format!("hi {marker} [[mock tools=0]]"),
        None,
    );
    assert_eq!(result["result"], MOCK_TEXT, "{result}");
    assert_eq!(result["is_error"], false);
    // Claude Code may send its prompt more than once (a second request of the session carries
    // the same user turn); every one goes to Anthropic's Messages endpoint.
    let seen = app.upstream_requests(&marker).await;
    let paths: Vec<&str> = seen.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(
        !paths.is_empty() && paths.iter().all(|p| p.ends_with("/v1/messages")),
        "{paths:?}"
    );
    let sent: Value = serde_json::from_str(seen[0]["raw_body"].as_str().unwrap()).unwrap();
    assert_eq!(sent["model"], "claude-opus-5-5");
    // MAX_TOKENS_PAID (8192 by default) caps Claude Code's 128,000.
    assert_eq!(sent["max_tokens"], 8192);
    let rows = billed(&user).await;
    assert!(rows.iter().all(|r| r["model"] == "claude-opus-5.5"), "{rows:?}");
    let answered = rows
        .iter()
        .find(|r| r["tokens_out"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("no answered request billed: {rows:?}"));
    assert!(answered["cost_nanos"].as_i64().unwrap() > 0, "{rows:?}");
    let balance = app.assert_books_balance(&user.token).await;
    assert!(balance < 5.0);
}

#[tokio::test]
async fn claude_code_drives_a_non_claude_model_through_the_translation() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app
        .create_key(&user.token, &json!({"name": "claude-code-gpt"}))
        .await;
    let marker = unique("cc-gpt");
    let result = claude(
        &app,
        key["key"].as_str().unwrap(),
        &format!("hi {marker} [[mock tools=0]]"),
        Some("gpt-4.1"),
    );
    assert_eq!(result["result"], MOCK_TEXT, "{result}");
    let seen = app.upstream_requests(&marker).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0]["path"].as_str().unwrap().ends_with("/chat/completions"));
    let rows = billed(&user).await;
    assert_eq!(rows[0]["model"], "gpt-4.1");
    assert!(rows[0]["cost_nanos"].as_i64().unwrap() > 0, "{rows:?}");
    app.assert_books_balance(&user.token).await;
}
