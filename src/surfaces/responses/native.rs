//! The upstream request for an OpenAI model: the client's own body, forwarded to OpenAI's
//! `/responses` with what the gateway must enforce and nothing else re-written.
//!
//! - `model` is the catalog's upstream id; `max_output_tokens` is capped;
//! - `store: false` always: users' data is never kept in the operator's OpenAI account (so
//!   encrypted reasoning, `include: ["reasoning.encrypted_content"]`, round-trips through the
//!   client, and the gateway keeps stored responses itself);
//! - `previous_response_id` is replaced by the history it names (the upstream never sees the id),
//!   `item_reference`s by the items they name;
//! - what would reach into the operator's OpenAI account or bill it outside the token price is
//!   dropped with a warning: `prompt` templates, `file_search` (vector stores), hosted
//!   `code_interpreter` and `image_generation`, `background`, a `service_tier` above default.
//!   `client_metadata` (Codex's) is not forwarded.

use serde_json::{json, Map, Value};

use super::types::Parsed;
use super::wire::Warning;
use crate::error::{ApiError, ApiResult};
use crate::providers::{openai::auth_header, Upstream, UpstreamRequest};

/// Hosted tools never forwarded: they read the operator's OpenAI account (vector stores) or are
/// billed per call at a price the catalog does not carry.
const WITHHELD_TOOLS: &[&str] = &["file_search", "code_interpreter", "image_generation"];
/// Service tiers billed above the catalog price.
const WITHHELD_TIERS: &[&str] = &["priority", "scale"];

/// The JSON body for OpenAI's `/responses`. `conversation` is `store::conversation()` for this
/// request, with the caller's uploaded files already inlined (`file_refs`).
pub fn body(
    parsed: &Parsed,
    conversation: &[Value],
    upstream_model: &str,
    max_output_tokens: u32,
) -> ApiResult<(Value, Vec<Warning>)> {
    let mut body = parsed.raw.clone();
    let mut warnings = Vec::new();
    body.insert("model".into(), json!(upstream_model));
    body.insert("store".into(), json!(false));
    body.remove("previous_response_id");
    body.remove("client_metadata");
    if let Some(refs) = file_refs(conversation).first() {
        // Caller uploads are inlined by the handler; any id left would be looked up in the
        // operator's OpenAI account.
        return Err(ApiError::bad_request(
            "input",
            format!(
                "File `{}` could not be read; upload files to this gateway first.",
                refs.file_id
            ),
        ));
    }
    body.insert("input".into(), Value::Array(upstream_items(conversation)));
    let cap = parsed
        .request
        .max_output_tokens
        .map_or(max_output_tokens, |asked| asked.min(max_output_tokens));
    body.insert("max_output_tokens".into(), json!(cap));
    if body.remove("prompt").is_some_and(|p| !p.is_null()) {
        warnings.push(Warning::dropped(
            "prompt",
            "Stored prompt templates are not available through this gateway; `prompt` was ignored.",
        ));
    }
    if body.remove("background") == Some(Value::Bool(true)) {
        warnings.push(Warning::dropped(
            "background",
            "Background mode is not available; the response was generated in the request.",
        ));
    }
    if let Some(tier) = body.get("service_tier").and_then(Value::as_str) {
        if WITHHELD_TIERS.contains(&tier) {
            warnings.push(Warning::dropped(
                "service_tier",
                format!("The `{tier}` service tier is not available; the default tier was used."),
            ));
            body.remove("service_tier");
        }
    }
    if let Some(Value::Array(tools)) = body.get_mut("tools") {
        let mut kept = Vec::with_capacity(tools.len());
        for (i, tool) in std::mem::take(tools).into_iter().enumerate() {
            let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
            if WITHHELD_TOOLS.contains(&kind) {
                warnings.push(Warning::dropped(
                    format!("tools[{i}]"),
                    format!(
                        "The hosted `{kind}` tool is not available through this gateway and was removed."
                    ),
                ));
            } else {
                kept.push(tool);
            }
        }
        *tools = kept;
    }
    Ok((Value::Object(body), warnings))
}

/// The conversation as OpenAI takes it with `store: false`: a reasoning item without its
/// `encrypted_content` can only be found in OpenAI's storage (a 404 there), so it is left out.
fn upstream_items(conversation: &[Value]) -> Vec<Value> {
    conversation
        .iter()
        .filter(|item| {
            item.get("type").and_then(Value::as_str) != Some("reasoning")
                || item
                    .get("encrypted_content")
                    .is_some_and(|e| e.as_str().is_some_and(|s| !s.is_empty()))
        })
        .cloned()
        .collect()
}

/// The HTTP request to OpenAI's (or an OpenAI-compatible vendor's) `/responses`.
pub fn request(upstream: &Upstream, body: &Value) -> UpstreamRequest {
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let mut headers = vec![
        auth_header(upstream),
        ("Content-Type", "application/json".to_owned()),
    ];
    if stream {
        headers.push(("Accept", "text/event-stream".to_owned()));
    }
    UpstreamRequest {
        url: format!("{}/responses", upstream.base_url),
        headers,
        body: body.to_string(),
    }
}

/// A caller's uploaded file named in the conversation (`input_image`/`input_file` with
/// `file_id`), which the handler reads and inlines before the body is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub item: usize,
    pub part: usize,
    pub file_id: String,
}

pub fn file_refs(conversation: &[Value]) -> Vec<FileRef> {
    let mut refs = Vec::new();
    for (item, value) in conversation.iter().enumerate() {
        let parts = value
            .get("content")
            .or_else(|| value.get("output"))
            .and_then(Value::as_array);
        for (part, content) in parts.into_iter().flatten().enumerate() {
            let kind = content.get("type").and_then(Value::as_str);
            if matches!(kind, Some("input_image") | Some("input_file")) {
                if let Some(file_id) = content.get("file_id").and_then(Value::as_str) {
                    refs.push(FileRef {
                        item,
                        part,
                        file_id: file_id.to_owned(),
                    });
                }
            }
        }
    }
    refs
}

/// What a caller's file becomes for the model: an image as a data URL, or a PDF's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inlined {
    Image { data_url: String },
    Text { text: String },
}

/// Replaces the part a `FileRef` points at.
pub fn inline_file(conversation: &mut [Value], at: &FileRef, inlined: Inlined) {
    let Some(item) = conversation.get_mut(at.item) else {
        return;
    };
    let key = if item.get("content").is_some() {
        "content"
    } else {
        "output"
    };
    let Some(part) = item
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .and_then(|parts| parts.get_mut(at.part))
    else {
        return;
    };
    let mut replacement = Map::new();
    match inlined {
        Inlined::Image { data_url } => {
            replacement.insert("type".into(), json!("input_image"));
            replacement.insert("image_url".into(), json!(data_url));
            replacement.insert(
                "detail".into(),
                part.get("detail").cloned().unwrap_or_else(|| json!("auto")),
            );
        }
        Inlined::Text { text } => {
            replacement.insert("type".into(), json!("input_text"));
            replacement.insert("text".into(), json!(text));
        }
    }
    *part = Value::Object(replacement);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::responses::store::{conversation, StoredBody};
    use crate::surfaces::responses::types::parse;

    fn parsed(body: Value) -> Parsed {
        parse(body.to_string().as_bytes()).unwrap()
    }

    fn build(body: Value, max: u32) -> (Value, Vec<Warning>) {
        let parsed = parsed(body);
        let items = conversation(&parsed, None).unwrap();
        super::body(&parsed, &items, "gpt-4o-mini-2024-07-18", max).unwrap()
    }

    #[test]
    fn codex_body_reaches_openai_unchanged_but_for_what_the_gateway_enforces() {
        let raw: Value =
            serde_json::from_slice(crate::surfaces::responses::fixtures::CODEX_TURN_2.as_bytes()).unwrap();
        let parsed = parse(raw.to_string().as_bytes()).unwrap();
        let items = conversation(&parsed, None).unwrap();
        let (body, warnings) = super::body(&parsed, &items, "gpt-5-codex", 8192).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(body["model"], "gpt-5-codex");
        assert_eq!(body["store"], false);
        assert_eq!(body["max_output_tokens"], 8192);
        assert!(body.get("client_metadata").is_none());
        for key in [
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "include",
            "prompt_cache_key",
            "stream",
        ] {
            assert_eq!(body[key], raw[key], "{key}");
        }
        // The input items, reasoning with its encrypted content included, pass as sent.
        assert_eq!(body["input"], raw["input"]);
    }

    #[test]
    fn the_client_ceiling_is_kept_when_lower_and_capped_when_higher() {
        assert_eq!(
            build(
                json!({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 100}),
                4096
            )
            .0["max_output_tokens"],
            100
        );
        assert_eq!(
            build(
                json!({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 50000}),
                4096
            )
            .0["max_output_tokens"],
            4096
        );
        assert_eq!(
            build(json!({"model": "gpt-4o-mini", "input": "hi"}), 4096).0["max_output_tokens"],
            4096
        );
    }

    #[test]
    fn a_previous_response_becomes_history_and_the_id_never_goes_upstream() {
        let parsed = parsed(
            json!({"model": "gpt-4o-mini", "input": "and then?", "previous_response_id": "resp_1", "store": true}),
        );
        let previous = StoredBody {
            version: 1,
            input: vec![json!({"type": "message", "role": "user", "content": "once"})],
            response: json!({"id": "resp_1", "output": [
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA"},
                {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "upon"}]}
            ]}),
        };
        let items = conversation(&parsed, Some(&previous)).unwrap();
        let (body, _) = super::body(&parsed, &items, "gpt-4o-mini", 100).unwrap();
        assert!(body.get("previous_response_id").is_none());
        assert_eq!(body["store"], false);
        let ids: Vec<Value> = body["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect();
        // rs_1 had no encrypted content: OpenAI could not find it with store false.
        assert_eq!(ids, [Value::Null, json!("rs_2"), json!("msg_1"), Value::Null]);
        assert_eq!(body["input"][3]["content"][0]["text"], "and then?");
    }

    #[test]
    fn what_reaches_into_the_operators_account_is_dropped_with_warnings() {
        let (body, warnings) = build(
            json!({"model": "gpt-4o-mini", "input": "hi", "prompt": {"id": "pmpt_1"}, "background": true,
                   "service_tier": "priority", "client_metadata": {"a": 1},
                   "tools": [{"type": "file_search", "vector_store_ids": ["vs_operator"]},
                             {"type": "web_search"}, {"type": "function", "name": "f"},
                             {"type": "code_interpreter", "container": {"type": "auto"}}]}),
            100,
        );
        for key in ["prompt", "background", "service_tier", "client_metadata"] {
            assert!(body.get(key).is_none(), "{key}");
        }
        assert_eq!(
            body["tools"],
            json!([{"type": "web_search"}, {"type": "function", "name": "f"}])
        );
        let params: Vec<&str> = warnings.iter().map(|w| w.param.as_str()).collect();
        assert_eq!(
            params,
            ["prompt", "background", "service_tier", "tools[0]", "tools[3]"]
        );
        let (body, warnings) = build(
            json!({"model": "gpt-4o-mini", "input": "hi", "service_tier": "flex"}),
            100,
        );
        assert_eq!((body["service_tier"].as_str(), warnings.len()), (Some("flex"), 0));
    }

    #[test]
    fn uploaded_files_are_inlined_before_anything_goes_upstream() {
        let parsed = parsed(
            json!({"model": "gpt-4o-mini", "input": [{"role": "user", "content": [
                {"type": "input_text", "text": "what is this"},
                {"type": "input_image", "file_id": "file_abc", "detail": "low"},
                {"type": "input_file", "file_id": "file_pdf"}
            ]}]}),
        );
        let mut items = conversation(&parsed, None).unwrap();
        let refs = file_refs(&items);
        assert_eq!(
            refs,
            vec![
                FileRef {
                    item: 0,
                    part: 1,
                    file_id: "file_abc".into()
                },
                FileRef {
                    item: 0,
                    part: 2,
                    file_id: "file_pdf".into()
                }
            ]
        );
        let refused = super::body(&parsed, &items, "gpt-4o-mini", 100).unwrap_err();
        assert_eq!((refused.status(), refused.param.as_deref()), (400, Some("input")));
        inline_file(
            &mut items,
            &refs[0],
            Inlined::Image {
                data_url: "data:image/png;base64,AAAA".into(),
            },
        );
        inline_file(
            &mut items,
            &refs[1],
            Inlined::Text {
                text: "[File: a.pdf]\n\nhello".into(),
            },
        );
        let (body, _) = super::body(&parsed, &items, "gpt-4o-mini", 100).unwrap();
        assert_eq!(
            body["input"][0]["content"][1],
            json!({"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"})
        );
        assert_eq!(
            body["input"][0]["content"][2],
            json!({"type": "input_text", "text": "[File: a.pdf]\n\nhello"})
        );
    }

    #[test]
    fn the_request_goes_to_responses_with_the_providers_auth() {
        let upstream = Upstream::for_test("gpt-4o-mini", "http://mock/v1", "sk-upstream");
        let (body, _) = build(
            json!({"model": "gpt-4o-mini", "input": "hi", "stream": true}),
            100,
        );
        let built = request(&upstream, &body);
        assert_eq!(built.url, "http://mock/v1/responses");
        assert!(built
            .headers
            .contains(&("Authorization", "Bearer sk-upstream".to_owned())));
        assert!(built
            .headers
            .contains(&("Accept", "text/event-stream".to_owned())));
        let sent: Value = serde_json::from_slice(built.body.as_bytes()).unwrap();
        assert_eq!(sent["model"], "gpt-4o-mini-2024-07-18");
    }
}
