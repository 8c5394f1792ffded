//! A `Relay`: how one surface turns one upstream's answer into its own, and what that answer
//! says about usage. The pipeline owns the call, the money and the client; a relay owns only
//! the shapes. A surface has a *translated* relay (the upstream's wire → canonical chunks → the
//! surface's events) and, where the upstream speaks the surface's own protocol, a *native* one
//! (events passed through, usage read from them).

use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use crate::billing::reservation::Bill;
use crate::billing::usage::TokenUsage;
use crate::canonical::ChatCompletionChunk;
use crate::error::{ApiError, Family};
use crate::providers::StreamItem;
use crate::sse::parser::SseEvent;

/// What an upstream event meant for the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Continue,
    /// The upstream said the answer is complete.
    Done,
    /// The upstream failed inside the stream.
    Failed(StreamFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFailure {
    /// The upstream reported an error in the stream (message safe to show).
    Upstream(String),
    /// The upstream went silent for longer than the idle timeout.
    Idle,
    /// The connection ended before the stream did.
    Cut,
    /// The stream could not be read or parsed.
    Broken(String),
}

/// A translated relay's reading of the canonical items one upstream event became: each chunk
/// goes to `on_chunk` in order, a usage report is kept in `usage`, and an error in the stream
/// ends the reading there. The translated relays differ only in what they make of a chunk.
pub fn read_items(
    items: Vec<StreamItem>,
    usage: &mut Option<TokenUsage>,
    mut on_chunk: impl FnMut(ChatCompletionChunk),
) -> Step {
    let mut step = Step::Continue;
    for item in items {
        match item {
            StreamItem::Chunk(chunk) => on_chunk(chunk),
            StreamItem::Usage(reported) => *usage = Some(reported.tokens()),
            StreamItem::Error(message) => return Step::Failed(StreamFailure::Upstream(message)),
            StreamItem::Done => step = Step::Done,
        }
    }
    step
}

/// A whole (non-streamed) upstream answer, read.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The client's body, before the usage and bill are filled in by `render_json`.
    pub body: Value,
    /// What the upstream reported, if anything.
    pub usage: Option<TokenUsage>,
    /// Characters of generated text delivered (for the estimate when no usage came).
    pub delivered_chars: u64,
    /// Units made, for what is priced per unit (images).
    pub units: Option<u64>,
}

pub trait Relay {
    /// The route that answered, before its first event: a translated relay reads that route's
    /// wire format (a native one is only given routes of its own).
    fn on_route(&mut self, _upstream: &crate::providers::Upstream) {}
    /// One upstream SSE event: appends the frames for the client to `out`.
    fn on_event(&mut self, event: &SseEvent, out: &mut String) -> Step;
    /// What the upstream reported so far.
    fn usage(&self) -> Option<TokenUsage>;
    /// Characters of generated text delivered so far.
    fn delivered_chars(&self) -> u64;
    /// Whether the stream's end is complete without a `Done` step (a finish reason was seen).
    fn saw_finish(&self) -> bool {
        false
    }
    /// Frames closing a stream that ended well.
    fn finish(&mut self, bill: &Bill) -> String;
    /// Whether the closing frames show the balance after the charge (then the pipeline waits
    /// for the settlement before sending them).
    fn shows_balance(&self) -> bool {
        false
    }
    /// The frames ending a stream that failed midway, in the surface's own error shape.
    fn fail(&mut self, error: &ApiError) -> String;
    /// A non-streamed answer, read.
    fn parse_json(&mut self, body: &str) -> Result<Parsed, String>;
    /// The client's JSON body with the bill filled in.
    fn render_json(&mut self, body: Value, bill: &Bill) -> Value;
    /// Work after a request that ended well has been billed (storing a Responses answer): it
    /// runs inside the request's background task, after the client has its answer.
    fn after_billing(&mut self, _env: &worker::Env, _bill: &Bill) -> Option<LocalBoxFuture<'static, ()>> {
        None
    }
    /// The `Content-Type` of a streamed answer.
    fn stream_content_type(&self) -> &'static str {
        "text/event-stream; charset=utf-8"
    }
}

/// A surface whose answers are never streamed (images, embeddings): all that is its own is how
/// it reads a whole answer and puts the bill into it. [`Unstreamed`] is the rest of its relay.
pub trait WholeAnswer {
    /// What the surface makes, plural, for the error a stream would get ("images").
    const MAKES: &'static str;
    /// A whole upstream answer, read.
    fn parse_json(&mut self, body: &str) -> Result<Parsed, String>;
    /// The client's JSON body with the bill filled in.
    fn render_json(&mut self, body: Value, bill: &Bill) -> Value;
}

/// The relay of a [`WholeAnswer`] surface: a stream is broken by definition, so nothing is ever
/// delivered from one; errors are in OpenAI's envelope, as these surfaces are OpenAI's.
pub struct Unstreamed<A>(pub A);

impl<A: WholeAnswer> Relay for Unstreamed<A> {
    fn on_event(&mut self, _event: &SseEvent, _out: &mut String) -> Step {
        Step::Failed(StreamFailure::Broken(format!("{} are never streamed", A::MAKES)))
    }

    fn usage(&self) -> Option<TokenUsage> {
        None
    }

    fn delivered_chars(&self) -> u64 {
        0
    }

    fn finish(&mut self, _bill: &Bill) -> String {
        String::new()
    }

    fn fail(&mut self, error: &ApiError) -> String {
        error.body(Family::OpenAi).to_string()
    }

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        self.0.parse_json(body)
    }

    fn render_json(&mut self, body: Value, bill: &Bill) -> Value {
        self.0.render_json(body, bill)
    }
}
