//! The `openai` wire format: OpenAI itself and every OpenAI-compatible vendor. The canonical
//! request is OpenAI's, so translation is small: the upstream model id, the enforced output
//! ceiling under the vendor's field name, usage requested in streams, and the parameters the
//! vendor rejects dropped (its `drop_params` row).

use serde_json::{json, Value};

use super::{Outgoing, StreamItem, StreamTranslator, Upstream, UpstreamRequest};
use crate::catalog::{AuthStyle, MaxTokensField};
use crate::chat::types::{ChatCompletion, ChatCompletionChunk};
use crate::error::{ApiError, ApiResult};
use crate::sse::parser::SseEvent;

pub fn auth_header(upstream: &Upstream) -> (&'static str, String) {
    match upstream.provider.auth {
        AuthStyle::Bearer => ("Authorization", format!("Bearer {}", upstream.api_key)),
        AuthStyle::XApiKey => ("x-api-key", upstream.api_key.clone()),
        AuthStyle::XGoogApiKey => ("x-goog-api-key", upstream.api_key.clone()),
    }
}

/// The JSON body sent upstream.
pub fn request_body(upstream: &Upstream, outgoing: &Outgoing<'_>) -> ApiResult<Value> {
    let mut body = serde_json::to_value(outgoing.request).map_err(ApiError::internal)?;
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::internal(
            "a chat request did not serialize to an object",
        ));
    };
    map.insert("model".into(), json!(upstream.model.upstream_id));
    map.remove("max_tokens");
    map.remove("max_completion_tokens");
    let field = match upstream.provider.max_tokens_field {
        MaxTokensField::MaxTokens => "max_tokens",
        MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
    };
    map.insert(field.into(), json!(outgoing.max_output_tokens));
    if outgoing.stream {
        map.insert("stream".into(), json!(true));
        map.insert("stream_options".into(), json!({"include_usage": true}));
    } else {
        map.remove("stream");
        map.remove("stream_options");
    }
    for param in &upstream.provider.drop_params {
        map.remove(param.as_str());
    }
    Ok(body)
}

pub fn build_request(upstream: &Upstream, outgoing: &Outgoing<'_>) -> ApiResult<UpstreamRequest> {
    let body = request_body(upstream, outgoing)?;
    let mut headers = vec![
        auth_header(upstream),
        ("Content-Type", "application/json".to_owned()),
    ];
    if outgoing.stream {
        headers.push(("Accept", "text/event-stream".to_owned()));
    }
    Ok(UpstreamRequest {
        url: format!("{}/chat/completions", upstream.base_url),
        headers,
        body: body.to_string(),
    })
}

pub fn parse_completion(body: &str) -> Result<ChatCompletion, String> {
    serde_json::from_str(body).map_err(|e| format!("OpenAI-compatible completion did not parse: {e}"))
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
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) => {
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream event.".into(),
                )]
            }
        };
        if let Some(error) = value.get("error") {
            let message = error["message"]
                .as_str()
                .unwrap_or("The upstream failed mid-stream.");
            return vec![StreamItem::Error(super::errors::safe_message(message))];
        }
        let mut chunk: ChatCompletionChunk = match serde_json::from_value(value) {
            Ok(chunk) => chunk,
            Err(_) => {
                return vec![StreamItem::Error(
                    "The upstream sent a malformed stream chunk.".into(),
                )]
            }
        };
        let mut items = Vec::with_capacity(2);
        if let Some(usage) = chunk.usage.take() {
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
    use crate::catalog::Catalog;
    use crate::chat::types::ChatRequest;

    fn upstream(model: &str) -> Upstream {
        let catalog = Catalog::embedded().unwrap();
        let model = catalog.model(model).unwrap();
        Upstream {
            provider: catalog.provider(&model.provider).unwrap(),
            model,
            base_url: "http://mock/v1".into(),
            api_key: "sk-upstream".into(),
        }
    }

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).unwrap()
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
        )
        .unwrap();
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
        )
        .unwrap();
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
        )
        .unwrap();
        assert_eq!(built.url, "http://mock/v1/chat/completions");
        assert!(built
            .headers
            .contains(&("Authorization", "Bearer sk-upstream".to_owned())));
    }

    fn event(data: &str) -> SseEvent {
        SseEvent {
            data: data.into(),
            ..Default::default()
        }
    }

    #[test]
    fn stream_events_become_chunks_usage_errors_and_done() {
        let mut stream = OpenAiStream;
        let chunk = r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
        assert!(
            matches!(stream.on_event(&event(chunk)).as_slice(), [StreamItem::Chunk(c)] if c.choices[0].delta.content.as_deref() == Some("Hi"))
        );
        let usage = r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
        assert!(
            matches!(stream.on_event(&event(usage)).as_slice(), [StreamItem::Usage(u)] if u.completion_tokens == 2)
        );
        assert_eq!(stream.on_event(&event("[DONE]")), vec![StreamItem::Done]);
        assert!(matches!(
            stream
                .on_event(&event(r#"{"error":{"message":"overloaded"}}"#))
                .as_slice(),
            [StreamItem::Error(_)]
        ));
        assert!(matches!(
            stream.on_event(&event("{not json")).as_slice(),
            [StreamItem::Error(_)]
        ));
    }
}
