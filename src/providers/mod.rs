//! Upstream providers: where a model is served, how to call it, and how its answers and errors
//! map back to ours. The provider table is data (catalog/providers.json); each wire format is a
//! module: `openai` (OpenAI and every OpenAI-compatible vendor), `anthropic` and `gemini`.

pub mod anthropic;
pub mod call;
pub mod errors;
pub mod gemini;
pub mod openai;

use crate::catalog::{Model, Provider, WireFormat};
use crate::chat::types::{ChatCompletion, ChatCompletionChunk, ChatRequest, Usage};
use crate::config::Config;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::sse::parser::SseEvent;

/// A resolved upstream: the provider, its base URL and key, and the model's upstream id.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub provider: &'static Provider,
    pub model: &'static Model,
    pub base_url: String,
    pub api_key: String,
}

impl Upstream {
    /// `<ID>_API_KEY` and `<ID>_BASE_URL` from configuration; no key is a 503 the operator fixes.
    pub fn resolve(
        config: &Config,
        provider: &'static Provider,
        model: &'static Model,
    ) -> ApiResult<Upstream> {
        let credentials = config.provider(&provider.id);
        let api_key = credentials.and_then(|c| c.api_key.clone()).ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unavailable,
                "provider_not_configured",
                format!(
                    "The provider of `{}` is not configured on this gateway.",
                    model.id
                ),
            )
            .with_internal(format!(
                "{}_API_KEY is not set; set it to serve {}",
                provider.env_prefix(),
                model.id
            ))
        })?;
        let base_url = credentials
            .and_then(|c| c.base_url.clone())
            .unwrap_or_else(|| provider.base_url.trim_end_matches('/').to_owned());
        Ok(Upstream {
            provider,
            model,
            base_url,
            api_key,
        })
    }
}

/// An HTTP request to send upstream.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What the gateway sends: the client's request with the output ceiling it enforces.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub request: &'a ChatRequest,
    pub max_output_tokens: u32,
    pub stream: bool,
}

pub fn build_request(upstream: &Upstream, outgoing: &Outgoing<'_>) -> ApiResult<UpstreamRequest> {
    match upstream.provider.wire {
        WireFormat::Openai => openai::build_request(upstream, outgoing),
        WireFormat::Anthropic => anthropic::build_request(upstream, outgoing),
        WireFormat::Gemini => gemini::build_request(upstream, outgoing),
    }
}

pub fn parse_completion(upstream: &Upstream, body: &str) -> Result<ChatCompletion, String> {
    match upstream.provider.wire {
        WireFormat::Openai => openai::parse_completion(body),
        WireFormat::Anthropic => anthropic::parse_completion(body),
        WireFormat::Gemini => gemini::parse_completion(body),
    }
}

/// What one upstream stream event means for the client.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Chunk(ChatCompletionChunk),
    Usage(Usage),
    /// The upstream reported an error inside the stream (message safe to show).
    Error(String),
    /// The upstream said it is done.
    Done,
}

/// Turns one wire format's stream events into canonical items.
pub trait StreamTranslator {
    fn on_event(&mut self, event: &SseEvent) -> Vec<StreamItem>;
}

pub fn stream_translator(upstream: &Upstream) -> Box<dyn StreamTranslator> {
    match upstream.provider.wire {
        WireFormat::Openai => Box::new(openai::OpenAiStream),
        WireFormat::Anthropic => Box::new(anthropic::AnthropicStream::new()),
        WireFormat::Gemini => Box::new(gemini::GeminiStream::new()),
    }
}
