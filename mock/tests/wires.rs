//! End-to-end checks of the usage shapes (cache, reasoning) per provider, Anthropic's native
//! extras, the Responses API and embeddings, against a live server. Expectations come from
//! the library (`flint_mock::…`), as the gateway's tests compute them.

mod common;

use base64::Engine as _;
use common::{parse_sse, read_all, uid, Mock, Sse, KEY};
use flint_mock::{anthropic, gemini, openai, responses, Defaults, Dialect, Provider};
use serde_json::{json, Value};

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

impl Mock {
    async fn bearer(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }
}

fn events_named<'a>(events: &'a [Sse], name: &str) -> Vec<&'a Sse> {
    events
        .iter()
        .filter(|e| e.event.as_deref() == Some(name))
        .collect()
}

// ------------------------------------------------------------------- usage, OpenAI-compatible

#[tokio::test]
async fn openai_reports_cache_and_reasoning_inside_its_counts() {
    let mock = Mock::start().await;
    let req = json!({"model": "gpt-5", "messages": user("hi [[mock cache_read=800 cache_write=200 reasoning=50]]")});
    let want = flint_mock::expected_answer(Provider::OpenAi, &req, &Defaults::default()).unwrap();
    let body: Value = mock.openai(&req).await.json().await.unwrap();
    let usage = &body["usage"];
    assert_eq!(usage, &openai::usage_json(&want, Dialect::OpenAi));
    assert_eq!(usage["prompt_tokens"], 5 + 800 + 200);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 800);
    assert_eq!(usage["completion_tokens"], 8 + 50);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 50);
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock answer ё→ 3 4 5 6 7"
    );

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (text, _) = read_all(mock.openai(&streamed).await).await;
    let events = parse_sse(&text);
    let last = events[events.len() - 2].json();
    assert_eq!(&last["usage"], usage, "the stream's usage chunk says the same");
}

#[tokio::test]
async fn deepseek_adds_hit_and_miss_counts_and_streams_reasoning_content() {
    let mock = Mock::start().await;
    let req = json!({"model": "deepseek-reasoner", "messages": user("q [[mock cache_read=64 reasoning=9]]")});
    let want = flint_mock::expected_answer(Provider::OpenAi, &req, &Defaults::default()).unwrap();
    let body: Value = mock
        .bearer("/deepseek/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    let usage = &body["usage"];
    assert_eq!(usage, &openai::usage_json(&want, Dialect::DeepSeek));
    assert_eq!(usage["prompt_cache_hit_tokens"], 64);
    assert_eq!(usage["prompt_cache_miss_tokens"], 4);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 64);
    assert_eq!(usage["completion_tokens"], 17);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 9);
    let message = &body["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], flint_mock::REASONING_TEXT);

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let (text, _) = read_all(mock.bearer("/deepseek/v1/chat/completions", &streamed).await).await;
    let events = parse_sse(&text);
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Sse::json).collect();
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, flint_mock::REASONING_TEXT);
    let first_content = chunks
        .iter()
        .position(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .unwrap();
    let last_reasoning = chunks
        .iter()
        .rposition(|c| {
            c["choices"][0]["delta"]["reasoning_content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .unwrap();
    assert!(
        last_reasoning < first_content,
        "reasoning streams before the answer"
    );
}

#[tokio::test]
async fn xai_reports_reasoning_outside_completion_tokens() {
    let mock = Mock::start().await;
    let req = json!({"model": "grok-4", "messages": user("q [[mock reasoning=124 cache_read=10]]"), "stream": true,
        "stream_options": {"include_usage": true}});
    let want = flint_mock::expected_answer(Provider::OpenAi, &req, &Defaults::default()).unwrap();
    let (text, _) = read_all(mock.bearer("/xai/v1/chat/completions", &req).await).await;
    let events = parse_sse(&text);
    let usage = events[events.len() - 2].json()["usage"].clone();
    assert_eq!(usage, openai::usage_json(&want, Dialect::Xai));
    assert_eq!(usage["completion_tokens"], 8);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 124);
    assert_eq!(usage["total_tokens"], 14 + 8 + 124);
    assert!(!text.contains("reasoning_content"));
}

// --------------------------------------------------------------------------- usage, Anthropic

#[tokio::test]
async fn anthropic_input_tokens_exclude_the_cache_and_the_ttl_follows_cache_control() {
    let mock = Mock::start().await;
    let req = json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
        "system": [{"type": "text", "text": "long system", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": user("hi [[mock cache_read=800 cache_write=200 cache_write_5m=30]]")});
    let want = flint_mock::expected_answer(Provider::Anthropic, &req, &Defaults::default()).unwrap();
    let body: Value = mock.anthropic(&req).await.json().await.unwrap();
    let usage = &body["usage"];
    assert_eq!(usage, &anthropic::usage_json(&want));
    assert_eq!(usage["input_tokens"], 2 + 5);
    assert_eq!(usage["cache_read_input_tokens"], 800);
    assert_eq!(usage["cache_creation_input_tokens"], 230);
    assert_eq!(
        usage["cache_creation"],
        json!({"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 200})
    );
    assert_eq!(usage["output_tokens"], 8);

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let (text, _) = read_all(mock.anthropic(&streamed).await).await;
    let events = parse_sse(&text);
    let start = events_named(&events, "message_start")[0].json();
    assert_eq!(start["message"]["usage"], anthropic::start_usage_json(&want));
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 800);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    let delta = events_named(&events, "message_delta")[0].json();
    assert_eq!(delta["usage"], anthropic::delta_usage_json(&want));
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 7, "cache_creation_input_tokens": 230, "cache_read_input_tokens": 800,
            "output_tokens": 8})
    );
}

// ------------------------------------------------------------------------------ usage, Gemini

#[tokio::test]
async fn gemini_counts_cache_inside_the_prompt_and_thoughts_outside_the_candidates() {
    let mock = Mock::start().await;
    let req = json!({"contents": [{"role": "user", "parts": [{"text": "hi [[mock cache_read=40 reasoning=300]]"}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": true}}});
    let want = flint_mock::expected_answer(Provider::Gemini, &req, &Defaults::default()).unwrap();
    let body: Value = mock
        .gemini("gemini-2.5-flash", "generateContent", &req)
        .await
        .json()
        .await
        .unwrap();
    let usage = &body["usageMetadata"];
    assert_eq!(usage, &gemini::usage_json(&want));
    assert_eq!(usage["promptTokenCount"], 4 + 40);
    assert_eq!(usage["cachedContentTokenCount"], 40);
    assert_eq!(usage["candidatesTokenCount"], 8);
    assert_eq!(usage["thoughtsTokenCount"], 300);
    assert_eq!(usage["totalTokenCount"], 44 + 8 + 300);
    let parts = body["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(
        parts[0],
        json!({"text": flint_mock::REASONING_TEXT, "thought": true})
    );
    assert_eq!(parts[1]["text"], "Mock answer ё→ 3 4 5 6 7");

    let (text, _) = read_all(mock.gemini("g", "streamGenerateContent?alt=sse", &req).await).await;
    let events = parse_sse(&text);
    let last = events.last().unwrap().json();
    assert_eq!(last["usageMetadata"], *usage);
    assert_eq!(
        events[0].json()["candidates"][0]["content"]["parts"][0]["thought"],
        true
    );

    let off = json!({"contents": [{"parts": [{"text": "[[mock reasoning=300]]"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}});
    let body: Value = mock
        .gemini("g", "generateContent", &off)
        .await
        .json()
        .await
        .unwrap();
    assert!(body["usageMetadata"].get("thoughtsTokenCount").is_none());
    assert!(body["usageMetadata"].get("cachedContentTokenCount").is_none());
}

// ------------------------------------------------------------------- Anthropic native extras

fn thinking_request(text: &str) -> Value {
    json!({"model": "claude-opus-4-5", "max_tokens": 32000,
        "thinking": {"type": "enabled", "budget_tokens": 31999}, "messages": user(text)})
}

#[tokio::test]
async fn anthropic_thinking_comes_first_and_its_block_round_trips() {
    let mock = Mock::start().await;
    let req = thinking_request("think [[mock reasoning=40]]");
    let want = flint_mock::expected_answer(Provider::Anthropic, &req, &Defaults::default()).unwrap();
    let body: Value = mock.anthropic(&req).await.json().await.unwrap();
    let content = body["content"].as_array().unwrap();
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], flint_mock::REASONING_TEXT);
    assert_eq!(
        content[0]["signature"],
        anthropic::thinking_signature(flint_mock::REASONING_TEXT)
    );
    assert_eq!(content[1]["type"], "text");
    assert_eq!(body["usage"]["output_tokens"], 8 + 40);
    assert_eq!(body["usage"], anthropic::usage_json(&want));

    // The block sent back unchanged is accepted; edited, it is refused like Anthropic does.
    let next = |block: Value| {
        json!({"model": "claude-opus-4-5", "max_tokens": 32000,
            "thinking": {"type": "enabled", "budget_tokens": 31999}, "messages": [
            {"role": "user", "content": "think"},
            {"role": "assistant", "content": [block, content[1].clone()]},
            {"role": "user", "content": "and now?"}]})
    };
    assert_eq!(mock.anthropic(&next(content[0].clone())).await.status(), 200);
    let mut edited = content[0].clone();
    edited["thinking"] = json!("something else");
    let resp = mock.anthropic(&next(edited)).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(
        err["error"]["message"],
        "messages.1.content.0: Invalid `signature` in `thinking` block"
    );
}

#[tokio::test]
async fn anthropic_streams_thinking_then_tool_use_with_input_json_deltas() {
    let mock = Mock::start().await;
    let mut req = thinking_request("weather? [[mock ping_every=2]]");
    req["thinking"] = json!({"type": "adaptive"});
    req["stream"] = json!(true);
    req["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object",
        "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let (text, failed) = read_all(mock.anthropic(&req).await).await;
    assert!(!failed);
    let events = parse_sse(&text);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    let thinking_deltas = flint_mock::reasoning_chunks().len();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", thinking_deltas + 1));
    expected.extend(["content_block_stop", "content_block_start"]);
    // {"city":…} comes in three fragments; a ping after every second one.
    expected.extend([
        "content_block_delta",
        "content_block_delta",
        "ping",
        "content_block_delta",
    ]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    let thinking: String = events[3..3 + thinking_deltas]
        .iter()
        .map(|e| {
            let d = e.json();
            assert_eq!(
                (d["index"].as_u64(), d["delta"]["type"].as_str()),
                (Some(0), Some("thinking_delta"))
            );
            d["delta"]["thinking"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(thinking, flint_mock::REASONING_TEXT);
    let signature = events[3 + thinking_deltas].json();
    assert_eq!(signature["delta"]["type"], "signature_delta");
    assert_eq!(
        signature["delta"]["signature"],
        anthropic::thinking_signature(&thinking)
    );
    let tool_start = events_named(&events, "content_block_start")[1].json();
    assert_eq!(tool_start["index"], 1);
    assert_eq!(tool_start["content_block"]["type"], "tool_use");
    let args: String = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("content_block_delta"))
        .map(Sse::json)
        .filter(|d| d["delta"]["type"] == "input_json_delta")
        .map(|d| {
            assert_eq!(d["index"], 1);
            d["delta"]["partial_json"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "mock-city"})
    );
    let delta = events_named(&events, "message_delta")[0].json();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        delta["usage"]["output_tokens"],
        3 + flint_mock::DEFAULT_REASONING_TOKENS
    );
}

#[tokio::test]
async fn anthropic_refuses_bad_thinking_and_fails_in_its_own_envelope() {
    let mock = Mock::start().await;
    let mut low = thinking_request("x");
    low["thinking"]["budget_tokens"] = json!(512);
    let resp = mock.anthropic(&low).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(
        err["error"]["message"],
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    );
    let mut over = thinking_request("x");
    over["max_tokens"] = json!(31999);
    assert_eq!(mock.anthropic(&over).await.status(), 400);

    let resp = mock.anthropic(&thinking_request("[[mock status=529]]")).await;
    assert_eq!(resp.status(), 529);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "overloaded_error");
    assert!(err["request_id"].as_str().unwrap().starts_with("req_"));

    let mut req = thinking_request("[[mock error_after=2]]");
    req["stream"] = json!(true);
    let (text, _) = read_all(mock.anthropic(&req).await).await;
    let events = parse_sse(&text);
    let last = events.last().unwrap();
    assert_eq!(last.event.as_deref(), Some("error"));
    assert_eq!(
        last.json(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    let text_deltas = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("content_block_delta"))
        .filter(|e| e.json()["delta"]["type"] == "text_delta")
        .count();
    assert_eq!(text_deltas, 2, "error_after counts the answer, not the thinking");
}

#[tokio::test]
async fn anthropic_count_tokens_uses_the_library_rule() {
    let mock = Mock::start().await;
    let req = json!({"model": "claude-sonnet-4-5", "system": "two words",
        "thinking": {"type": "enabled", "budget_tokens": 2048}, "messages": user("three more words")});
    let resp = mock
        .client
        .post(mock.url("/anthropic/v1/messages/count_tokens"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&req)
        .send()
        .await
        .unwrap();
    let n = flint_mock::count_tokens(Provider::Anthropic, &req).unwrap();
    assert_eq!(n, 5);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"input_tokens": n}));
}

#[tokio::test]
async fn the_record_keeps_headers_and_the_exact_body() {
    let mock = Mock::start().await;
    let id = uid("raw");
    // Key order, spacing and fields no API knows must all survive.
    let raw = format!(
        r#"{{"model":"claude-opus-4-5","max_tokens":100,"zzz_unknown":{{"b":1,"a":[1.50,2]}},"metadata":{{"user_id":"u-1"}},"context_management":{{"edits":[{{"type":"clear_tool_uses_20250919"}}]}},"system":[{{"type":"text","text":"s","cache_control":{{"type":"ephemeral","ttl":"1h"}}}}],"messages":[{{"role":"user","content":"hi {id}"}}]}}"#
    );
    let resp = mock
        .client
        .post(mock.url("/anthropic/v1/messages?beta=true"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "context-management-2025-06-27,interleaved-thinking-2025-05-14",
        )
        .header("content-type", "application/json")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let found = mock.requests(&id).await;
    assert_eq!(found.len(), 1);
    let r = &found[0];
    assert_eq!(r["raw_body"], raw);
    assert_eq!(r["query"], "beta=true");
    assert_eq!(r["headers"]["anthropic-version"], "2023-06-01");
    assert_eq!(
        r["headers"]["anthropic-beta"],
        "context-management-2025-06-27,interleaved-thinking-2025-05-14"
    );
    assert_eq!(r["headers"]["x-api-key"], KEY);
    assert_eq!(r["body"]["zzz_unknown"], json!({"a": [1.5, 2], "b": 1}));
    assert_eq!(r["body"]["system"][0]["cache_control"]["ttl"], "1h");
}

// ------------------------------------------------------------------------------ Responses API

#[tokio::test]
async fn responses_answers_a_response_object_and_records_store() {
    let mock = Mock::start().await;
    let id = uid("resp");
    let req = json!({"model": "gpt-5", "instructions": "be brief", "store": false,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": format!("hello {id} [[mock cache_read=100]]")}]}]});
    let want = flint_mock::expected_response(&req, &Defaults::default()).unwrap();
    let resp = mock.bearer("/openai/v1/responses", &req).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "gpt-5");
    assert_eq!(body["store"], false);
    assert_eq!(body["instructions"], "be brief");
    assert!(body["created_at"].as_u64().unwrap() > 1_600_000_000);
    let output = body["output"].as_array().unwrap();
    assert_eq!(output.len(), 1, "no reasoning item without reasoning");
    assert_eq!(output[0]["type"], "message");
    assert_eq!(output[0]["role"], "assistant");
    assert!(output[0]["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(output[0]["content"][0]["type"], "output_text");
    assert_eq!(output[0]["content"][0]["text"], want.text());
    assert_eq!(body["usage"], responses::usage_json(&want));
    assert_eq!(body["usage"]["input_tokens"], 2 + 4 + 100);
    assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 100);
    assert_eq!(body["usage"]["output_tokens_details"]["reasoning_tokens"], 0);
    let sent = mock.requests(&id).await;
    assert_eq!(sent[0]["body"]["store"], false);
    assert_eq!(sent[0]["path"], "/openai/v1/responses");
}

#[tokio::test]
async fn responses_streams_numbered_events_ending_in_completed() {
    let mock = Mock::start().await;
    let req = json!({"model": "gpt-5", "input": "one two [[mock chunks=3]]", "stream": true});
    let want = flint_mock::expected_response(&req, &Defaults::default()).unwrap();
    let resp = mock.bearer("/v1/responses", &req).await;
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (text, failed) = read_all(resp).await;
    assert!(!failed);
    assert!(!text.contains("[DONE]"));
    let events = parse_sse(&text);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(std::iter::repeat_n("response.output_text.delta", 3));
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(names, expected);
    for (n, e) in events.iter().enumerate() {
        let d = e.json();
        assert_eq!(d["type"], e.event.as_deref().unwrap());
        assert_eq!(d["sequence_number"], n as u64);
    }
    let created = events[0].json();
    assert_eq!(created["response"]["status"], "in_progress");
    assert_eq!(created["response"]["usage"], Value::Null);
    let deltas: String = events_named(&events, "response.output_text.delta")
        .iter()
        .map(|e| e.json()["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deltas, want.text());
    assert_eq!(events[7].json()["text"], want.text());
    let done = events.last().unwrap().json();
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(done["response"]["usage"], responses::usage_json(&want));
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], want.text());
    let item_id = events[2].json()["item"]["id"].clone();
    assert_eq!(events[4].json()["item_id"], item_id);
    assert_eq!(done["response"]["id"], created["response"]["id"]);
}

#[tokio::test]
async fn responses_reasoning_carries_summary_and_encrypted_content_that_round_trips() {
    let mock = Mock::start().await;
    let req = json!({"model": "gpt-5", "input": "solve [[mock reasoning=64]]", "stream": true,
        "reasoning": {"effort": "medium", "summary": "auto"}, "include": ["reasoning.encrypted_content"]});
    let want = flint_mock::expected_response(&req, &Defaults::default()).unwrap();
    let (text, _) = read_all(mock.bearer("/v1/responses", &req).await).await;
    let events = parse_sse(&text);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(names[2], "response.output_item.added");
    assert_eq!(names[3], "response.reasoning_summary_part.added");
    let summary: String = events_named(&events, "response.reasoning_summary_text.delta")
        .iter()
        .map(|e| e.json()["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(summary, flint_mock::REASONING_TEXT);
    let done = events.last().unwrap().json();
    let output = done["response"]["output"].as_array().unwrap();
    let reasoning = &output[0];
    assert_eq!(reasoning["type"], "reasoning");
    assert!(reasoning["id"].as_str().unwrap().starts_with("rs_"));
    assert_eq!(
        reasoning["summary"],
        json!([{"type": "summary_text", "text": flint_mock::REASONING_TEXT}])
    );
    assert_eq!(
        reasoning["encrypted_content"],
        responses::encrypted_reasoning(&want)
    );
    assert_eq!(output[1]["type"], "message");
    assert_eq!(done["response"]["usage"]["output_tokens"], 8 + 64);
    assert_eq!(
        done["response"]["usage"]["output_tokens_details"]["reasoning_tokens"],
        64
    );

    // History with the reasoning item (encrypted content intact) is accepted…
    let history = |item: Value| {
        json!({"model": "gpt-5", "store": false, "input": [
            {"role": "user", "content": "solve"}, item, output[1].clone(),
            {"role": "user", "content": "again [[mock echo]]"}]})
    };
    let ok = mock.bearer("/v1/responses", &history(reasoning.clone())).await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        body["output"][0]["content"][0]["text"],
        "Heard 4 turns: again [[mock echo]]"
    );
    // …and one whose encrypted content was altered is not.
    let mut forged = reasoning.clone();
    forged["encrypted_content"] = json!("Zm9yZ2Vk");
    let bad = mock.bearer("/v1/responses", &history(forged)).await;
    assert_eq!(bad.status(), 400);
    let err: Value = bad.json().await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_encrypted_content");
    assert_eq!(err["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn responses_calls_functions_and_reads_their_output() {
    let mock = Mock::start().await;
    let tools = json!([{"type": "function", "name": "get_weather", "strict": true,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let req = json!({"model": "gpt-5", "input": "weather?", "tools": tools, "stream": true});
    let (text, _) = read_all(mock.bearer("/v1/responses", &req).await).await;
    let events = parse_sse(&text);
    let added = events_named(&events, "response.output_item.added")[0].json();
    assert_eq!(added["item"]["type"], "function_call");
    assert_eq!(added["item"]["arguments"], "");
    assert!(added["item"]["call_id"].as_str().unwrap().starts_with("call_"));
    let deltas: String = events_named(&events, "response.function_call_arguments.delta")
        .iter()
        .map(|e| e.json()["delta"].as_str().unwrap().to_string())
        .collect();
    let done = events_named(&events, "response.function_call_arguments.done")[0].json();
    assert_eq!(done["arguments"], deltas);
    assert_eq!(
        serde_json::from_str::<Value>(&deltas).unwrap(),
        json!({"city": "mock-city"})
    );
    let call = events.last().unwrap().json()["response"]["output"][0].clone();
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["status"], "completed");

    let follow_up = json!({"model": "gpt-5", "tools": tools, "input": [
        {"role": "user", "content": "weather?"}, call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "rainy and cold"}]});
    let want = flint_mock::expected_response(&follow_up, &Defaults::default()).unwrap();
    let body: Value = mock
        .bearer("/v1/responses", &follow_up)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["output"][0]["content"][0]["text"],
        "Tool said: rainy and cold"
    );
    assert_eq!(body["usage"], responses::usage_json(&want));

    let orphan = json!({"model": "gpt-5", "input": [
        {"type": "function_call_output", "call_id": "call_nope", "output": "x"}]});
    let resp = mock.bearer("/v1/responses", &orphan).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(
        err["error"]["message"],
        "No tool call found for function call output with call_id call_nope."
    );
    assert_eq!(err["error"]["param"], "input");
}

#[tokio::test]
async fn responses_fail_mid_stream_as_response_failed_or_an_error_event() {
    let mock = Mock::start().await;
    for (knob, last_name) in [("", "response.failed"), (" error_event", "error")] {
        let req =
            json!({"model": "gpt-5", "input": format!("x [[mock error_after=2{knob}]]"), "stream": true});
        let (text, failed) = read_all(mock.bearer("/v1/responses", &req).await).await;
        assert!(!failed);
        let events = parse_sse(&text);
        assert_eq!(events_named(&events, "response.output_text.delta").len(), 2);
        let last = events.last().unwrap();
        assert_eq!(last.event.as_deref(), Some(last_name));
        let d = last.json();
        assert_eq!(d["sequence_number"], events.len() as u64 - 1, "numbering goes on");
        if last_name == "error" {
            assert_eq!(d["code"], "server_error");
        } else {
            assert_eq!(d["response"]["status"], "failed");
            assert_eq!(d["response"]["error"]["code"], "server_error");
        }
        assert!(!text.contains("response.completed"));
    }
}

#[tokio::test]
async fn responses_refuses_unknown_items_and_stops_at_max_output_tokens() {
    let mock = Mock::start().await;
    let resp = mock
        .bearer(
            "/v1/responses",
            &json!({"model": "gpt-5", "input": [{"type": "hologram"}]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(err["error"]["param"], "input[0]");
    assert_eq!(err["error"]["code"], "invalid_value");
    let prev = mock
        .bearer(
            "/v1/responses",
            &json!({"model": "gpt-5", "input": "x", "previous_response_id": "resp_1"}),
        )
        .await;
    assert_eq!(prev.status(), 400);

    let req = json!({"model": "gpt-5", "input": "x [[mock chunks=20]]", "max_output_tokens": 16});
    let body: Value = mock.bearer("/v1/responses", &req).await.json().await.unwrap();
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"], json!({"reason": "max_output_tokens"}));
    assert_eq!(body["usage"]["output_tokens"], 16);
    let unauthorized = mock
        .client
        .post(mock.url("/v1/responses"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
}

// --------------------------------------------------------------------------------- embeddings

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test]
async fn openai_embeddings_are_the_librarys_vectors_as_floats_or_base64() {
    let mock = Mock::start().await;
    let req =
        json!({"model": "text-embedding-3-small", "input": ["the first text", "second"], "dimensions": 64});
    let want = flint_mock::expected_embeddings(&req).unwrap();
    let resp = mock.bearer("/openai/v1/embeddings", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "text-embedding-3-small");
    assert_eq!(body["usage"], json!({"prompt_tokens": 4, "total_tokens": 4}));
    assert_eq!(want.prompt_tokens, 4);
    for (i, item) in body["data"].as_array().unwrap().iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(floats(&item["embedding"]), want.vectors[i]);
        assert_eq!(want.vectors[i].len(), 64);
    }

    let mut b64 = req.clone();
    b64["encoding_format"] = json!("base64");
    let body: Value = mock.bearer("/v1/embeddings", &b64).await.json().await.unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][1]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(decoded, want.vectors[1]);

    let tokens = json!({"model": "text-embedding-3-large", "input": [[1, 2, 3], [4]]});
    let body: Value = mock.bearer("/v1/embeddings", &tokens).await.json().await.unwrap();
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 3072);
    assert_eq!(
        floats(&body["data"][0]["embedding"]),
        flint_mock::expected_embeddings(&tokens).unwrap().vectors[0]
    );
}

#[tokio::test]
async fn openai_embeddings_refuse_bad_input_like_openai() {
    let mock = Mock::start().await;
    for (body, param) in [
        (
            json!({"model": "text-embedding-3-small", "input": ""}),
            Value::Null,
        ),
        (
            json!({"model": "text-embedding-3-small", "input": []}),
            Value::Null,
        ),
        (json!({"model": "text-embedding-3-small"}), json!("input")),
        (
            json!({"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"}),
            json!("encoding_format"),
        ),
        (
            json!({"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}),
            json!("dimensions"),
        ),
    ] {
        let resp = mock.bearer("/v1/embeddings", &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["type"], "invalid_request_error");
        assert_eq!(err["error"]["param"], param, "{body}");
    }
    let resp = mock
        .bearer(
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": "x [[mock status=429]]"}),
        )
        .await;
    assert_eq!(resp.status(), 429);
}

#[tokio::test]
async fn gemini_embeddings_answer_without_usage() {
    let mock = Mock::start().await;
    let one = json!({"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16});
    let body: Value = mock
        .gemini("gemini-embedding-001", "embedContent", &one)
        .await
        .json()
        .await
        .unwrap();
    let want = flint_mock::expected_gemini_embeddings("gemini-embedding-001", false, &one).unwrap();
    assert_eq!(floats(&body["embedding"]["values"]), want[0]);
    assert_eq!(want[0].len(), 16);
    assert_eq!(body.as_object().unwrap().len(), 1, "no usage: {body}");

    let batch = json!({"requests": [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 8}]});
    let resp = mock
        .gemini("gemini-embedding-001", "batchEmbedContents", &batch)
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let want = flint_mock::expected_gemini_embeddings("gemini-embedding-001", true, &batch).unwrap();
    let got: Vec<Vec<f32>> = body["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| floats(&e["values"]))
        .collect();
    assert_eq!(got, want);
    assert_eq!((got[0].len(), got[1].len()), (3072, 8));

    let wrong = json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]});
    let resp = mock
        .gemini("gemini-embedding-001", "batchEmbedContents", &wrong)
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );
}

#[tokio::test]
async fn a_gemini_json_array_stream_stays_valid_json_when_it_fails_after_a_thought() {
    let mock = Mock::start().await;
    let req = json!({"contents": [{"parts": [{"text": "[[mock reasoning=5 error_after=0]]"}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": true}}});
    let (text, _) = read_all(mock.gemini("g", "streamGenerateContent", &req).await).await;
    let items: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["candidates"][0]["content"]["parts"][0]["thought"], true);
    assert_eq!(items[1]["error"]["code"], 500);
}
