//! Gemini's stream as OpenAI's chunks.

use serde_json::Value;

use super::response::{error_message, new_call_id, GenerateContentResponse};
use crate::canonical::{ChatCompletionChunk, Delta, FunctionDelta, ToolCallDelta, Usage};
use crate::providers::{StreamItem, StreamTranslator};
use crate::sse::parser::SseEvent;

/// Gemini's stream (`alt=sse`): every event a whole `GenerateContentResponse` with the next text
/// or whole function calls, cumulative `usageMetadata`, and `finishReason` on the last one.
#[derive(Debug, Default)]
pub struct GeminiStream {
    /// The role chunk has gone out.
    started: bool,
    /// The OpenAI `index` of the next tool call.
    next_tool_index: u32,
    /// The latest usage seen (Gemini's is cumulative).
    usage: Option<Usage>,
    /// The finish (or an error) has been reported; later events are ignored.
    finished: bool,
}

impl GeminiStream {
    pub fn new() -> Self {
        Self::default()
    }

    fn chunk(response: &GenerateContentResponse, delta: Delta, finish: Option<&str>) -> StreamItem {
        StreamItem::Chunk(ChatCompletionChunk::one_choice(
            response
                .response_id
                .as_ref()
                .map(|id| format!("chatcmpl-{id}"))
                .unwrap_or_default(),
            response.model_version.clone().unwrap_or_default(),
            0,
            delta,
            finish,
        ))
    }

    fn end(&mut self, items: &mut Vec<StreamItem>) {
        self.finished = true;
        if let Some(usage) = self.usage.take() {
            items.push(StreamItem::Usage(usage));
        }
        items.push(StreamItem::Done);
    }
}

impl StreamTranslator for GeminiStream {
    fn on_event(&mut self, event: &SseEvent) -> Vec<StreamItem> {
        if self.finished {
            return Vec::new();
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Vec::new();
        }
        let mut items = Vec::new();
        if data == "[DONE]" {
            // Not Gemini's, but unambiguous.
            self.end(&mut items);
            return items;
        }
        let value: Value = match serde_json::from_slice(data.as_bytes()) {
            Ok(value) => value,
            Err(_) => {
                self.finished = true;
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream event.".into(),
                )];
            }
        };
        if let Some(error) = value.get("error") {
            self.finished = true;
            return vec![StreamItem::Error(error_message(error))];
        }
        let response: GenerateContentResponse = match serde_json::from_value(value) {
            Ok(response) => response,
            Err(_) => {
                self.finished = true;
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream chunk.".into(),
                )];
            }
        };
        if let Some(metadata) = &response.usage_metadata {
            self.usage = Some(metadata.usage());
        }
        if !self.started {
            self.started = true;
            let delta = Delta {
                role: Some("assistant".into()),
                content: Some(String::new()),
                ..Delta::default()
            };
            items.push(Self::chunk(&response, delta, None));
        }
        let mut text = String::new();
        for part in response.parts().iter().filter(|p| !p.thought) {
            if let Some(piece) = &part.text {
                text.push_str(piece);
            }
            if let Some(call) = &part.function_call {
                if !text.is_empty() {
                    let delta = Delta {
                        content: Some(std::mem::take(&mut text)),
                        ..Delta::default()
                    };
                    items.push(Self::chunk(&response, delta, None));
                }
                let delta = Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index: self.next_tool_index,
                        id: Some(new_call_id()),
                        kind: Some("function".into()),
                        function: Some(FunctionDelta {
                            name: Some(call.name.clone()),
                            arguments: Some(call.arguments()),
                        }),
                    }]),
                    ..Delta::default()
                };
                self.next_tool_index += 1;
                items.push(Self::chunk(&response, delta, None));
            }
        }
        if !text.is_empty() {
            let delta = Delta {
                content: Some(text),
                ..Delta::default()
            };
            items.push(Self::chunk(&response, delta, None));
        }
        if let Some(finish) = response.finish(self.next_tool_index > 0) {
            items.push(Self::chunk(&response, Delta::default(), Some(finish)));
            self.end(&mut items);
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::gemini::response::UsageMetadata;

    fn run(stream: &mut GeminiStream, events: &[&str]) -> Vec<StreamItem> {
        events
            .iter()
            .flat_map(|data| stream.on_event(&SseEvent::with_data(data)))
            .collect()
    }

    fn delta(item: &StreamItem) -> &Delta {
        match item {
            StreamItem::Chunk(chunk) => &chunk.choices[0].delta,
            other => panic!("not a chunk: {other:?}"),
        }
    }

    fn finish_of(item: &StreamItem) -> Option<&str> {
        match item {
            StreamItem::Chunk(chunk) => chunk.choices[0].finish_reason.as_deref(),
            _ => None,
        }
    }

    /// A streamed text answer as `alt=sse` delivers it: usage on every chunk, growing.
    const TEXT_STREAM: [&str; 3] = [
        r#"{"candidates": [{"content": {"parts": [{"text": "The sky is"}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}]}, "modelVersion": "gemini-2.5-flash", "responseId": "7p2bZ_6rI6Cfz7IPtoDF8Ak"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": " blue because of Rayleigh"}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 5, "totalTokenCount": 11, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}]}, "modelVersion": "gemini-2.5-flash", "responseId": "7p2bZ_6rI6Cfz7IPtoDF8Ak"}"#,
        r#"{"candidates": [{"content": {"parts": [{"text": " scattering."}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 9, "totalTokenCount": 52, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}], "thoughtsTokenCount": 37}, "modelVersion": "gemini-2.5-flash", "responseId": "7p2bZ_6rI6Cfz7IPtoDF8Ak"}"#,
    ];

    #[test]
    fn a_streamed_text_answer_becomes_role_content_finish_usage_and_done() {
        let mut stream = GeminiStream::new();
        let items = run(&mut stream, &TEXT_STREAM);
        assert_eq!(items.len(), 7, "{items:#?}");
        assert_eq!(delta(&items[0]).role.as_deref(), Some("assistant"));
        let text: String = items[1..4]
            .iter()
            .map(|item| delta(item).content.clone().unwrap())
            .collect();
        assert_eq!(text, "The sky is blue because of Rayleigh scattering.");
        assert_eq!(finish_of(&items[4]), Some("stop"));
        assert_eq!(*delta(&items[4]), Delta::default());
        // Usage is the last one, which came in the finishing chunk itself.
        assert_eq!(
            items[5],
            StreamItem::Usage(
                UsageMetadata {
                    prompt_token_count: 6,
                    candidates_token_count: 9,
                    thoughts_token_count: 37,
                    cached_content_token_count: 0,
                    total_token_count: Some(52),
                }
                .usage()
            )
        );
        assert!(
            matches!(&items[5], StreamItem::Usage(u) if (u.prompt_tokens, u.completion_tokens) == (6, 46))
        );
        assert_eq!(items[6], StreamItem::Done);
        // Anything after the finish is ignored.
        assert!(stream.on_event(&SseEvent::with_data(TEXT_STREAM[0])).is_empty());
    }

    #[test]
    fn a_streamed_answer_with_two_function_calls_indexes_them() {
        let events = [
            r#"{"candidates": [{"content": {"parts": [{"text": "Checking both."}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 70, "totalTokenCount": 70}, "modelVersion": "gemini-2.5-flash", "responseId": "Hp6bZ5mKFNGfz7IPp7TmYQ"}"#,
            r#"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQB0e2Kb3vN"}, {"functionCall": {"name": "get_time", "args": {}}}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 24, "totalTokenCount": 94}, "modelVersion": "gemini-2.5-flash", "responseId": "Hp6bZ5mKFNGfz7IPp7TmYQ"}"#,
        ];
        let mut stream = GeminiStream::new();
        let items = run(&mut stream, &events);
        assert_eq!(items.len(), 7, "{items:#?}");
        assert_eq!(delta(&items[0]).role.as_deref(), Some("assistant"));
        assert_eq!(delta(&items[1]).content.as_deref(), Some("Checking both."));
        let calls: Vec<&ToolCallDelta> = items[2..4]
            .iter()
            .map(|item| &delta(item).tool_calls.as_ref().unwrap()[0])
            .collect();
        assert_eq!((calls[0].index, calls[1].index), (0, 1));
        for call in &calls {
            assert_eq!(call.kind.as_deref(), Some("function"));
            assert!(call.id.as_deref().unwrap().starts_with("call_"));
        }
        assert_ne!(calls[0].id, calls[1].id);
        let first = calls[0].function.as_ref().unwrap();
        assert_eq!(first.name.as_deref(), Some("get_weather"));
        assert_eq!(first.arguments.as_deref(), Some(r#"{"city":"Paris"}"#));
        assert_eq!(
            calls[1].function.as_ref().unwrap().arguments.as_deref(),
            Some("{}")
        );
        assert_eq!(finish_of(&items[4]), Some("tool_calls"));
        assert!(
            matches!(&items[5], StreamItem::Usage(u) if u.completion_tokens == 24 && u.total_tokens == 94)
        );
        assert_eq!(items[6], StreamItem::Done);
    }

    #[test]
    fn a_stream_blocked_by_safety_ends_with_content_filter() {
        let mut stream = GeminiStream::new();
        let items = run(
            &mut stream,
            &[
                r#"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": "gemini-2.5-flash"}"#,
            ],
        );
        assert_eq!(items.len(), 4, "{items:#?}");
        assert_eq!(finish_of(&items[1]), Some("content_filter"));
        assert!(matches!(&items[2], StreamItem::Usage(u) if u.prompt_tokens == 5));
        assert_eq!(items[3], StreamItem::Done);
    }

    #[test]
    fn stream_errors_and_malformed_events_become_errors() {
        let mut stream = GeminiStream::new();
        let error = r#"{"error": {"code": 500, "message": "An internal error has occurred. Key AIzaSyD-1234567890abcdefghij", "status": "INTERNAL"}}"#;
        match stream.on_event(&SseEvent::with_data(error)).as_slice() {
            [StreamItem::Error(message)] => {
                assert!(message.contains("An internal error has occurred"));
                assert!(!message.contains("1234567890"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let mut stream = GeminiStream::new();
        assert!(matches!(
            stream.on_event(&SseEvent::with_data("{not json")).as_slice(),
            [StreamItem::Error(_)]
        ));
        let mut stream = GeminiStream::new();
        assert!(matches!(
            stream
                .on_event(&SseEvent::with_data(
                    r#"{"candidates": [{"content": {"parts": "x"}}]}"#
                ))
                .as_slice(),
            [StreamItem::Error(_)]
        ));
        // Keep-alive blank events are nothing.
        assert!(GeminiStream::default()
            .on_event(&SseEvent::with_data(""))
            .is_empty());
    }
}
