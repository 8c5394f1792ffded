//! Chat end to end over the OpenAI wire format: answers, streams, what reached the upstream,
//! upstream failures, disconnects, Stone's /api/chat and its bill. The official SDK's view of the
//! same routes is in tests/sdk/chat.test.mjs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{openai_usage_counts, sse_data, unique, TestApp, MOCK_PROVIDER_KEY};
use flint_mock::{expected_answer, expected_usage, Defaults, Provider};
use futures_util::StreamExt;
use serde_json::{json, Value};

fn ask(model: &str, prompt: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": prompt}]})
}

/// What the mock answers to `body` (the OpenAI wire carries the client's messages unchanged).
fn expected(body: &Value) -> flint_mock::Answer {
    expected_answer(Provider::OpenAi, body, &Defaults::default()).unwrap()
}

/// Joins the content deltas of an OpenAI stream.
fn stream_text(events: &[String]) -> String {
    events
        .iter()
        .filter(|e| e.as_str() != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_non_streamed_answer_is_openais_shape_with_the_requested_model() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let body = ask("gpt-4o-mini", &format!("hello there {}", unique("ns")));
    let answer = app.chat(&user.token, &body).await.expect_status(200).json();
    let want = expected(&body);
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(answer["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(answer["model"], "gpt-4o-mini");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert_eq!(answer["choices"][0]["message"]["content"], want.text());
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let usage = &answer["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(want.prompt_tokens), Some(want.completion_tokens))
    );
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(want.prompt_tokens + want.completion_tokens)
    );
    assert_eq!(usage["estimated"], false);
    assert_eq!(usage["cost_usd"], json!(0.0), "lite models are free for now");
}

#[tokio::test]
async fn the_upstream_gets_the_right_url_key_model_and_parameters() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let marker = unique("up");
    let body = json!({"model": "gpt-4o-mini", "stream": true, "temperature": 0.25, "max_tokens": 100000, "seed": 9,
                      "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": marker}]});
    app.chat(&user.token, &body).await.expect_status(200);
    let seen = app.upstream_requests(&marker).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    let upstream = &seen[0];
    assert_eq!(upstream["path"], "/openai/v1/chat/completions");
    assert_eq!(
        upstream["headers"]["authorization"],
        format!("Bearer {MOCK_PROVIDER_KEY}")
    );
    let sent = &upstream["body"];
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["temperature"], json!(0.25));
    assert_eq!(sent["seed"], json!(9));
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    // Capped by the free plan's MAX_TOKENS_LITE, under OpenAI's field name only.
    assert_eq!(sent["max_completion_tokens"], json!(4096));
    assert!(sent.get("max_tokens").is_none());
    assert_eq!(sent["messages"], body["messages"]);
}

#[tokio::test]
async fn a_vendor_gets_its_own_upstream_id_and_loses_the_parameters_it_rejects() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("xai");
    let body = json!({"model": "grok-4.3", "presence_penalty": 0.5, "frequency_penalty": 0.5, "stop": ["zz"],
                      "messages": [{"role": "user", "content": marker}]});
    app.chat(&user.token, &body).await.expect_status(200);
    let sent = &app.upstream_requests(&marker).await[0];
    assert!(sent["path"].as_str().unwrap().starts_with("/xai/v1/"));
    for dropped in ["presence_penalty", "frequency_penalty", "stop"] {
        assert!(sent["body"].get(dropped).is_none(), "{dropped} reached xAI");
    }
}

#[tokio::test]
async fn a_stream_passes_each_chunk_on_and_reassembles_to_the_mocks_text() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let body = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": unique("st")}]});
    let response = app.chat(&user.token, &body).await;
    response.expect_status(200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_data(&response.text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert_eq!(stream_text(&events), expected(&body).text());
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(chunks
        .iter()
        .all(|c| c["id"] == id && c["model"] == "gpt-4o-mini" && c["object"] == "chat.completion.chunk"));
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "no usage without include_usage"
    );
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn include_usage_ends_with_a_usage_chunk_before_done() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let body = json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": unique("iu")}]});
    let events = sse_data(&app.chat(&user.token, &body).await.expect_status(200).text);
    let want = expected(&body);
    let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"].as_u64(), Some(want.prompt_tokens));
    assert_eq!(
        last["usage"]["completion_tokens"].as_u64(),
        Some(want.completion_tokens)
    );
    assert!(last["usage"]["cost_usd"].is_number());
}

#[tokio::test]
async fn streaming_is_incremental() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let body = json!({"model": "gpt-4o-mini", "stream": true,
                      "messages": [{"role": "user", "content": format!("{} [[mock delay=200 chunks=6]]", unique("inc"))}]});
    let started = Instant::now();
    let response = app.open_chat(&user.token, &body).await;
    let mut stream = response.bytes_stream();
    let mut first_content = None;
    let mut text = String::new();
    while let Some(bytes) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&bytes.unwrap()));
        if first_content.is_none() && text.contains("\"content\":\"Mock\"") {
            first_content = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let first = first_content.expect("a first content chunk");
    // The mock spaces its 6 chunks 200 ms apart: the last is sent ~1 s after the first.
    assert!(
        total - first >= Duration::from_millis(800),
        "first chunk at {first:?}, end at {total:?}: buffered?"
    );
}

#[tokio::test]
async fn an_unknown_model_is_404_and_bad_parameters_are_400s_naming_them() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let missing = app.chat(&user.token, &ask("gpt-17", "hi")).await;
    missing.expect_status(404);
    assert_eq!(missing.json()["error"]["code"], "model_not_found");
    for (patch, param) in [
        (json!({"n": 129}), "n"),
        (json!({"reasoning_effort": "extreme"}), "reasoning_effort"),
        (json!({"service_tier": "platinum"}), "service_tier"),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "forever"}}]}]}),
            "messages[0].content[0].cache_control",
        ),
        (json!({"temperature": 9}), "temperature"),
        (json!({"messages": []}), "messages"),
        (
            json!({"tools": [{"type": "function", "function": {"name": "has space"}}]}),
            "tools[0].function.name",
        ),
        (json!({"model": "flux-schnell"}), "model"),
        (json!({"unknown_thing": 1}), "unknown_thing"),
    ] {
        let mut body = ask("gpt-4o-mini", "hi");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let response = app.chat(&user.token, &body).await;
        response.expect_status(400);
        assert_eq!(response.json()["error"]["param"], param, "{}", response.text);
    }
    // A name no vendor documents is refused in OpenAI's words.
    let mut invented = ask("gpt-4o-mini", "hi");
    invented["temperature_boost"] = json!(2);
    let refused = app.chat(&user.token, &invented).await;
    refused.expect_status(400);
    assert_eq!(
        refused.json()["error"]["message"],
        "Unrecognized request argument supplied: temperature_boost"
    );
    let image = app.chat(&user.token, &ask("flux-schnell", "hi")).await;
    assert!(image.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("category `image`"));
}

#[tokio::test]
async fn chat_needs_credentials() {
    let app = TestApp::new();
    let response = app
        .post_json("/v1/chat/completions", &ask("gpt-4o-mini", "hi"))
        .await;
    response.expect_status(401);
}

#[tokio::test]
async fn an_upstream_429_is_a_429_with_retry_after_and_a_500_a_502_after_one_retry() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let limited = app
        .chat(
            &user.token,
            &ask(
                "gpt-4o-mini",
                &format!("{} [[mock status=429 retry_after=7]]", unique("rl")),
            ),
        )
        .await;
    limited.expect_status(429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert_eq!(limited.json()["error"]["code"], "upstream_rate_limited");

    let marker = unique("five");
    let failed = app
        .chat(
            &user.token,
            &ask("gpt-4o-mini", &format!("{marker} [[mock status=500]]")),
        )
        .await;
    failed.expect_status(502);
    assert_eq!(app.upstream_requests(&marker).await.len(), 2, "one retry");
    let text = failed.text.to_lowercase();
    assert!(
        !text.contains(&MOCK_PROVIDER_KEY.to_lowercase()) && !text.contains("server_error"),
        "{}",
        failed.text
    );
}

#[tokio::test]
async fn a_5xx_before_the_first_byte_is_retried_once_invisibly() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let marker = unique("once");
    let body = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": format!("[[mock fail_once id={marker}]]")}]});
    let events = sse_data(&app.chat(&user.token, &body).await.expect_status(200).text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert_eq!(app.upstream_requests(&marker).await.len(), 2);
}

fn last_error(events: &[String]) -> Value {
    events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .find(|v| v.get("error").is_some())
        .expect("an error event")
}

#[tokio::test]
async fn a_mid_stream_error_and_a_cut_stream_end_with_an_openai_error_event() {
    let app = TestApp::new();
    let user = app.new_user().await;
    for (knob, code) in [
        ("error_after=3", "upstream_error"),
        ("cut_after=3", "upstream_stream_cut"),
    ] {
        let body = json!({"model": "gpt-4o-mini", "stream": true,
                          "messages": [{"role": "user", "content": format!("{} [[mock {knob}]]", unique("mid"))}]});
        let response = app.chat(&user.token, &body).await;
        response.expect_status(200);
        let events = sse_data(&response.text);
        assert_eq!(stream_text(&events), "Mock answer ё→", "{knob}");
        let error = last_error(&events);
        assert_eq!(error["error"]["code"], code, "{knob}");
        assert!(error["error"]["message"].is_string() && error["error"]["type"].is_string());
        assert!(
            !events.contains(&"[DONE]".to_owned()),
            "{knob}: an error ends the stream"
        );
    }
}

#[tokio::test]
async fn a_stream_without_upstream_usage_is_estimated_and_marked() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let body = json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": format!("{} [[mock no_usage]]", unique("nu"))}]});
    let events = sse_data(&app.chat(&user.token, &body).await.expect_status(200).text);
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["estimated"], true);
    // ceil(chars / 4) of the delivered text.
    let chars = stream_text(&events).chars().count() as u64;
    assert_eq!(
        usage["usage"]["completion_tokens"].as_u64(),
        Some(chars.div_ceil(4))
    );
    assert!(usage["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

// ---- money

#[tokio::test]
async fn a_premium_request_is_charged_by_the_formula() {
    let app = TestApp::new();
    let user = app.funded_user(10.0).await;
    let body = ask("gpt-5.1", &unique("paid"));
    let answer = app.chat(&user.token, &body).await.expect_status(200).json();
    let want = expected(&body);
    // gpt-5.1: $4.90 in, $39.20 out per 1M tokens; the charge is whole micro-dollars, rounded up.
    let nanos = (want.prompt_tokens * 4_900_000 + want.completion_tokens * 39_200_000).div_ceil(1000);
    let expected_usd = nanos.div_ceil(1000) as f64 / 1e6;
    assert_eq!(answer["usage"]["cost_usd"].as_f64(), Some(expected_usd));
    let balance = app.balance(&user.token).await;
    assert_eq!(balance, (10_000_000 - nanos.div_ceil(1000)) as f64 / 1e6);
}

#[tokio::test]
async fn a_premium_request_the_balance_cannot_cover_is_402_before_any_upstream_call() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let marker = unique("broke");
    let response = app.chat(&user.token, &ask("gpt-5.1", &marker)).await;
    response.expect_status(402);
    assert_eq!(response.json()["error"]["code"], "insufficient_quota");
    assert_eq!(response.json()["error"]["type"], "insufficient_quota");
    assert!(app.upstream_requests(&marker).await.is_empty());
    let stone = app
        .post_as(
            &user.token,
            "/api/chat",
            &json!({"model_id": "gpt-5.1", "messages": [{"role": "user", "content": marker}]}),
        )
        .await;
    stone.expect_status(402);
    let detail = &stone.json()["detail"];
    assert_eq!(detail["plan"], "free");
    assert_eq!(detail["tier"], "premium");
    assert_eq!(detail["need_balance"], true);
    assert!(detail["used_today"].is_number() && detail["limit"].is_number());
    assert!(detail["error"].as_str().unwrap().contains("$"));
}

#[tokio::test]
async fn a_client_that_disconnects_after_the_first_chunk_is_still_billed() {
    let app = TestApp::new();
    let user = app.funded_user(10.0).await;
    let body = json!({"model": "gpt-5.1", "stream": true,
                      "messages": [{"role": "user", "content": format!("{} [[mock delay=150 chunks=8]]", unique("dc"))}]});
    let response = app.open_chat(&user.token, &body).await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(stream);
    // The gateway keeps reading the upstream (8 chunks, ~1 s) and then settles.
    let want = expected(&body);
    let nanos = (want.prompt_tokens * 4_900_000 + want.completion_tokens * 39_200_000).div_ceil(1000);
    let after_usd = (10_000_000 - nanos.div_ceil(1000)) as f64 / 1e6;
    app.wait_for_balance(&user.token, after_usd).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    // The limiter's day counters are updated right after the bill.
    let tokens = want.prompt_tokens + want.completion_tokens;
    loop {
        let me = app.get_as(&user.token, "/auth/me").await.json();
        assert_eq!(me["usage"]["requestsToday"], 1);
        if me["usage"]["tokensToday"].as_u64() == Some(tokens) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tokensToday stayed {}",
            me["usage"]["tokensToday"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- Stone's /api/chat

#[tokio::test]
async fn stone_chat_streams_content_usage_billing_done_in_that_order() {
    let app = TestApp::new();
    let user = app.funded_user(10.0).await;
    let prompt = unique("stone");
    let body = json!({"model_id": "gpt-5.1", "messages": [{"role": "user", "content": prompt}]});
    let response = app.post_as(&user.token, "/api/chat", &body).await;
    response.expect_status(200);
    let events = sse_data(&response.text);
    let n = events.len();
    assert_eq!(events[n - 1], "[DONE]");
    let usage: Value = serde_json::from_str(&events[n - 3]).unwrap();
    let billing: Value = serde_json::from_str(&events[n - 2]).unwrap();
    let content: String = events[..n - 3]
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(e).unwrap();
            assert_eq!(
                v.as_object().unwrap().keys().collect::<Vec<_>>(),
                ["choices"],
                "{e}"
            );
            v["choices"][0]["delta"]["content"].as_str().unwrap().to_owned()
        })
        .collect();
    let want = expected(&json!({"model": "gpt-5.1", "messages": [{"role": "user", "content": prompt}]}));
    assert_eq!(content, want.text());
    assert_eq!(
        usage,
        json!({"usage": {"tokens_in": want.prompt_tokens, "tokens_out": want.completion_tokens, "tokens_cached": 0}})
    );
    let nanos = (want.prompt_tokens * 4_900_000 + want.completion_tokens * 39_200_000).div_ceil(1000);
    assert_eq!(
        billing,
        json!({"billing": {"tokens_in": want.prompt_tokens, "tokens_out": want.completion_tokens, "tokens_cached": 0,
                           "cost_usd": nanos.div_ceil(1000) as f64 / 1e6,
                           "balance_usd": (10_000_000 - nanos.div_ceil(1000)) as f64 / 1e6,
                           "billing_mode": "per_token"}})
    );
}

#[tokio::test]
async fn stone_chat_defaults_to_gpt_4o_mini_for_free() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let marker = unique("def");
    let events = sse_data(
        &app.post_as(
            &user.token,
            "/api/chat",
            &json!({"messages": [{"role": "user", "content": marker}]}),
        )
        .await
        .expect_status(200)
        .text,
    );
    let billing: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(billing["billing"]["billing_mode"], "free");
    assert_eq!(billing["billing"]["cost_usd"], json!(0.0));
    assert_eq!(
        app.upstream_requests(&marker).await[0]["body"]["model"],
        "gpt-4o-mini"
    );
}

#[tokio::test]
async fn a_system_prompt_is_for_paid_users_only() {
    let app = TestApp::new();
    let free = app.new_user().await;
    let body = json!({"system_prompt": "be a pirate", "messages": [{"role": "user", "content": "hi"}]});
    let refused = app.post_as(&free.token, "/api/chat", &body).await;
    refused.expect_status(403);
    assert_eq!(refused.json()["detail"]["code"], "system_prompt_not_allowed");
    let paid = app.funded_user(1.0).await;
    let marker = unique("sys");
    let body = json!({"system_prompt": "be a pirate", "messages": [{"role": "user", "content": marker}]});
    app.post_as(&paid.token, "/api/chat", &body)
        .await
        .expect_status(200);
    let sent = &app.upstream_requests(&marker).await[0]["body"]["messages"];
    assert_eq!(sent[0], json!({"role": "system", "content": "be a pirate"}));
    // System messages inside `messages` on /v1 are never refused.
    let v1 = json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]});
    app.chat(&free.token, &v1).await.expect_status(200);
}

#[tokio::test]
async fn an_operator_override_of_the_system_prompt_is_enforced_as_shown() {
    let app = TestApp::new();
    let body = |marker: &str| json!({"system_prompt": "be a pirate", "messages": [{"role": "user", "content": marker}]});
    // What `/auth/me` shows once the operator has put the user on `plan` with the override.
    let shown_after = |user_id: i64, token: String, plan: &'static str, allowed: bool| {
        let app = &app;
        async move {
            app.set_plan(user_id, plan, json!({"system_prompt_allowed": allowed}))
                .await
                .expect_status(200);
            let me = app.get_as(&token, "/auth/me").await;
            me.expect_status(200);
            me.json()["limits"]["systemPromptAllowed"].clone()
        }
    };
    // Paid (money on the balance, a plan that allows it), but the operator says no.
    let paid = app.funded_user(1.0).await;
    assert_eq!(
        shown_after(paid.id, paid.token.clone(), "payg", false).await,
        false
    );
    let refused = app.post_as(&paid.token, "/api/chat", &body(&unique("sys"))).await;
    refused.expect_status(403);
    assert_eq!(refused.json()["detail"]["code"], "system_prompt_not_allowed");
    // Free, no money, but the operator says yes.
    let free = app.new_user().await;
    assert_eq!(shown_after(free.id, free.token.clone(), "free", true).await, true);
    let marker = unique("sys");
    app.post_as(&free.token, "/api/chat", &body(&marker))
        .await
        .expect_status(200);
    let sent = &app.upstream_requests(&marker).await[0]["body"]["messages"];
    assert_eq!(sent[0], json!({"role": "system", "content": "be a pirate"}));
}

#[tokio::test]
async fn no_response_or_log_line_contains_a_provider_key() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let mut bodies = Vec::new();
    for knob in ["status=429", "status=500", "status=400", "error_after=1", ""] {
        for stream in [false, true] {
            let body = json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": format!("{} [[mock {knob}]]", unique("k"))}]});
            bodies.push(app.chat(&user.token, &body).await.text);
        }
    }
    for text in bodies {
        assert!(!text.contains(MOCK_PROVIDER_KEY), "{text}");
    }
    let log = std::fs::read_to_string(&common::gateway().wrangler_log).unwrap();
    assert!(
        !log.contains(MOCK_PROVIDER_KEY),
        "the provider key is in the wrangler log"
    );
}

// ---- the current parameters

#[tokio::test]
async fn every_current_openai_parameter_is_accepted_and_the_ones_that_cost_the_operator_never_leave() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let marker = unique("params");
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": marker}],
        "prompt_cache_key": "conv-1", "prompt_cache_retention": "24h", "safety_identifier": "user-hash", "user": "u-1",
        "service_tier": "priority", "store": true, "metadata": {"project": "x"}, "modalities": ["text", "audio"],
        "audio": {"voice": "alloy", "format": "mp3"}, "prediction": {"type": "content", "content": "Mock answer"},
        "web_search_options": {"search_context_size": "low"}, "verbosity": "high", "reasoning_effort": "low",
        "parallel_tool_calls": true, "logprobs": true, "top_logprobs": 2, "logit_bias": {"1734": -100}, "seed": 7,
        "stop": ["\n\n"], "frequency_penalty": 0.1, "presence_penalty": 0.1, "temperature": 0.5, "top_p": 0.9,
        "max_completion_tokens": 50, "response_format": {"type": "text"},
        "moderation": {"model": "omni-moderation-latest"}, "prompt_cache_options": {"mode": "implicit"}});
    let response = app.chat(&user.token, &body).await;
    response.expect_status(200);
    let sent = &app.upstream_requests(&marker).await[0]["body"];
    for forwarded in [
        "prompt_cache_key",
        "safety_identifier",
        "user",
        "prediction",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "seed",
        "stop",
        "frequency_penalty",
        "presence_penalty",
        "temperature",
        "top_p",
        "response_format",
    ] {
        assert_eq!(sent[forwarded], body[forwarded], "{forwarded}");
    }
    assert_eq!(sent["max_completion_tokens"], 50);
    // Never sent: stored completions would live in the operator's OpenAI account, other tiers
    // and audio or search calls cost what the catalog does not price; the rest is for other
    // models than gpt-4o-mini (reasoning, verbosity, 24h retention).
    let warnings = response.header("x-flint-warnings").unwrap().to_owned();
    for dropped in [
        "service_tier",
        "store",
        "metadata",
        "modalities",
        "audio",
        "web_search_options",
        "moderation",
        "prompt_cache_options",
        "prompt_cache_retention",
        "verbosity",
        "reasoning_effort",
    ] {
        assert!(sent.get(dropped).is_none(), "{dropped} reached OpenAI");
        assert!(
            warnings.contains(&format!("{dropped} not sent")),
            "{dropped}: {warnings}"
        );
    }
    // The parallel_tool_calls flag without tools is OpenAI's 400: not sent either.
    assert!(sent.get("parallel_tool_calls").is_none());
}

#[tokio::test]
async fn a_reasoning_model_gets_reasoning_effort_and_verbosity_but_no_sampling_parameters() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("gpt5");
    let body = json!({"model": "gpt-5.1", "messages": [{"role": "user", "content": marker}], "reasoning_effort": "high",
        "verbosity": "low", "temperature": 0.2, "top_p": 0.5, "logprobs": true, "prompt_cache_retention": "24h", "store": true});
    let response = app.chat(&user.token, &body).await;
    response.expect_status(200);
    let sent = &app.upstream_requests(&marker).await[0]["body"];
    assert_eq!(
        (sent["reasoning_effort"].as_str(), sent["verbosity"].as_str()),
        (Some("high"), Some("low"))
    );
    assert_eq!(sent["prompt_cache_retention"], "24h");
    for dropped in ["temperature", "top_p", "logprobs", "store"] {
        assert!(sent.get(dropped).is_none(), "{dropped} reached gpt-5.1");
    }
}

#[tokio::test]
async fn n_choices_share_the_output_ceiling_and_are_all_billed() {
    let app = TestApp::new();
    let prices = app.token_prices("gpt-4.1").await;
    for stream in [false, true] {
        let user = app.funded_user(5.0).await;
        let marker = unique("n");
        let body = json!({"model": "gpt-4.1", "n": 3, "max_tokens": 50,
            "messages": [{"role": "user", "content": format!("{marker} [[mock reasoning=4]]")}]});
        let response = app.chat_streamed_if(stream, &user.token, &body).await;
        let sent = app.upstream_requests(&marker).await[0]["body"].clone();
        // Each of the 3 choices gets the 50 tokens asked for; the hold covers all 150.
        assert_eq!(
            (sent["n"].as_u64(), sent["max_completion_tokens"].as_u64()),
            (Some(3), Some(50))
        );
        let want = expected_usage(Provider::OpenAi, &sent, &Defaults::default()).unwrap();
        let one = expected_answer(Provider::OpenAi, &sent, &Defaults::default()).unwrap();
        let usage = if stream {
            let events = sse_data(&response.text);
            let chunks: Vec<Value> = events[..events.len() - 1]
                .iter()
                .map(|e| serde_json::from_str(e).unwrap())
                .collect();
            for index in 0..3 {
                let text: String = chunks
                    .iter()
                    .flat_map(|c| c["choices"].as_array().unwrap().clone())
                    .filter(|c| c["index"] == index)
                    .filter_map(|c| c["delta"]["content"].as_str().map(str::to_owned))
                    .collect();
                assert_eq!(text, one.text(), "choice {index}");
            }
            chunks.last().unwrap()["usage"].clone()
        } else {
            let answer = response.json();
            assert_eq!(answer["choices"].as_array().unwrap().len(), 3);
            assert_eq!(answer["choices"][2]["message"]["content"], one.text());
            answer["usage"].clone()
        };
        // The upstream's usage counts every choice (the prompt once), and that is what is billed.
        let (prompt, _, completion, reasoning) = openai_usage_counts(&usage);
        assert_eq!(
            (prompt, completion, reasoning),
            (want.input, want.output, want.reasoning)
        );
        assert_eq!(
            (want.output % 3, want.reasoning),
            (0, 3 * 4),
            "three choices counted"
        );
        app.assert_charged(&user.token, 5.0, &want, &prices, &format!("stream={stream}"))
            .await;
    }
    // A vendor that takes no `n` answers one choice, and the header says so.
    let user = app.funded_user(5.0).await;
    let marker = unique("n-ds");
    let body = json!({"model": "deepseek-v4-pro", "n": 2, "messages": [{"role": "user", "content": marker}]});
    let response = app.chat(&user.token, &body).await;
    response.expect_status(200);
    assert_eq!(response.json()["choices"].as_array().unwrap().len(), 1);
    assert!(response
        .header("x-flint-warnings")
        .unwrap()
        .contains("n not sent"));
    assert!(app.upstream_requests(&marker).await[0]["body"].get("n").is_none());
}

#[tokio::test]
async fn legacy_function_calling_is_served_on_every_provider_in_its_own_shape() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let functions = json!([{"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    for model in ["gpt-4o-mini", "claude-sonnet-4.5", "gemini-2.5-pro"] {
        let marker = unique("fn");
        let body = json!({"model": model, "functions": functions, "function_call": {"name": "get_weather"},
            "messages": [{"role": "user", "content": marker}]});
        let answer = app.chat(&user.token, &body).await.expect_status(200).json();
        let choice = &answer["choices"][0];
        assert_eq!(choice["finish_reason"], "function_call", "{model}: {answer}");
        assert_eq!(
            choice["message"]["function_call"]["name"], "get_weather",
            "{model}"
        );
        assert!(choice["message"].get("tool_calls").is_none(), "{model}");
        let arguments: Value =
            serde_json::from_str(choice["message"]["function_call"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(arguments, json!({"city": "mock-city"}));
        // The result goes back as a `function` message.
        let follow_up = json!({"model": model, "functions": functions, "messages": [
            {"role": "user", "content": marker},
            {"role": "assistant", "content": null, "function_call": choice["message"]["function_call"]},
            {"role": "function", "name": "get_weather", "content": "rain"}]});
        let answer = app.chat(&user.token, &follow_up).await.expect_status(200).json();
        assert_eq!(
            answer["choices"][0]["message"]["content"], "Tool said: rain",
            "{model}"
        );
        // Streamed: function_call deltas.
        let mut streamed = body.clone();
        streamed["stream"] = json!(true);
        let events = sse_data(&app.chat(&user.token, &streamed).await.expect_status(200).text);
        let chunks: Vec<Value> = events
            .iter()
            .filter_map(|e| serde_json::from_str(e).ok())
            .collect();
        let args: String = chunks
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["function_call"]["arguments"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap(),
            json!({"city": "mock-city"}),
            "{model}"
        );
        assert!(
            chunks
                .iter()
                .any(|c| c["choices"][0]["finish_reason"] == "function_call"),
            "{model}"
        );
    }
}

#[tokio::test]
async fn stone_chat_shows_cached_tokens_and_bills_them() {
    let app = TestApp::new();
    let prices = app.token_prices("claude-sonnet-4.5").await;
    let user = app.funded_user(5.0).await;
    let marker = unique("stone-cache");
    let body = json!({"model_id": "claude-sonnet-4.5", "messages": [{"role": "user", "content": [
        {"type": "text", "text": format!("{marker} context [[mock cache_read=400 cache_write=60]]"), "cache_control": {"type": "ephemeral"}}]}]});
    let response = app.post_as(&user.token, "/api/chat", &body).await;
    response.expect_status(200);
    let sent = app.upstream_requests(&marker).await[0]["body"].clone();
    assert_eq!(
        sent["messages"][0]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    let want = expected_usage(Provider::Anthropic, &sent, &Defaults::default()).unwrap();
    let events = sse_data(&response.text);
    let n = events.len();
    let usage: Value = serde_json::from_str(&events[n - 3]).unwrap();
    let billing: Value = serde_json::from_str(&events[n - 2]).unwrap();
    assert_eq!(
        usage,
        json!({"usage": {"tokens_in": want.input, "tokens_out": want.output, "tokens_cached": 400}})
    );
    assert_eq!(billing["billing"]["tokens_cached"], 400);
    let charge = app.assert_charged(&user.token, 5.0, &want, &prices, "").await;
    assert_eq!(billing["billing"]["cost_usd"].as_f64(), Some(charge as f64 / 1e6));
}
