//! The `anthropic` wire format (Anthropic Messages: `POST {base_url}/v1/messages`, API version
//! [`ANTHROPIC_VERSION`]). The canonical request is OpenAI's chat completion, so this module
//! translates it to a Messages request, and the Messages answer (whole or streamed) back into
//! OpenAI's shapes, so that a client cannot tell that Claude answered except by the text.
//!
//! ## The request
//!
//! - `system` and `developer` messages, wherever they appear, become the top-level `system`
//!   string, joined with a blank line in their order.
//! - `user`, `assistant` and `tool` messages become `messages` of content blocks. Anthropic needs
//!   the roles to alternate and tool results to travel in a `user` turn, so consecutive turns of
//!   the same role are merged into one (a `tool`, `tool`, `user` run becomes one user turn of two
//!   `tool_result` blocks and a text block; `tool_result` blocks are put first in their turn,
//!   as Anthropic requires). A conversation whose first turn is not `user` is refused (400 on
//!   `messages`) rather than silently given an invented user turn.
//! - Anthropic refuses empty and whitespace-only text blocks, so such text is left out (a message
//!   left with no content at all is left out too), and the trailing whitespace of a final
//!   assistant turn (which Anthropic treats as a prefill of its answer) is trimmed.
//! - Assistant `tool_calls` become `tool_use` blocks (`input` = the parsed arguments, which must
//!   be a JSON object; empty arguments count as `{}`), and `tool` messages `tool_result` blocks.
//!   Tool-call ids are sent with any character outside `[A-Za-z0-9_-]` replaced by `_` (the
//!   pattern Anthropic enforces), consistently on both sides, so ids minted elsewhere still pair.
//! - Anthropic refuses a history holding `tool_use`/`tool_result` blocks when the request
//!   declares no `tools` (OpenAI accepts it). Then every tool named in the history is declared
//!   with an open schema and `tool_choice: none`, so the model reads the history but calls none.
//!
//! ## What is dropped, refused or emulated
//!
//! | OpenAI parameter | Anthropic Messages |
//! |---|---|
//! | `max_tokens` / `max_completion_tokens` | `max_tokens` = the gateway's enforced ceiling, always sent (Anthropic requires it) |
//! | `temperature` | sent, clamped to Anthropic's range 0–1 (OpenAI's 1–2 become 1) |
//! | `top_p` | sent, unless `temperature` is also set: current Claude models refuse both together, so `temperature` wins |
//! | `stop` | `stop_sequences`; whitespace-only sequences (e.g. `"\n"`) are dropped (Anthropic refuses them) |
//! | `tools`, `tool_choice`, `parallel_tool_calls: false` | `tools` (`input_schema`), `tool_choice` auto/any/tool/none, `disable_parallel_tool_use: true`; a tool's `strict` is dropped |
//! | `response_format` json_object / json_schema | **emulated**: an instruction appended to `system` asking for JSON only (with the schema); not enforced by the API, so the answer may still stray |
//! | `user` | `metadata.user_id` |
//! | `reasoning_effort` | `thinking: {"type": "enabled", "budget_tokens": N}` ([`THINKING_BUDGETS`], at most half of `max_tokens`, at least 1,024, below `max_tokens`); off (with a warning) when no budget fits, with a forcing `tool_choice`, or when the request continues a tool call or a prefill (Anthropic would want the earlier signed thinking back); with thinking on, `temperature` other than 1 and `top_p` below 0.95 are dropped |
//! | `cache_control` on a content part, a message (its last block) or a tool | `cache_control` on that block / tool (`ttl` kept); a system message with marks becomes `system` blocks; at most the latest four are kept and a 1-hour mark after a 5-minute one is sent as 5-minute (Anthropic's rules) |
//! | `logprobs`, `top_logprobs`, `seed`, `presence_penalty`, `frequency_penalty`, `logit_bias`, `n`, `metadata`, `store`, `service_tier`, `verbosity`, `prompt_cache_*`, `safety_identifier`, `modalities`, `audio`, `prediction`, `web_search_options`, `moderation` | dropped, named in the warnings |
//! | `stream_options` | dropped silently (Anthropic always streams usage) |
//! | message `name`, image `detail` | dropped silently |
//! | `image_url` parts | `data:` URLs (JPEG, PNG, GIF, WebP, base64) → base64 image blocks; http(s) URLs → URL image blocks; anything else is refused (400 naming the part) |
//! | `file` parts | skipped (the chat handler refuses them first) |
//!
//! ## The answer
//!
//! Text blocks are concatenated into `content` (null when there are none), `tool_use` blocks
//! become `tool_calls` (arguments = the input serialized as JSON), other blocks (thinking, server
//! tools) are ignored. `stop_reason` maps to `finish_reason`: `end_turn`, `stop_sequence` and
//! `pause_turn` → `stop`; `max_tokens` and `model_context_window_exceeded` → `length`;
//! `tool_use` → `tool_calls`; `refusal` → `content_filter`. Prompt tokens are `input_tokens`
//! plus the cache read and creation input tokens; `cached_tokens` are the reads, and the writes
//! go to billing by lifetime (`cache_creation.ephemeral_5m_input_tokens` /
//! `ephemeral_1h_input_tokens`; writes without the breakdown are 5-minute ones). Claude's
//! thinking is inside `output_tokens` and not counted apart, so `reasoning_tokens` stay 0.
//!
//! Streams are translated event by event by [`AnthropicStream`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::errors::safe_message;
use super::{Built, Outgoing, StreamItem, StreamTranslator, Upstream, UpstreamRequest};
use crate::canonical::{
    Annotations, CacheControl, CacheWrites, ChatCompletion, ChatCompletionChunk, ChatRequest, Choice,
    ChunkChoice, Content, ContentPart, Delta, FinishReason, FunctionCall, FunctionDelta, Message,
    ResponseFormat, ResponseMessage, ToolCall, ToolCallDelta, ToolChoice, ToolChoiceMode, Usage,
};
use crate::error::{ApiError, ApiResult};
use crate::sse::parser::SseEvent;

/// The `anthropic-version` header every request carries.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The image media types Anthropic accepts in base64 image blocks.
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

// ---- the request

#[derive(Debug, Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<System>,
    messages: Vec<Turn>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolDef>,
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
enum System {
    Text(String),
    Blocks(Vec<SystemBlock>),
}

#[derive(Debug, Serialize)]
struct SystemBlock {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
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
struct Turn {
    role: Role,
    content: Vec<Block>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
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
    fn cache_control_mut(&mut self) -> &mut Option<CacheControl> {
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
enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Serialize)]
struct ToolDef {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    input_schema: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
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

/// Anthropic's limit of `cache_control` breakpoints per request.
pub const MAX_CACHE_BREAKPOINTS: usize = 4;

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
    let mut warnings = super::unused_params(
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

/// Every `cache_control` slot in Anthropic's order: tools, system, messages.
fn cache_marks<'b>(body: &'b mut MessagesRequest<'_>) -> Vec<&'b mut Option<CacheControl>> {
    let mut marks: Vec<&'b mut Option<CacheControl>> = Vec::new();
    for tool in &mut body.tools {
        marks.push(&mut tool.cache_control);
    }
    if let Some(System::Blocks(blocks)) = &mut body.system {
        for block in blocks {
            marks.push(&mut block.cache_control);
        }
    }
    for turn in &mut body.messages {
        for block in &mut turn.content {
            marks.push(block.cache_control_mut());
        }
    }
    marks
}

/// Keeps the request within Anthropic's cache rules: at most four breakpoints (the latest four
/// are kept, as OpenAI keeps its latest four), and no 1-hour breakpoint after a 5-minute one
/// (such a one is sent as a 5-minute breakpoint).
fn limit_cache_marks(body: &mut MessagesRequest<'_>, warnings: &mut Vec<String>) {
    let mut marks: Vec<&mut Option<CacheControl>> =
        cache_marks(body).into_iter().filter(|m| m.is_some()).collect();
    let excess = marks.len().saturating_sub(MAX_CACHE_BREAKPOINTS);
    if excess > 0 {
        for mark in marks.iter_mut().take(excess) {
            **mark = None;
        }
        warnings.push(format!(
            "cache_control: the first {excess} of {} breakpoints not sent: Claude takes at most {MAX_CACHE_BREAKPOINTS}",
            excess + MAX_CACHE_BREAKPOINTS
        ));
    }
    let mut short_seen = false;
    let mut shortened = false;
    for mark in marks.iter_mut() {
        match **mark {
            Some(CacheControl::FiveMinutes) => short_seen = true,
            Some(CacheControl::OneHour) if short_seen => {
                **mark = Some(CacheControl::FiveMinutes);
                shortened = true;
            }
            _ => {}
        }
    }
    if shortened {
        warnings.push(
            "cache_control: 1h breakpoints after a 5m one sent as 5m: Claude wants longer lifetimes first"
                .to_owned(),
        );
    }
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
    match serde_json::from_str::<Value>(arguments) {
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

// ---- the answer

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireResponse {
    Message(WireMessage),
    Error { error: WireError },
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    content: Vec<WireBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default = "empty_object")]
        input: Value,
    },
    /// Thinking, server-tool and other blocks: not part of an OpenAI answer.
    #[serde(other)]
    Other,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    /// The writes by lifetime (`cache_creation_input_tokens` is their sum).
    #[serde(default)]
    cache_creation: Option<WireCacheCreation>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct WireCacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<u64>,
}

/// Anthropic's counts in OpenAI's shape: `prompt_tokens` = uncached input + cache writes +
/// cache reads, `cached_tokens` = the reads, and the writes by lifetime for billing (writes
/// without a breakdown count as 5-minute ones, Anthropic's default).
fn openai_usage(input: u64, written: u64, one_hour: u64, read: u64, output: u64) -> Usage {
    let mut usage = Usage::new(input + written + read, output);
    let one_hour = one_hour.min(written);
    usage.cache_writes = CacheWrites {
        five_minutes: written - one_hour,
        one_hour,
    };
    if read > 0 {
        usage
            .extra
            .insert("prompt_tokens_details".into(), json!({"cached_tokens": read}));
    }
    usage
}

impl WireUsage {
    fn usage(&self) -> Usage {
        let breakdown = self.cache_creation.unwrap_or_default();
        let one_hour = breakdown.ephemeral_1h_input_tokens.unwrap_or(0);
        let written = self
            .cache_creation_input_tokens
            .unwrap_or_else(|| breakdown.ephemeral_5m_input_tokens.unwrap_or(0) + one_hour);
        openai_usage(
            self.input_tokens.unwrap_or(0),
            written,
            one_hour,
            self.cache_read_input_tokens.unwrap_or(0),
            self.output_tokens.unwrap_or(0),
        )
    }
}

#[derive(Debug, Deserialize)]
struct WireError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

impl WireError {
    fn safe(&self) -> String {
        if self.message.trim().is_empty() {
            safe_message(&format!(
                "The model's provider failed mid-stream ({}).",
                self.kind
            ))
        } else {
            safe_message(&self.message)
        }
    }
}

/// Anthropic's `stop_reason` as OpenAI's `finish_reason`.
fn finish_reason(stop_reason: &str) -> &'static str {
    let reason = match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        // end_turn, stop_sequence, pause_turn and anything newer.
        _ => FinishReason::Stop,
    };
    reason.as_str()
}

/// The `anthropic` wire.
pub struct AnthropicWire;

impl super::Wire for AnthropicWire {
    fn build_request(
        &self,
        upstream: &Upstream,
        outgoing: &Outgoing<'_>,
        notes: &Annotations,
    ) -> ApiResult<Built> {
        build_request(upstream, outgoing, notes)
    }
    fn parse_completion(&self, body: &str) -> Result<ChatCompletion, String> {
        parse_completion(body)
    }
    fn stream_translator(&self) -> Box<dyn StreamTranslator> {
        Box::new(AnthropicStream::new())
    }
}

pub fn parse_completion(body: &str) -> Result<ChatCompletion, String> {
    let message = match serde_json::from_str(body) {
        Ok(WireResponse::Message(message)) => message,
        Ok(WireResponse::Error { error }) => {
            return Err(format!(
                "Anthropic answered an error object: {} ({})",
                error.message, error.kind
            ))
        }
        Err(e) => return Err(format!("Anthropic message did not parse: {e}")),
    };
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block {
            WireBlock::Text { text: part } => text.get_or_insert_with(String::new).push_str(&part),
            WireBlock::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            WireBlock::Other => {}
        }
    }
    Ok(ChatCompletion {
        id: message.id,
        object: "chat.completion".to_owned(),
        created: 0,
        model: message.model,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: text,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                refusal: None,
                extra: Map::new(),
            },
            finish_reason: message
                .stop_reason
                .as_deref()
                .map(|r| finish_reason(r).to_owned()),
            logprobs: None,
        }],
        usage: message.usage.as_ref().map(WireUsage::usage),
        extra: Map::new(),
    })
}

// ---- the stream

/// One event of Anthropic's stream, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop {},
    Ping {},
    Error {
        error: WireError,
    },
    /// Anthropic documents that new event types may appear; they are ignored.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    /// Thinking, signature and citation deltas: not part of an OpenAI answer.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// A `tool_use` block of the stream: Anthropic's block index and the OpenAI tool-call index.
#[derive(Debug)]
struct ToolBlock {
    block: u32,
    index: u32,
    has_arguments: bool,
}

/// Translates Anthropic's stream (`message_start`, `content_block_*`, `message_delta`,
/// `message_stop`, `ping`, `error`) into OpenAI chunks: the role on the first chunk, text as
/// `content`, each `tool_use` block as a tool call numbered 0, 1, 2… among tool calls, the stop
/// reason on a final empty chunk. Usage (input and cache tokens from `message_start`, the
/// cumulative output tokens of the last `message_delta`) is reported once, at `message_stop`.
#[derive(Debug, Default)]
pub struct AnthropicStream {
    id: String,
    model: String,
    role_sent: bool,
    tools: Vec<ToolBlock>,
    input_tokens: u64,
    cache_creation_tokens: u64,
    cache_creation_1h_tokens: u64,
    cache_read_tokens: u64,
    output_tokens: u64,
    usage_seen: bool,
    usage_sent: bool,
}

impl AnthropicStream {
    pub fn new() -> Self {
        Self::default()
    }

    fn chunk(&mut self, mut delta: Delta, finish_reason: Option<&str>) -> StreamItem {
        if !self.role_sent {
            delta.role = Some("assistant".to_owned());
            self.role_sent = true;
        }
        StreamItem::Chunk(ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: 0,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish_reason.map(str::to_owned),
                logprobs: None,
            }],
            usage: None,
            extra: Map::new(),
        })
    }

    fn tool_delta(
        &mut self,
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    ) -> StreamItem {
        let kind = id.as_ref().map(|_| "function".to_owned());
        let delta = Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id,
                kind,
                function: Some(FunctionDelta {
                    name,
                    arguments: Some(arguments),
                }),
            }]),
            ..Delta::default()
        };
        self.chunk(delta, None)
    }

    /// Usage figures are cumulative: the largest seen is the latest.
    fn absorb(&mut self, usage: &WireUsage) {
        self.usage_seen = true;
        let keep = |mine: &mut u64, theirs: Option<u64>| *mine = (*mine).max(theirs.unwrap_or(0));
        keep(&mut self.input_tokens, usage.input_tokens);
        let breakdown = usage.cache_creation.unwrap_or_default();
        let one_hour = breakdown.ephemeral_1h_input_tokens;
        let written = usage.cache_creation_input_tokens.or_else(|| {
            usage
                .cache_creation
                .map(|b| b.ephemeral_5m_input_tokens.unwrap_or(0) + one_hour.unwrap_or(0))
        });
        keep(&mut self.cache_creation_tokens, written);
        keep(&mut self.cache_creation_1h_tokens, one_hour);
        keep(&mut self.cache_read_tokens, usage.cache_read_input_tokens);
        keep(&mut self.output_tokens, usage.output_tokens);
    }

    fn usage(&self) -> Usage {
        openai_usage(
            self.input_tokens,
            self.cache_creation_tokens,
            self.cache_creation_1h_tokens,
            self.cache_read_tokens,
            self.output_tokens,
        )
    }
}

impl StreamTranslator for AnthropicStream {
    fn on_event(&mut self, event: &SseEvent) -> Vec<StreamItem> {
        let data = event.data.trim();
        if data.is_empty() {
            return Vec::new();
        }
        let Ok(parsed) = serde_json::from_str::<StreamEvent>(data) else {
            return vec![StreamItem::Error(
                "The upstream sent a malformed stream event.".into(),
            )];
        };
        match parsed {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                if let Some(usage) = &message.usage {
                    self.absorb(usage);
                }
                // OpenAI's first chunk: the role and empty content.
                let delta = Delta {
                    content: Some(String::new()),
                    ..Delta::default()
                };
                vec![self.chunk(delta, None)]
            }
            StreamEvent::ContentBlockStart {
                index: block,
                content_block,
            } => match content_block {
                StartBlock::Text { text } if !text.is_empty() => {
                    let delta = Delta {
                        content: Some(text),
                        ..Delta::default()
                    };
                    vec![self.chunk(delta, None)]
                }
                StartBlock::ToolUse { id, name } => {
                    let index = self.tools.len() as u32;
                    self.tools.push(ToolBlock {
                        block,
                        index,
                        has_arguments: false,
                    });
                    vec![self.tool_delta(index, Some(id), Some(name), String::new())]
                }
                StartBlock::Text { .. } | StartBlock::Other => Vec::new(),
            },
            StreamEvent::ContentBlockDelta { index: block, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => {
                    let delta = Delta {
                        content: Some(text),
                        ..Delta::default()
                    };
                    vec![self.chunk(delta, None)]
                }
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    // A fragment of a block not started as `tool_use` (a server tool) is ignored.
                    let Some(tool) = self.tools.iter_mut().find(|t| t.block == block) else {
                        return Vec::new();
                    };
                    tool.has_arguments = true;
                    let index = tool.index;
                    vec![self.tool_delta(index, None, None, partial_json)]
                }
                _ => Vec::new(),
            },
            StreamEvent::ContentBlockStop { index: block } => {
                // A tool call without input fragments: OpenAI clients expect `{}`, not "".
                match self
                    .tools
                    .iter_mut()
                    .find(|t| t.block == block && !t.has_arguments)
                {
                    Some(tool) => {
                        tool.has_arguments = true;
                        let index = tool.index;
                        vec![self.tool_delta(index, None, None, "{}".to_owned())]
                    }
                    None => Vec::new(),
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(usage) = &usage {
                    self.absorb(usage);
                }
                match delta.stop_reason {
                    Some(reason) => vec![self.chunk(Delta::default(), Some(finish_reason(&reason)))],
                    None => Vec::new(),
                }
            }
            StreamEvent::MessageStop {} => {
                let mut items = Vec::with_capacity(2);
                if self.usage_seen && !self.usage_sent {
                    self.usage_sent = true;
                    items.push(StreamItem::Usage(self.usage()));
                }
                items.push(StreamItem::Done);
                items
            }
            StreamEvent::Error { error } => vec![StreamItem::Error(error.safe())],
            StreamEvent::Ping {} | StreamEvent::Unknown => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::parser::SseParser;

    fn upstream() -> Upstream {
        Upstream::for_test("claude-haiku-4.5", "https://api.anthropic.com", "sk-ant-upstream")
    }

    /// A checked request (deserializing checks it).
    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    /// The request built for `body` with `notes`, under `max` output tokens: its JSON and the
    /// warnings.
    fn build_with(body: Value, notes: &Annotations, max: u32) -> ApiResult<(Value, Vec<String>)> {
        let req = request(body);
        let built = build_request(
            &upstream(),
            &Outgoing {
                request: &req,
                max_output_tokens: max,
                stream: false,
            },
            notes,
        )?;
        Ok((serde_json::from_str(&built.request.body).unwrap(), built.warnings))
    }

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
        let json: Value = serde_json::from_str(&built.request.body).unwrap();
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

    fn notes(body: &Value) -> Annotations {
        crate::chat::params::annotations(body).unwrap()
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
    fn more_than_four_marks_keep_the_latest_and_a_late_hour_becomes_five_minutes() {
        let part = |text: &str, ttl: &str| json!({"type": "text", "text": text, "cache_control": {"type": "ephemeral", "ttl": ttl}});
        let body = json!({"model": "m", "messages": [{"role": "user", "content": [
            part("a", "1h"), part("b", "5m"), part("c", "1h"), part("d", "5m"), part("e", "1h")
        ]}]});
        let (sent, warnings) = build_with(body.clone(), &notes(&body), 1024).unwrap();
        let marks: Vec<Value> = sent["messages"][0]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.get("cache_control").cloned().unwrap_or(Value::Null))
            .collect();
        assert_eq!(
            marks,
            [
                Value::Null,
                json!({"type": "ephemeral"}),
                json!({"type": "ephemeral"}),
                json!({"type": "ephemeral"}),
                json!({"type": "ephemeral"})
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
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

    // ---- whole answers

    const TEXT_MESSAGE: &str = r#"{
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [
            {"type": "text", "text": "Hello! "},
            {"type": "text", "text": "How can I help?"}
        ],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 30,
                  "output_tokens": 9, "service_tier": "standard"}
    }"#;

    const TOOL_MESSAGE: &str = r#"{
        "id": "msg_01Aq9w938a90dw8q",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "I'll check the weather in both cities."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "San Francisco, CA", "unit": "celsius"}},
            {"type": "tool_use", "id": "toolu_01B2c3d4e5f6g7h8i9j0k1l2", "name": "get_time", "input": {}}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {"input_tokens": 472, "output_tokens": 91}
    }"#;

    #[test]
    fn a_text_message_becomes_a_completion_with_cache_tokens_in_the_prompt() {
        let completion = parse_completion(TEXT_MESSAGE).unwrap();
        let choice = &completion.choices[0];
        assert_eq!(choice.message.role, "assistant");
        assert_eq!(choice.message.content.as_deref(), Some("Hello! How can I help?"));
        assert!(choice.message.tool_calls.is_none());
        assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
        assert_eq!(completion.object, "chat.completion");
        assert_eq!(completion.model, "claude-haiku-4-5-20251001");
        // 12 uncached + 100 written + 30 read; the writes (without a breakdown) are 5-minute ones.
        let usage = completion.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (142, 9));
        assert_eq!(usage.extra["prompt_tokens_details"], json!({"cached_tokens": 30}));
        assert_eq!(
            usage.tokens(),
            crate::billing::usage::TokenUsage {
                input: 142,
                cache_read: 30,
                cache_write_5m: 100,
                cache_write_1h: 0,
                output: 9,
                reasoning: 0
            }
        );
    }

    #[test]
    fn cache_writes_are_split_by_lifetime_when_anthropic_says() {
        let body = r#"{"type":"message","id":"m","model":"c","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn",
            "usage":{"input_tokens":5,"cache_creation_input_tokens":300,"cache_read_input_tokens":40,
                     "cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":7}}"#;
        let tokens = parse_completion(body).unwrap().usage.unwrap().tokens();
        assert_eq!(
            (
                tokens.input,
                tokens.cache_read,
                tokens.cache_write_5m,
                tokens.cache_write_1h,
                tokens.output
            ),
            (345, 40, 100, 200, 7)
        );
    }

    #[test]
    fn tool_use_blocks_become_tool_calls_with_json_arguments() {
        let completion = parse_completion(TOOL_MESSAGE).unwrap();
        let choice = &completion.choices[0];
        assert_eq!(
            choice.message.content.as_deref(),
            Some("I'll check the weather in both cities.")
        );
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].id, "toolu_01A09q90qw90lq917835lq9");
        assert_eq!(calls[0].kind, "function");
        assert_eq!(calls[0].function.name, "get_weather");
        let arguments: Value = serde_json::from_str(&calls[0].function.arguments).unwrap();
        assert_eq!(
            arguments,
            json!({"location": "San Francisco, CA", "unit": "celsius"})
        );
        assert_eq!(calls[1].function.arguments, "{}");
        assert_eq!(completion.usage, Some(Usage::new(472, 91)));
    }

    #[test]
    fn an_answer_with_only_tool_use_has_null_content_and_survives_serialization() {
        let body = r#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[
            {"type":"thinking","thinking":"hmm","signature":"abc"},
            {"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}],
            "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":2}}"#;
        let completion = parse_completion(body).unwrap();
        let json = serde_json::to_value(&completion).unwrap();
        assert_eq!(json["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            json["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
    }

    #[test]
    fn every_stop_reason_maps_to_an_openai_finish_reason() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("pause_turn", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
        ] {
            let body = format!(
                r#"{{"id":"m","type":"message","role":"assistant","model":"c","content":[{{"type":"text","text":"x"}}],"stop_reason":"{stop}","usage":{{"input_tokens":1,"output_tokens":1}}}}"#
            );
            let completion = parse_completion(&body).unwrap();
            assert_eq!(
                completion.choices[0].finish_reason.as_deref(),
                Some(finish),
                "{stop}"
            );
        }
    }

    #[test]
    fn an_error_object_or_garbage_is_not_a_completion() {
        assert!(parse_completion(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        )
        .unwrap_err()
        .contains("overloaded_error"));
        assert!(parse_completion("<html>").is_err());
        assert!(parse_completion(r#"{"type":"message","id":"m"}"#).is_err());
    }

    // ---- streams

    /// A recorded text answer, framing included.
    const TEXT_STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5-20251001\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":10,\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\
\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"! How can I help?\"}}\n\
\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\
\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\
\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\
\n";

    /// A recorded answer of text and two parallel tool calls, arguments in fragments.
    const TOOLS_STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\
\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Checking both.\"}}\n\
\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Francisc\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"o, CA\\\"}\"}}\n\
\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":1}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01ABCDEFGHiJKLMNoPQRsTuv\",\"name\":\"get_time\",\"input\":{}}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"timezone\\\": \\\"America/\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"Los_Angeles\\\"}\"}}\n\
\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":2}\n\
\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\
\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\
\n";

    /// A recorded answer cut by an overloaded error mid-stream.
    const ERROR_STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5-20251001\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":8,\"output_tokens\":1}}}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Once upon\"}}\n\
\n\
event: error\n\
data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\
\n";

    fn events(transcript: &str) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.feed(transcript.as_bytes(), &mut out).unwrap();
        out
    }

    fn translate(transcript: &str) -> Vec<StreamItem> {
        let mut stream = AnthropicStream::new();
        events(transcript)
            .iter()
            .flat_map(|e| stream.on_event(e))
            .collect()
    }

    fn chunks(items: &[StreamItem]) -> Vec<&ChatCompletionChunk> {
        items
            .iter()
            .filter_map(|i| match i {
                StreamItem::Chunk(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn event(data: &str) -> SseEvent {
        SseEvent {
            data: data.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_streamed_text_answer_becomes_role_content_finish_usage_and_done() {
        let items = translate(TEXT_STREAM);
        let chunks = chunks(&items);
        assert_eq!(chunks[0].choices[0].delta.role.as_deref(), Some("assistant"));
        assert!(chunks[1..].iter().all(|c| c.choices[0].delta.role.is_none()));
        assert!(chunks
            .iter()
            .all(|c| c.object == "chat.completion.chunk" && c.choices.len() == 1 && c.choices[0].index == 0));
        let text: String = chunks
            .iter()
            .filter_map(|c| c.choices[0].delta.content.as_deref())
            .collect();
        assert_eq!(text, "Hello! How can I help?");
        let last = chunks.last().unwrap();
        assert_eq!(last.choices[0].finish_reason.as_deref(), Some("stop"));
        assert_eq!(last.choices[0].delta, Delta::default());
        assert_eq!(
            &items[items.len() - 2..],
            &[
                StreamItem::Usage(cached(Usage::new(35, 15), 10)),
                StreamItem::Done
            ]
        );
        let usages = items.iter().filter(|i| matches!(i, StreamItem::Usage(_))).count();
        assert_eq!(usages, 1);
    }

    #[test]
    fn two_streamed_tool_calls_reassemble_per_index_into_valid_json() {
        let items = translate(TOOLS_STREAM);
        let mut calls: Vec<(String, String, String)> = Vec::new();
        let mut text = String::new();
        for chunk in chunks(&items) {
            let delta = &chunk.choices[0].delta;
            text.push_str(delta.content.as_deref().unwrap_or_default());
            for call in delta.tool_calls.iter().flatten() {
                let index = call.index as usize;
                if let Some(id) = &call.id {
                    assert_eq!(index, calls.len(), "tool calls are numbered among tool calls");
                    assert_eq!(call.kind.as_deref(), Some("function"));
                    let function = call.function.as_ref().unwrap();
                    assert_eq!(function.arguments.as_deref(), Some(""));
                    calls.push((id.clone(), function.name.clone().unwrap(), String::new()));
                } else {
                    let fragment = call
                        .function
                        .as_ref()
                        .and_then(|f| f.arguments.as_deref())
                        .unwrap();
                    calls[index].2.push_str(fragment);
                }
            }
        }
        assert_eq!(text, "Checking both.");
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (calls[0].0.as_str(), calls[0].1.as_str()),
            ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather")
        );
        assert_eq!(
            (calls[1].0.as_str(), calls[1].1.as_str()),
            ("toolu_01ABCDEFGHiJKLMNoPQRsTuv", "get_time")
        );
        let first: Value = serde_json::from_str(&calls[0].2).unwrap();
        let second: Value = serde_json::from_str(&calls[1].2).unwrap();
        assert_eq!(first, json!({"location": "San Francisco, CA"}));
        assert_eq!(second, json!({"timezone": "America/Los_Angeles"}));
        let finish = chunks(&items).last().unwrap().choices[0].finish_reason.clone();
        assert_eq!(finish.as_deref(), Some("tool_calls"));
        assert!(items.contains(&StreamItem::Usage(Usage::new(472, 89))));
    }

    #[test]
    fn a_streamed_tool_call_without_input_fragments_gets_empty_object_arguments() {
        let mut stream = AnthropicStream::new();
        stream.on_event(&event(
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}}"#,
        ));
        let items = stream.on_event(&event(r#"{"type":"content_block_stop","index":0}"#));
        let [StreamItem::Chunk(chunk)] = items.as_slice() else {
            panic!("{items:?}")
        };
        let call = &chunk.choices[0].delta.tool_calls.as_ref().unwrap()[0];
        assert_eq!(call.index, 0);
        assert_eq!(call.function.as_ref().unwrap().arguments.as_deref(), Some("{}"));
    }

    #[test]
    fn an_error_event_mid_stream_becomes_an_error_item() {
        let items = translate(ERROR_STREAM);
        assert_eq!(items.last(), Some(&StreamItem::Error("Overloaded".into())));
        assert!(!items.contains(&StreamItem::Done));
        let text: String = chunks(&items)
            .iter()
            .filter_map(|c| c.choices[0].delta.content.as_deref())
            .collect();
        assert_eq!(text, "Once upon");
    }

    #[test]
    fn malformed_events_are_errors_and_unknown_ones_are_ignored() {
        let mut stream = AnthropicStream::new();
        for bad in [
            "{not json",
            r#"{"type":"content_block_delta","index":0}"#,
            r#"{"no_type":1}"#,
        ] {
            assert!(
                matches!(stream.on_event(&event(bad)).as_slice(), [StreamItem::Error(_)]),
                "{bad}"
            );
        }
        assert!(stream.on_event(&event(r#"{"type":"ping"}"#)).is_empty());
        assert!(stream
            .on_event(&event(r#"{"type":"brand_new_event","x":1}"#))
            .is_empty());
        assert!(stream
            .on_event(&event(
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#
            ))
            .is_empty());
        assert!(stream.on_event(&event("")).is_empty());
    }

    #[test]
    fn usage_takes_the_last_cumulative_output_count_and_is_sent_once() {
        let mut stream = AnthropicStream::new();
        stream.on_event(&event(
            r#"{"type":"message_start","message":{"id":"m","model":"c","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":null,"output_tokens":1}}}"#,
        ));
        stream.on_event(&event(
            r#"{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":4}}"#,
        ));
        stream.on_event(&event(
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":20}}"#,
        ));
        let end = stream.on_event(&event(r#"{"type":"message_stop"}"#));
        let mut usage = Usage::new(15, 20);
        usage.cache_writes.five_minutes = 5;
        assert_eq!(end, vec![StreamItem::Usage(usage), StreamItem::Done]);
        assert_eq!(
            stream.on_event(&event(r#"{"type":"message_stop"}"#)),
            vec![StreamItem::Done]
        );
    }

    fn cached(mut usage: Usage, read: u64) -> Usage {
        usage
            .extra
            .insert("prompt_tokens_details".into(), json!({"cached_tokens": read}));
        usage
    }

    #[test]
    fn a_streams_cache_writes_by_lifetime_come_from_its_usage_events() {
        let mut stream = AnthropicStream::new();
        stream.on_event(&event(
            r#"{"type":"message_start","message":{"id":"m","model":"c","content":[],"usage":{"input_tokens":3,"cache_creation_input_tokens":50,"cache_read_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":50},"output_tokens":1}}}"#,
        ));
        stream.on_event(&event(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":3,"cache_creation_input_tokens":50,"cache_read_input_tokens":20,"output_tokens":9}}"#,
        ));
        let end = stream.on_event(&event(r#"{"type":"message_stop"}"#));
        let [StreamItem::Usage(usage), StreamItem::Done] = end.as_slice() else {
            panic!("{end:?}");
        };
        let tokens = usage.tokens();
        assert_eq!(
            (
                tokens.input,
                tokens.cache_read,
                tokens.cache_write_5m,
                tokens.cache_write_1h,
                tokens.output
            ),
            (73, 20, 0, 50, 9)
        );
    }

    #[test]
    fn a_stream_without_usage_reports_none() {
        let mut stream = AnthropicStream::new();
        stream.on_event(&event(
            r#"{"type":"message_start","message":{"id":"m","model":"c","content":[]}}"#,
        ));
        stream.on_event(&event(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
        ));
        assert_eq!(
            stream.on_event(&event(r#"{"type":"message_stop"}"#)),
            vec![StreamItem::Done]
        );
    }
}
