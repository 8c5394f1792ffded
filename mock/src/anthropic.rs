//! Anthropic Messages (`POST …/v1/messages`) wire format.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::answer::{Answer, Conversation, Finish, ReasoningMode, Reply, ToolChoice, ToolSpec};
use crate::error::WireError;
use crate::knobs::CacheTtl;
use crate::stream::{named_event, Ev};
use crate::util;

/// The signature the mock gives a thinking block: a deterministic function of its text,
/// so a block sent back unchanged verifies and an edited or invented one does not (as
/// Anthropic's `Invalid \`signature\` in \`thinking\` block`).
pub fn thinking_signature(thinking: &str) -> String {
    util::b64_encode(format!("flint-mock-thinking:{:016x}", util::fnv1a64(thinking.as_bytes())).as_bytes())
}

/// The TTL the request's `cache_control` markers ask for: 1h when any says `"ttl": "1h"`,
/// else 5m when there is any, else none.
fn requested_cache_ttl(body: &Value) -> Option<CacheTtl> {
    fn walk(v: &Value, found: &mut Option<CacheTtl>) {
        match v {
            Value::Object(o) => {
                if let Some(cc) = o.get("cache_control").filter(|c| c.is_object()) {
                    let ttl = cc.get("ttl").and_then(Value::as_str).and_then(CacheTtl::parse);
                    if ttl == Some(CacheTtl::OneHour) || found.is_none() {
                        *found = Some(ttl.unwrap_or_default());
                    }
                }
                o.values().for_each(|x| walk(x, found));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, found)),
            _ => {}
        }
    }
    let mut found = None;
    walk(body, &mut found);
    found
}

/// Reads `thinking` the way Anthropic validates it: `enabled` needs `budget_tokens` ≥ 1024
/// and below `max_tokens`; `adaptive` and `disabled` take no budget.
fn thinking_mode(obj: &serde_json::Map<String, Value>, max_tokens: u64) -> Result<ReasoningMode, WireError> {
    let Some(thinking) = obj.get("thinking").filter(|t| !t.is_null()) else {
        return Ok(ReasoningMode::Off);
    };
    let mode = match thinking.get("type").and_then(Value::as_str) {
        Some("enabled") => {
            let Some(budget) = thinking.get("budget_tokens") else {
                return Err(WireError::bad_request("thinking.enabled.budget_tokens: Field required"));
            };
            let Some(budget) = budget.as_u64() else {
                return Err(WireError::bad_request(
                    "thinking.enabled.budget_tokens: Input should be a valid integer",
                ));
            };
            if budget < 1024 {
                return Err(WireError::bad_request(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                ));
            }
            if budget >= max_tokens {
                return Err(WireError::bad_request(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
                ));
            }
            ReasoningMode::On
        }
        Some("adaptive") => ReasoningMode::On,
        Some("disabled") => ReasoningMode::Off,
        other => {
            return Err(WireError::bad_request(format!(
                "thinking: Input tag '{}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled', 'adaptive'",
                other.unwrap_or("")
            )))
        }
    };
    if mode == ReasoningMode::On {
        if let Some(t) = obj.get("temperature").and_then(Value::as_f64) {
            if t != 1.0 {
                return Err(WireError::bad_request(
                    "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
                ));
            }
        }
    }
    Ok(mode)
}

fn block_texts(content: Option<&Value>) -> Vec<String> {
    match content {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn blocks_of_type<'a>(content: Option<&'a Value>, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    content
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |b| b.get("type").and_then(Value::as_str) == Some(ty))
}

/// Parses and validates a request the way Anthropic does: `max_tokens` required, roles
/// `user`/`assistant` only, strictly alternating and starting with `user`, and every
/// `tool_use` answered by a `tool_result` in the next message (and vice versa).
pub fn parse(body: &Value) -> Result<Conversation, WireError> {
    let Some(obj) = body.as_object() else {
        return Err(WireError::bad_request("The request body is not valid JSON."));
    };
    let model = match obj.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => return Err(WireError::bad_request("model: Field required")),
    };
    let Some(max_tokens) = obj.get("max_tokens") else {
        return Err(WireError::bad_request("max_tokens: Field required"));
    };
    let Some(max_tokens) = max_tokens.as_u64() else {
        return Err(WireError::bad_request(
            "max_tokens: Input should be a valid integer",
        ));
    };
    let Some(messages) = obj.get("messages").and_then(Value::as_array) else {
        return Err(WireError::bad_request("messages: Field required"));
    };
    if messages.is_empty() {
        return Err(WireError::bad_request(
            "messages: at least one message is required",
        ));
    }
    let mut conv = Conversation {
        model,
        max_tokens: Some(max_tokens),
        reasoning: thinking_mode(obj, max_tokens)?,
        cache_ttl: requested_cache_ttl(body),
        turns: messages.len() as u64,
        ..Default::default()
    };
    conv.texts.extend(block_texts(obj.get("system")));

    let mut prev_role = "";
    let mut pending_tool_uses: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "user" | "assistant" => {}
            "system" => {
                return Err(WireError::bad_request(format!(
                    "messages.{i}.role: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role."
                )))
            }
            other => {
                return Err(WireError::bad_request(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant', got '{other}'"
                )))
            }
        }
        if i == 0 && role != "user" {
            return Err(WireError::bad_request(
                "messages: first message must use the \"user\" role",
            ));
        }
        if role == prev_role {
            return Err(WireError::bad_request(format!(
                "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row"
            )));
        }
        let content = m.get("content");
        if content.is_none() {
            return Err(WireError::bad_request(format!(
                "messages.{i}.content: Field required"
            )));
        }
        conv.texts.extend(block_texts(content));
        if role == "user" {
            conv.last_user_text = block_texts(content).join(" ");
        }
        for (j, b) in content
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if b.get("type").and_then(Value::as_str) != Some("thinking") {
                continue;
            }
            let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
            let signature = b.get("signature").and_then(Value::as_str).unwrap_or("");
            if signature != thinking_signature(text) {
                return Err(WireError::bad_request(format!(
                    "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                )));
            }
        }

        let results: Vec<&Value> = blocks_of_type(content, "tool_result").collect();
        for (j, r) in results.iter().enumerate() {
            let id = r.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
            if role != "user" || !pending_tool_uses.iter().any(|p| p == id) {
                return Err(WireError::bad_request(format!(
                    "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                )));
            }
            conv.texts.extend(block_texts(r.get("content")));
        }
        if !pending_tool_uses.is_empty() {
            let answered: Vec<&str> = results
                .iter()
                .filter_map(|r| r.get("tool_use_id").and_then(Value::as_str))
                .collect();
            let missing: Vec<&str> = pending_tool_uses
                .iter()
                .map(String::as_str)
                .filter(|p| !answered.contains(p))
                .collect();
            if !missing.is_empty() {
                return Err(WireError::bad_request(format!(
                    "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    i - 1,
                    missing.join(", ")
                )));
            }
        }
        pending_tool_uses = if role == "assistant" {
            blocks_of_type(content, "tool_use")
                .filter_map(|b| b.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        } else {
            Vec::new()
        };
        if i + 1 == messages.len() && !results.is_empty() {
            conv.tool_results = Some(
                results
                    .iter()
                    .map(|r| block_texts(r.get("content")).join(" "))
                    .collect(),
            );
        }
        prev_role = role;
    }

    for t in obj.get("tools").and_then(Value::as_array).into_iter().flatten() {
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            return Err(WireError::bad_request("tools.0.name: Field required"));
        };
        let schema = t.get("input_schema").cloned().unwrap_or_else(|| json!({}));
        conv.tools.push(ToolSpec {
            name: name.to_string(),
            schema,
        });
    }
    conv.tool_choice = match obj
        .get("tool_choice")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
    {
        Some("none") => ToolChoice::None,
        Some("any") => ToolChoice::Required,
        Some("tool") => match body.pointer("/tool_choice/name").and_then(Value::as_str) {
            Some(name) => ToolChoice::Named(name.to_string()),
            None => return Err(WireError::bad_request("tool_choice.tool.name: Field required")),
        },
        _ => ToolChoice::Auto,
    };
    if conv.reasoning == ReasoningMode::On {
        thinking_rules(messages, &conv.tool_choice)?;
    }
    conv.stop = obj
        .get("stop_sequences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    conv.json_mode = body.pointer("/output_format/type").and_then(Value::as_str) == Some("json_schema")
        || body.pointer("/output_config/format/type").and_then(Value::as_str) == Some("json_schema");
    conv.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(conv)
}

/// What Anthropic refuses with thinking on: a tool choice that forces tool use, and a final
/// assistant turn of tool calls (answered by the last user turn's tool results) that does not
/// start with its thinking block.
fn thinking_rules(messages: &[Value], choice: &ToolChoice) -> Result<(), WireError> {
    if matches!(choice, ToolChoice::Required | ToolChoice::Named(_)) {
        return Err(WireError::bad_request(
            "Thinking may not be enabled when tool_choice forces tool use.",
        ));
    }
    let answered = messages
        .last()
        .is_some_and(|m| blocks_of_type(m.get("content"), "tool_result").next().is_some());
    let Some((i, assistant)) = messages
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.get("role").and_then(Value::as_str) == Some("assistant"))
    else {
        return Ok(());
    };
    let calls = blocks_of_type(assistant.get("content"), "tool_use")
        .next()
        .is_some();
    let first = assistant
        .get("content")
        .and_then(Value::as_array)
        .and_then(|b| b.first())
        .and_then(|b| b.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("text");
    if answered && calls && first != "thinking" && first != "redacted_thinking" {
        return Err(WireError::bad_request(format!(
            "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        )));
    }
    Ok(())
}

/// `POST …/v1/messages/count_tokens`: the request's prompt tokens by the mock's rule (the
/// words; cache knobs do not count), validated as a message request without `max_tokens`.
pub fn count_tokens(body: &Value) -> Result<u64, WireError> {
    let mut body = body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.entry("max_tokens").or_insert(json!(u64::MAX));
    }
    parse(&body).map(|c| c.prompt_tokens())
}

fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Anthropic's error envelope for `err`.
pub fn error_body(err: &WireError) -> Value {
    json!({
        "type": "error",
        "error": {"type": error_type(err.status), "message": err.message},
        "request_id": format!("req_011{}", util::random_alnum(21)),
    })
}

/// The mid-stream error event (`error_after`).
pub fn stream_error() -> Bytes {
    named_event(
        "error",
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )
}

fn stop_reason(finish: &Finish) -> (&'static str, Value) {
    match finish {
        Finish::Stop => ("end_turn", Value::Null),
        Finish::Length => ("max_tokens", Value::Null),
        Finish::StopSequence(s) => ("stop_sequence", json!(s)),
        Finish::ToolCalls => ("tool_use", Value::Null),
    }
}

fn usage(answer: &Answer, output_tokens: u64) -> Value {
    let u = answer.usage();
    json!({
        "input_tokens": u.uncached_input(),
        "cache_creation_input_tokens": u.cache_write(),
        "cache_read_input_tokens": u.cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": u.cache_write_5m,
            "ephemeral_1h_input_tokens": u.cache_write_1h},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    })
}

/// The `usage` of a whole message, exactly as the mock sends it: `input_tokens` excludes
/// the cache counts; `output_tokens` includes thinking.
pub fn usage_json(answer: &Answer) -> Value {
    usage(answer, answer.completion_tokens)
}

/// The `usage` of a stream's `message_start` (Anthropic's early count: one output token).
pub fn start_usage_json(answer: &Answer) -> Value {
    usage(answer, 1)
}

/// The `usage` of a stream's `message_delta`: the final, cumulative counts.
pub fn delta_usage_json(answer: &Answer) -> Value {
    let u = answer.usage();
    json!({
        "input_tokens": u.uncached_input(),
        "cache_creation_input_tokens": u.cache_write(),
        "cache_read_input_tokens": u.cache_read,
        "output_tokens": u.output,
    })
}

fn tool_ids(answer: &Answer) -> Vec<String> {
    match &answer.reply {
        Reply::ToolCalls(calls) => calls
            .iter()
            .map(|_| format!("toolu_01{}", util::random_alnum(22)))
            .collect(),
        Reply::Text(_) => Vec::new(),
    }
}

fn message_id() -> String {
    format!("msg_01{}", util::random_alnum(22))
}

/// The non-streamed message object; a reasoning answer starts with its thinking block.
pub fn message(conv: &Conversation, answer: &Answer, no_usage: bool) -> Value {
    let mut content: Vec<Value> = Vec::new();
    if !answer.reasoning.is_empty() {
        let text = answer.reasoning.concat();
        content.push(json!({"type": "thinking", "thinking": text, "signature": thinking_signature(&text)}));
    }
    content.extend(match &answer.reply {
        Reply::Text(_) => vec![json!({"type": "text", "text": answer.text()})],
        Reply::ToolCalls(calls) => calls
            .iter()
            .zip(tool_ids(answer))
            .map(|(c, id)| json!({"type": "tool_use", "id": id, "name": c.name, "input": c.arguments}))
            .collect::<Vec<Value>>(),
    });
    let (reason, sequence) = stop_reason(&answer.finish);
    let mut out = json!({
        "id": message_id(), "type": "message", "role": "assistant", "model": conv.model,
        "content": content, "stop_reason": reason, "stop_sequence": sequence,
    });
    if !no_usage {
        out["usage"] = usage(answer, answer.completion_tokens);
    }
    out
}

/// The streamed event sequence: message_start, content_block_start, ping,
/// content_block_delta…, content_block_stop, (next block…), message_delta, message_stop.
/// A reasoning answer opens with a thinking block (thinking_delta…, signature_delta); its
/// events precede the content chunks that `error_after` / `cut_after` count.
/// `ping_every=N` adds a ping after every N content chunks.
pub fn stream_events(
    conv: &Conversation,
    answer: &Answer,
    no_usage: bool,
    ping_every: Option<u64>,
) -> Vec<Ev> {
    let mut start = json!({
        "id": message_id(), "type": "message", "role": "assistant", "model": conv.model,
        "content": [], "stop_reason": null, "stop_sequence": null,
    });
    if !no_usage {
        start["usage"] = start_usage_json(answer);
    }
    let mut events = vec![Ev::Head(named_event(
        "message_start",
        &json!({"type": "message_start", "message": start}),
    ))];
    let ping = || named_event("ping", &json!({"type": "ping"}));
    let stop_block = |i: usize| {
        named_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": i}),
        )
    };
    let block_delta = |i: usize, delta: Value| {
        named_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": i, "delta": delta}),
        )
    };
    let mut first = 0;
    let mut pinged = false;
    if !answer.reasoning.is_empty() {
        events.push(Ev::Head(named_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        )));
        events.push(Ev::Head(ping()));
        pinged = true;
        for r in &answer.reasoning {
            events.push(Ev::Head(block_delta(
                0,
                json!({"type": "thinking_delta", "thinking": r}),
            )));
        }
        let signature = thinking_signature(&answer.reasoning.concat());
        events.push(Ev::Head(block_delta(
            0,
            json!({"type": "signature_delta", "signature": signature}),
        )));
        events.push(Ev::Head(stop_block(0)));
        first = 1;
    }
    let mut last_block = first;
    let mut contents = 0u64;
    let mut content = |events: &mut Vec<Ev>, bytes: Bytes| {
        events.push(Ev::Content(bytes));
        contents += 1;
        if ping_every.is_some_and(|n| n > 0 && contents % n == 0) {
            events.push(Ev::Mid(ping()));
        }
    };
    match &answer.reply {
        Reply::Text(chunks) => {
            events.push(Ev::Head(named_event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": first, "content_block": {"type": "text", "text": ""}}),
            )));
            if !pinged {
                events.push(Ev::Head(ping()));
            }
            for c in chunks {
                content(
                    &mut events,
                    block_delta(first, json!({"type": "text_delta", "text": c})),
                );
            }
        }
        Reply::ToolCalls(calls) => {
            for (k, (call, id)) in calls.iter().zip(tool_ids(answer)).enumerate() {
                let i = first + k;
                let start_block = named_event(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": i,
                        "content_block": {"type": "tool_use", "id": id, "name": call.name, "input": {}}}),
                );
                if k == 0 {
                    events.push(Ev::Head(start_block));
                    if !pinged {
                        events.push(Ev::Head(ping()));
                    }
                } else {
                    events.push(Ev::Mid(stop_block(i - 1)));
                    events.push(Ev::Mid(start_block));
                }
                for frag in &call.fragments {
                    content(
                        &mut events,
                        block_delta(i, json!({"type": "input_json_delta", "partial_json": frag})),
                    );
                }
                last_block = i;
            }
        }
    }
    events.push(Ev::Tail(stop_block(last_block)));
    let (reason, sequence) = stop_reason(&answer.finish);
    let mut delta =
        json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence}});
    if !no_usage {
        delta["usage"] = delta_usage_json(answer);
    }
    events.push(Ev::Tail(named_event("message_delta", &delta)));
    events.push(Ev::Tail(named_event(
        "message_stop",
        &json!({"type": "message_stop"}),
    )));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(messages: Value) -> Value {
        json!({"model": "claude", "max_tokens": 100, "messages": messages})
    }

    #[test]
    fn requires_max_tokens_and_alternation() {
        let no_max = json!({"model":"c","messages":[{"role":"user","content":"hi"}]});
        assert!(parse(&no_max).unwrap_err().message.contains("max_tokens"));
        let twice = msgs(json!([{"role":"user","content":"a"},{"role":"user","content":"b"}]));
        assert!(parse(&twice).unwrap_err().message.contains("alternate"));
        let starts_wrong = msgs(json!([{"role":"assistant","content":"a"}]));
        assert!(parse(&starts_wrong)
            .unwrap_err()
            .message
            .contains("first message"));
        let system = msgs(json!([{"role":"system","content":"a"},{"role":"user","content":"b"}]));
        assert!(parse(&system).unwrap_err().message.contains("system"));
    }

    #[test]
    fn thinking_is_validated_like_anthropic() {
        let with = |thinking: Value, max: u64| {
            json!({"model": "c", "max_tokens": max, "thinking": thinking,
                "messages": [{"role": "user", "content": "hi"}]})
        };
        let ok = parse(&with(json!({"type": "enabled", "budget_tokens": 1024}), 2048)).unwrap();
        assert_eq!(ok.reasoning, ReasoningMode::On);
        let small = parse(&with(json!({"type": "enabled", "budget_tokens": 1000}), 2048));
        assert!(small
            .unwrap_err()
            .message
            .contains("greater than or equal to 1024"));
        let over = parse(&with(json!({"type": "enabled", "budget_tokens": 2048}), 2048));
        assert!(over
            .unwrap_err()
            .message
            .starts_with("`max_tokens` must be greater"));
        assert_eq!(
            parse(&with(json!({"type": "adaptive"}), 10)).unwrap().reasoning,
            ReasoningMode::On
        );
        assert_eq!(
            parse(&with(json!({"type": "disabled"}), 10)).unwrap().reasoning,
            ReasoningMode::Off
        );
        assert_eq!(
            parse(&msgs(json!([{"role":"user","content":"x"}])))
                .unwrap()
                .reasoning,
            ReasoningMode::Off
        );
        assert_eq!(
            parse(&with(json!({"type": "bogus"}), 10)).unwrap_err().status,
            400
        );
        let mut hot = with(json!({"type": "adaptive"}), 10);
        hot["temperature"] = json!(0.5);
        assert!(parse(&hot).unwrap_err().message.contains("temperature"));
    }

    #[test]
    fn a_thinking_block_must_carry_the_signature_the_mock_gave_it() {
        let turn = |signature: &str| {
            msgs(json!([
                {"role":"user","content":"q"},
                {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":signature},
                    {"type":"text","text":"a"}]},
                {"role":"user","content":"next"}
            ]))
        };
        assert!(parse(&turn(&thinking_signature("hmm"))).is_ok());
        let err = parse(&turn("forged")).unwrap_err();
        assert_eq!(
            err.message,
            "messages.1.content.0: Invalid `signature` in `thinking` block"
        );
    }

    #[test]
    fn thinking_refuses_forced_tools_and_a_tool_turn_without_its_thinking_block() {
        let thinking = json!({"type": "enabled", "budget_tokens": 1024});
        let forced = json!({"model":"c","max_tokens":2048,"thinking":thinking,"tools":[{"name":"f","input_schema":{"type":"object"}}],
            "tool_choice":{"type":"any"},"messages":[{"role":"user","content":"hi"}]});
        assert!(parse(&forced).unwrap_err().message.contains("forces tool use"));
        let turn = |first: Value| {
            json!({"model":"c","max_tokens":2048,"thinking":thinking,"tools":[{"name":"f","input_schema":{"type":"object"}}],
                "messages":[{"role":"user","content":"hi"},
                    {"role":"assistant","content":[first, {"type":"tool_use","id":"t1","name":"f","input":{}}]},
                    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"r"}]}]})
        };
        let err = parse(&turn(json!({"type":"text","text":"calling"}))).unwrap_err();
        assert!(
            err.message
                .starts_with("messages.1.content.0.type: Expected `thinking`"),
            "{}",
            err.message
        );
        let signed = json!({"type":"thinking","thinking":"hmm","signature":thinking_signature("hmm")});
        assert!(parse(&turn(signed)).is_ok());
        // Without thinking the same history is fine.
        let mut plain = turn(json!({"type":"text","text":"calling"}));
        plain.as_object_mut().unwrap().remove("thinking");
        assert!(parse(&plain).is_ok());
    }

    #[test]
    fn the_cache_ttl_comes_from_cache_control() {
        let body = json!({"model":"c","max_tokens":5,"system":[{"type":"text","text":"s",
            "cache_control":{"type":"ephemeral","ttl":"1h"}}],
            "messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]}]});
        assert_eq!(parse(&body).unwrap().cache_ttl, Some(CacheTtl::OneHour));
        let plain = msgs(
            json!([{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]}]),
        );
        assert_eq!(parse(&plain).unwrap().cache_ttl, Some(CacheTtl::FiveMinutes));
        assert_eq!(
            parse(&msgs(json!([{"role":"user","content":"x"}])))
                .unwrap()
                .cache_ttl,
            None
        );
    }

    #[test]
    fn tool_results_must_answer_the_previous_tool_uses() {
        let ok = msgs(json!([
            {"role":"user","content":"weather?"},
            {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"w","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny and warm"}]}
        ]));
        let conv = parse(&ok).unwrap();
        assert_eq!(conv.tool_results, Some(vec!["sunny and warm".to_string()]));
        assert_eq!(conv.prompt_tokens(), 4);
        let unanswered = msgs(json!([
            {"role":"user","content":"weather?"},
            {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"w","input":{}}]},
            {"role":"user","content":"never mind"}
        ]));
        assert!(parse(&unanswered).unwrap_err().message.contains("toolu_1"));
        let stray = msgs(json!([
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"x"}]}
        ]));
        assert!(parse(&stray).unwrap_err().message.contains("toolu_9"));
    }
}
