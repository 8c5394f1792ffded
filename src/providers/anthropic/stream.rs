//! The stream: Anthropic's events translated, one by one, into OpenAI chunks.

use serde::Deserialize;

use super::response::{finish_reason, openai_usage, WireBlock, WireError, WireUsage};
use crate::canonical::{ChatCompletionChunk, Delta, FunctionDelta, ToolCallDelta, Usage};
use crate::providers::{StreamItem, StreamTranslator};
use crate::sse::parser::SseEvent;

/// One event of Anthropic's stream, by its `type`.
#[derive(Debug)]
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
        stop_reason: Option<String>,
        usage: Option<WireUsage>,
    },
    MessageStop,
    Error {
        error: WireError,
    },
    /// `ping`, and the event types Anthropic documents may appear later: ignored.
    Ignored,
}

/// An event as it arrives: every event's fields in one flat reading. A `type`-tagged serde enum
/// would buffer each event and read it a second time, and compile a reader per variant.
#[derive(Debug, Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<StartMessage>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    content_block: Option<WireBlock>,
    #[serde(default)]
    delta: Option<WireDelta>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<WireError>,
}

/// A `content_block_delta`'s delta (typed) or a `message_delta`'s (untyped).
#[derive(Debug, Deserialize)]
struct WireDelta {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

impl StreamEvent {
    /// The event `wire` is, or None when a field its type requires is missing.
    fn from_wire(wire: WireEvent) -> Option<StreamEvent> {
        Some(match wire.kind.as_str() {
            "message_start" => StreamEvent::MessageStart {
                message: wire.message?,
            },
            "content_block_start" => {
                let block = wire.content_block?;
                StreamEvent::ContentBlockStart {
                    index: wire.index?,
                    content_block: match block.kind.as_str() {
                        "text" => StartBlock::Text {
                            text: block.text.unwrap_or_default(),
                        },
                        "tool_use" => StartBlock::ToolUse {
                            id: block.id?,
                            name: block.name?,
                        },
                        _ => StartBlock::Other,
                    },
                }
            }
            "content_block_delta" => {
                let delta = wire.delta?;
                StreamEvent::ContentBlockDelta {
                    index: wire.index?,
                    delta: match delta.kind?.as_str() {
                        "text_delta" => BlockDelta::TextDelta { text: delta.text? },
                        "input_json_delta" => BlockDelta::InputJsonDelta {
                            partial_json: delta.partial_json?,
                        },
                        // Thinking, signature and citation deltas: not part of an OpenAI answer.
                        _ => BlockDelta::Other,
                    },
                }
            }
            "content_block_stop" => StreamEvent::ContentBlockStop { index: wire.index? },
            "message_delta" => StreamEvent::MessageDelta {
                stop_reason: wire.delta?.stop_reason,
                usage: wire.usage,
            },
            "message_stop" => StreamEvent::MessageStop,
            "error" => StreamEvent::Error { error: wire.error? },
            _ => StreamEvent::Ignored,
        })
    }
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

#[derive(Debug)]
enum StartBlock {
    Text { text: String },
    ToolUse { id: String, name: String },
    Other,
}

#[derive(Debug)]
enum BlockDelta {
    TextDelta { text: String },
    InputJsonDelta { partial_json: String },
    Other,
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
        StreamItem::Chunk(ChatCompletionChunk::one_choice(
            self.id.clone(),
            self.model.clone(),
            0,
            delta,
            finish_reason,
        ))
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
        let parsed = serde_json::from_slice::<WireEvent>(data.as_bytes())
            .ok()
            .and_then(StreamEvent::from_wire);
        let Some(parsed) = parsed else {
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
            StreamEvent::MessageDelta { stop_reason, usage } => {
                if let Some(usage) = &usage {
                    self.absorb(usage);
                }
                match stop_reason {
                    Some(reason) => vec![self.chunk(Delta::default(), Some(finish_reason(&reason)))],
                    None => Vec::new(),
                }
            }
            StreamEvent::MessageStop => {
                let mut items = Vec::with_capacity(2);
                if self.usage_seen && !self.usage_sent {
                    self.usage_sent = true;
                    items.push(StreamItem::Usage(self.usage()));
                }
                items.push(StreamItem::Done);
                items
            }
            StreamEvent::Error { error } => vec![StreamItem::Error(error.safe())],
            StreamEvent::Ignored => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::sse::parser::SseParser;

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
        let first: Value = serde_json::from_slice(calls[0].2.as_bytes()).unwrap();
        let second: Value = serde_json::from_slice(calls[1].2.as_bytes()).unwrap();
        assert_eq!(first, json!({"location": "San Francisco, CA"}));
        assert_eq!(second, json!({"timezone": "America/Los_Angeles"}));
        let finish = chunks(&items).last().unwrap().choices[0].finish_reason.clone();
        assert_eq!(finish.as_deref(), Some("tool_calls"));
        assert!(items.contains(&StreamItem::Usage(Usage::new(472, 89))));
    }

    #[test]
    fn a_streamed_tool_call_without_input_fragments_gets_empty_object_arguments() {
        let mut stream = AnthropicStream::new();
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}}"#,
        ));
        let items = stream.on_event(&SseEvent::with_data(r#"{"type":"content_block_stop","index":0}"#));
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
                matches!(
                    stream.on_event(&SseEvent::with_data(bad)).as_slice(),
                    [StreamItem::Error(_)]
                ),
                "{bad}"
            );
        }
        assert!(stream
            .on_event(&SseEvent::with_data(r#"{"type":"ping"}"#))
            .is_empty());
        assert!(stream
            .on_event(&SseEvent::with_data(r#"{"type":"brand_new_event","x":1}"#))
            .is_empty());
        assert!(stream
            .on_event(&SseEvent::with_data(
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#
            ))
            .is_empty());
        assert!(stream.on_event(&SseEvent::with_data("")).is_empty());
    }

    #[test]
    fn usage_takes_the_last_cumulative_output_count_and_is_sent_once() {
        let mut stream = AnthropicStream::new();
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"message_start","message":{"id":"m","model":"c","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":null,"output_tokens":1}}}"#,
        ));
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":4}}"#,
        ));
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":20}}"#,
        ));
        let end = stream.on_event(&SseEvent::with_data(r#"{"type":"message_stop"}"#));
        let mut usage = Usage::new(15, 20);
        usage.cache_writes.five_minutes = 5;
        assert_eq!(end, vec![StreamItem::Usage(usage), StreamItem::Done]);
        assert_eq!(
            stream.on_event(&SseEvent::with_data(r#"{"type":"message_stop"}"#)),
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
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"message_start","message":{"id":"m","model":"c","content":[],"usage":{"input_tokens":3,"cache_creation_input_tokens":50,"cache_read_input_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":50},"output_tokens":1}}}"#,
        ));
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":3,"cache_creation_input_tokens":50,"cache_read_input_tokens":20,"output_tokens":9}}"#,
        ));
        let end = stream.on_event(&SseEvent::with_data(r#"{"type":"message_stop"}"#));
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
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"message_start","message":{"id":"m","model":"c","content":[]}}"#,
        ));
        stream.on_event(&SseEvent::with_data(
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
        ));
        assert_eq!(
            stream.on_event(&SseEvent::with_data(r#"{"type":"message_stop"}"#)),
            vec![StreamItem::Done]
        );
    }
}
