//! Embeddings: OpenAI `POST …/embeddings` and Gemini `…/models/{model}:embedContent` /
//! `:batchEmbedContents`.
//!
//! A vector is a deterministic function of its input ([`vector`]): the model's native
//! width of pseudo-random components seeded by the input's FNV-1a hash, scaled to unit
//! length. A smaller `dimensions` (OpenAI) keeps the first components and scales them to
//! unit length again, as OpenAI's shortened text-embedding-3 vectors are; a smaller
//! `outputDimensionality` (Gemini) only truncates, as Google documents ("excessive values
//! … are truncated from the end"; only the full width is normalized). Gemini reports no
//! usage for embeddings; OpenAI reports `prompt_tokens` (the mock's count: words of a
//! text, length of a token array).

use base64::Engine as _;
use serde_json::{json, Value};

use crate::answer::count_words;
use crate::error::WireError;
use crate::util;

/// One input to embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedInput {
    Text(String),
    /// A token array, passed as OpenAI's integer form.
    Tokens(Vec<u64>),
}

impl EmbedInput {
    /// The mock's token count: words of a text, length of a token array.
    pub fn tokens(&self) -> u64 {
        match self {
            EmbedInput::Text(t) => count_words(t),
            EmbedInput::Tokens(t) => t.len() as u64,
        }
    }

    fn seed(&self) -> u64 {
        match self {
            EmbedInput::Text(t) => util::fnv1a64(format!("text:{t}").as_bytes()),
            EmbedInput::Tokens(t) => {
                let mut bytes = b"tokens:".to_vec();
                for x in t {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                util::fnv1a64(&bytes)
            }
        }
    }
}

/// The width a model's vectors have when no dimensions are asked for.
pub fn native_dimensions(model: &str) -> usize {
    let m = model.trim_start_matches("models/");
    match m {
        _ if m.contains("text-embedding-3-large") => 3072,
        _ if m.contains("text-embedding-3-small") || m.contains("ada-002") => 1536,
        _ if m.starts_with("gemini-embedding") => 3072,
        _ if m.contains("text-embedding-004") || m.contains("text-embedding-005") || m == "embedding-001" => {
            768
        }
        _ if m.contains("mistral-embed") => 1024,
        _ => 1024,
    }
}

/// The vector for `input` at `dims` components (≤ the native width of `model`):
/// `renormalize` scales the kept components back to unit length (OpenAI), otherwise they
/// are only truncated (Gemini).
pub fn vector(input: &EmbedInput, model: &str, dims: Option<usize>, renormalize: bool) -> Vec<f32> {
    let native = native_dimensions(model);
    let seed = input.seed();
    let full: Vec<f64> = (0..native as u64)
        .map(|i| {
            let x = util::mix64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    let full_norm = norm(&full);
    let mut kept: Vec<f64> = full
        .iter()
        .take(dims.unwrap_or(native).min(native))
        .map(|x| x / full_norm)
        .collect();
    if renormalize {
        let n = norm(&kept);
        kept.iter_mut().for_each(|x| *x /= n);
    }
    kept.into_iter().map(|x| x as f32).collect()
}

/// A JSON number for an f32 in its shortest round-trip form (`-0.0123`, as OpenAI prints).
fn float(x: f32) -> Value {
    format!("{x}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// OpenAI's `encoding_format: base64`: the little-endian f32 bytes, base64 (standard).
pub fn base64_floats(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A parsed OpenAI embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub inputs: Vec<EmbedInput>,
    pub base64: bool,
    pub dimensions: Option<usize>,
}

/// What a test expects back: one vector per input, and the usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u64,
}

fn invalid_input() -> WireError {
    WireError::bad_request(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
    )
}

fn token_array(a: &[Value]) -> Option<Vec<u64>> {
    a.iter().map(Value::as_u64).collect()
}

/// Parses `POST …/embeddings` and validates it the way OpenAI does.
pub fn parse_openai(body: &Value) -> Result<EmbeddingsRequest, WireError> {
    let Some(obj) = body.as_object() else {
        return Err(WireError::bad_request("The request body must be a JSON object."));
    };
    let model = match obj.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => return Err(WireError::bad_request("you must provide a model parameter").with_param("model")),
    };
    let inputs = match obj.get("input") {
        None | Some(Value::Null) => {
            return Err(WireError::bad_request("Missing required parameter: 'input'.")
                .with_param("input")
                .with_code("missing_required_parameter"))
        }
        Some(Value::String(s)) if s.is_empty() => return Err(invalid_input()),
        Some(Value::String(s)) => vec![EmbedInput::Text(s.clone())],
        Some(Value::Array(a)) if a.is_empty() => return Err(invalid_input()),
        Some(Value::Array(a)) if a.len() > 2048 => {
            return Err(WireError::bad_request(format!(
                "Invalid 'input': array too long. Expected an array with maximum length 2048, but got an array with length {} instead.",
                a.len()
            ))
            .with_param("input")
            .with_code("array_above_max_length"))
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_number) => {
            vec![EmbedInput::Tokens(token_array(a).ok_or_else(invalid_input)?)]
        }
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) if !s.is_empty() => Ok(EmbedInput::Text(s.clone())),
                Value::Array(t) if !t.is_empty() => token_array(t).map(EmbedInput::Tokens).ok_or_else(invalid_input),
                _ => Err(invalid_input()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(invalid_input()),
    };
    let base64 = match obj.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(v) => match v.as_str() {
            Some("float") => false,
            Some("base64") => true,
            _ => {
                return Err(WireError::bad_request(format!(
                    "Invalid value: {v}. Supported values are: 'float' and 'base64'."
                ))
                .with_param("encoding_format")
                .with_code("invalid_value"))
            }
        },
    };
    let dimensions = match obj.get("dimensions") {
        None | Some(Value::Null) => None,
        Some(v) => {
            if model.contains("ada-002") {
                return Err(
                    WireError::bad_request("This model does not support specifying dimensions.")
                        .with_param("dimensions"),
                );
            }
            match v.as_u64() {
                Some(d) if d >= 1 && d as usize <= native_dimensions(&model) => Some(d as usize),
                Some(d) if d >= 1 => {
                    return Err(WireError::bad_request(format!(
                        "This model does not support specifying dimensions of {d}."
                    ))
                    .with_param("dimensions"))
                }
                _ => {
                    return Err(WireError::bad_request(format!(
                        "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got {v} instead."
                    ))
                    .with_param("dimensions")
                    .with_code("integer_below_min_value"))
                }
            }
        }
    };
    Ok(EmbeddingsRequest {
        model,
        inputs,
        base64,
        dimensions,
    })
}

impl EmbeddingsRequest {
    /// The texts `[[mock …]]` markers are read from.
    pub fn texts(&self) -> Vec<&str> {
        self.inputs
            .iter()
            .filter_map(|i| match i {
                EmbedInput::Text(t) => Some(t.as_str()),
                EmbedInput::Tokens(_) => None,
            })
            .collect()
    }

    pub fn expected(&self) -> Embeddings {
        Embeddings {
            vectors: self
                .inputs
                .iter()
                .map(|i| vector(i, &self.model, self.dimensions, true))
                .collect(),
            prompt_tokens: self.inputs.iter().map(EmbedInput::tokens).sum(),
        }
    }
}

/// The embeddings list OpenAI answers.
pub fn openai_response(req: &EmbeddingsRequest, no_usage: bool) -> Value {
    let expected = req.expected();
    let data: Vec<Value> = expected
        .vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if req.base64 {
                json!(base64_floats(v))
            } else {
                Value::Array(v.iter().map(|x| float(*x)).collect())
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let mut out = json!({"object": "list", "data": data, "model": req.model});
    if !no_usage {
        out["usage"] =
            json!({"prompt_tokens": expected.prompt_tokens, "total_tokens": expected.prompt_tokens});
    }
    out
}

/// One Gemini embed request: the text of its parts and its `outputDimensionality`.
#[derive(Debug, Clone, PartialEq)]
pub struct GeminiEmbed {
    pub text: String,
    pub dimensions: Option<usize>,
}

fn field<'a>(obj: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel).or_else(|| obj.get(snake))
}

fn gemini_embed(req: &Value, model: &str, path: &str) -> Result<GeminiEmbed, WireError> {
    let parts = req.pointer("/content/parts").and_then(Value::as_array);
    let texts: Vec<&str> = match parts {
        Some(p) if !p.is_empty() => p
            .iter()
            .filter_map(|x| x.get("text").and_then(Value::as_str))
            .collect(),
        _ => {
            return Err(WireError::bad_request(format!(
                "* {path}.content.parts: contents.parts must not be empty.\n"
            )))
        }
    };
    let dimensions = match field(req, "outputDimensionality", "output_dimensionality") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(d) if d >= 1 && (d as usize) <= native_dimensions(model) => Some(d as usize),
            _ => {
                return Err(WireError::bad_request(format!(
                "* {path}.output_dimensionality: Output dimensionality must be between 1 and {}, got {v}.\n",
                native_dimensions(model)
            )))
            }
        },
    };
    Ok(GeminiEmbed {
        text: texts.join(" "),
        dimensions,
    })
}

/// Parses `:embedContent` (one request) or `:batchEmbedContents` (its `requests`, each of
/// whose `model` must be the URL's, as Google requires).
pub fn parse_gemini(model: &str, batch: bool, body: &Value) -> Result<Vec<GeminiEmbed>, WireError> {
    if !body.is_object() {
        return Err(WireError::bad_request("Invalid JSON payload received."));
    }
    if !batch {
        return Ok(vec![gemini_embed(body, model, "EmbedContentRequest")?]);
    }
    let requests = match body.get("requests").and_then(Value::as_array) {
        Some(r) if !r.is_empty() => r,
        _ => {
            return Err(WireError::bad_request(
                "* BatchEmbedContentsRequest.requests: requests is not specified\n",
            ))
        }
    };
    if requests.len() > 100 {
        return Err(WireError::bad_request(
            "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n",
        ));
    }
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let want = format!("models/{model}");
            if let Some(m) = r.get("model").and_then(Value::as_str) {
                if m != want {
                    return Err(WireError::bad_request(format!(
                        "* BatchEmbedContentsRequest.requests[{i}].model: model in the request ({m}) does not match the model in the URL ({want})\n"
                    )));
                }
            }
            gemini_embed(r, model, &format!("BatchEmbedContentsRequest.requests[{i}]"))
        })
        .collect()
}

/// The vectors Gemini answers for parsed requests (truncated, not renormalized).
pub fn gemini_vectors(model: &str, embeds: &[GeminiEmbed]) -> Vec<Vec<f32>> {
    embeds
        .iter()
        .map(|e| vector(&EmbedInput::Text(e.text.clone()), model, e.dimensions, false))
        .collect()
}

/// Gemini's answer: `{"embedding": {"values"}}` or `{"embeddings": [{"values"}…]}`, no usage.
pub fn gemini_response(model: &str, batch: bool, embeds: &[GeminiEmbed]) -> Value {
    let values = |v: &Vec<f32>| json!({"values": v.iter().map(|x| float(*x)).collect::<Vec<_>>()});
    let vectors = gemini_vectors(model, embeds);
    if batch {
        json!({"embeddings": vectors.iter().map(values).collect::<Vec<_>>()})
    } else {
        json!({"embedding": vectors.first().map(values).unwrap_or_else(|| json!({"values": []}))})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f32]) -> f64 {
        v.iter()
            .map(|x| f64::from(*x) * f64::from(*x))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn vectors_are_deterministic_unit_and_input_dependent() {
        let a = vector(
            &EmbedInput::Text("hello".into()),
            "text-embedding-3-small",
            None,
            true,
        );
        assert_eq!(a.len(), 1536);
        assert!((norm(&a) - 1.0).abs() < 1e-5);
        assert_eq!(
            a,
            vector(
                &EmbedInput::Text("hello".into()),
                "text-embedding-3-small",
                None,
                true
            )
        );
        assert_ne!(
            a,
            vector(
                &EmbedInput::Text("hello!".into()),
                "text-embedding-3-small",
                None,
                true
            )
        );
        let short = vector(
            &EmbedInput::Text("hello".into()),
            "text-embedding-3-small",
            Some(8),
            true,
        );
        assert!((norm(&short) - 1.0).abs() < 1e-5);
        let cut = vector(
            &EmbedInput::Text("hello".into()),
            "gemini-embedding-001",
            Some(8),
            false,
        );
        assert!(norm(&cut) < 0.5, "a truncated Gemini vector keeps its scale");
    }

    #[test]
    fn openai_inputs_and_errors() {
        let p = |input: Value| parse_openai(&json!({"model": "text-embedding-3-small", "input": input}));
        assert_eq!(p(json!("a b c")).unwrap().expected().prompt_tokens, 3);
        assert_eq!(p(json!(["a", "b c"])).unwrap().inputs.len(), 2);
        assert_eq!(
            p(json!([1, 2, 3])).unwrap().inputs,
            vec![EmbedInput::Tokens(vec![1, 2, 3])]
        );
        assert_eq!(p(json!([[1, 2], [3]])).unwrap().expected().prompt_tokens, 3);
        for bad in [
            json!(""),
            json!([]),
            json!([""]),
            json!([1, "a"]),
            json!({"a": 1}),
            json!([[]]),
        ] {
            assert_eq!(p(bad.clone()).unwrap_err().status, 400, "{bad}");
        }
        let b64 = parse_openai(&json!({"model": "text-embedding-3-small", "input": "x",
            "encoding_format": "base64", "dimensions": 4}))
        .unwrap();
        let body = openai_response(&b64, false);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        let floats: Vec<f32> = raw
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(floats, b64.expected().vectors[0]);
        let ada = parse_openai(&json!({"model": "text-embedding-ada-002", "input": "x", "dimensions": 4}));
        assert!(ada
            .unwrap_err()
            .message
            .contains("does not support specifying dimensions"));
    }

    #[test]
    fn gemini_batch_checks_the_model_and_answers_in_order() {
        let body = json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "one"}]}, "outputDimensionality": 3},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "two"}]}}
        ]});
        let embeds = parse_gemini("gemini-embedding-001", true, &body).unwrap();
        let out = gemini_response("gemini-embedding-001", true, &embeds);
        assert_eq!(out["embeddings"][0]["values"].as_array().unwrap().len(), 3);
        assert_eq!(out["embeddings"][1]["values"].as_array().unwrap().len(), 3072);
        assert!(out.get("usageMetadata").is_none());
        let wrong = json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]});
        assert_eq!(
            parse_gemini("gemini-embedding-001", true, &wrong)
                .unwrap_err()
                .status,
            400
        );
    }
}
