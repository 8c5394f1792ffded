//! Anthropic's Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`, and the
//! Anthropic shape of `GET /v1/models`) for every model of the catalog: what Claude Code and
//! the Anthropic SDKs speak. The pure parts; the handler wires them into the metered pipeline:
//!
//! ```text
//! parse (types::parse) → validate (Anthropic's rules, every model) → look up the model (route)
//! → Claude: native::messages_request(max_output)        + relay::NativeRelay
//!   other:  translate::chat_request → providers::build_request(Outgoing { max_output }) + relay::TranslatedRelay
//! ```
//!
//! ## What the translation to other models keeps, drops and refuses
//!
//! | Anthropic request | non-Claude model |
//! |---|---|
//! | `system` (string or text blocks) | a system message; Claude Code's `x-anthropic-billing-header` block is left out |
//! | `role: "system"` turns (with a mid-conversation beta, see `validate`) | system messages in place |
//! | text, `image` (base64, URL) blocks | text and `image_url` parts (base64 as a `data:` URL) |
//! | `image` from the Files API, `document` PDFs or Files API documents | **refused** (400 naming the block) |
//! | `document` with a `text` or `content` source, `search_result` | text parts |
//! | `tool_use` / `tool_result` (string or blocks, `is_error`) | assistant `tool_calls` / `tool` messages (`Error: ` prefixed); images in a result follow as a user message |
//! | `thinking` / `redacted_thinking` blocks in the history | dropped (Claude's signed reasoning means nothing to another model) |
//! | server-tool blocks in the history (`server_tool_use`, `web_search_tool_result`, ...) | dropped, with a warning |
//! | custom `tools` (`strict` kept; `defer_loading`, `cache_control`, `input_examples` dropped) | function tools; a name over 64 characters is **refused** |
//! | server tools (`web_search_*`, `bash_*`, `text_editor_*`, `code_execution_*`, `mcp_toolset`, ...) | dropped, with a warning |
//! | `tool_choice` auto / any / tool / none, `disable_parallel_tool_use` | auto / required / named / none, `parallel_tool_calls: false` |
//! | `stop_sequences` | `stop` (the first 4; more are dropped with a warning) |
//! | `temperature`, `top_p` | sent |
//! | `top_k` | dropped, with a warning (not in the canonical request) |
//! | `thinking`, `output_config.effort` | `reasoning_effort` on models of category `reason` (low / medium / high); dropped elsewhere |
//! | `output_config.format` / `output_format` (`json_schema`) | `response_format` `json_schema` |
//! | `metadata.user_id` | `user` when it is at most 64 characters, else dropped |
//! | `cache_control` anywhere, `context_management`, `container`, `mcp_servers`, `service_tier`, `inference_geo`, `speed`, `diagnostics`, `fallbacks`, `fallback_credit_token` | dropped |
//! | any other top-level field | **refused** (400 `<field>: Extra inputs are not permitted`, as Anthropic says) |
//!
//! Claude models receive the request unchanged but for `model`, the capped `max_tokens` and a
//! thinking budget lowered under it (`native`).

pub mod count;
pub mod handler;
pub mod models;
pub mod native;
pub mod relay;
pub mod translate;
pub mod types;
pub mod validate;

use crate::catalog::{Catalog, Model, WireFormat};
use crate::error::{ApiError, ApiResult};

/// The response header carrying the warnings of `native::Built` and `translate::Translated`
/// (joined with `; `).
pub const WARNING_HEADER: &str = "x-flint-warnings";

/// How a model is served on `/v1/messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Anthropic speaks the Messages API: the request is forwarded natively.
    Native,
    /// Any other wire: translated through the canonical request.
    Translated,
}

/// The route of `model`, or a 400 naming `model` when `/v1/messages` cannot serve it.
pub fn route(catalog: &Catalog, model: &Model) -> ApiResult<Route> {
    if let Some(reason) = model.not_for_chat() {
        return Err(types::invalid(
            "model",
            format!("{reason} /v1/messages serves chat models."),
        ));
    }
    let provider = catalog
        .provider(&model.provider)
        .ok_or_else(|| ApiError::internal(format!("model {} has no provider", model.id)))?;
    Ok(match provider.wire {
        WireFormat::Anthropic => Route::Native,
        WireFormat::Openai | WireFormat::Gemini => Route::Translated,
    })
}

/// The context check's refusal in Anthropic's words, which Claude Code recognises (and then
/// compacts the conversation).
pub fn prompt_too_long(tokens: u64, maximum: u64) -> ApiError {
    ApiError::new(
        crate::error::ErrorKind::BadRequest,
        "context_length_exceeded",
        format!("prompt is too long: {tokens} tokens > {maximum} maximum"),
    )
    .with_param("messages")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Family;

    #[test]
    fn claude_models_go_native_and_the_others_are_translated() {
        let catalog = Catalog::embedded().unwrap();
        let route_of = |id: &str| route(catalog, catalog.model(id).unwrap());
        assert_eq!(route_of("claude-opus-5-5").unwrap(), Route::Native);
        assert_eq!(route_of("claude-haiku-4.5").unwrap(), Route::Native);
        assert_eq!(route_of("gpt-4o-mini").unwrap(), Route::Translated);
        assert_eq!(route_of("gemini-2.5-flash").unwrap(), Route::Translated);
        assert_eq!(route_of("deepseek-flash").unwrap(), Route::Translated);
        for other in ["flux-schnell", "text-embedding-3-small"] {
            let error = route_of(other).unwrap_err();
            assert_eq!((error.status(), error.param.as_deref()), (400, Some("model")));
        }
    }

    #[test]
    fn an_overlong_prompt_is_refused_in_anthropics_words() {
        let error = prompt_too_long(250_000, 200_000);
        assert_eq!(
            error.body(Family::Anthropic)["error"],
            serde_json::json!({"type": "invalid_request_error", "message": "prompt is too long: 250000 tokens > 200000 maximum"})
        );
    }
}
