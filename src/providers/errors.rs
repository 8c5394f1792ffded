//! Upstream failures mapped to ours. A provider's raw error body and our key never reach the
//! client: only a message we either wrote or cleaned, with the status the client can act on.

use serde_json::Value;

use crate::error::{ApiError, ErrorKind};

const MAX_MESSAGE_CHARS: usize = 300;

/// An upstream's message with anything that looks like a credential masked, and shortened.
pub fn safe_message(message: &str) -> String {
    let masked: Vec<String> = message
        .split(' ')
        .map(|word| {
            let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
            let secretish = core.len() >= 20
                && core
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && core.chars().any(|c| c.is_ascii_digit())
                && core.chars().any(|c| c.is_ascii_alphabetic());
            if secretish || core.starts_with("sk-") || core.starts_with("AIza") {
                word.replace(core, "[redacted]")
            } else {
                word.to_owned()
            }
        })
        .collect();
    let joined = masked.join(" ");
    if joined.chars().count() > MAX_MESSAGE_CHARS {
        joined.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…"
    } else {
        joined
    }
}

/// `Retry-After` as seconds (only the delta-seconds form; dates fall back to the default).
pub fn retry_after_secs(header: Option<&str>) -> Option<u64> {
    header
        .and_then(|h| h.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| s.ceil() as u64)
}

/// The upstream's own explanation, from the error shapes the wire formats use.
fn upstream_reason(body: &str) -> Option<(String, Option<String>)> {
    let value: Value = serde_json::from_slice(body.as_bytes()).ok()?;
    let error = value.get("error").unwrap_or(&value);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())?;
    let param = error.get("param").and_then(Value::as_str).map(str::to_owned);
    Some((safe_message(message), param))
}

/// Maps a non-2xx upstream answer to the gateway's error.
pub fn map_status(provider: &str, status: u16, retry_after: Option<&str>, body: &str) -> ApiError {
    let excerpt: String = body.chars().take(500).collect();
    let internal = format!("{provider} answered {status}: {excerpt}");
    match status {
        429 => {
            let wait = retry_after_secs(retry_after).unwrap_or(1).max(1);
            ApiError::new(
                ErrorKind::RateLimited,
                "upstream_rate_limited",
                format!("The model's provider is rate limiting requests; retry in {wait} s."),
            )
            .with_retry_after(wait)
            .with_internal(internal)
        }
        400 | 404 | 409 | 413 | 422 => {
            let (reason, param) = upstream_reason(body).unwrap_or_else(|| ("no reason given".into(), None));
            let mut error = ApiError::new(
                ErrorKind::BadRequest,
                "upstream_rejected",
                format!("The model's provider rejected the request: {reason}"),
            )
            .with_internal(internal);
            if let Some(param) = param {
                error = error.with_param(param);
            }
            error
        }
        // Our key or our account at the provider: the operator's problem, not the client's.
        401..=403 => ApiError::new(
            ErrorKind::BadGateway,
            "upstream_unavailable",
            "The model's provider refused the gateway's credentials; the operator has been alerted.",
        )
        .with_internal(internal),
        503 | 529 => ApiError::new(
            ErrorKind::Unavailable,
            "upstream_overloaded",
            "The model's provider is overloaded; retry shortly.",
        )
        .with_retry_after(retry_after_secs(retry_after).unwrap_or(2).max(1))
        .with_internal(internal),
        _ => ApiError::new(
            ErrorKind::BadGateway,
            "upstream_error",
            "The model's provider failed to answer.",
        )
        .with_internal(internal),
    }
}

pub fn timeout(provider: &str, what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "upstream_timeout",
        "The model's provider did not answer in time.",
    )
    .with_internal(format!("{provider}: {what}"))
}

pub fn unreachable(provider: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorKind::BadGateway,
        "upstream_unreachable",
        "The model's provider could not be reached.",
    )
    .with_internal(format!("{provider}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_upstream_messages_are_masked() {
        let masked = safe_message(
            "Incorrect API key provided: sk-proj-abc123def456ghi789. You can find your key at x",
        );
        assert!(!masked.contains("abc123"), "{masked}");
        assert!(masked.contains("Incorrect API key provided"));
        assert!(!safe_message("bad key AIzaSyD-1234567890abcdefghij").contains("1234567890"));
        assert_eq!(safe_message("max_tokens is too large"), "max_tokens is too large");
    }

    #[test]
    fn statuses_map_to_what_a_client_can_act_on() {
        let limited = map_status("openai", 429, Some("7"), "{}");
        assert_eq!((limited.status(), limited.retry_after), (429, Some(7)));
        let rejected = map_status(
            "openai",
            400,
            None,
            r#"{"error":{"message":"Invalid 'temperature'","param":"temperature"}}"#,
        );
        assert_eq!(rejected.status(), 400);
        assert_eq!(rejected.param.as_deref(), Some("temperature"));
        assert!(rejected.message.contains("Invalid 'temperature'"));
        let auth = map_status(
            "openai",
            401,
            None,
            r#"{"error":{"message":"Incorrect API key provided: sk-live-1234567890abcdefghij"}}"#,
        );
        assert_eq!(auth.status(), 502);
        assert!(!auth.message.contains("sk-live"));
        assert_eq!(map_status("anthropic", 529, None, "{}").status(), 503);
        assert_eq!(map_status("openai", 500, None, "boom").status(), 502);
    }

    #[test]
    fn raw_bodies_stay_in_the_log() {
        let error = map_status("x", 500, None, "stack trace with secrets");
        assert!(!error.message.contains("stack trace"));
        assert!(error.internal.as_deref().unwrap().contains("stack trace"));
    }
}
