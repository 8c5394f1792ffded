//! # flint-mock — Flint's mock upstream provider
//!
//! A deterministic stand-in for every upstream the gateway talks to, for offline dev mode,
//! end-to-end tests and benchmarks. It speaks each provider's real wire format (including
//! its error envelopes and stream framing), records every request, and takes per-request
//! behaviour knobs from markers in the prompt.
//!
//! ## Routes (matched by path suffix, so a base URL may carry any prefix)
//!
//! | route | auth |
//! |---|---|
//! | `POST …/chat/completions` (OpenAI) | `Authorization: Bearer <key>` |
//! | `POST …/v1/messages` (Anthropic), `…/v1/messages/count_tokens` | `x-api-key: <key>` + `anthropic-version` |
//! | `POST …/models/{model}:generateContent`, `:streamGenerateContent[?alt=sse]`, `:countTokens` (Gemini) | `x-goog-api-key: <key>` or `?key=` |
//! | `POST …/images/generations` (OpenAI) | Bearer |
//! | `POST …/emails` (Resend) | Bearer |
//! | `GET …/tokeninfo?id_token=T` (Google) | — |
//! | `POST …/token`, `GET …/info` (Yandex OAuth) | client secret / `Authorization: OAuth <token>` |
//! | `POST …/payments`, `GET …/payments/{id}` (YooKassa v3) | Basic, `Idempotence-Key` |
//! | `GET/DELETE /__mock/requests[?contains=S]`, `GET /__mock/health`, `GET /__mock/image.png`, `POST /__mock/reset`, `POST /__mock/yookassa/payments/{id}/succeed|cancel`, `GET /__mock/yookassa/confirm/{id}` | — |
//!
//! ## Token counting
//!
//! The mock's "token" is a whitespace-separated word ([`count_words`]):
//!
//! - **prompt tokens** = the words of every text the request carries: the system prompt,
//!   every message's text content / text parts (any role), and tool results (OpenAI `tool`
//!   messages, Anthropic `tool_result` blocks, Gemini `functionResponse` — see
//!   [`gemini::function_response_text`]). Images, files, tool definitions and the arguments
//!   of earlier tool calls count 0. `[[mock …]]` markers are text and count too.
//!   [`Conversation::prompt_tokens`] computes it from a parsed request
//!   ([`openai::parse`], [`anthropic::parse`], [`gemini::parse`]).
//! - **completion tokens** = the number of content chunks streamed: each text chunk is one
//!   token; a tool-call answer counts its argument fragments (`{`, one per property, `}` for
//!   each call). [`plan`] gives the whole [`Answer`], usage included; streamed and
//!   non-streamed answers to the same request carry the same text and usage.
//!
//! ## Answers
//!
//! - text: `"Mock answer ё→ 3 4 5 6 7"` — N chunks (`Mock`, ` answer`, ` ё→`, ` 3`, …), N from
//!   `--chunks` (default 8) or the `chunks` knob ([`answer::text_chunks`]);
//! - JSON mode (OpenAI `response_format` json_object/json_schema, Gemini
//!   `responseMimeType: application/json`, Anthropic `output_format` json_schema):
//!   `{"answer":"mock ё 3 …"}` in N chunks ([`answer::json_chunks`]);
//! - tools declared, tool choice not none, last message not a tool result: a call to the
//!   named tool (else the first), arguments = each `required` property set to
//!   `"mock-<prop>"` / 1 / true / the first enum value ([`answer::mock_arguments`]);
//!   `tools=2` calls the first two tools (or the first twice);
//! - last message a tool result: `"Tool said: <result text>"`, one chunk per word;
//! - the text stops at the first stop sequence (finish `stop` / `stop_sequence` / `STOP`),
//!   and at the request's max tokens (finish `length` / `max_tokens` / `MAX_TOKENS`) unless
//!   `max_tokens_ignored`.
//!
//! ## Knobs
//!
//! `[[mock ttft=MS delay=MS chunks=N status=CODE retry_after=S error_after=N cut_after=N
//! no_usage tools=N max_tokens_ignored fail_once]]` anywhere in any message text (for
//! images: the prompt; for mail and payments: anything in the body). See [`Knobs`].
//! Non-streamed answers wait `ttft + delay × (chunks − 1)`; `error_after` / `cut_after`
//! apply to streams only; `no_usage` drops usage from streamed and whole answers.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod answer;
pub mod anthropic;
pub mod config;
pub mod error;
pub mod gemini;
pub mod knobs;
pub mod openai;
pub mod record;
pub mod server;
pub mod services;
pub mod stream;
pub mod util;

pub use answer::{count_words, plan, Answer, Conversation, Finish, Reply, ToolCall};
pub use config::Config;
pub use knobs::{Defaults, Knobs};
pub use server::{bind, serve, spawn, MOCK_PNG};

/// A chat wire format, for [`expected_answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Gemini,
}

/// The answer (text or tool calls, finish reason, usage) the mock gives to `body` sent in
/// `provider`'s wire format, with the process `defaults` (`Defaults::default()` unless the
/// mock was started with `--chunks` etc.) — so a test can compute exact expectations.
/// An `Err` is the 400 the mock would answer instead.
pub fn expected_answer(
    provider: Provider,
    body: &serde_json::Value,
    defaults: &Defaults,
) -> Result<Answer, error::WireError> {
    let conv = match provider {
        Provider::OpenAi => openai::parse(body)?.conv,
        Provider::Anthropic => anthropic::parse(body)?,
        Provider::Gemini => gemini::parse(body, "", false)?,
    };
    Ok(plan(&conv, &conv.knobs(), defaults))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expected_answer_matches_the_documented_rule() {
        let body = json!({"model": "m", "messages": [
            {"role": "system", "content": "two words"},
            {"role": "user", "content": "three more words [[mock chunks=2]]"}]});
        let a = expected_answer(Provider::OpenAi, &body, &Defaults::default()).unwrap();
        assert_eq!((a.prompt_tokens, a.completion_tokens), (7, 2));
        assert_eq!(a.text(), "Mock answer");
        let bad = json!({"model": "c", "messages": [{"role": "user", "content": "x"}]});
        assert_eq!(
            expected_answer(Provider::Anthropic, &bad, &Defaults::default())
                .unwrap_err()
                .status,
            400
        );
    }
}
