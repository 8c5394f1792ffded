//! How a route family sees a chat: OpenAI's `chat.completion.chunk` events with an optional
//! usage chunk before `[DONE]`, or Stone's content / usage / billing events. Pure: turns canonical
//! chunks and the final bill into SSE frames.

use serde_json::json;

use crate::billing::money::Nanos;
use crate::billing::reservation::Bill;
use crate::canonical::{ChatCompletionChunk, Usage};
use crate::error::{ApiError, Family};

/// Usage in OpenAI's shape plus what it cost (`cost_usd`) and whether it was estimated.
pub fn openai_usage(bill: &Bill) -> Usage {
    let mut usage = Usage::from_tokens(&bill.usage());
    usage
        .extra
        .insert("cost_usd".into(), json!(bill.cost.as_usd_f64()));
    usage.extra.insert("estimated".into(), json!(bill.estimated()));
    usage
}

pub fn frame(data: &str) -> String {
    format!("data: {data}\n\n")
}

pub trait Render {
    /// The frame for one canonical chunk, if this family shows it.
    fn chunk(&mut self, chunk: ChatCompletionChunk) -> Option<String>;
    /// The frames after the last chunk of a stream that ended well.
    fn finish(&mut self, bill: &Bill) -> String;
    /// Whether those frames show the balance after the charge (so the settlement comes first).
    fn shows_balance(&self) -> bool;
    /// The frame that ends a stream that failed midway.
    fn error(&mut self, error: &ApiError) -> String;
}

/// OpenAI's stream, with the gateway's id, creation time and the model id the client asked for.
pub struct OpenAiRender {
    pub id: String,
    pub model: String,
    pub created: i64,
    pub include_usage: bool,
}

impl Render for OpenAiRender {
    fn chunk(&mut self, mut chunk: ChatCompletionChunk) -> Option<String> {
        if chunk.choices.is_empty() {
            return None;
        }
        chunk.id.clone_from(&self.id);
        chunk.model.clone_from(&self.model);
        chunk.created = self.created;
        chunk.object = "chat.completion.chunk".into();
        chunk.usage = None;
        if self.include_usage {
            // As OpenAI does: with include_usage every chunk carries `usage: null` until the last.
            chunk.extra.insert("usage".into(), serde_json::Value::Null);
        }
        serde_json::to_string(&chunk).ok().map(|data| frame(&data))
    }

    fn finish(&mut self, bill: &Bill) -> String {
        let mut out = String::new();
        if self.include_usage {
            let last = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": openai_usage(bill),
            });
            out.push_str(&frame(&last.to_string()));
        }
        out.push_str(&frame("[DONE]"));
        out
    }

    fn shows_balance(&self) -> bool {
        false
    }

    fn error(&mut self, error: &ApiError) -> String {
        frame(&error.body(Family::OpenAi).to_string())
    }
}

/// Stone's `/api/chat` stream: content deltas, then usage, then billing, then `[DONE]`.
pub struct StoneRender;

impl Render for StoneRender {
    fn chunk(&mut self, chunk: ChatCompletionChunk) -> Option<String> {
        let content: String = chunk
            .choices
            .iter()
            .filter_map(|c| c.delta.content.as_deref())
            .collect();
        if content.is_empty() {
            return None;
        }
        Some(frame(
            &json!({"choices": [{"delta": {"content": content}}]}).to_string(),
        ))
    }

    fn finish(&mut self, bill: &Bill) -> String {
        let tokens = bill.usage();
        let usage = json!({"usage": {
            "tokens_in": tokens.input,
            "tokens_out": tokens.output,
            "tokens_cached": tokens.cache_read,
        }});
        let billing = json!({"billing": {
            "tokens_in": tokens.input,
            "tokens_out": tokens.output,
            "tokens_cached": tokens.cache_read,
            "cost_usd": bill.cost.as_usd_f64(),
            "balance_usd": bill.balance_after.map(Nanos::as_usd_f64),
            "billing_mode": bill.mode.as_str(),
        }});
        [
            frame(&usage.to_string()),
            frame(&billing.to_string()),
            frame("[DONE]"),
        ]
        .concat()
    }

    fn shows_balance(&self) -> bool {
        true
    }

    fn error(&mut self, error: &ApiError) -> String {
        frame(&error.body(Family::Stone).to_string()) + &frame("[DONE]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::reservation::Consumption;
    use crate::billing::usage::TokenUsage;
    use crate::billing::BillingMode;
    use crate::canonical::Delta;
    use crate::error::ErrorKind;

    fn chunk(content: &str) -> ChatCompletionChunk {
        let delta = Delta {
            content: Some(content.into()),
            ..Default::default()
        };
        ChatCompletionChunk::one_choice("upstream-id".into(), "upstream-model".into(), 1, delta, None)
    }

    fn bill() -> Bill {
        Bill {
            consumption: Consumption::Tokens {
                usage: TokenUsage::new(15, 82),
                estimated: false,
            },
            cost: Nanos(308_700),
            balance_after: Some(Nanos(9_990_000_000)),
            mode: BillingMode::PerToken,
        }
    }

    #[test]
    fn openai_chunks_carry_the_gateways_id_and_the_requested_model() {
        let mut render = OpenAiRender {
            id: "chatcmpl-1".into(),
            model: "gpt-4o-mini".into(),
            created: 7,
            include_usage: false,
        };
        let frame = render.chunk(chunk("Hi")).unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(frame.trim().strip_prefix("data: ").unwrap().as_bytes()).unwrap();
        assert_eq!(
            (
                value["id"].as_str(),
                value["model"].as_str(),
                value["created"].as_i64()
            ),
            (Some("chatcmpl-1"), Some("gpt-4o-mini"), Some(7))
        );
        assert_eq!(value["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(render.finish(&bill()), "data: [DONE]\n\n");
        assert!(!render.shows_balance() && StoneRender.shows_balance());
    }

    #[test]
    fn include_usage_adds_a_last_chunk_with_empty_choices_and_the_cost() {
        let mut render = OpenAiRender {
            id: "c".into(),
            model: "m".into(),
            created: 1,
            include_usage: true,
        };
        let out = render.finish(&bill());
        let (usage, done) = out.split_once("\n\n").unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(usage.strip_prefix("data: ").unwrap().as_bytes()).unwrap();
        assert_eq!(value["choices"], json!([]));
        assert_eq!(
            value["usage"],
            json!({"prompt_tokens": 15, "completion_tokens": 82, "total_tokens": 97,
                   "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0},
                   "cost_usd": 0.000309, "estimated": false})
        );
        assert_eq!(done, "data: [DONE]\n\n");
    }

    #[test]
    fn stone_streams_content_then_usage_then_billing_then_done() {
        let mut render = StoneRender;
        assert_eq!(
            render.chunk(chunk("Привет")).unwrap(),
            "data: {\"choices\":[{\"delta\":{\"content\":\"Привет\"}}]}\n\n"
        );
        assert_eq!(render.chunk(chunk("")), None);
        let end = render.finish(&bill());
        assert_eq!(
            end,
            "data: {\"usage\":{\"tokens_in\":15,\"tokens_out\":82,\"tokens_cached\":0}}\n\n\
             data: {\"billing\":{\"tokens_in\":15,\"tokens_out\":82,\"tokens_cached\":0,\"cost_usd\":0.000309,\"balance_usd\":9.99,\"billing_mode\":\"per_token\"}}\n\n\
             data: [DONE]\n\n"
        );
        let error = render.error(&ApiError::new(ErrorKind::BadGateway, "upstream_error", "failed"));
        assert!(error.starts_with("data: {\"detail\":{\"error\":\"failed\""));
    }
}
