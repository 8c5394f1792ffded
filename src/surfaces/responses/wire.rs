//! Pieces of the Responses wire format shared by both relays and the store: the `response`
//! object's shell, usage in the Responses shape, SSE frames, `warnings` and ids.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::types::Parsed;
use crate::billing::usage::TokenUsage;

/// Something the gateway did to the request instead of refusing it (a tool the model's provider
/// can't run, dropped), reported in the response's `warnings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: &'static str,
    pub param: String,
    pub message: String,
}

impl Warning {
    pub fn dropped(param: impl Into<String>, message: impl Into<String>) -> Warning {
        Warning {
            code: "dropped",
            param: param.into(),
            message: message.into(),
        }
    }
}

/// A fresh response id, `resp_` and 48 hex digits (OpenAI's length).
pub fn new_response_id() -> String {
    format!("resp_{}", crate::http::random_hex(24))
}

/// The id of the `n`th output item of a response the gateway made (`msg_…`, `fc_…`): unique
/// because the response id is.
pub fn item_id(prefix: &str, response_id: &str, n: usize) -> String {
    let suffix = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{suffix}{n:03}")
}

/// One SSE frame, named as OpenAI names it (`event: response.created`). `payload` already holds
/// `type` and `sequence_number`.
pub fn frame(kind: &str, payload: &Value) -> String {
    format!("event: {kind}\ndata: {payload}\n\n")
}

/// Usage in the Responses shape. Input counts cached tokens and output counts reasoning tokens,
/// as at OpenAI (SPEC: pinned details).
pub fn usage_json(usage: &TokenUsage) -> Value {
    json!({
        "input_tokens": usage.input,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.total(),
    })
}

/// Usage as OpenAI's Responses API reports it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponsesUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub output_tokens_details: Option<OutputDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InputDetails {
    #[serde(default)]
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OutputDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl ResponsesUsage {
    /// Canonical usage. OpenAI's counts already include cached and reasoning tokens.
    pub fn canonical(&self) -> TokenUsage {
        TokenUsage {
            input: self.input_tokens,
            cache_read: self.input_tokens_details.as_ref().map_or(0, |d| d.cached_tokens),
            output: self.output_tokens,
            reasoning: self
                .output_tokens_details
                .as_ref()
                .map_or(0, |d| d.reasoning_tokens),
            ..TokenUsage::default()
        }
    }

    pub fn from_value(value: &Value) -> Option<TokenUsage> {
        if value.is_null() {
            return None;
        }
        serde_json::from_value::<ResponsesUsage>(value.clone())
            .ok()
            .map(|usage| usage.canonical())
    }
}

/// What the gateway changes in a `response` object it passes on or makes: the model id the
/// client asked for, the client's `store` and `previous_response_id` (the upstream saw neither)
/// and the warnings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub model: String,
    pub store: bool,
    pub previous_response_id: Option<String>,
    pub warnings: Vec<Warning>,
}

impl Overrides {
    pub fn of(parsed: &Parsed, warnings: Vec<Warning>) -> Overrides {
        Overrides {
            model: parsed.request.model.clone(),
            store: parsed.request.stores(),
            previous_response_id: parsed.request.previous_response_id.clone(),
            warnings,
        }
    }

    pub fn apply(&self, response: &mut Map<String, Value>) {
        response.insert("model".into(), json!(self.model));
        response.insert("store".into(), json!(self.store));
        response.insert("previous_response_id".into(), json!(self.previous_response_id));
        if !self.warnings.is_empty() {
            response.insert("warnings".into(), json!(self.warnings));
        }
    }
}

/// The `response` object of a response the gateway makes (translated models), before output
/// and usage: the request's settings echoed with OpenAI's defaults, in OpenAI's field order.
pub fn response_shell(
    id: &str,
    created_at: i64,
    parsed: &Parsed,
    overrides: &Overrides,
) -> Map<String, Value> {
    let raw = &parsed.raw;
    let request = &parsed.request;
    let echo = |key: &str, default: Value| match raw.get(key) {
        Some(Value::Null) | None => default,
        Some(value) => value.clone(),
    };
    let reasoning = request.reasoning.as_ref();
    let mut text = Map::new();
    text.insert(
        "format".into(),
        raw.get("text")
            .and_then(|t| t.get("format"))
            .filter(|f| !f.is_null())
            .cloned()
            .unwrap_or_else(|| json!({"type": "text"})),
    );
    text.insert(
        "verbosity".into(),
        json!(request
            .text
            .as_ref()
            .and_then(|t| t.verbosity.clone())
            .unwrap_or_else(|| "medium".into())),
    );
    let mut shell = Map::new();
    shell.insert("id".into(), json!(id));
    shell.insert("object".into(), json!("response"));
    shell.insert("created_at".into(), json!(created_at));
    shell.insert("status".into(), json!("in_progress"));
    shell.insert("background".into(), json!(false));
    shell.insert("error".into(), Value::Null);
    shell.insert("incomplete_details".into(), Value::Null);
    shell.insert("instructions".into(), echo("instructions", Value::Null));
    shell.insert("max_output_tokens".into(), echo("max_output_tokens", Value::Null));
    shell.insert("max_tool_calls".into(), echo("max_tool_calls", Value::Null));
    shell.insert("model".into(), json!(request.model));
    shell.insert("output".into(), json!([]));
    shell.insert(
        "parallel_tool_calls".into(),
        echo("parallel_tool_calls", json!(true)),
    );
    shell.insert("previous_response_id".into(), Value::Null);
    shell.insert("prompt_cache_key".into(), echo("prompt_cache_key", Value::Null));
    shell.insert(
        "reasoning".into(),
        json!({
            "effort": reasoning.and_then(|r| r.effort.clone()),
            "summary": reasoning.and_then(|r| r.summary.clone().or_else(|| r.generate_summary.clone())),
        }),
    );
    shell.insert("safety_identifier".into(), echo("safety_identifier", Value::Null));
    shell.insert("service_tier".into(), json!("default"));
    shell.insert("store".into(), json!(request.stores()));
    shell.insert("temperature".into(), echo("temperature", json!(1.0)));
    shell.insert("text".into(), Value::Object(text));
    shell.insert("tool_choice".into(), echo("tool_choice", json!("auto")));
    shell.insert("tools".into(), echo("tools", json!([])));
    shell.insert("top_logprobs".into(), echo("top_logprobs", json!(0)));
    shell.insert("top_p".into(), echo("top_p", json!(1.0)));
    shell.insert("truncation".into(), echo("truncation", json!("disabled")));
    shell.insert("usage".into(), Value::Null);
    shell.insert("user".into(), echo("user", Value::Null));
    shell.insert("metadata".into(), echo("metadata", json!({})));
    overrides.apply(&mut shell);
    shell
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::responses::types::parse;

    #[test]
    fn usage_counts_cached_inside_input_and_reasoning_inside_output() {
        let usage = TokenUsage {
            input: 100,
            cache_read: 40,
            output: 20,
            reasoning: 12,
            ..TokenUsage::default()
        };
        let value = usage_json(&usage);
        assert_eq!(
            value,
            json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
                   "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 120})
        );
        assert_eq!(ResponsesUsage::from_value(&value), Some(usage));
        assert_eq!(ResponsesUsage::from_value(&Value::Null), None);
        assert_eq!(
            ResponsesUsage::from_value(&json!({"input_tokens": 3, "output_tokens": 2})),
            Some(TokenUsage::new(3, 2))
        );
    }

    #[test]
    fn the_shell_echoes_the_request_with_openais_defaults() {
        let parsed = parse(
            br#"{"model": "claude-sonnet-4-5", "input": "hi", "instructions": "be brief", "temperature": 0.2,
                 "tools": [{"type": "web_search"}], "previous_response_id": "resp_prev", "metadata": {"a": "b"}}"#,
        )
        .unwrap();
        let overrides = Overrides::of(&parsed, vec![Warning::dropped("tools[0]", "web search dropped")]);
        let shell = response_shell("resp_x", 7, &parsed, &overrides);
        assert_eq!(shell["id"], "resp_x");
        assert_eq!(shell["created_at"], 7);
        assert_eq!(shell["instructions"], "be brief");
        assert_eq!(shell["temperature"], 0.2);
        assert_eq!(shell["top_p"], 1.0);
        assert_eq!(shell["tool_choice"], "auto");
        assert_eq!(shell["tools"], json!([{"type": "web_search"}]));
        assert_eq!(shell["store"], true);
        assert_eq!(shell["previous_response_id"], "resp_prev");
        assert_eq!(
            shell["text"],
            json!({"format": {"type": "text"}, "verbosity": "medium"})
        );
        assert_eq!(shell["metadata"], json!({"a": "b"}));
        assert_eq!(shell["warnings"][0]["param"], "tools[0]");
        let keys: Vec<&str> = shell.keys().map(String::as_str).take(4).collect();
        assert_eq!(keys, ["id", "object", "created_at", "status"]);
    }

    #[test]
    fn item_ids_derive_from_the_response_id() {
        assert_eq!(item_id("msg", "resp_abc", 2), "msg_abc002");
        assert_ne!(item_id("fc", "resp_abc", 1), item_id("fc", "resp_abd", 1));
    }
}
