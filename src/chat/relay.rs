//! The chat surfaces' relay: any upstream wire → canonical chunks (the provider's
//! `StreamTranslator`) → the family's frames (`Render`: OpenAI's chunks or Stone's events).

use serde_json::{json, Value};

use super::render::{openai_usage, Render};
use crate::billing::reservation::Bill;
use crate::billing::usage::TokenUsage;
use crate::canonical::{ChatCompletion, ChatCompletionChunk};
use crate::error::ApiError;
use crate::pipeline::relay::{read_items, Parsed, Relay, Step};
use crate::providers::{self, StreamTranslator, Upstream};
use crate::sse::parser::SseEvent;

pub struct ChatRelay {
    translator: Box<dyn StreamTranslator>,
    render: Box<dyn Render>,
    upstream: Upstream,
    /// The gateway's id, creation time and the model id the client asked for.
    id: String,
    created: i64,
    model: String,
    usage: Option<TokenUsage>,
    delivered_chars: u64,
    finished: bool,
    /// Answer in the deprecated function-calling shape (the request used `functions`).
    legacy_functions: bool,
}

impl ChatRelay {
    pub fn new(
        upstream: Upstream,
        render: Box<dyn Render>,
        id: String,
        created: i64,
        model: String,
    ) -> ChatRelay {
        ChatRelay {
            translator: providers::stream_translator(&upstream),
            render,
            upstream,
            id,
            created,
            model,
            usage: None,
            delivered_chars: 0,
            finished: false,
            legacy_functions: false,
        }
    }

    pub fn with_legacy_functions(mut self, legacy: bool) -> ChatRelay {
        self.legacy_functions = legacy;
        self
    }
}

/// The characters of generated text in a chunk, and whether it finishes a choice.
fn delivered(chunk: &ChatCompletionChunk) -> (u64, bool) {
    let mut chars = 0;
    let mut finishes = false;
    for choice in &chunk.choices {
        let delta = &choice.delta;
        chars += delta.content.as_deref().map_or(0, |c| c.chars().count());
        chars += delta.refusal.as_deref().map_or(0, |c| c.chars().count());
        for call in delta.tool_calls.iter().flatten() {
            if let Some(function) = &call.function {
                chars += function.name.as_deref().map_or(0, str::len);
                chars += function.arguments.as_deref().map_or(0, |a| a.chars().count());
            }
        }
        finishes |= choice.finish_reason.is_some();
    }
    (chars as u64, finishes)
}

/// A chunk in the deprecated shape: the first tool call's deltas as `delta.function_call`,
/// `finish_reason: "function_call"`.
fn legacy_chunk(chunk: &mut ChatCompletionChunk) {
    for choice in &mut chunk.choices {
        if let Some(calls) = choice.delta.tool_calls.take() {
            if let Some(function) = calls.into_iter().find(|c| c.index == 0).and_then(|c| c.function) {
                if let Ok(value) = serde_json::to_value(function) {
                    choice.delta.extra.insert("function_call".into(), value);
                }
            }
        }
        if choice.finish_reason.as_deref() == Some("tool_calls") {
            choice.finish_reason = Some("function_call".into());
        }
    }
}

/// A whole answer in the deprecated shape: `message.function_call` (the first call).
fn legacy_completion(completion: &mut ChatCompletion) {
    for choice in &mut completion.choices {
        if let Some(call) = choice
            .message
            .tool_calls
            .take()
            .and_then(|c| c.into_iter().next())
        {
            choice.message.extra.insert(
                "function_call".into(),
                json!({"name": call.function.name, "arguments": call.function.arguments}),
            );
        }
        if choice.finish_reason.as_deref() == Some("tool_calls") {
            choice.finish_reason = Some("function_call".into());
        }
    }
}

impl Relay for ChatRelay {
    fn on_route(&mut self, upstream: &Upstream) {
        self.translator = providers::stream_translator(upstream);
        self.upstream = upstream.clone();
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut String) -> Step {
        read_items(self.translator.on_event(event), &mut self.usage, |mut chunk| {
            let (chars, finishes) = delivered(&chunk);
            self.delivered_chars += chars;
            self.finished |= finishes;
            if self.legacy_functions {
                legacy_chunk(&mut chunk);
            }
            if let Some(frame) = self.render.chunk(chunk) {
                out.push_str(&frame);
            }
        })
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }

    fn delivered_chars(&self) -> u64 {
        self.delivered_chars
    }

    fn saw_finish(&self) -> bool {
        self.finished
    }

    fn finish(&mut self, bill: &Bill) -> String {
        self.render.finish(bill)
    }

    fn shows_balance(&self) -> bool {
        self.render.shows_balance()
    }

    fn fail(&mut self, error: &ApiError) -> String {
        self.render.error(error)
    }

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        let mut completion = providers::parse_completion(&self.upstream, body)?;
        let delivered: u64 = completion
            .choices
            .iter()
            .map(|c| {
                let message = &c.message;
                let calls: usize = message
                    .tool_calls
                    .iter()
                    .flatten()
                    .map(|t| t.function.name.len() + t.function.arguments.chars().count())
                    .sum();
                (message.content.as_deref().map_or(0, |t| t.chars().count()) + calls) as u64
            })
            .sum();
        let usage = completion.usage.take().map(|u| u.tokens());
        if self.legacy_functions {
            legacy_completion(&mut completion);
        }
        completion.id.clone_from(&self.id);
        completion.model.clone_from(&self.model);
        completion.created = self.created;
        completion.object = "chat.completion".into();
        let body = serde_json::to_value(&completion).map_err(|e| e.to_string())?;
        Ok(Parsed {
            body,
            usage,
            delivered_chars: delivered,
            units: None,
        })
    }

    fn render_json(&mut self, mut body: Value, bill: &Bill) -> Value {
        if let Ok(usage) = serde_json::to_value(openai_usage(bill)) {
            body["usage"] = usage;
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_call_answer_reads_as_a_legacy_function_call() {
        let mut completion: ChatCompletion = serde_json::from_value(json!({
            "id": "x", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}]}))
        .unwrap();
        legacy_completion(&mut completion);
        let body = serde_json::to_value(&completion).unwrap();
        let choice = &body["choices"][0];
        assert_eq!(choice["finish_reason"], "function_call");
        assert_eq!(
            choice["message"]["function_call"],
            json!({"name": "f", "arguments": "{\"a\":1}"})
        );
        assert!(choice["message"].get("tool_calls").is_none());
    }

    #[test]
    fn tool_call_deltas_read_as_legacy_function_call_deltas() {
        let mut first: ChatCompletionChunk = serde_json::from_value(json!({"id": "x", "choices": [{"index": 0,
            "delta": {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]}))
        .unwrap();
        legacy_chunk(&mut first);
        let delta = serde_json::to_value(&first.choices[0].delta).unwrap();
        assert_eq!(delta, json!({"function_call": {"name": "f", "arguments": ""}}));
        let mut last: ChatCompletionChunk = serde_json::from_value(
            json!({"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        )
        .unwrap();
        legacy_chunk(&mut last);
        assert_eq!(last.choices[0].finish_reason.as_deref(), Some("function_call"));
    }
}
