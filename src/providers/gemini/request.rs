//! The request: the canonical chat request as Gemini's `GenerateContentRequest`, in typed wire
//! structs that borrow its texts, names and URLs (the mapping is in the module docs of
//! [`super`]). Only the cleaned schemas, function-call `args` and `functionResponse.response`
//! are JSON values.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::schema::{clean_schema, is_empty_object_schema};
use crate::canonical::{
    self, ChatRequest, ContentPart, Message, ResponseFormat, Stop, ToolChoice, ToolChoiceMode,
};
use crate::error::{ApiError, ApiResult};
use crate::providers::{Built, Outgoing, Upstream, UpstreamRequest};

/// Google's documented thought signature for function calls the model did not produce signed.
const PLACEHOLDER_SIGNATURE: &str = "skip_thought_signature_validator";

/// `responseMimeType` of both JSON modes.
const JSON_MIME_TYPE: &str = "application/json";

// ---- the wire structs

/// The body of `generateContent` and `streamGenerateContent` (the stream is chosen by the URL).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    contents: Vec<Content<'a>>,
    /// One tool holding every function declaration, or none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    generation_config: GenerationConfig<'a>,
}

/// A turn of `contents` (its role set), or the system instruction (no role).
#[derive(Debug, Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    parts: Vec<Part<'a>>,
}

impl Content<'_> {
    /// A content of one text part.
    fn text(role: Option<Role>, text: String) -> Self {
        Content {
            role,
            parts: vec![Part::Text {
                text: Cow::Owned(text),
            }],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    User,
    Model,
}

/// One part of a turn: one kind of data each. A function call may carry a thought signature.
#[derive(Debug, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum Part<'a> {
    /// A text from the request, or the joined system texts.
    Text {
        text: Cow<'a, str>,
    },
    /// An image of a base64 data URL.
    InlineData {
        inline_data: Blob<'a>,
    },
    /// An image at an http(s) URL.
    FileData {
        file_data: FileData<'a>,
    },
    FunctionCall {
        function_call: FunctionCall<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        thought_signature: Option<&'static str>,
    },
    FunctionResponse {
        function_response: FunctionResponse<'a>,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    mime_type: &'a str,
    /// Base64, as the data URL carried it.
    data: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FileData<'a> {
    mime_type: &'static str,
    file_uri: &'a str,
}

#[derive(Debug, Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    /// A JSON object.
    args: Value,
}

#[derive(Debug, Serialize)]
struct FunctionResponse<'a> {
    /// The function's name: Gemini pairs results with calls by name.
    name: &'a str,
    /// A JSON object.
    response: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Tool<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Debug, Serialize)]
struct FunctionDeclaration<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    /// The cleaned schema; unset for a function without parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    mode: FunctionCallingMode,
    /// With `ANY`: the one function a named `tool_choice` forces.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_function_names: Vec<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum FunctionCallingMode {
    Auto,
    None,
    Any,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    /// The gateway's output ceiling, always.
    max_output_tokens: u32,
    /// `stop`, sent even when it lists none.
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

/// `generationConfig.thinkingConfig`: a level on Gemini 3 and later, a token budget on 2.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ThinkingConfig {
    ThinkingLevel(ThinkingLevel),
    ThinkingBudget(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThinkingLevel {
    Minimal,
    Low,
    Medium,
    High,
}

// ---- building it

/// The upstream request for `outgoing`: the URL (whole answer or stream), the key in a header,
/// the body; and the warnings naming what was left out.
pub fn build_request(upstream: &Upstream, outgoing: &Outgoing<'_>) -> ApiResult<Built> {
    let warnings = crate::providers::unused_params(
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
            body: serde_json::to_string(&body).map_err(ApiError::internal)?,
        },
        warnings,
    })
}

/// The `GenerateContentRequest` for `outgoing`, or the 400 naming what Gemini cannot take.
fn request_body<'a>(upstream: &Upstream, outgoing: &Outgoing<'a>) -> ApiResult<GenerateContentRequest<'a>> {
    let request = outgoing.request;
    let upstream_id = upstream.model.upstream_id.as_str();
    let Conversation { system, mut turns } = conversation(request)?;
    if requires_signatures(upstream_id) {
        sign_function_calls(&mut turns);
    }
    let system_text = system.join("\n\n");
    let system_instruction = if system_text.is_empty() {
        None
    } else if turns.is_empty() {
        // OpenAI answers a request of system messages only; Gemini needs a user turn.
        turns.push(Content::text(Some(Role::User), system_text));
        None
    } else {
        Some(Content::text(None, system_text))
    };
    if turns.is_empty() {
        return Err(ApiError::bad_request(
            "messages",
            "The messages carry no text or images to send to the model.",
        ));
    }
    let (tools, tool_config) = tools(request);
    Ok(GenerateContentRequest {
        system_instruction,
        contents: turns,
        tools,
        tool_config,
        generation_config: generation_config(request, upstream_id, outgoing.max_output_tokens),
    })
}

/// The function declarations (one tool of them, or none), and the function-calling mode of
/// `tool_choice`, sent only beside them.
fn tools(request: &ChatRequest) -> (Vec<Tool<'_>>, Option<ToolConfig<'_>>) {
    let tools = request.tools.as_deref().unwrap_or_default();
    if tools.is_empty() {
        return (Vec::new(), None);
    }
    let function_declarations = tools
        .iter()
        .map(|tool| FunctionDeclaration {
            name: &tool.function.name,
            description: tool.function.description.as_deref(),
            // A function without parameters leaves them unset: Gemini rejects an object schema
            // with no properties.
            parameters: tool
                .function
                .parameters
                .as_ref()
                .map(clean_schema)
                .filter(|parameters| !is_empty_object_schema(parameters)),
        })
        .collect();
    let tool_config = request.tool_choice.as_ref().map(|choice| {
        let (mode, allowed_function_names) = match choice {
            ToolChoice::Mode(ToolChoiceMode::Auto) => (FunctionCallingMode::Auto, Vec::new()),
            ToolChoice::Mode(ToolChoiceMode::None) => (FunctionCallingMode::None, Vec::new()),
            ToolChoice::Mode(ToolChoiceMode::Required) => (FunctionCallingMode::Any, Vec::new()),
            ToolChoice::Named(named) => (FunctionCallingMode::Any, vec![named.function.name.as_str()]),
        };
        ToolConfig {
            function_calling_config: FunctionCallingConfig {
                mode,
                allowed_function_names,
            },
        }
    });
    (
        vec![Tool {
            function_declarations,
        }],
        tool_config,
    )
}

/// Gemini 2.5's thinking budget of each `reasoning_effort` (the same figures as Claude's),
/// at most half of `maxOutputTokens` and within the model's range: 2.5 Pro 128–32,768 (it
/// cannot stop thinking), Flash 0–24,576, Flash-Lite 0 or 512–24,576.
pub const THINKING_BUDGETS: &[(&str, u32)] = crate::providers::anthropic::THINKING_BUDGETS;

/// `reasoning_effort` as Gemini's `thinkingConfig`: `thinkingLevel` on Gemini 3 and later
/// (Pro: `low`, `high`; Flash also `minimal`, `medium`), `thinkingBudget` on Gemini 2.5.
pub fn thinking_config(upstream_id: &str, effort: &str, max_output_tokens: u32) -> ThinkingConfig {
    let id = upstream_id.strip_prefix("models/").unwrap_or(upstream_id);
    if !id.starts_with("gemini-2") && !id.starts_with("gemini-1") {
        let pro = !id.contains("flash");
        let level = match effort {
            "none" | "minimal" if pro => ThinkingLevel::Low,
            "none" | "minimal" => ThinkingLevel::Minimal,
            "low" => ThinkingLevel::Low,
            "medium" if !pro => ThinkingLevel::Medium,
            _ => ThinkingLevel::High,
        };
        return ThinkingConfig::ThinkingLevel(level);
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
    ThinkingConfig::ThinkingBudget(budget)
}

fn generation_config<'a>(
    request: &'a ChatRequest,
    upstream_id: &str,
    max_output_tokens: u32,
) -> GenerationConfig<'a> {
    // presence/frequency penalties are dropped: every Gemini model in the catalog (2.5 and
    // later) answers 400 "Penalty is not enabled for this model" to them.
    let (response_mime_type, response_schema) = match &request.response_format {
        Some(ResponseFormat::JsonObject) => (Some(JSON_MIME_TYPE), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            Some(JSON_MIME_TYPE),
            json_schema.schema.as_ref().map(clean_schema),
        ),
        Some(ResponseFormat::Text) | None => (None, None),
    };
    GenerationConfig {
        temperature: request.temperature,
        top_p: request.top_p,
        max_output_tokens,
        stop_sequences: request.stop.as_ref().map(|stop| match stop {
            Stop::One(one) => vec![one.as_str()],
            Stop::Many(many) => many.iter().map(String::as_str).collect(),
        }),
        // Gemini's seed is an int32; a wider one wraps into it, still deterministic.
        seed: request.seed.map(|seed| seed as i32),
        response_mime_type,
        response_schema,
        thinking_config: request
            .extra
            .get("reasoning_effort")
            .and_then(Value::as_str)
            .map(|effort| thinking_config(upstream_id, effort, max_output_tokens)),
    }
}

/// The messages as Gemini sees them: system texts, and turns alternating between user and model.
struct Conversation<'a> {
    system: Vec<String>,
    turns: Vec<Content<'a>>,
}

impl<'a> Conversation<'a> {
    /// Appends `parts` as a `role` turn, into the previous turn when it has the same role (Gemini
    /// wants user and model to alternate). A turn without parts is left out.
    fn push(&mut self, role: Role, parts: Vec<Part<'a>>) {
        if parts.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some(last) if last.role == Some(role) => last.parts.extend(parts),
            _ => self.turns.push(Content {
                role: Some(role),
                parts,
            }),
        }
    }
}

fn conversation(request: &ChatRequest) -> ApiResult<Conversation<'_>> {
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
            Message::User { content, .. } => conversation.push(Role::User, content_parts(content, i)?),
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
                    parts.push(Part::FunctionCall {
                        function_call: FunctionCall {
                            name: &call.function.name,
                            args,
                        },
                        thought_signature: None,
                    });
                }
                conversation.push(Role::Model, parts);
            }
            Message::Tool {
                content,
                tool_call_id,
            } => {
                let Some(&name) = call_names.get(tool_call_id.as_str()) else {
                    return Err(ApiError::bad_request(
                        format!("messages[{i}].tool_call_id"),
                        format!("No earlier assistant message has a tool call with id `{tool_call_id}`."),
                    ));
                };
                let text = content.text();
                let response = match serde_json::from_slice::<Value>(text.as_bytes()) {
                    Ok(Value::Object(object)) => Value::Object(object),
                    _ => json!({ "content": text }),
                };
                conversation.push(
                    Role::User,
                    vec![Part::FunctionResponse {
                        function_response: FunctionResponse { name, response },
                    }],
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
    serde_json::from_slice::<Value>(arguments.as_bytes())
        .ok()
        .filter(Value::is_object)
}

fn content_parts(content: &canonical::Content, i: usize) -> ApiResult<Vec<Part<'_>>> {
    match content {
        canonical::Content::Text(text) if text.is_empty() => Ok(Vec::new()),
        canonical::Content::Text(text) => Ok(vec![Part::Text {
            text: Cow::Borrowed(text),
        }]),
        canonical::Content::Parts(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                match part {
                    // Gemini rejects an empty text part.
                    ContentPart::Text { text } if text.is_empty() => {}
                    ContentPart::Text { text } => out.push(Part::Text {
                        text: Cow::Borrowed(text),
                    }),
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
fn image_part(url: &str) -> Option<Part<'_>> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        let mime_type = meta.strip_suffix(";base64")?.split(';').next()?.trim();
        if mime_type.is_empty() || data.is_empty() {
            return None;
        }
        return Some(Part::InlineData {
            inline_data: Blob { mime_type, data },
        });
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    Some(Part::FileData {
        file_data: FileData {
            mime_type: image_mime_type(&lower),
            file_uri: url,
        },
    })
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

/// Puts the placeholder signature on the first function call of every model turn.
fn sign_function_calls(turns: &mut [Content<'_>]) {
    for turn in turns.iter_mut().filter(|turn| turn.role == Some(Role::Model)) {
        let first_call = turn.parts.iter_mut().find_map(|part| match part {
            Part::FunctionCall {
                thought_signature, ..
            } => Some(thought_signature),
            _ => None,
        });
        if let Some(signature) = first_call {
            *signature = Some(PLACEHOLDER_SIGNATURE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(model: &str) -> Upstream {
        Upstream::for_test(
            model,
            "https://generativelanguage.googleapis.com",
            "AIzaSyTestKey0123456789",
        )
    }

    /// A checked request (deserializing checks it).
    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
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
        .map(|sent| serde_json::to_value(sent).unwrap())
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
        let cases: Vec<Value> =
            serde_json::from_slice(include_str!("captured_requests.json").as_bytes()).unwrap();
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
            let sent: Value = serde_json::from_slice(built.request.body.as_bytes()).unwrap();
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
        let sent: Value = serde_json::from_slice(built.request.body.as_bytes()).unwrap();
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
        let config = |model: &str, effort: &str, max: u32| {
            serde_json::to_value(thinking_config(model, effort, max)).unwrap()
        };
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
}
