//! `POST /v1/embeddings`: OpenAI's embeddings API for models of category `embedding`, through
//! the metered pipeline and billed per input token (no free allowance: embedding models are
//! premium).
//!
//! - OpenAI-compatible providers get `{base}/embeddings`. A provider that serves OpenAI's API in
//!   full (the catalog's `openai_native`) gets `input`, `encoding_format` and `user` as they came
//!   (token arrays unchanged, a base64 answer passed through); the others get text only, are
//!   asked for floats, and the gateway encodes base64 itself.
//! - Gemini gets `{base}/v1beta/models/{id}:batchEmbedContents`, one request per input, and the
//!   answer is put in OpenAI's shape. Gemini reports no usage for embeddings, so the bill is the
//!   documented estimate (marked `estimated`).
//!
//! `encoding_format: base64` is what OpenAI sends: each vector's float32 values, little-endian,
//! in standard base64.

use base64::Engine as _;
use serde_json::{json, Map, Value};
use worker::{Request, Response};

use crate::app::App;
use crate::auth::Principal;
use crate::billing::estimate;
use crate::billing::reservation::Bill;
use crate::billing::usage::TokenUsage;
use crate::catalog::{EmbeddingSpec, Model, WireFormat};
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::pipeline::relay::{Parsed, Unstreamed, WholeAnswer};
use crate::pipeline::{self, Call, Price};
use crate::providers::openai::auth_header;
use crate::providers::{Upstream, UpstreamRequest};

/// OpenAI's limit on the inputs of one request; a provider's own may be lower.
pub const MAX_INPUTS: usize = 2048;
const FIELDS: &[&str] = &["model", "input", "encoding_format", "dimensions", "user"];
const INPUT_SHAPES: &str =
    "`input` must be a non-empty string, an array of non-empty strings, an array of token ids, or an array of non-empty token arrays";

/// One thing to embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Text(String),
    Tokens(Vec<u64>),
}

impl Input {
    /// The usage estimate: `ceil(characters / 4)` of a text; a token array is its length.
    fn tokens(&self) -> u64 {
        match self {
            Input::Text(text) => estimate::text_tokens(text.chars().count() as u64),
            Input::Tokens(tokens) => tokens.len() as u64,
        }
    }
}

/// A request, checked as far as it can be without the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub inputs: Vec<Input>,
    /// `input` as the client sent it, forwarded unchanged where the provider reads it.
    pub raw_input: Value,
    pub base64: bool,
    pub dimensions: Option<u32>,
    pub user: Option<String>,
}

fn bad_input(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("input", message)
}

fn token_array(items: &[Value]) -> Option<Vec<u64>> {
    items.iter().map(Value::as_u64).collect()
}

fn parse_inputs(input: &Value) -> ApiResult<Vec<Input>> {
    match input {
        Value::Null => Err(bad_input("Missing required parameter: `input`.")),
        Value::String(text) if text.is_empty() => Err(bad_input(format!("{INPUT_SHAPES}; it is empty."))),
        Value::String(text) => Ok(vec![Input::Text(text.clone())]),
        Value::Array(items) if items.is_empty() => Err(bad_input(format!("{INPUT_SHAPES}; it is empty."))),
        Value::Array(items) if items.len() > MAX_INPUTS => Err(bad_input(format!(
            "`input` may hold at most {MAX_INPUTS} inputs; it has {}.",
            items.len()
        ))),
        Value::Array(items) if items.iter().all(Value::is_number) => token_array(items)
            .map(|tokens| vec![Input::Tokens(tokens)])
            .ok_or_else(|| bad_input("Token ids in `input` must be non-negative integers.")),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.as_str() {
                Some(text) if !text.is_empty() => Ok(Input::Text(text.to_owned())),
                _ => Err(bad_input(format!("`input[{i}]` is an empty string."))),
            })
            .collect(),
        Value::Array(items) if items.iter().all(Value::is_array) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.as_array().map(Vec::as_slice) {
                Some(tokens) if !tokens.is_empty() => {
                    token_array(tokens).map(Input::Tokens).ok_or_else(|| {
                        bad_input(format!("`input[{i}]` must hold non-negative integer token ids."))
                    })
                }
                _ => Err(bad_input(format!("`input[{i}]` is an empty token array."))),
            })
            .collect(),
        _ => Err(bad_input(format!("{INPUT_SHAPES}."))),
    }
}

impl EmbeddingsRequest {
    /// Parses a request body already read as a JSON object.
    pub fn parse(mut body: Map<String, Value>) -> ApiResult<EmbeddingsRequest> {
        if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ApiError::bad_request(
                unknown.clone(),
                format!("Unrecognized request argument supplied: {unknown}"),
            ));
        }
        let model = match body.remove("model") {
            Some(Value::String(model)) if !model.trim().is_empty() => model,
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(ApiError::bad_request("model", "`model` is required."))
            }
            Some(_) => return Err(ApiError::bad_request("model", "`model` must be a string.")),
        };
        let raw_input = body.remove("input").unwrap_or(Value::Null);
        let inputs = parse_inputs(&raw_input)?;
        let base64 = match body.remove("encoding_format") {
            None | Some(Value::Null) => false,
            Some(Value::String(format)) if format == "float" => false,
            Some(Value::String(format)) if format == "base64" => true,
            Some(other) => {
                return Err(ApiError::bad_request(
                    "encoding_format",
                    format!("`encoding_format` must be `float` or `base64`; got {other}."),
                ))
            }
        };
        let dimensions = match body.remove("dimensions") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_u64().and_then(|d| u32::try_from(d).ok()) {
                Some(d) if d >= 1 => Some(d),
                _ => {
                    return Err(ApiError::bad_request(
                        "dimensions",
                        format!("`dimensions` must be a positive integer; got {value}."),
                    ))
                }
            },
        };
        let user = match body.remove("user") {
            None | Some(Value::Null) => None,
            Some(Value::String(user)) => Some(user),
            Some(_) => return Err(ApiError::bad_request("user", "`user` must be a string.")),
        };
        Ok(EmbeddingsRequest {
            model,
            inputs,
            raw_input,
            base64,
            dimensions,
            user,
        })
    }

    /// The usage estimate of every input together.
    pub fn prompt_tokens(&self) -> u64 {
        self.inputs.iter().map(Input::tokens).sum()
    }

    /// What `model` can't take of this request: a 400 naming the field.
    pub fn check_against(&self, model: &Model, spec: &EmbeddingSpec) -> ApiResult<()> {
        if let Some(wanted) = self.dimensions {
            if !spec.shortens() {
                return Err(ApiError::bad_request(
                    "dimensions",
                    format!(
                        "`{}` does not take `dimensions`; its vectors have {} dimensions.",
                        model.id, spec.dimensions
                    ),
                ));
            }
            if !spec.allows_dimensions(wanted) {
                let allowed = match spec.dimensions_min {
                    Some(min) => format!("from {min} to {}", spec.dimensions),
                    None => {
                        let choices: Vec<String> =
                            spec.dimensions_choices.iter().map(u32::to_string).collect();
                        format!("one of {}", choices.join(", "))
                    }
                };
                return Err(ApiError::bad_request(
                    "dimensions",
                    format!("`dimensions` for `{}` must be {allowed}; got {wanted}.", model.id),
                ));
            }
        }
        let max_inputs = spec.max_inputs.map_or(MAX_INPUTS, |m| m as usize);
        if self.inputs.len() > max_inputs {
            return Err(bad_input(format!(
                "`{}` takes at most {max_inputs} inputs per request; this one has {}.",
                model.id,
                self.inputs.len()
            )));
        }
        if !spec.openai_native && self.inputs.iter().any(|i| matches!(i, Input::Tokens(_))) {
            return Err(bad_input(format!(
                "`{}` takes text: send `input` as a string or an array of strings, not token ids.",
                model.id
            )));
        }
        let window = u64::from(model.context_length);
        if window > 0 {
            if let Some(longest) = self
                .inputs
                .iter()
                .map(Input::tokens)
                .max()
                .filter(|&t| t > window)
            {
                return Err(pipeline::context_length_exceeded("input", longest, window, false));
            }
        }
        Ok(())
    }
}

/// The upstream request for `request` on `upstream`.
pub fn build_request(
    upstream: &Upstream,
    spec: &EmbeddingSpec,
    request: &EmbeddingsRequest,
) -> UpstreamRequest {
    let model = &upstream.model.upstream_id;
    match upstream.provider.wire {
        WireFormat::Gemini => {
            let requests: Vec<Value> = request
                .inputs
                .iter()
                .map(|input| {
                    let text = match input {
                        Input::Text(text) => text.as_str(),
                        // Refused before: a Gemini model takes text.
                        Input::Tokens(_) => "",
                    };
                    let mut one =
                        json!({"model": format!("models/{model}"), "content": {"parts": [{"text": text}]}});
                    if let Some(d) = request.dimensions {
                        one["outputDimensionality"] = json!(d);
                    }
                    one
                })
                .collect();
            UpstreamRequest {
                url: format!("{}/v1beta/models/{model}:batchEmbedContents", upstream.base_url),
                headers: vec![
                    ("x-goog-api-key", upstream.api_key.clone()),
                    ("content-type", "application/json".to_owned()),
                ],
                body: json!({"requests": requests}).to_string(),
            }
        }
        WireFormat::Openai | WireFormat::Anthropic => {
            let mut body = json!({"model": model, "input": request.raw_input});
            let native = spec.openai_native;
            body["encoding_format"] = json!(if native && request.base64 {
                "base64"
            } else {
                "float"
            });
            if let Some(d) = request.dimensions {
                body["dimensions"] = json!(d);
            }
            if let (true, Some(user)) = (native, &request.user) {
                body["user"] = json!(user);
            }
            UpstreamRequest {
                url: format!("{}/embeddings", upstream.base_url),
                headers: vec![
                    auth_header(upstream),
                    ("Content-Type", "application/json".to_owned()),
                ],
                body: body.to_string(),
            }
        }
    }
}

/// A vector of JSON numbers as OpenAI's base64: float32, little-endian, standard alphabet.
pub fn base64_of_floats(values: &[Value]) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for value in values {
        let x = value.as_f64().ok_or_else(|| format!("a vector holds {value}"))?;
        bytes.extend_from_slice(&(x as f32).to_le_bytes());
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Turns an upstream's answer into OpenAI's embeddings list (usage filled in later).
pub struct EmbeddingsRelay {
    pub wire: WireFormat,
    /// The model id as the client asked for it, shown back.
    pub model: String,
    pub inputs: usize,
    /// The client asked for base64.
    pub base64: bool,
}

impl EmbeddingsRelay {
    fn embedding(&self, vector: &Value) -> Result<Value, String> {
        match (vector, self.base64) {
            (Value::Array(values), true) => base64_of_floats(values).map(Value::String),
            (Value::Array(values), false) => {
                if values.iter().all(Value::is_number) {
                    Ok(vector.clone())
                } else {
                    Err("a vector holds something other than numbers".into())
                }
            }
            // Asked for base64 of a provider that answers it: passed through as it is.
            (Value::String(_), true) => Ok(vector.clone()),
            _ => Err(format!("an embedding is neither floats nor base64: {vector}")),
        }
    }

    fn vectors<'a>(&self, answer: &'a Value) -> Result<Vec<&'a Value>, String> {
        let vectors: Vec<&Value> = match self.wire {
            WireFormat::Gemini => answer["embeddings"]
                .as_array()
                .ok_or("no `embeddings` in the answer")?
                .iter()
                .map(|e| &e["values"])
                .collect(),
            WireFormat::Openai | WireFormat::Anthropic => {
                let mut data: Vec<&Value> = answer["data"]
                    .as_array()
                    .ok_or("no `data` in the answer")?
                    .iter()
                    .collect();
                data.sort_by_key(|item| item["index"].as_u64().unwrap_or(u64::MAX));
                data.into_iter().map(|item| &item["embedding"]).collect()
            }
        };
        if vectors.len() != self.inputs {
            return Err(format!("{} vectors for {} inputs", vectors.len(), self.inputs));
        }
        Ok(vectors)
    }
}

impl WholeAnswer for EmbeddingsRelay {
    const MAKES: &'static str = "embeddings";

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        let answer: Value =
            serde_json::from_slice(body.as_bytes()).map_err(|e| format!("embeddings: {e}"))?;
        let data = self
            .vectors(&answer)?
            .into_iter()
            .enumerate()
            .map(|(index, vector)| {
                Ok(json!({"object": "embedding", "index": index, "embedding": self.embedding(vector)?}))
            })
            .collect::<Result<Vec<Value>, String>>()?;
        // OpenAI's `usage.prompt_tokens`; Gemini sends none, and neither does a vendor that omits it.
        let usage = answer
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .map(|tokens| TokenUsage::new(tokens, 0));
        Ok(Parsed {
            body: json!({"object": "list", "data": data, "model": self.model}),
            usage,
            delivered_chars: 0,
            units: None,
        })
    }

    fn render_json(&mut self, mut body: Value, bill: &Bill) -> Value {
        let tokens = bill.usage().input;
        body["usage"] = json!({
            "prompt_tokens": tokens,
            "total_tokens": tokens,
            "cost_usd": bill.cost.as_usd_f64(),
            "estimated": bill.estimated(),
        });
        body
    }
}

/// `POST /v1/embeddings`.
pub async fn create(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let body: Map<String, Value> = http::read_json(&mut req, app.config.max_chat_body_bytes).await?;
    let request = EmbeddingsRequest::parse(body)?;
    let catalog = crate::catalog::live::for_caller(app, principal).await?;
    let model = catalog
        .model(&request.model)
        .ok_or_else(|| ApiError::model_not_found(&request.model))?;
    // The catalog gives `embedding` facts to the models of category `embedding` only.
    let Some(spec) = model.embedding.as_ref() else {
        return Err(ApiError::bad_request(
            "model",
            format!(
                "`{}` is not an embedding model (category `{}`); /v1/embeddings serves models of category `embedding` (GET /api/models?category=embedding lists them).",
                model.id,
                model.category.as_str()
            ),
        ));
    };
    principal.require_model(&model.id)?;
    request.check_against(model, spec)?;
    // The catalog gives an embedding model routes of one wire format only.
    let routes = crate::providers::same_wire(Upstream::routes(&app.config, model)?);
    let wire = routes[0].provider.wire;
    let inputs = request.inputs.len();
    let call = Call {
        model: model.clone(),
        routes,
        stream: false,
        // Nothing is generated: the output ceiling (and its share of the TPM window) is the least.
        requested_max_output: Some(0),
        prompt_tokens: request.prompt_tokens(),
        prompt_param: "input",
        price: Price::Tokens(model.token_prices()),
        what: format!("embedding {inputs} input(s) with `{}`", model.id),
        timing: pipeline::timing::Timing::new(),
    };
    let relay = EmbeddingsRelay {
        wire,
        model: request.model.clone(),
        inputs,
        base64: request.base64,
    };
    let build = |upstream: &Upstream, _: u32| Ok(build_request(upstream, spec, &request));
    pipeline::run(app, principal, call, &build, Box::new(Unstreamed(relay))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn parse(body: Value) -> ApiResult<EmbeddingsRequest> {
        EmbeddingsRequest::parse(body.as_object().unwrap().clone())
    }

    fn param(result: ApiResult<EmbeddingsRequest>) -> (u16, Option<String>) {
        let error = result.unwrap_err();
        (error.status(), error.param.clone())
    }

    #[test]
    fn every_input_shape_openai_documents_parses() {
        let inputs = |input: Value| parse(json!({"model": "m", "input": input})).unwrap().inputs;
        assert_eq!(inputs(json!("a b")), vec![Input::Text("a b".into())]);
        assert_eq!(
            inputs(json!(["a", "b"])),
            vec![Input::Text("a".into()), Input::Text("b".into())]
        );
        assert_eq!(inputs(json!([1, 2, 3])), vec![Input::Tokens(vec![1, 2, 3])]);
        assert_eq!(
            inputs(json!([[1, 2], [3]])),
            vec![Input::Tokens(vec![1, 2]), Input::Tokens(vec![3])]
        );
    }

    #[test]
    fn bad_inputs_are_400s_naming_input() {
        for bad in [
            json!(null),
            json!(""),
            json!([]),
            json!([""]),
            json!([[]]),
            json!([1, "a"]),
            json!(["a", [1]]),
            json!([1.5]),
            json!([-1]),
            json!({"text": "a"}),
            json!(7),
            Value::Array(vec![json!("x"); MAX_INPUTS + 1]),
        ] {
            assert_eq!(
                param(parse(json!({"model": "m", "input": bad.clone()}))),
                (400, Some("input".into())),
                "{bad}"
            );
        }
        assert_eq!(param(parse(json!({"model": "m"}))), (400, Some("input".into())));
        assert!(parse(json!({"model": "m", "input": vec![json!("x"); MAX_INPUTS]})).is_ok());
    }

    #[test]
    fn the_other_fields_are_checked_and_unknown_ones_refused() {
        let with = |extra: Value| {
            let mut body = json!({"model": "m", "input": "x"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parse(body)
        };
        assert!(with(json!({"encoding_format": "base64"})).unwrap().base64);
        assert!(!with(json!({"encoding_format": "float"})).unwrap().base64);
        assert_eq!(
            param(with(json!({"encoding_format": "int8"}))),
            (400, Some("encoding_format".into()))
        );
        assert_eq!(with(json!({"dimensions": 256})).unwrap().dimensions, Some(256));
        for bad in [json!(0), json!(-3), json!(2.5), json!("256")] {
            assert_eq!(
                param(with(json!({"dimensions": bad}))),
                (400, Some("dimensions".into()))
            );
        }
        assert_eq!(with(json!({"user": "u-1"})).unwrap().user.as_deref(), Some("u-1"));
        let unknown = with(json!({"task_type": "x"})).unwrap_err();
        assert_eq!(unknown.param.as_deref(), Some("task_type"));
        assert_eq!(
            unknown.message,
            "Unrecognized request argument supplied: task_type"
        );
        assert_eq!(param(parse(json!({"input": "x"}))), (400, Some("model".into())));
    }

    fn model(id: &str) -> &'static Model {
        Catalog::embedded().unwrap().model(id).unwrap()
    }

    fn checked(id: &str, body: Value) -> ApiResult<()> {
        let m = model(id);
        parse(body)?.check_against(m, m.embedding.as_ref().unwrap())
    }

    #[test]
    fn what_a_model_cannot_take_is_refused_by_name() {
        let request = |model: &str, extra: Value| {
            let mut body = json!({"model": model, "input": ["a", "b"]});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            checked(model, body)
        };
        assert!(request("text-embedding-3-small", json!({"dimensions": 1})).is_ok());
        assert!(request("text-embedding-3-small", json!({"dimensions": 1536})).is_ok());
        let too_wide = request("text-embedding-3-small", json!({"dimensions": 1537})).unwrap_err();
        assert_eq!(too_wide.param.as_deref(), Some("dimensions"));
        assert!(
            too_wide.message.contains("from 1 to 1536"),
            "{}",
            too_wide.message
        );
        assert!(request("gemini-embedding-001", json!({"dimensions": 768})).is_ok());
        assert!(request("gemini-embedding-001", json!({"dimensions": 64})).is_err());
        assert!(request("text-embedding-v4", json!({"dimensions": 2048})).is_ok());
        let odd = request("text-embedding-v4", json!({"dimensions": 1000})).unwrap_err();
        assert!(odd.message.contains("one of 2048, 1536, 1024"), "{}", odd.message);
        let fixed = request("mistral-embed", json!({"dimensions": 512})).unwrap_err();
        assert_eq!(fixed.param.as_deref(), Some("dimensions"));
        // Token ids only reach a provider that reads them.
        assert!(checked("text-embedding-3-large", json!({"model": "x", "input": [[1, 2]]})).is_ok());
        for text_only in ["gemini-embedding-001", "text-embedding-v4", "mistral-embed"] {
            let error = checked(text_only, json!({"model": "x", "input": [1, 2]})).unwrap_err();
            assert_eq!(error.param.as_deref(), Some("input"), "{text_only}");
            assert!(error.message.contains("takes text"), "{}", error.message);
        }
        // Providers' batch limits: Gemini 100, Alibaba 10.
        let eleven = json!({"model": "x", "input": vec![json!("t"); 11]});
        assert!(checked("text-embedding-v4", eleven.clone()).is_err());
        assert!(checked("gemini-embedding-001", eleven).is_ok());
        let many = json!({"model": "x", "input": vec![json!("t"); 101]});
        assert_eq!(
            checked("gemini-embedding-001", many)
                .unwrap_err()
                .param
                .as_deref(),
            Some("input")
        );
        // The window bounds each input, not their sum.
        let long = "word ".repeat(2048);
        let error = checked("gemini-embedding-001", json!({"model": "x", "input": [long]})).unwrap_err();
        assert_eq!(
            (error.code.as_ref(), error.param.as_deref()),
            ("context_length_exceeded", Some("input"))
        );
        let many_short = vec![json!("word ".repeat(300)); 100];
        assert!(checked("gemini-embedding-001", json!({"model": "x", "input": many_short})).is_ok());
    }

    fn upstream(id: &str) -> Upstream {
        Upstream::for_test(id, "https://up.example/v1", "k")
    }

    fn built(id: &str, body: Value) -> (String, Value) {
        let up = upstream(id);
        let request = parse(body).unwrap();
        let sent = build_request(&up, up.model.embedding.as_ref().unwrap(), &request);
        (sent.url, serde_json::from_slice(sent.body.as_bytes()).unwrap())
    }

    #[test]
    fn openai_gets_the_request_as_it_came_and_others_get_floats_of_text() {
        let (url, body) = built(
            "text-embedding-3-small",
            json!({"model": "text-embedding-3-small", "input": [[1, 2], [3]], "encoding_format": "base64", "dimensions": 8, "user": "u"}),
        );
        assert_eq!(url, "https://up.example/v1/embeddings");
        assert_eq!(
            body,
            json!({"model": "text-embedding-3-small", "input": [[1, 2], [3]], "encoding_format": "base64", "dimensions": 8, "user": "u"})
        );
        let (_, body) = built(
            "mistral-embed",
            json!({"model": "mistral-embed", "input": "hi", "encoding_format": "base64", "user": "u"}),
        );
        assert_eq!(
            body,
            json!({"model": "mistral-embed", "input": "hi", "encoding_format": "float"})
        );
    }

    #[test]
    fn gemini_gets_one_batch_request_per_input() {
        let (url, body) = built(
            "gemini-embedding-001",
            json!({"model": "gemini-embedding-001", "input": ["one", "two"], "dimensions": 768}),
        );
        assert_eq!(
            url,
            "https://up.example/v1/v1beta/models/gemini-embedding-001:batchEmbedContents"
        );
        assert_eq!(
            body,
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "one"}]}, "outputDimensionality": 768},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "two"}]}, "outputDimensionality": 768}
            ]})
        );
    }

    fn relay(wire: WireFormat, inputs: usize, base64: bool) -> EmbeddingsRelay {
        EmbeddingsRelay {
            wire,
            model: "asked-id".into(),
            inputs,
            base64,
        }
    }

    fn floats_of(b64: &str) -> Vec<f32> {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn a_gemini_answer_becomes_openais_list_in_floats_or_base64() {
        let answer = r#"{"embeddings": [{"values": [0.5, -0.25]}, {"values": [0.125, 1e-3]}]}"#;
        let parsed = relay(WireFormat::Gemini, 2, false).parse_json(answer).unwrap();
        assert_eq!(parsed.usage, None, "Gemini reports none: the estimate is billed");
        assert_eq!(
            parsed.body,
            json!({"object": "list", "model": "asked-id", "data": [
                {"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
                {"object": "embedding", "index": 1, "embedding": [0.125, 1e-3]}]})
        );
        let parsed = relay(WireFormat::Gemini, 2, true).parse_json(answer).unwrap();
        let second = parsed.body["data"][1]["embedding"].as_str().unwrap();
        assert_eq!(floats_of(second), vec![0.125_f32, 1e-3_f32]);
        assert!(relay(WireFormat::Gemini, 3, false).parse_json(answer).is_err());
    }

    #[test]
    fn an_openai_answer_keeps_its_vectors_and_reads_its_usage() {
        let answer = r#"{"object":"list","model":"text-embedding-3-small","data":[
            {"object":"embedding","index":1,"embedding":"AAAAPw=="},
            {"object":"embedding","index":0,"embedding":"AACAPw=="}],
            "usage":{"prompt_tokens":7,"total_tokens":7}}"#;
        let parsed = relay(WireFormat::Openai, 2, true).parse_json(answer).unwrap();
        assert_eq!(parsed.usage, Some(TokenUsage::new(7, 0)));
        assert_eq!(parsed.body["data"][0]["embedding"], "AACAPw==");
        assert_eq!(floats_of("AACAPw=="), vec![1.0]);
        assert_eq!(parsed.body["data"][1]["index"], 1);
        // A provider that only sends floats, asked for base64 by the client: encoded here.
        let floats = r#"{"data":[{"index":0,"embedding":[1.0, 0.5]}]}"#;
        let parsed = relay(WireFormat::Openai, 1, true).parse_json(floats).unwrap();
        assert_eq!(
            floats_of(parsed.body["data"][0]["embedding"].as_str().unwrap()),
            vec![1.0, 0.5]
        );
        assert_eq!(parsed.usage, None);
        assert!(relay(WireFormat::Openai, 1, false)
            .parse_json(r#"{"data":[{"index":0,"embedding":"AACAPw=="}]}"#)
            .is_err());
    }

    #[test]
    fn the_estimate_is_a_quarter_of_the_characters_per_text_and_the_length_of_token_arrays() {
        let request = parse(json!({"model": "m", "input": ["abcde", "ab"]})).unwrap();
        assert_eq!(request.prompt_tokens(), 2 + 1);
        let tokens = parse(json!({"model": "m", "input": [[1, 2, 3], [4]]})).unwrap();
        assert_eq!(tokens.prompt_tokens(), 4);
    }
}
