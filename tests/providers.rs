//! Anthropic and Gemini end to end: what reached each upstream, field by field, against what
//! that API requires; their errors mapped to ours; image generation charged per image. The SDK's
//! view is in tests/sdk/providers.test.mjs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{sse_data, unique, TestApp, MOCK_PROVIDER_KEY};
use flint_mock::{expected_answer, Defaults, Provider};
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
