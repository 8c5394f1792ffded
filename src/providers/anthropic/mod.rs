//! The `anthropic` wire format (Anthropic Messages: `POST {base_url}/v1/messages`, API version
//! [`ANTHROPIC_VERSION`]). The canonical request is OpenAI's chat completion, so this module
//! translates it to a Messages request, and the Messages answer (whole or streamed) back into
//! OpenAI's shapes, so that a client cannot tell that Claude answered except by the text.
//!
//! ## The request
//!
//! - `system` and `developer` messages, wherever they appear, become the top-level `system`
//!   string, joined with a blank line in their order.
//! - `user`, `assistant` and `tool` messages become `messages` of content blocks. Anthropic needs
//!   the roles to alternate and tool results to travel in a `user` turn, so consecutive turns of
//!   the same role are merged into one (a `tool`, `tool`, `user` run becomes one user turn of two
//!   `tool_result` blocks and a text block; `tool_result` blocks are put first in their turn,
//!   as Anthropic requires). A conversation whose first turn is not `user` is refused (400 on
//!   `messages`) rather than silently given an invented user turn.
//! - Anthropic refuses empty and whitespace-only text blocks, so such text is left out (a message
//!   left with no content at all is left out too), and the trailing whitespace of a final
//!   assistant turn (which Anthropic treats as a prefill of its answer) is trimmed.
//! - Assistant `tool_calls` become `tool_use` blocks (`input` = the parsed arguments, which must
//!   be a JSON object; empty arguments count as `{}`), and `tool` messages `tool_result` blocks.
//!   Tool-call ids are sent with any character outside `[A-Za-z0-9_-]` replaced by `_` (the
//!   pattern Anthropic enforces), consistently on both sides, so ids minted elsewhere still pair.
//! - Anthropic refuses a history holding `tool_use`/`tool_result` blocks when the request
//!   declares no `tools` (OpenAI accepts it). Then every tool named in the history is declared
//!   with an open schema and `tool_choice: none`, so the model reads the history but calls none.
//!
//! ## What is dropped, refused or emulated
//!
//! | OpenAI parameter | Anthropic Messages |
//! |---|---|
//! | `max_tokens` / `max_completion_tokens` | `max_tokens` = the gateway's enforced ceiling, always sent (Anthropic requires it) |
//! | `temperature` | sent, clamped to Anthropic's range 0–1 (OpenAI's 1–2 become 1) |
//! | `top_p` | sent, unless `temperature` is also set: current Claude models refuse both together, so `temperature` wins |
//! | `stop` | `stop_sequences`; whitespace-only sequences (e.g. `"\n"`) are dropped (Anthropic refuses them) |
//! | `tools`, `tool_choice`, `parallel_tool_calls: false` | `tools` (`input_schema`), `tool_choice` auto/any/tool/none, `disable_parallel_tool_use: true`; a tool's `strict` is dropped |
//! | `response_format` json_object / json_schema | **emulated**: an instruction appended to `system` asking for JSON only (with the schema); not enforced by the API, so the answer may still stray |
//! | `user` | `metadata.user_id` |
//! | `reasoning_effort` | `thinking: {"type": "enabled", "budget_tokens": N}` ([`THINKING_BUDGETS`], at most half of `max_tokens`, at least 1,024, below `max_tokens`); off (with a warning) when no budget fits, with a forcing `tool_choice`, or when the request continues a tool call or a prefill (Anthropic would want the earlier signed thinking back); with thinking on, `temperature` other than 1 and `top_p` below 0.95 are dropped |
//! | `cache_control` on a content part, a message (its last block) or a tool | `cache_control` on that block / tool (`ttl` kept); a system message with marks becomes `system` blocks; at most the latest four are kept and a 1-hour mark after a 5-minute one is sent as 5-minute (Anthropic's rules) |
//! | `logprobs`, `top_logprobs`, `seed`, `presence_penalty`, `frequency_penalty`, `logit_bias`, `n`, `metadata`, `store`, `service_tier`, `verbosity`, `prompt_cache_*`, `safety_identifier`, `modalities`, `audio`, `prediction`, `web_search_options`, `moderation` | dropped, named in the warnings |
//! | `stream_options` | dropped silently (Anthropic always streams usage) |
//! | message `name`, image `detail` | dropped silently |
//! | `image_url` parts | `data:` URLs (JPEG, PNG, GIF, WebP, base64) → base64 image blocks; http(s) URLs → URL image blocks; anything else is refused (400 naming the part) |
//! | `file` parts | skipped (the chat handler refuses them first) |
//!
//! ## The answer
//!
//! Text blocks are concatenated into `content` (null when there are none), `tool_use` blocks
//! become `tool_calls` (arguments = the input serialized as JSON), other blocks (thinking, server
//! tools) are ignored. `stop_reason` maps to `finish_reason`: `end_turn`, `stop_sequence` and
//! `pause_turn` → `stop`; `max_tokens` and `model_context_window_exceeded` → `length`;
//! `tool_use` → `tool_calls`; `refusal` → `content_filter`. Prompt tokens are `input_tokens`
//! plus the cache read and creation input tokens; `cached_tokens` are the reads, and the writes
//! go to billing by lifetime (`cache_creation.ephemeral_5m_input_tokens` /
//! `ephemeral_1h_input_tokens`; writes without the breakdown are 5-minute ones). Claude's
//! thinking is inside `output_tokens` and not counted apart, so `reasoning_tokens` stay 0.
//!
//! Streams are translated event by event by [`AnthropicStream`].
//!
//! ## The files
//!
//! - `request.rs`: the request as typed wire structs (`MessagesRequest`: `system`, alternating
//!   `Turn`s of `Block`s, `ToolDef`s, `WireToolChoice`, `Thinking`) and their building from the
//!   canonical request: the conversation, images, tool ids and inputs, tools and tool choice, the
//!   thinking budget, the JSON-mode instruction.
//! - `cache.rs`: the request's `cache_control` breakpoints kept within Anthropic's rules.
//! - `response.rs`: a whole answer, its usage and stop reason.
//! - `stream.rs`: a stream, event by event ([`AnthropicStream`]).

mod cache;
mod request;
mod response;
mod stream;

pub use cache::MAX_CACHE_BREAKPOINTS;
pub use request::{build_request, thinking_budget, ANTHROPIC_VERSION, MIN_THINKING_BUDGET, THINKING_BUDGETS};
pub use response::parse_completion;
pub use stream::AnthropicStream;

use super::{Built, Outgoing, StreamTranslator, Upstream};
use crate::canonical::{Annotations, ChatCompletion};
use crate::error::ApiResult;

/// The `anthropic` wire.
pub struct AnthropicWire;

impl super::Wire for AnthropicWire {
    fn build_request(
        &self,
        upstream: &Upstream,
        outgoing: &Outgoing<'_>,
        notes: &Annotations,
    ) -> ApiResult<Built> {
        build_request(upstream, outgoing, notes)
    }
    fn parse_completion(&self, body: &str) -> Result<ChatCompletion, String> {
        parse_completion(body)
    }
    fn stream_translator(&self) -> Box<dyn StreamTranslator> {
        Box::new(AnthropicStream::new())
    }
}

/// The unit tests' shared helpers: the upstream, a checked request, a built request's JSON and
/// warnings, a body's cache annotations.
#[cfg(test)]
mod test_support {
    use serde_json::Value;

    use super::build_request;
    use crate::canonical::{Annotations, ChatRequest};
    use crate::error::ApiResult;
    use crate::providers::{Outgoing, Upstream};

    pub(super) fn upstream() -> Upstream {
        Upstream::for_test("claude-haiku-4.5", "https://api.anthropic.com", "sk-ant-upstream")
    }

    /// A checked request (deserializing checks it).
    pub(super) fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    /// The request built for `body` with `notes`, under `max` output tokens: its JSON and the
    /// warnings.
    pub(super) fn build_with(body: Value, notes: &Annotations, max: u32) -> ApiResult<(Value, Vec<String>)> {
        let req = request(body);
        let built = build_request(
            &upstream(),
            &Outgoing {
                request: &req,
                max_output_tokens: max,
                stream: false,
            },
            notes,
        )?;
        Ok((
            serde_json::from_slice(built.request.body.as_bytes()).unwrap(),
            built.warnings,
        ))
    }

    pub(super) fn notes(body: &Value) -> Annotations {
        crate::chat::params::annotations(body).unwrap()
    }
}
