//! `/v1/responses` end to end: OpenAI models natively (the mock's Responses API), Claude and
//! Gemini translated; stored responses, `previous_response_id`, ownership, bad input, billing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{sse_data, unique, TestApp};
use serde_json::{json, Value};

async fn create(app: &TestApp, token: &str, body: &Value) -> common::TestResponse {
    app.post_as(token, "/v1/responses", body).await
}

fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().unwrap().iter())
        .filter_map(|part| part["text"].as_str())
        .collect()
}

/// Cost in whole micro-dollars of `input`/`output` tokens at per-1M prices in micro-dollars.
fn micros(input: u64, output: u64, price_in: u64, price_out: u64) -> f64 {
    ((input * price_in + output * price_out).div_ceil(1_000_000)) as f64 / 1e6
}

#[tokio::test]
async fn a_native_answer_is_stored_listed_retrieved_owned_and_deleted() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("native");
    let body = json!({"model": "gpt-4o", "input": format!("hello {marker}")});
    let answer = create(&app, &user.token, &body).await.expect_status(200).json();
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["model"], "gpt-4o");
    assert_eq!(answer["store"], true);
    assert_eq!(answer["status"], "completed");
    assert!(!output_text(&answer).is_empty());
    // The upstream got store:false and the upstream model id.
    let sent = app.upstream_requests(&marker).await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]["path"].as_str().unwrap().ends_with("/responses"),
        "{}",
        sent[0]
    );
    assert_eq!(sent[0]["body"]["store"], false);
    assert!(sent[0]["body"].get("previous_response_id").is_none());

    // Billed exactly: gpt-4o is $10 in / $40 out per 1M tokens.
    let usage = &answer["usage"];
    let (input, output) = (
        usage["input_tokens"].as_u64().unwrap(),
        usage["output_tokens"].as_u64().unwrap(),
    );
    let cost = micros(input, output, 10_000_000, 40_000_000);
    assert_eq!(usage["cost_usd"].as_f64(), Some(cost));
    app.wait_for_balance(&user.token, ((5.0 - cost) * 1e6).round() / 1e6)
        .await;

    let id = answer["id"].as_str().unwrap();
    let got = app
        .get_as(&user.token, &format!("/v1/responses/{id}"))
        .await
        .expect_status(200)
        .json();
    assert_eq!(got["id"], answer["id"]);
    assert_eq!(output_text(&got), output_text(&answer));
    let items = app
        .get_as(&user.token, &format!("/v1/responses/{id}/input_items"))
        .await
        .expect_status(200)
        .json();
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"][0]["content"][0]["text"], format!("hello {marker}"));

    let other = app.new_user().await;
    let hidden = app.get_as(&other.token, &format!("/v1/responses/{id}")).await;
    hidden.expect_status(404);
    app.delete_as(&other.token, &format!("/v1/responses/{id}"))
        .await
        .expect_status(404);

    let deleted = app
        .delete_as(&user.token, &format!("/v1/responses/{id}"))
        .await
        .expect_status(200)
        .json();
    assert_eq!(deleted["deleted"], true);
    app.get_as(&user.token, &format!("/v1/responses/{id}"))
        .await
        .expect_status(404);
}

#[tokio::test]
async fn a_translated_claude_stream_has_the_real_event_sequence_and_is_billed() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("claude");
    let body = json!({"model": "claude-sonnet-4.5", "input": format!("hi {marker}"), "stream": true});
    let response = create(&app, &user.token, &body).await;
    response.expect_status(200);
    let events: Vec<Value> = sse_data(&response.text)
        .iter()
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["type"], "response.created");
    assert_eq!(events.last().unwrap()["type"], "response.completed");
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["sequence_number"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    let done = &events.last().unwrap()["response"];
    assert_eq!(output_text(done), text);
    assert!(!text.is_empty());
    let usage = &done["usage"];
    let cost = micros(
        usage["input_tokens"].as_u64().unwrap(),
        usage["output_tokens"].as_u64().unwrap(),
        12_000_000,
        60_000_000,
    );
    assert_eq!(usage["cost_usd"].as_f64(), Some(cost));
    // The upstream was Anthropic's Messages API.
    let sent = app.upstream_requests(&marker).await;
    assert!(
        sent[0]["path"].as_str().unwrap().ends_with("/messages"),
        "{}",
        sent[0]
    );
    app.wait_for_balance(&user.token, ((5.0 - cost) * 1e6).round() / 1e6)
        .await;
}

async fn two_turns(model: &str) {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("turns");
    let first = create(
        &app,
        &user.token,
        &json!({"model": model, "input": format!("first {marker}")}),
    )
    .await
    .expect_status(200)
    .json();
    let id = first["id"].as_str().unwrap();
    // Storing happens after billing, in the background.
    for _ in 0..50 {
        if app
            .get_as(&user.token, &format!("/v1/responses/{id}"))
            .await
            .status
            == 200
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let second = create(
        &app,
        &user.token,
        &json!({"model": model, "input": format!("second [[mock echo]] {marker}"), "previous_response_id": id}),
    )
    .await
    .expect_status(200)
    .json();
    assert_eq!(second["previous_response_id"], first["id"]);
    // user, assistant, user: the history reached the upstream.
    let text = output_text(&second);
    assert!(text.starts_with("Heard 3 turns"), "{model}: {text}");

    // Someone else's id: refused before any upstream call, nothing charged.
    let other = app.funded_user(1.0).await;
    let other_marker = unique("stolen");
    let refused = create(
        &app,
        &other.token,
        &json!({"model": model, "input": other_marker.clone(), "previous_response_id": id}),
    )
    .await;
    refused.expect_status(400);
    assert_eq!(refused.json()["error"]["param"], "previous_response_id");
    assert!(app.upstream_requests(&other_marker).await.is_empty());
    assert_eq!(app.balance(&other.token).await, 1.0);
}

#[tokio::test]
async fn previous_response_id_continues_a_native_conversation() {
    two_turns("gpt-4o").await;
}

#[tokio::test]
async fn previous_response_id_continues_a_translated_conversation() {
    two_turns("gemini-2.5-flash").await;
}

#[tokio::test]
async fn store_false_keeps_nothing() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    for model in ["gpt-4o", "claude-sonnet-4.5"] {
        let answer = create(
            &app,
            &user.token,
            &json!({"model": model, "input": "hi", "store": false}),
        )
        .await
        .expect_status(200)
        .json();
        assert_eq!(answer["store"], false);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let id = answer["id"].as_str().unwrap();
        app.get_as(&user.token, &format!("/v1/responses/{id}"))
            .await
            .expect_status(404);
    }
}

#[tokio::test]
async fn native_usage_details_are_shown_and_cache_reads_billed_at_the_cache_price() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let answer = create(
        &app,
        &user.token,
        &json!({"model": "gpt-4o", "input": "think [[mock cache_read=40 reasoning=7]]", "reasoning": {"effort": "low"}}),
    )
    .await
    .expect_status(200)
    .json();
    let usage = &answer["usage"];
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 40);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 7);
    // gpt-4o: $10 in, $40 out, cached input $5 (OpenAI's 0.5× for gpt-4o), per 1M tokens.
    let input = usage["input_tokens"].as_u64().unwrap();
    let output = usage["output_tokens"].as_u64().unwrap();
    let micro_units = (input - 40) * 10_000_000 + 40 * 5_000_000 + output * 40_000_000;
    let cost = micro_units.div_ceil(1_000_000) as f64 / 1e6;
    assert_eq!(usage["cost_usd"].as_f64(), Some(cost));
}

#[tokio::test]
async fn bad_input_is_a_clean_400_and_nothing_is_charged() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    for (input, param_prefix) in [
        (
            json!([{"type": "message", "role": "user", "content": 5}]),
            "input",
        ),
        (json!([{"type": "function_call_output", "output": "x"}]), "input"),
        (json!([{"type": "no_such_item"}]), "input"),
    ] {
        let marker = unique("bad");
        let response = create(
            &app,
            &user.token,
            &json!({"model": "claude-sonnet-4.5", "input": input, "metadata": {"m": marker.clone()}}),
        )
        .await;
        response.expect_status(400);
        let error = &response.json()["error"];
        assert!(
            error["param"]
                .as_str()
                .unwrap_or_default()
                .starts_with(param_prefix),
            "{input}: {error}"
        );
        assert!(app.upstream_requests(&marker).await.is_empty());
    }
    let unknown = create(
        &app,
        &user.token,
        &json!({"model": "gpt-4o", "input": "x", "previous_response_id": "resp_nope"}),
    )
    .await;
    unknown.expect_status(400);
    assert_eq!(unknown.json()["error"]["code"], "previous_response_not_found");
    assert_eq!(app.balance(&user.token).await, 1.0);
}

#[tokio::test]
async fn encrypted_reasoning_goes_back_to_openai_unchanged() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let marker = unique("reason");
    let first = create(
        &app,
        &user.token,
        &json!({"model": "gpt-4o", "input": format!("think {marker}"), "store": false,
                "reasoning": {"effort": "low", "summary": "auto"},
                "include": ["reasoning.encrypted_content"]}),
    )
    .await
    .expect_status(200)
    .json();
    let reasoning = first["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "reasoning")
        .cloned()
        .unwrap_or_else(|| panic!("no reasoning item: {first}"));
    let encrypted = reasoning["encrypted_content"].as_str().unwrap().to_owned();
    assert!(!encrypted.is_empty());
    let again = unique("again");
    let mut input = vec![json!({"role": "user", "content": format!("think {marker}")})];
    input.extend(first["output"].as_array().unwrap().iter().cloned());
    input.push(json!({"role": "user", "content": again.clone()}));
    create(
        &app,
        &user.token,
        &json!({"model": "gpt-4o", "input": input, "store": false,
                "include": ["reasoning.encrypted_content"]}),
    )
    .await
    .expect_status(200);
    let sent = app.upstream_requests(&again).await;
    assert_eq!(sent.len(), 1);
    let items = sent[0]["body"]["input"].as_array().unwrap();
    let passed = items.iter().find(|item| item["type"] == "reasoning").unwrap();
    assert_eq!(passed["encrypted_content"], encrypted.as_str());
}

#[tokio::test]
async fn the_sweeper_removes_expired_responses() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let answer = create(
        &app,
        &user.token,
        &json!({"model": "claude-sonnet-4.5", "input": "keep me"}),
    )
    .await
    .expect_status(200)
    .json();
    let id = answer["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/responses/{id}");
    for _ in 0..50 {
        if app.get_as(&user.token, &path).await.status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.get_as(&user.token, &path).await.expect_status(200);
    // Thirty days later, as far as the row knows.
    common::d1_execute(&format!("UPDATE responses SET expires_at = 1 WHERE id = '{id}'"));
    app.run_sweeper().await;
    let mut rows = Value::Null;
    for _ in 0..50 {
        rows = common::d1_execute(&format!("SELECT id FROM responses WHERE id = '{id}'"));
        if !rows.to_string().contains(&id) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !rows.to_string().contains(&id),
        "the expired row is still there: {rows}"
    );
    app.get_as(&user.token, &path).await.expect_status(404);
}
