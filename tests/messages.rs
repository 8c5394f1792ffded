//! Anthropic's Messages API end to end: Claude models forwarded natively (what reaches the
//! mock's Anthropic wire, unchanged), other models translated, count_tokens, the models list in
//! Anthropic's shape, errors in Anthropic's envelope, and exact bills. The official SDK's view is
//! in tests/sdk/messages.test.mjs; the real Claude Code CLI in tests/claude_code.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{sse_data, unique, TestApp, TestResponse, User, MOCK_PROVIDER_KEY};
use flint_mock::{expected_answer, expected_usage, Defaults, Provider};
use serde_json::{json, Value};

const VERSION: &str = "2023-06-01";

async fn messages(app: &TestApp, key: &str, body: &Value) -> TestResponse {
    app.send(
        app.client
            .post(format!("{}/v1/messages?beta=true", app.url))
            .header("x-api-key", key)
            .header("anthropic-version", VERSION)
            .header(
                "anthropic-beta",
                "claude-code-20250219,interleaved-thinking-2025-05-14",
            )
            .json(body),
    )
    .await
}

async fn count(app: &TestApp, key: &str, body: &Value) -> TestResponse {
    app.send(
        app.client
            .post(format!("{}/v1/messages/count_tokens", app.url))
            .header("x-api-key", key)
            .header("anthropic-version", VERSION)
            .json(body),
    )
    .await
}

async fn api_key(app: &TestApp, user: &User) -> String {
    app.key_secret(&user.token, "messages").await
}

fn ask(model: &str, prompt: &str) -> Value {
    json!({"model": model, "max_tokens": 1000, "messages": [{"role": "user", "content": prompt}]})
}

fn usage_rows(user: &User) -> Vec<Value> {
    let rows = common::d1_execute(&format!(
        "SELECT status, tokens_in, tokens_out, cost_nanos, model FROM usage_events WHERE user_id = {}",
        user.id
    ));
    rows[0]["results"].as_array().cloned().unwrap_or_default()
}

/// Waits until the request's usage row is settled (bills settle in the background).
async fn settled_row(user: &User) -> Value {
    for _ in 0..100 {
        // A usage row is written when the request settles.
        if let Some(row) = usage_rows(user).into_iter().next() {
            return row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!(
        "no settled usage row for user {}: {:?}",
        user.id,
        usage_rows(user)
    );
}

fn raw_body(recorded: &Value) -> Value {
    match &recorded["body"] {
        Value::Null => serde_json::from_str(recorded["raw_body"].as_str().unwrap()).unwrap(),
        body => body.clone(),
    }
}

fn error_of(response: &TestResponse, status: u16, kind: &str) -> String {
    assert_eq!(response.status, status, "{}", response.text);
    let body = response.json();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_claude_request_reaches_anthropic_unchanged_and_is_billed_exactly_with_cache_prices() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = api_key(&app, &user).await;
    let marker = unique("native");
    let body = json!({
        "model": "claude-sonnet-5.5", "max_tokens": 1000,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": format!("hello {marker} [[mock cache_read=2000 cache_write=300]]"),
                      "cache_control": {"type": "ephemeral"}}]}],
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "some_future_field": {"kept": true},
    });
    let answer = messages(&app, &key, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = answer.json();
    let seen = app.upstream_requests(&marker).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let upstream = &seen[0];
    assert!(
        upstream["path"].as_str().unwrap().ends_with("/v1/messages"),
        "{upstream}"
    );
    assert_eq!(upstream["headers"]["x-api-key"], MOCK_PROVIDER_KEY);
    assert_eq!(upstream["headers"]["anthropic-version"], VERSION);
    assert_eq!(
        upstream["headers"]["anthropic-beta"],
        "claude-code-20250219,interleaved-thinking-2025-05-14"
    );
    let sent = raw_body(upstream);
    assert_eq!(sent["model"], "claude-sonnet-5-5", "the upstream id");
    assert_eq!(sent["max_tokens"], 1000);
    for field in ["system", "messages", "context_management", "some_future_field"] {
        assert_eq!(sent[field], body[field], "{field} unchanged");
    }
    let want = expected_answer(Provider::Anthropic, &sent, &Defaults::default()).unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["text"], want.text());
    assert_eq!(answer["usage"]["cache_read_input_tokens"], 2000);
    assert_eq!(answer["usage"]["cache_creation_input_tokens"], 300);
    // Sonnet 5.5: $8 in, $40 out per 1M = 8,000 / 40,000 nano-USD a token; cache reads $0.80
    // (0.1×, 800), 5-minute writes $10 (1.25×); the mock writes with a 1-hour TTL here (the
    // system block asks for it), priced at twice the input (16,000).
    let usage = expected_usage(Provider::Anthropic, &sent, &Defaults::default()).unwrap();
    assert_eq!(
        (usage.cache_read, usage.cache_write_5m + usage.cache_write_1h),
        (2000, 300)
    );
    // The mock's `input` counts every prompt token, the cached ones included.
    let uncached = usage.input - usage.cache_read - usage.cache_write_5m - usage.cache_write_1h;
    assert_eq!(usage.cache_write_1h, 300, "the 1-hour TTL of the system block");
    let cost = uncached * 8_000
        + usage.cache_read * 800
        + usage.cache_write_5m * 10_000
        + usage.cache_write_1h * 16_000
        + usage.output * 40_000;
    let row = settled_row(&user).await;
    assert_eq!(row["cost_nanos"].as_i64(), Some(cost as i64), "{row}");
    assert_eq!(row["tokens_out"].as_u64(), Some(usage.output));
    assert_eq!(row["tokens_in"].as_u64(), Some(usage.input));
}

#[tokio::test]
async fn a_claude_stream_passes_anthropics_events_through_with_thinking() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = api_key(&app, &user).await;
    let marker = unique("stream");
    let body = json!({
        "model": "claude-sonnet-5.5", "max_tokens": 32000, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "messages": [{"role": "user", "content": format!("{marker} [[mock reasoning=7]]")}],
    });
    let answer = messages(&app, &key, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let sent = raw_body(&app.upstream_requests(&marker).await[0]);
    // The paid cap (MAX_TOKENS_PAID, 8192 by default) and the budget clamped under it.
    assert_eq!(sent["max_tokens"], 8192);
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 8191})
    );
    let events: Vec<Value> = sse_data(&answer.text)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"message_stop"));
    let text: String = events
        .iter()
        .filter_map(|e| e["delta"]["text"].as_str())
        .collect();
    let thinking: String = events
        .iter()
        .filter_map(|e| e["delta"]["thinking"].as_str())
        .collect();
    let want = expected_answer(Provider::Anthropic, &sent, &Defaults::default()).unwrap();
    assert_eq!(text, want.text());
    assert_eq!(thinking, flint_mock::REASONING_TEXT);
    assert!(events.iter().any(|e| e["delta"]["type"] == "signature_delta"));
    let row = settled_row(&user).await;
    let usage = expected_usage(Provider::Anthropic, &sent, &Defaults::default()).unwrap();
    assert_eq!(row["tokens_out"].as_u64(), Some(usage.output));
    assert_eq!(
        row["cost_nanos"].as_i64(),
        Some((usage.input * 8_000 + usage.output * 40_000) as i64)
    );
}

#[tokio::test]
async fn bearer_and_x_api_key_both_authenticate_and_neither_is_401() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let key = api_key(&app, &user).await;
    let body = ask("claude-haiku-4.5", &unique("auth"));
    let bearer = app
        .send(
            app.client
                .post(format!("{}/v1/messages", app.url))
                .bearer_auth(&key)
                .json(&body),
        )
        .await;
    assert_eq!(bearer.status, 200, "{}", bearer.text);
    assert_eq!(messages(&app, &key, &body).await.status, 200);
    let none = app.post_json("/v1/messages", &body).await;
    error_of(&none, 401, "authentication_error");
    let wrong = messages(&app, "sk-flint-wrong", &body).await;
    error_of(&wrong, 401, "authentication_error");
}

#[tokio::test]
async fn a_dated_alias_is_served_and_the_free_allowance_covers_haiku() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let key = api_key(&app, &user).await;
    let marker = unique("alias");
    let answer = messages(&app, &key, &ask("claude-3-5-haiku-20241022", &marker)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let sent = raw_body(&app.upstream_requests(&marker).await[0]);
    assert_eq!(sent["model"], "claude-haiku-4-5-20251001");
    let row = settled_row(&user).await;
    assert_eq!(row["cost_nanos"].as_i64(), Some(0), "free use: {row}");
    assert_eq!(app.balance(&user.token).await, 0.0);
}

#[tokio::test]
async fn a_translated_model_streams_anthropics_events_and_tool_calls() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let key = api_key(&app, &user).await;
    let marker = unique("tools");
    let body = json!({
        "model": "gpt-4o-mini", "max_tokens": 500, "stream": true,
        "system": "you are a weather bot",
        "tools": [{"name": "get_weather", "description": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
        "messages": [{"role": "user", "content": format!("weather in Paris {marker}")}],
    });
    let answer = messages(&app, &key, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let seen = app.upstream_requests(&marker).await;
    assert!(seen[0]["path"].as_str().unwrap().ends_with("/chat/completions"));
    let sent = raw_body(&seen[0]);
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "you are a weather bot"})
    );
    let events: Vec<Value> = sse_data(&answer.text)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "message_start");
    assert_eq!(events.last().unwrap()["type"], "message_stop");
    let tool_start = events
        .iter()
        .find(|e| e["type"] == "content_block_start" && e["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(tool_start["content_block"]["name"], "get_weather");
    let arguments: String = events
        .iter()
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    let input: Value = serde_json::from_str(&arguments).unwrap();
    assert!(input.is_object(), "{arguments}");
    let delta = events.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    let want = expected_usage(Provider::OpenAi, &sent, &Defaults::default()).unwrap();
    assert_eq!(delta["usage"]["output_tokens"].as_u64(), Some(want.output));
}

#[tokio::test]
async fn a_gemini_model_answers_a_whole_message() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let key = api_key(&app, &user).await;
    let marker = unique("gemini");
    let answer = messages(&app, &key, &ask("gemini-2.5-flash", &marker)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = answer.json();
    let seen = app.upstream_requests(&marker).await;
    assert!(
        seen[0]["path"].as_str().unwrap().contains(":generateContent"),
        "{}",
        seen[0]
    );
    let want = expected_answer(Provider::Gemini, &raw_body(&seen[0]), &Defaults::default()).unwrap();
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["model"], "gemini-2.5-flash");
    assert_eq!(answer["content"][0], json!({"type": "text", "text": want.text()}));
    assert_eq!(answer["stop_reason"], "end_turn");
    assert_eq!(
        answer["usage"]["output_tokens"].as_u64(),
        Some(want.completion_tokens)
    );
}

#[tokio::test]
async fn count_tokens_asks_anthropic_for_claude_estimates_the_rest_and_charges_nothing() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let key = api_key(&app, &user).await;
    let marker = unique("count");
    let body = json!({"model": "claude-sonnet-5.5", "messages": [{"role": "user", "content": format!("one two three {marker}")}]});
    let counted = count(&app, &key, &body).await;
    assert_eq!(counted.status, 200, "{}", counted.text);
    let seen = app.upstream_requests(&marker).await;
    assert_eq!(seen.len(), 1);
    assert!(seen[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("/v1/messages/count_tokens"));
    let sent = raw_body(&seen[0]);
    assert_eq!(sent["model"], "claude-sonnet-5-5");
    let want = flint_mock::count_tokens(Provider::Anthropic, &sent).unwrap();
    assert_eq!(counted.json(), json!({"input_tokens": want}));

    let other = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": format!("one two three {marker}")}]});
    let estimated = count(&app, &key, &other).await.expect_status(200).json();
    assert!(estimated["input_tokens"].as_u64().unwrap() > 0, "{estimated}");
    assert_eq!(
        app.upstream_requests(&marker).await.len(),
        1,
        "no upstream call for an estimate"
    );

    let unknown = json!({"model": "claude-nope-9", "messages": [{"role": "user", "content": "x"}]});
    error_of(&count(&app, &key, &unknown).await, 404, "not_found_error");
    assert!(usage_rows(&user).is_empty(), "counting is never billed");
    assert_eq!(app.balance(&user.token).await, 1.0);
}

#[tokio::test]
async fn bad_input_is_refused_in_anthropics_envelope_and_nothing_is_charged() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let key = api_key(&app, &user).await;
    let marker = unique("bad");
    let no_max = json!({"model": "claude-sonnet-5.5", "messages": [{"role": "user", "content": marker}]});
    let message = error_of(&messages(&app, &key, &no_max).await, 400, "invalid_request_error");
    assert!(message.contains("max_tokens"), "{message}");
    let unknown_field = json!({"model": "gpt-4o-mini", "max_tokens": 10, "bogus": 1, "messages": [{"role": "user", "content": marker}]});
    let message = error_of(
        &messages(&app, &key, &unknown_field).await,
        400,
        "invalid_request_error",
    );
    assert_eq!(message, "bogus: Extra inputs are not permitted");
    let not_json = app
        .send(
            app.client
                .post(format!("{}/v1/messages", app.url))
                .header("x-api-key", &key)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    error_of(&not_json, 400, "invalid_request_error");
    let unknown_model = ask("claude-nope-9", &marker);
    error_of(
        &messages(&app, &key, &unknown_model).await,
        404,
        "not_found_error",
    );
    assert!(app.upstream_requests(&marker).await.is_empty());
    assert!(usage_rows(&user).is_empty());
    assert_eq!(app.balance(&user.token).await, 1.0);
}

#[tokio::test]
async fn an_unfunded_user_gets_402_and_an_overlong_prompt_anthropics_wording() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let key = api_key(&app, &user).await;
    let premium = ask("claude-sonnet-5.5", &unique("poor"));
    let answer = messages(&app, &key, &premium).await;
    assert_eq!(answer.status, 402, "{}", answer.text);
    assert_eq!(answer.json()["type"], "error");

    let rich = app.funded_user(5.0).await;
    let rich_key = api_key(&app, &rich).await;
    let long = ask("claude-haiku-4.5", &"word ".repeat(1_000_000));
    let message = error_of(
        &messages(&app, &rich_key, &long).await,
        400,
        "invalid_request_error",
    );
    assert!(message.starts_with("prompt is too long: "), "{message}");
    assert!(message.ends_with(" tokens > 200000 maximum"), "{message}");
}

#[tokio::test]
async fn the_models_list_is_anthropics_shape_with_anthropic_version() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let key = api_key(&app, &user).await;
    let list = app
        .send(
            app.client
                .get(format!("{}/v1/models?limit=5", app.url))
                .header("x-api-key", &key)
                .header("anthropic-version", VERSION),
        )
        .await
        .expect_status(200)
        .json();
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert_eq!(data[0]["type"], "model");
    assert!(data[0]["display_name"].is_string() && data[0]["created_at"].is_string());
    assert_eq!(list["has_more"], true);
    assert_eq!(list["first_id"], data[0]["id"]);
    let one = app
        .send(
            app.client
                .get(format!("{}/v1/models/claude-haiku-4-5", app.url))
                .header("x-api-key", &key)
                .header("anthropic-version", VERSION),
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        (one["type"].as_str(), one["id"].as_str()),
        (Some("model"), Some("claude-haiku-4.5"))
    );
    let openai = app
        .send(app.client.get(format!("{}/v1/models", app.url)).bearer_auth(&key))
        .await
        .expect_status(200)
        .json();
    assert_eq!(openai["object"], "list");
}

#[tokio::test]
async fn a_preflight_allows_anthropics_headers() {
    let app = TestApp::new();
    let answer = app.request(reqwest::Method::OPTIONS, "/v1/messages").await;
    let allowed = answer
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for header in ["x-api-key", "anthropic-version", "anthropic-beta"] {
        assert!(allowed.contains(header), "{allowed}");
    }
}

#[tokio::test]
async fn a_cap_too_small_for_any_budget_turns_thinking_off_and_says_so() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    // A plan capping answers at 1,000 tokens: no thinking budget of at least 1,024 fits under it.
    app.set_plan(user.id, "enterprise", json!({"max_output_tokens": 1000}))
        .await
        .expect_status(200);
    let key = api_key(&app, &user).await;
    let marker = unique("no-room");
    let body = json!({
        "model": "claude-sonnet-5.5", "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [{"role": "user", "content": format!("{marker} [[mock reasoning=5]]")}],
    });
    let answer = messages(&app, &key, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let warning = answer.header("x-flint-warnings").expect("a warning header");
    assert!(warning.contains("thinking"), "{warning}");
    let sent = raw_body(&app.upstream_requests(&marker).await[0]);
    assert_eq!(sent["max_tokens"], 1000);
    assert!(sent.get("thinking").is_none(), "{sent}");
    // Without thinking the mock answers no reasoning, and none is billed.
    let answer = answer.json();
    assert!(answer["content"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["type"] != "thinking"));
    let usage = expected_usage(Provider::Anthropic, &sent, &Defaults::default()).unwrap();
    assert_eq!(usage.reasoning, 0);
    let row = settled_row(&user).await;
    assert_eq!(row["tokens_out"].as_u64(), Some(usage.output));
}

#[tokio::test]
async fn a_native_stream_failing_midway_ends_with_one_error_event_and_bills_what_came() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = api_key(&app, &user).await;
    let marker = unique("mid-error");
    let body = json!({
        "model": "claude-sonnet-5.5", "max_tokens": 500, "stream": true,
        "messages": [{"role": "user", "content": format!("{marker} [[mock error_after=3]]")}],
    });
    let answer = messages(&app, &key, &body).await;
    assert_eq!(answer.status, 200, "the stream had begun: {}", answer.text);
    let events: Vec<Value> = sse_data(&answer.text)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"error"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "error").count(), 1, "{kinds:?}");
    assert!(!kinds.contains(&"message_stop"), "{kinds:?}");
    let error = events.last().unwrap();
    assert!(
        error["error"]["type"].is_string() && error["error"]["message"].is_string(),
        "{error}"
    );
    let deltas = events
        .iter()
        .filter(|e| e["delta"]["type"] == "text_delta")
        .count();
    assert_eq!(
        deltas, 3,
        "what the upstream sent before failing reached the client"
    );
    // What was generated is billed (never more than the balance had), and the books balance.
    let row = settled_row(&user).await;
    assert!(row["cost_nanos"].as_i64().unwrap() > 0, "{row}");
    app.assert_books_balance(&user.token).await;
}
