//! Anthropic's Messages request (`POST /v1/messages`, `POST /v1/messages/count_tokens`), typed
//! and borrowing from the body. Strings that need no unescaping borrow it (`Cow::Borrowed`).
//!
//! The types keep what they don't interpret: every struct has an `extra` map for the fields
//! the gateway passes on without reading (`cache_control`, `citations`, `display`,
//! `context_management`, `container`, fields Anthropic adds later, ...). Content blocks, tools
//! and sources of a kind the gateway doesn't translate are kept whole as JSON (`Block::Other`,
//! `Tool::Other`). Serializing a parsed request therefore gives back the client's request, as
//! JSON values (the native passthrough relies on this; a test checks it on Claude Code's
//! captures). Two exceptions: explicit `null`s of optional fields are dropped, and known
//! fields are written in this file's order.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::json_path::{self, Refusal};

/// Top-level request fields of Anthropic's current API reference (GA and beta) that are not
/// typed below: kept in `MessagesRequest::extra`, forwarded as they are to Claude models.
pub const UNTYPED_FIELDS: &[&str] = &[
    "container",
    "context_management",
    "mcp_servers",
    "service_tier",
    "cache_control",
    "inference_geo",
    "speed",
    "output_format",
    "diagnostics",
    "fallbacks",
    "fallback_credit_token",
];

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MessagesRequest<'a> {
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    /// Required on `/v1/messages` (checked by `validate`), absent on `count_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(borrow)]
    pub messages: Vec<InputMessage<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub system: Option<Content<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig<'a>>,
    /// [`UNTYPED_FIELDS`], and whatever else the client sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MessagesRequest<'_> {
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    /// A mid-conversation system turn (Claude Code's per-turn betas).
    System,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InputMessage<'a> {
    pub role: Role,
    #[serde(borrow)]
    pub content: Content<'a>,
    /// `output_config` on a system turn, and anything newer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A string, or a list of content blocks (message content, `system`, a tool result's content).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor<'a>(PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for ContentVisitor<'a> {
            type Value = Content<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content blocks")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Owned(text)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content<'a>, A::Error> {
                let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(block) = seq.next_element::<Block<'a>>()? {
                    blocks.push(block);
                }
                Ok(Content::Blocks(blocks))
            }
        }

        deserializer.deserialize_any(ContentVisitor(PhantomData))
    }
}

impl Content<'_> {
    /// The blocks; a string is one text block's worth, so it yields none here.
    pub fn blocks(&self) -> &[Block<'_>] {
        match self {
            Content::Text(_) => &[],
            Content::Blocks(blocks) => blocks,
        }
    }

    /// Whether there is nothing in it (an empty string or no blocks).
    pub fn is_empty(&self) -> bool {
        match self {
            Content::Text(text) => text.is_empty(),
            Content::Blocks(blocks) => blocks.is_empty(),
        }
    }

    /// The text of the string or of every text block, joined with `separator`.
    pub fn text(&self, separator: &str) -> String {
        match self {
            Content::Text(text) => text.to_string(),
            Content::Blocks(blocks) => blocks
                .iter()
                .filter_map(|block| match block {
                    Block::Known(KnownBlock::Text { text, .. }) => Some(text.as_ref()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(separator),
        }
    }
}

/// A content block: one of the kinds the gateway reads, or any other kind, kept as it came.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Block<'a> {
    #[serde(borrow)]
    Known(KnownBlock<'a>),
    /// Server-tool blocks (`server_tool_use`, `web_search_tool_result`, ...), `search_result`,
    /// kinds added later, and malformed known kinds: `validate` re-reads a block whose `type`
    /// is a known one to report what is wrong with it.
    Other(Value),
}

impl Block<'_> {
    /// The block's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Block::Known(known) => known.kind(),
            Block::Other(value) => value.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KnownBlock<'a> {
    Text {
        #[serde(borrow)]
        text: Cow<'a, str>,
        /// `cache_control`, `citations`.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    Image {
        #[serde(borrow)]
        source: ImageSource<'a>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    Document {
        source: Value,
        /// `title`, `context`, `citations`, `cache_control`.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    ToolUse {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(borrow)]
        name: Cow<'a, str>,
        input: Value,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    ToolResult {
        #[serde(borrow)]
        tool_use_id: Cow<'a, str>,
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        content: Option<Content<'a>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    Thinking {
        #[serde(borrow)]
        thinking: Cow<'a, str>,
        #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
        signature: Option<Cow<'a, str>>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    RedactedThinking {
        #[serde(borrow)]
        data: Cow<'a, str>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

/// The `type`s of [`KnownBlock`].
pub const KNOWN_BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
];

impl KnownBlock<'_> {
    pub fn kind(&self) -> &'static str {
        match self {
            KnownBlock::Text { .. } => "text",
            KnownBlock::Image { .. } => "image",
            KnownBlock::Document { .. } => "document",
            KnownBlock::ToolUse { .. } => "tool_use",
            KnownBlock::ToolResult { .. } => "tool_result",
            KnownBlock::Thinking { .. } => "thinking",
            KnownBlock::RedactedThinking { .. } => "redacted_thinking",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource<'a> {
    Base64 {
        #[serde(borrow)]
        media_type: Cow<'a, str>,
        #[serde(borrow)]
        data: Cow<'a, str>,
    },
    Url {
        #[serde(borrow)]
        url: Cow<'a, str>,
    },
    /// A Files API upload: readable only by Anthropic.
    File {
        #[serde(borrow)]
        file_id: Cow<'a, str>,
    },
}

impl<'de: 'a, 'a> Deserialize<'de> for ImageSource<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        json_path::checked::<D, ImageSourceFields<'a>, ImageSource<'a>>(deserializer)
    }
}

/// A source's members in one flat reading, checked by `type` (`json_path::checked`).
#[derive(Deserialize)]
struct ImageSourceFields<'a> {
    #[serde(rename = "type")]
    kind: ImageSourceKind,
    #[serde(default, borrow)]
    media_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    file_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ImageSourceKind {
    Base64,
    Url,
    File,
}

impl<'a> TryFrom<ImageSourceFields<'a>> for ImageSource<'a> {
    type Error = &'static str;

    fn try_from(source: ImageSourceFields<'a>) -> Result<ImageSource<'a>, &'static str> {
        Ok(match source.kind {
            ImageSourceKind::Base64 => ImageSource::Base64 {
                media_type: source.media_type.ok_or("missing field `media_type`")?,
                data: source.data.ok_or("missing field `data`")?,
            },
            ImageSourceKind::Url => ImageSource::Url {
                url: source.url.ok_or("missing field `url`")?,
            },
            ImageSourceKind::File => ImageSource::File {
                file_id: source.file_id.ok_or("missing field `file_id`")?,
            },
        })
    }
}

/// A tool: a custom (client) tool, or anything else (server tools such as `web_search_*`,
/// Anthropic-defined client tools such as `bash_*`, `mcp_toolset`), kept as it came.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Tool<'a> {
    #[serde(borrow)]
    Custom(CustomTool<'a>),
    Other(Value),
}

impl Tool<'_> {
    pub fn name(&self) -> Option<&str> {
        match self {
            Tool::Custom(tool) => Some(&tool.name),
            Tool::Other(value) => value.get("name").and_then(Value::as_str),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct CustomTool<'a> {
    /// Absent, or `"custom"`.
    #[serde(rename = "type", default, borrow, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    pub input_schema: Value,
    /// `cache_control`, `defer_loading`, `strict`, `input_examples`, `allowed_callers`, ...
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice<'a> {
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None {},
}

impl<'de: 'a, 'a> Deserialize<'de> for ToolChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        json_path::checked::<D, ToolChoiceFields<'a>, ToolChoice<'a>>(deserializer)
    }
}

/// `tool_choice`'s members in one flat reading, checked by `type` (`json_path::checked`).
#[derive(Deserialize)]
struct ToolChoiceFields<'a> {
    #[serde(rename = "type")]
    kind: ToolChoiceKind,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ToolChoiceKind {
    Auto,
    Any,
    Tool,
    None,
}

impl<'a> TryFrom<ToolChoiceFields<'a>> for ToolChoice<'a> {
    type Error = &'static str;

    fn try_from(choice: ToolChoiceFields<'a>) -> Result<ToolChoice<'a>, &'static str> {
        let disable_parallel_tool_use = choice.disable_parallel_tool_use;
        Ok(match choice.kind {
            ToolChoiceKind::Auto => ToolChoice::Auto {
                disable_parallel_tool_use,
            },
            ToolChoiceKind::Any => ToolChoice::Any {
                disable_parallel_tool_use,
            },
            ToolChoiceKind::Tool => ToolChoice::Tool {
                name: choice.name.ok_or("missing field `name`")?,
                disable_parallel_tool_use,
            },
            ToolChoiceKind::None => ToolChoice::None {},
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Thinking {
    Enabled {
        budget_tokens: u32,
        /// `display`.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    Disabled {
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    Adaptive {
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Metadata<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Cow<'a, str>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct OutputConfig<'a> {
    /// `low`, `medium`, `high`, `xhigh`, `max`.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub effort: Option<Cow<'a, str>>,
    /// Structured outputs: `{"type": "json_schema", "schema": {...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An error in Anthropic's style: `<path>: <what is wrong>`, e.g. `messages.0.content: ...`.
pub fn invalid(path: impl Into<String>, message: impl fmt::Display) -> ApiError {
    let path = path.into();
    let text = if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    };
    let error = ApiError::new(ErrorKind::BadRequest, "invalid_request_error", text);
    if path.is_empty() {
        error
    } else {
        error.with_param(path)
    }
}

/// Parses a Messages (or count_tokens) body, borrowing from it. Errors name the field the way
/// Anthropic does (`messages.1.content.0.text: ...`).
pub fn parse(body: &[u8]) -> ApiResult<MessagesRequest<'_>> {
    json_path::parse_borrowed(body).map_err(|refusal| match refusal {
        Refusal::Empty => invalid("", "The request body is empty; expected a JSON object."),
        Refusal::NotAnObject => invalid("", "The request body must be a JSON object."),
        Refusal::Syntax(e) => invalid("", format!("The request body is not valid JSON: {e}.")),
        Refusal::Data { path, reason } => {
            let missing = json_path::missing_field(&reason).is_some();
            let path = path.of_param(&reason).dotted();
            invalid(
                path,
                if missing {
                    "Field required".to_owned()
                } else {
                    reason
                },
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let text = match name {
            "default" => include_str!("fixtures/claude-code-default-tool-turn.json"),
            "sonnet" => include_str!("fixtures/claude-code-sonnet-4-5-tool-turn.json"),
            _ => include_str!("fixtures/claude-code-unknown-model.json"),
        };
        serde_json::from_slice(text.as_bytes()).unwrap()
    }

    #[test]
    fn claude_codes_requests_parse_and_serialize_back_unchanged() {
        for name in ["default", "sonnet", "unknown"] {
            let body = fixture(name)["body"].to_string();
            let request = parse(body.as_bytes()).unwrap();
            let back = serde_json::to_value(&request).unwrap();
            let original: Value = serde_json::from_slice(body.as_bytes()).unwrap();
            assert_eq!(back, original, "{name}");
        }
    }

    #[test]
    fn claude_codes_default_request_is_read_as_typed_blocks() {
        let body = fixture("default")["body"].to_string();
        let request = parse(body.as_bytes()).unwrap();
        assert_eq!(request.model, "claude-opus-5-5");
        assert_eq!(request.max_tokens, Some(128_000));
        assert!(matches!(request.thinking, Some(Thinking::Adaptive { .. })));
        assert_eq!(
            request.output_config.as_ref().and_then(|c| c.effort.as_deref()),
            Some("medium")
        );
        let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::System, Role::Assistant, Role::User]);
        assert!(request.messages[1].extra.contains_key("output_config"));
        let tools = request.tools.as_ref().unwrap();
        assert!(tools.iter().all(|t| matches!(t, Tool::Custom(_))));
        let Tool::Custom(deferred) = &tools[10] else {
            panic!()
        };
        assert_eq!(deferred.extra["defer_loading"], json!(true));
        let assistant = request.messages[2].content.blocks();
        assert!(matches!(assistant[0], Block::Known(KnownBlock::Thinking { .. })));
        assert!(matches!(assistant[1], Block::Known(KnownBlock::ToolUse { .. })));
        let Block::Known(KnownBlock::ToolResult { extra, content, .. }) =
            &request.messages[3].content.blocks()[0]
        else {
            panic!()
        };
        assert_eq!(extra["cache_control"], json!({"type": "ephemeral"}));
        assert!(matches!(content, Some(Content::Text(_))));
        assert!(request.extra.contains_key("context_management"));
        assert!(!request.extra.contains_key("metadata"));
        assert!(request.metadata.as_ref().unwrap().user_id.is_some());
    }

    #[test]
    fn strings_without_escapes_borrow_from_the_body() {
        let body = br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"plain"},{"type":"text","text":"a\nb"}]}]}"#;
        let request = parse(body).unwrap();
        assert!(matches!(request.model, Cow::Borrowed(_)));
        let blocks = request.messages[0].content.blocks();
        let Block::Known(KnownBlock::Text { text: plain, .. }) = &blocks[0] else {
            panic!()
        };
        let Block::Known(KnownBlock::Text { text: escaped, .. }) = &blocks[1] else {
            panic!()
        };
        assert!(matches!(plain, Cow::Borrowed(_)), "{plain:?}");
        assert_eq!(escaped, "a\nb");
    }

    #[test]
    fn unknown_blocks_tools_and_fields_are_kept_whole() {
        let body = json!({
            "model": "m", "max_tokens": 5, "frobnicate": {"x": 1}, "container": "c_1",
            "messages": [{"role": "user", "content": [
                {"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": "x"}]},
                {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
            ]}],
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
                      {"name": "f", "input_schema": {"type": "object"}, "strict": true}]
        });
        let text = body.to_string();
        let request = parse(text.as_bytes()).unwrap();
        assert!(matches!(request.messages[0].content.blocks()[0], Block::Other(_)));
        assert_eq!(request.messages[0].content.blocks()[0].kind(), "search_result");
        let tools = request.tools.as_ref().unwrap();
        assert!(matches!(tools[0], Tool::Other(_)));
        assert_eq!(tools[0].name(), Some("web_search"));
        assert!(matches!(tools[1], Tool::Custom(_)));
        assert_eq!(serde_json::to_value(&request).unwrap(), body);
    }

    #[test]
    fn parse_errors_name_the_field_like_anthropic() {
        let error = |body: Value| parse(body.to_string().as_bytes()).unwrap_err();
        let e = error(json!({"max_tokens": 5, "messages": []}));
        assert_eq!(e.message, "model: Field required");
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = error(json!({"model": "m", "max_tokens": -1, "messages": []}));
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        let e = error(json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}));
        assert_eq!(e.param.as_deref(), Some("messages.0.role"));
        assert!(e.message.contains("unknown variant `wizard`"), "{}", e.message);
        let e = error(json!({"model": "m", "messages": [{"role": "user", "content": 5}]}));
        assert_eq!(e.param.as_deref(), Some("messages.0.content"));
        assert!(
            e.message.contains("a string or an array of content blocks"),
            "{}",
            e.message
        );
        let e = error(json!({"model": "m", "messages": [{"role": "user"}]}));
        assert_eq!(e.param.as_deref(), Some("messages.0.content"));
        assert_eq!(parse(b"").unwrap_err().status(), 400);
        assert_eq!(parse(b"[1]").unwrap_err().status(), 400);
        assert_eq!(parse(b"{\"model\":").unwrap_err().status(), 400);
        assert_eq!(
            parse(b"{\"model\":\"m\",\"messages\":[]} x")
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn content_text_joins_text_blocks_only() {
        let content: Content<'_> = serde_json::from_slice(
            r#"[{"type":"text","text":"a"},{"type":"image","source":{"type":"url","url":"https://x"}},{"type":"text","text":"b"}]"#
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(content.text("\n"), "a\nb");
        assert_eq!(Content::Text("x".into()).text("\n"), "x");
    }
}
