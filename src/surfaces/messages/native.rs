//! Claude models: the client's request goes to Anthropic as it came (unknown fields, `thinking`,
//! `cache_control`, `context_management`, server tools, `metadata` included) with three
//! changes: `model` becomes the catalog's `upstream_id`, `max_tokens` is capped by what the
//! pipeline allows, and a thinking budget that no longer fits under the cap is lowered (or, where
//! no budget of 1,024 fits, thinking is turned off and the reason returned as a warning). The
//! client's `anthropic-version` and `anthropic-beta` headers are forwarded verbatim.

use serde_json::{json, Value};

use super::types::{MessagesRequest, Thinking};
use super::validate::MIN_THINKING_BUDGET;
use crate::error::{ApiError, ApiResult};
use crate::providers::anthropic::ANTHROPIC_VERSION;
use crate::providers::openai::auth_header;
use crate::providers::{Upstream, UpstreamRequest};

/// The client's headers that Anthropic must see, as they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHeaders {
    pub anthropic_version: Option<String>,
    /// Every `anthropic-beta` value, joined with `,` when the header came more than once.
    pub anthropic_beta: Option<String>,
}

/// A request ready to send, and what was changed in it that the client should be told about.
#[derive(Debug, Clone)]
pub struct Built {
    pub request: UpstreamRequest,
    /// For the warning header (`WARNING_HEADER`).
    pub warnings: Vec<String>,
}

/// Applies the output cap to a request's coupled fields (SPEC "Output caps"): `max_tokens` is
/// lowered to `max_output`; an enabled thinking budget is lowered into `[1024, max_tokens)`;
/// where none fits, thinking is removed, with the `clear_thinking` context edits that need it.
/// Adaptive thinking passes. Returns the warnings. Never raises anything the client set.
pub fn cap_output(request: &mut MessagesRequest<'_>, max_output: u32) -> Vec<String> {
    let mut warnings = Vec::new();
    let asked = request.max_tokens.unwrap_or(max_output);
    let capped = asked.min(max_output).max(1);
    request.max_tokens = Some(capped);
    let Some(Thinking::Enabled { budget_tokens, .. }) = &mut request.thinking else {
        return warnings;
    };
    if *budget_tokens < capped {
        return warnings;
    }
    if capped > MIN_THINKING_BUDGET {
        *budget_tokens = capped - 1;
        return warnings;
    }
    request.thinking = None;
    let mut cleared = false;
    if let Some(edits) = request
        .extra
        .get_mut("context_management")
        .and_then(|c| c.get_mut("edits"))
        .and_then(Value::as_array_mut)
    {
        let before = edits.len();
        edits.retain(|e| {
            !e.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("clear_thinking"))
        });
        cleared = edits.len() != before;
    }
    warnings.push(format!(
        "thinking disabled: max_tokens is capped at {capped}, which leaves no thinking budget of at least \
         {MIN_THINKING_BUDGET} tokens below it{}",
        if cleared {
            " (its clear_thinking context edit was removed too)"
        } else {
            ""
        }
    ));
    warnings
}

/// `{base}/v1/{path}`; a base already ending in `/v1` gets no second one.
fn url(upstream: &Upstream, path: &str) -> String {
    let base = upstream.base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/{path}")
}

fn headers(upstream: &Upstream, client: &ClientHeaders, stream: bool) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        auth_header(upstream),
        (
            "anthropic-version",
            client
                .anthropic_version
                .clone()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| ANTHROPIC_VERSION.to_owned()),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    if let Some(beta) = client.anthropic_beta.as_ref().filter(|b| !b.trim().is_empty()) {
        headers.push(("anthropic-beta", beta.clone()));
    }
    if stream {
        headers.push(("accept", "text/event-stream".to_owned()));
    }
    headers
}

/// The body with `model` replaced by the upstream id, as JSON text.
fn body_for(upstream: &Upstream, request: &MessagesRequest<'_>) -> ApiResult<String> {
    let mut body = serde_json::to_value(request).map_err(ApiError::internal)?;
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::internal(
            "a messages request did not serialize to an object",
        ));
    };
    map.insert("model".into(), json!(upstream.model.upstream_id));
    serde_json::to_string(&body).map_err(ApiError::internal)
}

/// `POST {base}/v1/messages` for a Claude model, under the output cap `max_output`.
pub fn messages_request(
    upstream: &Upstream,
    request: &MessagesRequest<'_>,
    client: &ClientHeaders,
    max_output: u32,
) -> ApiResult<Built> {
    let mut capped = request.clone();
    let warnings = cap_output(&mut capped, max_output);
    Ok(Built {
        request: UpstreamRequest {
            url: url(upstream, "messages"),
            headers: headers(upstream, client, capped.is_stream()),
            body: body_for(upstream, &capped)?,
        },
        warnings,
    })
}

/// `POST {base}/v1/messages/count_tokens` for a Claude model: Anthropic's own count, which
/// generates nothing. The body is the client's with the upstream model id.
pub fn count_tokens_request(
    upstream: &Upstream,
    request: &MessagesRequest<'_>,
    client: &ClientHeaders,
) -> ApiResult<UpstreamRequest> {
    Ok(UpstreamRequest {
        url: url(upstream, "messages/count_tokens"),
        headers: headers(upstream, client, false),
        body: body_for(upstream, request)?,
    })
}

/// `input_tokens` of Anthropic's count_tokens answer.
pub fn parse_count_tokens(body: &str) -> Result<u64, String> {
    serde_json::from_slice::<Value>(body.as_bytes())
        .ok()
        .and_then(|v| v.get("input_tokens").and_then(Value::as_u64))
        .ok_or_else(|| "Anthropic's count_tokens answer has no `input_tokens`".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::messages::types::parse;

    fn upstream(model: &str, base_url: &str) -> Upstream {
        Upstream::for_test(model, base_url, "sk-ant-upstream")
    }

    fn header<'r>(request: &'r UpstreamRequest, name: &str) -> Option<&'r str> {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn claude_codes_request_reaches_anthropic_unchanged_but_for_the_model() {
        let capture: Value =
            serde_json::from_slice(include_str!("fixtures/claude-code-sonnet-4-5-tool-turn.json").as_bytes())
                .unwrap();
        let text = capture["body"].to_string();
        let request = parse(text.as_bytes()).unwrap();
        let client = ClientHeaders {
            anthropic_version: Some("2023-06-01".into()),
            anthropic_beta: capture["headers"]["anthropic-beta"].as_str().map(str::to_owned),
        };
        let up = upstream("claude-haiku-4.5", "http://127.0.0.1:9/");
        let built = messages_request(&up, &request, &client, 64_000).unwrap();
        assert!(built.warnings.is_empty());
        assert_eq!(built.request.url, "http://127.0.0.1:9/v1/messages");
        let sent: Value = serde_json::from_slice(built.request.body.as_bytes()).unwrap();
        let mut expected = capture["body"].clone();
        expected["model"] = json!("claude-haiku-4-5-20251001");
        assert_eq!(sent, expected);
        assert_eq!(header(&built.request, "x-api-key"), Some("sk-ant-upstream"));
        assert_eq!(
            header(&built.request, "anthropic-beta"),
            client.anthropic_beta.as_deref()
        );
        assert_eq!(header(&built.request, "anthropic-version"), Some("2023-06-01"));
        assert_eq!(header(&built.request, "accept"), Some("text/event-stream"));
    }

    #[test]
    fn a_lower_cap_lowers_max_tokens_and_the_thinking_budget_under_it() {
        let text = r#"{"model":"claude-sonnet-4-5","max_tokens":32000,"thinking":{"budget_tokens":31999,"type":"enabled","display":"omitted"},"messages":[{"role":"user","content":"hi"}]}"#;
        let request = parse(text.as_bytes()).unwrap();
        let up = upstream("claude-sonnet-4.5", "https://api.anthropic.com/v1");
        let built = messages_request(&up, &request, &ClientHeaders::default(), 8192).unwrap();
        assert_eq!(built.request.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(
            header(&built.request, "anthropic-version"),
            Some(ANTHROPIC_VERSION)
        );
        assert_eq!(header(&built.request, "anthropic-beta"), None);
        let sent: Value = serde_json::from_slice(built.request.body.as_bytes()).unwrap();
        assert_eq!(sent["max_tokens"], 8192);
        assert_eq!(
            sent["thinking"],
            json!({"type": "enabled", "budget_tokens": 8191, "display": "omitted"})
        );
        assert!(built.warnings.is_empty());
        // A cap above what was asked changes nothing.
        let built = messages_request(&up, &request, &ClientHeaders::default(), 64_000).unwrap();
        let sent: Value = serde_json::from_slice(built.request.body.as_bytes()).unwrap();
        assert_eq!(
            (
                sent["max_tokens"].as_u64(),
                sent["thinking"]["budget_tokens"].as_u64()
            ),
            (Some(32000), Some(31999))
        );
    }

    #[test]
    fn thinking_is_turned_off_when_no_budget_of_1024_fits_under_the_cap() {
        let text = r#"{"model":"m","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":2000},
            "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"},{"type":"clear_tool_uses_20250919"}]},
            "messages":[{"role":"user","content":"hi"}]}"#;
        let mut request = parse(text.as_bytes()).unwrap();
        let warnings = cap_output(&mut request, 1024);
        assert_eq!(request.max_tokens, Some(1024));
        assert!(request.thinking.is_none());
        assert_eq!(
            request.extra["context_management"],
            json!({"edits": [{"type": "clear_tool_uses_20250919"}]})
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("thinking disabled"), "{}", warnings[0]);
        // 1025 leaves exactly 1024.
        let mut request = parse(text.as_bytes()).unwrap();
        assert!(cap_output(&mut request, 1025).is_empty());
        assert!(matches!(
            request.thinking,
            Some(Thinking::Enabled {
                budget_tokens: 1024,
                ..
            })
        ));
    }

    #[test]
    fn adaptive_thinking_and_small_budgets_pass_with_the_capped_max_tokens() {
        let adaptive = r#"{"model":"m","max_tokens":128000,"thinking":{"type":"adaptive"},"output_config":{"effort":"medium"},"messages":[{"role":"user","content":"hi"}]}"#;
        let mut request = parse(adaptive.as_bytes()).unwrap();
        assert!(cap_output(&mut request, 4096).is_empty());
        assert_eq!(request.max_tokens, Some(4096));
        assert!(matches!(request.thinking, Some(Thinking::Adaptive { .. })));
        let small = r#"{"model":"m","max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[{"role":"user","content":"hi"}]}"#;
        let mut request = parse(small.as_bytes()).unwrap();
        cap_output(&mut request, 4096);
        assert!(matches!(
            request.thinking,
            Some(Thinking::Enabled {
                budget_tokens: 2048,
                ..
            })
        ));
    }

    #[test]
    fn count_tokens_goes_to_anthropics_counting_endpoint() {
        let text = r#"{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}],"system":"s"}"#;
        let request = parse(text.as_bytes()).unwrap();
        let up = upstream("claude-haiku-4.5", "http://127.0.0.1:9");
        let client = ClientHeaders {
            anthropic_version: Some("2023-06-01".into()),
            anthropic_beta: Some("token-counting-2024-11-01".into()),
        };
        let built = count_tokens_request(&up, &request, &client).unwrap();
        assert_eq!(built.url, "http://127.0.0.1:9/v1/messages/count_tokens");
        assert_eq!(
            header(&built, "anthropic-beta"),
            Some("token-counting-2024-11-01")
        );
        assert_eq!(header(&built, "accept"), None);
        let sent: Value = serde_json::from_slice(built.body.as_bytes()).unwrap();
        assert_eq!(
            sent,
            json!({"model": "claude-haiku-4-5-20251001", "messages": [{"role": "user", "content": "hi"}], "system": "s"})
        );
        assert_eq!(parse_count_tokens(r#"{"input_tokens": 17}"#), Ok(17));
        assert!(parse_count_tokens(r#"{"type":"error"}"#).is_err());
    }
}
