//! The answer: a whole Messages answer as OpenAI's chat completion, and the usage and stop reason
//! a stream reports too (the mapping is in the module docs of [`super`]).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::canonical::{
    CacheWrites, ChatCompletion, Choice, FinishReason, FunctionCall, ResponseMessage, ToolCall, Usage,
};
use crate::providers::errors::safe_message;

/// A Messages answer (`type` "message") or an error object (`type` "error"), in one flat reading:
/// `type`-tagged serde enums would buffer the answer, and each of its blocks, to read them twice.
#[derive(Debug, Deserialize)]
struct WireResponse {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Option<Vec<WireBlock>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<WireError>,
}

/// A content block, of an answer or of a stream's `content_block_start`: `text` and `tool_use`
/// are read; thinking, server-tool and other blocks are not part of an OpenAI answer.
#[derive(Debug, Deserialize)]
pub(super) struct WireBlock {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) text: Option<String>,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    input: Option<Value>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    pub(super) input_tokens: Option<u64>,
    #[serde(default)]
    pub(super) output_tokens: Option<u64>,
    #[serde(default)]
    pub(super) cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub(super) cache_read_input_tokens: Option<u64>,
    /// The writes by lifetime (`cache_creation_input_tokens` is their sum).
    #[serde(default)]
    pub(super) cache_creation: Option<WireCacheCreation>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(super) struct WireCacheCreation {
    #[serde(default)]
    pub(super) ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    pub(super) ephemeral_1h_input_tokens: Option<u64>,
}

/// Anthropic's counts in OpenAI's shape: `prompt_tokens` = uncached input + cache writes +
/// cache reads, `cached_tokens` = the reads, and the writes by lifetime for billing (writes
/// without a breakdown count as 5-minute ones, Anthropic's default).
pub(super) fn openai_usage(input: u64, written: u64, one_hour: u64, read: u64, output: u64) -> Usage {
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
pub(super) struct WireError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

impl WireError {
    pub(super) fn safe(&self) -> String {
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
pub(super) fn finish_reason(stop_reason: &str) -> &'static str {
    let reason = match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        // end_turn, stop_sequence, pause_turn and anything newer.
        _ => FinishReason::Stop,
    };
    reason.as_str()
}

pub fn parse_completion(body: &str) -> Result<ChatCompletion, String> {
    let message: WireResponse = serde_json::from_slice(body.as_bytes())
        .map_err(|e| format!("Anthropic message did not parse: {e}"))?;
    match (message.kind.as_str(), &message.error) {
        ("message", _) => {}
        ("error", Some(error)) => {
            return Err(format!(
                "Anthropic answered an error object: {} ({})",
                error.message, error.kind
            ))
        }
        (kind, _) => return Err(format!("Anthropic message did not parse: a `{kind}` object")),
    }
    let blocks = message
        .content
        .ok_or("Anthropic message did not parse: missing field `content`")?;
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.kind.as_str() {
            "text" => {
                let part = block
                    .text
                    .ok_or("Anthropic message did not parse: a text block without `text`")?;
                text.get_or_insert_with(String::new).push_str(&part);
            }
            "tool_use" => {
                let (Some(id), Some(name)) = (block.id, block.name) else {
                    return Err(
                        "Anthropic message did not parse: a tool_use block without `id` or `name`".into(),
                    );
                };
                tool_calls.push(ToolCall {
                    id,
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name,
                        arguments: block.input.unwrap_or_else(empty_object).to_string(),
                    },
                });
            }
            _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let arguments: Value = serde_json::from_slice(calls[0].function.arguments.as_bytes()).unwrap();
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
        // Each kind's required fields, as the typed answer had them.
        for bad in [
            r#"{"type":"error"}"#,
            r#"{"type":"completion","content":[]}"#,
            r#"{"content":[]}"#,
            r#"{"type":"message","content":[{"type":"text"}]}"#,
            r#"{"type":"message","content":[{"type":"tool_use","name":"f"}]}"#,
            r#"{"type":"message","content":[{"type":"text","text":5}]}"#,
        ] {
            assert!(parse_completion(bad).is_err(), "{bad}");
        }
        let answer = parse_completion(
            r#"{"type":"message","content":[{"type":"thinking","thinking":"hm"},{"type":"tool_use","id":"t","name":"f"},{"type":"text","text":"ok"}]}"#,
        )
        .unwrap();
        let message = &answer.choices[0].message;
        assert_eq!(message.content.as_deref(), Some("ok"));
        assert_eq!(message.tool_calls.as_ref().unwrap()[0].function.arguments, "{}");
    }
}
