//! Token estimates, for when a number is needed before (or without) the provider's count.
//!
//! - **Usage estimate** (an upstream that sent no usage): `ceil(characters / 4)` of the text,
//!   plus 4 tokens per message for the prompt, the rule of thumb OpenAI documents for English.
//!   It is never zero when any text was delivered. Usage so estimated is marked `estimated`.
//!   Embedding inputs (Gemini reports no usage for them): `ceil(characters / 4)` of each text,
//!   the length of each token array.
//! - **Hold estimate** (before the call): deliberately generous so the hold covers the real
//!   prompt, and taken from the body really sent upstream, so nothing the gateway adds or
//!   translates (tools, schemas pasted into a system prompt, file text) escapes it:
//!   `ceil(UTF-8 bytes / 3)` of every string in the body + 3 per object or array + each image
//!   by its dimensions (the largest of Anthropic's `w×h/750`, Gemini's 258 per 768-px tile and
//!   OpenAI's tiles; 1,500 when its size can't be read). Overestimating only reserves more;
//!   the charge is the actual cost.

use crate::canonical::{ChatRequest, Content, Message};

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

/// The usage-rule prompt estimate: `ceil(characters / 4)` of the messages' text, tool calls,
/// tool definitions and response schema, plus 4 per message. The context-window check uses it.
pub fn prompt_tokens(request: &ChatRequest) -> u64 {
    let chars: usize = request
        .messages
        .iter()
        .map(|m| message_content(m).map_or(0, Content::text_chars) + tool_call_chars(m))
        .sum();
    let json_chars = |value: Option<String>| value.map_or(0, |json| json.chars().count());
    let tools = json_chars(request.tools.as_ref().and_then(|t| serde_json::to_string(t).ok()));
    let schema = json_chars(
        request
            .response_format
            .as_ref()
            .and_then(|f| serde_json::to_string(f).ok()),
    );
    text_tokens((chars + tools + schema) as u64) + 4 * request.messages.len() as u64
}

/// Base64 characters read to find an image's size (JPEG headers may sit after a large EXIF block).
const IMAGE_HEADER_B64_CHARS: usize = 128 * 1024;

/// The hold estimate of an upstream request body (see the module's documentation).
pub fn hold_tokens_of_body(body: &str) -> crate::error::ApiResult<u64> {
    let value: serde_json::Value = serde_json::from_slice(body.as_bytes())
        .map_err(|e| crate::error::ApiError::internal(format!("an upstream body is not JSON: {e}")))?;
    Ok(hold_tokens_of_value(&value))
}

fn hold_tokens_of_value(value: &serde_json::Value) -> u64 {
    use serde_json::Value;
    match value {
        Value::String(text) => match data_url_image(text) {
            Some(base64) => image_tokens(base64),
            None if text.starts_with("http://") || text.starts_with("https://") => {
                (text.len() as u64).div_ceil(3)
            }
            None => (text.len() as u64).div_ceil(3),
        },
        Value::Array(items) => 3 + items.iter().map(hold_tokens_of_value).sum::<u64>(),
        Value::Object(map) => {
            // Inline base64 with its media type beside it: Anthropic `source`, Gemini `inlineData`.
            let media = ["media_type", "mimeType", "mime_type"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str));
            let image_data = media
                .filter(|m| m.starts_with("image/"))
                .and_then(|_| map.get("data").and_then(Value::as_str));
            let mut tokens = 3;
            for (key, item) in map {
                tokens += match (key.as_str(), image_data) {
                    ("data", Some(base64)) => image_tokens(base64),
                    // An image given by URL to a model that fetches it: its size is unknown.
                    ("image_url" | "url", _) if item.as_str().is_some_and(|u| u.starts_with("http")) => {
                        IMAGE_HOLD_TOKENS
                    }
                    _ => hold_tokens_of_value(item),
                };
            }
            tokens
        }
        _ => 1,
    }
}

/// The base64 payload of a `data:image/...;base64,` URL.
fn data_url_image(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("data:image/")?;
    let (_, data) = rest.split_once(";base64,")?;
    Some(data)
}

pub use crate::canonical::is_non_image_data_url;

/// An image's tokens by its dimensions (the most any provider counts), or the default when
/// they can't be read.
fn image_tokens(base64: &str) -> u64 {
    use base64::Engine;
    let head = &base64[..base64.len().min(IMAGE_HEADER_B64_CHARS) / 4 * 4];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(head)
        .unwrap_or_default();
    match image_size(&bytes) {
        Some((w, h)) => tokens_for_size(w, h),
        None => IMAGE_HOLD_TOKENS.max((base64.len() as u64) / 3 / 750),
    }
}

/// The largest of Anthropic's `w×h/750` (before its downscaling), Gemini's 258 per 768-px tile,
/// and OpenAI's 85 + 170 per 512-px tile.
pub fn tokens_for_size(width: u64, height: u64) -> u64 {
    let (w, h) = (width.max(1), height.max(1));
    let anthropic = (w * h).div_ceil(750);
    let gemini = 258 * w.div_ceil(768) * h.div_ceil(768);
    let openai = 85 + 170 * w.div_ceil(512) * h.div_ceil(512);
    anthropic.max(gemini).max(openai)
}

/// Width and height from a PNG, GIF, JPEG or WebP header.
pub fn image_size(bytes: &[u8]) -> Option<(u64, u64)> {
    let be16 = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u64::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let le16 = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let be32 = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    };
    let le24 = |i: usize| {
        bytes
            .get(i..i + 3)
            .map(|b| u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16)
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(16)?, be32(20)?));
    }
    if bytes.starts_with(b"GIF8") {
        return Some((le16(6)?, le16(8)?));
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return match bytes.get(12..16)? {
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let bits = bytes.get(21..25)?;
                let v = u32::from_le_bytes([bits[0], bits[1], bits[2], bits[3]]);
                Some((u64::from(v & 0x3fff) + 1, u64::from((v >> 14) & 0x3fff) + 1))
            }
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            _ => None,
        };
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 9 < bytes.len() {
            if bytes[i] != 0xFF {
                i += 1;
                continue;
            }
            let marker = bytes[i + 1];
            let is_frame = (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker);
            if is_frame {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) || marker == 0xFF {
                i += if marker == 0xFF { 1 } else { 2 };
                continue;
            }
            i += 2 + usize::try_from(be16(i + 2)?).ok()?;
        }
    }
    None
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
            let body = serde_json::to_string(&r).unwrap();
            let hold = hold_tokens_of_body(&body).unwrap();
            assert!(hold >= prompt_tokens(&r), "{text}");
            // And at least one token per word, which is how the mock provider counts.
            assert!(hold >= text.split_whitespace().count() as u64);
        }
    }
}

#[cfg(test)]
mod body_tests {
    use super::*;
    use serde_json::json;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 6, 0, 0, 0]);
        bytes
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn every_string_of_the_body_counts_wherever_it_sits() {
        let schema_text = "x".repeat(300_000);
        let stuffed = json!({"model": "m", "max_tokens": 1, "system": format!("Answer in this schema: {schema_text}"),
                             "messages": [{"role": "user", "content": "hi"}]});
        assert!(hold_tokens_of_body(&stuffed.to_string()).unwrap() >= 100_000);
        let plain = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert!(hold_tokens_of_body(&plain.to_string()).unwrap() < 50);
    }

    #[test]
    fn images_are_sized_by_their_dimensions_in_every_wire() {
        let small = b64(&png(64, 64));
        let large = b64(&png(4096, 4096));
        assert_eq!(image_size(&png(800, 600)), Some((800, 600)));
        let openai = |data: &str| json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{data}")}}]}]});
        let gemini = |data: &str| json!({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": data}}]}]});
        let anthropic = |data: &str| json!({"messages": [{"content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]}]});
        for wire in [openai, gemini, anthropic] {
            let small_tokens = hold_tokens_of_value(&wire(&small));
            let large_tokens = hold_tokens_of_value(&wire(&large));
            assert!(small_tokens < 1000, "{small_tokens}");
            assert!(large_tokens >= tokens_for_size(4096, 4096), "{large_tokens}");
            assert!(large_tokens > 10 * small_tokens);
        }
    }

    #[test]
    fn jpeg_gif_and_webp_headers_are_read() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        jpeg.extend([0xFF, 0xC0, 0x00, 0x11, 0x08, 0x02, 0x58, 0x03, 0x20, 0x03]);
        assert_eq!(image_size(&jpeg), Some((800, 600)));
        let gif = [b"GIF89a".as_slice(), &[0x20, 0x03, 0x58, 0x02]].concat();
        assert_eq!(image_size(&gif), Some((800, 600)));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0\0\0\0\0".to_vec();
        webp.extend([0x1F, 0x03, 0x00, 0x57, 0x02, 0x00]);
        assert_eq!(image_size(&webp), Some((800, 600)));
        assert_eq!(image_size(b"not an image"), None);
    }

    #[test]
    fn non_image_data_urls_are_told_apart() {
        assert!(is_non_image_data_url("data:application/pdf;base64,JVBE"));
        assert!(!is_non_image_data_url("data:image/png;base64,iVBO"));
        assert!(!is_non_image_data_url("https://example.com/a.png"));
    }
}
