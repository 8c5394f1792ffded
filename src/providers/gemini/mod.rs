//! The `gemini` wire format (Gemini generateContent): Google's Gemini API behind the OpenAI
//! chat-completions shape, so a client sees the same tools, streaming, finish reasons and usage.
//!
//! Request (`POST {base}/v1beta/models/{id}:generateContent`, or `:streamGenerateContent?alt=sse`;
//! the key in `x-goog-api-key`, never in the URL):
//!
//! | OpenAI | Gemini |
//! |---|---|
//! | `system` / `developer` messages (anywhere) | `systemInstruction` (texts joined by a blank line); a request of system messages only sends them as the user turn |
//! | `user` / `assistant` | `user` / `model` turns; consecutive turns of one role merged; empty texts left out |
//! | `image_url` data URL / http(s) URL | `inlineData` / `fileData` (MIME type from the extension, default `image/jpeg`) |
//! | assistant `tool_calls` | `functionCall` parts (`arguments` must be a JSON object) |
//! | `tool` messages | `functionResponse` parts in a `user` turn, named after the call with that `tool_call_id`; content that is a JSON object is the response, other text is `{"content": text}` |
//! | `tools` | `functionDeclarations`, the schema cleaned to Gemini's subset (below) |
//! | `tool_choice` auto / none / required / named | `functionCallingConfig` AUTO / NONE / ANY / ANY + `allowedFunctionNames` |
//! | `temperature`, `top_p`, `stop`, `seed` | `generationConfig` fields of the same meaning (a seed outside 32 bits wraps into it) |
//! | `presence_penalty`, `frequency_penalty` | dropped: Gemini 2.5+ answers 400 to any penalty |
//! | the gateway's output ceiling | `generationConfig.maxOutputTokens`, always |
//! | `response_format` json_object / json_schema | `responseMimeType: application/json` / plus `responseSchema` (cleaned) |
//! | `reasoning_effort` | `generationConfig.thinkingConfig`: `thinkingLevel` on Gemini 3+ (Pro `low`/`high`, Flash also `minimal`/`medium`), `thinkingBudget` on 2.5 ([`thinking_config`]) |
//! | `logprobs`, `top_logprobs`, `user`, `parallel_tool_calls`, `logit_bias`, `n`, `metadata`, `store`, `service_tier`, `verbosity`, `prompt_cache_*`, `safety_identifier`, `modalities`, `audio`, `prediction`, `web_search_options`, `moderation` | dropped, named in the warnings |
//! | message `name`s, image `detail`, tool `strict`, `cache_control` | dropped |
//!
//! Schemas keep Gemini's OpenAPI subset: `type`, `format` (string: `enum`/`date-time`; number:
//! `float`/`double`; integer: `int32`/`int64`), `description`, `nullable`, `enum` (strings), `items`,
//! `properties`, `required` (only names that are properties), `anyOf`, `minimum`/`maximum`,
//! `min/maxItems`, `min/maxLength`, `min/maxProperties`, `pattern`, `propertyOrdering`. Local `$ref`s
//! are inlined from `$defs`/`definitions`; `"type": [T, "null"]` and `anyOf` with a null branch
//! become `nullable`; `oneOf` becomes `anyOf`, `allOf` is merged, `const` becomes a one-value enum;
//! enums of numbers move into the description. Everything else (`additionalProperties`, `$schema`,
//! `default`, `examples`, `title`, `strict`, ...) is removed, recursively.
//!
//! Gemini 3 (and later) models answer 400 to a replayed `functionCall` without a thought
//! signature. OpenAI messages cannot carry one back, so the first `functionCall` of each model turn
//! gets Google's documented placeholder for history the model did not see signed
//! (`skip_thought_signature_validator`); Gemini 1.x/2.x models, which do not require it, get none.
//!
//! Response: text parts (not `thought` ones) joined into `content`; `functionCall` parts become
//! `tool_calls` with generated ids (`call_<hex>`); finish reasons map as
//! [`response::finish_reason`] says; `usageMetadata` becomes usage (thinking tokens count as
//! completion tokens). A stream's events are whole `GenerateContentResponse`s; Gemini sends no
//! `[DONE]`, so the chunk with a finish reason ends it.
//!
//! ## The files
//!
//! - `request.rs`: the request as typed wire structs (`GenerateContentRequest`: `Content` turns
//!   of `Part`s, one `Tool` of `FunctionDeclaration`s, `ToolConfig`, `GenerationConfig` with its
//!   [`ThinkingConfig`]) borrowing the canonical request's texts, names and URLs; only the
//!   cleaned schemas, function-call `args` and `functionResponse.response` are JSON values. Its
//!   tests check the bodies of representative requests against `captured_requests.json`.
//! - `schema.rs`: the schema cleaner (JSON Schema in, Gemini's subset out).
//! - `response.rs`: a whole answer, an error body and its retry hint.
//! - `stream.rs`: a stream, event by event.

mod request;
mod response;
mod schema;
mod stream;

pub use request::{build_request, thinking_config, ThinkingConfig, ThinkingLevel, THINKING_BUDGETS};
pub use response::{parse_completion, retry_delay_secs};
pub use stream::GeminiStream;

use super::{Built, Outgoing, StreamTranslator, Upstream};
use crate::canonical::{Annotations, ChatCompletion};
use crate::error::ApiResult;

/// The `gemini` wire. Gemini has no place for `cache_control` or `reasoning_content` notes.
pub struct GeminiWire;

impl super::Wire for GeminiWire {
    fn build_request(
        &self,
        upstream: &Upstream,
        outgoing: &Outgoing<'_>,
        _notes: &Annotations,
    ) -> ApiResult<Built> {
        build_request(upstream, outgoing)
    }
    fn parse_completion(&self, body: &str) -> Result<ChatCompletion, String> {
        parse_completion(body)
    }
    fn stream_translator(&self) -> Box<dyn StreamTranslator> {
        Box::new(GeminiStream::new())
    }
    /// Gemini puts its retry hint in the body (`RetryInfo`), not in a header.
    fn retry_hint_secs(&self, error_body: &str) -> Option<u64> {
        retry_delay_secs(error_body)
    }
}
