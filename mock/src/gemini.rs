//! Gemini (`POST …/v1beta/models/{model}:generateContent` / `:streamGenerateContent`) wire format.
//!
//! Google's REST API accepts both camelCase and snake_case field names; so does this parser.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::answer::{Answer, Conversation, Finish, ReasoningMode, Reply, ToolChoice, ToolSpec};
use crate::error::WireError;
use crate::stream::Ev;
use crate::util;

/// `obj[camel]`, else `obj[snake]`.
fn field<'a>(obj: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| obj.get(snake))
}

fn part_texts(parts: Option<&Value>) -> Vec<String> {
    parts
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The text of a functionResponse: its `response` when a string, the single string field
/// of a one-field object (`{"result": "…"}`), else the compact JSON of `response`.
pub fn function_response_text(fr: &Value) -> String {
    match fr.get("response") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) if o.len() == 1 => match o.values().next() {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        },
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// Parses and validates a request the way Google does: `contents` non-empty, roles `user`
/// or `model` only, no empty `parts`.
pub fn parse(body: &Value, model: &str, stream: bool) -> Result<Conversation, WireError> {
    if !body.is_object() {
        return Err(WireError::bad_request("Invalid JSON payload received."));
    }
    let contents = match body.get("contents").and_then(Value::as_array) {
        Some(c) if !c.is_empty() => c,
        _ => {
            return Err(WireError::bad_request(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ))
        }
    };
    let mut conv = Conversation {
        model: model.to_string(),
        stream,
        turns: contents.len() as u64,
        ..Default::default()
    };
    if let Some(system) = field(body, "systemInstruction", "system_instruction") {
        conv.texts.extend(part_texts(system.get("parts")));
    }
    for (i, c) in contents.iter().enumerate() {
        match c.get("role").and_then(Value::as_str) {
            None | Some("user" | "model" | "function" | "") => {}
            Some(_) => return Err(WireError::bad_request("Please use a valid role: user, model.")),
        }
        let parts = match c.get("parts").and_then(Value::as_array) {
            Some(p) if !p.is_empty() => p,
            _ => {
                return Err(WireError::bad_request(format!(
                    "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
                )))
            }
        };
        let mut results = Vec::new();
        if c.get("role").and_then(Value::as_str) != Some("model") {
            conv.last_user_text = part_texts(c.get("parts")).join(" ");
        }
        for p in parts {
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                conv.texts.push(t.to_string());
            }
            if let Some(fr) = field(p, "functionResponse", "function_response") {
                let text = function_response_text(fr);
                conv.texts.push(text.clone());
                results.push(text);
            }
        }
        if i + 1 == contents.len() && !results.is_empty() {
            conv.tool_results = Some(results);
        }
    }
    for t in body.get("tools").and_then(Value::as_array).into_iter().flatten() {
        let decls = field(t, "functionDeclarations", "function_declarations").and_then(Value::as_array);
        for d in decls.into_iter().flatten() {
            let Some(name) = d.get("name").and_then(Value::as_str) else {
                return Err(WireError::bad_request(
                    "* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.\n",
                ));
            };
            let schema = field(d, "parameters", "parameters")
                .or_else(|| field(d, "parametersJsonSchema", "parameters_json_schema"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            conv.tools.push(ToolSpec {
                name: name.to_string(),
                schema,
            });
        }
    }
    if let Some(cfg) = field(body, "toolConfig", "tool_config")
        .and_then(|t| field(t, "functionCallingConfig", "function_calling_config"))
    {
        let allowed = field(cfg, "allowedFunctionNames", "allowed_function_names")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str);
        conv.tool_choice = match cfg.get("mode").and_then(Value::as_str) {
            Some("NONE") => ToolChoice::None,
            Some("ANY") => match allowed {
                Some(name) => ToolChoice::Named(name.to_string()),
                None => ToolChoice::Required,
            },
            _ => ToolChoice::Auto,
        };
    }
    if let Some(gen) = field(body, "generationConfig", "generation_config") {
        conv.max_tokens = field(gen, "maxOutputTokens", "max_output_tokens").and_then(Value::as_u64);
        conv.json_mode = field(gen, "responseMimeType", "response_mime_type").and_then(Value::as_str)
            == Some("application/json");
        conv.stop = field(gen, "stopSequences", "stop_sequences")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        // Gemini thinks by default; a zero budget turns it off.
        let budget = field(gen, "thinkingConfig", "thinking_config")
            .and_then(|t| field(t, "thinkingBudget", "thinking_budget"))
            .and_then(Value::as_i64);
        if budget == Some(0) {
            conv.reasoning = ReasoningMode::Off;
        }
    }
    Ok(conv)
}

/// `:countTokens`: the prompt tokens of `contents` (or of a `generateContentRequest`).
pub fn count_tokens(body: &Value) -> Result<u64, WireError> {
    let inner = body.get("generateContentRequest").unwrap_or(body);
    parse(inner, "", false).map(|c| c.prompt_tokens())
}

/// Whether the request asks for thought summaries (`thinkingConfig.includeThoughts`).
pub fn includes_thoughts(body: &Value) -> bool {
    field(body, "generationConfig", "generation_config")
        .and_then(|g| field(g, "thinkingConfig", "thinking_config"))
        .and_then(|t| field(t, "includeThoughts", "include_thoughts"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        s if s >= 500 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

/// Google's error envelope for `err`; a 429 carries a RetryInfo detail.
pub fn error_body(err: &WireError) -> Value {
    let mut error = json!({"code": err.status, "message": err.message, "status": status_name(err.status)});
    if err.status == 429 {
        error["details"] = json!([
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                             "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo",
             "retryDelay": format!("{}s", err.retry_after.unwrap_or(1))}
        ]);
    }
    json!({"error": error})
}

/// The error for a wrong API key, exactly as Google sends it (400, not 401).
pub fn invalid_key_body() -> Value {
    json!({"error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
            "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]
    }})
}

/// The error for a missing API key, as Google sends it (403).
pub fn missing_key_body() -> Value {
    json!({"error": {
        "code": 403,
        "message": "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        "status": "PERMISSION_DENIED"
    }})
}

/// How a stream is framed: `alt=sse` (events separated by `\r\n\r\n`, as Google sends
/// them) or the default JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sse,
    JsonArray,
}

fn finish_reason(finish: &Finish) -> &'static str {
    match finish {
        Finish::Length => "MAX_TOKENS",
        Finish::Stop | Finish::StopSequence(_) | Finish::ToolCalls => "STOP",
    }
}

fn usage(answer: &Answer, candidates: u64) -> Value {
    let u = answer.usage();
    let mut v = json!({
        "promptTokenCount": u.input,
        "candidatesTokenCount": candidates,
        "totalTokenCount": u.input + candidates + u.reasoning,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input}],
    });
    // Google leaves these out when they are zero.
    if u.cache_read > 0 {
        v["cachedContentTokenCount"] = json!(u.cache_read);
        v["cacheTokensDetails"] = json!([{"modality": "TEXT", "tokenCount": u.cache_read}]);
    }
    if u.reasoning > 0 {
        v["thoughtsTokenCount"] = json!(u.reasoning);
    }
    v
}

/// The `usageMetadata` of a whole answer (and of a stream's last chunk), exactly as the
/// mock sends it: `promptTokenCount` includes `cachedContentTokenCount`;
/// `thoughtsTokenCount` is outside `candidatesTokenCount` and inside `totalTokenCount`.
pub fn usage_json(answer: &Answer) -> Value {
    usage(answer, answer.usage().visible_output())
}

fn response(
    conv: &Conversation,
    id: &str,
    parts: Value,
    finish: Option<&str>,
    usage: Option<Value>,
) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    let mut out = json!({"candidates": [candidate]});
    if let Some(u) = usage {
        out["usageMetadata"] = u;
    }
    out["modelVersion"] = json!(conv.model);
    out["responseId"] = json!(id);
    out
}

fn call_parts(answer: &Answer) -> Option<Value> {
    match &answer.reply {
        Reply::ToolCalls(calls) => Some(Value::Array(
            calls
                .iter()
                .map(|c| json!({"functionCall": {"name": c.name, "args": c.arguments}}))
                .collect(),
        )),
        Reply::Text(_) => None,
    }
}

/// The thought-summary part that leads an answer when the request asked for thoughts.
fn thought_part(answer: &Answer, thoughts: bool) -> Option<Value> {
    (thoughts && !answer.reasoning.is_empty())
        .then(|| json!({"text": answer.reasoning.concat(), "thought": true}))
}

fn with_thought(parts: Value, thought: Option<Value>) -> Value {
    match (thought, parts) {
        (Some(t), Value::Array(mut a)) => {
            a.insert(0, t);
            Value::Array(a)
        }
        (_, parts) => parts,
    }
}

/// The non-streamed GenerateContentResponse; `thoughts` (the request's `includeThoughts`)
/// puts the reasoning first as a `thought: true` part.
pub fn generate(conv: &Conversation, answer: &Answer, no_usage: bool, thoughts: bool) -> Value {
    let parts = call_parts(answer).unwrap_or_else(|| json!([{"text": answer.text()}]));
    let parts = with_thought(parts, thought_part(answer, thoughts));
    let usage = (!no_usage).then(|| usage_json(answer));
    response(
        conv,
        &util::random_alnum(22),
        parts,
        Some(finish_reason(&answer.finish)),
        usage,
    )
}

/// The mid-stream error (`error_after`): an error object, after which the stream closes.
pub fn stream_error(framing: Framing, after_chunks: bool) -> Bytes {
    let body = json!({"error": {"code": 500,
        "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        "status": "INTERNAL"}});
    match framing {
        Framing::Sse => Bytes::from(format!("data: {body}\r\n\r\n")),
        Framing::JsonArray if after_chunks => Bytes::from(format!(",\r\n{body}\n]")),
        Framing::JsonArray => Bytes::from(format!("{body}\n]")),
    }
}

/// The streamed chunks: one partial response per text chunk, each with cumulative
/// usageMetadata, `finishReason` on the last; function calls arrive whole in one chunk.
pub fn stream_events(
    conv: &Conversation,
    answer: &Answer,
    no_usage: bool,
    framing: Framing,
    thoughts: bool,
) -> Vec<Ev> {
    let id = util::random_alnum(22);
    let finish = finish_reason(&answer.finish);
    let mut bodies: Vec<(bool, Value)> = Vec::new();
    if let Some(t) = thought_part(answer, thoughts) {
        let usage = (!no_usage).then(|| usage(answer, 0));
        bodies.push((false, response(conv, &id, json!([t]), None, usage)));
    }
    match (&answer.reply, call_parts(answer)) {
        (_, Some(parts)) => {
            let usage = (!no_usage).then(|| usage_json(answer));
            bodies.push((true, response(conv, &id, parts, Some(finish), usage)));
        }
        (Reply::Text(chunks), None) if chunks.is_empty() => {
            let usage = (!no_usage).then(|| usage(answer, 0));
            bodies.push((
                false,
                response(conv, &id, json!([{"text": ""}]), Some(finish), usage),
            ));
        }
        (Reply::Text(chunks), None) => {
            for (i, c) in chunks.iter().enumerate() {
                let last = i + 1 == chunks.len();
                let usage = (!no_usage).then(|| usage(answer, i as u64 + 1));
                bodies.push((
                    true,
                    response(conv, &id, json!([{"text": c}]), last.then_some(finish), usage),
                ));
            }
        }
        (Reply::ToolCalls(_), None) => {}
    }
    let mut events = Vec::with_capacity(bodies.len() + 2);
    if framing == Framing::JsonArray {
        events.push(Ev::Head(Bytes::from_static(b"[")));
    }
    let thought_first = thought_part(answer, thoughts).is_some();
    for (i, (is_content, body)) in bodies.into_iter().enumerate() {
        let bytes = match framing {
            Framing::Sse => Bytes::from(format!("data: {body}\r\n\r\n")),
            Framing::JsonArray if i == 0 => Bytes::from(body.to_string()),
            Framing::JsonArray => Bytes::from(format!(",\r\n{body}")),
        };
        events.push(if is_content {
            Ev::Content(bytes)
        } else if i == 0 && thought_first {
            Ev::Head(bytes)
        } else {
            Ev::Tail(bytes)
        });
    }
    if framing == Framing::JsonArray {
        events.push(Ev::Tail(Bytes::from_static(b"\n]")));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contents_system_tools_and_config() {
        let body = json!({
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "weather in Paris"}, {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]},
                {"role": "model", "parts": [{"functionCall": {"name": "w", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"result": "22C"}}}]}
            ],
            "tools": [{"functionDeclarations": [{"name": "w", "parameters": {"type": "OBJECT"}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["w"]}},
            "generationConfig": {"maxOutputTokens": 5, "responseMimeType": "application/json"}
        });
        let conv = parse(&body, "gemini-2.5-flash", false).unwrap();
        assert_eq!(conv.prompt_tokens(), 6);
        assert_eq!(conv.tool_results, Some(vec!["22C".to_string()]));
        assert_eq!(conv.tool_choice, ToolChoice::Named("w".into()));
        assert_eq!(conv.max_tokens, Some(5));
        assert!(conv.json_mode);
    }

    #[test]
    fn rejects_openai_roles_and_empty_parts() {
        let bad_role = json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]});
        assert!(parse(&bad_role, "m", false)
            .unwrap_err()
            .message
            .contains("valid role"));
        let empty = json!({"contents": [{"role": "user", "parts": []}]});
        assert_eq!(parse(&empty, "m", false).unwrap_err().status, 400);
        assert_eq!(parse(&json!({}), "m", false).unwrap_err().status, 400);
    }
}
