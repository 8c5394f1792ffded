//! Token estimates, for when a number is needed before (or without) the provider's count.
//!
//! - **Usage estimate** (an upstream that sent no usage): `ceil(characters / 4)` of the text,
//!   plus 4 tokens per message for the prompt, the rule of thumb OpenAI documents for English.
//!   It is never zero when any text was delivered. Usage so estimated is marked `estimated`.
//! - **Hold estimate** (before the call): deliberately generous so the hold covers the real
//!   prompt: `ceil(UTF-8 bytes / 3)` + 8 per message + 1,500 per image part + the size of the
//!   tools' JSON / 3. Overestimating only reserves more; the charge is the actual cost.

use crate::chat::types::{ChatRequest, Content, ContentPart, Message};

const IMAGE_HOLD_TOKENS: u64 = 1500;

/// `ceil(chars / 4)`: the documented usage estimate for a piece of generated or prompt text.
pub fn text_tokens(chars: u64) -> u64 {
    chars.div_ceil(4)
}

fn message_content(message: &Message) -> Option<&Content> {
    match message {
        Message::System { content, .. }
        | Message::Developer { content, .. }
        | Message::User { content, .. }
        | Message::Tool { content, .. } => Some(content),
        Message::Assistant { content, .. } => content.as_ref(),
    }
}

fn tool_call_chars(message: &Message) -> usize {
    match message {
        Message::Assistant {
            tool_calls: Some(calls),
            ..
        } => calls
            .iter()
            .map(|c| c.function.name.len() + c.function.arguments.chars().count())
            .sum(),
        _ => 0,
    }
}

/// The usage-rule prompt estimate.
pub fn prompt_tokens(request: &ChatRequest) -> u64 {
    let chars: usize = request
        .messages
        .iter()
        .map(|m| message_content(m).map_or(0, |c| c.text().chars().count()) + tool_call_chars(m))
        .sum();
    text_tokens(chars as u64) + 4 * request.messages.len() as u64
}

/// The generous prompt estimate a hold is sized from.
pub fn prompt_tokens_for_hold(request: &ChatRequest) -> u64 {
    let mut bytes = 0u64;
    let mut images = 0u64;
    for message in &request.messages {
        match message_content(message) {
            Some(Content::Text(text)) => bytes += text.len() as u64,
            Some(Content::Parts(parts)) => {
                for part in parts {
                    match part {
                        ContentPart::Text { text } => bytes += text.len() as u64,
                        ContentPart::ImageUrl { .. } | ContentPart::File { .. } => images += 1,
                    }
                }
            }
            None => {}
        }
        bytes += tool_call_chars(message) as u64 * 4;
    }
    let tools = request
        .tools
        .as_ref()
        .map_or(0, |t| serde_json::to_string(t).map_or(0, |s| s.len() as u64));
    (bytes + tools).div_ceil(3) + 8 * request.messages.len() as u64 + IMAGE_HOLD_TOKENS * images
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(messages: serde_json::Value) -> ChatRequest {
        serde_json::from_value(json!({"model": "m", "messages": messages})).unwrap()
    }

    #[test]
    fn any_delivered_text_estimates_to_at_least_one_token() {
        assert_eq!(text_tokens(0), 0);
        assert_eq!(text_tokens(1), 1);
        assert_eq!(text_tokens(8), 2);
        assert_eq!(text_tokens(9), 3);
    }

    #[test]
    fn the_prompt_estimate_counts_characters_and_messages() {
        let r = request(
            json!([{"role": "system", "content": "12345678"}, {"role": "user", "content": "Привет"}]),
        );
        assert_eq!(prompt_tokens(&r), 2 + 2 + 8);
    }

    #[test]
    fn the_hold_estimate_is_at_least_the_usage_estimate() {
        for text in [
            "a b c",
            "Привет, мир! Как дела?",
            "x",
            "the quick brown fox jumps over the lazy dog",
        ] {
            let r = request(json!([{"role": "user", "content": text}]));
            assert!(prompt_tokens_for_hold(&r) >= prompt_tokens(&r), "{text}");
            // And at least one token per word, which is how the mock provider counts.
            assert!(prompt_tokens_for_hold(&r) >= text.split_whitespace().count() as u64);
        }
        let with_image = request(
            json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]),
        );
        assert!(prompt_tokens_for_hold(&with_image) >= IMAGE_HOLD_TOKENS);
    }
}
