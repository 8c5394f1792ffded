//! Canonical chunks and completions as the Responses API answers them, for translated models:
//! the real event sequence (`response.created`, `response.in_progress`, per item
//! `response.output_item.added` … `response.output_item.done`, then `response.completed` with
//! usage, `sequence_number` strictly increasing from 0) and the `response` object.
//!
//! Items are opened and closed one at a time, as OpenAI streams them: text and refusals go into
//! one `message` item (a part per kind), each tool call is a `function_call` (or, for a client's
//! `custom` tool, a `custom_tool_call`) item. A delta for a call that is already closed (an
//! upstream interleaving calls, which none of ours does) is kept in the final response only.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::translate::ToolNames;
use super::wire::{frame, item_id};
use crate::canonical::{ChatCompletion, ChatCompletionChunk, FinishReason, ToolCallDelta};
use crate::error::{ApiError, ErrorKind};

#[derive(Debug, Clone)]
struct Part {
    refusal: bool,
    text: String,
    done: bool,
}

#[derive(Debug, Clone)]
enum Item {
    Message {
        id: String,
        parts: Vec<Part>,
        status: &'static str,
    },
    Call {
        id: String,
        call_id: String,
        flat: String,
        arguments: String,
        status: &'static str,
    },
}

/// One response being rendered.
#[derive(Debug)]
pub struct Render {
    shell: Map<String, Value>,
    id: String,
    tools: ToolNames,
    seq: u64,
    started: bool,
    items: Vec<Item>,
    open: Option<usize>,
    /// Canonical tool-call index → item.
    slots: HashMap<u32, usize>,
    finish_reason: Option<String>,
    delivered: u64,
    finished: Option<Value>,
}

impl Render {
    /// `shell` is `wire::response_shell()` for this response.
    pub fn new(shell: Map<String, Value>, tools: ToolNames) -> Render {
        let id = shell
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Render {
            shell,
            id,
            tools,
            seq: 0,
            started: false,
            items: Vec::new(),
            open: None,
            slots: HashMap::new(),
            finish_reason: None,
            delivered: 0,
            finished: None,
        }
    }

    /// Characters of text, refusal, tool names and arguments produced so far.
    pub fn delivered_chars(&self) -> u64 {
        self.delivered
    }

    /// Whether the upstream gave a finish reason (the stream's end is then complete).
    pub fn saw_finish(&self) -> bool {
        self.finish_reason.is_some()
    }

    /// The final `response` object, once `finish` (or `complete`) made it.
    pub fn final_response(&self) -> Option<&Value> {
        self.finished.as_ref()
    }

    fn event(&mut self, kind: &str, fields: Value) -> String {
        let mut payload = Map::new();
        payload.insert("type".into(), json!(kind));
        if let Value::Object(fields) = fields {
            payload.extend(fields);
        }
        payload.insert("sequence_number".into(), json!(self.seq));
        self.seq += 1;
        frame(kind, &Value::Object(payload))
    }

    /// `response.created` and `response.in_progress`, once.
    pub fn start(&mut self) -> String {
        if self.started {
            return String::new();
        }
        self.started = true;
        let response = self.response("in_progress", Value::Null);
        let mut out = self.event("response.created", json!({ "response": response }));
        out += &self.event("response.in_progress", json!({ "response": response }));
        out
    }

    /// The events for one canonical chunk.
    pub fn chunk(&mut self, chunk: &ChatCompletionChunk) -> String {
        let mut out = self.start();
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let delta = &choice.delta;
            if let Some(text) = delta.content.as_deref().filter(|t| !t.is_empty()) {
                out += &self.text(text, false);
            }
            if let Some(text) = delta.refusal.as_deref().filter(|t| !t.is_empty()) {
                out += &self.text(text, true);
            }
            for call in delta.tool_calls.iter().flatten() {
                out += &self.tool(call);
            }
            if let Some(reason) = &choice.finish_reason {
                self.finish_reason = Some(reason.clone());
            }
        }
        out
    }

    fn text(&mut self, text: &str, refusal: bool) -> String {
        self.delivered += text.chars().count() as u64;
        let mut out = String::new();
        let index = match self.open {
            Some(i) if matches!(self.items.get(i), Some(Item::Message { .. })) => i,
            _ => {
                out += &self.close_open("completed");
                let item = Item::Message {
                    id: item_id("msg", &self.id, self.items.len()),
                    parts: Vec::new(),
                    status: "in_progress",
                };
                out += &self.open_item(item);
                self.items.len() - 1
            }
        };
        let (item_id, needs_part) = match self.items.get(index) {
            Some(Item::Message { id, parts, .. }) => (
                id.clone(),
                parts.last().is_none_or(|p| p.done || p.refusal != refusal),
            ),
            _ => return out,
        };
        if needs_part {
            out += &self.close_part(index);
            let content_index = self.push_part(index, refusal);
            let part = part_json(&Part {
                refusal,
                text: String::new(),
                done: false,
            });
            out += &self.event(
                "response.content_part.added",
                json!({"item_id": item_id, "output_index": index, "content_index": content_index, "part": part}),
            );
        }
        let content_index = self.append_text(index, text);
        let event = if refusal {
            self.event(
                "response.refusal.delta",
                json!({"item_id": item_id, "output_index": index, "content_index": content_index, "delta": text}),
            )
        } else {
            self.event(
                "response.output_text.delta",
                json!({"item_id": item_id, "output_index": index, "content_index": content_index, "delta": text, "logprobs": []}),
            )
        };
        out + &event
    }

    fn push_part(&mut self, index: usize, refusal: bool) -> usize {
        if let Some(Item::Message { parts, .. }) = self.items.get_mut(index) {
            parts.push(Part {
                refusal,
                text: String::new(),
                done: false,
            });
            return parts.len() - 1;
        }
        0
    }

    fn append_text(&mut self, index: usize, text: &str) -> usize {
        if let Some(Item::Message { parts, .. }) = self.items.get_mut(index) {
            if let Some(part) = parts.last_mut() {
                part.text.push_str(text);
            }
            return parts.len().saturating_sub(1);
        }
        0
    }

    fn is_custom(&self, flat: &str) -> bool {
        self.tools.client(flat).custom
    }

    fn tool(&mut self, call: &ToolCallDelta) -> String {
        let name = call
            .function
            .as_ref()
            .and_then(|f| f.name.as_deref())
            .unwrap_or_default();
        let arguments = call
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .unwrap_or_default();
        self.delivered += (name.len() + arguments.chars().count()) as u64;
        let mut out = String::new();
        let index = match self.slots.get(&call.index) {
            Some(&index) => {
                if let Some(Item::Call { flat, .. }) = self.items.get_mut(index) {
                    if flat.is_empty() {
                        flat.push_str(name);
                    }
                }
                index
            }
            None => {
                out += &self.close_open("completed");
                let n = self.items.len();
                let prefix = if self.is_custom(name) { "ctc" } else { "fc" };
                let item = Item::Call {
                    id: item_id(prefix, &self.id, n),
                    call_id: call
                        .id
                        .clone()
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| item_id("call", &self.id, n)),
                    flat: name.to_owned(),
                    arguments: String::new(),
                    status: "in_progress",
                };
                out += &self.open_item(item);
                self.slots.insert(call.index, n);
                n
            }
        };
        if arguments.is_empty() {
            return out;
        }
        let (item_id, custom) = match self.items.get_mut(index) {
            Some(Item::Call {
                id,
                flat,
                arguments: so_far,
                ..
            }) => {
                so_far.push_str(arguments);
                (id.clone(), flat.clone())
            }
            _ => return out,
        };
        // A custom tool's input is inside the JSON arguments; it is sent whole when the call ends.
        if self.open == Some(index) && !self.is_custom(&custom) {
            out += &self.event(
                "response.function_call_arguments.delta",
                json!({"item_id": item_id, "output_index": index, "delta": arguments}),
            );
        }
        out
    }

    fn open_item(&mut self, item: Item) -> String {
        self.items.push(item);
        let index = self.items.len() - 1;
        self.open = Some(index);
        let json = self.item_json(index);
        self.event(
            "response.output_item.added",
            json!({"output_index": index, "item": json}),
        )
    }

    fn close_part(&mut self, index: usize) -> String {
        let (item_id, content_index, part) = match self.items.get_mut(index) {
            Some(Item::Message { id, parts, .. }) => match parts.last_mut() {
                Some(part) if !part.done => {
                    part.done = true;
                    (id.clone(), parts.len() - 1, parts[parts.len() - 1].clone())
                }
                _ => return String::new(),
            },
            _ => return String::new(),
        };
        let done = if part.refusal {
            self.event(
                "response.refusal.done",
                json!({"item_id": item_id, "output_index": index, "content_index": content_index, "refusal": part.text}),
            )
        } else {
            self.event(
                "response.output_text.done",
                json!({"item_id": item_id, "output_index": index, "content_index": content_index, "text": part.text, "logprobs": []}),
            )
        };
        done + &self.event(
            "response.content_part.done",
            json!({"item_id": item_id, "output_index": index, "content_index": content_index, "part": part_json(&part)}),
        )
    }

    /// Ends the open item with `status`.
    fn close_open(&mut self, status: &'static str) -> String {
        let Some(index) = self.open.take() else {
            return String::new();
        };
        let mut out = String::new();
        let mut call_end = None;
        match self.items.get_mut(index) {
            Some(Item::Message { status: s, .. }) => {
                *s = status;
                out += &self.close_part(index);
            }
            Some(Item::Call {
                id,
                flat,
                arguments,
                status: s,
                ..
            }) => {
                *s = status;
                call_end = Some((id.clone(), flat.clone(), arguments.clone()));
            }
            None => return out,
        }
        if let Some((item_id, flat, arguments)) = call_end {
            let client = self.tools.client(&flat);
            if client.custom {
                let input = custom_input(&arguments);
                out += &self.event(
                    "response.custom_tool_call_input.delta",
                    json!({"item_id": item_id, "output_index": index, "delta": input}),
                );
                out += &self.event(
                    "response.custom_tool_call_input.done",
                    json!({"item_id": item_id, "output_index": index, "input": input}),
                );
            } else {
                out += &self.event(
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": index, "name": client.name, "arguments": arguments}),
                );
            }
        }
        let json = self.item_json(index);
        out + &self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": json}),
        )
    }

    fn item_json(&self, index: usize) -> Value {
        match self.items.get(index) {
            Some(Item::Message { id, parts, status }) => json!({
                "id": id, "type": "message", "status": status,
                "content": parts.iter().map(part_json).collect::<Vec<_>>(),
                "role": "assistant",
            }),
            Some(Item::Call {
                id,
                call_id,
                flat,
                arguments,
                status,
            }) => {
                let client = self.tools.client(flat);
                let mut item = Map::new();
                item.insert("id".into(), json!(id));
                if client.custom {
                    item.insert("type".into(), json!("custom_tool_call"));
                    item.insert("status".into(), json!(status));
                    item.insert("call_id".into(), json!(call_id));
                    item.insert("input".into(), json!(custom_input(arguments)));
                } else {
                    item.insert("type".into(), json!("function_call"));
                    item.insert("status".into(), json!(status));
                    item.insert("arguments".into(), json!(arguments));
                    item.insert("call_id".into(), json!(call_id));
                }
                item.insert("name".into(), json!(client.name));
                if let Some(namespace) = client.namespace {
                    item.insert("namespace".into(), json!(namespace));
                }
                Value::Object(item)
            }
            None => Value::Null,
        }
    }

    /// The `response` object now, with `status` and `usage`.
    fn response(&self, status: &str, usage: Value) -> Value {
        let mut response = self.shell.clone();
        response.insert("status".into(), json!(status));
        let output: Vec<Value> = (0..self.items.len()).map(|i| self.item_json(i)).collect();
        response.insert("output".into(), Value::Array(output));
        response.insert("usage".into(), usage);
        Value::Object(response)
    }

    fn final_status(&self) -> (&'static str, Value) {
        match self.finish_reason.as_deref().and_then(FinishReason::parse) {
            Some(FinishReason::Length) => ("incomplete", json!({"reason": "max_output_tokens"})),
            Some(FinishReason::ContentFilter) => ("incomplete", json!({"reason": "content_filter"})),
            _ => ("completed", Value::Null),
        }
    }

    /// Closes what is open and ends the stream: `response.completed` (or `response.incomplete`
    /// when the output hit its ceiling or a filter) carrying `usage`.
    pub fn finish(&mut self, usage: Value) -> String {
        let mut out = self.start();
        let (status, details) = self.final_status();
        out += &self.close_open(if status == "completed" {
            "completed"
        } else {
            "incomplete"
        });
        let mut response = self.response(status, usage);
        response["incomplete_details"] = details;
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        out += &self.event(kind, json!({ "response": response }));
        self.finished = Some(response);
        out
    }

    /// The frames ending a stream that failed midway: `response.failed` with the error.
    pub fn fail(&mut self, error: &ApiError) -> String {
        let mut out = self.start();
        let mut response = self.response("failed", Value::Null);
        let code = match error.kind {
            ErrorKind::RateLimited => "rate_limit_exceeded",
            _ => "server_error",
        };
        response["error"] = json!({"code": code, "message": error.message});
        out += &self.event("response.failed", json!({ "response": response }));
        out
    }

    /// A whole (non-streamed) completion as this response's output.
    pub fn absorb(&mut self, completion: &ChatCompletion) {
        let Some(choice) = completion.choices.iter().find(|c| c.index == 0) else {
            return;
        };
        let message = &choice.message;
        let mut parts = Vec::new();
        if let Some(text) = message.content.as_deref().filter(|t| !t.is_empty()) {
            self.delivered += text.chars().count() as u64;
            parts.push(Part {
                refusal: false,
                text: text.to_owned(),
                done: true,
            });
        }
        if let Some(text) = message.refusal.as_deref().filter(|t| !t.is_empty()) {
            self.delivered += text.chars().count() as u64;
            parts.push(Part {
                refusal: true,
                text: text.to_owned(),
                done: true,
            });
        }
        if !parts.is_empty() {
            let id = item_id("msg", &self.id, self.items.len());
            self.items.push(Item::Message {
                id,
                parts,
                status: "completed",
            });
        }
        for call in message.tool_calls.iter().flatten() {
            self.delivered += (call.function.name.len() + call.function.arguments.chars().count()) as u64;
            let n = self.items.len();
            let prefix = if self.is_custom(&call.function.name) {
                "ctc"
            } else {
                "fc"
            };
            self.items.push(Item::Call {
                id: item_id(prefix, &self.id, n),
                call_id: call.id.clone(),
                flat: call.function.name.clone(),
                arguments: call.function.arguments.clone(),
                status: "completed",
            });
        }
        self.finish_reason = choice.finish_reason.clone();
        self.started = true;
    }

    /// The non-streamed answer: the `response` object with `usage`.
    pub fn complete(&mut self, usage: Value) -> Value {
        let (status, details) = self.final_status();
        if status != "completed" {
            if let Some(Item::Message { status: s, .. }) = self.items.last_mut() {
                *s = "incomplete";
            }
        }
        let mut response = self.response(status, usage);
        response["incomplete_details"] = details;
        self.finished = Some(response.clone());
        response
    }
}

fn part_json(part: &Part) -> Value {
    if part.refusal {
        json!({"type": "refusal", "refusal": part.text})
    } else {
        json!({"type": "output_text", "annotations": [], "logprobs": [], "text": part.text})
    }
}

/// A custom tool's input from the `{"input": …}` arguments the model produced (or the arguments
/// themselves, if they are not that object).
fn custom_input(arguments: &str) -> String {
    serde_json::from_slice::<Value>(arguments.as_bytes())
        .ok()
        .and_then(|v| v.get("input").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| arguments.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::canonical::Delta;
    use crate::surfaces::responses::translate::to_chat;
    use crate::surfaces::responses::types::parse;
    use crate::surfaces::responses::wire::{response_shell, Overrides};
    use crate::surfaces::test_chunks::{call, chunk, text};

    pub(crate) fn render_for(body: Value) -> Render {
        let parsed = parse(body.to_string().as_bytes()).unwrap();
        let items = crate::surfaces::responses::store::conversation(&parsed, None).unwrap();
        let translation = to_chat(&parsed, &items, 0).unwrap();
        let overrides = Overrides::of(&parsed, translation.warnings.clone());
        Render::new(
            response_shell("resp_t1", 1_700_000_000, &parsed, &overrides),
            translation.tools,
        )
    }

    /// (event name, payload) of every frame, checking each frame's shape on the way.
    pub(crate) fn events(frames: &str) -> Vec<(String, Value)> {
        frames
            .split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|f| {
                let (event, data) = f.split_once('\n').unwrap();
                let name = event.strip_prefix("event: ").unwrap().to_owned();
                let payload: Value =
                    serde_json::from_slice(data.strip_prefix("data: ").unwrap().as_bytes()).unwrap();
                assert_eq!(payload["type"], name.as_str());
                (name, payload)
            })
            .collect()
    }

    fn usage() -> Value {
        json!({"input_tokens": 5, "output_tokens": 3, "total_tokens": 8})
    }

    #[test]
    fn text_streams_as_the_real_event_sequence() {
        let mut render = render_for(json!({"model": "claude-sonnet-4-5", "input": "hi", "stream": true}));
        let mut out = render.chunk(&chunk(
            Delta {
                role: Some("assistant".into()),
                ..Delta::default()
            },
            None,
        ));
        out += &render.chunk(&chunk(text("Hel"), None));
        out += &render.chunk(&chunk(text("lo"), Some("stop")));
        out += &render.finish(usage());
        let all = events(&out);
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let seqs: Vec<u64> = all
            .iter()
            .map(|(_, p)| p["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..10).collect::<Vec<u64>>());
        assert_eq!(all[0].1["response"]["status"], "in_progress");
        assert_eq!(all[0].1["response"]["model"], "claude-sonnet-4-5");
        assert_eq!(
            all[2].1["item"],
            json!({"id": "msg_t1000", "type": "message", "status": "in_progress", "content": [], "role": "assistant"})
        );
        assert_eq!(all[3].1["part"]["text"], "");
        assert_eq!(
            (
                all[4].1["delta"].as_str(),
                all[4].1["item_id"].as_str(),
                all[4].1["content_index"].as_u64()
            ),
            (Some("Hel"), Some("msg_t1000"), Some(0))
        );
        assert_eq!(all[6].1["text"], "Hello");
        assert_eq!(all[8].1["item"]["content"][0]["text"], "Hello");
        assert_eq!(all[8].1["item"]["status"], "completed");
        let done = &all[9].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["usage"], usage());
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(render.final_response(), Some(done));
        assert_eq!(render.delivered_chars(), 5);
    }

    #[test]
    fn tool_calls_stream_as_function_call_items_after_the_text() {
        let mut render = render_for(json!({"model": "m", "input": "hi", "stream": true,
            "tools": [{"type": "function", "name": "weather"}, {"type": "namespace", "name": "agents", "description": "", "tools": [{"type": "function", "name": "spawn"}]}]}));
        let mut out = render.chunk(&chunk(text("Let me check."), None));
        out += &render.chunk(&chunk(call(0, Some("call_a"), Some("weather"), ""), None));
        out += &render.chunk(&chunk(call(0, None, None, "{\"city\":"), None));
        out += &render.chunk(&chunk(call(0, None, None, "\"Oslo\"}"), None));
        out += &render.chunk(&chunk(
            call(1, Some("call_b"), Some("spawn"), "{}"),
            Some("tool_calls"),
        ));
        out += &render.finish(usage());
        let all = events(&out);
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(
            all[8].1["item"],
            json!({"id": "fc_t1001", "type": "function_call", "status": "in_progress", "arguments": "", "call_id": "call_a", "name": "weather"})
        );
        assert_eq!(all[8].1["output_index"], 1);
        assert_eq!(
            all[11].1,
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_t1001", "output_index": 1, "name": "weather", "arguments": "{\"city\":\"Oslo\"}", "sequence_number": 11})
        );
        let output = &all[17].1["response"]["output"];
        assert_eq!(output[1]["arguments"], "{\"city\":\"Oslo\"}");
        assert_eq!(output[2]["name"], "spawn");
        assert_eq!(output[2]["namespace"], "agents");
        assert_eq!(output[2]["call_id"], "call_b");
    }

    #[test]
    fn a_custom_tool_call_is_sent_whole_with_its_input() {
        let mut render = render_for(
            json!({"model": "m", "input": "hi", "tools": [{"type": "custom", "name": "apply_patch"}]}),
        );
        let mut out = render.chunk(&chunk(
            call(0, Some("toolu_1"), Some("apply_patch"), "{\"input\": \"*** Begin"),
            None,
        ));
        out += &render.chunk(&chunk(call(0, None, None, " Patch\"}"), Some("tool_calls")));
        out += &render.finish(usage());
        let all = events(&out);
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(all[4].1["input"], "*** Begin Patch");
        assert_eq!(
            all[5].1["item"],
            json!({"id": "ctc_t1000", "type": "custom_tool_call", "status": "completed", "call_id": "toolu_1", "input": "*** Begin Patch", "name": "apply_patch"})
        );
    }

    #[test]
    fn hitting_the_ceiling_ends_incomplete_and_a_failure_is_response_failed() {
        let mut render = render_for(json!({"model": "m", "input": "hi"}));
        let mut out = render.chunk(&chunk(text("trunc"), Some("length")));
        out += &render.finish(usage());
        let last = events(&out).pop().unwrap();
        assert_eq!(last.0, "response.incomplete");
        assert_eq!(last.1["response"]["status"], "incomplete");
        assert_eq!(
            last.1["response"]["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(last.1["response"]["output"][0]["status"], "incomplete");

        let mut render = render_for(json!({"model": "m", "input": "hi"}));
        let mut out = render.chunk(&chunk(text("par"), None));
        out += &render.fail(&ApiError::new(
            ErrorKind::BadGateway,
            "upstream_error",
            "The upstream failed mid-stream.",
        ));
        let all = events(&out);
        let last = all.last().unwrap();
        assert_eq!(last.0, "response.failed");
        assert_eq!(last.1["response"]["status"], "failed");
        assert_eq!(
            last.1["response"]["error"],
            json!({"code": "server_error", "message": "The upstream failed mid-stream."})
        );
        assert!(all
            .windows(2)
            .all(|w| w[0].1["sequence_number"].as_u64() < w[1].1["sequence_number"].as_u64()));

        // A failure before anything arrived still opens with response.created.
        let mut render = render_for(json!({"model": "m", "input": "hi"}));
        let names: Vec<String> = events(&render.fail(&ApiError::internal("x")))
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            ["response.created", "response.in_progress", "response.failed"]
        );
    }

    #[test]
    fn a_refusal_is_its_own_part() {
        let mut render = render_for(json!({"model": "m", "input": "hi"}));
        let mut out = render.chunk(&chunk(
            Delta {
                refusal: Some("I can't".into()),
                ..Delta::default()
            },
            Some("stop"),
        ));
        out += &render.finish(usage());
        let all = events(&out);
        assert!(all
            .iter()
            .any(|(n, p)| n == "response.refusal.delta" && p["delta"] == "I can't"));
        assert!(all
            .iter()
            .any(|(n, p)| n == "response.refusal.done" && p["refusal"] == "I can't"));
        assert_eq!(
            all.last().unwrap().1["response"]["output"][0]["content"][0],
            json!({"type": "refusal", "refusal": "I can't"})
        );
    }

    #[test]
    fn a_whole_completion_is_a_response_object() {
        let completion: ChatCompletion = serde_json::from_value(json!({
            "id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Checking.",
                "tool_calls": [{"id": "toolu_9", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]}}]
        }))
        .unwrap();
        let mut render = render_for(
            json!({"model": "m", "input": "hi", "tools": [{"type": "function", "name": "weather"}]}),
        );
        render.absorb(&completion);
        let response = render.complete(usage());
        assert_eq!(response["object"], "response");
        assert_eq!(response["status"], "completed");
        assert_eq!(
            response["output"],
            json!([
                {"id": "msg_t1000", "type": "message", "status": "completed", "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Checking."}], "role": "assistant"},
                {"id": "fc_t1001", "type": "function_call", "status": "completed", "arguments": "{}", "call_id": "toolu_9", "name": "weather"}
            ])
        );
        assert_eq!(response["usage"], usage());
        assert_eq!(
            render.delivered_chars(),
            "Checking.".len() as u64 + "weather{}".len() as u64
        );
    }
}
