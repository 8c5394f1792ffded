//! Every model other than Claude: Anthropic's request → the canonical `ChatRequest`, which the
//! model's wire format (OpenAI, Gemini, ...) is built from. What is kept, dropped and refused is
//! the table in `mod.rs`; dropped features the client would notice come back as warnings.

use serde_json::{json, Map, Value};

use super::types::{
    invalid, Block, Content, ImageSource, InputMessage, KnownBlock, MessagesRequest, Role, Thinking, Tool,
    ToolChoice, UNTYPED_FIELDS,
};
use crate::canonical::{
    ChatRequest, ChatRequestBody, Content as ChatContent, ContentPart, FunctionCall, FunctionDef, ImageUrl,
    JsonSchemaFormat, Message, NamedFunction, NamedToolChoice, ResponseFormat, Stop, Tool as ChatTool,
    ToolCall, ToolChoice as ChatToolChoice, ToolChoiceMode,
};
use crate::catalog::{Category, Model};
use crate::error::ApiResult;

/// OpenAI-compatible APIs take at most this many stop sequences.
const MAX_STOP_SEQUENCES: usize = 4;
/// OpenAI's limit on function names (Anthropic allows 128 characters).
const MAX_FUNCTION_NAME: usize = 64;
/// OpenAI's limit on `user`; Claude Code's `metadata.user_id` (a JSON string) is longer.
const MAX_USER_ID: usize = 64;
/// Claude Code's first system block is this header, for Anthropic's billing: no prompt.
const BILLING_HEADER_PREFIX: &str = "x-anthropic-billing-header:";

#[derive(Debug, Clone)]
pub struct Translated {
    pub request: ChatRequest,
    /// For the warning header (`WARNING_HEADER`).
    pub warnings: Vec<String>,
}

/// The output cap to put in `Outgoing::max_output_tokens`: the client's `max_tokens`, lowered
/// to what the pipeline allows.
pub fn output_cap(request: &ChatRequest, max_output: u32) -> u32 {
    request
        .max_tokens
        .map_or(max_output, |asked| asked.min(max_output))
        .max(1)
}

pub fn chat_request(request: &MessagesRequest<'_>, model: &Model) -> ApiResult<Translated> {
    let mut warnings = Vec::new();
    for key in request.extra.keys() {
        if !UNTYPED_FIELDS.contains(&key.as_str()) {
            return Err(invalid(key.as_str(), "Extra inputs are not permitted"));
        }
    }
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        let text = system_text(system);
        if !text.trim().is_empty() {
            messages.push(Message::System {
                content: ChatContent::Text(text),
                name: None,
            });
        }
    }
    for (i, message) in request.messages.iter().enumerate() {
        translate_message(i, message, &mut messages, &mut warnings)?;
    }

    let (tools, tool_choice, parallel_tool_calls) = tools(request, &mut warnings)?;
    let mut stop = request
        .stop_sequences
        .as_ref()
        .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap_or_default();
    if stop.len() > MAX_STOP_SEQUENCES {
        warnings.push(format!(
            "stop_sequences: only the first {MAX_STOP_SEQUENCES} of {} were sent; this model takes no more",
            stop.len()
        ));
        stop.truncate(MAX_STOP_SEQUENCES);
    }
    if request.top_k.is_some() {
        warnings.push("top_k dropped: this model's API has no top_k".to_owned());
    }
    let mut extra = Map::new();
    if let Some(effort) = reasoning_effort(request, model) {
        extra.insert("reasoning_effort".into(), json!(effort));
    }
    let user = request
        .metadata
        .as_ref()
        .and_then(|m| m.user_id.as_deref())
        .filter(|u| !u.trim().is_empty() && u.len() <= MAX_USER_ID)
        .map(str::to_owned);

    Ok(Translated {
        request: ChatRequestBody {
            model: request.model.to_string(),
            messages,
            stream: request.is_stream(),
            stream_options: None,
            tools,
            tool_choice,
            parallel_tool_calls,
            temperature: request.temperature,
            top_p: request.top_p,
            max_tokens: request.max_tokens,
            max_completion_tokens: None,
            stop: (!stop.is_empty()).then_some(Stop::Many(stop)),
            presence_penalty: None,
            frequency_penalty: None,
            seed: None,
            response_format: response_format(request),
            user,
            n: None,
            extra,
        }
        .try_into()?,
        warnings,
    })
}

/// `system` as one string: text blocks joined by blank lines, Claude Code's billing header left out.
pub(super) fn system_text(system: &Content<'_>) -> String {
    match system {
        Content::Text(text) => text.to_string(),
        Content::Blocks(blocks) => blocks
            .iter()
            .filter_map(|b| match b {
                Block::Known(KnownBlock::Text { text, .. }) if !text.starts_with(BILLING_HEADER_PREFIX) => {
                    Some(text.as_ref())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

fn translate_message(
    i: usize,
    message: &InputMessage<'_>,
    out: &mut Vec<Message>,
    warnings: &mut Vec<String>,
) -> ApiResult<()> {
    match message.role {
        Role::System => {
            // A directive-only turn (no content, only `output_config`) leaves nothing to say.
            let text = message.content.text("\n\n");
            if !text.trim().is_empty() {
                out.push(Message::System {
                    content: ChatContent::Text(text),
                    name: None,
                });
            }
        }
        Role::User => match &message.content {
            Content::Text(text) => out.push(Message::User {
                content: ChatContent::Text(text.to_string()),
                name: None,
            }),
            Content::Blocks(blocks) => {
                // Tool results first (they answer the previous turn), then the rest of the turn,
                // then the images tool results carried (tool messages take only text).
                let mut parts = Vec::new();
                let mut result_images = Vec::new();
                for (j, block) in blocks.iter().enumerate() {
                    let path = format!("messages.{i}.content.{j}");
                    if let Block::Known(KnownBlock::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                        ..
                    }) = block
                    {
                        let mut text = String::new();
                        if let Some(content) = content {
                            let mut inner = Vec::new();
                            for (k, block) in content.blocks().iter().enumerate() {
                                user_part(&format!("{path}.content.{k}"), block, &mut inner, warnings)?;
                            }
                            if let Content::Text(t) = content {
                                text.push_str(t);
                            }
                            for part in inner {
                                match part {
                                    ContentPart::Text { text: t } => {
                                        if !text.is_empty() {
                                            text.push('\n');
                                        }
                                        text.push_str(&t);
                                    }
                                    image => result_images.push(image),
                                }
                            }
                        }
                        if *is_error == Some(true) {
                            text = format!("Error: {text}");
                        }
                        out.push(Message::Tool {
                            content: ChatContent::Text(text),
                            tool_call_id: tool_use_id.to_string(),
                        });
                    } else {
                        user_part(&path, block, &mut parts, warnings)?;
                    }
                }
                if !result_images.is_empty() {
                    let mut with_label = vec![ContentPart::Text {
                        text: "(Images returned by the tool calls above.)".to_owned(),
                    }];
                    with_label.extend(result_images);
                    out.push(Message::User {
                        content: ChatContent::Parts(with_label),
                        name: None,
                    });
                }
                if !parts.is_empty() {
                    out.push(Message::User {
                        content: ChatContent::Parts(parts),
                        name: None,
                    });
                }
            }
        },
        Role::Assistant => {
            let mut text = String::new();
            let mut calls = Vec::new();
            let mut push_text = |t: &str| {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            };
            match &message.content {
                Content::Text(t) => push_text(t),
                Content::Blocks(blocks) => {
                    for block in blocks {
                        match block {
                            Block::Known(KnownBlock::Text { text: t, .. }) => push_text(t),
                            Block::Known(KnownBlock::ToolUse { id, name, input, .. }) => {
                                calls.push(ToolCall {
                                    id: id.to_string(),
                                    kind: "function".to_owned(),
                                    function: FunctionCall {
                                        name: name.to_string(),
                                        arguments: input.to_string(),
                                    },
                                })
                            }
                            // Claude's reasoning, signed for Claude: meaningless to another model.
                            Block::Known(
                                KnownBlock::Thinking { .. } | KnownBlock::RedactedThinking { .. },
                            ) => {}
                            other => warnings.push(format!(
                                "a `{}` block of messages.{i} was dropped: this model can't read it",
                                other.kind()
                            )),
                        }
                    }
                }
            }
            if text.is_empty() && calls.is_empty() {
                return Ok(());
            }
            out.push(Message::Assistant {
                content: (!text.is_empty()).then_some(ChatContent::Text(text)),
                tool_calls: (!calls.is_empty()).then_some(calls),
                name: None,
                refusal: None,
            });
        }
    }
    Ok(())
}

/// One block of a user turn (or of a tool result) as canonical parts.
fn user_part(
    path: &str,
    block: &Block<'_>,
    parts: &mut Vec<ContentPart>,
    warnings: &mut Vec<String>,
) -> ApiResult<()> {
    match block {
        Block::Known(KnownBlock::Text { text, .. }) => parts.push(ContentPart::Text {
            text: text.to_string(),
        }),
        Block::Known(KnownBlock::Image { source, .. }) => {
            let url = match source {
                ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
                ImageSource::Url { url } => url.to_string(),
                ImageSource::File { .. } => {
                    return Err(invalid(
                        format!("{path}.source"),
                        "images from Anthropic's Files API can be read only by Claude models; send the image as base64 or a URL",
                    ))
                }
            };
            parts.push(ContentPart::ImageUrl {
                image_url: ImageUrl { url, detail: None },
            });
        }
        Block::Known(KnownBlock::Document { source, extra }) => {
            let text = document_text(source).ok_or_else(|| {
                invalid(
                    format!("{path}.source"),
                    "this model reads only plain-text documents (source type `text` or `content`); \
                     PDFs and Files API documents can be read only by Claude models",
                )
            })?;
            let title = extra.get("title").and_then(Value::as_str);
            parts.push(ContentPart::Text {
                text: match title {
                    Some(title) => format!("{title}\n\n{text}"),
                    None => text,
                },
            });
        }
        Block::Other(value) if block.kind() == "search_result" => {
            let title = value.get("title").and_then(Value::as_str).unwrap_or_default();
            let source = value.get("source").and_then(Value::as_str).unwrap_or_default();
            let body: Vec<&str> = value
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            parts.push(ContentPart::Text {
                text: format!("{title} ({source})\n{}", body.join("\n")),
            });
        }
        other => warnings.push(format!(
            "a `{}` block at {path} was dropped: this model can't read it",
            other.kind()
        )),
    }
    Ok(())
}

/// The text of a `text` or `content` document source.
fn document_text(source: &Value) -> Option<String> {
    match source.get("type").and_then(Value::as_str)? {
        "text" => source.get("data").and_then(Value::as_str).map(str::to_owned),
        "content" => match source.get("content")? {
            Value::String(text) => Some(text.clone()),
            Value::Array(blocks) => Some(
                blocks
                    .iter()
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        },
        _ => None,
    }
}

type ToolParts = (Option<Vec<ChatTool>>, Option<ChatToolChoice>, Option<bool>);

fn tools(request: &MessagesRequest<'_>, warnings: &mut Vec<String>) -> ApiResult<ToolParts> {
    let mut tools = Vec::new();
    for (i, tool) in request.tools.iter().flatten().enumerate() {
        match tool {
            Tool::Custom(custom) => {
                if custom.name.len() > MAX_FUNCTION_NAME {
                    return Err(invalid(
                        format!("tools.{i}.custom.name"),
                        format!("this model takes tool names of at most {MAX_FUNCTION_NAME} characters"),
                    ));
                }
                tools.push(ChatTool {
                    kind: "function".to_owned(),
                    function: FunctionDef {
                        name: custom.name.to_string(),
                        description: custom.description.as_ref().map(|d| d.to_string()),
                        parameters: Some(custom.input_schema.clone()),
                        strict: custom.extra.get("strict").and_then(Value::as_bool),
                    },
                });
            }
            Tool::Other(value) => warnings.push(format!(
                "tool `{}` ({}) dropped: this model's provider can't run Anthropic's server tools",
                tool.name().unwrap_or("?"),
                value.get("type").and_then(Value::as_str).unwrap_or("?"),
            )),
        }
    }
    let names: Vec<&str> = tools.iter().map(|t| t.function.name.as_str()).collect();
    let (choice, disable_parallel) = match &request.tool_choice {
        None => (None, None),
        Some(ToolChoice::Auto {
            disable_parallel_tool_use,
        }) => (
            Some(ChatToolChoice::Mode(ToolChoiceMode::Auto)),
            *disable_parallel_tool_use,
        ),
        Some(ToolChoice::Any {
            disable_parallel_tool_use,
        }) => (
            Some(ChatToolChoice::Mode(ToolChoiceMode::Required)),
            *disable_parallel_tool_use,
        ),
        Some(ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        }) => {
            if names.contains(&name.as_ref()) {
                (
                    Some(ChatToolChoice::Named(NamedToolChoice {
                        kind: "function".to_owned(),
                        function: NamedFunction {
                            name: name.to_string(),
                        },
                    })),
                    *disable_parallel_tool_use,
                )
            } else {
                warnings.push(format!("tool_choice dropped: its tool `{name}` was dropped"));
                (None, None)
            }
        }
        Some(ToolChoice::None {}) => (Some(ChatToolChoice::Mode(ToolChoiceMode::None)), None),
    };
    if tools.is_empty() {
        // Nothing left to choose from.
        return Ok((None, None, None));
    }
    let parallel = (disable_parallel == Some(true)).then_some(false);
    Ok((Some(tools), choice, parallel))
}

/// Claude's thinking setting as OpenAI's `reasoning_effort`, for reasoning models only (the
/// others refuse the parameter).
fn reasoning_effort(request: &MessagesRequest<'_>, model: &Model) -> Option<&'static str> {
    if model.category != Category::Reason {
        return None;
    }
    let effort = request.output_config.as_ref().and_then(|c| c.effort.as_deref());
    match (&request.thinking, effort) {
        (Some(Thinking::Disabled { .. }), _) => None,
        (_, Some("low")) => Some("low"),
        (_, Some("medium")) => Some("medium"),
        (_, Some(_)) => Some("high"),
        (Some(Thinking::Enabled { budget_tokens, .. }), None) => Some(match budget_tokens {
            0..=4095 => "low",
            4096..=16383 => "medium",
            _ => "high",
        }),
        (Some(Thinking::Adaptive { .. }), None) => Some("medium"),
        (None, None) => None,
    }
}

/// Structured outputs (`output_config.format`, or the older beta `output_format`) as
/// OpenAI's `response_format`.
fn response_format(request: &MessagesRequest<'_>) -> Option<ResponseFormat> {
    let format = request
        .output_config
        .as_ref()
        .and_then(|c| c.format.as_ref())
        .or_else(|| request.extra.get("output_format"))?;
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return None;
    }
    Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "output".to_owned(),
            description: None,
            schema: format.get("schema").cloned(),
            strict: Some(true),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::surfaces::messages::types::parse;

    fn model(id: &str) -> &'static Model {
        Catalog::embedded().unwrap().model(id).unwrap()
    }

    fn translate(body: &Value, model_id: &str) -> ApiResult<Translated> {
        let text = body.to_string();
        let request = parse(text.as_bytes())?;
        chat_request(&request, model(model_id))
    }

    fn messages(t: &Translated) -> Value {
        serde_json::to_value(&t.request.messages).unwrap()
    }

    #[test]
    fn claude_codes_request_becomes_a_valid_chat_request() {
        for fixture in [
            include_str!("fixtures/claude-code-default-tool-turn.json"),
            include_str!("fixtures/claude-code-unknown-model.json"),
        ] {
            let capture: Value = serde_json::from_slice(fixture.as_bytes()).unwrap();
            let t = translate(&capture["body"], "gpt-4o-mini").unwrap();
            assert!(t.warnings.is_empty(), "{:?}", t.warnings);
            let roles: Vec<&str> = t
                .request
                .messages
                .iter()
                .map(|m| match m {
                    Message::System { .. } => "system",
                    Message::User { .. } => "user",
                    Message::Assistant { .. } => "assistant",
                    Message::Tool { .. } => "tool",
                    Message::Developer { .. } => "developer",
                })
                .collect();
            assert_eq!(roles[0], "system");
            assert_eq!(roles[1], "user");
            assert_eq!(roles[2], "system", "the per-turn system turn stays in place");
            let tools = t.request.tools.as_ref().unwrap();
            assert_eq!(tools.len(), 12);
            assert!(t.request.stream);
            assert!(t.request.extra.is_empty(), "gpt-4o-mini is no reasoning model");
            assert_eq!(
                t.request.user, None,
                "Claude Code's user_id is longer than OpenAI's `user` takes"
            );
        }
    }

    #[test]
    fn the_billing_header_block_is_left_out_of_the_system_prompt() {
        let body = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=sdk-cli;"},
                       {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}},
                       {"type": "text", "text": "Answer in French."}]});
        let t = translate(&body, "gpt-4o-mini").unwrap();
        assert_eq!(
            messages(&t)[0],
            json!({"role": "system", "content": "You are terse.\n\nAnswer in French."})
        );
    }

    #[test]
    fn a_tool_round_trip_becomes_tool_calls_and_tool_messages() {
        let body = json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "two calls", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C", "cache_control": {"type": "ephemeral"}},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                 "content": [{"type": "text", "text": "timeout"}, {"type": "image", "source": {"type": "url", "url": "https://x/radar.png"}}]},
                {"type": "text", "text": "and tomorrow?"}]}
        ], "tools": [{"name": "weather", "description": "Weather now", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
           "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}});
        let t = translate(&body, "gpt-4o-mini").unwrap();
        assert_eq!(
            messages(&t),
            json!([
                {"role": "user", "content": "weather in Paris and Rome?"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18°C"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: timeout"},
                {"role": "user", "content": [{"type": "text", "text": "(Images returned by the tool calls above.)"},
                                             {"type": "image_url", "image_url": {"url": "https://x/radar.png"}}]},
                {"role": "user", "content": [{"type": "text", "text": "and tomorrow?"}]}
            ])
        );
        assert_eq!(t.request.parallel_tool_calls, Some(false));
        assert_eq!(
            t.request.tool_choice,
            Some(ChatToolChoice::Mode(ToolChoiceMode::Auto))
        );
        let tool = &t.request.tools.as_ref().unwrap()[0];
        assert_eq!(tool.function.description.as_deref(), Some("Weather now"));
    }

    #[test]
    fn images_become_data_urls_or_urls_and_file_images_are_refused() {
        let body = |source: Value| {
            json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "what is it"}, {"type": "image", "source": source}]}]})
        };
        let t = translate(
            &body(json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})),
            "gpt-4o",
        )
        .unwrap();
        assert_eq!(
            messages(&t)[0]["content"][1]["image_url"]["url"],
            "data:image/png;base64,iVBORw0KGgo="
        );
        let t = translate(
            &body(json!({"type": "url", "url": "https://example.com/cat.jpg"})),
            "gemini-2.5-flash",
        )
        .unwrap();
        assert_eq!(
            messages(&t)[0]["content"][1]["image_url"]["url"],
            "https://example.com/cat.jpg"
        );
        let error = translate(&body(json!({"type": "file", "file_id": "file_1"})), "gpt-4o").unwrap_err();
        assert_eq!(error.status(), 400);
        assert_eq!(error.param.as_deref(), Some("messages.0.content.1.source"));
    }

    #[test]
    fn documents_are_read_as_text_and_pdfs_refused() {
        let body = |source: Value| {
            json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": [{"type": "document", "title": "Notes", "source": source}, {"type": "text", "text": "summarize"}]}]})
        };
        let t = translate(
            &body(json!({"type": "text", "media_type": "text/plain", "data": "line one"})),
            "gpt-4o",
        )
        .unwrap();
        assert_eq!(
            messages(&t)[0]["content"][0],
            json!({"type": "text", "text": "Notes\n\nline one"})
        );
        let error = translate(
            &body(json!({"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="})),
            "gpt-4o",
        )
        .unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages.0.content.0.source"));
    }

    #[test]
    fn sampling_stops_and_structured_output_carry_over() {
        let body = json!({"model": "m", "max_tokens": 300, "temperature": 0.3, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["a", "b", "c", "d", "e"], "metadata": {"user_id": "u-42"},
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
            "messages": [{"role": "user", "content": "hi"}]});
        let t = translate(&body, "gemini-2.5-flash").unwrap();
        assert_eq!(
            (t.request.temperature, t.request.top_p, t.request.max_tokens),
            (Some(0.3), Some(0.9), Some(300))
        );
        assert_eq!(
            t.request.stop,
            Some(Stop::Many(vec!["a".into(), "b".into(), "c".into(), "d".into()]))
        );
        assert_eq!(t.request.user.as_deref(), Some("u-42"));
        assert!(matches!(
            t.request.response_format,
            Some(ResponseFormat::JsonSchema { .. })
        ));
        assert_eq!(t.warnings.len(), 2, "{:?}", t.warnings);
        assert!(t.warnings.iter().any(|w| w.starts_with("top_k")));
        assert_eq!(output_cap(&t.request, 8192), 300);
        assert_eq!(output_cap(&t.request, 100), 100);
    }

    #[test]
    fn thinking_becomes_reasoning_effort_on_reasoning_models_only() {
        let body = |thinking: Value, effort: Option<&str>| {
            let mut body = json!({"model": "m", "max_tokens": 32000, "thinking": thinking, "messages": [{"role": "user", "content": "hi"}]});
            if let Some(effort) = effort {
                body["output_config"] = json!({"effort": effort});
            }
            body
        };
        let effort = |body: Value, model: &str| {
            translate(&body, model)
                .unwrap()
                .request
                .extra
                .get("reasoning_effort")
                .cloned()
        };
        let enabled = |budget: u32| json!({"type": "enabled", "budget_tokens": budget});
        assert_eq!(
            effort(body(enabled(31999), None), "deepseek-v4-pro"),
            Some(json!("high"))
        );
        assert_eq!(
            effort(body(enabled(8000), None), "deepseek-v4-pro"),
            Some(json!("medium"))
        );
        assert_eq!(
            effort(body(enabled(1024), None), "deepseek-v4-pro"),
            Some(json!("low"))
        );
        assert_eq!(
            effort(body(json!({"type": "adaptive"}), Some("max")), "gpt-5.5"),
            Some(json!("high"))
        );
        assert_eq!(
            effort(body(json!({"type": "adaptive"}), Some("low")), "gpt-5.5"),
            Some(json!("low"))
        );
        assert_eq!(
            effort(body(json!({"type": "disabled"}), Some("low")), "gpt-5.5"),
            None
        );
        assert_eq!(effort(body(enabled(31999), None), "gpt-4o"), None);
    }

    #[test]
    fn server_tools_are_dropped_with_a_warning_and_unknown_fields_refused() {
        let body = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
            "tool_choice": {"type": "any"},
            "context_management": {"edits": []}, "container": "c", "service_tier": "auto", "mcp_servers": []});
        let t = translate(&body, "gpt-4o-mini").unwrap();
        assert_eq!(
            (t.request.tools.is_none(), t.request.tool_choice.is_none()),
            (true, true)
        );
        assert_eq!(t.warnings.len(), 1);
        assert!(t.warnings[0].contains("web_search"), "{}", t.warnings[0]);
        let mut unknown = body.clone();
        unknown["frobnicate"] = json!(1);
        let error = translate(&unknown, "gpt-4o-mini").unwrap_err();
        assert_eq!(error.param.as_deref(), Some("frobnicate"));
        assert!(error.message.contains("Extra inputs are not permitted"));
    }

    #[test]
    fn a_long_tool_name_is_refused_for_models_that_cannot_take_it() {
        let name = "a".repeat(100);
        let body = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": name, "input_schema": {"type": "object"}}]});
        assert_eq!(
            translate(&body, "gpt-4o-mini").unwrap_err().param.as_deref(),
            Some("tools.0.custom.name")
        );
    }
}
