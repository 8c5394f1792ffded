//! Upstream providers: where a model is served, how to call it, and how its answers and errors
//! map back to ours. The provider table is data (catalog/providers.json); each wire format is a
//! module: `openai` (OpenAI and every OpenAI-compatible vendor), `anthropic` and `gemini`.

pub mod anthropic;
pub mod call;
pub mod errors;
pub mod gemini;
pub mod keys;
pub mod openai;

use std::sync::Arc;

use crate::canonical::{Annotations, ChatCompletion, ChatCompletionChunk, ChatRequest, Usage};
use crate::catalog::{AuthStyle, Catalog, Model, Provider, WireFormat};
use crate::config::Config;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::sse::parser::SseEvent;

/// A resolved upstream: one route of a model — the provider, its base URL, its key pool and the
/// model as that route serves it (`model.upstream_id` is the route's).
#[derive(Debug, Clone)]
pub struct Upstream {
    pub provider: &'static Provider,
    pub model: Arc<Model>,
    pub base_url: String,
    /// The key the request is built with: the pool's first; `call::send` moves to the others.
    pub api_key: String,
    /// Every key of `<ID>_API_KEY`.
    pub keys: Arc<[String]>,
}

impl Upstream {
    /// The embedded catalog's `model` at `base_url` with the one key `api_key`, for unit tests.
    #[cfg(test)]
    pub fn for_test(model: &str, base_url: &str, api_key: &str) -> Upstream {
        let catalog = crate::catalog::Catalog::embedded().unwrap();
        let model = catalog.model(model).unwrap();
        Upstream {
            provider: catalog.provider(&model.provider).unwrap(),
            model: model.clone(),
            base_url: base_url.into(),
            api_key: api_key.into(),
            keys: vec![api_key.to_owned()].into(),
        }
    }

    /// `<ID>_API_KEY` and `<ID>_BASE_URL` from configuration; no key is a 503 the operator fixes.
    pub fn resolve(config: &Config, provider: &'static Provider, model: Arc<Model>) -> ApiResult<Upstream> {
        let credentials = config.provider(&provider.id);
        let keys: Arc<[String]> = credentials.map(|c| c.api_keys.clone()).unwrap_or_default().into();
        let Some(api_key) = keys.first().cloned() else {
            return Err(ApiError::new(
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
            )));
        };
        let base_url = credentials
            .and_then(|c| c.base_url.clone())
            .unwrap_or_else(|| provider.base_url.trim_end_matches('/').to_owned());
        Ok(Upstream {
            provider,
            model,
            base_url,
            api_key,
            keys,
        })
    }

    /// Every route of `model` whose provider is configured, in order: the first route is the
    /// model itself, the others a copy naming the route's provider and upstream id. None
    /// configured is the first route's error.
    pub fn routes(config: &Config, model: &Arc<Model>) -> ApiResult<Vec<Upstream>> {
        let catalog = Catalog::embedded()?;
        let mut routes = Vec::with_capacity(model.routes.len());
        let mut first_error = None;
        for (position, route) in model.routes.iter().enumerate() {
            let provider = catalog
                .provider(&route.provider)
                .ok_or_else(|| ApiError::internal(format!("route to unknown provider {}", route.provider)))?;
            // The first route is the model's own `provider` and `upstream_id`.
            let served = if position == 0 {
                model.clone()
            } else {
                Arc::new(Model {
                    provider: route.provider.clone(),
                    upstream_id: route.upstream_id.clone(),
                    ..Model::clone(model)
                })
            };
            match Upstream::resolve(config, provider, served) {
                Ok(upstream) => routes.push(upstream),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match (routes.is_empty(), first_error) {
            (true, Some(error)) => Err(error),
            (true, None) => Err(ApiError::internal(format!("model {} has no route", model.id))),
            _ => Ok(routes),
        }
    }

    /// `provider/upstream_id`: how the usage row and `X-Flint-Route` name the route.
    pub fn route_name(&self) -> String {
        format!("{}/{}", self.provider.id, self.model.upstream_id)
    }

    /// This upstream with another key of its pool.
    pub fn with_key(&self, key: &str) -> Upstream {
        Upstream {
            api_key: key.to_owned(),
            ..self.clone()
        }
    }
}

/// The routes a surface relaying the upstream's own protocol can use: those speaking the
/// first route's wire format.
pub fn same_wire(routes: Vec<Upstream>) -> Vec<Upstream> {
    let Some(wire) = routes.first().map(|r| r.provider.wire) else {
        return routes;
    };
    routes.into_iter().filter(|r| r.provider.wire == wire).collect()
}

/// The header carrying `key` the way `auth` wants it.
pub fn auth_header(auth: AuthStyle, key: &str) -> (&'static str, String) {
    match auth {
        AuthStyle::Bearer => ("Authorization", format!("Bearer {key}")),
        AuthStyle::XApiKey => ("x-api-key", key.to_owned()),
        AuthStyle::XGoogApiKey => ("x-goog-api-key", key.to_owned()),
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

/// What a wire format does, each in its own module: build the request for a canonical chat,
/// read a whole answer, translate a stream, and find a retry hint where the wire puts it.
pub trait Wire: Sync {
    fn build_request(
        &self,
        upstream: &Upstream,
        outgoing: &Outgoing<'_>,
        notes: &Annotations,
    ) -> ApiResult<Built>;
    fn parse_completion(&self, body: &str) -> Result<ChatCompletion, String>;
    fn stream_translator(&self) -> Box<dyn StreamTranslator>;
    /// Seconds to wait that an error's body names (for a wire that says so there rather than
    /// in `Retry-After`).
    fn retry_hint_secs(&self, _error_body: &str) -> Option<u64> {
        None
    }
}

/// The implementation of `format`.
pub fn wire(format: WireFormat) -> &'static dyn Wire {
    match format {
        WireFormat::Openai => &openai::OpenAiWire,
        WireFormat::Anthropic => &anthropic::AnthropicWire,
        WireFormat::Gemini => &gemini::GeminiWire,
    }
}

/// The upstream request for a chat request and its annotations (`cache_control`,
/// `reasoning_content`: see `chat::params`).
pub fn build_chat_request(
    upstream: &Upstream,
    outgoing: &Outgoing<'_>,
    notes: &Annotations,
) -> ApiResult<Built> {
    wire(upstream.provider.wire).build_request(upstream, outgoing, notes)
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
    wire(upstream.provider.wire).parse_completion(body)
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
    wire(upstream.provider.wire).stream_translator()
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
