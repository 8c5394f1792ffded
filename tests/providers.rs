//! Anthropic and Gemini end to end: what reached each upstream, field by field, against what
//! that API requires; their errors mapped to ours; image generation charged per image. The SDK's
//! view is in tests/sdk/providers.test.mjs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{openai_usage_counts, sse_data, unique, TestApp, MOCK_PROVIDER_KEY};
use flint_mock::{expected_answer, expected_usage, expected_vendor_answer, Defaults, Dialect, Provider};
use serde_json::{json, Value};

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather",
           "parameters": {"type": "object", "additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#",
                          "properties": {"city": {"type": "string", "default": "Oslo"}}, "required": ["city"]}}})
}

async fn only_upstream(app: &TestApp, marker: &str) -> Value {
    let seen = app.upstream_requests(marker).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    seen.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_claude_request_reaches_anthropic_as_the_messages_api_requires() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("claude");
    let body = json!({"model": "claude-sonnet-4-5", "stream": true, "temperature": 1.7, "stop": ["END"], "max_tokens": 300,
    "tools": [weather_tool()], "tool_choice": "required",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Answer in English."},
        {"role": "user", "content": "first"},
        {"role": "user", "content": [{"type": "text", "text": marker}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}
    ]});
    let response = app.chat(&user.token, &body).await;
    response.expect_status(200);
    let upstream = only_upstream(&app, &marker).await;
    assert_eq!(upstream["path"], "/anthropic/v1/messages");
    assert_eq!(upstream["headers"]["x-api-key"], MOCK_PROVIDER_KEY);
    assert_eq!(upstream["headers"]["anthropic-version"], "2023-06-01");
    assert!(upstream["headers"].get("authorization").is_none());
    let sent = &upstream["body"];
    // Anthropic retired Sonnet 4.5 on 2026-11-30; the id is served by Sonnet 4.6 (models.json).
    assert_eq!(sent["model"], "claude-sonnet-4-6");
    assert_eq!(sent["max_tokens"], 300);
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["temperature"], json!(1.0), "clamped to Anthropic's range");
    assert_eq!(sent["stop_sequences"], json!(["END"]));
    let system = sent["system"].to_string();
    assert!(
        system.contains("You are terse.") && system.contains("Answer in English."),
        "{system}"
    );
    // Two user turns merged into one, as the API requires alternation.
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "user");
    let blocks = messages[0]["content"].as_array().unwrap();
    assert!(blocks.iter().any(|b| b["type"] == "image"
        && b["source"]["type"] == "base64"
        && b["source"]["media_type"] == "image/png"));
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(sent["tools"][0]["input_schema"]["required"], json!(["city"]));
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    // The answer is the mock's, in OpenAI's shape.
    let want = expected_answer(Provider::Anthropic, sent, &Defaults::default()).unwrap();
    let events = sse_data(&response.text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let args: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock-city"})
    );
    assert!(want.completion_tokens > 0);
}

#[tokio::test]
async fn a_gemini_request_reaches_google_as_generate_content_requires() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("gemini");
    let body = json!({"model": "gemini-2.5-pro", "stream": true, "top_p": 0.5, "max_tokens": 256, "presence_penalty": 1.0,
        "tools": [weather_tool()], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_object"},
        "messages": [{"role": "system", "content": "Be exact."}, {"role": "user", "content": marker}]});
    app.chat(&user.token, &body).await.expect_status(200);
    let upstream = only_upstream(&app, &marker).await;
    assert_eq!(
        upstream["path"],
        "/google/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    );
    assert_eq!(upstream["query"], "alt=sse");
    assert_eq!(upstream["headers"]["x-goog-api-key"], MOCK_PROVIDER_KEY);
    let sent = &upstream["body"];
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be exact.");
    assert_eq!(
        sent["contents"],
        json!([{"role": "user", "parts": [{"text": marker}]}])
    );
    let config = &sent["generationConfig"];
    assert_eq!(
        (config["topP"].clone(), config["maxOutputTokens"].clone()),
        (json!(0.5), json!(256))
    );
    assert_eq!(config["responseMimeType"], "application/json");
    assert!(
        config.get("presencePenalty").is_none(),
        "Gemini 2.5+ refuses penalties"
    );
    let declaration = &sent["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["name"], "get_weather");
    let schema = declaration["parameters"].to_string();
    for rejected in ["additionalProperties", "$schema", "default"] {
        assert!(!schema.contains(rejected), "{rejected} reached Gemini: {schema}");
    }
    assert_eq!(
        sent["toolConfig"]["functionCallingConfig"],
        json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]})
    );
}

#[tokio::test]
async fn a_claude_tool_result_goes_back_as_a_tool_result_block() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("tr");
    let body = json!({"model": "claude-haiku-4.5", "tools": [weather_tool()], "messages": [
        {"role": "user", "content": marker},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_01", "content": "rain"}]});
    let answer = app.chat(&user.token, &body).await.expect_status(200).json();
    assert_eq!(answer["choices"][0]["message"]["content"], "Tool said: rain");
    let sent = &only_upstream(&app, &marker).await["body"];
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(
        messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["user", "assistant", "user"]
    );
    assert_eq!(
        messages[1]["content"][0],
        json!({"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}})
    );
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["tool_use_id"], "toolu_01");
}

#[tokio::test]
async fn provider_errors_map_to_ours_with_their_retry_hints() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    for (model, knob, status, retry) in [
        ("claude-sonnet-4.5", "status=429 retry_after=9", 429, Some("9")),
        ("claude-sonnet-4.5", "status=529", 503, None),
        ("gemini-2.5-pro", "status=429 retry_after=12", 429, Some("12")),
        ("gemini-2.5-pro", "status=500", 502, None),
        ("claude-sonnet-4.5", "status=400", 400, None),
    ] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": format!("{} [[mock {knob}]]", unique("e"))}]});
        let response = app.chat(&user.token, &body).await;
        assert_eq!(response.status, status, "{model} {knob}: {}", response.text);
        if let Some(retry) = retry {
            assert_eq!(response.header("retry-after"), Some(retry), "{model} {knob}");
        }
        assert!(!response.text.contains(MOCK_PROVIDER_KEY));
    }
    // Nothing was charged for any of them.
    assert_eq!(app.assert_books_balance(&user.token).await, 5.0);
}

#[tokio::test]
async fn an_anthropic_error_event_mid_stream_ends_the_stream_with_an_openai_error() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    for model in ["claude-sonnet-4.5", "gemini-2.5-pro"] {
        let body = json!({"model": model, "stream": true, "messages": [{"role": "user", "content": format!("{} [[mock error_after=2]]", unique("me"))}]});
        let events = sse_data(&app.chat(&user.token, &body).await.text);
        let error: Value = events
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .find(|v| v.get("error").is_some())
            .unwrap();
        assert_eq!(error["error"]["code"], "upstream_error", "{model}");
    }
}

#[tokio::test]
async fn an_image_generation_is_charged_per_image_in_the_ledger() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let marker = unique("img");
    let response = app
        .post_as(
            &user.token,
            "/v1/images/generations",
            &json!({"model": "flux-schnell", "prompt": marker, "n": 3, "size": "512x512"}),
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(response["data"].as_array().unwrap().len(), 3);
    assert!(response["data"][0]["url"].as_str().unwrap().starts_with("http"));
    assert_eq!(response["usage"]["cost_usd"], json!(0.036));
    let sent = &only_upstream(&app, &marker).await;
    assert_eq!(sent["path"], "/together/v1/images/generations");
    assert_eq!(sent["body"]["model"], "black-forest-labs/FLUX.1-schnell");
    assert_eq!(sent["body"]["n"], 3);
    let entries = app.history(&user.token).await;
    assert_eq!(entries[0]["kind"], "charge");
    assert_eq!(entries[0]["amount_usd"], json!(-0.036));
    assert_eq!(app.assert_books_balance(&user.token).await, 0.964);
}

#[tokio::test]
async fn a_large_or_high_quality_image_costs_more_than_a_small_one() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let mut costs = Vec::new();
    for extra in [
        json!({"size": "1024x1024"}),
        json!({"size": "2048x2048"}),
        json!({"size": "1024x1024", "quality": "hd"}),
    ] {
        let mut body = json!({"model": "flux-schnell", "prompt": unique("img-size")});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let response = app
            .post_as(&user.token, "/v1/images/generations", &body)
            .await
            .expect_status(200)
            .json();
        assert_eq!(response["usage"]["images"], 1);
        costs.push(response["usage"]["cost_usd"].as_f64().unwrap());
    }
    // $0.012 per megapixel at standard quality; four megapixels are four; "hd" counts twice.
    assert_eq!(costs, vec![0.012, 0.048, 0.024]);
    assert_eq!(app.assert_books_balance(&user.token).await, 0.916);
    // A 4096×4096 image is 16 prices: a balance that covers one small image is refused it.
    let poor = app.funded_user(0.1).await;
    let refused = app
        .post_as(
            &poor.token,
            "/v1/images/generations",
            &json!({"model": "flux-schnell", "prompt": "big", "size": "4096x4096"}),
        )
        .await;
    refused.expect_status(402);
    assert_eq!(app.balance(&poor.token).await, 0.1);
}

#[tokio::test]
async fn image_requests_are_validated_and_paid_for_in_advance() {
    let app = TestApp::new();
    let broke = app.new_user().await;
    let refused = app
        .post_as(
            &broke.token,
            "/v1/images/generations",
            &json!({"model": "flux-schnell", "prompt": "a cat"}),
        )
        .await;
    refused.expect_status(402);
    assert_eq!(refused.json()["error"]["code"], "insufficient_quota");
    for (body, param) in [
        (json!({"model": "flux-schnell", "prompt": ""}), "prompt"),
        (json!({"model": "flux-schnell", "prompt": "x", "n": 11}), "n"),
        (
            json!({"model": "flux-schnell", "prompt": "x", "size": "huge"}),
            "size",
        ),
        (
            json!({"model": "flux-schnell", "prompt": "x", "response_format": "gif"}),
            "response_format",
        ),
        (json!({"model": "gpt-4o", "prompt": "x"}), "model"),
    ] {
        let response = app.post_as(&broke.token, "/v1/images/generations", &body).await;
        response.expect_status(400);
        assert_eq!(response.json()["error"]["param"], param, "{body}");
    }
}

// ---- cache, reasoning and their usage on the chat surface

/// The usage of an OpenAI answer, whole or streamed (the last chunk's).
fn answer_usage(response: &common::TestResponse, stream: bool) -> Value {
    if !stream {
        return response.json()["usage"].clone();
    }
    let events = sse_data(&response.text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(last["choices"], json!([]));
    last["usage"].clone()
}

/// What the mock reports for the request that reached it, by the provider's wire.
fn reported(model: &str, sent: &Value) -> flint_mock::Usage {
    let defaults = Defaults::default();
    match model {
        m if m.starts_with("claude") => expected_usage(Provider::Anthropic, sent, &defaults).unwrap(),
        m if m.starts_with("gemini") => expected_usage(Provider::Gemini, sent, &defaults).unwrap(),
        m if m.starts_with("deepseek") => expected_vendor_answer(Dialect::DeepSeek, sent, &defaults)
            .unwrap()
            .usage(),
        m if m.starts_with("grok") => expected_vendor_answer(Dialect::Xai, sent, &defaults)
            .unwrap()
            .usage(),
        _ => expected_usage(Provider::OpenAi, sent, &defaults).unwrap(),
    }
}

#[tokio::test]
async fn every_translated_provider_reports_cache_and_reasoning_the_openai_way_and_bills_them_exactly() {
    let app = TestApp::new();
    for (model, knobs) in [
        // Claude reasons only with thinking on; Anthropic reports it inside output_tokens.
        ("claude-sonnet-4.5", "cache_read=300 cache_write=120 reasoning=40"),
        ("gemini-2.5-pro", "cache_read=200 reasoning=30"),
        ("deepseek-v4-pro", "cache_read=100 reasoning=25"),
        ("grok-4.3", "cache_read=50 reasoning=60"),
    ] {
        let prices = app.token_prices(model).await;
        for stream in [false, true] {
            let user = app.funded_user(5.0).await;
            let marker = unique("usage");
            let body = json!({"model": model, "reasoning_effort": "high", "max_tokens": 4000,
                "messages": [{"role": "user", "content": format!("{marker} tell me [[mock {knobs}]]")}]});
            let response = app.chat_streamed_if(stream, &user.token, &body).await;
            let sent = only_upstream(&app, &marker).await["body"].clone();
            let want = reported(model, &sent);
            assert!(
                want.cache_read > 0 && want.reasoning > 0,
                "{model}: the knobs took effect: {want:?}"
            );
            let usage = answer_usage(&response, stream);
            let (prompt, cached, completion, reasoning) = openai_usage_counts(&usage);
            assert_eq!(
                (prompt, cached, completion),
                (want.input, want.cache_read, want.output),
                "{model} stream={stream}: {usage}"
            );
            // Anthropic does not count thinking apart from the answer; the others do.
            let want_reasoning = if model.starts_with("claude") {
                0
            } else {
                want.reasoning
            };
            assert_eq!(reasoning, want_reasoning, "{model} stream={stream}: {usage}");
            assert_eq!(usage["total_tokens"].as_u64(), Some(want.input + want.output));
            let context = format!("{model} stream={stream}");
            let charge = app
                .assert_charged(&user.token, 5.0, &want, &prices, &context)
                .await;
            assert_eq!(usage["cost_usd"].as_f64(), Some(charge as f64 / 1e6), "{context}");
            app.assert_books_balance(&user.token).await;
        }
    }
}

#[tokio::test]
async fn cache_control_marks_reach_claude_in_anthropics_shape_and_the_writes_are_priced_by_lifetime() {
    let app = TestApp::new();
    let prices = app.token_prices("claude-sonnet-4.5").await;
    for stream in [false, true] {
        let user = app.funded_user(5.0).await;
        let marker = unique("cc");
        let mut tool = weather_tool();
        tool["cache_control"] = json!({"type": "ephemeral", "ttl": "1h"});
        let body = json!({"model": "claude-sonnet-4.5", "tools": [tool], "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Long standing rules.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": format!("{marker} a long document"), "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "the question [[mock cache_read=500 cache_write_1h=200 cache_write_5m=80 tools=0]]"}]}]});
        let response = app.chat_streamed_if(stream, &user.token, &body).await;
        assert!(
            response.header("x-flint-warnings").is_none(),
            "{:?}",
            response.header("x-flint-warnings")
        );
        let sent = only_upstream(&app, &marker).await["body"].clone();
        assert_eq!(
            sent["tools"][0]["cache_control"],
            json!({"type": "ephemeral", "ttl": "1h"})
        );
        assert_eq!(
            sent["system"],
            json!([{"type": "text", "text": "Long standing rules.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}])
        );
        let blocks = sent["messages"][0]["content"].as_array().unwrap();
        assert_eq!(blocks[0]["cache_control"], json!({"type": "ephemeral"}));
        assert!(blocks[1].get("cache_control").is_none());
        let want = expected_usage(Provider::Anthropic, &sent, &Defaults::default()).unwrap();
        assert_eq!(
            (want.cache_read, want.cache_write_5m, want.cache_write_1h),
            (500, 80, 200)
        );
        let usage = answer_usage(&response, stream);
        let (prompt, cached, _, _) = openai_usage_counts(&usage);
        assert_eq!(
            (prompt, cached),
            (want.input, 500),
            "prompt_tokens include reads and writes: {usage}"
        );
        app.assert_charged(&user.token, 5.0, &want, &prices, &format!("stream={stream}"))
            .await;
    }
    // Other providers get no cache_control at all.
    let user = app.funded_user(5.0).await;
    let marker = unique("cc-other");
    for model in ["gemini-2.5-pro", "gpt-4.1"] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": [
            {"type": "text", "text": format!("{marker} {model}"), "cache_control": {"type": "ephemeral"}}]}]});
        app.chat(&user.token, &body).await.expect_status(200);
    }
    for seen in app.upstream_requests(&marker).await {
        assert!(
            !seen["raw_body"].as_str().unwrap().contains("cache_control"),
            "{}",
            seen["path"]
        );
    }
}

#[tokio::test]
async fn reasoning_effort_becomes_claude_thinking_and_gemini_thinking_config() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let ask = |model: &str, effort: &str, max: u32, marker: &str| {
        json!({"model": model, "reasoning_effort": effort, "max_tokens": max, "temperature": 0.3,
               "messages": [{"role": "user", "content": marker}]})
    };
    // Claude: the effort's budget, at most half the capped max_tokens.
    let marker = unique("think");
    let response = app
        .chat(&user.token, &ask("claude-sonnet-4.5", "medium", 6000, &marker))
        .await;
    response.expect_status(200);
    let sent = only_upstream(&app, &marker).await["body"].clone();
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 3000})
    );
    assert_eq!(sent["max_tokens"], 6000);
    assert!(
        sent.get("temperature").is_none(),
        "thinking takes temperature 1 only"
    );
    assert!(response
        .header("x-flint-warnings")
        .unwrap()
        .contains("temperature not sent"));
    let high = unique("think");
    app.chat(&user.token, &ask("claude-sonnet-4.5", "high", 64000, &high))
        .await
        .expect_status(200);
    // 16,384 for high, under the paid cap (MAX_TOKENS_PAID 8192): half of it.
    assert_eq!(
        only_upstream(&app, &high).await["body"]["thinking"]["budget_tokens"],
        4096
    );
    // No budget of 1,024 fits under 1,024 output tokens: no thinking, and a warning says so.
    let small = unique("think");
    let response = app
        .chat(&user.token, &ask("claude-sonnet-4.5", "high", 1024, &small))
        .await;
    response.expect_status(200);
    assert!(only_upstream(&app, &small).await["body"]
        .get("thinking")
        .is_none());
    assert!(response
        .header("x-flint-warnings")
        .unwrap()
        .contains("reasoning_effort not applied"));
    // Gemini 2.5: a thinking budget; Gemini 3: a thinking level.
    for (model, effort, want) in [
        ("gemini-2.5-pro", "low", json!({"thinkingBudget": 2048})),
        ("gemini-2.5-flash", "none", json!({"thinkingBudget": 0})),
        ("gemini-3.5-flash", "minimal", json!({"thinkingLevel": "minimal"})),
        ("gemini-3.1-pro-preview", "high", json!({"thinkingLevel": "high"})),
    ] {
        let marker = unique("gthink");
        app.chat(&user.token, &ask(model, effort, 8000, &marker))
            .await
            .expect_status(200);
        let sent = only_upstream(&app, &marker).await["body"].clone();
        assert_eq!(
            sent["generationConfig"]["thinkingConfig"], want,
            "{model} {effort}"
        );
    }
    app.assert_books_balance(&user.token).await;
}

#[tokio::test]
async fn a_deepseek_tool_loop_gets_its_reasoning_content_back() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("ds");
    let first = json!({"model": "deepseek-v4-pro", "tools": [weather_tool()],
        "messages": [{"role": "user", "content": format!("{marker} weather? [[mock reasoning=7]]")}]});
    let answer = app.chat(&user.token, &first).await.expect_status(200).json();
    let message = answer["choices"][0]["message"].clone();
    // DeepSeek's reasoning text comes through to the client as it sent it.
    assert_eq!(message["reasoning_content"], flint_mock::REASONING_TEXT);
    let call = &message["tool_calls"][0];
    let follow_up = json!({"model": "deepseek-v4-pro", "tools": [weather_tool()], "messages": [
        first["messages"][0].clone(),
        {"role": "assistant", "content": null, "reasoning_content": message["reasoning_content"], "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]});
    let answer = app.chat(&user.token, &follow_up).await.expect_status(200).json();
    assert_eq!(answer["choices"][0]["message"]["content"], "Tool said: sunny");
    let seen = app.upstream_requests(&marker).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1]["body"]["messages"][1]["reasoning_content"],
        flint_mock::REASONING_TEXT
    );
    assert!(seen[1]["body"].get("thinking").is_none());
    // A history whose tool call lost its reasoning_content (a client that drops it) would be
    // DeepSeek's 400 in thinking mode: the request goes without thinking, and says so.
    let mut without = follow_up.clone();
    without["messages"][1]
        .as_object_mut()
        .unwrap()
        .remove("reasoning_content");
    let response = app.chat(&user.token, &without).await;
    response.expect_status(200);
    assert!(response
        .header("x-flint-warnings")
        .unwrap()
        .contains("thinking disabled"));
    assert_eq!(
        app.upstream_requests(&marker).await[2]["body"]["thinking"],
        json!({"type": "disabled"})
    );
    // `reasoning_effort: none` asks for that itself.
    without["reasoning_effort"] = json!("none");
    let response = app.chat(&user.token, &without).await;
    response.expect_status(200);
    assert!(response.header("x-flint-warnings").is_none());
    // Other providers never see the field.
    let marker = unique("ds-other");
    let mut other = follow_up.clone();
    other["model"] = json!("gpt-4.1");
    other["messages"][0]["content"] = json!(marker);
    app.chat(&user.token, &other).await.expect_status(200);
    assert!(only_upstream(&app, &marker).await["body"]["messages"][1]
        .get("reasoning_content")
        .is_none());
}

#[tokio::test]
async fn claude_thinking_stays_off_in_a_tool_loop_so_anthropic_never_refuses_it() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("loop");
    let body = json!({"model": "claude-sonnet-4.5", "reasoning_effort": "high", "tools": [weather_tool()], "messages": [
        {"role": "user", "content": marker},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "rain"}]});
    let response = app.chat(&user.token, &body).await;
    response.expect_status(200);
    assert_eq!(
        response.json()["choices"][0]["message"]["content"],
        "Tool said: rain"
    );
    assert!(only_upstream(&app, &marker).await["body"]
        .get("thinking")
        .is_none());
    assert!(response
        .header("x-flint-warnings")
        .unwrap()
        .contains("signed thinking"));
}
