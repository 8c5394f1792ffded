//! OpenAI Responses API (`POST …/responses`) wire format: the `response` object, its
//! output items (`reasoning`, `message`, `function_call`) and the semantic stream events
//! with their `sequence_number`.
//!
//! The mock stores nothing, as OpenAI with `store: false`: a `previous_response_id`, an
//! `item_reference` or a `reasoning` item without `encrypted_content` is refused the way
//! OpenAI refuses what it has not kept, and `encrypted_content` must be one the mock
//! issued ([`encrypted_reasoning`]).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::answer::{Answer, Conversation, Finish, ReasoningMode, Reply, ToolChoice, ToolSpec};
use crate::error::WireError;
use crate::stream::{named_event, Ev};
use crate::util;

/// A parsed Responses request: the conversation plus what shapes the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesRequest {
    pub conv: Conversation,
    /// The request body, for the fields a response echoes (`instructions`, `tools`, …).
    pub body: Value,
    /// `include` has `reasoning.encrypted_content`.
    pub include_encrypted: bool,
    /// `reasoning.summary` is set (`auto`, `concise`, `detailed`).
    pub summary: bool,
}

const ITEM_TYPES: &str = "'message', 'function_call', 'function_call_output', 'reasoning', 'item_reference', 'file_search_call', 'computer_call', 'computer_call_output', 'web_search_call', 'image_generation_call', 'code_interpreter_call', 'local_shell_call', 'local_shell_call_output', 'mcp_list_tools', 'mcp_approval_request', 'mcp_approval_response', 'mcp_call', 'custom_tool_call' and 'custom_tool_call_output'";

fn invalid_value(message: String, param: String) -> WireError {
    WireError::bad_request(message)
        .with_param(param)
        .with_code("invalid_value")
}

fn missing(param: String) -> WireError {
    WireError::bad_request(format!("Missing required parameter: '{param}'."))
        .with_param(param)
        .with_code("missing_required_parameter")
}

/// The `encrypted_content` the mock gives a reasoning item: it decodes to a fixed prefix
/// and the reasoning's token count, so a blob sent back unchanged verifies.
pub fn encrypted_reasoning(answer: &Answer) -> String {
    util::b64_encode(
        format!(
            "flint-mock-reasoning:v1:{}:{:016x}",
            answer.reasoning_tokens,
            util::fnv1a64(answer.reasoning.concat().as_bytes())
        )
        .as_bytes(),
    )
}

fn verifies(encrypted: &str) -> bool {
    util::b64_decode_lenient(encrypted)
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|s| s.starts_with("flint-mock-reasoning:v1:"))
}

fn not_persisted(id: &str) -> WireError {
    WireError::new(
        404,
        format!("Item with id '{id}' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."),
    )
    .with_param("input")
}

/// The texts of a message's content (a string or parts), checking each part's type
/// against the role as OpenAI does: user/system/developer take input parts, the assistant
/// takes `output_text` / `refusal`.
fn message_texts(item: &Value, i: usize, role: &str) -> Result<Vec<String>, WireError> {
    let content = match item.get("content") {
        Some(Value::String(s)) => return Ok(vec![s.clone()]),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(invalid_value(
                format!("Invalid type for 'input[{i}].content': expected one of an array of input item content or a string."),
                format!("input[{i}].content"),
            ))
        }
        None => return Err(missing(format!("input[{i}].content"))),
    };
    let mut texts = Vec::new();
    for (j, part) in content.iter().enumerate() {
        let ty = part.get("type").and_then(Value::as_str).unwrap_or("");
        let allowed: &[&str] = if role == "assistant" {
            &["output_text", "refusal"]
        } else {
            &["input_text", "input_image", "input_file", "input_audio"]
        };
        if !allowed.contains(&ty) {
            let supported = if role == "assistant" {
                "'output_text' and 'refusal'"
            } else {
                "'input_text', 'input_image', 'input_file' and 'input_audio'"
            };
            return Err(invalid_value(
                format!("Invalid value: '{ty}'. Supported values are: {supported}."),
                format!("input[{i}].content[{j}]"),
            ));
        }
        if let Some(t) = part
            .get("text")
            .or_else(|| part.get("refusal"))
            .and_then(Value::as_str)
        {
            texts.push(t.to_string());
        }
    }
    Ok(texts)
}

/// The text of a `function_call_output`: its `output` string, or the text of its parts.
fn output_text(item: &Value) -> String {
    match item.get("output") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn function_tools(tools: &[Value], out: &mut Vec<ToolSpec>) {
    for t in tools {
        match t.get("type").and_then(Value::as_str) {
            Some("function") => {
                if let Some(name) = t.get("name").and_then(Value::as_str) {
                    let schema = t.get("parameters").cloned().unwrap_or_else(|| json!({}));
                    out.push(ToolSpec {
                        name: name.to_string(),
                        schema,
                    });
                }
            }
            // Codex nests function tools in namespaces.
            Some("namespace") => {
                if let Some(inner) = t.get("tools").and_then(Value::as_array) {
                    function_tools(inner, out);
                }
            }
            _ => {}
        }
    }
}

/// Parses and validates a request the way OpenAI does (the checks that catch a gateway's
/// translation or history bugs).
pub fn parse(body: &Value) -> Result<ResponsesRequest, WireError> {
    let Some(obj) = body.as_object() else {
        return Err(WireError::bad_request("The request body must be a JSON object."));
    };
    let model = match obj.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => return Err(missing("model".into())),
    };
    if let Some(prev) = obj.get("previous_response_id").and_then(Value::as_str) {
        return Err(
            WireError::bad_request(format!("Previous response with id '{prev}' not found."))
                .with_param("previous_response_id")
                .with_code("previous_response_not_found"),
        );
    }
    let mut conv = Conversation {
        model,
        ..Default::default()
    };
    if let Some(instructions) = obj.get("instructions").and_then(Value::as_str) {
        conv.texts.push(instructions.to_string());
    }
    let items: Vec<Value> = match obj.get("input") {
        Some(Value::String(s)) => vec![json!({"type": "message", "role": "user", "content": s})],
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(invalid_value(
                "Invalid type for 'input': expected one of a string or an array of input items.".into(),
                "input".into(),
            ))
        }
        None => return Err(missing("input".into())),
    };
    conv.turns = items.len() as u64;
    let mut calls: Vec<String> = Vec::new();
    let mut trailing_outputs: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ty = match item.get("type").and_then(Value::as_str) {
            Some(t) => t,
            None if item.get("role").is_some() => "message",
            None => return Err(missing(format!("input[{i}].type"))),
        };
        if ty != "function_call_output" {
            trailing_outputs.clear();
        }
        match ty {
            "message" => {
                let role = item.get("role").and_then(Value::as_str).unwrap_or("");
                if !matches!(role, "user" | "system" | "developer" | "assistant") {
                    return Err(invalid_value(
                        format!("Invalid value: '{role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'."),
                        format!("input[{i}].role"),
                    ));
                }
                let texts = message_texts(item, i, role)?;
                if role == "user" {
                    conv.last_user_text = texts.join(" ");
                }
                conv.texts.extend(texts);
            }
            "function_call" => {
                for field in ["call_id", "name", "arguments"] {
                    if item.get(field).and_then(Value::as_str).is_none() {
                        return Err(missing(format!("input[{i}].{field}")));
                    }
                }
                calls.extend(item.get("call_id").and_then(Value::as_str).map(str::to_string));
            }
            "function_call_output" => {
                let id = item.get("call_id").and_then(Value::as_str).unwrap_or("");
                if !calls.iter().any(|c| c == id) {
                    return Err(WireError::bad_request(format!(
                        "No tool call found for function call output with call_id {id}."
                    ))
                    .with_param("input"));
                }
                if item.get("output").is_none() {
                    return Err(missing(format!("input[{i}].output")));
                }
                let text = output_text(item);
                conv.texts.push(text.clone());
                trailing_outputs.push(text);
            }
            "reasoning" => {
                if !item.get("summary").is_some_and(Value::is_array) {
                    return Err(missing(format!("input[{i}].summary")));
                }
                let id = item.get("id").and_then(Value::as_str).unwrap_or("");
                match item.get("encrypted_content").and_then(Value::as_str) {
                    Some(e) if verifies(e) => {}
                    Some(_) => {
                        return Err(WireError::bad_request(format!(
                            "The encrypted content for item {id} could not be verified. Reason: Encrypted content could not be decrypted or parsed."
                        ))
                        .with_code("invalid_encrypted_content"))
                    }
                    None => return Err(not_persisted(id)),
                }
            }
            "item_reference" => {
                return Err(not_persisted(
                    item.get("id").and_then(Value::as_str).unwrap_or(""),
                ))
            }
            other => {
                return Err(invalid_value(
                    format!("Invalid value: '{other}'. Supported values are: {ITEM_TYPES}."),
                    format!("input[{i}]"),
                ))
            }
        }
    }
    if !trailing_outputs.is_empty() {
        conv.tool_results = Some(trailing_outputs);
    }
    if let Some(tools) = obj.get("tools").and_then(Value::as_array) {
        function_tools(tools, &mut conv.tools);
    }
    conv.tool_choice = match obj.get("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => ToolChoice::Auto,
        },
        Some(v) => match v.get("name").and_then(Value::as_str) {
            Some(name) => ToolChoice::Named(name.to_string()),
            None => ToolChoice::Auto,
        },
        None => ToolChoice::Auto,
    };
    if let Some(max) = obj.get("max_output_tokens").filter(|v| !v.is_null()) {
        match max.as_u64() {
            Some(n) if n >= 16 => conv.max_tokens = Some(n),
            _ => {
                return Err(WireError::bad_request(format!(
                    "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {max} instead."
                ))
                .with_param("max_output_tokens")
                .with_code("integer_below_min_value"))
            }
        }
    }
    conv.json_mode = matches!(
        body.pointer("/text/format/type").and_then(Value::as_str),
        Some("json_object" | "json_schema")
    );
    conv.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let reasoning = obj.get("reasoning").filter(|r| r.is_object());
    if reasoning.is_some_and(|r| r.get("effort").and_then(Value::as_str) != Some("none")) {
        conv.reasoning = ReasoningMode::On;
    }
    let summary = reasoning
        .and_then(|r| r.get("summary"))
        .and_then(Value::as_str)
        .is_some_and(|s| s != "none");
    let include_encrypted = obj
        .get("include")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "reasoning.encrypted_content"));
    Ok(ResponsesRequest {
        conv,
        body: body.clone(),
        include_encrypted,
        summary,
    })
}

/// The `usage` of a response, exactly as the mock sends it: `input_tokens` includes
/// `cached_tokens`, `output_tokens` includes `reasoning_tokens`.
pub fn usage_json(answer: &Answer) -> Value {
    let u = answer.usage();
    json!({
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cache_read},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.total(),
    })
}

fn hex_id(prefix: &str) -> String {
    format!(
        "{prefix}_{:016x}{:016x}{:016x}",
        util::next_u64(),
        util::next_u64(),
        util::next_u64()
    )
}

/// Ids of one response and its items.
struct Ids {
    response: String,
    reasoning: String,
    message: String,
    calls: Vec<(String, String)>,
    created_at: u64,
}

impl Ids {
    fn new(answer: &Answer) -> Ids {
        let calls = match &answer.reply {
            Reply::ToolCalls(c) => c
                .iter()
                .map(|_| (hex_id("fc"), format!("call_{}", util::random_alnum(24))))
                .collect(),
            Reply::Text(_) => Vec::new(),
        };
        Ids {
            response: hex_id("resp"),
            reasoning: hex_id("rs"),
            message: hex_id("msg"),
            calls,
            created_at: util::now_secs(),
        }
    }
}

fn output_text_part(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

/// The finished output items: reasoning (when there is any), then the message or the
/// function calls.
fn output_items(req: &ResponsesRequest, answer: &Answer, ids: &Ids) -> Vec<Value> {
    let mut items = Vec::new();
    if !answer.reasoning.is_empty() {
        items.push(reasoning_item(req, answer, ids, true));
    }
    let status = if answer.finish == Finish::Length {
        "incomplete"
    } else {
        "completed"
    };
    match &answer.reply {
        Reply::Text(_) => items.push(json!({
            "id": ids.message, "type": "message", "status": status,
            "content": [output_text_part(&answer.text())], "role": "assistant",
        })),
        Reply::ToolCalls(calls) => {
            for (call, (id, call_id)) in calls.iter().zip(&ids.calls) {
                items.push(json!({"id": id, "type": "function_call", "status": "completed",
                    "arguments": call.arguments_json(), "call_id": call_id, "name": call.name}));
            }
        }
    }
    items
}

fn reasoning_item(req: &ResponsesRequest, answer: &Answer, ids: &Ids, done: bool) -> Value {
    let summary = if req.summary && done {
        json!([{"type": "summary_text", "text": answer.reasoning.concat()}])
    } else {
        json!([])
    };
    let mut item = json!({"id": ids.reasoning, "type": "reasoning", "summary": summary});
    if req.include_encrypted && done {
        item["encrypted_content"] = json!(encrypted_reasoning(answer));
    }
    item
}

/// The `response` object in a given state.
fn response_object(
    req: &ResponsesRequest,
    ids: &Ids,
    status: &str,
    output: Vec<Value>,
    usage: Option<Value>,
) -> Value {
    let b = &req.body;
    let echo = |key: &str, default: Value| b.get(key).filter(|v| !v.is_null()).cloned().unwrap_or(default);
    let incomplete = (status == "incomplete").then(|| json!({"reason": "max_output_tokens"}));
    let mut text = b
        .get("text")
        .filter(|t| t.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    if text.get("format").is_none() {
        text["format"] = json!({"type": "text"});
    }
    if text.get("verbosity").is_none() {
        text["verbosity"] = json!("medium");
    }
    let reasoning = json!({
        "effort": b.pointer("/reasoning/effort").cloned().unwrap_or(Value::Null),
        "summary": b.pointer("/reasoning/summary").cloned().unwrap_or(Value::Null),
    });
    let mut out = Map::new();
    let fields = [
        ("id", json!(ids.response)),
        ("object", json!("response")),
        ("created_at", json!(ids.created_at)),
        ("status", json!(status)),
        ("background", json!(false)),
        ("error", Value::Null),
        ("incomplete_details", incomplete.unwrap_or(Value::Null)),
        ("instructions", echo("instructions", Value::Null)),
        ("max_output_tokens", echo("max_output_tokens", Value::Null)),
        ("max_tool_calls", Value::Null),
        ("model", json!(req.conv.model)),
        ("output", Value::Array(output)),
        ("parallel_tool_calls", echo("parallel_tool_calls", json!(true))),
        ("previous_response_id", Value::Null),
        ("prompt_cache_key", echo("prompt_cache_key", Value::Null)),
        ("reasoning", reasoning),
        ("safety_identifier", Value::Null),
        ("service_tier", json!("default")),
        ("store", echo("store", json!(true))),
        ("temperature", echo("temperature", json!(1.0))),
        ("text", text),
        ("tool_choice", echo("tool_choice", json!("auto"))),
        ("tools", echo("tools", json!([]))),
        ("top_logprobs", json!(0)),
        ("top_p", echo("top_p", json!(1.0))),
        ("truncation", json!("disabled")),
        ("usage", usage.unwrap_or(Value::Null)),
        ("user", Value::Null),
        ("metadata", echo("metadata", json!({}))),
    ];
    for (k, v) in fields {
        out.insert(k.to_string(), v);
    }
    Value::Object(out)
}

fn final_status(answer: &Answer) -> &'static str {
    if answer.finish == Finish::Length {
        "incomplete"
    } else {
        "completed"
    }
}

/// The non-streamed `response` object.
pub fn response(req: &ResponsesRequest, answer: &Answer, no_usage: bool) -> Value {
    let ids = Ids::new(answer);
    let output = output_items(req, answer, &ids);
    let usage = (!no_usage).then(|| usage_json(answer));
    response_object(req, &ids, final_status(answer), output, usage)
}

/// The streamed events, each `event: <type>` + `data:` with a `sequence_number` counting
/// from 0: response.created, response.in_progress, then per output item
/// output_item.added, (reasoning summary part / text events | content_part.added,
/// output_text.delta…, output_text.done, content_part.done | function_call_arguments.delta…,
/// function_call_arguments.done), output_item.done; last response.completed (or
/// response.incomplete at max_output_tokens). The deltas are the content chunks.
pub fn stream_events(req: &ResponsesRequest, answer: &Answer, no_usage: bool) -> Vec<Ev> {
    let ids = Ids::new(answer);
    let mut seq: u64 = 0;
    let mut next = |ty: &str, mut data: Value| {
        data["type"] = json!(ty);
        data["sequence_number"] = json!(seq);
        seq += 1;
        named_event(ty, &data)
    };
    let mut events = Vec::new();
    let start = response_object(req, &ids, "in_progress", Vec::new(), None);
    events.push(Ev::Head(next("response.created", json!({"response": start}))));
    events.push(Ev::Head(next("response.in_progress", json!({"response": start}))));
    let finished = output_items(req, answer, &ids);
    let mut index = 0usize;
    if !answer.reasoning.is_empty() {
        let added = reasoning_item(req, answer, &ids, false);
        events.push(Ev::Head(next(
            "response.output_item.added",
            json!({"output_index": index, "item": added}),
        )));
        if req.summary {
            let at = json!({"item_id": ids.reasoning, "output_index": index, "summary_index": 0});
            let with = |mut v: Value, k: &str, x: Value| {
                v[k] = x;
                v
            };
            events.push(Ev::Head(next(
                "response.reasoning_summary_part.added",
                with(at.clone(), "part", json!({"type": "summary_text", "text": ""})),
            )));
            for r in &answer.reasoning {
                events.push(Ev::Head(next(
                    "response.reasoning_summary_text.delta",
                    with(at.clone(), "delta", json!(r)),
                )));
            }
            let text = answer.reasoning.concat();
            events.push(Ev::Head(next(
                "response.reasoning_summary_text.done",
                with(at.clone(), "text", json!(text)),
            )));
            events.push(Ev::Head(next(
                "response.reasoning_summary_part.done",
                with(at, "part", json!({"type": "summary_text", "text": text})),
            )));
        }
        events.push(Ev::Head(next(
            "response.output_item.done",
            json!({"output_index": index, "item": finished[index]}),
        )));
        index += 1;
    }
    match &answer.reply {
        Reply::Text(chunks) => {
            let added = json!({"id": ids.message, "type": "message", "status": "in_progress",
                "content": [], "role": "assistant"});
            events.push(Ev::Head(next(
                "response.output_item.added",
                json!({"output_index": index, "item": added}),
            )));
            let at = json!({"item_id": ids.message, "output_index": index, "content_index": 0});
            let mut part_added = at.clone();
            part_added["part"] = output_text_part("");
            events.push(Ev::Head(next("response.content_part.added", part_added)));
            for c in chunks {
                let mut d = at.clone();
                d["delta"] = json!(c);
                d["logprobs"] = json!([]);
                events.push(Ev::Content(next("response.output_text.delta", d)));
            }
            let text = answer.text();
            let mut done = at.clone();
            done["text"] = json!(text);
            done["logprobs"] = json!([]);
            events.push(Ev::Tail(next("response.output_text.done", done)));
            let mut part_done = at;
            part_done["part"] = output_text_part(&text);
            events.push(Ev::Tail(next("response.content_part.done", part_done)));
            events.push(Ev::Tail(next(
                "response.output_item.done",
                json!({"output_index": index, "item": finished[index]}),
            )));
        }
        Reply::ToolCalls(calls) => {
            for (k, (call, (id, call_id))) in calls.iter().zip(&ids.calls).enumerate() {
                let i = index + k;
                let added = json!({"id": id, "type": "function_call", "status": "in_progress",
                    "arguments": "", "call_id": call_id, "name": call.name});
                let ev = next(
                    "response.output_item.added",
                    json!({"output_index": i, "item": added}),
                );
                events.push(if k == 0 { Ev::Head(ev) } else { Ev::Mid(ev) });
                for frag in &call.fragments {
                    events.push(Ev::Content(next(
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": i, "delta": frag}),
                    )));
                }
                events.push(Ev::Mid(next(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": i, "name": call.name,
                        "arguments": call.arguments_json()}),
                )));
                events.push(Ev::Mid(next(
                    "response.output_item.done",
                    json!({"output_index": i, "item": finished[i]}),
                )));
            }
        }
    }
    let status = final_status(answer);
    let usage = (!no_usage).then(|| usage_json(answer));
    let done = response_object(req, &ids, status, finished, usage);
    let last = if status == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    events.push(Ev::Tail(next(last, json!({"response": done}))));
    events
}

/// The mid-stream failure (`error_after`), numbered after the `written` events before it:
/// `response.failed` with the failed response, or (`error_event`) a bare `error` event.
pub fn stream_error(req: &ResponsesRequest, answer: &Answer, bare: bool, written: u64) -> Bytes {
    let message =
        "The server had an error processing your request. Sorry about that! (injected by flint-mock)";
    if bare {
        return named_event(
            "error",
            &json!({"type": "error", "sequence_number": written, "code": "server_error",
                "message": message, "param": null}),
        );
    }
    let ids = Ids::new(answer);
    let mut failed = response_object(req, &ids, "failed", Vec::new(), None);
    failed["error"] = json!({"code": "server_error", "message": message});
    named_event(
        "response.failed",
        &json!({"type": "response.failed", "sequence_number": written, "response": failed}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::plan;
    use crate::knobs::Defaults;

    fn req(body: Value) -> Result<ResponsesRequest, WireError> {
        parse(&body)
    }

    #[test]
    fn counts_instructions_messages_and_tool_outputs() {
        let r = req(json!({"model": "gpt-5", "instructions": "be brief", "input": [
            {"role": "developer", "content": "rules here"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather in Paris"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA=="}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "checking"}]},
            {"type": "function_call", "call_id": "call_1", "name": "w", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "22C sunny"}
        ]}))
        .unwrap();
        assert_eq!(r.conv.prompt_tokens(), 2 + 2 + 3 + 1 + 2);
        assert_eq!(r.conv.tool_results, Some(vec!["22C sunny".to_string()]));
        assert_eq!(r.conv.turns, 5);
        assert_eq!(r.conv.last_user_text, "weather in Paris");
    }

    #[test]
    fn rejects_what_openai_rejects() {
        let bad = |input: Value| req(json!({"model": "m", "input": input})).unwrap_err();
        let e = bad(json!([{"type": "telepathy"}]));
        assert_eq!(
            (e.status, e.param.as_deref(), e.code.as_deref()),
            (400, Some("input[0]"), Some("invalid_value"))
        );
        let e = bad(json!([{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]));
        assert_eq!(e.param.as_deref(), Some("input[0].content[0]"));
        let e = bad(json!([{"type": "function_call_output", "call_id": "call_9", "output": "x"}]));
        assert_eq!(
            e.message,
            "No tool call found for function call output with call_id call_9."
        );
        let e = bad(json!([{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "Zm9v"}]));
        assert_eq!(e.code.as_deref(), Some("invalid_encrypted_content"));
        assert_eq!(
            bad(json!([{"type": "reasoning", "id": "rs_1", "summary": []}])).status,
            404
        );
        assert_eq!(
            bad(json!([{"type": "item_reference", "id": "msg_1"}])).status,
            404
        );
        let e = req(json!({"model": "m", "input": "x", "previous_response_id": "resp_1"})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("previous_response_id"));
        assert_eq!(
            req(json!({"input": "x"})).unwrap_err().param.as_deref(),
            Some("model")
        );
        let e = req(json!({"model": "m", "input": "x", "max_output_tokens": 5})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_output_tokens"));
    }

    #[test]
    fn issued_encrypted_reasoning_round_trips() {
        let r = req(json!({"model": "m", "input": "x", "reasoning": {"effort": "low"},
            "include": ["reasoning.encrypted_content"]}))
        .unwrap();
        let answer = plan(&r.conv, &r.conv.knobs(), &Defaults::default());
        let body = response(&r, &answer, false);
        let item = &body["output"][0];
        assert_eq!(item["type"], "reasoning");
        let back = json!({"model": "m", "input": [item, {"role": "user", "content": "more"}]});
        assert!(req(back).is_ok());
    }

    #[test]
    fn stream_numbers_every_event_and_matches_the_whole_response() {
        let r = req(json!({"model": "m", "input": "hi", "stream": true})).unwrap();
        let answer = plan(&r.conv, &r.conv.knobs(), &Defaults::default());
        let events = stream_events(&r, &answer, false);
        let mut text = String::new();
        for (n, e) in events.iter().enumerate() {
            let (Ev::Head(b) | Ev::Content(b) | Ev::Mid(b) | Ev::Tail(b)) = e;
            let s = String::from_utf8(b.to_vec()).unwrap();
            let data: Value =
                serde_json::from_str(s.lines().nth(1).unwrap().strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["sequence_number"], n as u64);
            if data["type"] == "response.output_text.delta" {
                text.push_str(data["delta"].as_str().unwrap());
            }
        }
        assert_eq!(text, answer.text());
        assert_eq!(events.len(), 2 + 2 + 8 + 3 + 1);
    }
}
