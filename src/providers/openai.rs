//! The `openai` wire format: OpenAI itself and every OpenAI-compatible vendor. The canonical
//! request is OpenAI's, so translation is small: the upstream model id, the enforced output
//! ceiling under the vendor's field name, usage requested in streams, and the parameters the
//! vendor (or the model) can't use dropped: its `drop_params` row, and [`forwards`] for the
//! parameters beyond the common core, which each vendor documents (or not) on its own.
//!
//! | parameter | sent to |
//! |---|---|
//! | `store`, `metadata`, `service_tier`, `modalities`, `audio`, `web_search_options`, `moderation`, `prompt_cache_options` | nobody: stored completions would live in the operator's account (and OpenAI refuses `metadata` without `store`), other tiers, audio and search calls cost what the catalog doesn't price, the rest is for models the catalog doesn't have |
//! | `prompt_cache_key`, `safety_identifier` | OpenAI |
//! | `prompt_cache_retention` | OpenAI's gpt-5 and gpt-4.1 models |
//! | `logprobs`, `top_logprobs`, `logit_bias`, `prediction` | OpenAI's non-reasoning models |
//! | `verbosity` | OpenAI's reasoning models (gpt-5, o-series) |
//! | `temperature`, `top_p`, `presence_penalty`, `frequency_penalty` | everyone but OpenAI's reasoning models (and the vendors whose row drops them) |
//! | `n` | OpenAI, xAI, Mistral, Together, Fireworks (elsewhere one choice) |
//! | `reasoning_effort` | OpenAI's reasoning models as given; xAI's reasoning models and Groq's gpt-oss as `low`/`medium`/`high`; DeepSeek as `low`/`high`/`max` (`none`: `thinking: {"type": "disabled"}`) |
//! | an assistant message's `reasoning_content` | DeepSeek (a history whose tool calls lack it goes with `thinking: {"type": "disabled"}`: thinking mode would refuse it) |
//! | a message's `name` | everyone but Groq (which refuses it) |
//! | `parallel_tool_calls` | with `tools` only |
//!
//! Usage is read in OpenAI's convention whatever the vendor's dialect ([`normalize_usage`]):
//! xAI reports reasoning tokens outside `completion_tokens`, DeepSeek its cache hits as
//! `prompt_cache_hit_tokens`.

use serde::Serialize;
use serde_json::{json, Value};

use super::{Built, Outgoing, StreamItem, StreamTranslator, Upstream, UpstreamRequest};
use crate::canonical::{
    Annotations, ChatCompletion, ChatCompletionChunk, Content, Message, ResponseFormat, Stop, StreamOptions,
    Tool, ToolCall, ToolChoice, Usage,
};
use crate::catalog::{Category, MaxTokensField};
use crate::error::{ApiError, ApiResult};
use crate::sse::parser::SseEvent;

pub fn auth_header(upstream: &Upstream) -> (&'static str, String) {
    super::auth_header(upstream.provider.auth, &upstream.api_key)
}

/// OpenAI's reasoning models (gpt-5 family, o-series): no sampling parameters, no logprobs.
fn openai_reasoning_model(upstream_id: &str) -> bool {
    upstream_id.starts_with("gpt-5") || ["o1", "o3", "o4"].iter().any(|p| upstream_id.starts_with(p))
}

/// Whether the OpenAI parameter `param` reaches `upstream` (see the module's table).
pub fn forwards(upstream: &Upstream, param: &str) -> bool {
    if upstream.provider.drop_params.iter().any(|p| p == param) {
        return false;
    }
    let provider = upstream.provider.id.as_str();
    let model = upstream.model.upstream_id.as_str();
    let openai = provider == "openai";
    let reasoning = openai && openai_reasoning_model(model);
    match param {
        "store"
        | "metadata"
        | "service_tier"
        | "modalities"
        | "audio"
        | "web_search_options"
        | "moderation"
        | "prompt_cache_options" => false,
        "prompt_cache_key" | "safety_identifier" => openai,
        "prompt_cache_retention" => openai && (model.starts_with("gpt-5") || model.starts_with("gpt-4.1")),
        "logprobs" | "top_logprobs" | "logit_bias" | "prediction" => openai && !reasoning,
        "verbosity" => reasoning,
        "temperature" | "top_p" | "presence_penalty" | "frequency_penalty" => !reasoning,
        "n" => matches!(provider, "openai" | "xai" | "mistral" | "together" | "fireworks"),
        "reasoning_effort" => reasoning_effort(upstream, "medium").is_some(),
        "reasoning_content" => provider == "deepseek",
        "name" => provider != "groq",
        _ => true,
    }
}

/// What `reasoning_effort` becomes at `upstream`, if it takes it at all.
fn reasoning_effort<'a>(upstream: &Upstream, effort: &'a str) -> Option<Effort<'a>> {
    let model = &upstream.model;
    let three = |e: &str| match e {
        "none" | "minimal" | "low" => "low",
        "medium" => "medium",
        _ => "high",
    };
    match upstream.provider.id.as_str() {
        "openai" if openai_reasoning_model(&model.upstream_id) => Some(Effort::Field(effort)),
        "xai" if model.category == Category::Reason => Some(Effort::Field(if effort == "none" {
            "none"
        } else {
            three(effort)
        })),
        "groq" if model.upstream_id.starts_with("openai/gpt-oss") => Some(Effort::Field(three(effort))),
        "deepseek" => Some(match effort {
            "none" => Effort::ThinkingOff,
            "minimal" | "low" => Effort::Field("low"),
            "max" => Effort::Field("max"),
            _ => Effort::Field("high"),
        }),
        _ => None,
    }
}

/// `POST /chat/completions`, borrowed from the canonical request: each optional parameter is
/// present only if the client gave it and the vendor takes it ([`forwards`]).
#[derive(Serialize)]
struct ChatBody<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a [Tool]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a ToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    /// The enforced output ceiling, under the vendor's name for it (one of the two).
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a Stop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a ResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    /// The `PASSTHROUGH_PARAMS` the vendor takes, in the client's order.
    #[serde(flatten)]
    passthrough: Passthrough<'a>,
}

/// A message as the vendor gets it: the canonical one, less the `name` a vendor refuses, plus
/// the `reasoning_content` DeepSeek wants back on its own assistant turns.
#[derive(Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum WireMessage<'a> {
    System {
        content: &'a Content,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    Developer {
        content: &'a Content,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    User {
        content: &'a Content,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    Assistant {
        content: Option<&'a Content>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_calls: Option<&'a [ToolCall]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        refusal: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reasoning_content: Option<&'a str>,
    },
    Tool {
        content: &'a Content,
        tool_call_id: &'a str,
    },
}

impl<'a> WireMessage<'a> {
    fn new(message: &'a Message, names: bool, reasoning_content: Option<&'a str>) -> Self {
        let name = |name: &'a Option<String>| name.as_deref().filter(|_| names);
        match message {
            Message::System { content, name: n } => WireMessage::System {
                content,
                name: name(n),
            },
            Message::Developer { content, name: n } => WireMessage::Developer {
                content,
                name: name(n),
            },
            Message::User { content, name: n } => WireMessage::User {
                content,
                name: name(n),
            },
            Message::Assistant {
                content,
                tool_calls,
                name: n,
                refusal,
            } => WireMessage::Assistant {
                content: content.as_ref(),
                tool_calls: tool_calls.as_deref(),
                name: name(n),
                refusal: refusal.as_deref(),
                reasoning_content,
            },
            Message::Tool {
                content,
                tool_call_id,
            } => WireMessage::Tool {
                content,
                tool_call_id,
            },
        }
    }

    /// An assistant turn that called tools without its reasoning (DeepSeek's thinking mode
    /// refuses such a history).
    fn tool_calls_without_reasoning(&self) -> bool {
        matches!(
            self,
            WireMessage::Assistant { tool_calls: Some(calls), reasoning_content: None, .. } if !calls.is_empty()
        )
    }
}

/// DeepSeek's switch for its thinking mode; the gateway only ever turns it off.
#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
}

const THINKING_DISABLED: Thinking = Thinking { kind: "disabled" };

/// Borrowed `(name, value)` pairs serialized as the members of the enclosing object.
struct Passthrough<'a>(Vec<(&'a str, &'a Value)>);

impl Serialize for Passthrough<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// What `reasoning_effort` became at the vendor.
enum Effort<'a> {
    Field(&'a str),
    ThinkingOff,
}

/// The body sent upstream, and the warnings naming what was left out.
fn chat_body<'a>(
    upstream: &'a Upstream,
    outgoing: &Outgoing<'a>,
    notes: &'a Annotations,
) -> (ChatBody<'a>, Vec<String>) {
    let request = outgoing.request;
    let mut warnings = Vec::new();
    let mut effort = None;
    if let Some(asked) = request.extra.get("reasoning_effort").filter(|e| !e.is_null()) {
        match asked.as_str().and_then(|e| reasoning_effort(upstream, e)) {
            Some(sent) => effort = Some(sent),
            None => warnings.push(dropped("reasoning_effort", upstream)),
        }
    }
    if request.n.is_some_and(|n| n > 1) && !forwards(upstream, "n") {
        warnings.push(dropped("n", upstream));
    }
    // A parameter the client gave goes if the vendor takes it, else it is named in a warning
    // (but for `n`, warned about above only when it asked for more than one choice).
    let mut keep = |param: &str| -> bool {
        let sent = forwards(upstream, param);
        if !sent && param != "n" {
            warnings.push(dropped(param, upstream));
        }
        sent
    };
    macro_rules! kept {
        ($field:ident) => {
            request.$field.as_ref().filter(|_| keep(stringify!($field)))
        };
    }
    let has_tools = request.tools.as_deref().is_some_and(|tools| !tools.is_empty());
    let tools = kept!(tools).map(Vec::as_slice);
    let tool_choice = kept!(tool_choice);
    let parallel_tool_calls = request
        .parallel_tool_calls
        .filter(|_| has_tools && keep("parallel_tool_calls"));
    let temperature = kept!(temperature).copied();
    let top_p = kept!(top_p).copied();
    let stop = kept!(stop);
    let presence_penalty = kept!(presence_penalty).copied();
    let frequency_penalty = kept!(frequency_penalty).copied();
    let seed = kept!(seed).copied();
    let response_format = kept!(response_format);
    let user = kept!(user).map(String::as_str);
    let n = kept!(n).copied();
    let passthrough = request
        .extra
        .iter()
        .filter(|(param, value)| match param.as_str() {
            "reasoning_effort" => false,
            // A null asks for nothing: it goes where the parameter does, unremarked.
            _ if value.is_null() => forwards(upstream, param),
            _ => keep(param),
        })
        .map(|(param, value)| (param.as_str(), value))
        .collect();
    let names = forwards(upstream, "name");
    let reasoning = forwards(upstream, "reasoning_content");
    let messages: Vec<WireMessage> = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            WireMessage::new(message, names, notes.reasoning_content(i).filter(|_| reasoning))
        })
        .collect();
    let (max_tokens, max_completion_tokens) = match upstream.provider.max_tokens_field {
        MaxTokensField::MaxTokens => (Some(outgoing.max_output_tokens), None),
        MaxTokensField::MaxCompletionTokens => (None, Some(outgoing.max_output_tokens)),
    };
    let mut body = ChatBody {
        model: &upstream.model.upstream_id,
        messages,
        // Never a vendor's drop_param (the catalog's tests hold the list).
        stream: outgoing.stream,
        stream_options: (outgoing.stream && forwards(upstream, "stream_options"))
            .then_some(StreamOptions { include_usage: true }),
        tools,
        tool_choice,
        parallel_tool_calls,
        temperature,
        top_p,
        max_tokens,
        max_completion_tokens,
        stop,
        presence_penalty,
        frequency_penalty,
        seed,
        response_format,
        user,
        n,
        reasoning_effort: match effort {
            Some(Effort::Field(value)) => Some(value),
            _ => None,
        },
        thinking: matches!(effort, Some(Effort::ThinkingOff)).then_some(THINKING_DISABLED),
        passthrough: Passthrough(passthrough),
    };
    if upstream.provider.id == "deepseek"
        && body.thinking.is_none()
        && body
            .messages
            .iter()
            .any(WireMessage::tool_calls_without_reasoning)
    {
        // DeepSeek's thinking mode refuses a tool call in the history without its reasoning
        // (a client that drops `reasoning_content`, a translated surface): without thinking it
        // takes the history.
        body.reasoning_effort = None;
        body.thinking = Some(THINKING_DISABLED);
        warnings.push(
            "thinking disabled: an earlier tool call lacks the reasoning_content DeepSeek's thinking mode needs back"
                .to_owned(),
        );
    }
    (body, warnings)
}

fn dropped(param: &str, upstream: &Upstream) -> String {
    format!(
        "{param} not sent: {} ({}) does not take it here",
        upstream.model.id, upstream.provider.name
    )
}

pub fn build_request(upstream: &Upstream, outgoing: &Outgoing<'_>, notes: &Annotations) -> ApiResult<Built> {
    let (body, warnings) = chat_body(upstream, outgoing, notes);
    let body = serde_json::to_string(&body).map_err(ApiError::internal)?;
    let mut headers = vec![
        auth_header(upstream),
        ("Content-Type", "application/json".to_owned()),
    ];
    if outgoing.stream {
        headers.push(("Accept", "text/event-stream".to_owned()));
    }
    Ok(Built {
        request: UpstreamRequest {
            url: format!("{}/chat/completions", upstream.base_url),
            headers,
            body,
        },
        warnings,
    })
}

/// A vendor's usage in OpenAI's convention (`prompt_tokens` include `cached_tokens`,
/// `completion_tokens` include `reasoning_tokens`): xAI's `completion_tokens` leave its
/// `reasoning_tokens` out (its `total_tokens` adds them, which is how this tells) and get them
/// added; DeepSeek's `prompt_cache_hit_tokens` stand for `cached_tokens` when those are absent.
pub fn normalize_usage(usage: &mut Usage) {
    let detail = |usage: &Usage, group: &str, field: &str| {
        usage
            .extra
            .get(group)
            .and_then(|d| d.get(field))
            .and_then(Value::as_u64)
    };
    let reasoning = detail(usage, "completion_tokens_details", "reasoning_tokens").unwrap_or(0);
    if reasoning > 0
        && usage.total_tokens > 0
        && usage.total_tokens == usage.prompt_tokens + usage.completion_tokens + reasoning
    {
        usage.completion_tokens += reasoning;
    }
    if detail(usage, "prompt_tokens_details", "cached_tokens").is_none() {
        if let Some(hits) = usage.extra.get("prompt_cache_hit_tokens").and_then(Value::as_u64) {
            match usage
                .extra
                .get_mut("prompt_tokens_details")
                .and_then(Value::as_object_mut)
            {
                Some(details) => {
                    details.insert("cached_tokens".into(), json!(hits));
                }
                None => {
                    usage
                        .extra
                        .insert("prompt_tokens_details".into(), json!({"cached_tokens": hits}));
                }
            }
        }
    }
}

pub fn parse_completion(body: &str) -> Result<ChatCompletion, String> {
    let mut completion: ChatCompletion = serde_json::from_slice(body.as_bytes())
        .map_err(|e| format!("OpenAI-compatible completion did not parse: {e}"))?;
    if let Some(usage) = completion.usage.as_mut() {
        normalize_usage(usage);
    }
    Ok(completion)
}

/// The `openai` wire.
pub struct OpenAiWire;

impl super::Wire for OpenAiWire {
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
        Box::new(OpenAiStream)
    }
}

/// OpenAI's stream: `data: {chunk}` events, `data: [DONE]` at the end, an error object inside a
/// `data:` event when something fails mid-stream.
pub struct OpenAiStream;

impl StreamTranslator for OpenAiStream {
    fn on_event(&mut self, event: &SseEvent) -> Vec<StreamItem> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return vec![StreamItem::Done];
        }
        if data.is_empty() {
            return Vec::new();
        }
        // Parsed once: an error object is a chunk whose `extra` holds an `error` member (any
        // shape: vendors differ).
        let mut chunk = match serde_json::from_slice::<ChatCompletionChunk>(data.as_bytes()) {
            Ok(chunk) => match chunk.extra.get("error") {
                None => chunk,
                Some(error) => {
                    let message = error["message"]
                        .as_str()
                        .unwrap_or("The upstream failed mid-stream.");
                    return vec![StreamItem::Error(super::errors::safe_message(message))];
                }
            },
            // Only a broken event is read twice, to say how it is broken.
            Err(_) if serde_json::from_slice::<serde::de::IgnoredAny>(data.as_bytes()).is_err() => {
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream event.".into(),
                )]
            }
            Err(_) => {
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream chunk.".into(),
                )]
            }
        };
        let mut items = Vec::with_capacity(2);
        if let Some(mut usage) = chunk.usage.take() {
            normalize_usage(&mut usage);
            items.push(StreamItem::Usage(usage));
        }
        if !chunk.choices.is_empty() {
            items.insert(0, StreamItem::Chunk(chunk));
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ChatRequest;

    fn upstream(model: &str) -> Upstream {
        Upstream::for_test(model, "http://mock/v1", "sk-upstream")
    }

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
    }

    /// The body as JSON, and the warnings.
    fn request_body(
        upstream: &Upstream,
        outgoing: &Outgoing<'_>,
        notes: &Annotations,
    ) -> ApiResult<(Value, Vec<String>)> {
        let (body, warnings) = chat_body(upstream, outgoing, notes);
        Ok((serde_json::to_value(&body).unwrap(), warnings))
    }

    #[test]
    fn the_body_carries_the_upstream_id_the_ceiling_and_stream_usage() {
        let up = upstream("gpt-4o-mini");
        let req = request(
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": true, "max_tokens": 50000, "temperature": 0.3}),
        );
        let body = request_body(
            &up,
            &Outgoing {
                request: &req,
                max_output_tokens: 4096,
                stream: true,
            },
            &Annotations::default(),
        )
        .unwrap()
        .0;
        assert_eq!(body["model"], up.model.upstream_id);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert_eq!(body["temperature"], json!(0.3));
        // OpenAI takes max_completion_tokens; only one of the two fields is sent.
        assert_eq!(body["max_completion_tokens"], json!(4096));
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn a_vendors_rejected_parameters_are_dropped() {
        let up = upstream("grok-4.3");
        assert!(up.provider.drop_params.iter().any(|p| p == "presence_penalty"));
        let req = request(
            json!({"model": "grok-4.3", "messages": [{"role": "user", "content": "hi"}], "presence_penalty": 1.0, "seed": 3}),
        );
        let body = request_body(
            &up,
            &Outgoing {
                request: &req,
                max_output_tokens: 10,
                stream: false,
            },
            &Annotations::default(),
        )
        .unwrap()
        .0;
        assert!(body.get("presence_penalty").is_none());
        assert_eq!(body["seed"], json!(3));
        assert!(body.get("stream").is_none() && body.get("stream_options").is_none());
    }

    #[test]
    fn the_request_goes_to_chat_completions_with_a_bearer_key() {
        let up = upstream("gpt-4o-mini");
        let req = request(json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}));
        let built = build_request(
            &up,
            &Outgoing {
                request: &req,
                max_output_tokens: 10,
                stream: false,
            },
            &Annotations::default(),
        )
        .unwrap()
        .request;
        assert_eq!(built.url, "http://mock/v1/chat/completions");
        assert!(built
            .headers
            .contains(&("Authorization", "Bearer sk-upstream".to_owned())));
    }

    fn sent(model: &str, extra: Value, notes: &Annotations) -> (Value, Vec<String>) {
        let up = upstream(model);
        let mut body =
            json!({"model": model, "messages": [{"role": "user", "content": "hi", "name": "ann"}]});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let req = request(body);
        request_body(
            &up,
            &Outgoing {
                request: &req,
                max_output_tokens: 100,
                stream: false,
            },
            notes,
        )
        .unwrap()
    }

    #[test]
    fn what_would_cost_the_operator_or_stay_in_its_account_never_leaves() {
        let extra = json!({"store": true, "metadata": {"k": "v"}, "service_tier": "priority", "modalities": ["text", "audio"],
                           "audio": {"voice": "alloy", "format": "mp3"}, "web_search_options": {}, "moderation": {"model": "omni-moderation-latest"},
                           "prompt_cache_options": {"mode": "explicit"}});
        for model in [
            "gpt-4o-mini",
            "gpt-5.1",
            "grok-4.3",
            "deepseek-flash",
            "llama-4-maverick",
        ] {
            let (body, warnings) = sent(model, extra.clone(), &Annotations::default());
            for key in extra.as_object().unwrap().keys() {
                assert!(body.get(key).is_none(), "{key} reached {model}");
                assert!(
                    warnings.iter().any(|w| w.starts_with(key.as_str())),
                    "{model} {key}: {warnings:?}"
                );
            }
        }
    }

    #[test]
    fn openais_own_parameters_reach_openai_by_model_family() {
        let extra = json!({"prompt_cache_key": "k", "safety_identifier": "s", "prompt_cache_retention": "24h", "logprobs": true,
                           "top_logprobs": 2, "logit_bias": {"1": 5}, "prediction": {"type": "content", "content": "x"},
                           "verbosity": "low", "reasoning_effort": "low", "temperature": 0.5, "n": 2});
        let (mini, _) = sent("gpt-4o-mini", extra.clone(), &Annotations::default());
        for key in [
            "prompt_cache_key",
            "safety_identifier",
            "logprobs",
            "top_logprobs",
            "logit_bias",
            "prediction",
            "temperature",
            "n",
        ] {
            assert_eq!(mini[key], extra[key], "{key}");
        }
        for key in ["prompt_cache_retention", "verbosity", "reasoning_effort"] {
            assert!(mini.get(key).is_none(), "{key} reached gpt-4o-mini");
        }
        let (five, warnings) = sent("gpt-5.1", extra.clone(), &Annotations::default());
        for key in [
            "prompt_cache_key",
            "safety_identifier",
            "prompt_cache_retention",
            "verbosity",
            "reasoning_effort",
            "n",
        ] {
            assert_eq!(five[key], extra[key], "{key}");
        }
        for key in [
            "logprobs",
            "top_logprobs",
            "logit_bias",
            "prediction",
            "temperature",
        ] {
            assert!(five.get(key).is_none(), "{key} reached gpt-5.1");
            assert!(warnings.iter().any(|w| w.starts_with(key)), "{key}: {warnings:?}");
        }
        // Other vendors take none of OpenAI's own.
        let (grok, _) = sent("grok-4.3", extra, &Annotations::default());
        for key in [
            "prompt_cache_key",
            "safety_identifier",
            "logprobs",
            "logit_bias",
            "prediction",
            "verbosity",
        ] {
            assert!(grok.get(key).is_none(), "{key} reached xAI");
        }
        assert_eq!(grok["n"], 2);
    }

    #[test]
    fn reasoning_effort_takes_each_vendors_values() {
        let effort = |model: &str, value: &str| {
            let (body, _) = sent(model, json!({"reasoning_effort": value}), &Annotations::default());
            (
                body.get("reasoning_effort").cloned(),
                body.get("thinking").cloned(),
            )
        };
        assert_eq!(effort("gpt-5.5", "xhigh"), (Some(json!("xhigh")), None));
        assert_eq!(effort("grok-4.3", "minimal"), (Some(json!("low")), None));
        assert_eq!(effort("grok-4.3", "none"), (Some(json!("none")), None));
        assert_eq!(effort("grok-4.20-non-reasoning", "high"), (None, None));
        assert_eq!(effort("gpt-oss-120b", "max"), (Some(json!("high")), None));
        assert_eq!(effort("deepseek-v4-pro", "medium"), (Some(json!("high")), None));
        assert_eq!(effort("deepseek-v4-pro", "max"), (Some(json!("max")), None));
        assert_eq!(
            effort("deepseek-flash", "none"),
            (None, Some(json!({"type": "disabled"})))
        );
        assert_eq!(effort("mistral-large", "high"), (None, None));
    }

    #[test]
    fn reasoning_content_goes_back_to_deepseek_only_and_groq_loses_names() {
        let body = json!({"model": "m", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": null, "reasoning_content": "I should call f",
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"}]});
        let notes = crate::chat::params::annotations(&body).unwrap();
        let (deepseek, _) = sent("deepseek-v4-pro", json!({"messages": body["messages"]}), &notes);
        assert_eq!(deepseek["messages"][1]["reasoning_content"], "I should call f");
        assert!(deepseek["messages"][0].get("reasoning_content").is_none());
        assert!(deepseek.get("thinking").is_none());
        // Without it (a client or a surface that dropped it) DeepSeek thinks not, and takes it.
        let (without, warnings) = sent(
            "deepseek-v4-pro",
            json!({"messages": body["messages"], "reasoning_effort": "high"}),
            &Annotations::default(),
        );
        assert_eq!(without["thinking"], json!({"type": "disabled"}));
        assert!(without.get("reasoning_effort").is_none());
        assert!(
            warnings.iter().any(|w| w.starts_with("thinking disabled")),
            "{warnings:?}"
        );
        let (openai, _) = sent("gpt-4o", json!({"messages": body["messages"]}), &notes);
        assert!(openai["messages"][1].get("reasoning_content").is_none());
        let (groq, _) = sent("gpt-oss-120b", json!({}), &Annotations::default());
        assert!(groq["messages"][0].get("name").is_none());
        let (mini, _) = sent("gpt-4o-mini", json!({}), &Annotations::default());
        assert_eq!(mini["messages"][0]["name"], "ann");
        // parallel_tool_calls without tools is refused by OpenAI: not sent.
        let (body, _) = sent(
            "gpt-4o-mini",
            json!({"parallel_tool_calls": false}),
            &Annotations::default(),
        );
        assert!(body.get("parallel_tool_calls").is_none());
    }

    #[test]
    fn vendor_usage_dialects_read_as_openais() {
        let usage = |json: Value| {
            let mut usage: Usage = serde_json::from_value(json).unwrap();
            normalize_usage(&mut usage);
            usage.tokens()
        };
        // xAI: reasoning outside completion_tokens, inside total_tokens (Vertex AI's sample).
        let xai = usage(
            json!({"prompt_tokens": 663, "completion_tokens": 50, "total_tokens": 837,
            "prompt_tokens_details": {"text_tokens": 663, "cached_tokens": 654},
            "completion_tokens_details": {"reasoning_tokens": 124}}),
        );
        assert_eq!(
            (xai.input, xai.cache_read, xai.output, xai.reasoning),
            (663, 654, 174, 124)
        );
        // OpenAI's own: reasoning already inside.
        let openai = usage(
            json!({"prompt_tokens": 10, "completion_tokens": 30, "total_tokens": 40,
            "completion_tokens_details": {"reasoning_tokens": 20}}),
        );
        assert_eq!((openai.output, openai.reasoning), (30, 20));
        // DeepSeek: the hit count stands for cached_tokens when that is absent.
        let deepseek = usage(
            json!({"prompt_tokens": 100, "completion_tokens": 92, "total_tokens": 192,
            "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36,
            "completion_tokens_details": {"reasoning_tokens": 81}}),
        );
        assert_eq!(
            (
                deepseek.input,
                deepseek.cache_read,
                deepseek.output,
                deepseek.reasoning
            ),
            (100, 64, 92, 81)
        );
    }

    #[test]
    fn stream_events_become_chunks_usage_errors_and_done() {
        let mut stream = OpenAiStream;
        let chunk = r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
        assert!(
            matches!(stream.on_event(&SseEvent::with_data(chunk)).as_slice(), [StreamItem::Chunk(c)] if c.choices[0].delta.content.as_deref() == Some("Hi"))
        );
        let usage = r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
        assert!(
            matches!(stream.on_event(&SseEvent::with_data(usage)).as_slice(), [StreamItem::Usage(u)] if u.completion_tokens == 2)
        );
        assert_eq!(
            stream.on_event(&SseEvent::with_data("[DONE]")),
            vec![StreamItem::Done]
        );
        assert!(matches!(
            stream
                .on_event(&SseEvent::with_data(r#"{"error":{"message":"overloaded"}}"#))
                .as_slice(),
            [StreamItem::Error(_)]
        ));
        assert!(matches!(
            stream.on_event(&SseEvent::with_data("{not json")).as_slice(),
            [StreamItem::Error(_)]
        ));
    }

    #[test]
    fn a_broken_event_says_how_it_is_broken() {
        let mut stream = OpenAiStream;
        let message = |data: &str| match OpenAiStream.on_event(&SseEvent::with_data(data)).as_slice() {
            [StreamItem::Error(message)] => message.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            message("{not json"),
            "The upstream sent a malformed stream event."
        );
        assert_eq!(
            message(r#"{"id":1,"choices":"no"}"#),
            "The upstream sent a malformed stream chunk."
        );
        assert_eq!(message(r#"{"error":"boom"}"#), "The upstream failed mid-stream.");
        assert_eq!(message(r#"{"error":{"message":"overloaded"}}"#), "overloaded");
        assert!(stream.on_event(&SseEvent::with_data("")).is_empty());
    }
}
