//! The request: the canonical chat request as a Messages request, in typed wire structs (the
//! mapping is in the module docs of [`super`]). The `cache_control` marks are put on their
//! blocks here and kept within Anthropic's rules by [`super::cache`].

use serde::Serialize;
use serde_json::{json, Value};

use super::cache::limit_cache_marks;
use crate::canonical::{
    Annotations, CacheControl, ChatRequest, Content, ContentPart, Message, ResponseFormat, ToolChoice,
    ToolChoiceMode,
};
use crate::error::{ApiError, ApiResult};
use crate::providers::{Built, Outgoing, Upstream, UpstreamRequest};

/// The `anthropic-version` header every request carries.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The image media types Anthropic accepts in base64 image blocks.
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

// ---- the wire structs

#[derive(Debug, Serialize)]
pub(super) struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) system: Option<System>,
    pub(super) messages: Vec<Turn>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) tools: Vec<ToolDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop_sequences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

/// `system`: a string, or text blocks when some carry a `cache_control` mark.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum System {
    Text(String),
    Blocks(Vec<SystemBlock>),
}

#[derive(Debug, Serialize)]
pub(super) struct SystemBlock {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cache_control: Option<CacheControl>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Thinking {
    Enabled { budget_tokens: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    User,
    Assistant,
}

#[derive(Debug, Serialize)]
pub(super) struct Turn {
    role: Role,
    pub(super) content: Vec<Block>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block {
    Text {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Image {
        source: ImageSource,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
}

impl Block {
    pub(super) fn cache_control_mut(&mut self) -> &mut Option<CacheControl> {
        match self {
            Block::Text { cache_control, .. }
            | Block::Image { cache_control, .. }
            | Block::ToolUse { cache_control, .. }
            | Block::ToolResult { cache_control, .. } => cache_control,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Serialize)]
pub(super) struct ToolDef {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    input_schema: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cache_control: Option<CacheControl>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireToolChoice {
    Auto {
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Debug, Serialize)]
struct Metadata {
    user_id: String,
}

pub fn build_request(upstream: &Upstream, outgoing: &Outgoing<'_>, notes: &Annotations) -> ApiResult<Built> {
    let (body, warnings) = request_body(upstream, outgoing, notes)?;
    let mut headers = vec![
        ("x-api-key", upstream.api_key.clone()),
        ("anthropic-version", ANTHROPIC_VERSION.to_owned()),
        ("content-type", "application/json".to_owned()),
    ];
    if outgoing.stream {
        headers.push(("accept", "text/event-stream".to_owned()));
    }
    // The base URL is configured without the API version; one that already ends in `/v1` (a
    // proxy configured the OpenAI way) is not given a second one.
    let base = upstream.base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    Ok(Built {
        request: UpstreamRequest {
            url: format!("{base}/v1/messages"),
            headers,
            body: serde_json::to_string(&body).map_err(ApiError::internal)?,
        },
        warnings,
    })
}

/// The thinking budget of each `reasoning_effort` (`none`: no thinking). The budget sent is
/// this, at most half the capped `max_tokens` (the answer keeps room) and at least Anthropic's
/// minimum of 1,024; it must stay below `max_tokens`, else thinking is off for the request.
pub const THINKING_BUDGETS: &[(&str, u32)] = &[
    ("minimal", 1024),
    ("low", 2048),
    ("medium", 8192),
    ("high", 16384),
    ("xhigh", 32768),
    ("max", 65536),
];

/// Anthropic's smallest thinking budget.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// The budget for `effort` under `max_tokens`, if thinking fits.
pub fn thinking_budget(effort: &str, max_tokens: u32) -> Option<u32> {
    let wanted = THINKING_BUDGETS.iter().find(|(e, _)| *e == effort)?.1;
    let budget = wanted.min(max_tokens / 2).max(MIN_THINKING_BUDGET);
    (budget < max_tokens).then_some(budget)
}

/// The Messages request for `outgoing`, or the 400 naming what Anthropic cannot take, and the
/// warnings naming what was left out.
fn request_body<'a>(
    upstream: &'a Upstream,
    outgoing: &Outgoing<'_>,
    notes: &Annotations,
) -> ApiResult<(MessagesRequest<'a>, Vec<String>)> {
    let request = outgoing.request;
    let mut warnings = crate::providers::unused_params(
        request,
        &["reasoning_effort"],
        &["seed", "presence_penalty", "frequency_penalty", "n"],
        "Claude",
    );
    let (mut system, messages) = conversation(request, notes)?;
    if let Some(instruction) = request.response_format.as_ref().and_then(json_instruction) {
        system.push(SystemBlock {
            kind: "text",
            text: instruction,
            cache_control: None,
        });
    }
    let (tools, tool_choice) = tools_and_choice(request, &messages, notes);
    let mut stop_sequences = request.stop.as_ref().map(|s| s.sequences()).unwrap_or_default();
    if stop_sequences.iter().any(|s| s.trim().is_empty()) {
        // Anthropic refuses whitespace-only stop sequences (e.g. "\n").
        stop_sequences.retain(|s| !s.trim().is_empty());
        warnings.push("whitespace-only stop sequences not sent: Claude refuses them".to_owned());
    }
    let thinking = thinking(
        request,
        outgoing.max_output_tokens,
        &messages,
        &tool_choice,
        &mut warnings,
    );
    let mut temperature = request.temperature.map(|t| t.min(1.0));
    // Thinking takes temperature 1 only and top_p of at least 0.95.
    if thinking.is_some() && temperature.is_some_and(|t| t != 1.0) {
        temperature = None;
        warnings.push("temperature not sent: Claude thinks at temperature 1 only".to_owned());
    }
    // Current Claude models refuse `temperature` and `top_p` together.
    let mut top_p = request.top_p.filter(|_| temperature.is_none());
    if thinking.is_some() && top_p.is_some_and(|p| p < 0.95) {
        top_p = None;
        warnings.push("top_p not sent: Claude's thinking takes 0.95 to 1 only".to_owned());
    }
    let mut body = MessagesRequest {
        model: &upstream.model.upstream_id,
        max_tokens: outgoing.max_output_tokens,
        system: None,
        messages,
        tools,
        tool_choice,
        stop_sequences,
        temperature,
        top_p,
        metadata: request
            .user
            .as_ref()
            .filter(|u| !u.trim().is_empty())
            .map(|u| Metadata { user_id: u.clone() }),
        thinking,
        stream: outgoing.stream,
    };
    body.system = system_of(system);
    limit_cache_marks(&mut body, &mut warnings);
    Ok((body, warnings))
}

/// `reasoning_effort` as Claude's `thinking`, where Anthropic's rules let it on (see
/// [`thinking_budget`]): not with a forced tool choice, not when the request continues a tool
/// call or prefills the answer (Anthropic then wants the earlier turn's signed thinking back,
/// which an OpenAI history cannot carry).
fn thinking(
    request: &ChatRequest,
    max_tokens: u32,
    turns: &[Turn],
    tool_choice: &Option<WireToolChoice>,
    warnings: &mut Vec<String>,
) -> Option<Thinking> {
    let effort = request.extra.get("reasoning_effort").and_then(Value::as_str)?;
    if effort == "none" {
        return None;
    }
    let mut off = |why: &str| {
        warnings.push(format!("reasoning_effort not applied: {why}"));
        None
    };
    if matches!(
        tool_choice,
        Some(WireToolChoice::Any { .. } | WireToolChoice::Tool { .. })
    ) {
        return off("Claude cannot think when the tool choice forces a tool");
    }
    match turns.last() {
        Some(last) if last.role == Role::Assistant => {
            return off("Claude cannot think while continuing a prefilled answer")
        }
        Some(last) if last.content.iter().any(|b| matches!(b, Block::ToolResult { .. })) => {
            return off("Claude needs its signed thinking back to think after a tool call")
        }
        _ => {}
    }
    match thinking_budget(effort, max_tokens) {
        Some(budget_tokens) => Some(Thinking::Enabled { budget_tokens }),
        None => off(&format!(
            "no thinking budget of {MIN_THINKING_BUDGET} tokens fits under max_tokens {max_tokens}"
        )),
    }
}

fn system_of(blocks: Vec<SystemBlock>) -> Option<System> {
    if blocks.is_empty() {
        return None;
    }
    if blocks.iter().all(|b| b.cache_control.is_none()) {
        let texts: Vec<String> = blocks.into_iter().map(|b| b.text).collect();
        return Some(System::Text(texts.join("\n\n")));
    }
    Some(System::Blocks(blocks))
}

/// The system blocks and the alternating turns, with the client's cache marks on their blocks.
fn conversation(request: &ChatRequest, notes: &Annotations) -> ApiResult<(Vec<SystemBlock>, Vec<Turn>)> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, message) in request.messages.iter().enumerate() {
        let (role, mut blocks) = match message {
            Message::System { content, .. } | Message::Developer { content, .. } => {
                system.extend(system_blocks(i, content, notes));
                continue;
            }
            Message::User { content, .. } => (Role::User, content_blocks(i, content, notes)?),
            Message::Assistant {
                content, tool_calls, ..
            } => {
                let mut blocks = match content {
                    Some(content) => content_blocks(i, content, notes)?,
                    None => Vec::new(),
                };
                for (j, call) in tool_calls.iter().flatten().enumerate() {
                    blocks.push(Block::ToolUse {
                        id: tool_id(&call.id),
                        name: call.function.name.clone(),
                        input: tool_input(i, j, &call.function.arguments)?,
                        cache_control: None,
                    });
                }
                (Role::Assistant, blocks)
            }
            Message::Tool {
                content,
                tool_call_id,
            } => {
                let text = content.text();
                let marked = match content {
                    Content::Parts(parts) => (0..parts.len()).rev().find_map(|j| notes.part(i, j)),
                    Content::Text(_) => None,
                };
                let block = Block::ToolResult {
                    tool_use_id: tool_id(tool_call_id),
                    content: (!text.trim().is_empty()).then_some(text),
                    cache_control: marked,
                };
                (Role::User, vec![block])
            }
        };
        // A mark on the message itself marks its last block.
        if let (Some(mark), Some(last)) = (notes.on_message(i), blocks.last_mut()) {
            last.cache_control_mut().get_or_insert(mark);
        }
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.append(&mut blocks),
            _ => turns.push(Turn {
                role,
                content: blocks,
            }),
        }
    }
    for turn in turns.iter_mut().filter(|t| t.role == Role::User) {
        let (mut blocks, rest): (Vec<Block>, Vec<Block>) = std::mem::take(&mut turn.content)
            .into_iter()
            .partition(|b| matches!(b, Block::ToolResult { .. }));
        blocks.extend(rest);
        turn.content = blocks;
    }
    match turns.first() {
        None => {
            return Err(ApiError::bad_request(
                "messages",
                "Anthropic models need at least one user message with content besides system messages.",
            ))
        }
        Some(first) if first.role != Role::User => {
            return Err(ApiError::bad_request(
                "messages",
                "Anthropic models need the conversation to start with a user message (after any system \
                 messages); this one starts with an assistant message.",
            ))
        }
        _ => {}
    }
    if let Some(last) = turns.last_mut().filter(|t| t.role == Role::Assistant) {
        if let Some(Block::Text { text, .. }) = last.content.last_mut() {
            text.truncate(text.trim_end().len());
        }
    }
    Ok((system, turns))
}

/// A system message as system blocks: one of its whole text, or, when it carries cache marks,
/// one per text part with its mark (a mark on the message marks the last).
fn system_blocks(i: usize, content: &Content, notes: &Annotations) -> Vec<SystemBlock> {
    let block = |text: String, cache_control| SystemBlock {
        kind: "text",
        text,
        cache_control,
    };
    let marked = match content {
        Content::Parts(parts) => (0..parts.len()).any(|j| notes.part(i, j).is_some()),
        Content::Text(_) => false,
    };
    let mut blocks: Vec<SystemBlock> = match content {
        Content::Parts(parts) if marked => parts
            .iter()
            .enumerate()
            .filter_map(|(j, part)| match part {
                ContentPart::Text { text } if !text.trim().is_empty() => {
                    Some(block(text.clone(), notes.part(i, j)))
                }
                _ => None,
            })
            .collect(),
        _ => {
            let text = content.text();
            if text.trim().is_empty() {
                Vec::new()
            } else {
                vec![block(text, None)]
            }
        }
    };
    if let (Some(mark), Some(last)) = (notes.on_message(i), blocks.last_mut()) {
        last.cache_control.get_or_insert(mark);
    }
    blocks
}

/// The text and image blocks of message `i`'s content, with the marks of its parts; blank text
/// is left out.
fn content_blocks(i: usize, content: &Content, notes: &Annotations) -> ApiResult<Vec<Block>> {
    let text_block = |text: &str, cache_control| {
        (!text.trim().is_empty()).then(|| Block::Text {
            text: text.to_owned(),
            cache_control,
        })
    };
    match content {
        Content::Text(text) => Ok(text_block(text, None).into_iter().collect()),
        Content::Parts(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let mark = notes.part(i, j);
                match part {
                    ContentPart::Text { text } => blocks.extend(text_block(text, mark)),
                    ContentPart::ImageUrl { image_url } => blocks.push(Block::Image {
                        source: image_source(&image_url.url).map_err(|m| {
                            ApiError::bad_request(format!("messages[{i}].content[{j}].image_url.url"), m)
                        })?,
                        cache_control: mark,
                    }),
                    // Refused earlier by the chat handler.
                    ContentPart::File { .. } => {}
                }
            }
            Ok(blocks)
        }
    }
}

/// `data:<mime>;base64,<data>` → a base64 source; an http(s) URL → a URL source.
fn image_source(url: &str) -> Result<ImageSource, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        let Some((header, data)) = rest.split_once(',') else {
            return Err("The image data URL has no `,` before its data.".into());
        };
        let mut params = header.split(';');
        let media_type = params.next().unwrap_or_default().trim().to_ascii_lowercase();
        if !params.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
            return Err("Image data URLs must be base64-encoded (`data:<type>;base64,<data>`).".into());
        }
        if !IMAGE_TYPES.contains(&media_type.as_str()) {
            return Err(format!(
                "Anthropic models take JPEG, PNG, GIF and WebP images; this one is `{media_type}`."
            ));
        }
        return Ok(ImageSource::Base64 {
            media_type,
            data: data.to_owned(),
        });
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(ImageSource::Url { url: url.to_owned() });
    }
    Err("An image URL must be an http(s) URL or a base64 data URL.".into())
}

/// A tool-call id in the alphabet Anthropic accepts (`^[a-zA-Z0-9_-]+$`).
fn tool_id(id: &str) -> String {
    if id.is_empty() {
        return "_".to_owned();
    }
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A tool call's arguments as the `input` object of a `tool_use` block.
fn tool_input(i: usize, j: usize, arguments: &str) -> ApiResult<Value> {
    let param = || format!("messages[{i}].tool_calls[{j}].function.arguments");
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(arguments.as_bytes()) {
        Ok(input @ Value::Object(_)) => Ok(input),
        Ok(_) => Err(ApiError::bad_request(
            param(),
            "Tool-call arguments must be a JSON object to be sent to an Anthropic model.",
        )),
        Err(e) => Err(ApiError::bad_request(
            param(),
            format!("Tool-call arguments are not valid JSON: {e}."),
        )),
    }
}

fn tools_and_choice(
    request: &ChatRequest,
    turns: &[Turn],
    notes: &Annotations,
) -> (Vec<ToolDef>, Option<WireToolChoice>) {
    let declared = request.tools.as_deref().unwrap_or_default();
    if declared.is_empty() {
        // Anthropic refuses tool blocks in a request without tools: declare the ones the history
        // names, uncallable.
        let mut names: Vec<&str> = Vec::new();
        for block in turns.iter().flat_map(|t| &t.content) {
            if let Block::ToolUse { name, .. } = block {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        if names.is_empty() {
            return (Vec::new(), None);
        }
        let tools = names
            .into_iter()
            .map(|name| ToolDef {
                name: name.to_owned(),
                description: Some("Called earlier in this conversation; not available now.".into()),
                input_schema: json!({"type": "object"}),
                cache_control: None,
            })
            .collect();
        return (tools, Some(WireToolChoice::None));
    }
    let tools = declared
        .iter()
        .enumerate()
        .map(|(k, tool)| {
            let mut schema = tool
                .function
                .parameters
                .clone()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            // Anthropic requires the schema's `type: object`, which OpenAI lets clients omit.
            if let Some(map) = schema.as_object_mut() {
                map.entry("type").or_insert_with(|| json!("object"));
            }
            ToolDef {
                name: tool.function.name.clone(),
                description: tool.function.description.clone(),
                input_schema: schema,
                cache_control: notes.tool(k),
            }
        })
        .collect();
    let disable = (request.parallel_tool_calls == Some(false)).then_some(true);
    let choice = match &request.tool_choice {
        None => disable.map(|_| WireToolChoice::Auto {
            disable_parallel_tool_use: disable,
        }),
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => Some(WireToolChoice::Auto {
            disable_parallel_tool_use: disable,
        }),
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => Some(WireToolChoice::Any {
            disable_parallel_tool_use: disable,
        }),
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => Some(WireToolChoice::None),
        Some(ToolChoice::Named(named)) => Some(WireToolChoice::Tool {
            name: named.function.name.clone(),
            disable_parallel_tool_use: disable,
        }),
    };
    (tools, choice)
}

/// The system instruction emulating OpenAI's JSON modes (the Messages API has none).
fn json_instruction(format: &ResponseFormat) -> Option<String> {
    const ONLY_JSON: &str =
        "Answer with JSON only: no prose, no Markdown code fences, nothing before or after the JSON.";
    match format {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(format!("{ONLY_JSON} The answer must be one JSON object.")),
        ResponseFormat::JsonSchema { json_schema } => {
            let described = json_schema
                .description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            Some(match &json_schema.schema {
                Some(schema) => format!(
                    "{ONLY_JSON} The answer must be a JSON value valid against this JSON Schema, named \
                     `{}`{described}:\n{schema}",
                    json_schema.name
                ),
                None => format!("{ONLY_JSON} The answer must be one JSON object."),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::anthropic::test_support::{build_with, notes, request, upstream};

    fn build(body: Value, stream: bool) -> ApiResult<(UpstreamRequest, Value)> {
        let req = request(body);
        let built = build_request(
            &upstream(),
            &Outgoing {
                request: &req,
                max_output_tokens: 1024,
                stream,
            },
            &Annotations::default(),
        )?;
        let json: Value = serde_json::from_slice(built.request.body.as_bytes()).unwrap();
        Ok((built.request, json))
    }

    fn body_of(body: Value) -> Value {
        build(body, false).unwrap().1
    }

    fn refusal_param(body: Value) -> String {
        let error = build(body, false).unwrap_err();
        assert_eq!(error.status(), 400, "{}", error.message);
        error.param.clone().unwrap_or_default()
    }

    fn chat(messages: Value) -> Value {
        json!({"model": "claude-haiku-4.5", "messages": messages})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut body = chat(json!([{"role": "user", "content": "hi"}]));
        body[key] = value;
        body
    }

    // ---- requests

    #[test]
    fn the_request_goes_to_v1_messages_with_the_key_and_version_headers() {
        let (built, body) = build(chat(json!([{"role": "user", "content": "hi"}])), true).unwrap();
        assert_eq!(built.url, "https://api.anthropic.com/v1/messages");
        for header in [
            ("x-api-key", "sk-ant-upstream"),
            ("anthropic-version", "2023-06-01"),
            ("content-type", "application/json"),
            ("accept", "text/event-stream"),
        ] {
            assert!(
                built.headers.contains(&(header.0, header.1.to_owned())),
                "{header:?} missing"
            );
        }
        assert_eq!(body["model"], "claude-haiku-4-5-20251001");
        assert_eq!(body["stream"], true);
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
        );
        let (plain, body) = build(chat(json!([{"role": "user", "content": "hi"}])), false).unwrap();
        assert!(plain.headers.iter().all(|(name, _)| *name != "accept"));
        assert!(body.get("stream").is_none());
    }

    #[test]
    fn a_base_url_already_ending_in_v1_is_not_given_a_second_one() {
        let mut up = upstream();
        up.base_url = "http://127.0.0.1:9/anthropic/v1".into();
        let req = request(chat(json!([{"role": "user", "content": "hi"}])));
        let built = build_request(
            &up,
            &Outgoing {
                request: &req,
                max_output_tokens: 5,
                stream: false,
            },
            &Annotations::default(),
        )
        .unwrap();
        assert_eq!(built.request.url, "http://127.0.0.1:9/anthropic/v1/messages");
    }

    #[test]
    fn max_tokens_is_always_the_enforced_ceiling() {
        assert_eq!(
            body_of(chat(json!([{"role": "user", "content": "hi"}])))["max_tokens"],
            1024
        );
        assert_eq!(body_of(with("max_tokens", json!(50_000)))["max_tokens"], 1024);
        assert_eq!(
            body_of(with("max_completion_tokens", json!(7)))["max_tokens"],
            1024
        );
    }

    #[test]
    fn system_and_developer_messages_join_into_the_system_string_in_order() {
        let body = body_of(chat(json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}, {"type": "text", "text": "No emoji."}]},
            {"role": "assistant", "content": "Salut."},
            {"role": "system", "content": "   "},
            {"role": "user", "content": "again"}
        ])));
        assert_eq!(body["system"], "Be brief.\n\nUse French.\nNo emoji.");
        let roles: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert!(body_of(chat(json!([{"role": "user", "content": "hi"}])))
            .get("system")
            .is_none());
    }

    #[test]
    fn consecutive_user_messages_merge_into_one_turn() {
        let body = body_of(chat(json!([
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]}
        ])));
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}])
        );
    }

    #[test]
    fn tool_results_and_a_following_user_message_merge_into_one_user_turn() {
        let body = body_of(json!({
            "model": "claude-haiku-4.5",
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rainy"}]},
                {"role": "user", "content": "Which is warmer?"}
            ]
        }));
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[1],
            json!({"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}}
            ]})
        );
        assert_eq!(
            messages[2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "rainy"},
                {"type": "text", "text": "Which is warmer?"}
            ]})
        );
    }

    #[test]
    fn assistant_text_and_tool_calls_share_one_turn_with_text_first() {
        let body = body_of(json!({
            "model": "claude-haiku-4.5",
            "tools": [{"type": "function", "function": {"name": "clock"}}],
            "messages": [
                {"role": "user", "content": "time?"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [
                    {"id": "call.7:x", "type": "function", "function": {"name": "clock", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "call.7:x", "content": "12:00"}
            ]
        }));
        assert_eq!(
            body["messages"][1]["content"],
            json!([
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "call_7_x", "name": "clock", "input": {}}
            ])
        );
        // Ids are made valid for Anthropic the same way on both sides, so they still pair.
        assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "call_7_x");
    }

    #[test]
    fn unparseable_tool_call_arguments_are_refused_naming_the_call() {
        let body = |arguments: &str| {
            chat(json!([
                {"role": "user", "content": "go"},
                {"role": "assistant", "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "b", "type": "function", "function": {"name": "f", "arguments": arguments}}
                ]},
                {"role": "tool", "tool_call_id": "a", "content": "x"},
                {"role": "tool", "tool_call_id": "b", "content": "y"}
            ]))
        };
        assert_eq!(
            refusal_param(body("{\"city\": ")),
            "messages[1].tool_calls[1].function.arguments"
        );
        assert_eq!(
            refusal_param(body("[1, 2]")),
            "messages[1].tool_calls[1].function.arguments"
        );
    }

    #[test]
    fn a_conversation_not_starting_with_a_user_turn_is_refused() {
        assert_eq!(
            refusal_param(chat(json!([
                {"role": "system", "content": "s"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "hi"}
            ]))),
            "messages"
        );
        assert_eq!(
            refusal_param(chat(
                json!([{"role": "system", "content": "only a system prompt"}])
            )),
            "messages"
        );
    }

    #[test]
    fn blank_text_is_left_out_and_a_final_assistant_turn_is_trimmed() {
        let body = body_of(chat(json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": [{"type": "text", "text": " "}, {"type": "text", "text": "there"}]},
            {"role": "assistant", "content": "The answer is: \n"}
        ])));
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "The answer is:"}]}
            ])
        );
    }

    #[test]
    fn data_url_images_become_base64_blocks_and_web_urls_url_blocks() {
        let body = body_of(chat(json!([{"role": "user", "content": [
            {"type": "text", "text": "Compare"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
        ]}])));
        assert_eq!(
            body["messages"][0]["content"],
            json!([
                {"type": "text", "text": "Compare"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
            ])
        );
    }

    #[test]
    fn images_anthropic_cannot_take_are_refused_naming_the_part() {
        let image = |url: &str| {
            chat(json!([{"role": "user", "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": url}}
            ]}]))
        };
        for url in [
            "data:image/tiff;base64,AAAA",
            "data:image/png,rawbytes",
            "ftp://example.com/cat.png",
        ] {
            assert_eq!(
                refusal_param(image(url)),
                "messages[0].content[1].image_url.url",
                "{url}"
            );
        }
    }

    #[test]
    fn tools_become_input_schemas_with_an_object_type() {
        let body = body_of(json!({
            "model": "claude-haiku-4.5",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {"type": "function", "function": {"name": "weather", "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": true}},
                {"type": "function", "function": {"name": "now"}},
                {"type": "function", "function": {"name": "loose", "parameters": {"properties": {}}}}
            ]
        }));
        assert_eq!(
            body["tools"],
            json!([
                {"name": "weather", "description": "Current weather",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                {"name": "now", "input_schema": {"type": "object", "properties": {}}},
                {"name": "loose", "input_schema": {"properties": {}, "type": "object"}}
            ])
        );
        assert!(body.get("tool_choice").is_none());
    }

    #[test]
    fn every_tool_choice_maps_and_parallel_calls_can_be_disabled() {
        let choice = |tool_choice: Option<Value>, parallel: Option<bool>| {
            let mut body = json!({
                "model": "claude-haiku-4.5",
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "function", "function": {"name": "f"}}]
            });
            if let Some(tool_choice) = tool_choice {
                body["tool_choice"] = tool_choice;
            }
            if let Some(parallel) = parallel {
                body["parallel_tool_calls"] = json!(parallel);
            }
            body_of(body).get("tool_choice").cloned()
        };
        assert_eq!(choice(Some(json!("auto")), None), Some(json!({"type": "auto"})));
        assert_eq!(
            choice(Some(json!("required")), None),
            Some(json!({"type": "any"}))
        );
        assert_eq!(choice(Some(json!("none")), None), Some(json!({"type": "none"})));
        let named = json!({"type": "function", "function": {"name": "f"}});
        assert_eq!(
            choice(Some(named.clone()), None),
            Some(json!({"type": "tool", "name": "f"}))
        );
        assert_eq!(
            choice(Some(named), Some(false)),
            Some(json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}))
        );
        assert_eq!(
            choice(Some(json!("required")), Some(false)),
            Some(json!({"type": "any", "disable_parallel_tool_use": true}))
        );
        assert_eq!(
            choice(None, Some(false)),
            Some(json!({"type": "auto", "disable_parallel_tool_use": true}))
        );
        assert_eq!(choice(None, Some(true)), None);
        assert_eq!(choice(None, None), None);
    }

    #[test]
    fn a_tool_history_without_tools_declares_them_uncallable() {
        let body = body_of(chat(json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "user", "content": "Summarize."}
        ])));
        assert_eq!(body["tools"][0]["name"], "weather");
        assert_eq!(body["tools"].as_array().unwrap().len(), 1);
        assert_eq!(body["tool_choice"], json!({"type": "none"}));
    }

    #[test]
    fn sampling_parameters_map_with_temperature_clamped_to_one() {
        let mut body = with("temperature", json!(1.7));
        body["stop"] = json!(["END", "\n\nHuman:"]);
        body["user"] = json!("user-42");
        body["seed"] = json!(7);
        body["presence_penalty"] = json!(0.5);
        body["frequency_penalty"] = json!(0.5);
        body["logit_bias"] = json!({"50256": -100});
        let body = body_of(body);
        assert_eq!(body["temperature"], 1.0);
        assert_eq!(body["stop_sequences"], json!(["END", "\n\nHuman:"]));
        assert_eq!(body["metadata"], json!({"user_id": "user-42"}));
        for dropped in [
            "seed",
            "presence_penalty",
            "frequency_penalty",
            "logit_bias",
            "stop",
            "user",
        ] {
            assert!(body.get(dropped).is_none(), "{dropped} was sent");
        }
        assert_eq!(body_of(with("temperature", json!(0.3)))["temperature"], 0.3);
        assert_eq!(
            body_of(with("stop", json!("STOP")))["stop_sequences"],
            json!(["STOP"])
        );
    }

    #[test]
    fn top_p_is_sent_alone_but_yields_to_temperature() {
        assert_eq!(body_of(with("top_p", json!(0.9)))["top_p"], 0.9);
        let mut both = with("top_p", json!(0.9));
        both["temperature"] = json!(0.5);
        let body = body_of(both);
        assert_eq!(body["temperature"], 0.5);
        assert!(body.get("top_p").is_none());
    }

    #[test]
    fn parameters_claude_cannot_use_are_dropped_and_named_in_the_warnings() {
        let mut body = with("logprobs", json!(true));
        body["top_logprobs"] = json!(3);
        body["stop"] = json!(["\n", "END"]);
        body["seed"] = json!(4);
        body["store"] = json!(true);
        body["service_tier"] = json!("priority");
        body["prompt_cache_key"] = json!("k");
        let (sent, warnings) = build_with(body, &Annotations::default(), 1024).unwrap();
        assert_eq!(sent["stop_sequences"], json!(["END"]));
        for absent in [
            "logprobs",
            "top_logprobs",
            "seed",
            "store",
            "service_tier",
            "prompt_cache_key",
        ] {
            assert!(sent.get(absent).is_none(), "{absent} reached Anthropic");
            assert!(
                warnings.iter().any(|w| w.starts_with(absent)),
                "{absent}: {warnings:?}"
            );
        }
        assert!(
            warnings.iter().any(|w| w.contains("whitespace-only stop")),
            "{warnings:?}"
        );
    }

    #[test]
    fn cache_marks_reach_the_blocks_tools_and_system_they_were_on() {
        let body = json!({"model": "claude-haiku-4.5",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}, {"type": "text", "text": "today"}]},
            {"role": "user", "content": [{"type": "text", "text": "doc", "cache_control": {"type": "ephemeral"}},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
            {"role": "assistant", "content": "noted"},
            {"role": "user", "content": "question", "cache_control": {"type": "ephemeral"}}
        ]});
        let (sent, warnings) = build_with(body.clone(), &notes(&body), 1024).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            sent["tools"][0]["cache_control"],
            json!({"type": "ephemeral", "ttl": "1h"})
        );
        assert_eq!(
            sent["system"],
            json!([{"type": "text", "text": "long rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                   {"type": "text", "text": "today"}])
        );
        let messages = sent["messages"].as_array().unwrap();
        assert_eq!(
            messages[0]["content"][0],
            json!({"type": "text", "text": "doc", "cache_control": {"type": "ephemeral"}})
        );
        assert!(messages[0]["content"][1].get("cache_control").is_none());
        assert_eq!(
            messages[2]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        // Without marks the system stays one string.
        let plain = json!({"model": "m", "messages": [{"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}]});
        assert_eq!(body_of(plain)["system"], "rules");
    }

    #[test]
    fn tool_results_and_tool_use_carry_their_marks() {
        let body = json!({"model": "m", "tools": [{"type": "function", "function": {"name": "f"}}], "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
             "cache_control": {"type": "ephemeral"}},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "result", "cache_control": {"type": "ephemeral"}}]}
        ]});
        let (sent, _) = build_with(body.clone(), &notes(&body), 1024).unwrap();
        assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
        assert_eq!(
            sent["messages"][1]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
        assert_eq!(
            sent["messages"][2]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
    }

    #[test]
    fn the_thinking_budget_follows_the_effort_table_under_the_cap() {
        assert_eq!(thinking_budget("none", 8192), None);
        assert_eq!(thinking_budget("minimal", 8192), Some(1024));
        assert_eq!(thinking_budget("low", 8192), Some(2048));
        assert_eq!(thinking_budget("medium", 32000), Some(8192));
        assert_eq!(thinking_budget("high", 64000), Some(16384));
        assert_eq!(thinking_budget("xhigh", 128_000), Some(32768));
        // At most half the cap, at least 1024, always below the cap.
        assert_eq!(thinking_budget("high", 8192), Some(4096));
        assert_eq!(thinking_budget("low", 1500), Some(1024));
        assert_eq!(thinking_budget("low", 1024), None);
    }

    #[test]
    fn reasoning_effort_becomes_thinking_and_drops_what_thinking_refuses() {
        let mut body = with("reasoning_effort", json!("medium"));
        body["temperature"] = json!(0.2);
        let (sent, warnings) = build_with(body, &Annotations::default(), 8192).unwrap();
        assert_eq!(
            sent["thinking"],
            json!({"type": "enabled", "budget_tokens": 4096})
        );
        assert!(sent.get("temperature").is_none());
        assert!(
            warnings.iter().any(|w| w.starts_with("temperature")),
            "{warnings:?}"
        );
        // top_p of 0.95 or more stays, also when the temperature beside it had to go.
        let mut body = with("reasoning_effort", json!("low"));
        body["top_p"] = json!(0.97);
        body["temperature"] = json!(0.5);
        let (sent, _) = build_with(body, &Annotations::default(), 8192).unwrap();
        assert_eq!((sent.get("temperature"), &sent["top_p"]), (None, &json!(0.97)));
    }

    #[test]
    fn thinking_stays_off_where_anthropic_would_refuse_it() {
        let off = |body: Value, max: u32| {
            let (sent, warnings) = build_with(body, &Annotations::default(), max).unwrap();
            assert!(sent.get("thinking").is_none(), "{sent}");
            assert!(
                warnings
                    .iter()
                    .any(|w| w.starts_with("reasoning_effort not applied")),
                "{warnings:?}"
            );
        };
        off(with("reasoning_effort", json!("high")), 1024);
        let mut forced = with("reasoning_effort", json!("high"));
        forced["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
        forced["tool_choice"] = json!("required");
        off(forced, 8192);
        off(
            json!({"model": "m", "reasoning_effort": "high", "tools": [{"type": "function", "function": {"name": "f"}}], "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "done"}]}),
            8192,
        );
        off(
            json!({"model": "m", "reasoning_effort": "high", "messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": "Sure:"}]}),
            8192,
        );
        // `none` is simply no thinking.
        let (sent, warnings) = build_with(
            with("reasoning_effort", json!("none")),
            &Annotations::default(),
            8192,
        )
        .unwrap();
        assert!(sent.get("thinking").is_none() && warnings.is_empty());
    }

    #[test]
    fn the_translated_request_with_thinking_and_marks_passes_the_mocks_validation() {
        let body = json!({"model": "m", "reasoning_effort": "high", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "user", "content": "hi [[mock cache_write=40 reasoning=12]]"}]});
        let (sent, _) = build_with(body.clone(), &notes(&body), 8192).unwrap();
        let usage = flint_mock::expected_usage(
            flint_mock::Provider::Anthropic,
            &sent,
            &flint_mock::Defaults::default(),
        )
        .unwrap();
        // The 1h mark makes the mock's writes 1-hour ones; the thinking turns its reasoning on.
        assert_eq!((usage.cache_write_1h, usage.reasoning), (40, 12));
    }

    #[test]
    fn json_response_formats_are_emulated_with_a_system_instruction() {
        let mut body = with("response_format", json!({"type": "json_object"}));
        body["messages"] =
            json!([{"role": "system", "content": "You extract data."}, {"role": "user", "content": "hi"}]);
        let system = body_of(body)["system"].as_str().unwrap().to_owned();
        assert!(system.starts_with("You extract data.\n\n"), "{system}");
        assert!(system.contains("JSON only"), "{system}");
        let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}});
        let body = body_of(with(
            "response_format",
            json!({"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}),
        ));
        let system = body["system"].as_str().unwrap();
        assert!(
            system.contains("`person`") && system.contains(&schema.to_string()),
            "{system}"
        );
        assert!(body_of(with("response_format", json!({"type": "text"})))
            .get("system")
            .is_none());
    }

    #[test]
    fn a_full_tool_round_trip_passes_the_mocks_anthropic_validation() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
        let (_, body) = build(
            json!({
                "model": "claude-haiku-4.5",
                "tools": tools,
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "toolu_01A09q90qw90lq917835lq9",
                        "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                    {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "sunny and warm"}
                ]
            }),
            false,
        )
        .unwrap();
        let answer = flint_mock::expected_answer(
            flint_mock::Provider::Anthropic,
            &body,
            &flint_mock::Defaults::default(),
        );
        let answer = answer.unwrap_or_else(|e| panic!("the mock refused {body}: {}", e.message));
        assert_eq!(answer.text(), "Tool said: sunny and warm");
    }

    #[test]
    fn a_merged_conversation_passes_the_mocks_anthropic_validation() {
        let (_, body) = build(
            chat(json!([
                {"role": "developer", "content": "d"},
                {"role": "user", "content": "a"},
                {"role": "user", "content": "b"},
                {"role": "assistant", "content": "c"},
                {"role": "assistant", "content": "d"},
                {"role": "user", "content": "e"}
            ])),
            true,
        )
        .unwrap();
        let answer = flint_mock::expected_answer(
            flint_mock::Provider::Anthropic,
            &body,
            &flint_mock::Defaults::default(),
        );
        assert!(answer.is_ok(), "the mock refused {body}");
    }
}
