//! Upstream providers: where a model is served, how to call it, and how its answers and errors
//! map back to ours. The provider table is data (catalog/providers.json); each wire format is a
//! module: `openai` (OpenAI and every OpenAI-compatible vendor), `anthropic` and `gemini`.

pub mod anthropic;
pub mod call;
pub mod errors;
pub mod gemini;
pub mod openai;

use crate::catalog::{Model, Provider, WireFormat};
use crate::chat::types::{Annotations, ChatCompletion, ChatCompletionChunk, ChatRequest, Usage};
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

/// An upstream request, and what its translation left out or changed (for the client's
/// `x-flint-warnings` header).
#[derive(Debug, Clone)]
pub struct Built {
    pub request: UpstreamRequest,
    pub warnings: Vec<String>,
}

/// The upstream request for a chat request and its annotations (`cache_control`,
/// `reasoning_content`: see `chat::params`).
pub fn build_chat_request(
    upstream: &Upstream,
    outgoing: &Outgoing<'_>,
    notes: &Annotations,
) -> ApiResult<Built> {
    match upstream.provider.wire {
        WireFormat::Openai => openai::build_request(upstream, outgoing, notes),
        WireFormat::Anthropic => anthropic::build_request(upstream, outgoing, notes),
        WireFormat::Gemini => gemini::build_request(upstream, outgoing),
    }
}

/// The upstream request for a canonical request without annotations.
pub fn build_request(upstream: &Upstream, outgoing: &Outgoing<'_>) -> ApiResult<UpstreamRequest> {
    build_chat_request(upstream, outgoing, &Annotations::default()).map(|built| built.request)
}

/// How many choices the upstream generates for `request`: its `n` where the provider takes
/// it, else one.
pub fn choices(upstream: &Upstream, request: &ChatRequest) -> u32 {
    match request.n {
        Some(n)
            if n > 1 && upstream.provider.wire == WireFormat::Openai && openai::forwards(upstream, "n") =>
        {
            n
        }
        _ => 1,
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

/// Warnings for what a translated provider (`who`) has no use for: the parameters kept in the
/// request's `extra` but those in `used`, and the typed ones in `typed` that the client set
/// (`n` when above 1).
pub fn unused_params(request: &ChatRequest, used: &[&str], typed: &[&str], who: &str) -> Vec<String> {
    let set = |name: &str| match name {
        "seed" => request.seed.is_some(),
        "presence_penalty" => request.presence_penalty.is_some(),
        "frequency_penalty" => request.frequency_penalty.is_some(),
        "user" => request.user.is_some(),
        "parallel_tool_calls" => request.parallel_tool_calls.is_some(),
        "n" => request.n.is_some_and(|n| n > 1),
        _ => false,
    };
    let mut unused: Vec<&str> = typed.iter().copied().filter(|name| set(name)).collect();
    unused.extend(
        request
            .extra
            .iter()
            .filter(|(key, value)| !value.is_null() && !used.contains(&key.as_str()))
            .map(|(key, _)| key.as_str()),
    );
    unused
        .into_iter()
        .map(|param| format!("{param} not sent: {who} has no such parameter"))
        .collect()
}
