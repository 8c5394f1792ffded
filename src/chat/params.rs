//! Reading a chat body beyond what the canonical types hold. The body is parsed once into JSON;
//! then, before it becomes a `ChatRequest`:
//!
//! - the deprecated `functions` / `function_call` (and the history's assistant `function_call`
//!   and `role: "function"` messages) are rewritten as `tools` / `tool_choice` / `tool_calls` /
//!   `tool` messages, so every provider serves them; the answer is rendered back in the
//!   legacy shape (`message.function_call`, `finish_reason: "function_call"`, see `relay`);
//! - the annotations are read: `cache_control` (`{"type": "ephemeral"[, "ttl": "5m"|"1h"]}`) on
//!   a content part, a message or a tool, OpenAI's `prompt_cache_breakpoint` on a content part
//!   (a 5-minute mark), and an assistant message's `reasoning_content`.

use serde_json::{json, Map, Value};

use crate::canonical::{Annotations, CacheControl, ChatRequest, ChatRequestBody, MessageAnnotations};
use crate::error::{ApiError, ApiResult};
use crate::http;

/// A chat body as the chat surfaces read it.
#[derive(Debug, Clone)]
pub struct ParsedChat {
    pub request: ChatRequest,
    pub annotations: Annotations,
    /// The request used `functions` / `function_call`: answer in that shape.
    pub legacy_functions: bool,
}

/// Parses and validates an OpenAI chat body.
pub fn parse_chat(bytes: &[u8]) -> ApiResult<ParsedChat> {
    let mut body: Value = http::parse_json(bytes)?;
    let legacy_functions = rewrite_legacy_functions(&mut body)?;
    let annotations = annotations(&body)?;
    // The typed body is read from the text, not from the Value: one deserializer per request
    // type keeps the worker small (each type's parser is compiled once per input it reads), and
    // the text is what a refusal is located in. A rewritten body is written out first (legacy
    // requests are rare).
    let rewritten = legacy_functions.then(|| body.to_string());
    drop(body);
    let text = rewritten.as_ref().map_or(bytes, |text| text.as_bytes());
    let body: ChatRequestBody = http::parse_json(text)?;
    let request = ChatRequest::try_from(body)?;
    Ok(ParsedChat {
        request,
        annotations,
        legacy_functions,
    })
}

/// The annotations of a body's `messages` and `tools` (absent or malformed lists are left to
/// the typed parse to refuse).
pub fn annotations(body: &Value) -> ApiResult<Annotations> {
    let mut notes = Annotations::default();
    for (i, message) in body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut note = MessageAnnotations {
            cache_control: cache_control(message, &format!("messages[{i}]"))?,
            ..MessageAnnotations::default()
        };
        if let Some(parts) = message.get("content").and_then(Value::as_array) {
            for (j, part) in parts.iter().enumerate() {
                let at = format!("messages[{i}].content[{j}]");
                let mut mark = cache_control(part, &at)?;
                if mark.is_none() && part.get("prompt_cache_breakpoint").is_some_and(Value::is_object) {
                    mark = Some(CacheControl::FiveMinutes);
                }
                note.parts.push(mark);
            }
        }
        if message.get("role").and_then(Value::as_str) == Some("assistant") {
            match message.get("reasoning_content") {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) => note.reasoning_content = Some(text.clone()),
                Some(_) => {
                    return Err(ApiError::bad_request(
                        format!("messages[{i}].reasoning_content"),
                        "`reasoning_content` must be a string.",
                    ))
                }
            }
        }
        notes.messages.push(note);
    }
    for (k, tool) in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        notes.tools.push(cache_control(tool, &format!("tools[{k}]"))?);
    }
    if notes.is_empty() {
        return Ok(Annotations::default());
    }
    Ok(notes)
}

/// `object.cache_control`, checked as Anthropic checks it.
fn cache_control(object: &Value, at: &str) -> ApiResult<Option<CacheControl>> {
    let Some(mark) = object.get("cache_control").filter(|m| !m.is_null()) else {
        return Ok(None);
    };
    let param = format!("{at}.cache_control");
    if mark.get("type").and_then(Value::as_str) != Some("ephemeral") {
        return Err(ApiError::bad_request(
            param,
            "`cache_control` must be `{\"type\": \"ephemeral\"}`, optionally with `\"ttl\": \"5m\"` or `\"1h\"`.",
        ));
    }
    match mark.get("ttl") {
        None | Some(Value::Null) => Ok(Some(CacheControl::FiveMinutes)),
        Some(ttl) if ttl == "5m" => Ok(Some(CacheControl::FiveMinutes)),
        Some(ttl) if ttl == "1h" => Ok(Some(CacheControl::OneHour)),
        Some(other) => Err(ApiError::bad_request(
            format!("{param}.ttl"),
            format!("`cache_control.ttl` must be \"5m\" or \"1h\"; got {other}."),
        )),
    }
}

/// Rewrites the deprecated function-calling fields as their tool equivalents, in place;
/// whether there were any.
fn rewrite_legacy_functions(body: &mut Value) -> ApiResult<bool> {
    let Some(object) = body.as_object_mut() else {
        return Ok(false);
    };
    let mut legacy = false;
    if let Some(functions) = object.remove("functions").filter(|f| !f.is_null()) {
        if object.get("tools").is_some_and(|t| !t.is_null()) {
            return Err(ApiError::bad_request(
                "functions",
                "Use either `tools` or the deprecated `functions`, not both.",
            ));
        }
        let Value::Array(functions) = functions else {
            return Err(ApiError::bad_request(
                "functions",
                "`functions` must be an array of function definitions.",
            ));
        };
        let tools: Vec<Value> = functions
            .into_iter()
            .map(|function| json!({"type": "function", "function": function}))
            .collect();
        object.insert("tools".into(), Value::Array(tools));
        legacy = true;
    }
    if let Some(choice) = object.remove("function_call").filter(|c| !c.is_null()) {
        if !legacy {
            return Err(ApiError::bad_request(
                "function_call",
                "`function_call` is only allowed when `functions` are specified.",
            ));
        }
        if object.get("tool_choice").is_some_and(|t| !t.is_null()) {
            return Err(ApiError::bad_request(
                "function_call",
                "Use either `tool_choice` or the deprecated `function_call`, not both.",
            ));
        }
        let tool_choice = match &choice {
            Value::String(mode) if mode == "none" || mode == "auto" => choice.clone(),
            Value::Object(named) => match named.get("name").and_then(Value::as_str) {
                Some(name) => json!({"type": "function", "function": {"name": name}}),
                None => {
                    return Err(ApiError::bad_request(
                        "function_call",
                        "`function_call` must be \"none\", \"auto\" or {\"name\": \"...\"}.",
                    ))
                }
            },
            _ => {
                return Err(ApiError::bad_request(
                    "function_call",
                    "`function_call` must be \"none\", \"auto\" or {\"name\": \"...\"}.",
                ))
            }
        };
        object.insert("tool_choice".into(), tool_choice);
    }
    if legacy && !object.contains_key("parallel_tool_calls") {
        // A legacy answer carries one function call.
        object.insert("parallel_tool_calls".into(), json!(false));
    }
    if let Some(Value::Array(messages)) = object.get_mut("messages") {
        legacy |= rewrite_legacy_messages(messages)?;
    }
    Ok(legacy)
}

/// Assistant `function_call`s become `tool_calls` with minted ids; `function` messages become
/// `tool` messages answering the latest call of that function.
fn rewrite_legacy_messages(messages: &mut [Value]) -> ApiResult<bool> {
    let mut legacy = false;
    let mut calls: Vec<(String, String)> = Vec::new();
    for (i, message) in messages.iter_mut().enumerate() {
        let Some(object) = message.as_object_mut() else {
            continue;
        };
        match object.get("role").and_then(Value::as_str) {
            Some("assistant") => {
                let Some(call) = object.remove("function_call").filter(|c| !c.is_null()) else {
                    continue;
                };
                legacy = true;
                let name = call
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let arguments = call
                    .get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("{}")
                    .to_owned();
                let id = format!("call_fn_{i}");
                if object.get("tool_calls").is_none_or(Value::is_null) {
                    object.insert(
                        "tool_calls".into(),
                        json!([{"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}]),
                    );
                }
                calls.push((name, id));
            }
            Some("function") => {
                legacy = true;
                let name = object.get("name").and_then(Value::as_str).unwrap_or_default();
                let Some((_, id)) = calls.iter().rev().find(|(called, _)| called == name) else {
                    return Err(ApiError::bad_request(
                        format!("messages[{i}]"),
                        format!("A `function` message must answer an earlier assistant `function_call` of `{name}`."),
                    ));
                };
                let content = match object.remove("content") {
                    Some(Value::Null) | None => Value::String(String::new()),
                    Some(content) => content,
                };
                let mut tool = Map::new();
                tool.insert("role".into(), json!("tool"));
                tool.insert("tool_call_id".into(), json!(id));
                tool.insert("content".into(), content);
                *object = tool;
            }
            _ => {}
        }
    }
    Ok(legacy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Message, ToolChoice};

    fn parse(body: Value) -> ApiResult<ParsedChat> {
        parse_chat(body.to_string().as_bytes())
    }

    #[test]
    fn cache_marks_and_reasoning_content_are_read_by_position() {
        let parsed = parse(json!({"model": "m", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "big", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "user", "content": "hi", "cache_control": {"type": "ephemeral"}},
            {"role": "assistant", "content": "ok", "reasoning_content": "thought"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "prompt_cache_breakpoint": {"mode": "explicit"}}]}
        ], "tools": [{"type": "function", "function": {"name": "f"}, "cache_control": {"type": "ephemeral", "ttl": "5m"}}]}))
        .unwrap();
        let notes = &parsed.annotations;
        assert_eq!(notes.part(0, 0), Some(CacheControl::OneHour));
        assert_eq!(notes.on_message(1), Some(CacheControl::FiveMinutes));
        assert_eq!(notes.reasoning_content(2), Some("thought"));
        assert_eq!(
            (notes.part(3, 0), notes.part(3, 1)),
            (None, Some(CacheControl::FiveMinutes))
        );
        assert_eq!(notes.tool(0), Some(CacheControl::FiveMinutes));
        assert!(!parsed.legacy_functions);
        // The request itself is the canonical one.
        assert_eq!(parsed.request.messages.len(), 4);
    }

    #[test]
    fn a_plain_request_has_no_annotations() {
        let parsed = parse(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})).unwrap();
        assert_eq!(parsed.annotations, Annotations::default());
    }

    #[test]
    fn malformed_cache_marks_are_400s_naming_them() {
        let param = |body: Value| parse(body).unwrap_err().param.clone().unwrap_or_default();
        assert_eq!(
            param(
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "persistent"}}]}]})
            ),
            "messages[0].content[0].cache_control"
        );
        assert_eq!(
            param(
                json!({"model": "m", "messages": [{"role": "user", "content": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}]})
            ),
            "messages[0].cache_control.ttl"
        );
        assert_eq!(
            param(
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "reasoning_content": 5}]})
            ),
            "messages[1].reasoning_content"
        );
    }

    #[test]
    fn legacy_function_calling_becomes_tools() {
        let parsed = parse(json!({"model": "m",
            "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
            "function_call": {"name": "get_weather"},
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"role": "function", "name": "get_weather", "content": "rain"}
            ]}))
        .unwrap();
        assert!(parsed.legacy_functions);
        let request = parsed.request;
        assert_eq!(request.tools.as_ref().unwrap()[0].function.name, "get_weather");
        assert!(
            matches!(&request.tool_choice, Some(ToolChoice::Named(n)) if n.function.name == "get_weather")
        );
        assert_eq!(request.parallel_tool_calls, Some(false));
        let Message::Assistant {
            tool_calls: Some(calls),
            ..
        } = &request.messages[1]
        else {
            panic!("{:?}", request.messages[1]);
        };
        assert_eq!(calls[0].function.arguments, "{\"city\":\"Oslo\"}");
        assert!(
            matches!(&request.messages[2], Message::Tool { tool_call_id, .. } if *tool_call_id == calls[0].id)
        );
    }

    #[test]
    fn legacy_fields_that_conflict_are_400s() {
        let param = |body: Value| parse(body).unwrap_err().param.clone().unwrap_or_default();
        let user = json!([{"role": "user", "content": "x"}]);
        assert_eq!(
            param(
                json!({"model": "m", "messages": user, "functions": [{"name": "f"}], "tools": [{"type": "function", "function": {"name": "g"}}]})
            ),
            "functions"
        );
        assert_eq!(
            param(json!({"model": "m", "messages": user, "function_call": "auto"})),
            "function_call"
        );
        assert_eq!(
            param(
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "function", "name": "f", "content": "r"}]})
            ),
            "messages[1]"
        );
    }

    #[test]
    fn the_current_parameters_are_accepted_and_bad_values_named() {
        let ok = parse(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "prompt_cache_key": "k", "prompt_cache_retention": "24h", "safety_identifier": "u1", "service_tier": "priority",
            "store": true, "metadata": {"a": "b"}, "modalities": ["text"], "audio": {"voice": "alloy", "format": "mp3"},
            "prediction": {"type": "content", "content": "x"}, "web_search_options": {}, "verbosity": "low",
            "reasoning_effort": "xhigh", "parallel_tool_calls": true, "logprobs": true, "top_logprobs": 3,
            "logit_bias": {"50256": -100}, "seed": 1, "n": 2, "stop": "\n", "moderation": {"model": "omni-moderation-latest"},
            "prompt_cache_options": {"mode": "implicit"}, "user": "u"}),
        );
        assert!(ok.is_ok(), "{:?}", ok.err());
        let param = |key: &str, value: Value| {
            let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
            body[key] = value;
            parse(body).unwrap_err().param.clone().unwrap_or_default()
        };
        assert_eq!(param("reasoning_effort", json!("extreme")), "reasoning_effort");
        assert_eq!(param("service_tier", json!("gold")), "service_tier");
        assert_eq!(param("top_logprobs", json!(21)), "top_logprobs");
        assert_eq!(param("store", json!("yes")), "store");
        assert_eq!(param("n", json!(129)), "n");
        assert_eq!(param("n", json!(0)), "n");
        assert_eq!(param("prediction", json!({"type": "guess"})), "prediction");
        assert_eq!(param("frobnicate", json!(1)), "frobnicate");
    }
}
