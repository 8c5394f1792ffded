//! The `cache_control` breakpoints of a built request, kept within Anthropic's rules (the
//! marks themselves are put on their blocks as the request is built, in [`super::request`]).

use super::request::{MessagesRequest, System};
use crate::canonical::CacheControl;

/// Anthropic's limit of `cache_control` breakpoints per request.
pub const MAX_CACHE_BREAKPOINTS: usize = 4;

/// Every `cache_control` slot in Anthropic's order: tools, system, messages.
fn cache_marks<'b>(body: &'b mut MessagesRequest<'_>) -> Vec<&'b mut Option<CacheControl>> {
    let mut marks: Vec<&'b mut Option<CacheControl>> = Vec::new();
    for tool in &mut body.tools {
        marks.push(&mut tool.cache_control);
    }
    if let Some(System::Blocks(blocks)) = &mut body.system {
        for block in blocks {
            marks.push(&mut block.cache_control);
        }
    }
    for turn in &mut body.messages {
        for block in &mut turn.content {
            marks.push(block.cache_control_mut());
        }
    }
    marks
}

/// Keeps the request within Anthropic's cache rules: at most four breakpoints (the latest four
/// are kept, as OpenAI keeps its latest four), and no 1-hour breakpoint after a 5-minute one
/// (such a one is sent as a 5-minute breakpoint).
pub(super) fn limit_cache_marks(body: &mut MessagesRequest<'_>, warnings: &mut Vec<String>) {
    let mut marks: Vec<&mut Option<CacheControl>> =
        cache_marks(body).into_iter().filter(|m| m.is_some()).collect();
    let excess = marks.len().saturating_sub(MAX_CACHE_BREAKPOINTS);
    if excess > 0 {
        for mark in marks.iter_mut().take(excess) {
            **mark = None;
        }
        warnings.push(format!(
            "cache_control: the first {excess} of {} breakpoints not sent: Claude takes at most {MAX_CACHE_BREAKPOINTS}",
            excess + MAX_CACHE_BREAKPOINTS
        ));
    }
    let mut short_seen = false;
    let mut shortened = false;
    for mark in marks.iter_mut() {
        match **mark {
            Some(CacheControl::FiveMinutes) => short_seen = true,
            Some(CacheControl::OneHour) if short_seen => {
                **mark = Some(CacheControl::FiveMinutes);
                shortened = true;
            }
            _ => {}
        }
    }
    if shortened {
        warnings.push(
            "cache_control: 1h breakpoints after a 5m one sent as 5m: Claude wants longer lifetimes first"
                .to_owned(),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::providers::anthropic::test_support::{build_with, notes};

    #[test]
    fn more_than_four_marks_keep_the_latest_and_a_late_hour_becomes_five_minutes() {
        let part = |text: &str, ttl: &str| json!({"type": "text", "text": text, "cache_control": {"type": "ephemeral", "ttl": ttl}});
        let body = json!({"model": "m", "messages": [{"role": "user", "content": [
            part("a", "1h"), part("b", "5m"), part("c", "1h"), part("d", "5m"), part("e", "1h")
        ]}]});
        let (sent, warnings) = build_with(body.clone(), &notes(&body), 1024).unwrap();
        let marks: Vec<Value> = sent["messages"][0]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.get("cache_control").cloned().unwrap_or(Value::Null))
            .collect();
        assert_eq!(
            marks,
            [
                Value::Null,
                json!({"type": "ephemeral"}),
                json!({"type": "ephemeral"}),
                json!({"type": "ephemeral"}),
                json!({"type": "ephemeral"})
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }
}
