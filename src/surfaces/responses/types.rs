//! The Responses API request (`POST /v1/responses`) as typed values, and the checks the types
//! cannot make. Every parameter of OpenAI's current reference is accepted, plus what Codex 0.169
//! sends (`client_metadata`); a name no vendor documents is a 400 naming it. Errors inside
//! `input` name a `param` starting with `input` (`input[3]`, `input[3].call_id`).
//!
//! The typed request is for validation and translation. The native path forwards the client's
//! own JSON (`Parsed::raw`), so a field OpenAI adds tomorrow reaches OpenAI unchanged.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::json_path::{self, variant};

/// Item types of tools OpenAI runs itself (or of Codex's own control items): forwarded to
/// OpenAI as they are; a translated model never sees them.
pub const HOSTED_ITEM_TYPES: &[&str] = &[
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "web_search_call",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "tool_search_call",
    "tool_search_output",
    // Codex 0.169 with the built-in OpenAI provider asks for remote compaction with this item.
    "compaction_trigger",
];

/// Tools OpenAI runs itself. A translated model's provider can't, so they are dropped (with a
/// `warnings` entry) rather than refused: Codex always sends `web_search`.
pub const HOSTED_TOOL_TYPES: &[&str] = &[
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "computer",
    "computer_use_preview",
    "code_interpreter",
    "image_generation",
    "mcp",
    "local_shell",
    "shell",
    "apply_patch",
    "tool_search",
];

/// `tool_choice` objects naming a hosted tool.
const HOSTED_TOOL_CHOICES: &[&str] = &[
    "file_search",
    "web_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "computer",
    "computer_use_preview",
    "code_interpreter",
    "image_generation",
    "apply_patch",
    "shell",
    "mcp",
];

const INCLUDABLE: &[&str] = &[
    "code_interpreter_call.outputs",
    "computer_call_output.output.image_url",
    "file_search_call.results",
    "message.input_image.image_url",
    "message.output_text.logprobs",
    "reasoning.encrypted_content",
    "web_search_call.action.sources",
    "web_search_call.results",
];

const REASONING_EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];
const REASONING_SUMMARIES: &[&str] = &["auto", "concise", "detailed"];
const VERBOSITIES: &[&str] = &["low", "medium", "high"];
const TRUNCATIONS: &[&str] = &["auto", "disabled"];
const SERVICE_TIERS: &[&str] = &["auto", "default", "flex", "scale", "priority"];
const CACHE_RETENTIONS: &[&str] = &["in-memory", "24h"];

/// OpenAI refuses a smaller `max_output_tokens`.
pub const MIN_MAX_OUTPUT_TOKENS: u32 = 16;

#[derive(Debug, Clone, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    #[serde(default)]
    pub input: Option<Input>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Default `true`, as at OpenAI.
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    #[serde(default)]
    pub include: Option<Vec<String>>,
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default)]
    pub max_tool_calls: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub top_logprobs: Option<u32>,
    #[serde(default)]
    pub text: Option<TextConfig>,
    #[serde(default)]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub safety_identifier: Option<String>,
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    #[serde(default)]
    pub prompt_cache_retention: Option<String>,
    #[serde(default)]
    pub service_tier: Option<String>,
    #[serde(default)]
    pub truncation: Option<String>,
    #[serde(default)]
    pub background: Option<bool>,
    /// OpenAI's Conversations API objects, which this gateway does not keep.
    #[serde(default)]
    pub conversation: Option<Value>,
    #[serde(default)]
    pub context_management: Option<Value>,
    /// A prompt template stored in an OpenAI dashboard (the operator's, not the user's).
    #[serde(default)]
    pub prompt: Option<Value>,
    /// Codex's per-turn metadata; accepted, never forwarded.
    #[serde(default)]
    pub client_metadata: Option<Map<String, Value>>,
    /// Anything else: refused by `validate`.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_obfuscation: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextConfig {
    #[serde(default)]
    pub format: Option<TextFormat>,
    #[serde(default)]
    pub verbosity: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TextFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        description: Option<String>,
        strict: Option<bool>,
    },
}

impl<'de> Deserialize<'de> for TextFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::json_path::checked::<D, TextFormatFields, TextFormat>(deserializer)
    }
}

/// `text.format`'s members in one flat reading (see `PartFields`).
#[derive(Deserialize)]
struct TextFormatFields {
    #[serde(rename = "type")]
    kind: TextFormatKind,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum TextFormatKind {
    Text,
    JsonObject,
    JsonSchema,
}

impl TryFrom<TextFormatFields> for TextFormat {
    type Error = &'static str;

    fn try_from(format: TextFormatFields) -> Result<TextFormat, &'static str> {
        Ok(match format.kind {
            TextFormatKind::Text => TextFormat::Text,
            TextFormatKind::JsonObject => TextFormat::JsonObject,
            TextFormatKind::JsonSchema => TextFormat::JsonSchema {
                name: format.name.ok_or("missing field `name`")?,
                schema: format.schema.ok_or("missing field `schema`")?,
                description: format.description,
                strict: format.strict,
            },
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReasoningConfig {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    /// Deprecated spelling of `summary`.
    #[serde(default)]
    pub generate_summary: Option<String>,
}

// ---- input

/// `input`: a string (one user message) or a list of items.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    Items(Vec<InputItem>),
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InputVisitor;
        impl<'de> Visitor<'de> for InputVisitor {
            type Value = Input;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of input items")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Input, E> {
                Ok(Input::Text(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Input, E> {
                Ok(Input::Text(text))
            }
            // Element by element, so a bad item's error carries its index (`input[3]`).
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<InputItem>()? {
                    items.push(item);
                }
                Ok(Input::Items(items))
            }
        }
        deserializer.deserialize_any(InputVisitor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    System,
    Developer,
}

/// One input item. `type` may be left out of a message (`{"role","content"}`), as OpenAI allows.
#[derive(Debug, Clone, PartialEq)]
pub enum InputItem {
    Message(MessageItem),
    FunctionCall(FunctionCallItem),
    FunctionCallOutput(FunctionCallOutputItem),
    Reasoning(ReasoningItem),
    ItemReference(ItemReference),
    CustomToolCall(CustomToolCallItem),
    CustomToolCallOutput(CustomToolCallOutputItem),
    Compaction(CompactionItem),
    /// One of `HOSTED_ITEM_TYPES`.
    Hosted {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageItem {
    pub role: Role,
    pub content: Content,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FunctionCallItem {
    pub call_id: String,
    pub name: String,
    pub arguments: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FunctionCallOutputItem {
    pub call_id: String,
    pub output: Content,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReasoningItem {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub summary: Vec<Value>,
    /// Codex sends `null`.
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub encrypted_content: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ItemReference {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomToolCallItem {
    pub call_id: String,
    pub name: String,
    pub input: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomToolCallOutputItem {
    pub call_id: String,
    pub output: Content,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CompactionItem {
    pub encrypted_content: String,
    #[serde(default)]
    pub id: Option<String>,
}

impl InputItem {
    /// The item's `type` as written on the wire.
    pub fn kind(&self) -> &str {
        match self {
            InputItem::Message(_) => "message",
            InputItem::FunctionCall(_) => "function_call",
            InputItem::FunctionCallOutput(_) => "function_call_output",
            InputItem::Reasoning(_) => "reasoning",
            InputItem::ItemReference(_) => "item_reference",
            InputItem::CustomToolCall(_) => "custom_tool_call",
            InputItem::CustomToolCallOutput(_) => "custom_tool_call_output",
            InputItem::Compaction(_) => "compaction",
            InputItem::Hosted { kind } => kind,
        }
    }

    /// An item from storage: a stored response's output may hold an item type newer than this
    /// code, which is carried as `Hosted` rather than failing the whole conversation.
    pub fn from_stored(value: &Value) -> InputItem {
        serde_json::from_value(value.clone()).unwrap_or_else(|_| InputItem::Hosted {
            kind: value
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
        })
    }
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        json_path::tagged_object(deserializer, |fields| {
            let kind = match fields.get("type") {
                None | Some(Value::Null) => "message".to_owned(),
                Some(Value::String(kind)) => kind.clone(),
                Some(_) => return Err("type: expected a string".to_owned()),
            };
            Ok(match kind.as_str() {
                "message" => InputItem::Message(variant(fields)?),
                "function_call" => InputItem::FunctionCall(variant(fields)?),
                "function_call_output" => InputItem::FunctionCallOutput(variant(fields)?),
                "reasoning" => InputItem::Reasoning(variant(fields)?),
                "item_reference" => InputItem::ItemReference(variant(fields)?),
                "custom_tool_call" => InputItem::CustomToolCall(variant(fields)?),
                "custom_tool_call_output" => InputItem::CustomToolCallOutput(variant(fields)?),
                "compaction" => InputItem::Compaction(variant(fields)?),
                hosted if HOSTED_ITEM_TYPES.contains(&hosted) => InputItem::Hosted { kind },
                other => return Err(format!("type: unknown input item type `{other}`")),
            })
        })
    }
}

/// Message (or tool output) content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = Content;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Content, E> {
                Ok(Content::Text(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Content, E> {
                Ok(Content::Text(text))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
                let mut parts = Vec::new();
                while let Some(part) = seq.next_element::<ContentPart>()? {
                    parts.push(part);
                }
                Ok(Content::Parts(parts))
            }
        }
        deserializer.deserialize_any(ContentVisitor)
    }
}

impl Content {
    /// The text of every text-bearing part, joined by newlines.
    pub fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(ContentPart::text)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    InputText {
        text: String,
    },
    InputImage {
        image_url: Option<String>,
        file_id: Option<String>,
        detail: Option<String>,
    },
    InputFile {
        file_id: Option<String>,
        file_data: Option<String>,
        file_url: Option<String>,
        filename: Option<String>,
    },
    InputAudio {
        input_audio: Value,
    },
    OutputText {
        text: String,
    },
    Refusal {
        refusal: String,
    },
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::json_path::checked::<D, PartFields, ContentPart>(deserializer)
    }
}

/// A part's members in one flat reading, checked by `type` in `ContentPart::try_from`: serde's
/// `type`-tagged enum would buffer each part to read it a second time.
#[derive(Deserialize)]
struct PartFields {
    #[serde(rename = "type")]
    kind: PartKind,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    file_data: Option<String>,
    #[serde(default)]
    file_url: Option<String>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    input_audio: Option<Value>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PartKind {
    InputText,
    InputImage,
    InputFile,
    InputAudio,
    OutputText,
    Refusal,
}

impl TryFrom<PartFields> for ContentPart {
    type Error = &'static str;

    fn try_from(part: PartFields) -> Result<ContentPart, &'static str> {
        Ok(match part.kind {
            PartKind::InputText => ContentPart::InputText {
                text: part.text.ok_or("missing field `text`")?,
            },
            PartKind::InputImage => ContentPart::InputImage {
                image_url: part.image_url,
                file_id: part.file_id,
                detail: part.detail,
            },
            PartKind::InputFile => ContentPart::InputFile {
                file_id: part.file_id,
                file_data: part.file_data,
                file_url: part.file_url,
                filename: part.filename,
            },
            PartKind::InputAudio => ContentPart::InputAudio {
                input_audio: part.input_audio.ok_or("missing field `input_audio`")?,
            },
            PartKind::OutputText => ContentPart::OutputText {
                text: part.text.ok_or("missing field `text`")?,
            },
            PartKind::Refusal => ContentPart::Refusal {
                refusal: part.refusal.ok_or("missing field `refusal`")?,
            },
        })
    }
}

impl ContentPart {
    pub fn text(&self) -> Option<&str> {
        match self {
            ContentPart::InputText { text } | ContentPart::OutputText { text } => Some(text),
            _ => None,
        }
    }
}

// ---- tools

#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    Function(FunctionTool),
    Namespace(NamespaceTool),
    Custom(CustomTool),
    /// One of `HOSTED_TOOL_TYPES`.
    Hosted {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FunctionTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    /// OpenAI's default is `true`; Codex sends `false`.
    #[serde(default)]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NamespaceTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Function and custom tools only.
    pub tools: Vec<Tool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomTool {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub format: Option<Value>,
}

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        json_path::tagged_object(deserializer, |fields| {
            let kind = match fields.get("type") {
                Some(Value::String(kind)) => kind.clone(),
                Some(_) => return Err("type: expected a string".to_owned()),
                None => return Err("missing field `type`".to_owned()),
            };
            Ok(match kind.as_str() {
                "function" => Tool::Function(variant(fields)?),
                "namespace" => Tool::Namespace(variant(fields)?),
                "custom" => Tool::Custom(variant(fields)?),
                hosted if HOSTED_TOOL_TYPES.contains(&hosted) => Tool::Hosted { kind },
                other => return Err(format!("type: unknown tool type `{other}`")),
            })
        })
    }
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    Function {
        name: String,
    },
    Custom {
        name: String,
    },
    Allowed {
        mode: ToolChoiceMode,
        tools: Vec<Value>,
    },
    /// A hosted tool (`{"type":"web_search_preview"}`, `{"type":"mcp",...}`).
    Hosted {
        kind: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    None,
    Auto,
    Required,
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChoiceVisitor;
        impl<'de> Visitor<'de> for ChoiceVisitor {
            type Value = ToolChoice;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"none\", \"auto\", \"required\" or a tool choice object")
            }
            fn visit_str<E: de::Error>(self, mode: &str) -> Result<ToolChoice, E> {
                mode_of(mode).map(ToolChoice::Mode)
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<ToolChoice, A::Error> {
                let map = Map::<String, Value>::deserialize(de::value::MapAccessDeserializer::new(access))?;
                let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
                let kind = text("type").ok_or_else(|| de::Error::custom("missing field `type`"))?;
                let named = |kind: &str| {
                    text("name")
                        .ok_or_else(|| de::Error::custom(format!("a `{kind}` tool choice needs `name`")))
                };
                match kind.as_str() {
                    "function" => Ok(ToolChoice::Function {
                        name: named("function")?,
                    }),
                    "custom" => Ok(ToolChoice::Custom {
                        name: named("custom")?,
                    }),
                    "allowed_tools" => {
                        let mode = mode_of(&text("mode").unwrap_or_else(|| "auto".into()))?;
                        let tools = match map.get("tools") {
                            Some(Value::Array(tools)) => tools.clone(),
                            _ => return Err(de::Error::custom("`allowed_tools` needs a `tools` array")),
                        };
                        Ok(ToolChoice::Allowed { mode, tools })
                    }
                    hosted if HOSTED_TOOL_CHOICES.contains(&hosted) => Ok(ToolChoice::Hosted { kind }),
                    other => Err(de::Error::custom(format!("unknown tool choice type `{other}`"))),
                }
            }
        }
        fn mode_of<E: de::Error>(mode: &str) -> Result<ToolChoiceMode, E> {
            match mode {
                "none" => Ok(ToolChoiceMode::None),
                "auto" => Ok(ToolChoiceMode::Auto),
                "required" => Ok(ToolChoiceMode::Required),
                other => Err(E::custom(format!(
                    "unknown tool choice `{other}`, expected `none`, `auto` or `required`"
                ))),
            }
        }
        deserializer.deserialize_any(ChoiceVisitor)
    }
}

// ---- parsing and validation

/// A parsed request: the typed view, and the client's JSON as sent (for the native body and the
/// stored input).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub request: ResponsesRequest,
    pub raw: Map<String, Value>,
}

/// Parses and validates a `POST /v1/responses` body.
pub fn parse(body: &[u8]) -> ApiResult<Parsed> {
    let request: ResponsesRequest = crate::http::parse_json(body)?;
    request.validate()?;
    let raw: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::internal(format!("a parsed responses body did not re-parse: {e}")))?;
    Ok(Parsed { request, raw })
}

fn one_of(param: &str, value: Option<&str>, allowed: &[&str]) -> ApiResult<()> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::bad_request(
            param,
            format!(
                "Invalid value for `{param}`: `{v}`. Supported values are: {}.",
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

fn range(param: &str, value: Option<f64>, low: f64, high: f64) -> ApiResult<()> {
    match value {
        Some(v) if !(low..=high).contains(&v) => Err(ApiError::bad_request(
            param,
            format!("`{param}` must be between {low} and {high}; got {v}."),
        )),
        _ => Ok(()),
    }
}

pub fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl ResponsesRequest {
    pub fn streams(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether the response and its input are kept (OpenAI's default: yes).
    pub fn stores(&self) -> bool {
        self.store.unwrap_or(true)
    }

    /// The input items, a string input being one user message.
    pub fn items(&self) -> Vec<InputItem> {
        match &self.input {
            None => Vec::new(),
            Some(Input::Text(text)) => vec![InputItem::Message(MessageItem {
                role: Role::User,
                content: Content::Text(text.clone()),
                id: None,
                status: None,
            })],
            Some(Input::Items(items)) => items.clone(),
        }
    }

    /// Checks what the types cannot, naming the offending parameter.
    pub fn validate(&self) -> ApiResult<()> {
        if let Some(unknown) = self.unknown.keys().next() {
            return Err(ApiError::bad_request(
                unknown.clone(),
                format!("Unknown parameter: '{unknown}'."),
            ));
        }
        if self.model.trim().is_empty() {
            return Err(ApiError::bad_request("model", "`model` must not be empty."));
        }
        if self.conversation.is_some() {
            return Err(ApiError::bad_request(
                "conversation",
                "This gateway does not keep OpenAI conversations; continue with `previous_response_id` instead.",
            ));
        }
        let empty_input = match &self.input {
            None => true,
            Some(Input::Text(_)) => false,
            Some(Input::Items(items)) => items.is_empty(),
        };
        if empty_input && self.previous_response_id.is_none() {
            return Err(ApiError::bad_request(
                "input",
                "`input` must contain at least one item (or continue a response with `previous_response_id`).",
            ));
        }
        if let Some(previous) = &self.previous_response_id {
            if !previous.starts_with("resp") {
                return Err(ApiError::bad_request(
                    "previous_response_id",
                    format!("Invalid `previous_response_id`: '{previous}'. Expected an ID that begins with 'resp'."),
                ));
            }
        }
        if self.stream_options.is_some() && !self.streams() {
            return Err(ApiError::bad_request(
                "stream_options",
                "`stream_options` is only allowed with `stream: true`.",
            ));
        }
        range("temperature", self.temperature, 0.0, 2.0)?;
        range("top_p", self.top_p, 0.0, 1.0)?;
        if self.top_logprobs.is_some_and(|n| n > 20) {
            return Err(ApiError::bad_request(
                "top_logprobs",
                "`top_logprobs` must be between 0 and 20.",
            ));
        }
        if let Some(max) = self.max_output_tokens {
            if max < MIN_MAX_OUTPUT_TOKENS {
                return Err(ApiError::bad_request(
                    "max_output_tokens",
                    format!("`max_output_tokens` must be at least {MIN_MAX_OUTPUT_TOKENS}; got {max}."),
                ));
            }
        }
        if self.max_tool_calls == Some(0) {
            return Err(ApiError::bad_request(
                "max_tool_calls",
                "`max_tool_calls` must be at least 1.",
            ));
        }
        for (i, include) in self.include.iter().flatten().enumerate() {
            if !INCLUDABLE.contains(&include.as_str()) {
                return Err(ApiError::bad_request(
                    format!("include[{i}]"),
                    format!("Invalid value for `include[{i}]`: `{include}`."),
                ));
            }
        }
        if let Some(reasoning) = &self.reasoning {
            one_of("reasoning.effort", reasoning.effort.as_deref(), REASONING_EFFORTS)?;
            one_of(
                "reasoning.summary",
                reasoning.summary.as_deref(),
                REASONING_SUMMARIES,
            )?;
            one_of(
                "reasoning.generate_summary",
                reasoning.generate_summary.as_deref(),
                REASONING_SUMMARIES,
            )?;
        }
        if let Some(text) = &self.text {
            one_of("text.verbosity", text.verbosity.as_deref(), VERBOSITIES)?;
            if let Some(TextFormat::JsonSchema { name, schema, .. }) = &text.format {
                if !valid_function_name(name) {
                    return Err(ApiError::bad_request(
                        "text.format.name",
                        "A schema name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.",
                    ));
                }
                if !schema.is_object() {
                    return Err(ApiError::bad_request(
                        "text.format.schema",
                        "`schema` must be a JSON Schema object.",
                    ));
                }
            }
        }
        one_of("truncation", self.truncation.as_deref(), TRUNCATIONS)?;
        one_of("service_tier", self.service_tier.as_deref(), SERVICE_TIERS)?;
        one_of(
            "prompt_cache_retention",
            self.prompt_cache_retention.as_deref(),
            CACHE_RETENTIONS,
        )?;
        self.validate_metadata()?;
        let names = self.validate_tools()?;
        self.validate_tool_choice(&names)?;
        self.validate_items()
    }

    fn validate_metadata(&self) -> ApiResult<()> {
        let Some(metadata) = &self.metadata else {
            return Ok(());
        };
        if metadata.len() > 16 {
            return Err(ApiError::bad_request(
                "metadata",
                "`metadata` holds at most 16 keys.",
            ));
        }
        for (key, value) in metadata {
            let param = format!("metadata.{key}");
            if key.chars().count() > 64 {
                return Err(ApiError::bad_request(
                    param,
                    "A `metadata` key is at most 64 characters.",
                ));
            }
            match value {
                Value::String(text) if text.chars().count() <= 512 => {}
                Value::String(_) => {
                    return Err(ApiError::bad_request(
                        param,
                        "A `metadata` value is at most 512 characters.",
                    ))
                }
                _ => return Err(ApiError::bad_request(param, "`metadata` values must be strings.")),
            }
        }
        Ok(())
    }

    /// The function and custom tool names declared (namespaced ones included).
    fn validate_tools(&self) -> ApiResult<Vec<String>> {
        let mut names = Vec::new();
        for (i, tool) in self.tools.iter().flatten().enumerate() {
            match tool {
                Tool::Function(function) => {
                    check_tool_name(&format!("tools[{i}].name"), &function.name)?;
                    if function
                        .parameters
                        .as_ref()
                        .is_some_and(|p| !p.is_object() && !p.is_null())
                    {
                        return Err(ApiError::bad_request(
                            format!("tools[{i}].parameters"),
                            "`parameters` must be a JSON Schema object.",
                        ));
                    }
                    names.push(function.name.clone());
                }
                Tool::Custom(custom) => {
                    check_tool_name(&format!("tools[{i}].name"), &custom.name)?;
                    names.push(custom.name.clone());
                }
                Tool::Namespace(namespace) => {
                    check_tool_name(&format!("tools[{i}].name"), &namespace.name)?;
                    for (j, inner) in namespace.tools.iter().enumerate() {
                        let param = format!("tools[{i}].tools[{j}]");
                        match inner {
                            Tool::Function(function) => {
                                check_tool_name(&format!("{param}.name"), &function.name)?;
                                names.push(function.name.clone());
                            }
                            Tool::Custom(custom) => {
                                check_tool_name(&format!("{param}.name"), &custom.name)?;
                                names.push(custom.name.clone());
                            }
                            _ => {
                                return Err(ApiError::bad_request(
                                    format!("{param}.type"),
                                    "A namespace holds function and custom tools only.",
                                ))
                            }
                        }
                    }
                }
                Tool::Hosted { .. } => {}
            }
        }
        Ok(names)
    }

    fn validate_tool_choice(&self, names: &[String]) -> ApiResult<()> {
        match &self.tool_choice {
            Some(ToolChoice::Function { name }) | Some(ToolChoice::Custom { name })
                if !names.iter().any(|n| n == name) =>
            {
                Err(ApiError::bad_request(
                    "tool_choice",
                    format!("`tool_choice` names `{name}`, which is not among `tools`."),
                ))
            }
            Some(ToolChoice::Mode(ToolChoiceMode::Required))
                if self.tools.as_deref().unwrap_or_default().is_empty() =>
            {
                Err(ApiError::bad_request(
                    "tool_choice",
                    "`tool_choice: required` needs `tools`.",
                ))
            }
            _ => Ok(()),
        }
    }

    fn validate_items(&self) -> ApiResult<()> {
        let Some(Input::Items(items)) = &self.input else {
            return Ok(());
        };
        for (i, item) in items.iter().enumerate() {
            match item {
                InputItem::FunctionCall(call) if call.call_id.is_empty() => {
                    return Err(ApiError::bad_request(
                        format!("input[{i}].call_id"),
                        "`call_id` must not be empty.",
                    ))
                }
                InputItem::FunctionCallOutput(output) if output.call_id.is_empty() => {
                    return Err(ApiError::bad_request(
                        format!("input[{i}].call_id"),
                        "`call_id` must not be empty.",
                    ))
                }
                InputItem::FunctionCall(call) if call.name.is_empty() => {
                    return Err(ApiError::bad_request(
                        format!("input[{i}].name"),
                        "`name` must not be empty.",
                    ))
                }
                InputItem::ItemReference(reference) if reference.id.is_empty() => {
                    return Err(ApiError::bad_request(
                        format!("input[{i}].id"),
                        "`id` must not be empty.",
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_tool_name(param: &str, name: &str) -> ApiResult<()> {
    if valid_function_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            param,
            "A tool name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::surfaces::responses::fixtures::{CODEX_TURN_1, CODEX_TURN_2};

    fn parse_value(body: Value) -> ApiResult<Parsed> {
        parse(body.to_string().as_bytes())
    }

    fn param_of(body: Value) -> String {
        parse_value(body).unwrap_err().param.clone().unwrap_or_default()
    }

    fn base() -> Value {
        json!({"model": "gpt-4o-mini", "input": "hi"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut body = base();
        body[key] = value;
        body
    }

    #[test]
    fn what_codex_0_169_sends_parses() {
        for body in [CODEX_TURN_1, CODEX_TURN_2] {
            let parsed = parse(body.as_bytes()).unwrap();
            let request = &parsed.request;
            assert!(request.streams());
            assert!(!request.stores());
            assert_eq!(
                request.include.as_deref(),
                Some(&["reasoning.encrypted_content".to_owned()][..])
            );
            assert!(request.client_metadata.is_some() && request.prompt_cache_key.is_some());
            let tools = request.tools.as_deref().unwrap();
            assert!(tools
                .iter()
                .any(|t| matches!(t, Tool::Namespace(ns) if !ns.tools.is_empty())));
            assert!(tools
                .iter()
                .any(|t| matches!(t, Tool::Hosted { kind } if kind == "web_search")));
            assert!(tools
                .iter()
                .any(|t| matches!(t, Tool::Function(f) if f.strict == Some(false))));
            assert_eq!(request.tool_choice, Some(ToolChoice::Mode(ToolChoiceMode::Auto)));
        }
        let second = parse(CODEX_TURN_2.as_bytes()).unwrap().request.items();
        let kinds: Vec<&str> = second.iter().map(InputItem::kind).collect();
        assert!(
            kinds.ends_with(&["message", "reasoning", "function_call", "function_call_output"]),
            "{kinds:?}"
        );
        assert!(
            matches!(&second[second.len() - 3], InputItem::Reasoning(r) if r.encrypted_content.is_some() && r.content.is_none())
        );
    }

    #[test]
    fn every_documented_parameter_is_accepted() {
        let parsed = parse_value(json!({
            "model": "gpt-4o-mini",
            "input": [{"role": "user", "content": "hi"}],
            "instructions": "be brief", "stream": true, "stream_options": {"include_obfuscation": false},
            "store": true, "include": ["reasoning.encrypted_content", "message.output_text.logprobs"],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true},
                      {"type": "custom", "name": "patch", "format": {"type": "text"}},
                      {"type": "file_search", "vector_store_ids": ["vs_1"]}],
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "f"}]},
            "parallel_tool_calls": false, "max_output_tokens": 100, "max_tool_calls": 3,
            "temperature": 0.5, "top_p": 0.9, "top_logprobs": 2,
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
            "reasoning": {"effort": "high", "summary": "auto"},
            "metadata": {"k": "v"}, "user": "u", "safety_identifier": "s", "prompt_cache_key": "p",
            "prompt_cache_retention": "24h", "service_tier": "flex", "truncation": "auto", "background": false,
            "context_management": [{"type": "compaction", "compact_threshold": 1000}],
            "prompt": {"id": "pmpt_1"}, "client_metadata": {"x": 1}
        }))
        .unwrap();
        assert_eq!(parsed.raw["max_tool_calls"], 3);
        assert!(matches!(
            parsed.request.tool_choice,
            Some(ToolChoice::Allowed {
                mode: ToolChoiceMode::Auto,
                ..
            })
        ));
    }

    #[test]
    fn a_string_input_is_one_user_message() {
        let items = parse_value(base()).unwrap().request.items();
        assert_eq!(
            items,
            vec![InputItem::Message(MessageItem {
                role: Role::User,
                content: Content::Text("hi".into()),
                id: None,
                status: None
            })]
        );
    }

    #[test]
    fn names_no_vendor_documents_are_refused_by_name() {
        assert_eq!(param_of(with("frobnicate", json!(1))), "frobnicate");
        assert_eq!(param_of(with("messages", json!([]))), "messages");
        assert_eq!(param_of(with("tools", json!([{"type": "teleport"}]))), "tools[0]");
        assert_eq!(param_of(with("input", json!([{"type": "hologram"}]))), "input[0]");
        assert_eq!(param_of(with("include", json!(["everything"]))), "include[0]");
        assert_eq!(param_of(with("tool_choice", json!("sometimes"))), "tool_choice");
        assert_eq!(
            param_of(with("tool_choice", json!({"type": "psychic"}))),
            "tool_choice"
        );
    }

    #[test]
    fn errors_inside_input_items_name_a_param_starting_with_input() {
        let item = |value: Value| with("input", json!([{"role": "user", "content": "ok"}, value]));
        assert_eq!(
            param_of(item(
                json!({"type": "function_call", "name": "f", "arguments": "{}"})
            )),
            "input[1].call_id"
        );
        assert_eq!(
            param_of(item(json!({"role": "wizard", "content": "x"}))),
            "input[1]"
        );
        assert_eq!(param_of(item(json!({"role": "user", "content": 5}))), "input[1]");
        let error =
            parse_value(item(json!({"role": "user", "content": [{"type": "input_text"}]}))).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("input[1]"));
        assert!(
            error.message.contains("content[0]") && error.message.contains("text"),
            "{}",
            error.message
        );
        assert_eq!(
            param_of(item(
                json!({"type": "function_call", "call_id": "", "name": "f", "arguments": "{}"})
            )),
            "input[1].call_id"
        );
        assert_eq!(param_of(item(json!({"type": "item_reference"}))), "input[1].id");
        for param in [
            param_of(item(
                json!({"type": "function_call_output", "call_id": "c", "output": 7}),
            )),
            param_of(item(json!({"type": "reasoning", "summary": "not a list"}))),
        ] {
            assert!(param.starts_with("input[1]"), "{param}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(param_of(with("model", json!(""))), "model");
        assert_eq!(param_of(json!({"input": "hi"})), "model");
        assert_eq!(param_of(json!({"model": "m"})), "input");
        assert_eq!(param_of(with("input", json!([]))), "input");
        assert_eq!(param_of(with("temperature", json!(2.5))), "temperature");
        assert_eq!(param_of(with("top_p", json!(1.5))), "top_p");
        assert_eq!(param_of(with("top_logprobs", json!(21))), "top_logprobs");
        assert_eq!(
            param_of(with("max_output_tokens", json!(15))),
            "max_output_tokens"
        );
        assert_eq!(
            param_of(with("max_output_tokens", json!(-1))),
            "max_output_tokens"
        );
        assert_eq!(
            param_of(with("previous_response_id", json!("msg_1"))),
            "previous_response_id"
        );
        assert_eq!(param_of(with("stream_options", json!({}))), "stream_options");
        assert_eq!(
            param_of(with("reasoning", json!({"effort": "maximal"}))),
            "reasoning.effort"
        );
        assert_eq!(
            param_of(with("text", json!({"verbosity": "loud"}))),
            "text.verbosity"
        );
        assert_eq!(
            param_of(with(
                "text",
                json!({"format": {"type": "json_schema", "name": "bad name", "schema": {}}})
            )),
            "text.format.name"
        );
        assert_eq!(param_of(with("truncation", json!("sometimes"))), "truncation");
        // What a format's or a part's type requires is named where it is missing.
        assert_eq!(
            param_of(with(
                "text",
                json!({"format": {"type": "json_schema", "schema": {}}})
            )),
            "text.format.name"
        );
        assert_eq!(
            param_of(with("text", json!({"format": {"type": "yaml"}}))),
            "text.format.type"
        );
        assert_eq!(param_of(with("metadata", json!({"k": 1}))), "metadata.k");
        assert_eq!(param_of(with("conversation", json!("conv_1"))), "conversation");
        assert_eq!(
            param_of(with("tools", json!([{"type": "function", "name": "bad name"}]))),
            "tools[0].name"
        );
        assert_eq!(
            param_of(with(
                "tools",
                json!([{"type": "namespace", "name": "ns", "tools": [{"type": "web_search"}]}])
            )),
            "tools[0].tools[0].type"
        );
        assert_eq!(
            param_of(with("tool_choice", json!({"type": "function", "name": "nope"}))),
            "tool_choice"
        );
        assert_eq!(param_of(with("tool_choice", json!("required"))), "tool_choice");
    }

    #[test]
    fn a_continuation_may_have_no_input_and_nulls_mean_absent() {
        let parsed = parse_value(
            json!({"model": "m", "previous_response_id": "resp_1", "temperature": null, "tools": null}),
        )
        .unwrap();
        assert!(parsed.request.items().is_empty());
        assert!(parsed.request.temperature.is_none());
    }

    #[test]
    fn stored_items_of_unknown_types_are_carried_not_refused() {
        let item = InputItem::from_stored(&json!({"type": "hologram_call", "id": "h_1"}));
        assert_eq!(
            item,
            InputItem::Hosted {
                kind: "hologram_call".into()
            }
        );
        let message = InputItem::from_stored(&json!({"type": "message", "role": "assistant", "id": "msg_1",
            "status": "completed", "content": [{"type": "output_text", "text": "hi", "annotations": []}]}));
        assert!(matches!(message, InputItem::Message(m) if m.content.text() == "hi"));
    }
}
