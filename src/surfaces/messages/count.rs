//! `POST /v1/messages/count_tokens` for models other than Claude: the gateway's estimate of
//! what the model would be sent, by the rule the rest of the gateway uses for text
//! (`ceil(characters / 4)`, plus 4 tokens per message) and a fixed count per image. Pure: no
//! upstream call, nothing charged. Claude models get Anthropic's own count (`native`).

use serde_json::{json, Value};

use super::translate::system_text;
use super::types::{Block, Content, KnownBlock, MessagesRequest, Role, Tool};
use crate::billing::estimate::text_tokens;

/// What an image costs at most at Anthropic (about 1.15 megapixels at `w × h / 750`), used for
/// every image: other vendors' image tokens vary, and a count should not come out low.
pub const IMAGE_TOKENS: u64 = 1_600;

/// Tokens of framing per message, as in `billing::estimate`.
const PER_MESSAGE: u64 = 4;

#[derive(Debug, Default)]
struct Tally {
    chars: u64,
    images: u64,
}

impl Tally {
    fn text(&mut self, text: &str) {
        self.chars += text.chars().count() as u64;
    }

    fn content(&mut self, content: &Content<'_>) {
        match content {
            Content::Text(text) => self.text(text),
            Content::Blocks(blocks) => blocks.iter().for_each(|b| self.block(b)),
        }
    }

    fn block(&mut self, block: &Block<'_>) {
        match block {
            Block::Known(KnownBlock::Text { text, .. }) => self.text(text),
            Block::Known(KnownBlock::Image { .. }) => self.images += 1,
            Block::Known(KnownBlock::Document { source, .. }) => {
                for key in ["data", "content"] {
                    if let Some(value) = source.get(key) {
                        match value {
                            Value::String(text) => self.text(text),
                            other => self.text(&other.to_string()),
                        }
                    }
                }
            }
            Block::Known(KnownBlock::ToolUse { name, input, .. }) => {
                self.text(name);
                self.text(&input.to_string());
            }
            Block::Known(KnownBlock::ToolResult { content, .. }) => {
                if let Some(content) = content {
                    self.content(content);
                }
            }
            // Claude's reasoning is not sent to other models.
            Block::Known(KnownBlock::Thinking { .. } | KnownBlock::RedactedThinking { .. }) => {}
            Block::Other(value) => self.text(&value.to_string()),
        }
    }
}

fn tally(request: &MessagesRequest<'_>) -> Tally {
    let mut tally = Tally::default();
    if let Some(system) = &request.system {
        tally.text(&system_text(system));
    }
    for message in &request.messages {
        if message.role == Role::System && message.content.is_empty() {
            continue;
        }
        tally.content(&message.content);
    }
    for tool in request.tools.iter().flatten() {
        if let Tool::Custom(custom) = tool {
            tally.text(&custom.name);
            tally.text(custom.description.as_deref().unwrap_or_default());
            tally.text(&custom.input_schema.to_string());
        }
    }
    tally
}

fn entries(request: &MessagesRequest<'_>) -> u64 {
    request.messages.len() as u64 + u64::from(request.system.is_some())
}

/// The estimated input tokens of `request` for a model other than Claude (and the context
/// check's estimate for any model).
pub fn estimate_input_tokens(request: &MessagesRequest<'_>) -> u64 {
    let tally = tally(request);
    text_tokens(tally.chars) + PER_MESSAGE * entries(request) + IMAGE_TOKENS * tally.images
}

/// Anthropic's count_tokens answer.
pub fn count_tokens_body(input_tokens: u64) -> Value {
    json!({ "input_tokens": input_tokens })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::messages::types::parse;

    fn estimate(body: Value) -> u64 {
        let text = body.to_string();
        estimate_input_tokens(&parse(text.as_bytes()).unwrap())
    }

    #[test]
    fn text_counts_a_token_per_four_characters_plus_framing() {
        // 8 + 4 characters → 3 tokens; two entries (system + one message) → 8.
        assert_eq!(
            estimate(
                json!({"model": "m", "system": "12345678", "messages": [{"role": "user", "content": "abcd"}]})
            ),
            3 + 8
        );
        assert_eq!(
            estimate(json!({"model": "m", "messages": [{"role": "user", "content": "Привет"}]})),
            2 + 4
        );
    }

    #[test]
    fn images_tools_and_tool_traffic_count_and_thinking_does_not() {
        let base = estimate(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
        let with_image = estimate(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi"}, {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]}));
        assert_eq!(with_image, base + IMAGE_TOKENS);
        let with_tool = estimate(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "weather", "description": "Current weather", "input_schema": {"type": "object"}}]}),
        );
        assert!(with_tool > base + 5, "{with_tool}");
        let thinking = json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "a very long chain of thought", "signature": "s"},
                                              {"type": "tool_use", "id": "t", "name": "f", "input": {"q": "x"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "result text"}]}]});
        let n = estimate(thinking);
        let expected_chars = 2 + 1 + r#"{"q":"x"}"#.len() as u64 + "result text".len() as u64;
        assert_eq!(n, text_tokens(expected_chars) + 3 * PER_MESSAGE);
    }

    #[test]
    fn claude_codes_request_gets_a_plausible_count() {
        let capture: Value =
            serde_json::from_slice(include_str!("fixtures/claude-code-unknown-model.json").as_bytes())
                .unwrap();
        let n = estimate(capture["body"].clone());
        // The sanitized capture keeps its tool schemas (about 9 KB of JSON).
        assert!((1_000..20_000).contains(&n), "{n}");
        assert_eq!(count_tokens_body(n), json!({"input_tokens": n}));
    }
}
