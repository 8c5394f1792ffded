//! The `gemini` wire format (Gemini generateContent): Google's Gemini API behind the OpenAI
//! chat-completions shape, so a client sees the same tools, streaming, finish reasons and usage.
//!
//! Request (`POST {base}/v1beta/models/{id}:generateContent`, or `:streamGenerateContent?alt=sse`;
//! the key in `x-goog-api-key`, never in the URL):
//!
//! | OpenAI | Gemini |
//! |---|---|
//! | `system` / `developer` messages (anywhere) | `systemInstruction` (texts joined by a blank line); a request of system messages only sends them as the user turn |
//! | `user` / `assistant` | `user` / `model` turns; consecutive turns of one role merged; empty texts left out |
//! | `image_url` data URL / http(s) URL | `inlineData` / `fileData` (MIME type from the extension, default `image/jpeg`) |
//! | assistant `tool_calls` | `functionCall` parts (`arguments` must be a JSON object) |
//! | `tool` messages | `functionResponse` parts in a `user` turn, named after the call with that `tool_call_id`; content that is a JSON object is the response, other text is `{"content": text}` |
//! | `tools` | `functionDeclarations`, the schema cleaned to Gemini's subset (below) |
//! | `tool_choice` auto / none / required / named | `functionCallingConfig` AUTO / NONE / ANY / ANY + `allowedFunctionNames` |
//! | `temperature`, `top_p`, `stop`, `seed` | `generationConfig` fields of the same meaning (a seed outside 32 bits wraps into it) |
//! | `presence_penalty`, `frequency_penalty` | dropped: Gemini 2.5+ answers 400 to any penalty |
//! | the gateway's output ceiling | `generationConfig.maxOutputTokens`, always |
//! | `response_format` json_object / json_schema | `responseMimeType: application/json` / plus `responseSchema` (cleaned) |
//! | `reasoning_effort` | `generationConfig.thinkingConfig`: `thinkingLevel` on Gemini 3+ (Pro `low`/`high`, Flash also `minimal`/`medium`), `thinkingBudget` on 2.5 ([`thinking_config`]) |
//! | `logprobs`, `top_logprobs`, `user`, `parallel_tool_calls`, `logit_bias`, `n`, `metadata`, `store`, `service_tier`, `verbosity`, `prompt_cache_*`, `safety_identifier`, `modalities`, `audio`, `prediction`, `web_search_options`, `moderation` | dropped, named in the warnings |
//! | message `name`s, image `detail`, tool `strict`, `cache_control` | dropped |
//!
//! Schemas keep Gemini's OpenAPI subset: `type`, `format` (string: `enum`/`date-time`; number:
//! `float`/`double`; integer: `int32`/`int64`), `description`, `nullable`, `enum` (strings), `items`,
//! `properties`, `required` (only names that are properties), `anyOf`, `minimum`/`maximum`,
//! `min/maxItems`, `min/maxLength`, `min/maxProperties`, `pattern`, `propertyOrdering`. Local `$ref`s
//! are inlined from `$defs`/`definitions`; `"type": [T, "null"]` and `anyOf` with a null branch
//! become `nullable`; `oneOf` becomes `anyOf`, `allOf` is merged, `const` becomes a one-value enum;
//! enums of numbers move into the description. Everything else (`additionalProperties`, `$schema`,
//! `default`, `examples`, `title`, `strict`, ...) is removed, recursively.
//!
//! Gemini 3 (and later) models answer 400 to a replayed `functionCall` without a thought
//! signature. OpenAI messages cannot carry one back, so the first `functionCall` of each model turn
//! gets Google's documented placeholder for history the model did not see signed
//! (`skip_thought_signature_validator`); Gemini 1.x/2.x models, which do not require it, get none.
//!
//! Response: text parts (not `thought` ones) joined into `content`; `functionCall` parts become
//! `tool_calls` with generated ids (`call_<hex>`); finish reasons map as [`finish_reason`] says;
//! `usageMetadata` becomes usage (thinking tokens count as completion tokens). A stream's events
//! are whole `GenerateContentResponse`s; Gemini sends no `[DONE]`, so the chunk with a finish
//! reason ends it.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::safe_message;
use super::{Built, Outgoing, StreamItem, StreamTranslator, Upstream, UpstreamRequest};
use crate::canonical::{
    ChatCompletion, ChatCompletionChunk, ChatRequest, Choice, ChunkChoice, Content, ContentPart, Delta,
    FinishReason, FunctionCall, FunctionDelta, Message, ResponseFormat, ResponseMessage, ToolCall,
    ToolCallDelta, ToolChoice, ToolChoiceMode, Usage,
};
use crate::error::{ApiError, ApiResult};
use crate::http::random_hex;
use crate::sse::parser::SseEvent;

/// Google's documented thought signature for function calls the model did not produce signed.
const PLACEHOLDER_SIGNATURE: &str = "skip_thought_signature_validator";

/// How deep a schema is followed (and `$ref`s inlined) before the rest is cut to a plain object.
const MAX_SCHEMA_DEPTH: usize = 24;

// ---- request

pub fn build_request(upstream: &Upstream, outgoing: &Outgoing<'_>) -> ApiResult<Built> {
    let warnings = super::unused_params(
        outgoing.request,
        &["reasoning_effort"],
        &[
            "presence_penalty",
            "frequency_penalty",
            "user",
            "parallel_tool_calls",
            "n",
        ],
        "Gemini",
    );
    let body = request_body(upstream, outgoing)?;
    let method = if outgoing.stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    Ok(Built {
        request: UpstreamRequest {
            url: format!(
                "{}/v1beta/models/{}:{method}",
                upstream.base_url, upstream.model.upstream_id
            ),
            headers: vec![
                ("x-goog-api-key", upstream.api_key.clone()),
                ("content-type", "application/json".to_owned()),
            ],
            body: body.to_string(),
        },
        warnings,
    })
}

/// The `GenerateContentRequest` JSON for `outgoing`.
fn request_body(upstream: &Upstream, outgoing: &Outgoing<'_>) -> ApiResult<Value> {
    let request = outgoing.request;
    let Conversation { system, mut turns } = conversation(request)?;
    if requires_signatures(&upstream.model.upstream_id) {
        sign_function_calls(&mut turns);
    }
    let mut body = Map::new();
    let system_text = system.join("\n\n");
    if turns.is_empty() {
        // OpenAI answers a request of system messages only; Gemini needs a user turn.
        if system_text.is_empty() {
            return Err(ApiError::bad_request(
                "messages",
                "The messages carry no text or images to send to the model.",
            ));
        }
        turns.push(("user", vec![json!({ "text": system_text })]));
    } else if !system_text.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({ "parts": [{ "text": system_text }] }),
        );
    }
    let contents: Vec<Value> = turns
        .into_iter()
        .map(|(role, parts)| json!({ "role": role, "parts": parts }))
        .collect();
    body.insert("contents".into(), Value::Array(contents));

    let tools = request.tools.as_deref().unwrap_or_default();
    if !tools.is_empty() {
        let declarations: Vec<Value> = tools
            .iter()
            .map(|tool| {
                let mut declaration = Map::new();
                declaration.insert("name".into(), json!(tool.function.name));
                if let Some(description) = &tool.function.description {
                    declaration.insert("description".into(), json!(description));
                }
                if let Some(parameters) = tool.function.parameters.as_ref().map(clean_schema) {
                    // A function without parameters leaves them unset: Gemini rejects an object
                    // schema with no properties.
                    if !is_empty_object_schema(&parameters) {
                        declaration.insert("parameters".into(), parameters);
                    }
                }
                Value::Object(declaration)
            })
            .collect();
        body.insert("tools".into(), json!([{ "functionDeclarations": declarations }]));
        if let Some(choice) = &request.tool_choice {
            let config = match choice {
                ToolChoice::Mode(ToolChoiceMode::Auto) => json!({ "mode": "AUTO" }),
                ToolChoice::Mode(ToolChoiceMode::None) => json!({ "mode": "NONE" }),
                ToolChoice::Mode(ToolChoiceMode::Required) => json!({ "mode": "ANY" }),
                ToolChoice::Named(named) => {
                    json!({ "mode": "ANY", "allowedFunctionNames": [named.function.name] })
                }
            };
            body.insert("toolConfig".into(), json!({ "functionCallingConfig": config }));
        }
    }
    let mut config = generation_config(request, outgoing.max_output_tokens);
    if let Some(effort) = request.extra.get("reasoning_effort").and_then(Value::as_str) {
        if let Value::Object(config) = &mut config {
            config.insert(
                "thinkingConfig".into(),
                thinking_config(&upstream.model.upstream_id, effort, outgoing.max_output_tokens),
            );
        }
    }
    body.insert("generationConfig".into(), config);
    Ok(Value::Object(body))
}

/// Gemini 2.5's thinking budget of each `reasoning_effort` (the same figures as Claude's),
/// at most half of `maxOutputTokens` and within the model's range: 2.5 Pro 128–32,768 (it
/// cannot stop thinking), Flash 0–24,576, Flash-Lite 0 or 512–24,576.
pub const THINKING_BUDGETS: &[(&str, u32)] = super::anthropic::THINKING_BUDGETS;

/// `reasoning_effort` as Gemini's `thinkingConfig`: `thinkingLevel` on Gemini 3 and later
/// (Pro: `low`, `high`; Flash also `minimal`, `medium`), `thinkingBudget` on Gemini 2.5.
pub fn thinking_config(upstream_id: &str, effort: &str, max_output_tokens: u32) -> Value {
    let id = upstream_id.strip_prefix("models/").unwrap_or(upstream_id);
    if !id.starts_with("gemini-2") && !id.starts_with("gemini-1") {
        let pro = !id.contains("flash");
        let level = match effort {
            "none" | "minimal" if pro => "low",
            "none" | "minimal" => "minimal",
            "low" => "low",
            "medium" if !pro => "medium",
            _ => "high",
        };
        return json!({ "thinkingLevel": level });
    }
    let (floor, ceiling, can_stop) = if id.contains("flash-lite") {
        (512, 24_576, true)
    } else if id.contains("flash") {
        (1, 24_576, true)
    } else {
        (128, 32_768, false)
    };
    let budget = match THINKING_BUDGETS.iter().find(|(e, _)| *e == effort) {
        None if can_stop => 0,
        None => floor,
        Some((_, wanted)) => (*wanted).min(max_output_tokens / 2).min(ceiling).max(floor),
    };
    json!({ "thinkingBudget": budget })
}

fn generation_config(request: &ChatRequest, max_output_tokens: u32) -> Value {
    let mut config = Map::new();
    if let Some(temperature) = request.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    config.insert("maxOutputTokens".into(), json!(max_output_tokens));
    if let Some(stop) = &request.stop {
        config.insert("stopSequences".into(), json!(stop.sequences()));
    }
    if let Some(seed) = request.seed {
        // Gemini's seed is an int32; a wider one wraps into it, still deterministic.
        config.insert("seed".into(), json!(seed as i32));
    }
    // presence/frequency penalties are dropped: every Gemini model in the catalog (2.5 and
    // later) answers 400 "Penalty is not enabled for this model" to them.
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            if let Some(schema) = &json_schema.schema {
                config.insert("responseSchema".into(), clean_schema(schema));
            }
        }
        Some(ResponseFormat::Text) | None => {}
    }
    Value::Object(config)
}

/// The messages as Gemini sees them: system texts, and alternating turns of parts.
struct Conversation {
    system: Vec<String>,
    turns: Vec<(&'static str, Vec<Value>)>,
}

impl Conversation {
    /// Appends `parts` as a `role` turn, into the previous turn when it has the same role (Gemini
    /// wants user and model to alternate). A turn without parts is left out.
    fn push(&mut self, role: &'static str, parts: Vec<Value>) {
        if parts.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => self.turns.push((role, parts)),
        }
    }
}

fn conversation(request: &ChatRequest) -> ApiResult<Conversation> {
    let mut conversation = Conversation {
        system: Vec::new(),
        turns: Vec::new(),
    };
    // OpenAI tool results name the call, Gemini's name the function: the calls seen so far.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, message) in request.messages.iter().enumerate() {
        match message {
            Message::System { content, .. } | Message::Developer { content, .. } => {
                let text = content.text();
                if !text.trim().is_empty() {
                    conversation.system.push(text);
                }
            }
            Message::User { content, .. } => conversation.push("user", content_parts(content, i)?),
            Message::Assistant {
                content, tool_calls, ..
            } => {
                let mut parts = match content {
                    Some(content) => content_parts(content, i)?,
                    None => Vec::new(),
                };
                for (j, call) in tool_calls.iter().flatten().enumerate() {
                    let args = call_arguments(&call.function.arguments).ok_or_else(|| {
                        ApiError::bad_request(
                            format!("messages[{i}].tool_calls[{j}].function.arguments"),
                            "Tool call arguments must be a JSON object serialized as a string.",
                        )
                    })?;
                    call_names.insert(call.id.as_str(), call.function.name.as_str());
                    parts.push(json!({ "functionCall": { "name": call.function.name, "args": args } }));
                }
                conversation.push("model", parts);
            }
            Message::Tool {
                content,
                tool_call_id,
            } => {
                let Some(name) = call_names.get(tool_call_id.as_str()) else {
                    return Err(ApiError::bad_request(
                        format!("messages[{i}].tool_call_id"),
                        format!("No earlier assistant message has a tool call with id `{tool_call_id}`."),
                    ));
                };
                let text = content.text();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(object)) => Value::Object(object),
                    _ => json!({ "content": text }),
                };
                conversation.push(
                    "user",
                    vec![json!({ "functionResponse": { "name": name, "response": response } })],
                );
            }
        }
    }
    Ok(conversation)
}

/// Tool call arguments as the object Gemini's `args` is; an empty string is no arguments.
fn call_arguments(arguments: &str) -> Option<Value> {
    if arguments.trim().is_empty() {
        return Some(json!({}));
    }
    serde_json::from_str::<Value>(arguments)
        .ok()
        .filter(Value::is_object)
}

fn content_parts(content: &Content, i: usize) -> ApiResult<Vec<Value>> {
    match content {
        Content::Text(text) if text.is_empty() => Ok(Vec::new()),
        Content::Text(text) => Ok(vec![json!({ "text": text })]),
        Content::Parts(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                match part {
                    // Gemini rejects an empty text part.
                    ContentPart::Text { text } if text.is_empty() => {}
                    ContentPart::Text { text } => out.push(json!({ "text": text })),
                    ContentPart::ImageUrl { image_url } => {
                        out.push(image_part(&image_url.url).ok_or_else(|| {
                            ApiError::bad_request(
                                format!("messages[{i}].content[{j}].image_url.url"),
                                "An image must be an http(s) URL or a base64 data URL \
                                 (data:<mime type>;base64,<data>).",
                            )
                        })?)
                    }
                    ContentPart::File { .. } => {
                        return Err(ApiError::bad_request(
                            format!("messages[{i}].content[{j}]"),
                            "File inputs are not supported for this model.",
                        ))
                    }
                }
            }
            Ok(out)
        }
    }
}

/// `inlineData` for a base64 data URL, `fileData` for an http(s) URL.
fn image_part(url: &str) -> Option<Value> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        let mime = meta.strip_suffix(";base64")?.split(';').next()?.trim();
        if mime.is_empty() || data.is_empty() {
            return None;
        }
        return Some(json!({ "inlineData": { "mimeType": mime, "data": data } }));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    Some(json!({ "fileData": { "mimeType": image_mime_type(&lower), "fileUri": url } }))
}

/// The MIME type of an image URL's file extension; `image/jpeg` when it says nothing.
fn image_mime_type(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let file = path.rsplit('/').next().unwrap_or_default();
    let extension = file.rsplit_once('.').map(|(_, ext)| ext).unwrap_or_default();
    match extension {
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => "image/jpeg",
    }
}

/// Gemini 1.x and 2.x accept function calls without thought signatures; later models do not.
fn requires_signatures(upstream_id: &str) -> bool {
    let id = upstream_id.strip_prefix("models/").unwrap_or(upstream_id);
    !(id.starts_with("gemini-1") || id.starts_with("gemini-2"))
}

/// Puts the placeholder signature on the first `functionCall` of every model turn.
fn sign_function_calls(turns: &mut [(&'static str, Vec<Value>)]) {
    for (role, parts) in turns.iter_mut() {
        if *role != "model" {
            continue;
        }
        if let Some(Value::Object(part)) = parts.iter_mut().find(|p| p.get("functionCall").is_some()) {
            part.insert("thoughtSignature".into(), json!(PLACEHOLDER_SIGNATURE));
        }
    }
}

// ---- schemas

/// A JSON Schema reduced to the OpenAPI subset Gemini accepts (see the module docs).
fn clean_schema(schema: &Value) -> Value {
    let mut defs = Map::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(found)) = schema.get(key) {
            defs.extend(found.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    clean_node(schema, &defs, 0)
}

fn is_empty_object_schema(schema: &Value) -> bool {
    let typed_object = match schema.get("type") {
        None => true,
        Some(t) => t.as_str().is_some_and(|t| t.eq_ignore_ascii_case("object")),
    };
    typed_object
        && schema
            .get("properties")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
        && schema.get("anyOf").is_none()
}

fn resolve_ref<'a>(reference: &str, defs: &'a Map<String, Value>) -> Option<&'a Value> {
    let name = reference
        .strip_prefix("#/$defs/")
        .or_else(|| reference.strip_prefix("#/definitions/"))?;
    defs.get(name)
}

fn clean_node(node: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
    let Some(schema) = node.as_object() else {
        // `true` / `{}`-like schemas: anything goes; Gemini needs a type, an object is the loosest.
        return json!({ "type": "object" });
    };
    if depth > MAX_SCHEMA_DEPTH {
        return json!({ "type": "object" });
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let mut resolved = match resolve_ref(reference, defs) {
            Some(target) => clean_node(target, defs, depth + 1),
            None => json!({ "type": "object" }),
        };
        if let (Some(description), Value::Object(out)) =
            (schema.get("description").and_then(Value::as_str), &mut resolved)
        {
            out.insert("description".into(), json!(description));
        }
        return resolved;
    }

    let mut out = Map::new();
    let mut nullable = schema.get("nullable") == Some(&Value::Bool(true));
    match schema.get("type") {
        Some(Value::String(kind)) if kind == "null" => nullable = true,
        Some(Value::String(kind)) => {
            out.insert("type".into(), json!(kind));
        }
        Some(Value::Array(kinds)) => {
            let named: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
            let concrete: Vec<&str> = named.iter().copied().filter(|k| *k != "null").collect();
            nullable |= concrete.len() < named.len();
            match concrete.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), json!(one));
                }
                many => {
                    let branches: Vec<Value> = many.iter().map(|k| json!({ "type": k })).collect();
                    out.insert("anyOf".into(), Value::Array(branches));
                }
            }
        }
        _ => {}
    }
    let kind = out
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();

    for (key, value) in schema {
        match key.as_str() {
            "description" | "pattern" if value.is_string() => {
                out.insert(key.clone(), value.clone());
            }
            "minimum" | "maximum" if value.is_number() => {
                out.insert(key.clone(), value.clone());
            }
            "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties" | "maxProperties"
                if value.is_u64() =>
            {
                out.insert(key.clone(), value.clone());
            }
            "propertyOrdering" if value.is_array() => {
                out.insert(key.clone(), value.clone());
            }
            "format" => {
                let allowed: &[&str] = match kind.as_str() {
                    "string" => &["enum", "date-time"],
                    "number" => &["float", "double"],
                    "integer" => &["int32", "int64"],
                    _ => &[],
                };
                if value.as_str().is_some_and(|f| allowed.contains(&f)) {
                    out.insert(key.clone(), value.clone());
                }
            }
            "items" => {
                // A tuple (`items: [..]`) is beyond Gemini: its first member stands for all.
                let item = match value {
                    Value::Array(members) => members.first(),
                    other => Some(other),
                };
                if let Some(item) = item {
                    out.insert("items".into(), clean_node(item, defs, depth + 1));
                }
            }
            "properties" => {
                if let Value::Object(properties) = value {
                    let cleaned: Map<String, Value> = properties
                        .iter()
                        .map(|(name, property)| (name.clone(), clean_node(property, defs, depth + 1)))
                        .collect();
                    if !cleaned.is_empty() {
                        out.insert("properties".into(), Value::Object(cleaned));
                    }
                }
            }
            _ => {}
        }
    }

    // Enumerations: strings only in Gemini. Other values are described instead.
    let mut values: Vec<Value> = match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => values.clone(),
        (None, Some(constant)) => vec![constant.clone()],
        _ => Vec::new(),
    };
    if values.iter().any(Value::is_null) {
        nullable = true;
        values.retain(|v| !v.is_null());
    }
    if !values.is_empty() {
        if values.iter().all(Value::is_string) && matches!(kind.as_str(), "string" | "") {
            if kind.is_empty() {
                out.insert("type".into(), json!("string"));
            }
            out.insert("enum".into(), Value::Array(values));
        } else {
            let listed: Vec<String> = values.iter().map(Value::to_string).collect();
            let note = format!("Allowed values: {}.", listed.join(", "));
            let description = match out.get("description").and_then(Value::as_str) {
                Some(existing) if !existing.is_empty() => format!("{existing} {note}"),
                _ => note,
            };
            out.insert("description".into(), json!(description));
        }
    }

    // Unions: null branches become `nullable`; a single remaining branch is the schema itself.
    let mut branches: Vec<Value> = Vec::new();
    for key in ["anyOf", "oneOf"] {
        for branch in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            let cleaned = clean_node(branch, defs, depth + 1);
            let only_null = branch.get("type").and_then(Value::as_str) == Some("null")
                || cleaned
                    .as_object()
                    .is_some_and(|c| c.get("nullable") == Some(&json!(true)) && c.len() == 1);
            if only_null {
                nullable = true;
            } else {
                branches.push(cleaned);
            }
        }
    }
    match branches.len() {
        0 => {}
        1 if !out.contains_key("type") && !out.contains_key("anyOf") => {
            if let Some(Value::Object(branch)) = branches.pop() {
                merge_missing(&mut out, branch);
            }
        }
        _ => {
            let mut all = match out.remove("anyOf") {
                Some(Value::Array(existing)) => existing,
                _ => Vec::new(),
            };
            all.extend(branches);
            out.insert("anyOf".into(), Value::Array(all));
        }
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Value::Object(cleaned) = clean_node(part, defs, depth + 1) {
            merge_missing(&mut out, cleaned);
        }
    }

    // `required` names only existing properties (Gemini rejects the others).
    if let (Some(Value::Array(required)), Some(Value::Object(properties))) =
        (schema.get("required"), out.get("properties"))
    {
        let kept: Vec<Value> = required
            .iter()
            .filter(|name| name.as_str().is_some_and(|n| properties.contains_key(n)))
            .cloned()
            .collect();
        if !kept.is_empty() {
            out.insert("required".into(), Value::Array(kept));
        }
    }
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    Value::Object(out)
}

/// Adds `from`'s keys that `into` lacks; `properties` and `required` are united.
fn merge_missing(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (key.as_str(), into.get_mut(&key), value) {
            ("properties", Some(Value::Object(existing)), Value::Object(more)) => {
                for (name, property) in more {
                    existing.entry(name).or_insert(property);
                }
            }
            ("required", Some(Value::Array(existing)), Value::Array(more)) => {
                for name in more {
                    if !existing.contains(&name) {
                        existing.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                into.insert(key, value);
            }
        }
    }
}

// ---- responses

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    response_id: Option<String>,
}

impl GenerateContentResponse {
    fn parts(&self) -> &[Part] {
        self.candidates
            .first()
            .and_then(|c| c.content.as_ref())
            .map(|c| c.parts.as_slice())
            .unwrap_or_default()
    }

    /// The reason the answer ended, if this response says; `called` when it made function calls.
    fn finish(&self, called: bool) -> Option<&'static str> {
        match self.candidates.first() {
            Some(candidate) => candidate
                .finish_reason
                .as_deref()
                .map(|reason| finish_reason(reason, called)),
            None => self
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_ref())
                .map(|_| "content_filter"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    /// A thought summary, not the answer.
    #[serde(default)]
    thought: bool,
    #[serde(default)]
    function_call: Option<GeminiFunctionCall>,
}

#[derive(Debug, Default, Deserialize)]
struct GeminiFunctionCall {
    name: String,
    #[serde(default)]
    args: Option<Value>,
}

impl GeminiFunctionCall {
    fn arguments(&self) -> String {
        match &self.args {
            Some(args @ Value::Object(_)) => args.to_string(),
            _ => "{}".to_owned(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    total_token_count: Option<u64>,
}

impl UsageMetadata {
    /// OpenAI's usage: thinking is output the client pays for, as OpenAI's reasoning tokens are.
    fn usage(&self) -> Usage {
        let completion = self.candidates_token_count + self.thoughts_token_count;
        let mut usage = Usage::new(self.prompt_token_count, completion);
        if let Some(total) = self.total_token_count {
            usage.total_tokens = total;
        }
        if self.cached_content_token_count > 0 {
            usage.extra.insert(
                "prompt_tokens_details".into(),
                json!({ "cached_tokens": self.cached_content_token_count }),
            );
        }
        if self.thoughts_token_count > 0 {
            usage.extra.insert(
                "completion_tokens_details".into(),
                json!({ "reasoning_tokens": self.thoughts_token_count }),
            );
        }
        usage
    }
}

/// Gemini's `finishReason` as OpenAI's `finish_reason`; `called` when the answer made function
/// calls (Gemini says `STOP` for those).
fn finish_reason(reason: &str, called: bool) -> &'static str {
    let reason = match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        _ if called => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    };
    reason.as_str()
}

fn new_call_id() -> String {
    format!("call_{}", random_hex(12))
}

/// The message of a Google error object, cleaned for the client.
fn error_message(error: &Value) -> String {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("The upstream failed.");
    safe_message(message)
}

/// The `gemini` wire. Gemini has no place for `cache_control` or `reasoning_content` notes.
pub struct GeminiWire;

impl super::Wire for GeminiWire {
    fn build_request(
        &self,
        upstream: &Upstream,
        outgoing: &Outgoing<'_>,
        _notes: &crate::canonical::Annotations,
    ) -> ApiResult<Built> {
        build_request(upstream, outgoing)
    }
    fn parse_completion(&self, body: &str) -> Result<ChatCompletion, String> {
        parse_completion(body)
    }
    fn stream_translator(&self) -> Box<dyn StreamTranslator> {
        Box::new(GeminiStream::new())
    }
    /// Gemini puts its retry hint in the body (`RetryInfo`), not in a header.
    fn retry_hint_secs(&self, error_body: &str) -> Option<u64> {
        retry_delay_secs(error_body)
    }
}

pub fn parse_completion(body: &str) -> Result<ChatCompletion, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("Gemini response is not JSON: {e}"))?;
    if let Some(error) = value.get("error") {
        return Err(format!("Gemini answered an error: {}", error_message(error)));
    }
    let response: GenerateContentResponse =
        serde_json::from_value(value).map_err(|e| format!("Gemini response did not parse: {e}"))?;
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for part in response.parts().iter().filter(|p| !p.thought) {
        if let Some(piece) = &part.text {
            text.get_or_insert_with(String::new).push_str(piece);
        }
        if let Some(call) = &part.function_call {
            calls.push(ToolCall {
                id: new_call_id(),
                kind: "function".into(),
                function: FunctionCall {
                    name: call.name.clone(),
                    arguments: call.arguments(),
                },
            });
        }
    }
    let called = !calls.is_empty();
    // An empty text beside function calls is no content, as OpenAI reports it.
    let content = text.filter(|t| !(t.is_empty() && called));
    let finish = response
        .finish(called)
        .unwrap_or(if called { "tool_calls" } else { "stop" });
    Ok(ChatCompletion {
        id: response
            .response_id
            .as_ref()
            .map(|id| format!("chatcmpl-{id}"))
            .unwrap_or_default(),
        object: "chat.completion".into(),
        created: 0,
        model: response.model_version.clone().unwrap_or_default(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content,
                tool_calls: called.then_some(calls),
                refusal: None,
                extra: Map::new(),
            },
            finish_reason: Some(finish.into()),
            logprobs: None,
        }],
        usage: response.usage_metadata.as_ref().map(UsageMetadata::usage),
        extra: Map::new(),
    })
}

/// Gemini's stream (`alt=sse`): every event a whole `GenerateContentResponse` with the next text
/// or whole function calls, cumulative `usageMetadata`, and `finishReason` on the last one.
#[derive(Debug, Default)]
pub struct GeminiStream {
    /// The role chunk has gone out.
    started: bool,
    /// The OpenAI `index` of the next tool call.
    next_tool_index: u32,
    /// The latest usage seen (Gemini's is cumulative).
    usage: Option<Usage>,
    /// The finish (or an error) has been reported; later events are ignored.
    finished: bool,
}

impl GeminiStream {
    pub fn new() -> Self {
        Self::default()
    }

    fn chunk(response: &GenerateContentResponse, delta: Delta, finish: Option<&str>) -> StreamItem {
        StreamItem::Chunk(ChatCompletionChunk {
            id: response
                .response_id
                .as_ref()
                .map(|id| format!("chatcmpl-{id}"))
                .unwrap_or_default(),
            object: "chat.completion.chunk".into(),
            created: 0,
            model: response.model_version.clone().unwrap_or_default(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish.map(str::to_owned),
                logprobs: None,
            }],
            usage: None,
            extra: Map::new(),
        })
    }

    fn end(&mut self, items: &mut Vec<StreamItem>) {
        self.finished = true;
        if let Some(usage) = self.usage.take() {
            items.push(StreamItem::Usage(usage));
        }
        items.push(StreamItem::Done);
    }
}

impl StreamTranslator for GeminiStream {
    fn on_event(&mut self, event: &SseEvent) -> Vec<StreamItem> {
        if self.finished {
            return Vec::new();
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Vec::new();
        }
        let mut items = Vec::new();
        if data == "[DONE]" {
            // Not Gemini's, but unambiguous.
            self.end(&mut items);
            return items;
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) => {
                self.finished = true;
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream event.".into(),
                )];
            }
        };
        if let Some(error) = value.get("error") {
            self.finished = true;
            return vec![StreamItem::Error(error_message(error))];
        }
        let response: GenerateContentResponse = match serde_json::from_value(value) {
            Ok(response) => response,
            Err(_) => {
                self.finished = true;
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream chunk.".into(),
                )];
            }
        };
        if let Some(metadata) = &response.usage_metadata {
            self.usage = Some(metadata.usage());
        }
        if !self.started {
            self.started = true;
            let delta = Delta {
                role: Some("assistant".into()),
                content: Some(String::new()),
                ..Delta::default()
            };
            items.push(Self::chunk(&response, delta, None));
        }
        let mut text = String::new();
        for part in response.parts().iter().filter(|p| !p.thought) {
            if let Some(piece) = &part.text {
                text.push_str(piece);
            }
            if let Some(call) = &part.function_call {
                if !text.is_empty() {
                    let delta = Delta {
                        content: Some(std::mem::take(&mut text)),
                        ..Delta::default()
                    };
                    items.push(Self::chunk(&response, delta, None));
                }
                let delta = Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index: self.next_tool_index,
                        id: Some(new_call_id()),
                        kind: Some("function".into()),
                        function: Some(FunctionDelta {
                            name: Some(call.name.clone()),
                            arguments: Some(call.arguments()),
                        }),
                    }]),
                    ..Delta::default()
                };
                self.next_tool_index += 1;
                items.push(Self::chunk(&response, delta, None));
            }
        }
        if !text.is_empty() {
            let delta = Delta {
                content: Some(text),
                ..Delta::default()
            };
            items.push(Self::chunk(&response, delta, None));
        }
        if let Some(finish) = response.finish(self.next_tool_index > 0) {
            items.push(Self::chunk(&response, Delta::default(), Some(finish)));
            self.end(&mut items);
        }
        items
    }
}

/// The retry hint of a Gemini 429 body (`error.details[].retryDelay`, e.g. "20s" or "1.5s"), in
/// whole seconds rounded up.
pub fn retry_delay_secs(body: &str) -> Option<u64> {
    let value: Value = serde_json::from_str(body).ok()?;
    value
        .get("error")?
        .get("details")?
        .as_array()?
        .iter()
        .find_map(|detail| detail.get("retryDelay")?.as_str().and_then(duration_secs))
}

/// A protobuf JSON `Duration` ("20s", "1.500s") in whole seconds, rounded up.
fn duration_secs(duration: &str) -> Option<u64> {
    let seconds: f64 = duration.trim().strip_suffix('s')?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn upstream(model: &str) -> Upstream {
        let catalog = Catalog::embedded().unwrap();
        let model = catalog.model(model).unwrap();
        Upstream {
            provider: catalog.provider(&model.provider).unwrap(),
            model: model.clone(),
            base_url: "https://generativelanguage.googleapis.com".into(),
            api_key: "AIzaSyTestKey0123456789".into(),
            keys: vec!["AIzaSyTestKey0123456789".to_owned()].into(),
        }
    }

    fn request(body: Value) -> ChatRequest {
        let request: ChatRequest = serde_json::from_value(body).unwrap();
        request.validate().unwrap();
        request
    }

    fn body_for_model(model: &str, body: Value) -> ApiResult<Value> {
        let req = request(body);
        request_body(
            &upstream(model),
            &Outgoing {
                request: &req,
                max_output_tokens: 1024,
                stream: false,
            },
        )
    }

    fn body(body: Value) -> Value {
        body_for_model("gemini-2.5-flash", body).unwrap()
    }

    fn refused_param(body: Value) -> String {
        body_for_model("gemini-2.5-flash", body)
            .unwrap_err()
            .param
            .clone()
            .unwrap_or_default()
    }

    fn weather_tool() -> Value {
        json!({"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }})
    }

    /// A full tool round trip: the question, the model's two parallel calls, both results.
    fn round_trip() -> Value {
        json!({
            "model": "gemini-2.5-flash",
            "messages": [
                {"role": "system", "content": "You are a weather bot."},
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_a", "content": "{\"temp_c\": 22, \"sky\": \"clear\"}"},
                {"role": "tool", "tool_call_id": "call_b", "content": "sunny, 27 C"}
            ],
            "tools": [weather_tool()]
        })
    }

    // ---- request

    /// Bodies the `json!`-built request sent before the typed wire structs, captured with their
    /// requests (`captured_requests.json`): every representative request still gets the same JSON.
    #[test]
    fn request_bodies_are_the_ones_captured_before_the_typed_structs() {
        let cases: Vec<Value> = serde_json::from_str(include_str!("gemini/captured_requests.json")).unwrap();
        assert!(cases.len() > 50);
        for case in &cases {
            let req = request(case["request"].clone());
            let built = build_request(
                &upstream(case["model"].as_str().unwrap()),
                &Outgoing {
                    request: &req,
                    max_output_tokens: case["max_output_tokens"].as_u64().unwrap() as u32,
                    stream: false,
                },
            )
            .unwrap();
            let sent: Value = serde_json::from_str(&built.request.body).unwrap();
            assert_eq!(sent, case["body"], "{}", case["name"]);
        }
    }

    #[test]
    fn system_and_developer_messages_become_the_system_instruction() {
        let sent = body(json!({"model": "gemini-2.5-flash", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]}
        ]}));
        assert_eq!(
            sent["systemInstruction"],
            json!({"parts": [{"text": "Be brief.\n\nAnswer in French."}]})
        );
        assert_eq!(
            sent["contents"],
            json!([{"role": "user", "parts": [{"text": "hi"}]}])
        );
    }

    #[test]
    fn a_request_of_system_messages_only_sends_them_as_the_user_turn() {
        let sent = body(json!({"model": "m", "messages": [{"role": "system", "content": "Say hello."}]}));
        assert!(sent.get("systemInstruction").is_none());
        assert_eq!(
            sent["contents"],
            json!([{"role": "user", "parts": [{"text": "Say hello."}]}])
        );
    }

    #[test]
    fn roles_map_to_user_and_model_and_consecutive_turns_merge() {
        let sent = body(json!({"model": "m", "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": ""}]},
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "five"}
        ]}));
        assert_eq!(
            sent["contents"],
            json!([
                {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
                {"role": "model", "parts": [{"text": "three"}, {"text": "four"}]},
                {"role": "user", "parts": [{"text": "five"}]}
            ])
        );
    }

    #[test]
    fn data_url_images_become_inline_data_and_web_images_file_data() {
        let sent = body(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "compare"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.WEBP?size=2"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/render"}}
        ]}]}));
        assert_eq!(
            sent["contents"][0]["parts"],
            json!([
                {"text": "compare"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/a/cat.WEBP?size=2"}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/render"}}
            ])
        );
    }

    #[test]
    fn images_gemini_cannot_fetch_and_files_are_refused_naming_the_part() {
        let with_part = |part: Value| {
            json!({"model": "m", "messages": [
                {"role": "user", "content": "hi"},
                {"role": "user", "content": [{"type": "text", "text": "look"}, part]}
            ]})
        };
        assert_eq!(
            refused_param(with_part(
                json!({"type": "image_url", "image_url": {"url": "data:image/svg+xml,%3Csvg%3E"}})
            )),
            "messages[1].content[1].image_url.url"
        );
        assert_eq!(
            refused_param(with_part(
                json!({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}})
            )),
            "messages[1].content[1].image_url.url"
        );
        assert_eq!(
            refused_param(with_part(json!({"type": "file", "file": {"file_id": "file-1"}}))),
            "messages[1].content[1]"
        );
    }

    #[test]
    fn tool_schemas_are_cleaned_recursively_of_what_gemini_rejects() {
        let sent = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "book"}],
                "tools": [{"type": "function", "function": {
                    "name": "book_trip",
                    "description": "Books a trip",
                    "strict": true,
                    "parameters": {
                        "$schema": "http://json-schema.org/draft-07/schema#",
                        "title": "BookTrip",
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "title": {"type": "string", "description": "A property may be called title", "default": "Trip"},
                            "when": {"type": "string", "format": "date-time", "examples": ["2025-01-01T00:00:00Z"]},
                            "email": {"type": "string", "format": "email"},
                            "nights": {"type": "integer", "minimum": 1, "maximum": 30, "default": 2},
                            "travellers": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": false,
                                    "properties": {
                                        "name": {"type": "string", "default": ""},
                                        "seat": {"type": "string", "enum": ["aisle", "window"]},
                                        "tags": {"type": "array", "items": {"type": "string", "default": "x"}}
                                    },
                                    "required": ["name", "ghost"]
                                }
                            }
                        },
                        "required": ["when", "travellers"]
                    }
                }}]
            }),
        );
        assert_eq!(
            sent["tools"],
            json!([{"functionDeclarations": [{
                "name": "book_trip",
                "description": "Books a trip",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "description": "A property may be called title"},
                        "when": {"type": "string", "format": "date-time"},
                        "email": {"type": "string"},
                        "nights": {"type": "integer", "minimum": 1, "maximum": 30},
                        "travellers": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "seat": {"type": "string", "enum": ["aisle", "window"]},
                                    "tags": {"type": "array", "items": {"type": "string"}}
                                },
                                "required": ["name"]
                            }
                        }
                    },
                    "required": ["when", "travellers"]
                }
            }]}])
        );
        let text = sent["tools"].to_string();
        for banned in [
            "additionalProperties",
            "$schema",
            "default",
            "examples",
            "strict",
            "BookTrip",
        ] {
            assert!(!text.contains(banned), "{banned} left in {text}");
        }
    }

    #[test]
    fn refs_unions_and_constants_are_rewritten_into_gemini_terms() {
        // What Pydantic emits for `Optional[Address]`, a literal and a `Union[int, str]`.
        let cleaned = clean_schema(&json!({
            "$defs": {"Address": {"title": "Address", "type": "object",
                "properties": {"street": {"type": "string"}}, "required": ["street"]}},
            "type": "object",
            "properties": {
                "home": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}], "default": null},
                "work": {"$ref": "#/$defs/Address", "description": "Office"},
                "unit": {"const": "metric"},
                "note": {"type": ["string", "null"]},
                "id": {"type": ["integer", "string"]},
                "level": {"type": "integer", "enum": [1, 2, 3]},
                "kind": {"oneOf": [{"type": "string"}, {"type": "integer"}]}
            }
        }));
        assert_eq!(
            cleaned,
            json!({
                "type": "object",
                "properties": {
                    "home": {"type": "object", "properties": {"street": {"type": "string"}},
                             "required": ["street"], "nullable": true},
                    "work": {"type": "object", "properties": {"street": {"type": "string"}},
                             "required": ["street"], "description": "Office"},
                    "unit": {"type": "string", "enum": ["metric"]},
                    "note": {"type": "string", "nullable": true},
                    "id": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "level": {"type": "integer", "description": "Allowed values: 1, 2, 3."},
                    "kind": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
                }
            })
        );
    }

    #[test]
    fn a_recursive_schema_is_cut_rather_than_followed_forever() {
        let cleaned = clean_schema(&json!({
            "definitions": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}}},
            "$ref": "#/definitions/Node"
        }));
        assert_eq!(cleaned["type"], "object");
        assert!(cleaned.to_string().len() < 10_000);
    }

    #[test]
    fn a_function_without_parameters_declares_none() {
        let sent = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "time?"}],
            "tools": [{"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}},
                      {"type": "function", "function": {"name": "later"}}]}),
        );
        assert_eq!(
            sent["tools"][0]["functionDeclarations"],
            json!([{"name": "now"}, {"name": "later"}])
        );
    }

    #[test]
    fn every_tool_choice_maps_to_a_function_calling_mode() {
        let with_choice = |choice: Value| {
            let sent = body(
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                "tools": [weather_tool()], "tool_choice": choice}),
            );
            sent["toolConfig"]["functionCallingConfig"].clone()
        };
        assert_eq!(with_choice(json!("auto")), json!({"mode": "AUTO"}));
        assert_eq!(with_choice(json!("none")), json!({"mode": "NONE"}));
        assert_eq!(with_choice(json!("required")), json!({"mode": "ANY"}));
        assert_eq!(
            with_choice(json!({"type": "function", "function": {"name": "get_weather"}})),
            json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]})
        );
        let without = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [weather_tool()]}),
        );
        assert!(without.get("toolConfig").is_none());
    }

    #[test]
    fn tool_calls_become_function_calls_and_tool_results_named_function_responses() {
        let sent = body(round_trip());
        assert_eq!(
            sent["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp_c": 22, "sky": "clear"}}},
                    {"functionResponse": {"name": "get_weather", "response": {"content": "sunny, 27 C"}}}
                ]}
            ])
        );
        assert_eq!(
            sent["systemInstruction"]["parts"][0]["text"],
            "You are a weather bot."
        );
    }

    #[test]
    fn a_tool_result_for_an_unknown_call_is_refused_naming_its_id() {
        let mut body = round_trip();
        body["messages"][4]["tool_call_id"] = json!("call_zzz");
        assert_eq!(refused_param(body), "messages[4].tool_call_id");
        // A result before its call is just as unknown.
        let early = json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "call_a", "content": "x"}
        ]});
        assert_eq!(refused_param(early), "messages[1].tool_call_id");
    }

    #[test]
    fn unparseable_tool_call_arguments_are_refused_naming_the_field() {
        let mut body = round_trip();
        body["messages"][2]["tool_calls"][1]["function"]["arguments"] = json!("{\"city\": ");
        assert_eq!(
            refused_param(body.clone()),
            "messages[2].tool_calls[1].function.arguments"
        );
        body["messages"][2]["tool_calls"][1]["function"]["arguments"] = json!("[1, 2]");
        assert_eq!(
            refused_param(body),
            "messages[2].tool_calls[1].function.arguments"
        );
    }

    #[test]
    fn gemini_3_function_calls_carry_the_placeholder_signature_and_2_5_ones_none() {
        let mut trip = round_trip();
        trip["model"] = json!("gemini-3.5-flash");
        let sent = body_for_model("gemini-3.5-flash", trip).unwrap();
        let calls = &sent["contents"][1]["parts"];
        assert_eq!(calls[0]["thoughtSignature"], PLACEHOLDER_SIGNATURE);
        assert!(calls[1].get("thoughtSignature").is_none());
        let older = body(round_trip());
        assert!(!older.to_string().contains("thoughtSignature"));
    }

    #[test]
    fn generation_config_carries_sampling_the_ceiling_and_stop_sequences() {
        let sent = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.3, "top_p": 0.9, "max_tokens": 50000, "stop": ["END", "\n\n"],
            "seed": 42, "presence_penalty": 0.5, "frequency_penalty": -0.25}),
        );
        assert_eq!(
            sent["generationConfig"],
            json!({"temperature": 0.3, "topP": 0.9, "maxOutputTokens": 1024, "stopSequences": ["END", "\n\n"],
                   "seed": 42})
        );
        let plain = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "stop": "END", "presence_penalty": 0, "frequency_penalty": 0.0}),
        );
        assert_eq!(
            plain["generationConfig"],
            json!({"maxOutputTokens": 1024, "stopSequences": ["END"]})
        );
    }

    #[test]
    fn json_modes_set_the_mime_type_and_a_cleaned_response_schema() {
        let object = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"}}),
        );
        assert_eq!(object["generationConfig"]["responseMimeType"], "application/json");
        assert!(object["generationConfig"].get("responseSchema").is_none());
        let schema = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": {
                "type": "object", "additionalProperties": false,
                "properties": {"answer": {"type": "string"}, "score": {"type": "number", "default": 0}},
                "required": ["answer", "score"]}}}}),
        );
        assert_eq!(schema["generationConfig"]["responseMimeType"], "application/json");
        assert_eq!(
            schema["generationConfig"]["responseSchema"],
            json!({"type": "object", "properties": {"answer": {"type": "string"}, "score": {"type": "number"}},
                   "required": ["answer", "score"]})
        );
        let text = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "text"}}),
        );
        assert!(text["generationConfig"].get("responseMimeType").is_none());
    }

    #[test]
    fn openai_only_parameters_are_dropped_and_named_in_the_warnings() {
        let mut dropped =
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "user": "u-1"});
        for (key, value) in [
            ("parallel_tool_calls", json!(false)),
            ("logit_bias", json!({"50256": -100})),
            ("logprobs", json!(true)),
            ("top_logprobs", json!(3)),
            ("store", json!(true)),
            ("service_tier", json!("flex")),
        ] {
            dropped[key] = value;
        }
        let req = request(dropped);
        let built = build_request(
            &upstream("gemini-2.5-flash"),
            &Outgoing {
                request: &req,
                max_output_tokens: 100,
                stream: false,
            },
        )
        .unwrap();
        let sent: Value = serde_json::from_str(&built.request.body).unwrap();
        let keys: Vec<&str> = sent.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["contents", "generationConfig"]);
        for param in [
            "user",
            "parallel_tool_calls",
            "logit_bias",
            "logprobs",
            "top_logprobs",
            "store",
            "service_tier",
        ] {
            assert!(
                built.warnings.iter().any(|w| w.starts_with(param)),
                "{param}: {:?}",
                built.warnings
            );
        }
    }

    #[test]
    fn reasoning_effort_becomes_a_thinking_budget_on_gemini_2_5_and_a_level_on_gemini_3() {
        let config = |model: &str, effort: &str, max: u32| thinking_config(model, effort, max);
        assert_eq!(
            config("gemini-2.5-flash", "low", 65536),
            json!({"thinkingBudget": 2048})
        );
        assert_eq!(
            config("gemini-2.5-flash", "none", 65536),
            json!({"thinkingBudget": 0})
        );
        assert_eq!(
            config("gemini-2.5-flash", "xhigh", 65536),
            json!({"thinkingBudget": 24576})
        );
        assert_eq!(
            config("gemini-2.5-flash", "high", 4096),
            json!({"thinkingBudget": 2048})
        );
        // 2.5 Pro cannot stop thinking: its least budget is 128.
        assert_eq!(
            config("gemini-2.5-pro", "none", 65536),
            json!({"thinkingBudget": 128})
        );
        assert_eq!(
            config("gemini-2.5-pro", "max", 65536),
            json!({"thinkingBudget": 32768})
        );
        assert_eq!(
            config("gemini-2.5-flash-lite", "minimal", 600),
            json!({"thinkingBudget": 512})
        );
        assert_eq!(
            config("gemini-3.5-flash", "minimal", 8192),
            json!({"thinkingLevel": "minimal"})
        );
        assert_eq!(
            config("gemini-3.5-flash", "medium", 8192),
            json!({"thinkingLevel": "medium"})
        );
        assert_eq!(
            config("gemini-3.1-pro-preview", "none", 8192),
            json!({"thinkingLevel": "low"})
        );
        assert_eq!(
            config("gemini-3.1-pro-preview", "medium", 8192),
            json!({"thinkingLevel": "high"})
        );
        let sent = body(
            json!({"model": "m", "reasoning_effort": "medium", "messages": [{"role": "user", "content": "hi"}]}),
        );
        // Under the 1024-token cap of `body`: half of it.
        assert_eq!(
            sent["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 512})
        );
    }

    #[test]
    fn the_url_differs_for_streams_and_the_key_travels_only_in_a_header() {
        let up = upstream("gemini-2.5-flash");
        let req =
            request(json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}));
        let build = |stream| {
            build_request(
                &up,
                &Outgoing {
                    request: &req,
                    max_output_tokens: 10,
                    stream,
                },
            )
            .unwrap()
            .request
        };
        let whole = build(false);
        assert_eq!(
            whole.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        let streamed = build(true);
        assert_eq!(
            streamed.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        for built in [&whole, &streamed] {
            assert!(!built.url.contains(&up.api_key) && !built.url.contains("key="));
            assert!(!built.body.contains(&up.api_key));
            assert_eq!(
                built.headers,
                vec![
                    ("x-goog-api-key", up.api_key.clone()),
                    ("content-type", "application/json".to_owned())
                ]
            );
        }
        // The stream is chosen by the URL alone; the body is the same.
        assert_eq!(whole.body, streamed.body);
    }

    #[test]
    fn a_request_built_from_a_full_tool_round_trip_passes_the_mocks_validation() {
        let mut trip = round_trip();
        trip["messages"][1]["content"] = json!([
            {"type": "text", "text": "Weather in Paris and Rome?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]);
        trip["temperature"] = json!(0.2);
        trip["tool_choice"] = json!("auto");
        for model in ["gemini-2.5-flash", "gemini-3.5-flash"] {
            let sent = body_for_model(model, trip.clone()).unwrap();
            let answer = flint_mock::expected_answer(
                flint_mock::Provider::Gemini,
                &sent,
                &flint_mock::Defaults::default(),
            );
            let answer = match answer {
                Ok(answer) => answer,
                Err(error) => panic!("the mock refused {sent}: {}", error.message),
            };
            // The last turn is the tool results, so the mock answers from them.
            assert!(answer.text().starts_with("Tool said:"), "{}", answer.text());
        }
    }

    #[test]
    fn a_first_turn_with_tools_passes_the_mocks_validation_and_gets_a_call() {
        let sent = body(
            json!({"model": "m", "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": [weather_tool()], "tool_choice": "required"}),
        );
        let answer = flint_mock::expected_answer(
            flint_mock::Provider::Gemini,
            &sent,
            &flint_mock::Defaults::default(),
        )
        .unwrap();
        assert!(
            matches!(answer.reply, flint_mock::Reply::ToolCalls(ref calls) if calls[0].name == "get_weather")
        );
    }

    // ---- responses (shapes as Google documents and sends them)

    const TEXT_ANSWER: &str = r#"{
      "candidates": [{
        "content": {"parts": [{"text": "Paris is the capital "}, {"text": "of France."}], "role": "model"},
        "finishReason": "STOP",
        "index": 0
      }],
      "usageMetadata": {
        "promptTokenCount": 9, "candidatesTokenCount": 7, "totalTokenCount": 41,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}], "thoughtsTokenCount": 25
      },
      "modelVersion": "gemini-2.5-flash",
      "responseId": "mJ2bZ8XyDqOfz7IPmYrUiAk"
    }"#;

    const CALL_ANSWER: &str = r#"{
      "candidates": [{
        "content": {"parts": [{
          "functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}},
          "thoughtSignature": "CiQB0e2Kb0v7pXk1mMhR0gI0n1JjcuDbmGnP8v3Xx6hB2j4KQm8="
        }], "role": "model"},
        "finishReason": "STOP",
        "index": 0,
        "finishMessage": "Model generated function call(s)."
      }],
      "usageMetadata": {"promptTokenCount": 61, "candidatesTokenCount": 18, "totalTokenCount": 79,
                        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 61}]},
      "modelVersion": "gemini-2.5-flash",
      "responseId": "q52bZ4yJBKuTz7IP1_OiwQw"
    }"#;

    const SAFETY_ANSWER: &str = r#"{
      "candidates": [{
        "finishReason": "SAFETY",
        "index": 0,
        "safetyRatings": [
          {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
          {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "HIGH", "blocked": true},
          {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
          {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"}
        ]
      }],
      "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
      "modelVersion": "gemini-2.5-flash",
      "responseId": "x52bZ7n3L4Cfz7IPxLmB4Qs"
    }"#;

    const BLOCKED_PROMPT: &str = r#"{
      "promptFeedback": {
        "blockReason": "SAFETY",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]
      },
      "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
      "modelVersion": "gemini-2.5-flash"
    }"#;

    const RATE_LIMITED: &str = r#"{
      "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
          {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"}, "quotaValue": "10"}]},
          {"@type": "type.googleapis.com/google.rpc.Help", "links": [{
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
        ]
      }
    }"#;

    #[test]
    fn a_text_answer_parses_with_its_usage_thinking_included() {
        let completion = parse_completion(TEXT_ANSWER).unwrap();
        let choice = &completion.choices[0];
        assert_eq!(choice.message.role, "assistant");
        assert_eq!(
            choice.message.content.as_deref(),
            Some("Paris is the capital of France.")
        );
        assert!(choice.message.tool_calls.is_none());
        assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
        let usage = completion.usage.unwrap();
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
            (9, 32, 41)
        );
        assert_eq!(
            usage.extra["completion_tokens_details"],
            json!({"reasoning_tokens": 25})
        );
        assert_eq!(completion.model, "gemini-2.5-flash");
    }

    #[test]
    fn a_function_call_answer_becomes_tool_calls_with_generated_ids() {
        let completion = parse_completion(CALL_ANSWER).unwrap();
        let choice = &completion.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        assert!(choice.message.content.is_none());
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].kind, "function");
        assert_eq!(calls[0].function.name, "get_weather");
        let args: Value = serde_json::from_str(&calls[0].function.arguments).unwrap();
        assert_eq!(args, json!({"city": "Paris", "unit": "celsius"}));
        let id = calls[0].id.strip_prefix("call_").unwrap();
        assert!(
            id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        assert_ne!(
            parse_completion(CALL_ANSWER).unwrap().choices[0]
                .message
                .tool_calls
                .as_ref()
                .unwrap()[0]
                .id,
            calls[0].id
        );
        assert_eq!(completion.usage.unwrap().completion_tokens, 18);
    }

    #[test]
    fn a_safety_blocked_answer_has_no_content_and_finishes_with_content_filter() {
        let completion = parse_completion(SAFETY_ANSWER).unwrap();
        assert!(completion.choices[0].message.content.is_none());
        assert_eq!(
            completion.choices[0].finish_reason.as_deref(),
            Some("content_filter")
        );
        assert_eq!(completion.usage.unwrap().prompt_tokens, 12);
    }

    #[test]
    fn a_blocked_prompt_has_no_content_and_finishes_with_content_filter() {
        let completion = parse_completion(BLOCKED_PROMPT).unwrap();
        assert!(completion.choices[0].message.content.is_none());
        assert_eq!(
            completion.choices[0].finish_reason.as_deref(),
            Some("content_filter")
        );
        let usage = completion.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (8, 0));
    }

    #[test]
    fn thought_parts_are_not_part_of_the_answer() {
        let body = r#"{"candidates": [{"content": {"parts": [
            {"text": "**Thinking** about capitals", "thought": true},
            {"text": "Paris."}], "role": "model"}, "finishReason": "STOP"}]}"#;
        let completion = parse_completion(body).unwrap();
        assert_eq!(completion.choices[0].message.content.as_deref(), Some("Paris."));
        assert!(completion.usage.is_none());
    }

    #[test]
    fn finish_reasons_map_to_openai_ones() {
        for (gemini, openai) in [
            ("STOP", "stop"),
            ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"),
            ("RECITATION", "content_filter"),
            ("BLOCKLIST", "content_filter"),
            ("PROHIBITED_CONTENT", "content_filter"),
            ("SPII", "content_filter"),
            ("IMAGE_SAFETY", "content_filter"),
            ("OTHER", "stop"),
            ("MALFORMED_FUNCTION_CALL", "stop"),
            ("LANGUAGE", "stop"),
        ] {
            assert_eq!(finish_reason(gemini, false), openai, "{gemini}");
        }
        assert_eq!(finish_reason("STOP", true), "tool_calls");
        assert_eq!(finish_reason("MAX_TOKENS", true), "length");
        let truncated = TEXT_ANSWER.replace("\"STOP\"", "\"MAX_TOKENS\"");
        assert_eq!(
            parse_completion(&truncated).unwrap().choices[0]
                .finish_reason
                .as_deref(),
            Some("length")
        );
    }

    #[test]
    fn an_error_body_or_garbage_does_not_parse_as_a_completion() {
        assert!(parse_completion(RATE_LIMITED)
            .unwrap_err()
            .contains("exceeded your current quota"));
        assert!(parse_completion("<html>").is_err());
        assert!(parse_completion(r#"{"candidates": "nope"}"#).is_err());
    }

    // ---- streams

    fn event(data: &str) -> SseEvent {
        SseEvent {
            data: data.into(),
            ..Default::default()
        }
    }

    fn run(stream: &mut GeminiStream, events: &[&str]) -> Vec<StreamItem> {
        events
            .iter()
            .flat_map(|data| stream.on_event(&event(data)))
            .collect()
    }

    fn delta(item: &StreamItem) -> &Delta {
        match item {
            StreamItem::Chunk(chunk) => &chunk.choices[0].delta,
            other => panic!("not a chunk: {other:?}"),
        }
    }

    fn finish_of(item: &StreamItem) -> Option<&str> {
        match item {
            StreamItem::Chunk(chunk) => chunk.choices[0].finish_reason.as_deref(),
            _ => None,
        }
    }

    /// A streamed text answer as `alt=sse` delivers it: usage on every chunk, growing.
    const TEXT_STREAM: [&str; 3] = [
        r#"{"candidates": [{"content": {"parts": [{"text": "The sky is"}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}]}, "modelVersion": "gemini-2.5-flash", "responseId": "7p2bZ_6rI6Cfz7IPtoDF8Ak"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": " blue because of Rayleigh"}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 5, "totalTokenCount": 11, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}]}, "modelVersion": "gemini-2.5-flash", "responseId": "7p2bZ_6rI6Cfz7IPtoDF8Ak"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": " scattering."}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 9, "totalTokenCount": 52, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}], "thoughtsTokenCount": 37}, "modelVersion": "gemini-2.5-flash", "responseId": "7p2bZ_6rI6Cfz7IPtoDF8Ak"}"#,
    ];

    #[test]
    fn a_streamed_text_answer_becomes_role_content_finish_usage_and_done() {
        let mut stream = GeminiStream::new();
        let items = run(&mut stream, &TEXT_STREAM);
        assert_eq!(items.len(), 7, "{items:#?}");
        assert_eq!(delta(&items[0]).role.as_deref(), Some("assistant"));
        let text: String = items[1..4]
            .iter()
            .map(|item| delta(item).content.clone().unwrap())
            .collect();
        assert_eq!(text, "The sky is blue because of Rayleigh scattering.");
        assert_eq!(finish_of(&items[4]), Some("stop"));
        assert_eq!(*delta(&items[4]), Delta::default());
        // Usage is the last one, which came in the finishing chunk itself.
        assert_eq!(
            items[5],
            StreamItem::Usage(
                UsageMetadata {
                    prompt_token_count: 6,
                    candidates_token_count: 9,
                    thoughts_token_count: 37,
                    cached_content_token_count: 0,
                    total_token_count: Some(52),
                }
                .usage()
            )
        );
        assert!(
            matches!(&items[5], StreamItem::Usage(u) if (u.prompt_tokens, u.completion_tokens) == (6, 46))
        );
        assert_eq!(items[6], StreamItem::Done);
        // Anything after the finish is ignored.
        assert!(stream.on_event(&event(TEXT_STREAM[0])).is_empty());
    }

    #[test]
    fn a_streamed_answer_with_two_function_calls_indexes_them() {
        let events = [
            r#"{"candidates": [{"content": {"parts": [{"text": "Checking both."}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 70, "totalTokenCount": 70}, "modelVersion": "gemini-2.5-flash", "responseId": "Hp6bZ5mKFNGfz7IPp7TmYQ"}"#,
            r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQB0e2Kb3vN"}, {"functionCall": {"name": "get_time", "args": {}}}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 24, "totalTokenCount": 94}, "modelVersion": "gemini-2.5-flash", "responseId": "Hp6bZ5mKFNGfz7IPp7TmYQ"}"#,
        ];
        let mut stream = GeminiStream::new();
        let items = run(&mut stream, &events);
        assert_eq!(items.len(), 7, "{items:#?}");
        assert_eq!(delta(&items[0]).role.as_deref(), Some("assistant"));
        assert_eq!(delta(&items[1]).content.as_deref(), Some("Checking both."));
        let calls: Vec<&ToolCallDelta> = items[2..4]
            .iter()
            .map(|item| &delta(item).tool_calls.as_ref().unwrap()[0])
            .collect();
        assert_eq!((calls[0].index, calls[1].index), (0, 1));
        for call in &calls {
            assert_eq!(call.kind.as_deref(), Some("function"));
            assert!(call.id.as_deref().unwrap().starts_with("call_"));
        }
        assert_ne!(calls[0].id, calls[1].id);
        let first = calls[0].function.as_ref().unwrap();
        assert_eq!(first.name.as_deref(), Some("get_weather"));
        assert_eq!(first.arguments.as_deref(), Some(r#"{"city":"Paris"}"#));
        assert_eq!(
            calls[1].function.as_ref().unwrap().arguments.as_deref(),
            Some("{}")
        );
        assert_eq!(finish_of(&items[4]), Some("tool_calls"));
        assert!(
            matches!(&items[5], StreamItem::Usage(u) if u.completion_tokens == 24 && u.total_tokens == 94)
        );
        assert_eq!(items[6], StreamItem::Done);
    }

    #[test]
    fn a_stream_blocked_by_safety_ends_with_content_filter() {
        let mut stream = GeminiStream::new();
        let items = run(
            &mut stream,
            &[
                r#"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": "gemini-2.5-flash"}"#,
            ],
        );
        assert_eq!(items.len(), 4, "{items:#?}");
        assert_eq!(finish_of(&items[1]), Some("content_filter"));
        assert!(matches!(&items[2], StreamItem::Usage(u) if u.prompt_tokens == 5));
        assert_eq!(items[3], StreamItem::Done);
    }

    #[test]
    fn stream_errors_and_malformed_events_become_errors() {
        let mut stream = GeminiStream::new();
        let error = r#"{"error": {"code": 500, "message": "An internal error has occurred. Key AIzaSyD-1234567890abcdefghij", "status": "INTERNAL"}}"#;
        match stream.on_event(&event(error)).as_slice() {
            [StreamItem::Error(message)] => {
                assert!(message.contains("An internal error has occurred"));
                assert!(!message.contains("1234567890"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let mut stream = GeminiStream::new();
        assert!(matches!(
            stream.on_event(&event("{not json")).as_slice(),
            [StreamItem::Error(_)]
        ));
        let mut stream = GeminiStream::new();
        assert!(matches!(
            stream
                .on_event(&event(r#"{"candidates": [{"content": {"parts": "x"}}]}"#))
                .as_slice(),
            [StreamItem::Error(_)]
        ));
        // Keep-alive blank events are nothing.
        assert!(GeminiStream::default().on_event(&event("")).is_empty());
    }

    #[test]
    fn the_retry_delay_of_a_429_is_read_in_whole_seconds_rounded_up() {
        assert_eq!(retry_delay_secs(RATE_LIMITED), Some(20));
        assert_eq!(
            retry_delay_secs(&RATE_LIMITED.replace("\"20s\"", "\"1.5s\"")),
            Some(2)
        );
        assert_eq!(
            retry_delay_secs(&RATE_LIMITED.replace("\"20s\"", "\"0.000250s\"")),
            Some(1)
        );
        assert_eq!(
            retry_delay_secs(r#"{"error": {"code": 429, "message": "slow down"}}"#),
            None
        );
        assert_eq!(
            retry_delay_secs(&RATE_LIMITED.replace("\"20s\"", "\"soon\"")),
            None
        );
        assert_eq!(retry_delay_secs("not json"), None);
        // The mock's 429 is read the same way.
        let mock = flint_mock::gemini::error_body(&flint_mock::error::WireError::injected(429, Some(7)));
        assert_eq!(retry_delay_secs(&mock.to_string()), Some(7));
    }
}
