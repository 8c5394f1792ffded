//! Anthropic's request rules, applied to every model before any upstream call: a request
//! Anthropic would refuse is refused here with Anthropic's wording whichever model serves it,
//! and nothing is held or charged for it.
//!
//! ## `role: "system"` inside `messages`
//!
//! Anthropic refuses a system turn inside `messages` unless the request opts in to
//! mid-conversation system turns with a beta. Claude Code sends such turns only with one of those
//! betas (see `notes/claude-code.md`): `per-turn-control-2026-07-01` for Claude models, and
//! `mid-conversation-tool-changes-2026-07-01` alone for a model id it doesn't know, which is
//! what it sends for every non-Claude model of the catalog. So a system turn is served when
//! `anthropic-beta` names any of [`MID_CONVERSATION_BETAS`] and refused otherwise, which is
//! both of SPEC's rules at once: the refusal of a plain `role: "system"` and the service of
//! what Claude Code sends. With the beta, Anthropic's own restriction applies too: the first
//! message may be a system turn only in its directive-only form (no content). The refusal says
//! "role 'system' is not supported", the phrase Claude Code's fallback looks for.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use super::types::{
    invalid, Block, Content, CustomTool, ImageSource, InputMessage, KnownBlock, MessagesRequest, Role,
    Thinking, Tool, ToolChoice, KNOWN_BLOCK_TYPES,
};
use crate::error::ApiResult;

/// The betas that allow `role: "system"` turns inside `messages` (prefixes: any date).
pub const MID_CONVERSATION_BETAS: &[&str] = &[
    "per-turn-control-",
    "mid-conversation-system-",
    "mid-conversation-tool-changes-",
];

/// The least thinking budget Anthropic accepts.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// The image types Anthropic accepts in base64 image blocks.
pub const IMAGE_MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The `anthropic-beta` header's values (comma-separated, possibly sent more than once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Betas(Vec<String>);

impl Betas {
    pub fn parse<'h>(headers: impl IntoIterator<Item = &'h str>) -> Betas {
        Betas(
            headers
                .into_iter()
                .flat_map(|h| h.split(','))
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.iter().any(|b| b.starts_with(prefix))
    }

    pub fn allows_system_turns(&self) -> bool {
        MID_CONVERSATION_BETAS.iter().any(|p| self.has_prefix(p))
    }

    /// With interleaved thinking a budget may exceed `max_tokens` (it spans the whole turn).
    pub fn interleaved_thinking(&self) -> bool {
        self.has_prefix("interleaved-thinking-")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Messages,
    CountTokens,
}

pub fn validate(request: &MessagesRequest<'_>, betas: &Betas, endpoint: Endpoint) -> ApiResult<()> {
    if request.model.trim().is_empty() {
        return Err(invalid("model", "String should have at least 1 character"));
    }
    if endpoint == Endpoint::Messages {
        match request.max_tokens {
            None => return Err(invalid("max_tokens", "Field required")),
            Some(0) => {
                return Err(invalid(
                    "max_tokens",
                    "Input should be greater than or equal to 1",
                ))
            }
            Some(_) => {}
        }
    }
    unit_range("temperature", request.temperature)?;
    unit_range("top_p", request.top_p)?;
    if let Some(sequences) = &request.stop_sequences {
        if let Some(i) = sequences.iter().position(|s| s.trim().is_empty()) {
            return Err(invalid(
                format!("stop_sequences.{i}"),
                "Each stop sequence must contain non-whitespace",
            ));
        }
    }
    thinking(request, betas, endpoint)?;
    if let Some(system) = &request.system {
        text_only("system", system)?;
    }
    let tool_names = tools(request)?;
    if let Some(ToolChoice::Tool { name, .. }) = &request.tool_choice {
        if !tool_names.contains(name.as_ref()) {
            return Err(invalid(
                "tool_choice.name",
                format!("Tool '{name}' not found in the provided tools"),
            ));
        }
    }
    messages(&request.messages, betas)
}

fn unit_range(field: &str, value: Option<f64>) -> ApiResult<()> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => {
            let bound = if v > 1.0 {
                "less than or equal to 1"
            } else {
                "greater than or equal to 0"
            };
            Err(invalid(field, format!("Input should be {bound}")))
        }
        _ => Ok(()),
    }
}

fn thinking(request: &MessagesRequest<'_>, betas: &Betas, endpoint: Endpoint) -> ApiResult<()> {
    let Some(Thinking::Enabled { budget_tokens, .. }) = request.thinking else {
        return Ok(());
    };
    if budget_tokens < MIN_THINKING_BUDGET {
        return Err(invalid(
            "thinking.enabled.budget_tokens",
            format!("Input should be greater than or equal to {MIN_THINKING_BUDGET}"),
        ));
    }
    if let (Endpoint::Messages, Some(max_tokens)) = (endpoint, request.max_tokens) {
        if budget_tokens >= max_tokens && !betas.interleaved_thinking() {
            return Err(invalid(
                "",
                format!(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation \
                     at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size \
                     (max_tokens: {max_tokens}, thinking.budget_tokens: {budget_tokens})"
                ),
            )
            .with_param("thinking.budget_tokens"));
        }
    }
    Ok(())
}

/// The names of the declared tools, checked.
fn tools<'r>(request: &'r MessagesRequest<'_>) -> ApiResult<HashSet<&'r str>> {
    let mut names = HashSet::new();
    for (i, tool) in request.tools.iter().flatten().enumerate() {
        let custom = match tool {
            Tool::Custom(custom) => custom,
            Tool::Other(value) => {
                let kind = value.get("type").and_then(Value::as_str);
                if matches!(kind, None | Some("custom")) {
                    // A custom tool that didn't parse: say why.
                    if let Err(e) = CustomTool::deserialize(value) {
                        return Err(invalid(format!("tools.{i}.custom"), e));
                    }
                }
                if !value.is_object() {
                    return Err(invalid(format!("tools.{i}"), "Input should be an object"));
                }
                if let Some(name) = tool.name() {
                    if !names.insert(name) {
                        return Err(invalid("tools", "Tool names must be unique."));
                    }
                }
                continue;
            }
        };
        if !valid_tool_name(&custom.name) {
            return Err(invalid(
                format!("tools.{i}.custom.name"),
                "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
            ));
        }
        if custom.kind.as_deref().is_some_and(|k| k != "custom") {
            return Err(invalid(format!("tools.{i}.type"), "Input should be 'custom'"));
        }
        if custom.input_schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(invalid(
                format!("tools.{i}.custom.input_schema.type"),
                "Input should be 'object'",
            ));
        }
        if !names.insert(&custom.name) {
            return Err(invalid("tools", "Tool names must be unique."));
        }
    }
    Ok(names)
}

fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn text_only(path: &str, content: &Content<'_>) -> ApiResult<()> {
    for (j, block) in content.blocks().iter().enumerate() {
        let at = format!("{path}.{j}");
        known(&at, block)?;
        if block.kind() != "text" {
            return Err(invalid(
                format!("{at}.type"),
                format!("Input should be 'text' (got '{}')", block.kind()),
            ));
        }
        text_block(&at, block)?;
    }
    Ok(())
}

/// A block whose `type` is a known kind but that didn't parse as it: the reason.
fn known(path: &str, block: &Block<'_>) -> ApiResult<()> {
    if let Block::Other(value) = block {
        if !value.is_object() {
            return Err(invalid(path, "Input should be an object"));
        }
        let kind = block.kind();
        if kind.is_empty() {
            return Err(invalid(format!("{path}.type"), "Field required"));
        }
        if KNOWN_BLOCK_TYPES.contains(&kind) {
            if let Err(e) = KnownBlock::deserialize(value) {
                return Err(invalid(format!("{path}.{kind}"), e));
            }
        }
    }
    Ok(())
}

fn text_block(path: &str, block: &Block<'_>) -> ApiResult<()> {
    if let Block::Known(KnownBlock::Text { text, .. }) = block {
        if text.is_empty() {
            return Err(invalid(
                format!("{path}.text"),
                "text content blocks must be non-empty",
            ));
        }
        if text.trim().is_empty() {
            return Err(invalid(
                format!("{path}.text"),
                "text content blocks must contain non-whitespace text",
            ));
        }
    }
    Ok(())
}

fn messages(messages: &[InputMessage<'_>], betas: &Betas) -> ApiResult<()> {
    if messages.is_empty() {
        return Err(invalid("messages", "at least one message is required"));
    }
    let last = messages.len() - 1;
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages.{i}");
        if message.role == Role::System {
            if !betas.allows_system_turns() {
                return Err(invalid(
                    format!("{path}.role"),
                    "Unexpected role \"system\": role 'system' is not supported in `messages` without a \
                     mid-conversation beta (anthropic-beta: per-turn-control-2026-07-01). The Messages API \
                     accepts a top-level `system` parameter for the system prompt.",
                ));
            }
            if i == 0 && !message.content.is_empty() {
                return Err(invalid(
                    &path,
                    "use the top-level 'system' parameter for the initial system prompt; the directive-only \
                     form (content: [] with output_config) is accepted at any position",
                ));
            }
            text_only(&format!("{path}.content"), &message.content)?;
            continue;
        }
        let final_assistant = i == last && message.role == Role::Assistant;
        if message.content.is_empty() && !final_assistant {
            return Err(invalid(
                &path,
                "all messages must have non-empty content except for the optional final assistant message",
            ));
        }
        for (j, block) in message.content.blocks().iter().enumerate() {
            let at = format!("{path}.content.{j}");
            known(&at, block)?;
            text_block(&at, block)?;
            let Block::Known(typed) = block else { continue };
            match (message.role, typed) {
                (
                    Role::User,
                    KnownBlock::ToolUse { .. }
                    | KnownBlock::Thinking { .. }
                    | KnownBlock::RedactedThinking { .. },
                )
                | (Role::Assistant, KnownBlock::ToolResult { .. }) => {
                    return Err(invalid(
                        format!("{at}.type"),
                        format!(
                            "`{}` blocks are not allowed in `{}` messages",
                            typed.kind(),
                            if message.role == Role::User {
                                "user"
                            } else {
                                "assistant"
                            }
                        ),
                    ))
                }
                (_, KnownBlock::Image { source, .. }) => image(&at, source)?,
                (
                    _,
                    KnownBlock::ToolResult {
                        content: Some(content),
                        ..
                    },
                ) => {
                    for (k, inner) in content.blocks().iter().enumerate() {
                        let inner_at = format!("{at}.content.{k}");
                        known(&inner_at, inner)?;
                        text_block(&inner_at, inner)?;
                        if let Block::Known(KnownBlock::Image { source, .. }) = inner {
                            image(&inner_at, source)?;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    tool_pairs(messages)
}

fn image(path: &str, source: &ImageSource<'_>) -> ApiResult<()> {
    if let ImageSource::Base64 { media_type, .. } = source {
        if !IMAGE_MEDIA_TYPES.contains(&media_type.as_ref()) {
            return Err(invalid(
                format!("{path}.source.base64.media_type"),
                "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
            ));
        }
    }
    Ok(())
}

fn tool_use_ids<'m>(message: &'m InputMessage<'_>) -> Vec<&'m str> {
    message
        .content
        .blocks()
        .iter()
        .filter_map(|b| match b {
            Block::Known(KnownBlock::ToolUse { id, .. }) => Some(id.as_ref()),
            _ => None,
        })
        .collect()
}

/// Every `tool_result` answers a `tool_use` of the previous turn, and every `tool_use` followed
/// by a turn is answered in it. System turns between them don't count as turns.
fn tool_pairs(messages: &[InputMessage<'_>]) -> ApiResult<()> {
    let turns: Vec<(usize, &InputMessage<'_>)> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role != Role::System)
        .collect();
    for (n, &(i, message)) in turns.iter().enumerate() {
        if message.role != Role::User {
            continue;
        }
        let previous = n
            .checked_sub(1)
            .and_then(|p| turns.get(p))
            .filter(|(_, m)| m.role == Role::Assistant);
        let asked = previous.map(|(_, m)| tool_use_ids(m)).unwrap_or_default();
        let mut answered = Vec::new();
        for (j, block) in message.content.blocks().iter().enumerate() {
            if let Block::Known(KnownBlock::ToolResult { tool_use_id, .. }) = block {
                if !asked.contains(&tool_use_id.as_ref()) {
                    return Err(invalid(
                        format!("messages.{i}.content.{j}"),
                        format!(
                            "unexpected `tool_use_id` found in `tool_result` blocks: {tool_use_id}. Each \
                             `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        ),
                    ));
                }
                answered.push(tool_use_id.as_ref());
            }
        }
        let missing: Vec<&str> = asked.into_iter().filter(|id| !answered.contains(id)).collect();
        if let (false, Some((p, _))) = (missing.is_empty(), previous) {
            return Err(invalid(
                format!("messages.{p}"),
                format!(
                    "`tool_use` ids were found without `tool_result` blocks immediately after: {}. Each \
                     `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    missing.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::messages::types::parse;
    use serde_json::json;

    fn check(body: &Value, betas: &[&str], endpoint: Endpoint) -> ApiResult<()> {
        let text = body.to_string();
        let request = parse(text.as_bytes())?;
        validate(&request, &Betas::parse(betas.iter().copied()), endpoint)
    }

    fn ok(body: Value) {
        if let Err(e) = check(&body, &[], Endpoint::Messages) {
            panic!("{body}: {}", e.message);
        }
    }

    /// The `param` of the refusal.
    fn refused(body: Value) -> String {
        let error = check(&body, &[], Endpoint::Messages).expect_err(&body.to_string());
        assert_eq!(error.status(), 400);
        error.param.clone().unwrap_or_default()
    }

    fn base() -> Value {
        json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut body = base();
        body[key] = value;
        body
    }

    fn tool_loop() -> Value {
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "text", "text": "checking"}, {"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny", "is_error": false}]}
        ])
    }

    #[test]
    fn claude_codes_captured_requests_are_valid_with_their_betas() {
        for fixture in [
            include_str!("fixtures/claude-code-default-tool-turn.json"),
            include_str!("fixtures/claude-code-sonnet-4-5-tool-turn.json"),
            include_str!("fixtures/claude-code-unknown-model.json"),
        ] {
            let capture: Value = serde_json::from_slice(fixture.as_bytes()).unwrap();
            let beta = capture["headers"]["anthropic-beta"].as_str().unwrap();
            check(&capture["body"], &[beta], Endpoint::Messages).unwrap();
        }
    }

    #[test]
    fn a_system_turn_needs_a_mid_conversation_beta() {
        let mut body = base();
        body["messages"] =
            json!([{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}]);
        let error = check(&body, &[], Endpoint::Messages).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages.1.role"));
        // Claude Code falls back to the older shape when it reads this phrase.
        assert!(
            error.message.contains("role 'system' is not supported"),
            "{}",
            error.message
        );
        check(&body, &["claude-code-20250219"], Endpoint::Messages).unwrap_err();
        for beta in [
            "per-turn-control-2026-07-01",
            "mid-conversation-system-2026-04-07",
            "mid-conversation-tool-changes-2026-07-01",
        ] {
            check(
                &body,
                &[&format!("claude-code-20250219, {beta}")],
                Endpoint::Messages,
            )
            .unwrap();
        }
        // First: only the directive-only form.
        body["messages"] =
            json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]);
        let error = check(&body, &["per-turn-control-2026-07-01"], Endpoint::Messages).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages.0"));
        body["messages"][0] = json!({"role": "system", "content": [], "output_config": {"effort": "low"}});
        check(&body, &["per-turn-control-2026-07-01"], Endpoint::Messages).unwrap();
        // Text only.
        body["messages"] = json!([{"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "https://x"}}]}]);
        let error = check(&body, &["per-turn-control-2026-07-01"], Endpoint::Messages).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages.1.content.0.type"));
    }

    #[test]
    fn sampling_parameters_keep_anthropics_ranges() {
        ok(with("temperature", json!(1)));
        ok(with("temperature", json!(0)));
        assert_eq!(refused(with("temperature", json!(1.5))), "temperature");
        assert_eq!(refused(with("temperature", json!(-0.1))), "temperature");
        assert_eq!(refused(with("top_p", json!(1.01))), "top_p");
        assert_eq!(refused(with("top_k", json!(-1))), "top_k");
        assert_eq!(refused(with("max_tokens", json!(0))), "max_tokens");
        let mut no_max = base();
        no_max.as_object_mut().unwrap().remove("max_tokens");
        assert_eq!(refused(no_max.clone()), "max_tokens");
        check(&no_max, &[], Endpoint::CountTokens).unwrap();
        assert_eq!(refused(with("model", json!(" "))), "model");
        assert_eq!(
            refused(with("stop_sequences", json!(["END", "\n"]))),
            "stop_sequences.1"
        );
        ok(with("stop_sequences", json!(["END", "\n\nHuman:"])));
    }

    #[test]
    fn thinking_budgets_follow_anthropics_rules() {
        let thinking = |budget: u32, max: u32| {
            let mut body = with("thinking", json!({"type": "enabled", "budget_tokens": budget}));
            body["max_tokens"] = json!(max);
            body
        };
        ok(thinking(1024, 2000));
        assert_eq!(refused(thinking(1023, 2000)), "thinking.enabled.budget_tokens");
        assert_eq!(refused(thinking(2000, 2000)), "thinking.budget_tokens");
        // Interleaved thinking spans the turn: the budget may pass max_tokens.
        check(
            &thinking(4000, 2000),
            &["interleaved-thinking-2025-05-14"],
            Endpoint::Messages,
        )
        .unwrap();
        ok(with(
            "thinking",
            json!({"type": "adaptive", "display": "omitted"}),
        ));
        ok(with("thinking", json!({"type": "disabled"})));
        assert_eq!(
            refused(with("thinking", json!({"type": "sometimes"}))),
            "thinking.type"
        );
    }

    #[test]
    fn tool_results_must_answer_the_previous_turn() {
        ok(with("messages", tool_loop()));
        // An orphan tool_result.
        let mut messages = tool_loop();
        messages[2]["content"][0]["tool_use_id"] = json!("t9");
        let error = check(&with("messages", messages), &[], Endpoint::Messages).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages.2.content.0"));
        assert!(
            error.message.contains("unexpected `tool_use_id`"),
            "{}",
            error.message
        );
        // A tool_result with no assistant turn before it.
        let orphan = json!([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}]);
        assert_eq!(refused(with("messages", orphan)), "messages.0.content.0");
        // An unanswered tool_use followed by a user turn.
        let mut messages = tool_loop();
        messages[2]["content"] = json!("never mind");
        assert_eq!(refused(with("messages", messages)), "messages.1");
        // A tool_use in the last turn is fine (the client is about to run it).
        let mut messages = tool_loop();
        messages.as_array_mut().unwrap().pop();
        ok(with("messages", messages));
        // A system turn between the call and the result doesn't break the pair.
        let mut messages = tool_loop();
        messages
            .as_array_mut()
            .unwrap()
            .insert(2, json!({"role": "system", "content": "note"}));
        check(
            &with("messages", messages),
            &["per-turn-control-2026-07-01"],
            Endpoint::Messages,
        )
        .unwrap();
    }

    #[test]
    fn blocks_are_checked_where_they_stand() {
        let message = |content: Value| with("messages", json!([{"role": "user", "content": content}]));
        assert_eq!(refused(message(json!([]))), "messages.0");
        assert_eq!(refused(message(json!(""))), "messages.0");
        assert_eq!(
            refused(message(json!([{"type": "text", "text": ""}]))),
            "messages.0.content.0.text"
        );
        assert_eq!(
            refused(message(json!([{"type": "text", "text": "  "}]))),
            "messages.0.content.0.text"
        );
        assert_eq!(
            refused(message(json!([{"type": "tool_use", "name": "f", "input": {}}]))),
            "messages.0.content.0.tool_use"
        );
        assert_eq!(
            refused(message(json!([{"no_type": 1}]))),
            "messages.0.content.0.type"
        );
        assert_eq!(
            refused(message(
                json!([{"type": "tool_use", "id": "a", "name": "f", "input": {}}])
            )),
            "messages.0.content.0.type"
        );
        assert_eq!(
            refused(message(
                json!([{"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": "AA"}}])
            )),
            "messages.0.content.0.source.base64.media_type"
        );
        assert_eq!(
            refused(message(
                json!([{"type": "image", "source": {"type": "ftp", "url": "x"}}])
            )),
            "messages.0.content.0.image"
        );
        ok(message(
            json!([{"type": "search_result", "source": "s", "title": "t", "content": []}]),
        ));
        // A final assistant turn may be empty (a prefill); an earlier one may not.
        ok(with(
            "messages",
            json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]),
        ));
        assert_eq!(refused(with("messages", json!([]))), "messages");
        assert_eq!(
            refused(with("system", json!([{"type": "text", "text": ""}]))),
            "system.0.text"
        );
        ok(with(
            "system",
            json!([{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]),
        ));
    }

    #[test]
    fn tools_and_tool_choice_are_checked() {
        let tool = |name: &str| json!({"name": name, "input_schema": {"type": "object"}});
        ok(with(
            "tools",
            json!([tool("Bash"), tool("a-b_c"), {"type": "web_search_20250305", "name": "web_search"}]),
        ));
        assert_eq!(
            refused(with("tools", json!([tool("bad name")]))),
            "tools.0.custom.name"
        );
        assert_eq!(refused(with("tools", json!([tool("f"), tool("f")]))), "tools");
        assert_eq!(
            refused(with(
                "tools",
                json!([{"name": "f", "input_schema": {"type": "string"}}])
            )),
            "tools.0.custom.input_schema.type"
        );
        assert_eq!(refused(with("tools", json!([{"name": "f"}]))), "tools.0.custom");
        let mut body = with("tools", json!([tool("f")]));
        body["tool_choice"] = json!({"type": "tool", "name": "g"});
        assert_eq!(refused(body.clone()), "tool_choice.name");
        body["tool_choice"] = json!({"type": "tool", "name": "f"});
        ok(body);
    }
}
