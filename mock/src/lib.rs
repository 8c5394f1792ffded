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
//! | `POST …/chat/completions` (OpenAI; `/deepseek/…` and `/xai/…` speak those vendors' usage, [`Dialect`]) | `Authorization: Bearer <key>` |
//! | `POST …/responses` (OpenAI Responses API, [`responses`]) | Bearer |
//! | `POST …/embeddings` (OpenAI, [`embeddings`]) | Bearer |
//! | `POST …/v1/messages` (Anthropic), `…/v1/messages/count_tokens` | `x-api-key: <key>` + `anthropic-version` |
//! | `POST …/models/{model}:generateContent`, `:streamGenerateContent[?alt=sse]`, `:countTokens`, `:embedContent`, `:batchEmbedContents` (Gemini) | `x-goog-api-key: <key>` or `?key=` |
//! | `POST …/images/generations` (OpenAI) | Bearer |
//! | `POST …/emails` (Resend) | Bearer |
//! | `GET …/tokeninfo?id_token=T` (Google) | — |
//! | `POST …/token`, `GET …/info` (Yandex OAuth; `info` names the `client_id` a token was exchanged by, or a `client_id` claim of the token) | client secret / `Authorization: OAuth <token>` |
//! | `POST …/payments`, `GET …/payments/{id}`, `POST …/refunds`, `GET …/refunds/{id}` (YooKassa v3) | Basic, `Idempotence-Key` |
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
//!   ([`openai::parse`], [`anthropic::parse`], [`gemini::parse`], [`responses::parse`]).
//!   The cache knobs add their tokens on top: `prompt_tokens` = words + `cache_read` +
//!   `cache_write*` (so the words are the uncached part). count_tokens endpoints answer the
//!   words alone ([`count_tokens`]).
//! - **completion tokens** = the number of content chunks streamed: each text chunk is one
//!   token; a tool-call answer counts its argument fragments (`{`, one per property, `}` for
//!   each call). [`plan`] gives the whole [`Answer`], usage included; streamed and
//!   non-streamed answers to the same request carry the same text and usage.
//! - **reasoning tokens** = the `reasoning=N` knob, on top of the content chunks:
//!   `completion_tokens` = chunks + N. Where the request switches reasoning
//!   ([`ReasoningMode`]): Anthropic reasons only with `thinking` enabled/adaptive, Gemini
//!   not with `thinkingBudget: 0`; Anthropic `thinking` and a Responses `reasoning` object
//!   without the knob give [`DEFAULT_REASONING_TOKENS`]; DeepSeek not with
//!   `thinking: {"type": "disabled"}`. The reasoning text is always [`REASONING_TEXT`].
//! - **choices**: OpenAI's `n` (1–128) gives n identical choices; `completion_tokens` (and
//!   reasoning) count all of them, the prompt once, as OpenAI bills them.
//!
//! Each wire reports the same [`Usage`] ([`Answer::usage`]) its own way; the exact JSON
//! comes from [`openai::usage_json`] (per [`Dialect`]), [`anthropic::usage_json`] /
//! [`anthropic::start_usage_json`] / [`anthropic::delta_usage_json`],
//! [`gemini::usage_json`] and [`responses::usage_json`]. See `mock/USAGE_FORMATS.md`.
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
//! - `echo` knob: `"Heard <turns> turns: <last user text>"`, one chunk per word
//!   ([`answer::echo_text`]; turns = messages / contents / input items);
//! - the text stops at the first stop sequence (finish `stop` / `stop_sequence` / `STOP`),
//!   and at the request's max tokens (finish `length` / `max_tokens` / `MAX_TOKENS` /
//!   Responses `incomplete`) unless `max_tokens_ignored`;
//! - a reasoning answer shows its reasoning first: an Anthropic `thinking` block (signed by
//!   [`anthropic::thinking_signature`]; a thinking block sent back with another signature
//!   is a 400), a Responses `reasoning` item (with `summary` when `reasoning.summary` is
//!   set, `encrypted_content` when `include` asks, [`responses::encrypted_reasoning`]),
//!   DeepSeek `reasoning_content`, a Gemini `thought: true` part with `includeThoughts`.
//!
//! ## Request rules beyond the shape
//!
//! - Anthropic with thinking on: a forcing `tool_choice` (`any`, `tool`) is a 400, and so is a
//!   final assistant turn of `tool_use` answered by `tool_result`s that does not start with
//!   its `thinking` block (Anthropic's wording).
//! - DeepSeek (thinking by default): an assistant message with `tool_calls` but no
//!   `reasoning_content` is a 400 ([`openai::check_dialect`]; [`expected_vendor_answer`]).
//!
//! ## Knobs
//!
//! `[[mock ttft=MS delay=MS chunks=N status=CODE retry_after=S error_after=N cut_after=N
//! no_usage tools=N max_tokens_ignored fail_once cache_read=N cache_write=N cache_ttl=5m|1h
//! cache_write_5m=N cache_write_1h=N reasoning=N echo ping_every=N error_event]]` anywhere
//! in any message text (for images: the prompt; for embeddings: any input text; for mail
//! and payments: anything in the body). See [`Knobs`] and the README.
//! Non-streamed answers wait `ttft + delay × (chunks − 1)`; `error_after` / `cut_after`
//! apply to streams only (content chunks: text, argument fragments, Responses deltas;
//! reasoning events come before them); `no_usage` drops usage from streamed and whole
//! answers. `status=529` is Anthropic's `overloaded_error`.
//!
//! ## Recording
//!
//! Every non-control request is kept: `GET /__mock/requests` gives `method`, `path`,
//! `query`, `headers` (lower-cased names), `body` (parsed JSON) and `raw_body` (the exact
//! text), so a test can assert what reached the upstream unchanged.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod answer;
pub mod anthropic;
pub mod config;
pub mod embeddings;
pub mod error;
pub mod gemini;
pub mod knobs;
pub mod openai;
pub mod record;
pub mod responses;
pub mod server;
pub mod services;
pub mod stream;
pub mod util;

pub use answer::{
    count_words, plan, reasoning_chunks, Answer, Conversation, Finish, ReasoningMode, Reply, ToolCall, Usage,
    DEFAULT_REASONING_TOKENS, REASONING_TEXT,
};
pub use config::Config;
pub use embeddings::{EmbedInput, Embeddings};
pub use knobs::{CacheTtl, Defaults, Knobs};
pub use openai::Dialect;
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

/// The answer an OpenAI-compatible vendor of `dialect` gives `body` (its own request rules
/// applied: DeepSeek without thinking does not reason).
pub fn expected_vendor_answer(
    dialect: Dialect,
    body: &serde_json::Value,
    defaults: &Defaults,
) -> Result<Answer, error::WireError> {
    let mut conv = openai::parse(body)?.conv;
    openai::check_dialect(body, &mut conv, dialect)?;
    Ok(plan(&conv, &conv.knobs(), defaults))
}

/// The usage of the answer to `body` ([`expected_answer`]) in the provider-neutral shape.
pub fn expected_usage(
    provider: Provider,
    body: &serde_json::Value,
    defaults: &Defaults,
) -> Result<Usage, error::WireError> {
    expected_answer(provider, body, defaults).map(|a| a.usage())
}

/// The answer the mock gives a Responses API request (`POST …/responses`); render its
/// usage with [`responses::usage_json`].
pub fn expected_response(body: &serde_json::Value, defaults: &Defaults) -> Result<Answer, error::WireError> {
    let req = responses::parse(body)?;
    Ok(plan(&req.conv, &req.conv.knobs(), defaults))
}

/// What the count_tokens endpoints answer (`input_tokens` / `totalTokens`): the words of
/// the request. OpenAI has no such endpoint: `Provider::OpenAi` counts a chat request.
pub fn count_tokens(provider: Provider, body: &serde_json::Value) -> Result<u64, error::WireError> {
    match provider {
        Provider::OpenAi => openai::parse(body).map(|r| r.conv.prompt_tokens()),
        Provider::Anthropic => anthropic::count_tokens(body),
        Provider::Gemini => gemini::count_tokens(body),
    }
}

/// The vectors and usage of an OpenAI embeddings request (`POST …/embeddings`).
pub fn expected_embeddings(body: &serde_json::Value) -> Result<Embeddings, error::WireError> {
    embeddings::parse_openai(body).map(|r| r.expected())
}

/// The vectors of a Gemini `:embedContent` (`batch` false) or `:batchEmbedContents`
/// request to `model` (the URL's model, without `models/`). Gemini reports no usage.
pub fn expected_gemini_embeddings(
    model: &str,
    batch: bool,
    body: &serde_json::Value,
) -> Result<Vec<Vec<f32>>, error::WireError> {
    embeddings::parse_gemini(model, batch, body).map(|e| embeddings::gemini_vectors(model, &e))
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

    #[test]
    fn the_library_computes_usage_count_and_embeddings() {
        let body = json!({"model": "c", "max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 2000},
            "messages": [{"role": "user", "content": "a b [[mock cache_read=30]]"}]});
        let u = expected_usage(Provider::Anthropic, &body, &Defaults::default()).unwrap();
        assert_eq!((u.input, u.cache_read, u.uncached_input()), (34, 30, 4));
        assert_eq!(
            (u.output, u.reasoning),
            (8 + DEFAULT_REASONING_TOKENS, DEFAULT_REASONING_TOKENS)
        );
        assert_eq!(count_tokens(Provider::Anthropic, &body).unwrap(), 4);
        let r = expected_response(&json!({"model": "m", "input": "one two"}), &Defaults::default()).unwrap();
        assert_eq!(r.prompt_tokens, 2);
        let e =
            expected_embeddings(&json!({"model": "text-embedding-3-small", "input": ["a b", "c"]})).unwrap();
        assert_eq!((e.vectors.len(), e.prompt_tokens), (2, 3));
        let g = expected_gemini_embeddings(
            "text-embedding-004",
            false,
            &json!({"content": {"parts": [{"text": "x"}]}}),
        );
        assert_eq!(g.unwrap()[0].len(), 768);
    }
}
