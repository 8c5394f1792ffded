//! How an upstream's answer becomes the client's Anthropic answer, and what it says about usage:
//!
//! - [`NativeRelay`] (Claude models): Anthropic's events are passed through as they arrive,
//!   re-framed from the parsed `event`/`data` fields, never re-serialized; usage is read from
//!   `message_start` and `message_delta` (cache reads and writes included).
//! - [`TranslatedRelay`] (every other model): the wire's events become canonical chunks (the
//!   provider's `StreamTranslator`), and [`AnthropicRender`] turns those into Anthropic's event
//!   sequence: `message_start`, `content_block_start`/`_delta`/`_stop` per text or `tool_use`
//!   block (arguments as `input_json_delta`), `message_delta` with the stop reason and the
//!   usage, `message_stop`. A whole answer becomes Anthropic's `message` object.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::billing::reservation::Bill;
use crate::billing::usage::TokenUsage;
use crate::canonical::{ChatCompletion, ChatCompletionChunk, FinishReason, Usage};
use crate::catalog::WireFormat;
use crate::error::ApiError;
use crate::pipeline::relay::{read_items, Parsed, Relay, Step, StreamFailure};
use crate::providers::errors::safe_message;
use crate::providers::StreamTranslator;
use crate::sse::parser::SseEvent;

// ---- usage in Anthropic's terms

/// Anthropic's `usage`: `input_tokens` excludes the cache counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CacheCreation {
    #[serde(default)]
    pub ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    pub ephemeral_1h_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// A later report (`message_delta`) overrides the fields it carries.
    pub fn update(&mut self, later: AnthropicUsage) {
        let take = |mine: &mut Option<u64>, theirs: Option<u64>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        take(&mut self.cache_read_input_tokens, later.cache_read_input_tokens);
        if later.cache_creation.is_some() {
            self.cache_creation = later.cache_creation;
        }
    }

    /// The canonical usage: input includes the cache reads and writes.
    pub fn canonical(&self) -> TokenUsage {
        let breakdown = self.cache_creation.clone().unwrap_or_default();
        let one_hour = breakdown.ephemeral_1h_input_tokens.unwrap_or(0);
        let written = self.cache_creation_input_tokens.unwrap_or_else(|| {
            breakdown
                .ephemeral_5m_input_tokens
                .unwrap_or(0)
                .saturating_add(one_hour)
        });
        let read = self.cache_read_input_tokens.unwrap_or(0);
        TokenUsage {
            input: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(written),
            cache_read: read,
            cache_write_5m: written.saturating_sub(one_hour),
            cache_write_1h: one_hour.min(written),
            output: self.output_tokens.unwrap_or(0),
            reasoning: 0,
        }
    }
}

/// The canonical usage as Anthropic reports it (`input_tokens` is the uncached input).
pub fn anthropic_usage(usage: &TokenUsage) -> Value {
    json!({
        "input_tokens": usage.uncached_input(),
        "cache_creation_input_tokens": usage.cache_write(),
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m,
            "ephemeral_1h_input_tokens": usage.cache_write_1h,
        },
        "output_tokens": usage.output,
    })
}

/// OpenAI's `finish_reason` as Anthropic's `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match FinishReason::parse(finish_reason) {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls | FinishReason::FunctionCall) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        Some(FinishReason::Stop) | None => "end_turn",
    }
}

fn frame(event: &str, data: &str) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

// ---- native

/// An event of Anthropic's stream, as far as the relay reads it: every event's fields in one flat
/// reading (a `type`-tagged serde enum would buffer each event and read it a second time).
#[derive(Debug, Deserialize)]
struct NativeEvent<'e> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'e, str>,
    #[serde(default)]
    message: Option<StartMessage>,
    /// A `content_block_delta`'s text, or a `message_delta`'s stop reason.
    #[serde(default, borrow)]
    delta: Option<NativeDelta<'e>>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default, borrow)]
    error: Option<NativeError<'e>>,
}

#[derive(Debug, Deserialize)]
struct StartMessage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Debug, Default, Deserialize)]
struct NativeDelta<'e> {
    #[serde(default, borrow)]
    text: Option<Cow<'e, str>>,
    #[serde(default, borrow)]
    partial_json: Option<Cow<'e, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'e, str>>,
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NativeError<'e> {
    #[serde(rename = "type", default, borrow)]
    kind: Cow<'e, str>,
    #[serde(default, borrow)]
    message: Cow<'e, str>,
}

/// Claude models on `/v1/messages`: Anthropic's own events and answers, passed through.
#[derive(Debug, Default)]
pub struct NativeRelay {
    usage: Option<AnthropicUsage>,
    chars: u64,
    saw_stop_reason: bool,
    /// The `type` and (cleaned) message of an upstream `error` event: `fail` reports the
    /// failure with Anthropic's own type (`overloaded_error`, ...), which its SDKs act on.
    upstream_error: Option<(String, String)>,
}

impl NativeRelay {
    pub fn new() -> NativeRelay {
        NativeRelay::default()
    }

    fn record(&mut self, usage: Option<AnthropicUsage>) {
        if let Some(later) = usage {
            self.usage
                .get_or_insert_with(AnthropicUsage::default)
                .update(later);
        }
    }
}

impl Relay for NativeRelay {
    fn on_event(&mut self, event: &SseEvent, out: &mut String) -> Step {
        if event.data.trim().is_empty() {
            return Step::Continue;
        }
        let parsed: NativeEvent<'_> = match serde_json::from_slice(event.data.as_bytes()) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Step::Failed(StreamFailure::Broken(format!("a malformed Anthropic event: {e}")))
            }
        };
        let mut step = Step::Continue;
        let missing = |field: &str| {
            Step::Failed(StreamFailure::Broken(format!(
                "a malformed Anthropic event: `{}` without `{field}`",
                parsed.kind
            )))
        };
        match parsed.kind.as_ref() {
            "message_start" => match parsed.message {
                Some(message) => self.record(message.usage),
                None => return missing("message"),
            },
            "content_block_delta" => {
                let Some(delta) = &parsed.delta else {
                    return missing("delta");
                };
                for part in [&delta.text, &delta.partial_json, &delta.thinking]
                    .into_iter()
                    .flatten()
                {
                    self.chars += part.chars().count() as u64;
                }
            }
            "message_delta" => {
                self.record(parsed.usage);
                self.saw_stop_reason |= parsed
                    .delta
                    .as_ref()
                    .is_some_and(|delta| delta.stop_reason.is_some());
            }
            "message_stop" => step = Step::Done,
            "error" => {
                let Some(error) = &parsed.error else {
                    return missing("error");
                };
                // `fail` writes the client's error event.
                let message = if error.message.trim().is_empty() {
                    format!("The model's provider failed mid-stream ({}).", error.kind)
                } else {
                    safe_message(&error.message)
                };
                let kind = if error.kind.trim().is_empty() {
                    "api_error"
                } else {
                    &error.kind
                };
                self.upstream_error = Some((kind.to_owned(), message.clone()));
                return Step::Failed(StreamFailure::Upstream(message));
            }
            // `ping`, `content_block_start`/`_stop`, and event types Anthropic adds later.
            _ => {}
        }
        // Anthropic always names its events; a nameless one gets its `type` as its name, which
        // is what the SDKs dispatch on.
        let name: &str = match &event.event {
            Some(name) => name,
            None => &parsed.kind,
        };
        out.push_str(&frame(name, &event.data));
        step
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage.as_ref().map(AnthropicUsage::canonical)
    }

    fn delivered_chars(&self) -> u64 {
        self.chars
    }

    fn saw_finish(&self) -> bool {
        self.saw_stop_reason
    }

    /// Anthropic's own `message_delta` and `message_stop` already went out.
    fn finish(&mut self, _bill: &Bill) -> String {
        String::new()
    }

    fn fail(&mut self, error: &ApiError) -> String {
        match self.upstream_error.take() {
            Some((kind, message)) => frame(
                "error",
                &json!({"type": "error", "error": {"type": kind, "message": message}}).to_string(),
            ),
            None => error.anthropic_event(),
        }
    }

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        let value: Value = serde_json::from_slice(body.as_bytes())
            .map_err(|e| format!("Anthropic's message did not parse: {e}"))?;
        if value.get("type").and_then(Value::as_str) != Some("message") {
            return Err("Anthropic's answer is not a message".to_owned());
        }
        let usage = value
            .get("usage")
            .and_then(|u| AnthropicUsage::deserialize(u).ok())
            .map(|u| u.canonical());
        let chars = value
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|block| match block.get("type").and_then(Value::as_str) {
                Some("text") => block
                    .get("text")
                    .and_then(Value::as_str)
                    .map_or(0, |t| t.chars().count()),
                Some("thinking") => block
                    .get("thinking")
                    .and_then(Value::as_str)
                    .map_or(0, |t| t.chars().count()),
                Some("tool_use") => block.get("input").map_or(0, |i| i.to_string().chars().count()),
                _ => 0,
            } as u64)
            .sum();
        Ok(Parsed {
            body: value,
            usage,
            delivered_chars: chars,
            units: None,
        })
    }

    /// The answer is Anthropic's own, usage included.
    fn render_json(&mut self, body: Value, _bill: &Bill) -> Value {
        body
    }
}

// ---- translated

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Text,
    /// A `tool_use` block for the canonical tool call of this index.
    Tool(u32),
}

/// Canonical chunks → Anthropic's stream events.
#[derive(Debug)]
pub struct AnthropicRender {
    id: String,
    model: String,
    prompt_estimate: u64,
    started: bool,
    open: Option<OpenBlock>,
    next_index: u32,
    stop_reason: Option<&'static str>,
    saw_tool: bool,
}

impl AnthropicRender {
    /// `id` is the message id the client sees (`msg_…`), `model` the id it asked for, and
    /// `prompt_estimate` the input tokens shown in `message_start` (the actual count comes in
    /// `message_delta`, which the SDKs read last).
    pub fn new(id: impl Into<String>, model: impl Into<String>, prompt_estimate: u64) -> AnthropicRender {
        AnthropicRender {
            id: id.into(),
            model: model.into(),
            prompt_estimate,
            started: false,
            open: None,
            next_index: 0,
            stop_reason: None,
            saw_tool: false,
        }
    }

    fn start(&mut self, out: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        let start = json!({"type": "message_start", "message": {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": self.prompt_estimate, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 0},
        }});
        out.push_str(&frame("message_start", &start.to_string()));
    }

    fn close(&mut self, out: &mut String) {
        if self.open.take().is_some() {
            let stop = json!({"type": "content_block_stop", "index": self.next_index - 1});
            out.push_str(&frame("content_block_stop", &stop.to_string()));
        }
    }

    fn open(&mut self, block: OpenBlock, content_block: Value, out: &mut String) {
        self.close(out);
        let start =
            json!({"type": "content_block_start", "index": self.next_index, "content_block": content_block});
        out.push_str(&frame("content_block_start", &start.to_string()));
        self.open = Some(block);
        self.next_index += 1;
    }

    fn delta(&self, delta: Value, out: &mut String) {
        let event = json!({"type": "content_block_delta", "index": self.next_index - 1, "delta": delta});
        out.push_str(&frame("content_block_delta", &event.to_string()));
    }

    /// The frames for one canonical chunk; returns the characters of text and arguments in it.
    pub fn chunk(&mut self, chunk: &ChatCompletionChunk, out: &mut String) -> u64 {
        self.start(out);
        let mut chars = 0;
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.as_deref().filter(|t| !t.is_empty()) {
                if self.open != Some(OpenBlock::Text) {
                    self.open(OpenBlock::Text, json!({"type": "text", "text": ""}), out);
                }
                self.delta(json!({"type": "text_delta", "text": text}), out);
                chars += text.chars().count() as u64;
            }
            for call in choice.delta.tool_calls.iter().flatten() {
                let function = call.function.as_ref();
                if call.id.is_some() || self.open != Some(OpenBlock::Tool(call.index)) {
                    self.saw_tool = true;
                    let id = call
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("toolu_{}_{}", self.id, call.index));
                    let name = function.and_then(|f| f.name.clone()).unwrap_or_default();
                    self.open(
                        OpenBlock::Tool(call.index),
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                        out,
                    );
                }
                if let Some(arguments) = function
                    .and_then(|f| f.arguments.as_deref())
                    .filter(|a| !a.is_empty())
                {
                    self.delta(
                        json!({"type": "input_json_delta", "partial_json": arguments}),
                        out,
                    );
                    chars += arguments.chars().count() as u64;
                }
            }
            if let Some(reason) = choice.finish_reason.as_deref() {
                self.stop_reason = Some(stop_reason(reason));
            }
        }
        chars
    }

    /// The frames closing a stream that ended well, with the usage in Anthropic's terms.
    pub fn finish(&mut self, usage: &TokenUsage, out: &mut String) {
        self.start(out);
        self.close(out);
        let reason = self
            .stop_reason
            .unwrap_or(if self.saw_tool { "tool_use" } else { "end_turn" });
        let delta = json!({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": null},
                           "usage": anthropic_usage(usage)});
        out.push_str(&frame("message_delta", &delta.to_string()));
        out.push_str(&frame("message_stop", r#"{"type":"message_stop"}"#));
    }
}

/// A canonical answer as Anthropic's `message` (usage filled in by `render_json`).
pub fn completion_message(completion: &ChatCompletion, id: &str, model: &str) -> Value {
    let mut content = Vec::new();
    let choice = completion
        .choices
        .iter()
        .find(|c| c.index == 0)
        .or(completion.choices.first());
    let mut finish = None;
    if let Some(choice) = choice {
        if let Some(text) = choice.message.content.as_deref().filter(|t| !t.is_empty()) {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in choice.message.tool_calls.iter().flatten() {
            // Anthropic's `input` is an object; arguments that are none stay an empty one.
            let input = serde_json::from_slice::<Value>(call.function.arguments.as_bytes())
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            content
                .push(json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input}));
        }
        finish = choice.finish_reason.as_deref();
    }
    let has_tool = content.iter().any(|b| b["type"] == "tool_use");
    let reason = finish
        .map(stop_reason)
        .unwrap_or(if has_tool { "tool_use" } else { "end_turn" });
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": reason, "stop_sequence": null,
        "usage": anthropic_usage(&TokenUsage::default()),
    })
}

/// Every model other than Claude on `/v1/messages`.
pub struct TranslatedRelay {
    translator: Box<dyn StreamTranslator>,
    wire: WireFormat,
    render: AnthropicRender,
    usage: Option<TokenUsage>,
    chars: u64,
}

impl TranslatedRelay {
    /// `translator` is `providers::stream_translator(upstream)`; `wire` the upstream's format.
    pub fn new(
        translator: Box<dyn StreamTranslator>,
        wire: WireFormat,
        render: AnthropicRender,
    ) -> TranslatedRelay {
        TranslatedRelay {
            translator,
            wire,
            render,
            usage: None,
            chars: 0,
        }
    }
}

impl Relay for TranslatedRelay {
    fn on_route(&mut self, upstream: &crate::providers::Upstream) {
        self.translator = crate::providers::stream_translator(upstream);
        self.wire = upstream.provider.wire;
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut String) -> Step {
        read_items(self.translator.on_event(event), &mut self.usage, |chunk| {
            self.chars += self.render.chunk(&chunk, out)
        })
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }

    fn delivered_chars(&self) -> u64 {
        self.chars
    }

    fn finish(&mut self, bill: &Bill) -> String {
        let mut out = String::new();
        self.render.finish(&bill.usage(), &mut out);
        out
    }

    fn fail(&mut self, error: &ApiError) -> String {
        error.anthropic_event()
    }

    fn saw_finish(&self) -> bool {
        self.render.stop_reason.is_some()
    }

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        let completion = crate::providers::wire(self.wire).parse_completion(body)?;
        let chars = completion
            .choices
            .iter()
            .map(|c| {
                c.message.content.as_deref().map_or(0, |t| t.chars().count())
                    + c.message
                        .tool_calls
                        .iter()
                        .flatten()
                        .map(|t| t.function.arguments.chars().count())
                        .sum::<usize>()
            })
            .sum::<usize>() as u64;
        let usage = completion.usage.as_ref().map(Usage::tokens);
        Ok(Parsed {
            body: completion_message(&completion, &self.render.id, &self.render.model),
            usage,
            delivered_chars: chars,
            units: None,
        })
    }

    fn render_json(&mut self, mut body: Value, bill: &Bill) -> Value {
        body["usage"] = anthropic_usage(&bill.usage());
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::Delta;
    use crate::error::ErrorKind;
    use crate::providers::openai;
    use crate::sse::parser::SseParser;
    use crate::surfaces::test_chunks::{call, chunk, text};

    fn events(transcript: &str) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.feed(transcript.as_bytes(), &mut out).unwrap();
        out
    }

    /// The `(event, data)` pairs of frames the client receives.
    fn frames(text: &str) -> Vec<(String, Value)> {
        events(text)
            .into_iter()
            .map(|e| {
                (
                    e.event.unwrap_or_default(),
                    serde_json::from_slice(e.data.as_bytes()).unwrap(),
                )
            })
            .collect()
    }

    fn bill(usage: TokenUsage) -> Bill {
        Bill {
            consumption: crate::billing::reservation::Consumption::Tokens {
                usage,
                estimated: false,
            },
            cost: crate::billing::money::Nanos(1),
            mode: crate::billing::BillingMode::PerToken,
            balance_after: None,
        }
    }

    /// A thinking block with a signature, text, and a tool call; cache reads and 1-hour writes.
    const NATIVE_STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-5-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":300,\"cache_read_input_tokens\":2000,\"cache_creation\":{\"ephemeral_5m_input_tokens\":100,\"ephemeral_1h_input_tokens\":200},\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me see\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Héllo\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":1}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Read\",\"input\":{}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":1}\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":2}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

    #[test]
    fn native_events_pass_through_as_they_came_and_usage_is_read_from_them() {
        let mut relay = NativeRelay::new();
        let mut out = String::new();
        let mut steps = Vec::new();
        for event in events(NATIVE_STREAM) {
            steps.push(relay.on_event(&event, &mut out));
        }
        assert_eq!(out, NATIVE_STREAM, "every frame, ping included, byte for byte");
        assert_eq!(steps.last(), Some(&Step::Done));
        assert!(steps[..steps.len() - 1].iter().all(|s| *s == Step::Continue));
        assert_eq!(
            relay.usage(),
            Some(TokenUsage {
                input: 2312,
                cache_read: 2000,
                cache_write_5m: 100,
                cache_write_1h: 200,
                output: 42,
                reasoning: 0
            })
        );
        assert_eq!(
            relay.delivered_chars(),
            ("Let me see".len() + "Héllo".chars().count() + 7) as u64
        );
        assert_eq!(relay.finish(&bill(TokenUsage::default())), "");
    }

    #[test]
    fn a_native_message_delta_may_carry_the_whole_usage() {
        let mut relay = NativeRelay::new();
        let mut out = String::new();
        let stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":7,\"cache_read_input_tokens\":3,\"output_tokens\":9}}\n\n";
        for event in events(stream) {
            relay.on_event(&event, &mut out);
        }
        assert_eq!(
            relay.usage().map(|u| (u.input, u.cache_read, u.output)),
            Some((10, 3, 9))
        );
    }

    #[test]
    fn a_native_event_missing_what_its_type_requires_breaks_the_stream() {
        for bad in [
            r#"{"type":"message_start"}"#,
            r#"{"type":"content_block_delta","index":0}"#,
            r#"{"type":"error"}"#,
            r#"{"no_type":1}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":5}}"#,
        ] {
            let step = NativeRelay::new().on_event(&SseEvent::with_data(bad), &mut String::new());
            assert!(
                matches!(step, Step::Failed(StreamFailure::Broken(_))),
                "{bad}: {step:?}"
            );
        }
        // A nameless event is framed under its type; new types pass through.
        let mut out = String::new();
        let step =
            NativeRelay::new().on_event(&SseEvent::with_data(r#"{"type":"brand_new","x":1}"#), &mut out);
        assert!(matches!(step, Step::Continue));
        assert!(out.starts_with("event: brand_new\n"), "{out}");
    }

    #[test]
    fn a_native_error_event_fails_the_stream_and_the_client_gets_one_error_event() {
        let mut relay = NativeRelay::new();
        let mut out = String::new();
        let stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n\
event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
        let steps: Vec<Step> = events(stream)
            .iter()
            .map(|e| relay.on_event(e, &mut out))
            .collect();
        let Step::Failed(failure) = &steps[1] else {
            panic!("{steps:?}")
        };
        assert_eq!(failure, &StreamFailure::Upstream("Overloaded".into()));
        assert!(
            !out.contains("event: error"),
            "the relay leaves the error frame to `fail`"
        );
        // Whatever error the pipeline makes of it, the client sees Anthropic's own type.
        let end = relay.fail(&ApiError::new(
            ErrorKind::BadGateway,
            "upstream_error",
            "Overloaded",
        ));
        assert_eq!(
            frames(&end),
            vec![(
                "error".to_owned(),
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            )]
        );
        let mut bad = NativeRelay::new();
        let garbage = SseEvent {
            event: Some("content_block_delta".into()),
            data: "{not json".into(),
            ..Default::default()
        };
        assert!(matches!(
            bad.on_event(&garbage, &mut out),
            Step::Failed(StreamFailure::Broken(_))
        ));
        // Without an upstream error event, `fail` renders the pipeline's error.
        let end = bad.fail(&ApiError::new(
            ErrorKind::GatewayTimeout,
            "timeout",
            "The stream went silent.",
        ));
        assert_eq!(frames(&end)[0].1["error"]["type"], "timeout_error");
    }

    #[test]
    fn a_finish_is_seen_in_message_delta_or_a_finish_reason() {
        let mut native = NativeRelay::new();
        let mut out = String::new();
        assert!(!native.saw_finish());
        for event in events(NATIVE_STREAM).iter().take(13) {
            native.on_event(event, &mut out);
        }
        assert!(native.saw_finish(), "message_delta carried the stop reason");
        let mut translated = TranslatedRelay::new(
            Box::new(openai::OpenAiStream),
            WireFormat::Openai,
            AnthropicRender::new("m", "m", 0),
        );
        let finish = SseEvent {
            data: r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#.into(),
            ..Default::default()
        };
        assert!(!translated.saw_finish());
        translated.on_event(&finish, &mut out);
        assert!(translated.saw_finish());
    }

    #[test]
    fn a_nameless_native_event_is_named_by_its_type() {
        let mut relay = NativeRelay::new();
        let mut out = String::new();
        let event = SseEvent {
            data: r#"{"type":"ping"}"#.into(),
            ..Default::default()
        };
        relay.on_event(&event, &mut out);
        assert_eq!(out, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    #[test]
    fn a_native_answer_passes_through_with_its_usage_read() {
        let mut relay = NativeRelay::new();
        let body = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","content":[{"type":"text","text":"Hi!"},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":3,"cache_read_input_tokens":10,"output_tokens":4},"unknown_field":true}"#;
        let Parsed {
            body: value,
            usage,
            delivered_chars: chars,
            ..
        } = relay.parse_json(body).unwrap();
        assert_eq!(
            usage.map(|u| (u.input, u.cache_read, u.output)),
            Some((13, 10, 4))
        );
        assert_eq!(chars, 3 + 7);
        let original: Value = serde_json::from_slice(body.as_bytes()).unwrap();
        assert_eq!(relay.render_json(value, &bill(TokenUsage::new(1, 1))), original);
        assert!(relay.parse_json(r#"{"type":"error","error":{}}"#).is_err());
    }

    #[test]
    fn usage_in_anthropics_terms_excludes_the_cache_from_input_tokens() {
        let usage = TokenUsage {
            input: 1000,
            cache_read: 600,
            cache_write_5m: 100,
            cache_write_1h: 50,
            output: 70,
            reasoning: 20,
        };
        assert_eq!(
            anthropic_usage(&usage),
            json!({"input_tokens": 250, "cache_creation_input_tokens": 150, "cache_read_input_tokens": 600,
                   "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 50},
                   "output_tokens": 70})
        );
        let mut chat = Usage::new(1000, 70);
        chat.extra
            .insert("prompt_tokens_details".into(), json!({"cached_tokens": 600}));
        chat.extra.insert(
            "completion_tokens_details".into(),
            json!({"reasoning_tokens": 20}),
        );
        assert_eq!(
            chat.tokens(),
            TokenUsage {
                input: 1000,
                cache_read: 600,
                output: 70,
                reasoning: 20,
                ..TokenUsage::default()
            }
        );
    }

    #[test]
    fn canonical_chunks_become_anthropics_event_sequence() {
        let mut render = AnthropicRender::new("msg_flint_1", "gpt-4o-mini", 120);
        let mut out = String::new();
        let mut chars = 0;
        for c in [
            chunk(
                Delta {
                    role: Some("assistant".into()),
                    ..Delta::default()
                },
                None,
            ),
            chunk(text("Let me "), None),
            chunk(text("check."), None),
            chunk(call(0, Some("call_a"), Some("weather"), ""), None),
            chunk(call(0, None, None, "{\"city\":"), None),
            chunk(call(0, None, None, "\"Paris\"}"), None),
            chunk(call(1, Some("call_b"), Some("time"), "{}"), None),
            chunk(Delta::default(), Some("tool_calls")),
        ] {
            chars += render.chunk(&c, &mut out);
        }
        render.finish(
            &TokenUsage {
                input: 150,
                cache_read: 100,
                output: 30,
                ..TokenUsage::default()
            },
            &mut out,
        );
        assert_eq!(
            chars,
            ("Let me check.".len() + "{\"city\":\"Paris\"}".len() + 2) as u64
        );
        let frames = frames(&out);
        let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        for (name, data) in &frames {
            assert_eq!(data["type"], json!(name), "the event name is the data's type");
        }
        assert_eq!(frames[0].1["message"]["id"], "msg_flint_1");
        assert_eq!(frames[0].1["message"]["model"], "gpt-4o-mini");
        assert_eq!(frames[0].1["message"]["usage"]["input_tokens"], 120);
        assert_eq!(
            frames[1].1,
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        );
        assert_eq!(
            frames[3].1["delta"],
            json!({"type": "text_delta", "text": "check."})
        );
        assert_eq!(
            frames[5].1,
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "call_a", "name": "weather", "input": {}}})
        );
        let arguments: String = frames[6..8]
            .iter()
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(
            serde_json::from_slice::<Value>(arguments.as_bytes()).unwrap(),
            json!({"city": "Paris"})
        );
        assert_eq!(frames[8].1, json!({"type": "content_block_stop", "index": 1}));
        assert_eq!(frames[9].1["index"], 2);
        assert_eq!(frames[9].1["content_block"]["id"], "call_b");
        assert_eq!(
            frames[12].1,
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"input_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100,
                             "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                             "output_tokens": 30}})
        );
    }

    #[test]
    fn an_empty_stream_still_starts_and_stops_and_length_maps_to_max_tokens() {
        let mut render = AnthropicRender::new("msg_2", "m", 0);
        let mut out = String::new();
        render.finish(&TokenUsage::default(), &mut out);
        let names: Vec<String> = frames(&out).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
        let mut render = AnthropicRender::new("msg_3", "m", 0);
        let mut out = String::new();
        render.chunk(&chunk(text("abc"), Some("length")), &mut out);
        render.finish(&TokenUsage::default(), &mut out);
        let frames = frames(&out);
        assert_eq!(frames[frames.len() - 2].1["delta"]["stop_reason"], "max_tokens");
        for (finish, reason) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("content_filter", "refusal"),
        ] {
            assert_eq!(stop_reason(finish), reason);
        }
    }

    /// A recorded OpenAI stream through the real OpenAI translator.
    #[test]
    fn an_openai_wire_stream_is_relayed_in_anthropics_shape() {
        let upstream = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi there\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":2,\"total_tokens\":22,\"prompt_tokens_details\":{\"cached_tokens\":8}}}\n\n\
data: [DONE]\n\n";
        let mut relay = TranslatedRelay::new(
            Box::new(openai::OpenAiStream),
            WireFormat::Openai,
            AnthropicRender::new("msg_x", "gpt-4o-mini", 25),
        );
        let mut out = String::new();
        let steps: Vec<Step> = events(upstream)
            .iter()
            .map(|e| relay.on_event(e, &mut out))
            .collect();
        assert_eq!(steps.last(), Some(&Step::Done));
        let usage = relay.usage().unwrap();
        assert_eq!((usage.input, usage.cache_read, usage.output), (20, 8, 2));
        out.push_str(&relay.finish(&bill(usage)));
        let frames = frames(&out);
        let text: String = frames
            .iter()
            .filter_map(|(_, d)| d["delta"]["text"].as_str())
            .collect();
        assert_eq!(text, "Hi there");
        let delta = &frames[frames.len() - 2].1;
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(
            (
                delta["usage"]["input_tokens"].as_u64(),
                delta["usage"]["cache_read_input_tokens"].as_u64()
            ),
            (Some(12), Some(8))
        );
        assert_eq!(relay.delivered_chars(), 8);
        let end = relay.fail(&ApiError::new(ErrorKind::BadGateway, "x", "boom"));
        assert!(end.starts_with("event: error\n"));
    }

    #[test]
    fn a_whole_answer_becomes_an_anthropic_message() {
        let upstream = r#"{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Checking","tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}"#;
        let mut relay = TranslatedRelay::new(
            Box::new(openai::OpenAiStream),
            WireFormat::Openai,
            AnthropicRender::new("msg_y", "gpt-4o-mini", 0),
        );
        let Parsed {
            body,
            usage,
            delivered_chars: chars,
            ..
        } = relay.parse_json(upstream).unwrap();
        assert_eq!(usage, Some(TokenUsage::new(30, 12)));
        assert_eq!(chars, (8 + r#"{"city":"Oslo"}"#.len()) as u64);
        let message = relay.render_json(body, &bill(TokenUsage::new(30, 12)));
        assert_eq!(
            message,
            json!({"id": "msg_y", "type": "message", "role": "assistant", "model": "gpt-4o-mini",
                   "content": [{"type": "text", "text": "Checking"},
                               {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}}],
                   "stop_reason": "tool_use", "stop_sequence": null,
                   "usage": {"input_tokens": 30, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                             "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                             "output_tokens": 12}})
        );
        assert!(relay.parse_json("<html>").is_err());
    }
}
