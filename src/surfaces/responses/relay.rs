//! The two relays the metered pipeline drives for `/v1/responses` (PIPELINE.md):
//!
//! - `NativeRelay`: OpenAI's own Responses stream, passed through event by event as it arrives
//!   (the frame re-made around the upstream's `data`, never re-serialised), except the
//!   lifecycle events carrying the `response` object, where the model id the client asked for,
//!   its `store`/`previous_response_id` and the warnings are put back. Usage is read from
//!   `response.completed` (`input_tokens_details.cached_tokens`,
//!   `output_tokens_details.reasoning_tokens`).
//! - `TranslatedRelay`: any other wire, through its `StreamTranslator` into canonical chunks,
//!   then `Render` into the Responses event sequence.
//!
//! Both keep the final `response` object (`final_response`) for the store.

use std::borrow::Cow;

use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};

use super::render::Render;
use super::wire::{frame, Overrides, ResponsesUsage};
use crate::billing::reservation::Bill;
use crate::billing::usage::TokenUsage;
use crate::error::{ApiError, ErrorKind};
use crate::pipeline::relay::{read_items, Parsed, Relay, Step, StreamFailure};
use crate::providers::StreamTranslator;
use crate::sse::parser::SseEvent;

/// A Responses `usage` object with what it cost, as the chat surface shows it.
fn with_cost(mut usage: Value, bill: &Bill) -> Value {
    if let Some(map) = usage.as_object_mut() {
        map.insert("cost_usd".into(), json!(bill.cost.as_usd_f64()));
        map.insert("estimated".into(), json!(bill.estimated()));
    }
    usage
}

// ---- native

/// The fields of an upstream event read on every event; the rest of it is skipped unparsed.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    sequence_number: Option<u64>,
}

/// The upstream's last event, held back until the pipeline ends the stream.
#[derive(Debug, Clone)]
enum Held {
    /// `response.completed` / `response.incomplete`, already patched.
    Ending { kind: String, payload: Value },
    /// `response.failed` or `error`, as the client should get it.
    Failure(String),
}

/// OpenAI's Responses stream (and JSON answer), passed through.
#[derive(Debug)]
pub struct NativeRelay {
    overrides: Overrides,
    usage: Option<TokenUsage>,
    delivered: u64,
    last_seq: Option<u64>,
    /// The `response` object of the last lifecycle event seen, for a failure frame.
    snapshot: Option<Value>,
    held: Option<Held>,
    finished: Option<Value>,
}

impl NativeRelay {
    pub fn new(overrides: Overrides) -> NativeRelay {
        NativeRelay {
            overrides,
            usage: None,
            delivered: 0,
            last_seq: None,
            snapshot: None,
            held: None,
            finished: None,
        }
    }

    pub fn final_response(&self) -> Option<&Value> {
        self.finished.as_ref()
    }

    fn patch(&self, payload: &mut Value) {
        if let Some(response) = payload.get_mut("response").and_then(Value::as_object_mut) {
            self.overrides.apply(response);
        }
    }

    fn next_seq(&self) -> u64 {
        self.last_seq.map_or(0, |n| n + 1)
    }
}

fn raw_frame(kind: &str, data: &str) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

/// Output characters of a body's `output` items (the estimate when no usage came).
fn output_chars(response: &Value) -> u64 {
    let mut chars = 0;
    for item in response
        .get("output")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for key in ["arguments", "input"] {
            chars += item
                .get(key)
                .and_then(Value::as_str)
                .map_or(0, |s| s.chars().count());
        }
        for part in item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for key in ["text", "refusal"] {
                chars += part
                    .get(key)
                    .and_then(Value::as_str)
                    .map_or(0, |s| s.chars().count());
            }
        }
    }
    chars as u64
}

fn failure_message(payload: &Value) -> String {
    let message = payload
        .pointer("/response/error/message")
        .or_else(|| payload.pointer("/error/message"))
        .or_else(|| payload.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("The upstream failed mid-stream.");
    crate::providers::errors::safe_message(message)
}

impl Relay for NativeRelay {
    fn on_event(&mut self, event: &SseEvent, out: &mut String) -> Step {
        let data = event.data.trim();
        if data.is_empty() {
            return Step::Continue;
        }
        if data == "[DONE]" {
            return Step::Done;
        }
        let Ok(peek) = serde_json::from_slice::<Peek>(data.as_bytes()) else {
            return Step::Failed(StreamFailure::Broken(
                "The upstream sent a malformed stream event.".into(),
            ));
        };
        if let Some(n) = peek.sequence_number {
            self.last_seq = Some(n);
        }
        let kind = peek.kind.as_ref();
        match kind {
            "response.created"
            | "response.in_progress"
            | "response.queued"
            | "response.completed"
            | "response.incomplete"
            | "response.failed"
            | "error" => {}
            _ => {
                if kind.ends_with(".delta") && !kind.contains("audio") {
                    self.delivered += peek.delta.as_deref().map_or(0, |d| d.chars().count() as u64);
                }
                out.push_str(&raw_frame(kind, data));
                return Step::Continue;
            }
        }
        let Ok(mut payload) = serde_json::from_slice::<Value>(data.as_bytes()) else {
            return Step::Failed(StreamFailure::Broken(
                "The upstream sent a malformed stream event.".into(),
            ));
        };
        self.patch(&mut payload);
        if let Some(usage) = payload
            .pointer("/response/usage")
            .and_then(ResponsesUsage::from_value)
        {
            self.usage = Some(usage);
        }
        match kind {
            "response.completed" | "response.incomplete" => {
                self.held = Some(Held::Ending {
                    kind: kind.to_owned(),
                    payload,
                });
                Step::Done
            }
            "response.failed" | "error" => {
                let message = failure_message(&payload);
                self.held = Some(Held::Failure(frame(kind, &payload)));
                Step::Failed(StreamFailure::Upstream(message))
            }
            _ => {
                self.snapshot = payload.get("response").cloned();
                out.push_str(&frame(kind, &payload));
                Step::Continue
            }
        }
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }

    fn delivered_chars(&self) -> u64 {
        self.delivered
    }

    fn finish(&mut self, bill: &Bill) -> String {
        let Some(Held::Ending { kind, mut payload }) = self.held.take() else {
            return String::new();
        };
        if let Some(usage) = payload.pointer_mut("/response/usage") {
            *usage = with_cost(usage.take(), bill);
        }
        self.finished = payload.get("response").cloned();
        frame(&kind, &payload)
    }

    fn fail(&mut self, error: &ApiError) -> String {
        if let Some(Held::Failure(frame)) = self.held.take() {
            return frame;
        }
        let mut response = self
            .snapshot
            .clone()
            .unwrap_or_else(|| json!({"object": "response"}));
        response["status"] = json!("failed");
        response["error"] = json!({
            "code": if error.kind == ErrorKind::RateLimited { "rate_limit_exceeded" } else { "server_error" },
            "message": error.message,
        });
        let payload =
            json!({"type": "response.failed", "response": response, "sequence_number": self.next_seq()});
        frame("response.failed", &payload)
    }

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        let mut response: Value = serde_json::from_slice(body.as_bytes())
            .map_err(|e| format!("OpenAI's response did not parse: {e}"))?;
        let Some(map) = response.as_object_mut() else {
            return Err("OpenAI's response is not a JSON object".into());
        };
        self.overrides.apply(map);
        let usage = response.get("usage").and_then(ResponsesUsage::from_value);
        self.usage = usage;
        let chars = output_chars(&response);
        self.delivered = chars;
        Ok(Parsed {
            body: response,
            usage,
            delivered_chars: chars,
            units: None,
        })
    }

    fn render_json(&mut self, mut body: Value, bill: &Bill) -> Value {
        let usage = bill.usage();
        let shown = match body.get_mut("usage") {
            Some(reported) if !reported.is_null() && !bill.estimated() => with_cost(reported.take(), bill),
            _ => with_cost(super::wire::usage_json(&usage), bill),
        };
        body["usage"] = shown;
        self.finished = Some(body.clone());
        body
    }
}

// ---- translated

/// Reads one wire's whole (non-streamed) answer into the canonical completion.
pub type CompletionParser = &'static dyn crate::providers::Wire;

/// The parser of a wire format (`providers::parse_completion` without the upstream).
pub fn completion_parser(wire: crate::catalog::WireFormat) -> CompletionParser {
    crate::providers::wire(wire)
}

/// Another wire's answer, as a Responses stream or `response` object.
pub struct TranslatedRelay {
    translator: Box<dyn StreamTranslator>,
    parse: CompletionParser,
    render: Render,
    usage: Option<TokenUsage>,
}

impl TranslatedRelay {
    pub fn new(
        translator: Box<dyn StreamTranslator>,
        parse: CompletionParser,
        render: Render,
    ) -> TranslatedRelay {
        TranslatedRelay {
            translator,
            parse,
            render,
            usage: None,
        }
    }

    pub fn final_response(&self) -> Option<&Value> {
        self.render.final_response()
    }
}

impl Relay for TranslatedRelay {
    fn on_route(&mut self, upstream: &crate::providers::Upstream) {
        self.translator = crate::providers::stream_translator(upstream);
        self.parse = completion_parser(upstream.provider.wire);
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut String) -> Step {
        out.push_str(&self.render.start());
        read_items(self.translator.on_event(event), &mut self.usage, |chunk| {
            out.push_str(&self.render.chunk(&chunk))
        })
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }

    fn delivered_chars(&self) -> u64 {
        self.render.delivered_chars()
    }

    fn saw_finish(&self) -> bool {
        self.render.saw_finish()
    }

    fn finish(&mut self, bill: &Bill) -> String {
        let usage = bill.usage();
        self.render
            .finish(with_cost(super::wire::usage_json(&usage), bill))
    }

    fn fail(&mut self, error: &ApiError) -> String {
        self.render.fail(error)
    }

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        let completion = self.parse.parse_completion(body)?;
        self.render.absorb(&completion);
        self.usage = completion.usage.as_ref().map(|u| u.tokens());
        let body = self.render.complete(Value::Null);
        Ok(Parsed {
            body,
            usage: self.usage,
            delivered_chars: self.render.delivered_chars(),
            units: None,
        })
    }

    fn render_json(&mut self, _body: Value, bill: &Bill) -> Value {
        let usage = bill.usage();
        self.render
            .complete(with_cost(super::wire::usage_json(&usage), bill))
    }
}

/// Which relay answers: OpenAI's own stream, or another wire's translated.
pub enum Kind {
    Native(NativeRelay),
    Translated(TranslatedRelay),
}

/// What storing the answer needs besides the final `response` object.
pub struct Keep {
    pub user_id: i64,
    /// The catalog id of the model that answered.
    pub model: String,
    /// `store::conversation()` for the request: the stored response's input.
    pub conversation: Vec<Value>,
}

/// The relay of one `/v1/responses` request, whichever kind it is, and what to store after it.
pub struct ResponsesRelay {
    kind: Kind,
    keep: Option<Keep>,
}

impl ResponsesRelay {
    /// `keep` is `None` for `store: false`.
    pub fn new(kind: Kind, keep: Option<Keep>) -> ResponsesRelay {
        ResponsesRelay { kind, keep }
    }

    /// The final `response` object as the client got it (for `store::record`); `None` until the
    /// stream ended well or the JSON answer was rendered.
    pub fn final_response(&self) -> Option<&Value> {
        match &self.kind {
            Kind::Native(relay) => relay.final_response(),
            Kind::Translated(relay) => relay.final_response(),
        }
    }

    fn inner(&mut self) -> &mut dyn Relay {
        match &mut self.kind {
            Kind::Native(relay) => relay,
            Kind::Translated(relay) => relay,
        }
    }

    fn inner_ref(&self) -> &dyn Relay {
        match &self.kind {
            Kind::Native(relay) => relay,
            Kind::Translated(relay) => relay,
        }
    }
}

impl Relay for ResponsesRelay {
    fn on_route(&mut self, upstream: &crate::providers::Upstream) {
        self.inner().on_route(upstream)
    }
    fn on_event(&mut self, event: &SseEvent, out: &mut String) -> Step {
        self.inner().on_event(event, out)
    }
    fn usage(&self) -> Option<TokenUsage> {
        self.inner_ref().usage()
    }
    fn delivered_chars(&self) -> u64 {
        self.inner_ref().delivered_chars()
    }
    fn saw_finish(&self) -> bool {
        self.inner_ref().saw_finish()
    }
    fn finish(&mut self, bill: &Bill) -> String {
        self.inner().finish(bill)
    }
    fn fail(&mut self, error: &ApiError) -> String {
        self.inner().fail(error)
    }
    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        self.inner().parse_json(body)
    }
    fn render_json(&mut self, body: Value, bill: &Bill) -> Value {
        self.inner().render_json(body, bill)
    }

    /// Stores the answer (R2 body, then the D1 index row) once it was billed.
    fn after_billing(&mut self, env: &worker::Env, _bill: &Bill) -> Option<LocalBoxFuture<'static, ()>> {
        let keep = self.keep.take()?;
        let response = self.final_response()?.clone();
        let (row, body) = super::store::record(
            keep.user_id,
            &keep.model,
            crate::time::now_secs(),
            keep.conversation,
            response,
        )?;
        let bucket = env.bucket(super::store::BUCKET);
        let db = env.d1("DB");
        Some(Box::pin(async move {
            let stored = async {
                let (bucket, db) = (
                    bucket.map_err(ApiError::internal)?,
                    db.map_err(ApiError::internal)?,
                );
                super::store::put_body(&bucket, &row.r2_key, &body).await?;
                if !super::store::insert_row(&db, &row).await? {
                    worker::console_warn!("response id {} already stored; kept the first", row.id);
                }
                Ok::<(), ApiError>(())
            };
            if let Err(error) = stored.await {
                worker::console_error!("storing response {} failed: {:?}", row.id, error.internal);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::money::Nanos;
    use crate::billing::BillingMode;
    use crate::providers::anthropic::AnthropicStream;
    use crate::providers::openai::OpenAiStream;
    use crate::surfaces::responses::render::tests::{events, render_for};
    use crate::surfaces::responses::types::parse;
    use crate::surfaces::responses::wire::Warning;

    fn bill(tokens_in: u64, tokens_out: u64, estimated: bool) -> Bill {
        Bill {
            consumption: crate::billing::reservation::Consumption::Tokens {
                usage: TokenUsage::new(tokens_in, tokens_out),
                estimated,
            },
            cost: Nanos(1_500),
            balance_after: None,
            mode: BillingMode::PerToken,
        }
    }

    fn sse(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: Some(event.into()),
            data: data.into(),
            ..SseEvent::default()
        }
    }

    fn native() -> NativeRelay {
        let parsed = parse(br#"{"model": "gpt-4o-mini", "input": "hi", "stream": true, "previous_response_id": "resp_prev"}"#).unwrap();
        NativeRelay::new(Overrides::of(
            &parsed,
            vec![Warning::dropped("prompt", "ignored")],
        ))
    }

    const CREATED: &str = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_up","object":"response","status":"in_progress","model":"gpt-4o-mini-2024-07-18","store":false,"previous_response_id":null,"output":[],"usage":null}}"#;
    const DELTA: &str = r#"{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Héllo","logprobs":[],"obfuscation":"x1"}"#;
    const COMPLETED: &str = r#"{"type":"response.completed","sequence_number":5,"response":{"id":"resp_up","object":"response","status":"completed","model":"gpt-4o-mini-2024-07-18","store":false,"output":[{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Héllo","annotations":[]}]}],"usage":{"input_tokens":120,"input_tokens_details":{"cached_tokens":100},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":25},"total_tokens":150}}}"#;

    #[test]
    fn native_events_pass_through_and_usage_comes_from_completed() {
        let mut relay = native();
        let mut out = String::new();
        assert_eq!(
            relay.on_event(&sse("response.created", CREATED), &mut out),
            Step::Continue
        );
        assert_eq!(
            relay.on_event(&sse("response.output_text.delta", DELTA), &mut out),
            Step::Continue
        );
        // The delta goes out byte for byte (obfuscation and all).
        assert!(
            out.ends_with(&format!("event: response.output_text.delta\ndata: {DELTA}\n\n")),
            "{out}"
        );
        let all = events(&out);
        let created = &all[0].1["response"];
        assert_eq!(created["model"], "gpt-4o-mini");
        assert_eq!(created["store"], true);
        assert_eq!(created["previous_response_id"], "resp_prev");
        assert_eq!(created["warnings"][0]["param"], "prompt");
        assert_eq!(relay.delivered_chars(), 5);

        let mut end = String::new();
        assert_eq!(
            relay.on_event(&sse("response.completed", COMPLETED), &mut end),
            Step::Done
        );
        assert!(end.is_empty(), "the ending waits for finish()");
        assert_eq!(
            relay.usage(),
            Some(TokenUsage {
                input: 120,
                cache_read: 100,
                output: 30,
                reasoning: 25,
                ..TokenUsage::default()
            })
        );
        let last = events(&relay.finish(&bill(120, 30, false))).pop().unwrap();
        assert_eq!(last.0, "response.completed");
        let usage = &last.1["response"]["usage"];
        assert_eq!(usage["input_tokens_details"]["cached_tokens"], 100);
        assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 25);
        assert_eq!(usage["estimated"], false);
        assert!(usage["cost_usd"].is_number());
        let kept = relay.final_response().unwrap();
        assert_eq!(
            (kept["id"].as_str(), kept["store"].as_bool()),
            (Some("resp_up"), Some(true))
        );
        assert_eq!(kept["model"], "gpt-4o-mini");
    }

    #[test]
    fn native_failures_reach_the_client_in_the_responses_shape() {
        let mut relay = native();
        let mut out = String::new();
        relay.on_event(&sse("response.created", CREATED), &mut out);
        let failed = r#"{"type":"response.failed","sequence_number":4,"response":{"id":"resp_up","object":"response","status":"failed","error":{"code":"server_error","message":"The model had a problem."},"usage":null}}"#;
        let step = relay.on_event(&sse("response.failed", failed), &mut out);
        assert!(
            matches!(step, Step::Failed(StreamFailure::Upstream(ref m)) if m.contains("problem")),
            "{step:?}"
        );
        let sent = events(&relay.fail(&ApiError::internal("x")));
        assert_eq!(sent[0].0, "response.failed");
        assert_eq!(sent[0].1["response"]["model"], "gpt-4o-mini");

        // Cut without a word from the upstream: the gateway says it failed, after the last number.
        let mut relay = native();
        relay.on_event(&sse("response.created", CREATED), &mut String::new());
        relay.on_event(&sse("response.output_text.delta", DELTA), &mut String::new());
        let sent = events(&relay.fail(&ApiError::new(
            ErrorKind::BadGateway,
            "upstream_error",
            "The stream was cut.",
        )));
        assert_eq!(sent[0].1["sequence_number"], 4);
        assert_eq!(sent[0].1["response"]["id"], "resp_up");
        assert_eq!(sent[0].1["response"]["error"]["message"], "The stream was cut.");

        let mut relay = native();
        assert!(matches!(
            relay.on_event(&sse("x", "{not json"), &mut String::new()),
            Step::Failed(StreamFailure::Broken(_))
        ));
    }

    #[test]
    fn native_json_answers_keep_upstream_usage_and_add_the_cost() {
        let mut relay = native();
        let body = serde_json::from_slice::<Value>(COMPLETED.as_bytes()).unwrap()["response"].to_string();
        let Parsed {
            body: parsed,
            usage,
            delivered_chars: chars,
            ..
        } = relay.parse_json(&body).unwrap();
        assert_eq!(parsed["model"], "gpt-4o-mini");
        assert_eq!(usage.unwrap().cache_read, 100);
        assert_eq!(chars, 5);
        let shown = relay.render_json(parsed, &bill(120, 30, false));
        assert_eq!(shown["usage"]["input_tokens"], 120);
        assert_eq!(shown["usage"]["cost_usd"], json!(Nanos(1_500).as_usd_f64()));
        assert_eq!(relay.final_response(), Some(&shown));
        assert!(relay.parse_json("[]").is_err());
    }

    #[test]
    fn a_translated_anthropic_stream_becomes_a_responses_stream_with_usage() {
        let render = render_for(json!({"model": "claude-sonnet-4-5", "input": "hi", "stream": true}));
        let mut relay = ResponsesRelay::new(
            Kind::Translated(TranslatedRelay::new(
                Box::new(AnthropicStream::new()),
                completion_parser(crate::catalog::WireFormat::Anthropic),
                render,
            )),
            None,
        );
        let upstream = [
            (
                "message_start",
                r#"{"type":"message_start","message":{"id":"msg_x","type":"message","role":"assistant","content":[],"model":"claude","usage":{"input_tokens":10,"output_tokens":1}}}"#,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there"}}"#,
            ),
            ("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            (
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}"#,
            ),
            ("message_stop", r#"{"type":"message_stop"}"#),
        ];
        let mut out = String::new();
        let mut last = Step::Continue;
        for (event, data) in upstream {
            last = relay.on_event(&sse(event, data), &mut out);
            assert!(!matches!(last, Step::Failed(_)));
        }
        assert_eq!(last, Step::Done);
        assert_eq!(relay.usage(), Some(TokenUsage::new(10, 4)));
        out += &relay.finish(&bill(10, 4, false));
        let all = events(&out);
        assert_eq!(all.first().unwrap().0, "response.created");
        let (name, completed) = all.last().unwrap();
        assert_eq!(name, "response.completed");
        assert_eq!(
            completed["response"]["output"][0]["content"][0]["text"],
            "Hi there"
        );
        assert_eq!(completed["response"]["usage"]["input_tokens"], 10);
        assert_eq!(completed["response"]["usage"]["output_tokens"], 4);
        assert!(all
            .windows(2)
            .all(|w| w[0].1["sequence_number"].as_u64().unwrap() + 1
                == w[1].1["sequence_number"].as_u64().unwrap()));
        assert_eq!(relay.final_response().unwrap()["status"], "completed");
        assert_eq!(relay.delivered_chars(), 8);
    }

    #[test]
    fn a_translated_stream_without_usage_shows_the_estimate_it_was_billed_on() {
        let render = render_for(json!({"model": "m", "input": "hi", "stream": true}));
        let mut relay = TranslatedRelay::new(
            Box::new(OpenAiStream),
            completion_parser(crate::catalog::WireFormat::Openai),
            render,
        );
        let mut out = String::new();
        relay.on_event(&sse("message", r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}"#), &mut out);
        assert_eq!(relay.usage(), None);
        let last = events(&relay.finish(&bill(7, 1, true))).pop().unwrap();
        assert_eq!(last.1["response"]["usage"]["input_tokens"], 7);
        assert_eq!(last.1["response"]["usage"]["estimated"], true);

        let mut relay = TranslatedRelay::new(
            Box::new(OpenAiStream),
            completion_parser(crate::catalog::WireFormat::Openai),
            render_for(json!({"model": "m", "input": "hi"})),
        );
        let step = relay.on_event(
            &sse("message", r#"{"error":{"message":"overloaded"}}"#),
            &mut String::new(),
        );
        assert!(matches!(step, Step::Failed(StreamFailure::Upstream(_))));
        let failed = events(&relay.fail(&ApiError::new(
            ErrorKind::BadGateway,
            "upstream_error",
            "overloaded",
        )));
        assert_eq!(failed.last().unwrap().0, "response.failed");
    }

    #[test]
    fn a_translated_json_answer_is_a_response_object_with_cached_usage() {
        let render = render_for(json!({"model": "m", "input": "hi"}));
        let mut relay = TranslatedRelay::new(
            Box::new(OpenAiStream),
            completion_parser(crate::catalog::WireFormat::Openai),
            render,
        );
        let upstream = json!({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "four"}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59,
                      "prompt_tokens_details": {"cached_tokens": 32}, "completion_tokens_details": {"reasoning_tokens": 5}}});
        let Parsed {
            body,
            usage,
            delivered_chars: chars,
            ..
        } = relay.parse_json(&upstream.to_string()).unwrap();
        assert_eq!(body["output"][0]["content"][0]["text"], "four");
        assert_eq!(
            usage,
            Some(TokenUsage {
                input: 50,
                cache_read: 32,
                output: 9,
                reasoning: 5,
                ..TokenUsage::default()
            })
        );
        assert_eq!(chars, 4);
        // The pipeline bills the reported usage, details and all.
        let mut billed = bill(50, 9, false);
        billed.consumption = crate::billing::reservation::Consumption::Tokens {
            usage: usage.unwrap(),
            estimated: false,
        };
        let shown = relay.render_json(body, &billed);
        assert_eq!(shown["usage"]["input_tokens_details"]["cached_tokens"], 32);
        assert_eq!(shown["usage"]["output_tokens_details"]["reasoning_tokens"], 5);
        assert_eq!(shown["usage"]["total_tokens"], 59);
        assert_eq!(relay.final_response(), Some(&shown));
        assert!(relay.parse_json("{}").is_err());
    }
}
