//! The canonical, OpenAI-shaped chat types. Every route parses into `ChatRequest`, and every
//! provider translation produces `ChatCompletion` / `ChatCompletionChunk`. Unknown fields of
//! responses are kept (`extra`), so an OpenAI-compatible vendor's additions pass through.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::keep_extra::{deserialize_keeping_extra, or_default, required};

/// Whether a data URL carries something other than an image (a PDF, audio, ...).
pub fn is_non_image_data_url(url: &str) -> bool {
    url.starts_with("data:") && !url.starts_with("data:image/")
}

/// The parameters of OpenAI's Chat Completions reference that the canonical request keeps in
/// `extra` (the others are typed fields). Each provider forwards, maps or drops them (see
/// `crate::providers`); their values are checked by `validate`. Anything else is refused, as
/// OpenAI refuses unknown arguments. (`functions` / `function_call` are rewritten as tools when
/// the request is read: `super::params`.)
pub const PASSTHROUGH_PARAMS: &[&str] = &[
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "reasoning_effort",
    "metadata",
    "store",
    "service_tier",
    "verbosity",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "safety_identifier",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "moderation",
];

/// OpenAI's `reasoning_effort` values, least to most.
pub const REASONING_EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

/// The most choices (`n`) OpenAI generates for one request.
pub const MAX_CHOICES: u32 = 128;

/// A chat request as the client (or a surface's translation) wrote it, before its checks. It
/// becomes a [`ChatRequest`] only through `ChatRequest::try_from`, which checks it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ChatRequestBody {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// `PASSTHROUGH_PARAMS` only (checked by `validate`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Developer {
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    User {
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Assistant {
        #[serde(default)]
        content: Option<Content>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<ToolCall>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<String>,
    },
    Tool {
        content: Content,
        tool_call_id: String,
    },
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::json_path::checked::<D, MessageFields, Message>(deserializer)
    }
}

/// A message's members in one flat reading, checked by role in `Message::try_from`: serde's
/// `role`-tagged enum would buffer each message and read it a second time.
#[derive(Deserialize)]
struct MessageFields {
    role: MessageRole,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum MessageRole {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

impl TryFrom<MessageFields> for Message {
    type Error = &'static str;

    /// The error is serde's words for what the role requires (`missing field `content``).
    fn try_from(fields: MessageFields) -> Result<Message, &'static str> {
        let MessageFields {
            role,
            content,
            name,
            tool_calls,
            refusal,
            tool_call_id,
        } = fields;
        let required = |content: Option<Content>| content.ok_or("missing field `content`");
        Ok(match role {
            MessageRole::System => Message::System {
                content: required(content)?,
                name,
            },
            MessageRole::Developer => Message::Developer {
                content: required(content)?,
                name,
            },
            MessageRole::User => Message::User {
                content: required(content)?,
                name,
            },
            MessageRole::Assistant => Message::Assistant {
                content,
                tool_calls,
                name,
                refusal,
            },
            MessageRole::Tool => Message::Tool {
                content: required(content)?,
                tool_call_id: tool_call_id.ok_or("missing field `tool_call_id`")?,
            },
        })
    }
}

/// Message content: a string, or a list of parts.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextOrParts;
        impl<'de> serde::de::Visitor<'de> for TextOrParts {
            type Value = Content;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Content, E> {
                Ok(Content::Text(text.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Content, E> {
                Ok(Content::Text(text))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(part) = seq.next_element::<ContentPart>()? {
                    parts.push(part);
                }
                Ok(Content::Parts(parts))
            }
        }
        deserializer.deserialize_any(TextOrParts)
    }
}

impl Content {
    /// The text of every text part, joined; images contribute nothing.
    /// The characters of `text()`, without building it (prompts can be megabytes).
    pub fn text_chars(&self) -> usize {
        match self {
            Content::Text(text) => text.chars().count(),
            Content::Parts(parts) => {
                let texts: Vec<usize> = parts
                    .iter()
                    .filter_map(|p| match p {
                        ContentPart::Text { text } => Some(text.chars().count()),
                        _ => None,
                    })
                    .collect();
                texts.iter().sum::<usize>() + texts.len().saturating_sub(1)
            }
        }
    }

    pub fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    File { file: FileRef },
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::json_path::checked::<D, PartFields, ContentPart>(deserializer)
    }
}

/// A part's members in one flat reading, checked by `type` (see `MessageFields`).
#[derive(Deserialize)]
struct PartFields {
    #[serde(rename = "type")]
    kind: PartKind,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image_url: Option<ImageUrl>,
    #[serde(default)]
    file: Option<FileRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PartKind {
    Text,
    ImageUrl,
    File,
}

impl TryFrom<PartFields> for ContentPart {
    type Error = &'static str;

    fn try_from(part: PartFields) -> Result<ContentPart, &'static str> {
        Ok(match part.kind {
            PartKind::Text => ContentPart::Text {
                text: part.text.ok_or("missing field `text`")?,
            },
            PartKind::ImageUrl => ContentPart::ImageUrl {
                image_url: part.image_url.ok_or("missing field `image_url`")?,
            },
            PartKind::File => ContentPart::File {
                file: part.file.ok_or("missing field `file`")?,
            },
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FileRef {
    pub file_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".to_owned()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `"auto"`, `"none"`, `"required"`, or `{"type":"function","function":{"name"}}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    Named(NamedToolChoice),
}

/// A string is a mode, an object names the function: decided by the JSON's own type, where serde's
/// untagged enum would buffer the value and try each variant in turn.
impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeOrNamed;
        impl<'de> serde::de::Visitor<'de> for ModeOrNamed {
            type Value = ToolChoice;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}")
            }
            fn visit_str<E: serde::de::Error>(self, mode: &str) -> Result<ToolChoice, E> {
                use serde::de::IntoDeserializer;
                ToolChoiceMode::deserialize(mode.into_deserializer()).map(ToolChoice::Mode)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ToolChoice, A::Error> {
                NamedToolChoice::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(ToolChoice::Named)
            }
        }
        deserializer.deserialize_any(ModeOrNamed)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    Auto,
    None,
    Required,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: NamedFunction,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct NamedFunction {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

/// A string or a list of strings, decided by the JSON's own type (see `ToolChoice`).
impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> serde::de::Visitor<'de> for OneOrMany {
            type Value = Stop;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, stop: &str) -> Result<Stop, E> {
                Ok(Stop::One(stop.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, stop: String) -> Result<Stop, E> {
                Ok(Stop::One(stop))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Stop, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(Stop::Many)
            }
        }
        deserializer.deserialize_any(OneOrMany)
    }
}

impl Stop {
    pub fn sequences(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(list) => list.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

impl<'de> Deserialize<'de> for ResponseFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::json_path::checked::<D, ResponseFormatFields, ResponseFormat>(deserializer)
    }
}

/// `response_format`'s members in one flat reading, checked by `type` (see `MessageFields`).
#[derive(Deserialize)]
struct ResponseFormatFields {
    #[serde(rename = "type")]
    kind: ResponseFormatKind,
    #[serde(default)]
    json_schema: Option<JsonSchemaFormat>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResponseFormatKind {
    Text,
    JsonObject,
    JsonSchema,
}

impl TryFrom<ResponseFormatFields> for ResponseFormat {
    type Error = &'static str;

    fn try_from(format: ResponseFormatFields) -> Result<ResponseFormat, &'static str> {
        Ok(match format.kind {
            ResponseFormatKind::Text => ResponseFormat::Text,
            ResponseFormatKind::JsonObject => ResponseFormat::JsonObject,
            ResponseFormatKind::JsonSchema => ResponseFormat::JsonSchema {
                json_schema: format.json_schema.ok_or("missing field `json_schema`")?,
            },
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
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

fn invalid(param: &str, expected: &str) -> ApiError {
    ApiError::bad_request(param, format!("Invalid `{param}`: expected {expected}."))
}

fn one_of(param: &str, value: &Value, allowed: &[&str]) -> ApiResult<()> {
    match value.as_str() {
        Some(v) if allowed.contains(&v) => Ok(()),
        _ => Err(ApiError::bad_request(
            param,
            format!(
                "Invalid `{param}`: expected one of {}; got {value}.",
                allowed.join(", ")
            ),
        )),
    }
}

/// The value checks OpenAI makes on a parameter kept in `extra` (null is "not set" for all).
fn check_passthrough(key: &str, value: &Value) -> ApiResult<()> {
    if value.is_null() {
        return Ok(());
    }
    match key {
        "logprobs" | "store" if !value.is_boolean() => Err(invalid(key, "a boolean")),
        "top_logprobs" if value.as_u64().is_none_or(|n| n > 20) => {
            Err(invalid(key, "an integer between 0 and 20"))
        }
        "logit_bias" => match value.as_object() {
            Some(bias)
                if bias
                    .values()
                    .all(|b| b.as_f64().is_some_and(|b| (-100.0..=100.0).contains(&b))) =>
            {
                Ok(())
            }
            _ => Err(invalid(
                key,
                "an object of token ids to numbers between -100 and 100",
            )),
        },
        "reasoning_effort" => one_of(key, value, REASONING_EFFORTS),
        "service_tier" => one_of(key, value, &["auto", "default", "flex", "scale", "priority"]),
        "verbosity" => one_of(key, value, &["low", "medium", "high"]),
        "prompt_cache_retention" => one_of(key, value, &["in_memory", "24h"]),
        "metadata" => match value.as_object() {
            Some(pairs)
                if pairs.len() <= 16
                    && pairs.iter().all(|(k, v)| {
                        k.chars().count() <= 64 && v.as_str().is_some_and(|v| v.chars().count() <= 512)
                    }) =>
            {
                Ok(())
            }
            _ => Err(invalid(
                key,
                "at most 16 string values under keys of up to 64 characters (values up to 512)",
            )),
        },
        "prompt_cache_key" | "safety_identifier" if !value.is_string() => Err(invalid(key, "a string")),
        "modalities" => match value.as_array() {
            Some(list) if list.iter().all(|m| matches!(m.as_str(), Some("text" | "audio"))) => Ok(()),
            _ => Err(invalid(key, "an array of `text` and `audio`")),
        },
        "prediction" if value.get("type").and_then(Value::as_str) != Some("content") => {
            Err(invalid(key, "an object of type `content`"))
        }
        "audio" | "web_search_options" | "moderation" | "prompt_cache_options" | "prediction"
            if !value.is_object() =>
        {
            Err(invalid(key, "an object"))
        }
        _ => Ok(()),
    }
}

fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A chat request that passed its checks: what providers, billing and uploads take. The only
/// ways to make one check it (`try_from` a body, or deserializing, which goes through the same
/// `try_from`), so no route can forget; it reads as its body and is not changed afterwards, but
/// for uploaded files resolved in place ([`ChatRequest::resolve_parts`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ChatRequestBody")]
pub struct ChatRequest(ChatRequestBody);

/// As its body, borrowed (serde's `into` would clone the whole request, images included).
impl Serialize for ChatRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl TryFrom<ChatRequestBody> for ChatRequest {
    type Error = ApiError;
    fn try_from(body: ChatRequestBody) -> ApiResult<ChatRequest> {
        body.validate()?;
        Ok(ChatRequest(body))
    }
}

impl std::ops::Deref for ChatRequest {
    type Target = ChatRequestBody;
    fn deref(&self) -> &ChatRequestBody {
        &self.0
    }
}

impl ChatRequest {
    /// Puts content parts in place of a user message's parts, by (message, part) index: an
    /// uploaded file's image or text where the client named the file. A content part for a
    /// content part leaves the request as valid as it was.
    pub fn resolve_parts(&mut self, resolved: Vec<(usize, usize, ContentPart)>) {
        for (i, j, part) in resolved {
            if let Some(Message::User {
                content: Content::Parts(parts),
                ..
            }) = self.0.messages.get_mut(i)
            {
                if let Some(slot) = parts.get_mut(j) {
                    *slot = part;
                }
            }
        }
    }
}

impl ChatRequestBody {
    /// Checks what the types cannot, naming the offending parameter.
    fn validate(&self) -> ApiResult<()> {
        if self.model.trim().is_empty() {
            return Err(ApiError::bad_request("model", "`model` must not be empty."));
        }
        if self.messages.is_empty() {
            return Err(ApiError::bad_request(
                "messages",
                "`messages` must contain at least one message.",
            ));
        }
        if let Some(unknown) = self
            .extra
            .keys()
            .find(|k| !PASSTHROUGH_PARAMS.contains(&k.as_str()))
        {
            return Err(ApiError::bad_request(
                unknown.clone(),
                format!("Unrecognized request argument supplied: {unknown}"),
            ));
        }
        for (key, value) in &self.extra {
            check_passthrough(key, value)?;
        }
        if self.n.is_some_and(|n| !(1..=MAX_CHOICES).contains(&n)) {
            return Err(ApiError::bad_request(
                "n",
                format!("`n` must be between 1 and {MAX_CHOICES}."),
            ));
        }
        if self.stream_options.is_some() && !self.stream {
            return Err(ApiError::bad_request(
                "stream_options",
                "`stream_options` is only allowed with `stream: true`.",
            ));
        }
        range("temperature", self.temperature, 0.0, 2.0)?;
        range("top_p", self.top_p, 0.0, 1.0)?;
        range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        for (param, value) in [
            ("max_tokens", self.max_tokens),
            ("max_completion_tokens", self.max_completion_tokens),
        ] {
            if value == Some(0) {
                return Err(ApiError::bad_request(
                    param,
                    format!("`{param}` must be at least 1."),
                ));
            }
        }
        if let Some(stop) = &self.stop {
            let sequences = stop.sequences();
            if sequences.len() > 4 || sequences.iter().any(String::is_empty) {
                return Err(ApiError::bad_request(
                    "stop",
                    "`stop` takes up to 4 non-empty sequences.",
                ));
            }
        }
        let tools = self.tools.as_deref().unwrap_or_default();
        for (i, tool) in tools.iter().enumerate() {
            if tool.kind != "function" {
                return Err(ApiError::bad_request(
                    format!("tools[{i}].type"),
                    "Only tools of type `function` are supported.",
                ));
            }
            if !valid_function_name(&tool.function.name) {
                return Err(ApiError::bad_request(
                    format!("tools[{i}].function.name"),
                    "A function name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.",
                ));
            }
            if tool.function.parameters.as_ref().is_some_and(|p| !p.is_object()) {
                return Err(ApiError::bad_request(
                    format!("tools[{i}].function.parameters"),
                    "`parameters` must be a JSON Schema object.",
                ));
            }
        }
        match &self.tool_choice {
            Some(ToolChoice::Named(named))
                if !tools.iter().any(|t| t.function.name == named.function.name) =>
            {
                return Err(ApiError::bad_request(
                    "tool_choice",
                    format!(
                        "`tool_choice` names `{}`, which is not among `tools`.",
                        named.function.name
                    ),
                ))
            }
            Some(ToolChoice::Mode(ToolChoiceMode::Required)) if tools.is_empty() => {
                return Err(ApiError::bad_request(
                    "tool_choice",
                    "`tool_choice: required` needs `tools`.",
                ))
            }
            _ => {}
        }
        for (i, message) in self.messages.iter().enumerate() {
            if let Message::Assistant {
                content: None,
                tool_calls: None,
                ..
            } = message
            {
                return Err(ApiError::bad_request(
                    format!("messages[{i}].content"),
                    "An assistant message needs `content` or `tool_calls`.",
                ));
            }
            // A PDF or audio passed as an "image" would be read as something else by some
            // providers (Gemini takes it as a document) and escape the image sizing.
            if let Message::User {
                content: Content::Parts(parts),
                ..
            } = message
            {
                for (j, part) in parts.iter().enumerate() {
                    if let ContentPart::ImageUrl { image_url } = part {
                        if is_non_image_data_url(&image_url.url) {
                            return Err(ApiError::bad_request(
                                format!("messages[{i}].content[{j}].image_url.url"),
                                "An `image_url` data URL must hold an image (data:image/...); upload other files with POST /api/chat/upload.",
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The output-token ceiling the client asked for, if any.
    pub fn requested_max_tokens(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    pub fn wants_usage_chunk(&self) -> bool {
        self.stream_options.as_ref().is_some_and(|o| o.include_usage)
    }
}

// ---- annotations

/// What a request's messages and tools carry beyond the canonical types, by position (message
/// index, content-part index, tool index): Anthropic-style `cache_control` marks (also OpenAI's
/// `prompt_cache_breakpoint`) and an assistant message's `reasoning_content` (DeepSeek's thinking
/// mode needs it back in tool loops). Read once where a chat surface parses its body
/// (`super::params`); each provider uses what it can and drops the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotations {
    pub messages: Vec<MessageAnnotations>,
    /// `cache_control` of each entry of `tools`.
    pub tools: Vec<Option<CacheControl>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageAnnotations {
    /// On the message itself: marks its last block.
    pub cache_control: Option<CacheControl>,
    /// On each content part, by index.
    pub parts: Vec<Option<CacheControl>>,
    pub reasoning_content: Option<String>,
}

/// A prompt-cache breakpoint: "cache everything up to here", for 5 minutes or an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheControl {
    FiveMinutes,
    OneHour,
}

/// Serialized in Anthropic's form: `{"type": "ephemeral"}`, with `"ttl": "1h"` for an hour.
impl Serialize for CacheControl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", "ephemeral")?;
        if *self == CacheControl::OneHour {
            map.serialize_entry("ttl", "1h")?;
        }
        map.end()
    }
}

impl Annotations {
    pub fn is_empty(&self) -> bool {
        self.tools.iter().all(Option::is_none)
            && self.messages.iter().all(|m| {
                m.cache_control.is_none()
                    && m.reasoning_content.is_none()
                    && m.parts.iter().all(Option::is_none)
            })
    }

    pub fn message(&self, i: usize) -> Option<&MessageAnnotations> {
        self.messages.get(i)
    }

    /// The mark on part `j` of message `i`.
    pub fn part(&self, i: usize, j: usize) -> Option<CacheControl> {
        self.messages
            .get(i)
            .and_then(|m| m.parts.get(j).copied().flatten())
    }

    /// The mark on message `i` itself.
    pub fn on_message(&self, i: usize) -> Option<CacheControl> {
        self.messages.get(i).and_then(|m| m.cache_control)
    }

    pub fn tool(&self, k: usize) -> Option<CacheControl> {
        self.tools.get(k).copied().flatten()
    }

    pub fn reasoning_content(&self, i: usize) -> Option<&str> {
        self.messages.get(i).and_then(|m| m.reasoning_content.as_deref())
    }

    /// The annotations after `count` messages were put before the client's (a system prompt).
    pub fn shifted(mut self, count: usize) -> Annotations {
        if !self.messages.is_empty() {
            let mut messages = vec![MessageAnnotations::default(); count];
            messages.append(&mut self.messages);
            self.messages = messages;
        }
        self
    }
}

// ---- responses

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Prompt tokens written to the provider's cache (parts of `prompt_tokens`), which OpenAI's
    /// shape has no field for: a translation that knows them (Anthropic's) sets them for
    /// billing. Never serialized.
    #[serde(skip)]
    pub cache_writes: CacheWrites,
}

deserialize_keeping_extra!(Usage {
    prompt_tokens: or_default(),
    completion_tokens: or_default(),
    total_tokens: or_default(),
} skipped: cache_writes);

/// Cache writes by lifetime (Anthropic's 5-minute and 1-hour caches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheWrites {
    pub five_minutes: u64,
    pub one_hour: u64,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            extra: Map::new(),
            cache_writes: CacheWrites::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ResponseMessage {
    #[serde(default = "assistant_role")]
    pub role: String,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_keeping_extra!(ResponseMessage {
    role: Ok(assistant_role()),
    content: or_default(),
    tool_calls: or_default(),
    refusal: or_default(),
});

fn assistant_role() -> String {
    "assistant".to_owned()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Choice {
    #[serde(default)]
    pub index: u32,
    pub message: ResponseMessage,
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub logprobs: Option<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChatCompletion {
    #[serde(default)]
    pub id: String,
    #[serde(default = "completion_object")]
    pub object: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_keeping_extra!(ChatCompletion {
    id: or_default(),
    object: Ok(completion_object()),
    created: or_default(),
    model: or_default(),
    choices: required("choices"),
    usage: or_default(),
});

fn completion_object() -> String {
    "chat.completion".to_owned()
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_keeping_extra!(Delta {
    role: or_default(),
    content: or_default(),
    tool_calls: or_default(),
    refusal: or_default(),
});

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct FunctionDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChatCompletionChunk {
    #[serde(default)]
    pub id: String,
    #[serde(default = "chunk_object")]
    pub object: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

deserialize_keeping_extra!(ChatCompletionChunk {
    id: or_default(),
    object: Ok(chunk_object()),
    created: or_default(),
    model: or_default(),
    choices: or_default(),
    usage: or_default(),
});

impl ChatCompletionChunk {
    /// A chunk of one choice carrying `delta`, finishing it when `finish_reason` is given: what a
    /// translated stream emits for each piece of the answer.
    pub fn one_choice(
        id: String,
        model: String,
        created: i64,
        delta: Delta,
        finish_reason: Option<&str>,
    ) -> Self {
        ChatCompletionChunk {
            id,
            object: chunk_object(),
            created,
            model,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish_reason.map(str::to_owned),
                logprobs: None,
            }],
            usage: None,
            extra: Map::new(),
        }
    }
}

fn chunk_object() -> String {
    "chat.completion.chunk".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_json;
    use serde_json::json;

    fn parse(body: Value) -> ApiResult<ChatRequest> {
        let body: ChatRequestBody = parse_json(body.to_string().as_bytes())?;
        ChatRequest::try_from(body)
    }

    fn param_of(body: Value) -> String {
        parse(body).unwrap_err().param.clone().unwrap_or_default()
    }

    #[test]
    fn a_full_openai_request_parses() {
        let request = parse(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "really"}]},
                {"role": "user", "content": [{"type": "text", "text": "what is this"},
                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}
            ],
            "stream": true, "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": false, "temperature": 0.2, "top_p": 0.9, "max_tokens": 100,
            "stop": ["\n\n"], "presence_penalty": 0.5, "frequency_penalty": -0.5, "seed": 7,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "user": "u-1", "n": 1, "reasoning_effort": "low"
        }))
        .unwrap();
        assert!(request.wants_usage_chunk());
        assert_eq!(request.messages.len(), 5);
        assert_eq!(request.extra["reasoning_effort"], "low");
    }

    #[test]
    fn bad_parameters_are_named() {
        let base = || json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let with = |key: &str, value: Value| {
            let mut body = base();
            body[key] = value;
            body
        };
        assert_eq!(param_of(with("n", json!(200))), "n");
        assert_eq!(param_of(with("temperature", json!(3))), "temperature");
        assert_eq!(param_of(with("top_p", json!(-0.1))), "top_p");
        assert_eq!(param_of(with("max_tokens", json!(0))), "max_tokens");
        assert_eq!(param_of(with("max_tokens", json!(-5))), "max_tokens");
        assert_eq!(param_of(with("stop", json!(["a", "b", "c", "d", "e"]))), "stop");
        assert_eq!(param_of(with("messages", json!([]))), "messages");
        assert_eq!(
            param_of(with("messages", json!([{"role": "wizard", "content": "x"}]))),
            "messages[0].role"
        );
        // A message, its content and its parts are each located where the refusal is.
        assert_eq!(
            param_of(with(
                "messages",
                json!([{"role": "user", "content": "a"}, {"role": "tool", "content": "x"}])
            )),
            "messages[1].tool_call_id"
        );
        assert_eq!(
            param_of(with(
                "messages",
                json!([{"role": "system"}, {"role": "user", "content": "a"}])
            )),
            "messages[0].content"
        );
        // A string or an object, told apart by the JSON's own type.
        let error = parse(with("tool_choice", json!("sometimes"))).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("tool_choice"));
        assert!(
            error.message.contains("unknown variant `sometimes`"),
            "{}",
            error.message
        );
        assert_eq!(
            param_of(with("tool_choice", json!({"type": "function"}))),
            "tool_choice.function"
        );
        assert_eq!(param_of(with("tool_choice", json!(3))), "tool_choice");
        assert_eq!(param_of(with("stop", json!(["a", 1]))), "stop[1]");
        assert_eq!(param_of(with("stop", json!(true))), "stop");
        assert_eq!(
            param_of(with("response_format", json!({"type": "json_schema"}))),
            "response_format.json_schema"
        );
        let parsed = parse(with("stop", json!("x"))).unwrap();
        assert_eq!(parsed.stop, Some(Stop::One("x".into())));
        let error = parse(with("messages", json!([{"role": "user", "content": 5}]))).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages[0].content"));
        assert!(
            error
                .message
                .contains("expected a string or an array of content parts"),
            "{}",
            error.message
        );
        let parts =
            json!([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}]}]);
        assert_eq!(
            param_of(with("messages", parts)),
            "messages[0].content[1].image_url"
        );
        let parts = json!([{"role": "user", "content": [{"type": "video", "url": "x"}]}]);
        assert_eq!(param_of(with("messages", parts)), "messages[0].content[0].type");
        assert_eq!(
            param_of(with("stream_options", json!({"include_usage": true}))),
            "stream_options"
        );
        assert_eq!(param_of(with("frobnicate", json!(true))), "frobnicate");
        assert_eq!(param_of(with("tool_choice", json!("required"))), "tool_choice");
        assert_eq!(
            param_of(with(
                "tools",
                json!([{"type": "retrieval", "function": {"name": "f"}}])
            )),
            "tools[0].type"
        );
        assert_eq!(
            param_of(with(
                "tools",
                json!([{"type": "function", "function": {"name": "bad name"}}])
            )),
            "tools[0].function.name"
        );
        assert_eq!(param_of(with("model", json!(""))), "model");
        let mut no_model = base();
        no_model.as_object_mut().unwrap().remove("model");
        assert_eq!(param_of(no_model), "model");
    }

    #[test]
    fn content_text_joins_text_parts() {
        let content: Content = serde_json::from_value(json!([
            {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "b"}
        ]))
        .unwrap();
        assert_eq!(content.text(), "a\nb");
    }

    #[test]
    fn a_request_serializes_back_without_absent_fields() {
        let request = parse(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})).unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        );
    }
}

/// Why a choice ended, in OpenAI's words (the canonical ones): what each wire's reason maps to
/// and every surface maps from. A vendor's own reason passes through to OpenAI clients as it
/// came; [`FinishReason::parse`] reads the ones that mean something to the other surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    /// The output ceiling was reached.
    Length,
    ToolCalls,
    /// The deprecated function-calling shape's end.
    FunctionCall,
    ContentFilter,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::FunctionCall => "function_call",
            FinishReason::ContentFilter => "content_filter",
        }
    }

    /// A canonical reason; anything else (a vendor's own) is `None`.
    pub fn parse(reason: &str) -> Option<FinishReason> {
        Some(match reason {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "function_call" => FinishReason::FunctionCall,
            "content_filter" => FinishReason::ContentFilter,
            _ => return None,
        })
    }
}
