//! End-to-end checks of the three chat wire formats and the knobs, against a live server.

mod common;

use std::time::{Duration, Instant};

use common::{parse_sse, read_all, read_timed, uid, Mock, KEY};
use serde_json::{json, Value};

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"]}}})
}

// ------------------------------------------------------------------------------ OpenAI

#[tokio::test]
async fn openai_answers_a_chat_completion_object() {
    let mock = Mock::start().await;
    let resp = mock
        .openai(&json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "say hi please"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
    assert!(body["system_fingerprint"].is_string());
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Mock answer ё→ 3 4 5 6 7");
    assert_eq!(choice["message"]["refusal"], Value::Null);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 5);
    assert_eq!(body["usage"]["completion_tokens"], 8);
    assert_eq!(body["usage"]["total_tokens"], 13);
}

#[tokio::test]
async fn openai_streams_chunks_then_usage_then_done() {
    let mock = Mock::start().await;
    let req = json!({"model": "gpt-4o", "messages": user("one two three"), "stream": true,
        "stream_options": {"include_usage": true}});
    let resp = mock.openai(&req).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (text, failed) = read_all(resp).await;
    assert!(!failed);
    assert!(text.ends_with("data: [DONE]\n\n"));
    let events = parse_sse(&text);
    let n = events.len();
    assert_eq!(events[n - 1].data, "[DONE]");
    let chunks: Vec<Value> = events[..n - 1].iter().map(|e| e.json()).collect();
    let first = &chunks[0];
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(first["choices"][0]["delta"]["content"], "");
    let ids: Vec<&Value> = chunks.iter().map(|c| &c["id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Mock answer ё→ 3 4 5 6 7");
    // The finish chunk: empty delta + finish_reason; then the usage chunk with no choices.
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let usage_chunk = &chunks[chunks.len() - 1];
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 3);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 8);
    assert!(chunks[..chunks.len() - 1]
        .iter()
        .all(|c| c["usage"].is_null() && c.get("usage").is_some()));

    // The same request, not streamed, says the same.
    let mut whole = req.clone();
    whole["stream"] = json!(false);
    whole.as_object_mut().unwrap().remove("stream_options");
    let body: Value = mock.openai(&whole).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], content);
    assert_eq!(body["usage"], usage_chunk["usage"]);
}

#[tokio::test]
async fn openai_stream_without_include_usage_has_no_usage_field() {
    let mock = Mock::start().await;
    let resp = mock
        .openai(&json!({"model": "m", "messages": user("hi"), "stream": true}))
        .await;
    let (text, _) = read_all(resp).await;
    let events = parse_sse(&text);
    for e in &events[..events.len() - 1] {
        assert!(e.json().get("usage").is_none(), "{}", e.data);
        assert_ne!(e.json()["choices"], json!([]));
    }
}

#[tokio::test]
async fn openai_rejects_missing_and_wrong_keys() {
    let mock = Mock::start().await;
    let body = json!({"model": "m", "messages": user("hi")});
    let missing = mock
        .client
        .post(mock.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let wrong = mock
        .client
        .post(mock.url("/v1/chat/completions"))
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let err: Value = wrong.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(err["error"]["code"], "invalid_api_key");
    assert_eq!(err["error"]["param"], Value::Null);
    assert!(err["error"]["message"].is_string());
}

#[tokio::test]
async fn openai_routes_match_by_suffix_under_any_prefix() {
    let mock = Mock::start().await;
    let resp = mock
        .client
        .post(mock.url("/deepseek/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "deepseek-chat", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let unknown = mock.client.post(mock.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn openai_rejects_a_malformed_conversation() {
    let mock = Mock::start().await;
    let resp = mock
        .openai(
            &json!({"model": "m", "messages": [{"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_zzz", "content": "x"}]}),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(err["error"]["param"], "messages.[1].role");
}

#[tokio::test]
async fn openai_streams_tool_calls_in_fragments() {
    let mock = Mock::start().await;
    let resp = mock
        .openai(
            &json!({"model": "m", "messages": user("weather? [[mock tools=2]]"), "stream": true,
            "tools": [weather_tool(), {"type": "function", "function": {"name": "noop", "parameters": {}}}]}),
        )
        .await;
    let (text, _) = read_all(resp).await;
    let events = parse_sse(&text);
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| e.json()).collect();
    let mut args = ["".to_string(), "".to_string()];
    let mut headers = Vec::new();
    let mut fragments = [0, 0];
    for c in &chunks {
        for tc in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap() as usize;
            if tc.get("id").is_some() {
                assert!(tc["id"].as_str().unwrap().starts_with("call_"));
                assert_eq!(tc["type"], "function");
                assert_eq!(tc["function"]["arguments"], "");
                headers.push(tc["function"]["name"].as_str().unwrap().to_string());
            } else {
                args[i].push_str(tc["function"]["arguments"].as_str().unwrap());
                fragments[i] += 1;
            }
        }
    }
    assert_eq!(headers, ["get_weather", "noop"]);
    assert_eq!(
        serde_json::from_str::<Value>(&args[0]).unwrap(),
        json!({"city": "mock-city", "days": 1})
    );
    assert_eq!(serde_json::from_str::<Value>(&args[1]).unwrap(), json!({}));
    assert!(fragments.iter().all(|f| *f >= 2));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    // The role arrives with the first call.
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
}

#[tokio::test]
async fn openai_answers_tool_calls_and_then_echoes_the_result() {
    let mock = Mock::start().await;
    let body: Value = mock
        .openai(
            &json!({"model": "m", "messages": user("weather?"), "tools": [weather_tool()],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let msg = &body["choices"][0]["message"];
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(msg["content"], Value::Null);
    let call = &msg["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "mock-city", "days": 1}));
    assert_eq!(body["usage"]["completion_tokens"], 4);

    let follow_up = json!({"model": "m", "tools": [weather_tool()], "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "22C and sunny"}]});
    let body: Value = mock.openai(&follow_up).await.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Tool said: 22C and sunny"
    );
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["completion_tokens"], 5);
}

#[tokio::test]
async fn openai_json_mode_answers_a_json_object() {
    let mock = Mock::start().await;
    let req = json!({"model": "m", "messages": user("json please"), "stream": true,
        "response_format": {"type": "json_object"}});
    let (text, _) = read_all(mock.openai(&req).await).await;
    let events = parse_sse(&text);
    let content: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let v: Value = serde_json::from_str(&content).unwrap();
    assert!(v["answer"].as_str().unwrap().starts_with("mock"));
}

#[tokio::test]
async fn max_tokens_stops_with_length_unless_ignored() {
    let mock = Mock::start().await;
    let body: Value = mock
        .openai(&json!({"model": "m", "messages": user("hi"), "max_completion_tokens": 3}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["choices"][0]["message"]["content"], "Mock answer ё→");
    assert_eq!(body["usage"]["completion_tokens"], 3);
    let body: Value = mock
        .openai(&json!({"model": "m", "messages": user("hi [[mock max_tokens_ignored]]"), "max_tokens": 3}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], 8);
}

// --------------------------------------------------------------------------- Anthropic

#[tokio::test]
async fn anthropic_answers_a_message_object() {
    let mock = Mock::start().await;
    let resp = mock
        .anthropic(
            &json!({"model": "claude-haiku-4-5", "max_tokens": 100, "system": "be brief",
            "messages": user("hello there")}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Mock answer ё→ 3 4 5 6 7"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    assert_eq!(body["usage"]["input_tokens"], 4);
    assert_eq!(body["usage"]["output_tokens"], 8);
}

#[tokio::test]
async fn anthropic_streams_its_event_sequence() {
    let mock = Mock::start().await;
    let req = json!({"model": "claude", "max_tokens": 100, "messages": user("a b"), "stream": true});
    let (text, failed) = read_all(mock.anthropic(&req).await).await;
    assert!(!failed);
    let events = parse_sse(&text);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", 8));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    for e in &events {
        assert_eq!(
            e.json()["type"],
            e.event.as_deref().unwrap(),
            "data type matches the event name"
        );
    }
    let start = events[0].json();
    assert_eq!(start["message"]["usage"]["input_tokens"], 2);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(start["message"]["content"], json!([]));
    let text: String = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(text, "Mock answer ё→ 3 4 5 6 7");
    let delta = events[events.len() - 2].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 8);
}

#[tokio::test]
async fn anthropic_streams_several_tool_use_blocks() {
    let mock = Mock::start().await;
    let tools = json!([
        {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}
    ]);
    let req = json!({"model": "claude", "max_tokens": 100, "messages": user("both [[mock tools=2]]"),
        "tools": tools, "stream": true});
    let (text, _) = read_all(mock.anthropic(&req).await).await;
    let events = parse_sse(&text);
    let mut blocks: Vec<(String, String, String)> = Vec::new();
    for e in &events {
        let d = e.json();
        match e.event.as_deref() {
            Some("content_block_start") => {
                let b = &d["content_block"];
                assert_eq!(b["type"], "tool_use");
                assert!(b["id"].as_str().unwrap().starts_with("toolu_"));
                assert_eq!(d["index"].as_u64().unwrap() as usize, blocks.len());
                blocks.push((
                    b["name"].as_str().unwrap().to_string(),
                    String::new(),
                    String::new(),
                ));
            }
            Some("content_block_delta") => {
                assert_eq!(d["delta"]["type"], "input_json_delta");
                let i = d["index"].as_u64().unwrap() as usize;
                blocks[i].1.push_str(d["delta"]["partial_json"].as_str().unwrap());
            }
            Some("content_block_stop") => {
                let i = d["index"].as_u64().unwrap() as usize;
                blocks[i].2 = "stopped".into();
            }
            _ => {}
        }
    }
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].0, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&blocks[0].1).unwrap(),
        json!({"city": "mock-city"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&blocks[1].1).unwrap(),
        json!({"tz": "mock-tz"})
    );
    assert!(blocks.iter().all(|b| b.2 == "stopped"));
    let delta = events
        .iter()
        .find(|e| e.event.as_deref() == Some("message_delta"))
        .unwrap()
        .json();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 6);
}

#[tokio::test]
async fn anthropic_rejects_bad_auth_and_bad_requests() {
    let mock = Mock::start().await;
    let body = json!({"model": "c", "max_tokens": 10, "messages": user("hi")});
    let no_version = mock
        .client
        .post(mock.url("/v1/messages"))
        .header("x-api-key", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);
    let wrong = mock
        .client
        .post(mock.url("/v1/messages"))
        .header("x-api-key", "nope")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let err: Value = wrong.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "authentication_error");

    for bad in [
        json!({"model": "c", "messages": user("hi")}),
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}),
        json!({"model": "c", "max_tokens": 10, "messages": [{"role": "assistant", "content": "a"}]}),
    ] {
        let resp = mock.anthropic(&bad).await;
        assert_eq!(resp.status(), 400);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn anthropic_stop_sequences_are_reported() {
    let mock = Mock::start().await;
    let body: Value = mock
        .anthropic(
            &json!({"model": "c", "max_tokens": 100, "messages": user("hi"), "stop_sequences": [" 5"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["stop_reason"], "stop_sequence");
    assert_eq!(body["stop_sequence"], " 5");
    assert_eq!(body["content"][0]["text"], "Mock answer ё→ 3 4");
}

// ------------------------------------------------------------------------------ Gemini

#[tokio::test]
async fn gemini_answers_generate_content() {
    let mock = Mock::start().await;
    let req = json!({"systemInstruction": {"parts": [{"text": "be brief"}]},
        "contents": [{"role": "user", "parts": [{"text": "hello"}]}]});
    let resp = mock.gemini("gemini-2.5-flash", "generateContent", &req).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let cand = &body["candidates"][0];
    assert_eq!(cand["content"]["role"], "model");
    assert_eq!(
        cand["content"]["parts"],
        json!([{"text": "Mock answer ё→ 3 4 5 6 7"}])
    );
    assert_eq!(cand["finishReason"], "STOP");
    assert_eq!(body["usageMetadata"]["promptTokenCount"], 3);
    assert_eq!(body["usageMetadata"]["candidatesTokenCount"], 8);
    assert_eq!(body["usageMetadata"]["totalTokenCount"], 11);
    assert_eq!(body["modelVersion"], "gemini-2.5-flash");
    assert!(body["responseId"].is_string());
}

#[tokio::test]
async fn gemini_streams_crlf_separated_events() {
    let mock = Mock::start().await;
    let req = json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]});
    let resp = mock
        .gemini("gemini-2.5-flash", "streamGenerateContent?alt=sse", &req)
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (text, failed) = read_all(resp).await;
    assert!(!failed);
    assert_eq!(
        text.matches("\r\n\r\n").count(),
        8,
        "Google separates events with CRLF CRLF"
    );
    let events = parse_sse(&text);
    assert_eq!(events.len(), 8);
    let mut full = String::new();
    for (i, e) in events.iter().enumerate() {
        let v = e.json();
        full.push_str(
            v["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap(),
        );
        assert_eq!(v["usageMetadata"]["promptTokenCount"], 1);
        assert_eq!(v["candidates"][0].get("finishReason").is_some(), i == 7);
    }
    assert_eq!(full, "Mock answer ё→ 3 4 5 6 7");
    assert_eq!(events[7].json()["usageMetadata"]["candidatesTokenCount"], 8);
    assert_eq!(events[7].json()["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn gemini_without_alt_sse_streams_a_json_array() {
    let mock = Mock::start().await;
    let req = json!({"contents": [{"parts": [{"text": "hello"}]}]});
    let (text, _) = read_all(mock.gemini("g", "streamGenerateContent", &req).await).await;
    let arr: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(arr.len(), 8);
}

#[tokio::test]
async fn gemini_calls_functions_whole_and_takes_the_key_in_the_query() {
    let mock = Mock::start().await;
    let req = json!({
        "contents": [{"role": "user", "parts": [{"text": "weather?"}]}],
        "tools": [{"functionDeclarations": [{"name": "get_weather",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}]
    });
    let resp = mock
        .client
        .post(mock.url(&format!(
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key={KEY}"
        )))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (text, _) = read_all(resp).await;
    let events = parse_sse(&text);
    assert_eq!(events.len(), 1);
    let v = events[0].json();
    assert_eq!(
        v["candidates"][0]["content"]["parts"],
        json!([{"functionCall": {"name": "get_weather", "args": {"city": "mock-city"}}}])
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");

    let follow_up = json!({"contents": [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "x"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "rainy"}}}]}
    ], "tools": req["tools"]});
    let body: Value = mock
        .gemini("g", "generateContent", &follow_up)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "Tool said: rainy"
    );
}

#[tokio::test]
async fn gemini_rejects_keys_and_roles_like_google() {
    let mock = Mock::start().await;
    let req = json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]});
    let wrong = mock
        .client
        .post(mock.url("/v1beta/models/g:generateContent"))
        .header("x-goog-api-key", "nope")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let err: Value = wrong.json().await.unwrap();
    assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(err["error"]["details"][0]["reason"], "API_KEY_INVALID");
    let missing = mock
        .client
        .post(mock.url("/v1beta/models/g:generateContent"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403);
    let bad_role = json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]});
    let resp = mock.gemini("g", "generateContent", &bad_role).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], 400);
}

#[tokio::test]
async fn gemini_max_output_tokens_and_json_mode() {
    let mock = Mock::start().await;
    let req = json!({"contents": [{"parts": [{"text": "x"}]}],
        "generationConfig": {"maxOutputTokens": 2}});
    let body: Value = mock
        .gemini("g", "generateContent", &req)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(body["usageMetadata"]["candidatesTokenCount"], 2);
    let req = json!({"contents": [{"parts": [{"text": "x"}]}],
        "generationConfig": {"responseMimeType": "application/json"}});
    let body: Value = mock
        .gemini("g", "generateContent", &req)
        .await
        .json()
        .await
        .unwrap();
    let text = body["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(serde_json::from_str::<Value>(text).unwrap().is_object());
}

// ------------------------------------------------------------------------------- knobs

#[tokio::test]
async fn status_knob_answers_in_each_providers_shape() {
    let mock = Mock::start().await;
    let resp = mock
        .openai(&json!({"model": "m", "messages": user("[[mock status=429 retry_after=3]]")}))
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");

    let resp = mock
        .anthropic(
            &json!({"model": "c", "max_tokens": 5, "messages": user("[[mock status=529]]"), "stream": true}),
        )
        .await;
    assert_eq!(resp.status(), 529);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "overloaded_error");

    let req = json!({"contents": [{"parts": [{"text": "[[mock status=429 retry_after=7]]"}]}]});
    let resp = mock.gemini("g", "generateContent", &req).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["status"], "RESOURCE_EXHAUSTED");
    let retry = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
        .unwrap();
    assert_eq!(retry["retryDelay"], "7s");

    let resp = mock
        .openai(&json!({"model": "m", "messages": user("[[mock status=500]]")}))
        .await;
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );
}

#[tokio::test]
async fn error_after_sends_a_mid_stream_error_in_each_shape() {
    let mock = Mock::start().await;
    let (text, failed) = read_all(
        mock.openai(&json!({"model": "m", "messages": user("[[mock error_after=3]]"), "stream": true}))
            .await,
    )
    .await;
    assert!(!failed);
    let events = parse_sse(&text);
    assert_eq!(events.len(), 5, "role chunk, 3 content chunks, the error");
    assert_eq!(events[4].json()["error"]["type"], "server_error");
    assert!(!text.contains("[DONE]"));

    let (text, _) = read_all(
        mock.anthropic(&json!({"model": "c", "max_tokens": 50, "messages": user("[[mock error_after=2]]"), "stream": true}))
            .await,
    )
    .await;
    let events = parse_sse(&text);
    let last = events.last().unwrap();
    assert_eq!(last.event.as_deref(), Some("error"));
    assert_eq!(last.json()["error"]["type"], "overloaded_error");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.as_deref() == Some("content_block_delta"))
            .count(),
        2
    );
    assert!(!text.contains("message_stop"));

    let req = json!({"contents": [{"parts": [{"text": "[[mock error_after=1]]"}]}]});
    let (text, _) = read_all(mock.gemini("g", "streamGenerateContent?alt=sse", &req).await).await;
    let events = parse_sse(&text);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].json()["error"]["code"], 500);
}

#[tokio::test]
async fn cut_after_drops_the_connection_mid_stream() {
    let mock = Mock::start().await;
    let resp = mock
        .openai(
            &json!({"model": "m", "messages": user("[[mock cut_after=2]]"), "stream": true,
        "stream_options": {"include_usage": true}}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (text, failed) = read_all(resp).await;
    assert!(failed, "the body ends in an error, not a clean end");
    let events = parse_sse(&text);
    assert_eq!(events.len(), 3);
    assert!(!text.contains("[DONE]") && !text.contains("finish_reason\":\"stop"));

    let (text, failed) = read_all(
        mock.anthropic(&json!({"model": "c", "max_tokens": 50, "messages": user("[[mock cut_after=1]]"), "stream": true}))
            .await,
    )
    .await;
    assert!(failed);
    assert!(!text.contains("message_stop") && !text.contains("message_delta"));
}

#[tokio::test]
async fn no_usage_omits_usage_everywhere() {
    let mock = Mock::start().await;
    let (text, _) = read_all(
        mock.openai(
            &json!({"model": "m", "messages": user("[[mock no_usage]]"), "stream": true,
            "stream_options": {"include_usage": true}}),
        )
        .await,
    )
    .await;
    assert!(!text.contains("usage"));
    assert!(text.ends_with("data: [DONE]\n\n"));
    let (text, _) = read_all(
        mock.anthropic(
            &json!({"model": "c", "max_tokens": 50, "messages": user("[[mock no_usage]]"), "stream": true}),
        )
        .await,
    )
    .await;
    assert!(text.starts_with("event: message_start"));
    assert!(!text.contains("usage"));
    let req = json!({"contents": [{"parts": [{"text": "[[mock no_usage]]"}]}]});
    let (text, _) = read_all(mock.gemini("g", "streamGenerateContent?alt=sse", &req).await).await;
    assert!(!text.contains("usageMetadata"));
}

#[tokio::test]
async fn ttft_and_delay_shape_the_timing_of_a_real_stream() {
    let mock = Mock::start().await;
    let start = Instant::now();
    let resp = mock
        .openai(
            &json!({"model": "m", "messages": user("[[mock ttft=300 delay=100 chunks=4]]"), "stream": true}),
        )
        .await;
    let headers_at = start.elapsed();
    assert!(
        headers_at >= Duration::from_millis(300),
        "headers after ttft: {headers_at:?}"
    );
    let (chunks, _) = read_timed(resp, start).await;
    let content_at: Vec<Duration> = chunks
        .iter()
        .filter(|(_, s)| s.contains("\"content\":\"") && !s.contains("\"content\":\"\""))
        .map(|(t, _)| *t)
        .collect();
    // Each content chunk arrives in its own read, spaced by the delay: really streamed.
    assert!(content_at.len() >= 3, "{chunks:?}");
    let spread = *content_at.last().unwrap() - content_at[0];
    assert!(
        spread >= Duration::from_millis(250),
        "content spread over {spread:?}"
    );

    let start = Instant::now();
    let body: Value = mock
        .openai(&json!({"model": "m", "messages": user("[[mock ttft=200 delay=50 chunks=3]]")}))
        .await
        .json()
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(body["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn fail_once_fails_the_first_request_with_that_marker_only() {
    let mock = Mock::start().await;
    let id = uid("fo");
    let req = json!({"model": "m", "messages": user(&format!("retry [[mock fail_once id={id}]]"))});
    assert_eq!(mock.openai(&req).await.status(), 500);
    assert_eq!(mock.openai(&req).await.status(), 200);
    assert_eq!(mock.openai(&req).await.status(), 200);
    let other = json!({"model": "m", "messages": user(&format!("retry [[mock fail_once id={id}-2]]"))});
    assert_eq!(mock.openai(&other).await.status(), 500);
}

#[tokio::test]
async fn process_defaults_apply_until_a_marker_overrides_them() {
    let mock = Mock::with(flint_mock::Config {
        quiet: true,
        api_key: "sk-other".into(),
        defaults: flint_mock::Defaults {
            ttft_ms: 0,
            delay_ms: 0,
            chunks: 3,
        },
        ..Default::default()
    })
    .await;
    let call = |text: &str| {
        mock.client
            .post(mock.url("/v1/chat/completions"))
            .bearer_auth("sk-other")
            .json(&json!({"model": "m", "messages": user(text)}))
            .send()
    };
    let body: Value = call("hi").await.unwrap().json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Mock answer ё→");
    let body: Value = call("hi [[mock chunks=1]]").await.unwrap().json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Mock");
    assert_eq!(
        mock.openai(&json!({"model": "m", "messages": user("hi")}))
            .await
            .status(),
        401
    );
}

// ---------------------------------------------------------------------------- recording

#[tokio::test]
async fn every_request_is_recorded_and_filterable() {
    let mock = Mock::start().await;
    let id = uid("rec");
    mock.openai(&json!({"model": "m", "messages": user(&format!("hello {id}"))}))
        .await;
    mock.anthropic(&json!({"model": "c", "max_tokens": 5, "messages": user(&format!("hi {id}"))}))
        .await;
    mock.openai(&json!({"model": "m", "messages": user("unrelated")}))
        .await;
    let found = mock.requests(&id).await;
    assert_eq!(found.len(), 2);
    assert_eq!(found[0]["method"], "POST");
    assert_eq!(found[0]["path"], "/v1/chat/completions");
    assert_eq!(found[0]["headers"]["authorization"], format!("Bearer {KEY}"));
    assert_eq!(found[0]["body"]["model"], "m");
    assert!(found[0]["received_at_ms"].as_u64().unwrap() > 0);
    assert_eq!(found[1]["headers"]["anthropic-version"], "2023-06-01");
    assert!(found[0]["seq"].as_u64() < found[1]["seq"].as_u64());

    let all: Vec<Value> = mock
        .client
        .get(mock.url("/__mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 3, "control routes are not recorded");
    let cleared = mock
        .client
        .delete(mock.url("/__mock/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    assert!(mock.requests("").await.is_empty());
    let health = mock.client.get(mock.url("/__mock/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn the_binary_prints_its_address_and_serves() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_flint-mock"))
        .args(["--port", "0", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("flint-mock listening on ")
        .unwrap()
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"));
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    let health = reqwest::get(format!("{url}/__mock/health")).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health.unwrap().status(), 200);
}

#[tokio::test]
async fn count_tokens_endpoints_use_the_same_rule() {
    let mock = Mock::start().await;
    let resp = mock
        .client
        .post(mock.url("/v1/messages/count_tokens"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "c", "system": "a b", "messages": user("c d e")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"input_tokens": 5}));
    let req = json!({"contents": [{"parts": [{"text": "one two"}]}]});
    let body: Value = mock.gemini("g", "countTokens", &req).await.json().await.unwrap();
    assert_eq!(body["totalTokens"], 2);
}
