//! The answer: a whole `GenerateContentResponse` as OpenAI's chat completion, Gemini's finish
//! reasons and usage in OpenAI's terms, and the retry hint of an error body.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::canonical::{
    ChatCompletion, Choice, FinishReason, FunctionCall, ResponseMessage, ToolCall, Usage,
};
use crate::http::random_hex;
use crate::providers::errors::safe_message;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    pub(super) usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    pub(super) model_version: Option<String>,
    #[serde(default)]
    pub(super) response_id: Option<String>,
}

impl GenerateContentResponse {
    pub(super) fn parts(&self) -> &[Part] {
        self.candidates
            .first()
            .and_then(|c| c.content.as_ref())
            .map(|c| c.parts.as_slice())
            .unwrap_or_default()
    }

    /// The reason the answer ended, if this response says; `called` when it made function calls.
    pub(super) fn finish(&self, called: bool) -> Option<&'static str> {
        match self.candidates.first() {
            Some(candidate) => candidate
                .finish_reason
                .as_deref()
                .map(|reason| finish_reason(reason, called)),
            None => self
                .prompt_feedback
                .as_ref()
                .and_then(|f| f.block_reason.as_ref())
                .map(|_| "content_filter"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part {
    #[serde(default)]
    pub(super) text: Option<String>,
    /// A thought summary, not the answer.
    #[serde(default)]
    pub(super) thought: bool,
    #[serde(default)]
    pub(super) function_call: Option<GeminiFunctionCall>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct GeminiFunctionCall {
    pub(super) name: String,
    #[serde(default)]
    args: Option<Value>,
}

impl GeminiFunctionCall {
    pub(super) fn arguments(&self) -> String {
        match &self.args {
            Some(args @ Value::Object(_)) => args.to_string(),
            _ => "{}".to_owned(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageMetadata {
    #[serde(default)]
    pub(super) prompt_token_count: u64,
    #[serde(default)]
    pub(super) candidates_token_count: u64,
    #[serde(default)]
    pub(super) thoughts_token_count: u64,
    #[serde(default)]
    pub(super) cached_content_token_count: u64,
    #[serde(default)]
    pub(super) total_token_count: Option<u64>,
}

impl UsageMetadata {
    /// OpenAI's usage: thinking is output the client pays for, as OpenAI's reasoning tokens are.
    pub(super) fn usage(&self) -> Usage {
        let completion = self.candidates_token_count + self.thoughts_token_count;
        let mut usage = Usage::new(self.prompt_token_count, completion);
        if let Some(total) = self.total_token_count {
            usage.total_tokens = total;
        }
        if self.cached_content_token_count > 0 {
            usage.extra.insert(
                "prompt_tokens_details".into(),
                json!({ "cached_tokens": self.cached_content_token_count }),
            );
        }
        if self.thoughts_token_count > 0 {
            usage.extra.insert(
                "completion_tokens_details".into(),
                json!({ "reasoning_tokens": self.thoughts_token_count }),
            );
        }
        usage
    }
}

/// Gemini's `finishReason` as OpenAI's `finish_reason`; `called` when the answer made function
/// calls (Gemini says `STOP` for those).
pub(super) fn finish_reason(reason: &str, called: bool) -> &'static str {
    let reason = match reason {
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        _ if called => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    };
    reason.as_str()
}

pub(super) fn new_call_id() -> String {
    format!("call_{}", random_hex(12))
}

/// The message of a Google error object, cleaned for the client.
pub(super) fn error_message(error: &Value) -> String {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("The upstream failed.");
    safe_message(message)
}

pub fn parse_completion(body: &str) -> Result<ChatCompletion, String> {
    let value: Value =
        serde_json::from_slice(body.as_bytes()).map_err(|e| format!("Gemini response is not JSON: {e}"))?;
    if let Some(error) = value.get("error") {
        return Err(format!("Gemini answered an error: {}", error_message(error)));
    }
    let response: GenerateContentResponse =
        serde_json::from_value(value).map_err(|e| format!("Gemini response did not parse: {e}"))?;
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for part in response.parts().iter().filter(|p| !p.thought) {
        if let Some(piece) = &part.text {
            text.get_or_insert_with(String::new).push_str(piece);
        }
        if let Some(call) = &part.function_call {
            calls.push(ToolCall {
                id: new_call_id(),
                kind: "function".into(),
                function: FunctionCall {
                    name: call.name.clone(),
                    arguments: call.arguments(),
                },
            });
        }
    }
    let called = !calls.is_empty();
    // An empty text beside function calls is no content, as OpenAI reports it.
    let content = text.filter(|t| !(t.is_empty() && called));
    let finish = response
        .finish(called)
        .unwrap_or(if called { "tool_calls" } else { "stop" });
    Ok(ChatCompletion {
        id: response
            .response_id
            .as_ref()
            .map(|id| format!("chatcmpl-{id}"))
            .unwrap_or_default(),
        object: "chat.completion".into(),
        created: 0,
        model: response.model_version.clone().unwrap_or_default(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content,
                tool_calls: called.then_some(calls),
                refusal: None,
                extra: Map::new(),
            },
            finish_reason: Some(finish.into()),
            logprobs: None,
        }],
        usage: response.usage_metadata.as_ref().map(UsageMetadata::usage),
        extra: Map::new(),
    })
}

/// The retry hint of a Gemini 429 body (`error.details[].retryDelay`, e.g. "20s" or "1.5s"), in
/// whole seconds rounded up.
pub fn retry_delay_secs(body: &str) -> Option<u64> {
    let value: Value = serde_json::from_slice(body.as_bytes()).ok()?;
    value
        .get("error")?
        .get("details")?
        .as_array()?
        .iter()
        .find_map(|detail| detail.get("retryDelay")?.as_str().and_then(duration_secs))
}

/// A protobuf JSON `Duration` ("20s", "1.500s") in whole seconds, rounded up.
fn duration_secs(duration: &str) -> Option<u64> {
    let seconds: f64 = duration.trim().strip_suffix('s')?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shapes as Google documents and sends them.

    const TEXT_ANSWER: &str = r#"{
      "candidates": [{
        "content": {"parts": [{"text": "Paris is the capital "}, {"text": "of France."}], "role": "model"},
        "finishReason": "STOP",
        "index": 0
      }],
      "usageMetadata": {
        "promptTokenCount": 9, "candidatesTokenCount": 7, "totalTokenCount": 41,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}], "thoughtsTokenCount": 25
      },
      "modelVersion": "gemini-2.5-flash",
      "responseId": "mJ2bZ8XyDqOfz7IPmYrUiAk"
    }"#;

    const CALL_ANSWER: &str = r#"{
      "candidates": [{
        "content": {"parts": [{
          "functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}},
          "thoughtSignature": "CiQB0e2Kb0v7pXk1mMhR0gI0n1JjcuDbmGnP8v3Xx6hB2j4KQm8="
        }], "role": "model"},
        "finishReason": "STOP",
        "index": 0,
        "finishMessage": "Model generated function call(s)."
      }],
      "usageMetadata": {"promptTokenCount": 61, "candidatesTokenCount": 18, "totalTokenCount": 79,
                        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 61}]},
      "modelVersion": "gemini-2.5-flash",
      "responseId": "q52bZ4yJBKuTz7IP1_OiwQw"
    }"#;

    const SAFETY_ANSWER: &str = r#"{
      "candidates": [{
        "finishReason": "SAFETY",
        "index": 0,
        "safetyRatings": [
          {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
          {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "HIGH", "blocked": true},
          {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
          {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"}
        ]
      }],
      "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
      "modelVersion": "gemini-2.5-flash",
      "responseId": "x52bZ7n3L4Cfz7IPxLmB4Qs"
    }"#;

    const BLOCKED_PROMPT: &str = r#"{
      "promptFeedback": {
        "blockReason": "SAFETY",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]
      },
      "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
      "modelVersion": "gemini-2.5-flash"
    }"#;

    const RATE_LIMITED: &str = r#"{
      "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
          {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"}, "quotaValue": "10"}]},
          {"@type": "type.googleapis.com/google.rpc.Help", "links": [{
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
        ]
      }
    }"#;

    #[test]
    fn a_text_answer_parses_with_its_usage_thinking_included() {
        let completion = parse_completion(TEXT_ANSWER).unwrap();
        let choice = &completion.choices[0];
        assert_eq!(choice.message.role, "assistant");
        assert_eq!(
            choice.message.content.as_deref(),
            Some("Paris is the capital of France.")
        );
        assert!(choice.message.tool_calls.is_none());
        assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
        let usage = completion.usage.unwrap();
        assert_eq!(
            (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
            (9, 32, 41)
        );
        assert_eq!(
            usage.extra["completion_tokens_details"],
            json!({"reasoning_tokens": 25})
        );
        assert_eq!(completion.model, "gemini-2.5-flash");
    }

    #[test]
    fn a_function_call_answer_becomes_tool_calls_with_generated_ids() {
        let completion = parse_completion(CALL_ANSWER).unwrap();
        let choice = &completion.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        assert!(choice.message.content.is_none());
        let calls = choice.message.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].kind, "function");
        assert_eq!(calls[0].function.name, "get_weather");
        let args: Value = serde_json::from_slice(calls[0].function.arguments.as_bytes()).unwrap();
        assert_eq!(args, json!({"city": "Paris", "unit": "celsius"}));
        let id = calls[0].id.strip_prefix("call_").unwrap();
        assert!(
            id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        assert_ne!(
            parse_completion(CALL_ANSWER).unwrap().choices[0]
                .message
                .tool_calls
                .as_ref()
                .unwrap()[0]
                .id,
            calls[0].id
        );
        assert_eq!(completion.usage.unwrap().completion_tokens, 18);
    }

    #[test]
    fn a_safety_blocked_answer_has_no_content_and_finishes_with_content_filter() {
        let completion = parse_completion(SAFETY_ANSWER).unwrap();
        assert!(completion.choices[0].message.content.is_none());
        assert_eq!(
            completion.choices[0].finish_reason.as_deref(),
            Some("content_filter")
        );
        assert_eq!(completion.usage.unwrap().prompt_tokens, 12);
    }

    #[test]
    fn a_blocked_prompt_has_no_content_and_finishes_with_content_filter() {
        let completion = parse_completion(BLOCKED_PROMPT).unwrap();
        assert!(completion.choices[0].message.content.is_none());
        assert_eq!(
            completion.choices[0].finish_reason.as_deref(),
            Some("content_filter")
        );
        let usage = completion.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (8, 0));
    }

    #[test]
    fn thought_parts_are_not_part_of_the_answer() {
        let body = r#"{"candidates": [{"content": {"parts": [
            {"text": "**Thinking** about capitals", "thought": true},
            {"text": "Paris."}], "role": "model"}, "finishReason": "STOP"}]}"#;
        let completion = parse_completion(body).unwrap();
        assert_eq!(completion.choices[0].message.content.as_deref(), Some("Paris."));
        assert!(completion.usage.is_none());
    }

    #[test]
    fn finish_reasons_map_to_openai_ones() {
        for (gemini, openai) in [
            ("STOP", "stop"),
            ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"),
            ("RECITATION", "content_filter"),
            ("BLOCKLIST", "content_filter"),
            ("PROHIBITED_CONTENT", "content_filter"),
            ("SPII", "content_filter"),
            ("IMAGE_SAFETY", "content_filter"),
            ("OTHER", "stop"),
            ("MALFORMED_FUNCTION_CALL", "stop"),
            ("LANGUAGE", "stop"),
        ] {
            assert_eq!(finish_reason(gemini, false), openai, "{gemini}");
        }
        assert_eq!(finish_reason("STOP", true), "tool_calls");
        assert_eq!(finish_reason("MAX_TOKENS", true), "length");
        let truncated = TEXT_ANSWER.replace("\"STOP\"", "\"MAX_TOKENS\"");
        assert_eq!(
            parse_completion(&truncated).unwrap().choices[0]
                .finish_reason
                .as_deref(),
            Some("length")
        );
    }

    #[test]
    fn an_error_body_or_garbage_does_not_parse_as_a_completion() {
        assert!(parse_completion(RATE_LIMITED)
            .unwrap_err()
            .contains("exceeded your current quota"));
        assert!(parse_completion("<html>").is_err());
        assert!(parse_completion(r#"{"candidates": "nope"}"#).is_err());
    }

    #[test]
    fn the_retry_delay_of_a_429_is_read_in_whole_seconds_rounded_up() {
        assert_eq!(retry_delay_secs(RATE_LIMITED), Some(20));
        assert_eq!(
            retry_delay_secs(&RATE_LIMITED.replace("\"20s\"", "\"1.5s\"")),
            Some(2)
        );
        assert_eq!(
            retry_delay_secs(&RATE_LIMITED.replace("\"20s\"", "\"0.000250s\"")),
            Some(1)
        );
        assert_eq!(
            retry_delay_secs(r#"{"error": {"code": 429, "message": "slow down"}}"#),
            None
        );
        assert_eq!(
            retry_delay_secs(&RATE_LIMITED.replace("\"20s\"", "\"soon\"")),
            None
        );
        assert_eq!(retry_delay_secs("not json"), None);
        // The mock's 429 is read the same way.
        let mock = flint_mock::gemini::error_body(&flint_mock::error::WireError::injected(429, Some(7)));
        assert_eq!(retry_delay_secs(&mock.to_string()), Some(7));
    }
}
