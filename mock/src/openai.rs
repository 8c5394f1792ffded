//! OpenAI Chat Completions (`POST …/chat/completions`) and Images wire format.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::answer::{Answer, Conversation, Finish, Reply, ToolChoice, ToolSpec};
use crate::error::WireError;
use crate::stream::{data_line, Ev};
use crate::util;

/// Which OpenAI-compatible vendor a request reached, chosen by the path's first segment
/// (the provider id the test harness puts there: `/deepseek/v1/…`, `/xai/v1/…`); the
/// vendors differ in how they report usage (see `mock/USAGE_FORMATS.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// OpenAI's own shape: `cached_tokens` inside `prompt_tokens`, `reasoning_tokens`
    /// inside `completion_tokens`. Every vendor without a quirk of its own.
    #[default]
    OpenAi,
    /// DeepSeek: OpenAI's shape plus `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`,
    /// and the reasoning text as `reasoning_content`.
    DeepSeek,
    /// xAI: `completion_tokens` EXCLUDES `reasoning_tokens`; `total_tokens` adds them.
    Xai,
}

impl Dialect {
    /// The dialect of a provider id (`deepseek`, `xai`; anything else speaks OpenAI's).
    pub fn from_provider_id(id: &str) -> Dialect {
        match id {
            "deepseek" => Dialect::DeepSeek,
            "xai" => Dialect::Xai,
            _ => Dialect::OpenAi,
        }
    }

    /// The dialect of a request path: its first segment is the provider id.
    pub fn from_path(path: &str) -> Dialect {
        Dialect::from_provider_id(path.trim_start_matches('/').split('/').next().unwrap_or(""))
    }
}

/// A parsed chat completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub conv: Conversation,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

fn content_texts(content: Option<&Value>) -> Vec<String> {
    match content {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => p
                    .get("text")
                    .or_else(|| p.get("refusal"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Parses and validates a request the way OpenAI does (the checks that catch translation bugs).
pub fn parse(body: &Value) -> Result<ChatRequest, WireError> {
    let Some(obj) = body.as_object() else {
        return Err(WireError::bad_request("The request body must be a JSON object."));
    };
    let model = match obj.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => return Err(WireError::bad_request("you must provide a model parameter").with_param("model")),
    };
    let messages = match obj.get("messages").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => m,
        Some(_) => {
            return Err(WireError::bad_request("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.").with_param("messages"))
        }
        None => return Err(WireError::bad_request("Missing required parameter: 'messages'.").with_param("messages")),
    };
    let mut conv = Conversation {
        model,
        ..Default::default()
    };
    let mut open_calls: Vec<String> = Vec::new();
    let mut open_calls_at = 0;
    conv.turns = messages.len() as u64;
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role == "user" {
            conv.last_user_text = content_texts(m.get("content")).join(" ");
        }
        if !open_calls.is_empty() && role != "tool" {
            return Err(WireError::bad_request(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                open_calls.join(", ")
            ))
            .with_param(format!("messages.[{open_calls_at}].role")));
        }
        match role {
            "system" | "developer" | "user" => conv.texts.extend(content_texts(m.get("content"))),
            "assistant" => {
                conv.texts.extend(content_texts(m.get("content")));
                if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
                    open_calls = calls
                        .iter()
                        .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_string))
                        .collect();
                    open_calls_at = i;
                }
            }
            "tool" | "function" => {
                let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
                if role == "tool" {
                    match open_calls.iter().position(|c| c == id) {
                        Some(p) => {
                            open_calls.remove(p);
                        }
                        None => {
                            return Err(WireError::bad_request(
                                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                            )
                            .with_param(format!("messages.[{i}].role")))
                        }
                    }
                }
                conv.texts.extend(content_texts(m.get("content")));
            }
            other => {
                return Err(WireError::bad_request(format!(
                    "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                ))
                .with_param(format!("messages[{i}].role")))
            }
        }
    }
    // Tool results at the end of the conversation (one per trailing tool message).
    let trailing: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| matches!(m.get("role").and_then(Value::as_str), Some("tool" | "function")))
        .map(|m| content_texts(m.get("content")).join(" "))
        .collect();
    if !trailing.is_empty() {
        conv.tool_results = Some(trailing.into_iter().rev().collect());
    }

    for (i, t) in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = t.get("function").unwrap_or(t);
        let Some(name) = f.get("name").and_then(Value::as_str) else {
            return Err(
                WireError::bad_request("Missing required parameter: 'tools[0].function.name'.")
                    .with_param(format!("tools[{i}].function.name")),
            );
        };
        let schema = f.get("parameters").cloned().unwrap_or_else(|| json!({}));
        conv.tools.push(ToolSpec {
            name: name.to_string(),
            schema,
        });
    }
    for f in obj
        .get("functions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = f.get("name").and_then(Value::as_str) {
            let schema = f.get("parameters").cloned().unwrap_or_else(|| json!({}));
            conv.tools.push(ToolSpec {
                name: name.to_string(),
                schema,
            });
        }
    }
    conv.tool_choice =
        match obj.get("tool_choice") {
            None | Some(Value::Null) => ToolChoice::Auto,
            Some(_) if conv.tools.is_empty() => return Err(WireError::bad_request(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            )
            .with_param("tool_choice")),
            Some(Value::String(s)) => match s.as_str() {
                "none" => ToolChoice::None,
                "required" => ToolChoice::Required,
                _ => ToolChoice::Auto,
            },
            Some(v) => match v.pointer("/function/name").and_then(Value::as_str) {
                Some(name) => ToolChoice::Named(name.to_string()),
                None => ToolChoice::Auto,
            },
        };
    conv.max_tokens = obj
        .get("max_completion_tokens")
        .and_then(Value::as_u64)
        .or_else(|| obj.get("max_tokens").and_then(Value::as_u64));
    conv.json_mode = matches!(
        body.pointer("/response_format/type").and_then(Value::as_str),
        Some("json_object" | "json_schema")
    );
    conv.stop = match obj.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    conv.choices = match obj.get("n") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=128) => n,
            Some(0) => {
                return Err(WireError::bad_request(format!(
                    "Invalid 'n': integer below minimum value. Expected a value >= 1, but got {v} instead."
                ))
                .with_param("n"))
            }
            _ => {
                return Err(WireError::bad_request(format!(
                    "Invalid 'n': integer above maximum value. Expected a value <= 128, but got {v} instead."
                ))
                .with_param("n"))
            }
        },
    };
    conv.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let stream_options = obj.get("stream_options").filter(|v| !v.is_null());
    if stream_options.is_some() && !conv.stream {
        return Err(WireError::bad_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        )
        .with_param("stream_options"));
    }
    let include_usage = stream_options
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(ChatRequest { conv, include_usage })
}

/// A vendor's own request rules on top of OpenAI's. DeepSeek thinks by default
/// (`thinking: {"type": "disabled"}` turns it off, and then it reasons not at all), and in
/// thinking mode every assistant message that made tool calls must carry its
/// `reasoning_content` back, or the request is a 400 (DeepSeek "Thinking Mode" guide, tool
/// calls).
pub fn check_dialect(body: &Value, conv: &mut Conversation, dialect: Dialect) -> Result<(), WireError> {
    if dialect != Dialect::DeepSeek {
        return Ok(());
    }
    if body.pointer("/thinking/type").and_then(Value::as_str) == Some("disabled") {
        conv.reasoning = crate::answer::ReasoningMode::Off;
        return Ok(());
    }
    for (i, m) in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let calls = m
            .get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if m.get("role").and_then(Value::as_str) == Some("assistant")
            && calls
            && !m.get("reasoning_content").is_some_and(Value::is_string)
        {
            return Err(WireError::bad_request(format!(
                "Missing `reasoning_content` field in the assistant message at message index {i}. For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls"
            )));
        }
    }
    Ok(())
}

/// OpenAI's error envelope for `err`.
pub fn error_body(err: &WireError) -> Value {
    let (kind, code) = match err.status {
        400 | 413 | 422 => ("invalid_request_error", Value::Null),
        401 => ("invalid_request_error", json!("invalid_api_key")),
        403 => ("permission_denied", Value::Null),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("requests", json!("rate_limit_exceeded")),
        s if s >= 500 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    let code = err.code.as_ref().map_or(code, |c| json!(c));
    json!({"error": {"message": err.message, "type": kind, "param": err.param, "code": code}})
}

/// The mid-stream error event (`error_after`).
pub fn stream_error() -> Bytes {
    data_line(&json!({"error": {
        "message": "The server had an error while processing your request. Sorry about that! (injected by flint-mock)",
        "type": "server_error", "param": null, "code": null}}))
}

fn finish_reason(finish: &Finish) -> &'static str {
    match finish {
        Finish::Stop | Finish::StopSequence(_) => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
    }
}

/// The `usage` object of an answer in `dialect`'s shape, exactly as the mock sends it
/// (whole answers and the last stream chunk alike).
pub fn usage_json(answer: &Answer, dialect: Dialect) -> Value {
    let u = answer.usage();
    match dialect {
        Dialect::OpenAi => json!({
            "prompt_tokens": u.input,
            "completion_tokens": u.output,
            "total_tokens": u.total(),
            "prompt_tokens_details": {"cached_tokens": u.cache_read, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        }),
        Dialect::DeepSeek => {
            let mut v = json!({
                "prompt_tokens": u.input,
                "completion_tokens": u.output,
                "total_tokens": u.total(),
                "prompt_tokens_details": {"cached_tokens": u.cache_read},
                "prompt_cache_hit_tokens": u.cache_read,
                "prompt_cache_miss_tokens": u.input - u.cache_read,
            });
            if u.reasoning > 0 {
                v["completion_tokens_details"] = json!({"reasoning_tokens": u.reasoning});
            }
            v
        }
        Dialect::Xai => json!({
            "prompt_tokens": u.input,
            "completion_tokens": u.visible_output(),
            "total_tokens": u.total(),
            "prompt_tokens_details": {"text_tokens": u.input, "audio_tokens": 0, "image_tokens": 0,
                "cached_tokens": u.cache_read},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
            "num_sources_used": 0
        }),
    }
}

/// Ids for one answer: the completion id and one `call_…` id per tool call.
pub struct Ids {
    pub id: String,
    pub created: u64,
    pub calls: Vec<String>,
}

impl Ids {
    pub fn new(answer: &Answer) -> Ids {
        let calls = match &answer.reply {
            Reply::ToolCalls(c) => c
                .iter()
                .map(|_| format!("call_{}", util::random_alnum(24)))
                .collect(),
            Reply::Text(_) => Vec::new(),
        };
        Ids {
            id: format!("chatcmpl-{}", util::random_alnum(29)),
            created: util::now_secs(),
            calls,
        }
    }
}

/// The non-streamed `chat.completion` object.
pub fn completion(conv: &Conversation, answer: &Answer, no_usage: bool, dialect: Dialect) -> Value {
    let ids = Ids::new(answer);
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    if dialect == Dialect::DeepSeek && !answer.reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(answer.reasoning.concat()));
    }
    match &answer.reply {
        Reply::Text(_) => {
            message.insert("content".into(), json!(answer.text()));
        }
        Reply::ToolCalls(calls) => {
            message.insert("content".into(), Value::Null);
            let calls: Vec<Value> = calls
                .iter()
                .zip(&ids.calls)
                .map(|(c, id)| {
                    json!({"id": id, "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments_json()}})
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
    }
    message.insert("refusal".into(), Value::Null);
    message.insert("annotations".into(), json!([]));
    // Every choice carries the same (deterministic) reply.
    let choices: Vec<Value> = (0..answer.choices)
        .map(|i| {
            json!({"index": i, "message": message, "logprobs": null,
                "finish_reason": finish_reason(&answer.finish)})
        })
        .collect();
    let mut out = json!({
        "id": ids.id,
        "object": "chat.completion",
        "created": ids.created,
        "model": conv.model,
        "choices": choices,
        "service_tier": "default",
        "system_fingerprint": "fp_flintmock",
    });
    if !no_usage {
        out["usage"] = usage_json(answer, dialect);
    }
    out
}

/// The streamed `chat.completion.chunk` events, ending in `data: [DONE]`. DeepSeek streams
/// its reasoning first, as `reasoning_content` deltas (not content chunks: `error_after`
/// and `cut_after` count the answer only).
pub fn stream_events(
    conv: &Conversation,
    answer: &Answer,
    include_usage: bool,
    no_usage: bool,
    dialect: Dialect,
) -> Vec<Ev> {
    let ids = Ids::new(answer);
    let with_usage = include_usage && !no_usage;
    let chunk = |choices: Value, usage_value: Option<Value>| {
        let mut c = json!({
            "id": ids.id, "object": "chat.completion.chunk", "created": ids.created,
            "model": conv.model, "service_tier": "default", "system_fingerprint": "fp_flintmock",
            "choices": choices,
        });
        if with_usage {
            c["usage"] = usage_value.unwrap_or(Value::Null);
        }
        data_line(&c)
    };
    // Each choice streams its reply in turn (choice 0's head first, the others' heads among
    // the content); the finish chunks of all come last.
    let mut events = Vec::new();
    for index in 0..answer.choices {
        let delta = |d: Value, finish: Option<&str>| json!([{"index": index, "delta": d, "logprobs": null, "finish_reason": finish}]);
        let head = |bytes: Bytes| {
            if index == 0 {
                Ev::Head(bytes)
            } else {
                Ev::Mid(bytes)
            }
        };
        if dialect == Dialect::DeepSeek && !answer.reasoning.is_empty() {
            events.push(head(chunk(
                delta(
                    json!({"role": "assistant", "content": null, "reasoning_content": ""}),
                    None,
                ),
                None,
            )));
            for r in &answer.reasoning {
                events.push(head(chunk(
                    delta(json!({"content": null, "reasoning_content": r}), None),
                    None,
                )));
            }
        }
        match &answer.reply {
            Reply::Text(chunks) => {
                events.push(head(chunk(
                    delta(json!({"role": "assistant", "content": "", "refusal": null}), None),
                    None,
                )));
                for c in chunks {
                    events.push(Ev::Content(chunk(delta(json!({"content": c}), None), None)));
                }
            }
            Reply::ToolCalls(calls) => {
                for (i, (call, id)) in calls.iter().zip(&ids.calls).enumerate() {
                    let header = json!([{"index": i, "id": id, "type": "function",
                        "function": {"name": call.name, "arguments": ""}}]);
                    if i == 0 {
                        events.push(head(chunk(
                            delta(
                                json!({"role": "assistant", "content": null, "tool_calls": header, "refusal": null}),
                                None,
                            ),
                            None,
                        )));
                    } else {
                        events.push(Ev::Mid(chunk(delta(json!({"tool_calls": header}), None), None)));
                    }
                    for frag in &call.fragments {
                        let d = json!({"tool_calls": [{"index": i, "function": {"arguments": frag}}]});
                        events.push(Ev::Content(chunk(delta(d, None), None)));
                    }
                }
            }
        }
    }
    for index in 0..answer.choices {
        events.push(Ev::Tail(chunk(
            json!([{"index": index, "delta": {}, "logprobs": null, "finish_reason": finish_reason(&answer.finish)}]),
            None,
        )));
    }
    if with_usage {
        events.push(Ev::Tail(chunk(json!([]), Some(usage_json(answer, dialect)))));
    }
    events.push(Ev::Tail(Bytes::from_static(b"data: [DONE]\n\n")));
    events
}

/// A parsed images request.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    pub model: String,
    pub prompt: String,
    pub n: u64,
    pub b64: bool,
}

/// Parses `POST …/images/generations`.
pub fn parse_images(body: &Value) -> Result<ImageRequest, WireError> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("dall-e-2")
        .to_string();
    let prompt = match body.get("prompt").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => return Err(WireError::bad_request("Missing required parameter: 'prompt'.").with_param("prompt")),
    };
    let n = match body.get("n") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=10) => n,
            _ => {
                return Err(WireError::bad_request(format!(
                    "Invalid 'n': integer above or below allowed range (1..10), got {v}."
                ))
                .with_param("n"))
            }
        },
    };
    let b64 = match body.get("response_format").and_then(Value::as_str) {
        Some("b64_json") => true,
        Some("url") => false,
        Some(other) => {
            return Err(WireError::bad_request(format!(
                "Invalid value: '{other}'. Supported values are: 'url' and 'b64_json'."
            ))
            .with_param("response_format"))
        }
        None => model.starts_with("gpt-image"),
    };
    Ok(ImageRequest {
        model,
        prompt,
        n,
        b64,
    })
}

/// The images response: `n` entries of the mock PNG, inline or by URL.
pub fn images_response(req: &ImageRequest, png_b64: &str, url: &str) -> Value {
    let data: Vec<Value> = (0..req.n)
        .map(|_| {
            if req.b64 {
                json!({"b64_json": png_b64})
            } else {
                json!({"url": url})
            }
        })
        .collect();
    json!({"created": util::now_secs(), "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::plan;
    use crate::knobs::{Defaults, Knobs};

    #[test]
    fn counts_every_text_the_request_carries() {
        let req = parse(&json!({"model":"m","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"look at"},{"type":"image_url","image_url":{"url":"x"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"it is sunny"}
        ],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}))
        .unwrap();
        assert_eq!(req.conv.prompt_tokens(), 7);
        assert_eq!(req.conv.tool_results, Some(vec!["it is sunny".to_string()]));
    }

    #[test]
    fn rejects_tool_messages_without_a_call() {
        let err = parse(&json!({"model":"m","messages":[
            {"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_x","content":"r"}]}))
        .unwrap_err();
        assert_eq!(err.status, 400);
        let err = parse(&json!({"model":"m","messages":[
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"user","content":"hi"}]}))
        .unwrap_err();
        assert!(err.message.contains("call_1"));
    }

    #[test]
    fn each_dialect_reports_cache_and_reasoning_its_own_way() {
        let req = parse(&json!({"model":"m","messages":[{"role":"user",
            "content":"a b [[mock cache_read=10 cache_write=4 reasoning=7 chunks=3]]"}]}))
        .unwrap();
        let answer = plan(&req.conv, &req.conv.knobs(), &Defaults::default());
        // 7 words + 10 read + 4 written; 3 chunks + 7 reasoning.
        let o = usage_json(&answer, Dialect::OpenAi);
        assert_eq!(
            (o["prompt_tokens"].as_u64(), o["completion_tokens"].as_u64()),
            (Some(21), Some(10))
        );
        assert_eq!(o["prompt_tokens_details"]["cached_tokens"], 10);
        assert_eq!(o["completion_tokens_details"]["reasoning_tokens"], 7);
        assert_eq!(o["total_tokens"], 31);
        let d = usage_json(&answer, Dialect::DeepSeek);
        assert_eq!(
            (
                d["prompt_cache_hit_tokens"].as_u64(),
                d["prompt_cache_miss_tokens"].as_u64()
            ),
            (Some(10), Some(11))
        );
        assert_eq!(d["prompt_tokens_details"]["cached_tokens"], 10);
        assert_eq!(d["completion_tokens"], 10);
        let x = usage_json(&answer, Dialect::Xai);
        assert_eq!(
            (x["completion_tokens"].as_u64(), x["total_tokens"].as_u64()),
            (Some(3), Some(31))
        );
        assert_eq!(x["completion_tokens_details"]["reasoning_tokens"], 7);
        assert_eq!(
            Dialect::from_path("/deepseek/v1/chat/completions"),
            Dialect::DeepSeek
        );
        assert_eq!(Dialect::from_path("/xai/v1/chat/completions"), Dialect::Xai);
        assert_eq!(Dialect::from_path("/v1/chat/completions"), Dialect::OpenAi);
    }

    #[test]
    fn n_choices_are_generated_and_counted_in_the_usage() {
        let body = json!({"model":"m","messages":[{"role":"user","content":"a b [[mock chunks=3 reasoning=2]]"}],"n":3});
        let req = parse(&body).unwrap();
        let answer = plan(&req.conv, &req.conv.knobs(), &Defaults::default());
        let full = completion(&req.conv, &answer, false, Dialect::OpenAi);
        assert_eq!(full["choices"].as_array().unwrap().len(), 3);
        assert_eq!(full["choices"][2]["index"], 2);
        // (3 chunks + 2 reasoning) per choice, the prompt once.
        assert_eq!(full["usage"]["completion_tokens"], 15);
        assert_eq!(full["usage"]["completion_tokens_details"]["reasoning_tokens"], 6);
        assert_eq!(full["usage"]["prompt_tokens"], req.conv.prompt_tokens());
        let events = stream_events(&req.conv, &answer, true, false, Dialect::OpenAi);
        let mut texts = vec![String::new(); 3];
        for e in events {
            let (Ev::Head(b) | Ev::Content(b) | Ev::Mid(b) | Ev::Tail(b)) = e;
            let s = String::from_utf8(b.to_vec()).unwrap();
            let Ok(v) = serde_json::from_str::<Value>(s.trim().trim_start_matches("data: ")) else {
                continue;
            };
            for c in v["choices"].as_array().into_iter().flatten() {
                if let Some(t) = c["delta"]["content"].as_str() {
                    texts[c["index"].as_u64().unwrap() as usize].push_str(t);
                }
            }
        }
        assert!(texts.iter().all(|t| t == &answer.text()), "{texts:?}");
        assert_eq!(
            parse(&json!({"model":"m","messages":[{"role":"user","content":"x"}],"n":129}))
                .unwrap_err()
                .param
                .as_deref(),
            Some("n")
        );
    }

    #[test]
    fn deepseek_wants_reasoning_content_back_with_tool_calls_unless_thinking_is_off() {
        let body = |extra: Value| {
            let mut b = json!({"model":"m","messages":[
                {"role":"user","content":"q"},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"r"}]});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        let check = |b: &Value, dialect| {
            let mut conv = parse(b).unwrap().conv;
            check_dialect(b, &mut conv, dialect).map(|()| conv)
        };
        let missing = check(&body(json!({})), Dialect::DeepSeek).unwrap_err();
        assert!(missing.message.contains("message index 1"), "{}", missing.message);
        assert!(check(&body(json!({})), Dialect::OpenAi).is_ok());
        let off = check(
            &body(json!({"thinking": {"type": "disabled"}})),
            Dialect::DeepSeek,
        )
        .unwrap();
        assert_eq!(off.reasoning, crate::answer::ReasoningMode::Off);
        let mut with = body(json!({}));
        with["messages"][1]["reasoning_content"] = json!("thinking");
        assert!(check(&with, Dialect::DeepSeek).is_ok());
    }

    #[test]
    fn stream_and_non_stream_agree() {
        let req = parse(
            &json!({"model":"m","messages":[{"role":"user","content":"a b c"}],"stream":true,
            "stream_options":{"include_usage":true}}),
        )
        .unwrap();
        let answer = plan(&req.conv, &Knobs::default(), &Defaults::default());
        let full = completion(&req.conv, &answer, false, Dialect::OpenAi);
        let events = stream_events(&req.conv, &answer, true, false, Dialect::OpenAi);
        let mut text = String::new();
        let mut usage = Value::Null;
        for e in events {
            let (Ev::Head(b) | Ev::Content(b) | Ev::Mid(b) | Ev::Tail(b)) = e;
            let s = String::from_utf8(b.to_vec()).unwrap();
            let payload = s.trim().strip_prefix("data: ").unwrap();
            if payload == "[DONE]" {
                continue;
            }
            let v: Value = serde_json::from_str(payload).unwrap();
            if let Some(t) = v.pointer("/choices/0/delta/content").and_then(Value::as_str) {
                text.push_str(t);
            }
            if !v["usage"].is_null() {
                usage = v["usage"].clone();
            }
        }
        assert_eq!(json!(text), full["choices"][0]["message"]["content"]);
        assert_eq!(usage, full["usage"]);
    }
}
