//! A Responses request in the canonical (chat) form, for every model that is not served natively.
//!
//! | Responses | canonical |
//! |---|---|
//! | `instructions` | a leading `system` message |
//! | `message` items (`input_text`, `input_image`, `input_file` with a gateway `file_id`, `output_text`, `refusal`) | `system`/`developer`/`user`/`assistant` messages |
//! | `function_call` (and `custom_tool_call`) items | `tool_calls` of the assistant message they follow |
//! | `function_call_output` (and `custom_tool_call_output`) | `tool` messages |
//! | `reasoning` items | dropped (another provider's thinking can't be replayed) |
//! | function `tools`; `namespace` tools | function tools; flattened (a clashing name becomes `{namespace}__{name}`) |
//! | `custom` tools | function tools taking `{"input": string}` |
//! | hosted tools (`web_search`, ...), their items, `compaction` items | dropped, with a `warnings` entry |
//! | `tool_choice` (modes, function, custom, `allowed_tools`) | `tool_choice` (and a narrowed `tools`) |
//! | `text.format` | `response_format`; `text.verbosity` → `verbosity` |
//! | `reasoning.effort` | `reasoning_effort` |
//! | `max_output_tokens`, `temperature`, `top_p`, `parallel_tool_calls`, `user` (or `safety_identifier`) | the same |
//! | `include`, `metadata`, `prompt_cache_key`, `prompt_cache_retention`, `service_tier`, `store`, `truncation`, `top_logprobs`, `max_tool_calls`, `context_management`, `stream_options`, `client_metadata` | dropped |
//! | `prompt`, `background: true` | dropped, with a `warnings` entry |

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::types::{
    Content, ContentPart, CustomToolCallOutputItem, FunctionCallOutputItem, InputItem, Parsed, Role,
    TextFormat, Tool, ToolChoice, ToolChoiceMode,
};
use super::wire::Warning;
use crate::canonical as chat;
use crate::error::{ApiError, ApiResult};

/// The canonical request, what was dropped, and how the model's tool names map back.
#[derive(Debug, Clone)]
pub struct Translation {
    pub chat: chat::ChatRequest,
    pub warnings: Vec<Warning>,
    pub tools: ToolNames,
}

/// A tool as the client declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTool {
    pub name: String,
    pub namespace: Option<String>,
    /// A `custom` (free-form input) tool, called with `{"input": string}` by the model.
    pub custom: bool,
}

/// The model's (flattened) tool names → the client's tools.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNames {
    by_flat: HashMap<String, ClientTool>,
}

impl ToolNames {
    /// The client's tool for a name the model called; an undeclared name maps to itself.
    pub fn client(&self, flat: &str) -> ClientTool {
        self.by_flat.get(flat).cloned().unwrap_or_else(|| ClientTool {
            name: flat.to_owned(),
            namespace: None,
            custom: false,
        })
    }

    /// The name the model knows a client tool by.
    pub fn flat(&self, name: &str, namespace: Option<&str>) -> String {
        self.by_flat
            .iter()
            .find(|(_, tool)| tool.name == name && tool.namespace.as_deref() == namespace)
            .map(|(flat, _)| flat.clone())
            .or_else(|| namespace.map(|ns| flat_name(ns, name)))
            .unwrap_or_else(|| name.to_owned())
    }
}

fn flat_name(namespace: &str, name: &str) -> String {
    let mut flat = format!("{namespace}__{name}");
    flat.truncate(64);
    flat
}

/// A custom tool's parameters as a function tool.
fn custom_parameters(description: Option<&Value>) -> Value {
    let mut input = Map::new();
    input.insert("type".into(), json!("string"));
    if let Some(format) = description {
        input.insert(
            "description".into(),
            json!(format!("The tool's free-form input. Format: {format}")),
        );
    }
    json!({"type": "object", "properties": {"input": Value::Object(input)}, "required": ["input"]})
}

/// Translates `parsed` for a non-OpenAI model. `conversation` is `store::conversation()` for this
/// request, whose first `history_len` items came from the previous response (errors in the
/// rest are named `input[i]` by their place in the request).
pub fn to_chat(parsed: &Parsed, conversation: &[Value], history_len: usize) -> ApiResult<Translation> {
    let request = &parsed.request;
    let mut warnings = Vec::new();
    let (tools, names) = tools(parsed, &mut warnings);
    let tool_choice = tool_choice(parsed, &tools, &names, &mut warnings);
    let tools = narrow(tools, parsed, &names);

    let mut messages = Vec::new();
    if let Some(instructions) = request.instructions.as_deref().filter(|i| !i.is_empty()) {
        messages.push(chat::Message::System {
            content: chat::Content::Text(instructions.to_owned()),
            name: None,
        });
    }
    let mut assistant = Assistant::default();
    for (index, value) in conversation.iter().enumerate() {
        let param = if index < history_len {
            "previous_response_id".to_owned()
        } else {
            format!("input[{}]", index - history_len)
        };
        let item = InputItem::from_stored(value);
        match item {
            InputItem::Message(message) => match message.role {
                Role::Assistant => assistant.say(&message.content, &mut messages),
                role => {
                    assistant.flush(&mut messages);
                    let content = chat_content(&message.content, &format!("{param}.content"))?;
                    messages.push(match role {
                        Role::System => chat::Message::System { content, name: None },
                        Role::Developer => chat::Message::Developer { content, name: None },
                        _ => chat::Message::User { content, name: None },
                    });
                }
            },
            InputItem::FunctionCall(call) => assistant.call(chat::ToolCall {
                id: call.call_id,
                kind: "function".into(),
                function: chat::FunctionCall {
                    name: names.flat(&call.name, call.namespace.as_deref()),
                    arguments: call.arguments,
                },
            }),
            InputItem::CustomToolCall(call) => assistant.call(chat::ToolCall {
                id: call.call_id,
                kind: "function".into(),
                function: chat::FunctionCall {
                    name: names.flat(&call.name, call.namespace.as_deref()),
                    arguments: json!({"input": call.input}).to_string(),
                },
            }),
            InputItem::FunctionCallOutput(FunctionCallOutputItem { call_id, output, .. })
            | InputItem::CustomToolCallOutput(CustomToolCallOutputItem { call_id, output, .. }) => {
                assistant.flush(&mut messages);
                messages.push(chat::Message::Tool {
                    content: chat_content(&output, &format!("{param}.output"))?,
                    tool_call_id: call_id,
                });
            }
            // Another provider's thinking can't be replayed; the answer that followed it is.
            InputItem::Reasoning(_) => {}
            InputItem::ItemReference(reference) => {
                return Err(ApiError::bad_request(
                    param,
                    format!("Item with id '{}' not found.", reference.id),
                ))
            }
            InputItem::Compaction(_) => warnings.push(Warning::dropped(
                param,
                "A `compaction` item is only readable by OpenAI models; it was left out.",
            )),
            InputItem::Hosted { kind } => warnings.push(Warning::dropped(
                param,
                format!(
                    "A `{kind}` item belongs to a tool this model's provider can't run; it was left out."
                ),
            )),
        }
    }
    assistant.flush(&mut messages);
    if messages.is_empty() {
        return Err(ApiError::bad_request(
            "input",
            "Nothing in `input` can be sent to this model.",
        ));
    }

    if request.prompt.as_ref().is_some_and(|p| !p.is_null()) {
        warnings.push(Warning::dropped(
            "prompt",
            "Stored prompt templates are not available through this gateway; `prompt` was ignored.",
        ));
    }
    if request.background == Some(true) {
        warnings.push(Warning::dropped(
            "background",
            "Background mode is not available; the response was generated in the request.",
        ));
    }

    let mut extra = Map::new();
    if let Some(effort) = request.reasoning.as_ref().and_then(|r| r.effort.as_deref()) {
        extra.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(verbosity) = request.text.as_ref().and_then(|t| t.verbosity.as_deref()) {
        extra.insert("verbosity".into(), json!(verbosity));
    }
    let chat = chat::ChatRequestBody {
        model: request.model.clone(),
        messages,
        stream: request.streams(),
        stream_options: None,
        tool_choice: if tools.is_empty() { None } else { tool_choice },
        parallel_tool_calls: if tools.is_empty() {
            None
        } else {
            request.parallel_tool_calls
        },
        tools: (!tools.is_empty()).then_some(tools),
        temperature: request.temperature,
        top_p: request.top_p,
        max_tokens: None,
        max_completion_tokens: request.max_output_tokens,
        stop: None,
        presence_penalty: None,
        frequency_penalty: None,
        seed: None,
        response_format: request
            .text
            .as_ref()
            .and_then(|t| t.format.as_ref())
            .map(response_format),
        user: request.user.clone().or_else(|| request.safety_identifier.clone()),
        n: None,
        extra,
    }
    .try_into()?;
    Ok(Translation {
        chat,
        warnings,
        tools: names,
    })
}

/// The assistant turn being gathered: text and the tool calls that follow it.
#[derive(Default)]
struct Assistant {
    text: Vec<String>,
    refusal: Option<String>,
    calls: Vec<chat::ToolCall>,
}

impl Assistant {
    fn say(&mut self, content: &Content, messages: &mut Vec<chat::Message>) {
        // A message after tool calls starts a new assistant turn, as chat orders them.
        if !self.calls.is_empty() {
            self.flush(messages);
        }
        match content {
            Content::Text(text) => self.text.push(text.clone()),
            Content::Parts(parts) => {
                for part in parts {
                    match part {
                        ContentPart::Refusal { refusal } => self.refusal = Some(refusal.clone()),
                        other => self.text.extend(other.text().map(str::to_owned)),
                    }
                }
            }
        }
    }

    fn call(&mut self, call: chat::ToolCall) {
        self.calls.push(call);
    }

    fn flush(&mut self, messages: &mut Vec<chat::Message>) {
        if !self.text.is_empty() || self.refusal.is_some() || !self.calls.is_empty() {
            let text = std::mem::take(&mut self.text);
            let refusal = self.refusal.take();
            let calls = std::mem::take(&mut self.calls);
            messages.push(assistant_message(text, refusal, calls));
        }
    }
}

fn assistant_message(
    text: Vec<String>,
    refusal: Option<String>,
    calls: Vec<chat::ToolCall>,
) -> chat::Message {
    let text = text.join("\n");
    chat::Message::Assistant {
        content: (!text.is_empty() || calls.is_empty()).then_some(chat::Content::Text(text)),
        tool_calls: (!calls.is_empty()).then_some(calls),
        name: None,
        refusal,
    }
}

/// A message's `content` or a tool result's `output` (`param` names it) as chat content.
fn chat_content(content: &Content, param: &str) -> ApiResult<chat::Content> {
    match content {
        Content::Text(text) => Ok(chat::Content::Text(text.clone())),
        Content::Parts(parts) => {
            let mut converted = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                converted.push(user_part(part, &format!("{param}[{j}]"))?);
            }
            Ok(chat::Content::Parts(converted))
        }
    }
}

fn user_part(part: &ContentPart, param: &str) -> ApiResult<chat::ContentPart> {
    match part {
        ContentPart::InputText { text } | ContentPart::OutputText { text } => {
            Ok(chat::ContentPart::Text { text: text.clone() })
        }
        ContentPart::Refusal { refusal } => Ok(chat::ContentPart::Text {
            text: refusal.clone(),
        }),
        ContentPart::InputImage {
            image_url: Some(url),
            detail,
            ..
        } => Ok(chat::ContentPart::ImageUrl {
            image_url: chat::ImageUrl {
                url: url.clone(),
                detail: detail.clone().filter(|d| d != "auto"),
            },
        }),
        // A gateway upload; resolved to what the model can read like a chat attachment.
        ContentPart::InputImage {
            file_id: Some(file_id),
            ..
        }
        | ContentPart::InputFile {
            file_id: Some(file_id),
            ..
        } => Ok(chat::ContentPart::File {
            file: chat::FileRef {
                file_id: file_id.clone(),
            },
        }),
        ContentPart::InputImage { .. } => Err(ApiError::bad_request(
            param,
            "An `input_image` needs `image_url` or `file_id`.",
        )),
        ContentPart::InputFile { .. } => Err(ApiError::bad_request(
            param,
            "This model reads files uploaded to this gateway (`file_id`); upload the file first.",
        )),
        ContentPart::InputAudio { .. } => Err(ApiError::bad_request(
            param,
            "This model does not take audio input.",
        )),
    }
}

/// A function or custom tool, declared at the top or inside a namespace, as the model gets it:
/// a function (a custom tool's takes `{"input": string}`).
struct Callable<'t> {
    name: &'t String,
    description: Option<String>,
    parameters: Option<Value>,
    strict: Option<bool>,
    custom: bool,
}

/// `tool` as a function the model can call; `None` for namespaces and hosted tools.
fn callable(tool: &Tool) -> Option<Callable<'_>> {
    match tool {
        Tool::Function(f) => Some(Callable {
            name: &f.name,
            description: f.description.clone(),
            parameters: f.parameters.clone().filter(|p| !p.is_null()),
            strict: f.strict,
            custom: false,
        }),
        Tool::Custom(c) => Some(Callable {
            name: &c.name,
            description: c.description.clone(),
            parameters: Some(custom_parameters(c.format.as_ref())),
            strict: None,
            custom: true,
        }),
        Tool::Namespace(_) | Tool::Hosted { .. } => None,
    }
}

/// The function tools the model gets, and how their names map back.
fn tools(parsed: &Parsed, warnings: &mut Vec<Warning>) -> (Vec<chat::Tool>, ToolNames) {
    let declared = parsed.request.tools.as_deref().unwrap_or_default();
    // Names a namespaced tool must not take over.
    let mut taken: HashSet<String> = declared
        .iter()
        .filter_map(callable)
        .map(|tool| tool.name.clone())
        .collect();
    let mut names = ToolNames::default();
    let mut out = Vec::new();
    // `flat` is the name the model sees; the first tool to take a name keeps it.
    let mut add = |flat: String, namespace: Option<String>, tool: Callable| {
        if names.by_flat.contains_key(&flat) {
            return;
        }
        out.push(chat::Tool {
            kind: "function".into(),
            function: chat::FunctionDef {
                name: flat.clone(),
                description: tool.description,
                parameters: tool.parameters,
                strict: tool.strict,
            },
        });
        let client = ClientTool {
            name: tool.name.clone(),
            namespace,
            custom: tool.custom,
        };
        names.by_flat.insert(flat, client);
    };
    for (i, tool) in declared.iter().enumerate() {
        match tool {
            Tool::Function(_) | Tool::Custom(_) => {
                if let Some(tool) = callable(tool) {
                    add(tool.name.clone(), None, tool);
                }
            }
            Tool::Namespace(ns) => {
                for tool in ns.tools.iter().filter_map(callable) {
                    let flat = if taken.contains(tool.name) {
                        flat_name(&ns.name, tool.name)
                    } else {
                        tool.name.clone()
                    };
                    taken.insert(flat.clone());
                    add(flat, Some(ns.name.clone()), tool);
                }
            }
            Tool::Hosted { kind } => warnings.push(Warning::dropped(
                format!("tools[{i}]"),
                format!("The `{kind}` tool can't run on this model's provider; it was removed."),
            )),
        }
    }
    (out, names)
}

/// Function names an `allowed_tools` choice keeps.
fn allowed_names(parsed: &Parsed, names: &ToolNames) -> Option<HashSet<String>> {
    let Some(ToolChoice::Allowed { tools, .. }) = &parsed.request.tool_choice else {
        return None;
    };
    Some(
        tools
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str))
            .map(|name| names.flat(name, None))
            .collect(),
    )
}

fn narrow(tools: Vec<chat::Tool>, parsed: &Parsed, names: &ToolNames) -> Vec<chat::Tool> {
    match allowed_names(parsed, names) {
        None => tools,
        Some(allowed) => tools
            .into_iter()
            .filter(|t| allowed.contains(&t.function.name))
            .collect(),
    }
}

fn mode(mode: ToolChoiceMode) -> chat::ToolChoice {
    chat::ToolChoice::Mode(match mode {
        ToolChoiceMode::None => chat::ToolChoiceMode::None,
        ToolChoiceMode::Auto => chat::ToolChoiceMode::Auto,
        ToolChoiceMode::Required => chat::ToolChoiceMode::Required,
    })
}

fn tool_choice(
    parsed: &Parsed,
    tools: &[chat::Tool],
    names: &ToolNames,
    warnings: &mut Vec<Warning>,
) -> Option<chat::ToolChoice> {
    let choice = match parsed.request.tool_choice.as_ref()? {
        ToolChoice::Mode(m) => mode(*m),
        ToolChoice::Allowed { mode: m, .. } => mode(*m),
        ToolChoice::Function { name } | ToolChoice::Custom { name } => {
            chat::ToolChoice::Named(chat::NamedToolChoice {
                kind: "function".into(),
                function: chat::NamedFunction {
                    name: names.flat(name, None),
                },
            })
        }
        ToolChoice::Hosted { kind } => {
            warnings.push(Warning::dropped(
                "tool_choice",
                format!("The `{kind}` tool can't run on this model's provider; `tool_choice` is `auto`."),
            ));
            mode(ToolChoiceMode::Auto)
        }
    };
    if tools.is_empty() && matches!(choice, chat::ToolChoice::Mode(chat::ToolChoiceMode::Required)) {
        warnings.push(Warning::dropped(
            "tool_choice",
            "No tool this model can run is left, so `tool_choice: required` was dropped.",
        ));
        return None;
    }
    Some(choice)
}

fn response_format(format: &TextFormat) -> chat::ResponseFormat {
    match format {
        TextFormat::Text => chat::ResponseFormat::Text,
        TextFormat::JsonObject => chat::ResponseFormat::JsonObject,
        TextFormat::JsonSchema {
            name,
            schema,
            description,
            strict,
        } => chat::ResponseFormat::JsonSchema {
            json_schema: chat::JsonSchemaFormat {
                name: name.clone(),
                description: description.clone(),
                schema: Some(schema.clone()),
                strict: *strict,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::responses::store::{conversation, StoredBody};
    use crate::surfaces::responses::types::parse;

    fn translate(body: Value) -> ApiResult<Translation> {
        let parsed = parse(body.to_string().as_bytes())?;
        let items = conversation(&parsed, None)?;
        to_chat(&parsed, &items, 0)
    }

    fn messages(translation: &Translation) -> Value {
        serde_json::to_value(&translation.chat.messages).unwrap()
    }

    /// The names of the tools the chat request declares, in order.
    fn tool_names(translation: &Translation) -> Vec<&str> {
        let tools = translation.chat.tools.as_ref().unwrap();
        tools.iter().map(|t| t.function.name.as_str()).collect()
    }

    #[test]
    fn items_become_messages_with_tool_calls_and_tool_results() {
        let t = translate(json!({
            "model": "claude-sonnet-4-5",
            "instructions": "be brief",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
                {"role": "user", "content": "weather?"},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "checking"}]},
                {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{\"city\":\"Oslo\"}"},
                {"type": "function_call", "call_id": "c2", "name": "time", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "rain"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "noon"}]},
                {"role": "user", "content": [{"type": "input_text", "text": "and?"}, {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "high"}]}
            ],
            "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}, {"type": "function", "name": "time"}]
        }))
        .unwrap();
        assert_eq!(
            messages(&t),
            json!([
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": "checking", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
                    {"id": "c2", "type": "function", "function": {"name": "time", "arguments": "{}"}}
                ]},
                {"role": "tool", "content": "rain", "tool_call_id": "c1"},
                {"role": "tool", "content": [{"type": "text", "text": "noon"}], "tool_call_id": "c2"},
                {"role": "user", "content": [{"type": "text", "text": "and?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "high"}}]}
            ])
        );
        assert!(t.warnings.is_empty());
    }

    #[test]
    fn consecutive_calls_after_text_stay_in_order() {
        let t = translate(json!({"model": "m", "input": [
            {"role": "user", "content": "go"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"role": "assistant", "content": "done with f"},
            {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c2", "output": "ok"}
        ], "tools": [{"type": "function", "name": "f"}]}))
        .unwrap();
        let roles: Vec<String> = t
            .chat
            .messages
            .iter()
            .map(|m| {
                serde_json::to_value(m).unwrap()["role"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(roles, ["user", "assistant", "assistant", "tool"]);
        let all = messages(&t);
        assert_eq!(all[1]["tool_calls"][0]["id"], "c1");
        assert!(all[1]["content"].is_null());
        assert_eq!(all[2]["content"], "done with f");
        assert_eq!(all[2]["tool_calls"][0]["id"], "c2");
    }

    #[test]
    fn codex_tools_are_flattened_and_web_search_is_dropped_with_a_warning() {
        let raw: Value =
            serde_json::from_slice(crate::surfaces::responses::fixtures::CODEX_TURN_2.as_bytes()).unwrap();
        let mut body = raw.clone();
        body["model"] = json!("claude-sonnet-4-5");
        let t = translate(body).unwrap();
        let tool_names = tool_names(&t);
        assert!(
            tool_names.contains(&"exec_command") && tool_names.contains(&"spawn_agent"),
            "{tool_names:?}"
        );
        assert!(!tool_names.iter().any(|n| n.contains("web_search")));
        assert_eq!(
            t.tools.client("spawn_agent").namespace.as_deref(),
            Some("multi_agent_v1")
        );
        let web_search_index = raw["tools"]
            .as_array()
            .unwrap()
            .iter()
            .position(|t| t["type"] == "web_search")
            .unwrap();
        assert_eq!(
            t.warnings,
            vec![Warning::dropped(
                format!("tools[{web_search_index}]"),
                "The `web_search` tool can't run on this model's provider; it was removed."
            )]
        );
        // The reasoning item is dropped, the function call and its output survive.
        let last = messages(&t);
        let last = last.as_array().unwrap();
        assert_eq!(
            last[last.len() - 2]["tool_calls"][0]["function"]["name"],
            "exec_command"
        );
        assert_eq!(last[last.len() - 1]["role"], "tool");
        assert_eq!(last[last.len() - 1]["tool_call_id"], "call_1");
        assert_eq!(
            t.chat.tool_choice,
            Some(chat::ToolChoice::Mode(chat::ToolChoiceMode::Auto))
        );
        assert_eq!(t.chat.parallel_tool_calls, Some(true));
        assert!(t.chat.stream);
    }

    #[test]
    fn a_namespaced_name_that_clashes_is_prefixed_and_maps_back() {
        let t = translate(json!({"model": "m", "input": [
            {"role": "user", "content": "x"},
            {"type": "function_call", "call_id": "c1", "name": "search", "namespace": "docs", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "found"}
        ], "tools": [
            {"type": "function", "name": "search"},
            {"type": "namespace", "name": "docs", "description": "d", "tools": [{"type": "function", "name": "search"}, {"type": "function", "name": "open"}]}
        ]}))
        .unwrap();
        let names = tool_names(&t);
        assert_eq!(names, ["search", "docs__search", "open"]);
        assert_eq!(
            t.tools.client("docs__search"),
            ClientTool {
                name: "search".into(),
                namespace: Some("docs".into()),
                custom: false
            }
        );
        assert_eq!(t.tools.client("search").namespace, None);
        assert_eq!(
            messages(&t)[1]["tool_calls"][0]["function"]["name"],
            "docs__search"
        );
    }

    #[test]
    fn custom_tools_become_functions_taking_their_input() {
        let t = translate(json!({"model": "m", "input": [
            {"role": "user", "content": "patch it"},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "applied"}
        ], "tools": [{"type": "custom", "name": "apply_patch", "description": "edit files"}],
           "tool_choice": {"type": "custom", "name": "apply_patch"}}))
        .unwrap();
        let tool = &t.chat.tools.as_ref().unwrap()[0];
        assert_eq!(
            tool.function.parameters.as_ref().unwrap()["properties"]["input"]["type"],
            "string"
        );
        assert!(t.tools.client("apply_patch").custom);
        let call = &messages(&t)[1]["tool_calls"][0]["function"];
        assert_eq!(
            serde_json::from_slice::<Value>(call["arguments"].as_str().unwrap().as_bytes()).unwrap(),
            json!({"input": "*** Begin Patch"})
        );
        assert!(
            matches!(&t.chat.tool_choice, Some(chat::ToolChoice::Named(n)) if n.function.name == "apply_patch")
        );
    }

    #[test]
    fn settings_map_to_their_canonical_names() {
        let t = translate(json!({"model": "m", "input": "hi", "max_output_tokens": 300, "temperature": 0.4, "top_p": 0.8,
            "reasoning": {"effort": "low", "summary": "auto"}, "text": {"verbosity": "low", "format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": true}},
            "safety_identifier": "user-9", "store": false, "include": ["reasoning.encrypted_content"], "metadata": {"a": "b"},
            "prompt_cache_key": "k", "service_tier": "priority", "truncation": "auto", "top_logprobs": 3}))
        .unwrap();
        let chat = serde_json::to_value(&t.chat).unwrap();
        assert_eq!(
            chat,
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                   "temperature": 0.4, "top_p": 0.8, "max_completion_tokens": 300,
                   "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
                   "user": "user-9", "reasoning_effort": "low", "verbosity": "low"})
        );
        assert!(t.warnings.is_empty());
    }

    #[test]
    fn allowed_tools_narrow_the_list_and_hosted_choices_fall_back_to_auto() {
        let t = translate(json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
            "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "b"}]}}))
        .unwrap();
        let names = tool_names(&t);
        assert_eq!(names, ["b"]);
        assert_eq!(
            t.chat.tool_choice,
            Some(chat::ToolChoice::Mode(chat::ToolChoiceMode::Required))
        );

        let t = translate(json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "required"})).unwrap();
        assert!(t.chat.tools.is_none() && t.chat.tool_choice.is_none());
        assert_eq!(
            t.warnings.iter().map(|w| w.param.as_str()).collect::<Vec<_>>(),
            ["tools[0]", "tool_choice"]
        );

        let t = translate(json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "a"}], "tool_choice": {"type": "web_search_preview"}})).unwrap();
        assert_eq!(
            t.chat.tool_choice,
            Some(chat::ToolChoice::Mode(chat::ToolChoiceMode::Auto))
        );
        assert_eq!(t.warnings[0].param, "tool_choice");
    }

    #[test]
    fn what_the_model_cannot_read_is_a_named_400() {
        let param = |input: Value| {
            translate(json!({"model": "m", "input": input}))
                .unwrap_err()
                .param
                .clone()
                .unwrap_or_default()
        };
        assert_eq!(
            param(
                json!([{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_file", "file_data": "data:application/pdf;base64,AA"}]}])
            ),
            "input[0].content[1]"
        );
        assert_eq!(
            param(
                json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}])
            ),
            "input[0].content[0]"
        );
        assert_eq!(param(json!([{"type": "reasoning", "summary": []}])), "input");
        // Uploaded files are resolved later, like chat attachments.
        let t = translate(json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]}]})).unwrap();
        assert_eq!(
            messages(&t)[0]["content"][0],
            json!({"type": "file", "file": {"file_id": "file_1"}})
        );
    }

    #[test]
    fn history_items_are_translated_and_hosted_ones_dropped_with_a_warning() {
        let parsed = parse(br#"{"model": "m", "input": "next", "previous_response_id": "resp_1"}"#).unwrap();
        let previous = StoredBody {
            version: 1,
            input: vec![
                json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "first"}]}),
            ],
            response: json!({"id": "resp_1", "output": [
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
                {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "answer", "annotations": []}]}
            ]}),
        };
        let items = conversation(&parsed, Some(&previous)).unwrap();
        let t = to_chat(&parsed, &items, previous.history().len()).unwrap();
        assert_eq!(
            messages(&t),
            json!([{"role": "user", "content": [{"type": "text", "text": "first"}]},
                   {"role": "assistant", "content": "answer"},
                   {"role": "user", "content": [{"type": "text", "text": "next"}]}])
        );
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(t.warnings[0].param, "previous_response_id");
    }

    #[test]
    fn prompt_and_background_are_dropped_with_warnings() {
        let t =
            translate(json!({"model": "m", "input": "hi", "prompt": {"id": "pmpt_1"}, "background": true}))
                .unwrap();
        assert_eq!(
            t.warnings.iter().map(|w| w.param.as_str()).collect::<Vec<_>>(),
            ["prompt", "background"]
        );
    }
}
