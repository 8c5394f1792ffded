//! Streaming to the client through a `TransformStream` whose readable side is the response body,
//! written by a task running under `ctx.wait_until` — so when the client disconnects, the task
//! still reads the upstream to its end and settles the bill (TOOLCHAIN.md has the measurements).

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use wasm_bindgen_futures::JsFuture;
use web_sys::WritableStreamDefaultWriter;
use worker::{ByteStream, Delay};

use super::render::Render;
use super::types::{ChatCompletionChunk, Usage};
use crate::providers::{StreamItem, StreamTranslator};
use crate::sse::parser::{SseEvent, SseParser};

/// Frames queued for a client that reads slowly before the pump waits for it.
const MAX_QUEUED_FRAMES: f64 = 256.0;
/// How long the pump waits for a slow client, or for `close()`, before treating it as gone.
const CLIENT_WAIT: Duration = Duration::from_secs(2);

/// The writable side of the response body. Writes are not awaited (after a disconnect workerd
/// may never settle them); `desired_size` tells whether the client is still there and how far
/// behind it is.
pub struct ClientSink {
    writer: WritableStreamDefaultWriter,
    gone: bool,
}

impl ClientSink {
    pub fn new(writer: WritableStreamDefaultWriter) -> ClientSink {
        ClientSink { writer, gone: false }
    }

    pub fn is_gone(&self) -> bool {
        self.gone
    }

    fn queue_room(&self) -> Option<f64> {
        match self.writer.desired_size() {
            Ok(Some(size)) => Some(size),
            _ => None,
        }
    }

    pub async fn send(&mut self, text: &str) {
        if self.gone || text.is_empty() {
            return;
        }
        let Some(room) = self.queue_room() else {
            self.gone = true;
            return;
        };
        if room < -MAX_QUEUED_FRAMES {
            // The client is far behind: give it a moment, then stop writing to it.
            let ready = JsFuture::from(self.writer.ready());
            let _ = select(ready, Delay::from(CLIENT_WAIT)).await;
            if self.queue_room().is_none_or(|room| room < -MAX_QUEUED_FRAMES) {
                self.gone = true;
                return;
            }
        }
        let bytes = js_sys::Uint8Array::from(text.as_bytes());
        let write = self.writer.write_with_chunk(&bytes);
        // Observe the promise so a rejection (client gone) is never reported as unhandled.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(write).await;
        });
    }

    pub async fn close(self) {
        if self.gone {
            let _ = JsFuture::from(self.writer.abort()).await;
            return;
        }
        let closing = JsFuture::from(self.writer.close());
        let _ = select(closing, Delay::from(CLIENT_WAIT)).await;
    }
}

/// What a stream delivered, for billing and for telling how it ended.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    pub usage: Option<Usage>,
    /// Characters of content, refusal and tool-call arguments delivered (the usage estimate).
    pub completion_chars: u64,
    pub finish_reason: Option<String>,
    pub upstream_done: bool,
    pub error: Option<StreamFailure>,
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

impl StreamOutcome {
    fn observe(&mut self, chunk: &ChatCompletionChunk) {
        for choice in &chunk.choices {
            let delta = &choice.delta;
            let mut chars = delta.content.as_deref().map_or(0, |c| c.chars().count());
            chars += delta.refusal.as_deref().map_or(0, |c| c.chars().count());
            for call in delta.tool_calls.iter().flatten() {
                if let Some(function) = &call.function {
                    chars += function.name.as_deref().map_or(0, str::len);
                    chars += function.arguments.as_deref().map_or(0, |a| a.chars().count());
                }
            }
            self.completion_chars += chars as u64;
            if let Some(reason) = &choice.finish_reason {
                self.finish_reason = Some(reason.clone());
            }
        }
    }
}

/// Reads the upstream body to its end, passing each event on as it arrives.
pub async fn pump(
    mut body: ByteStream,
    translator: &mut dyn StreamTranslator,
    render: &mut dyn Render,
    sink: &mut ClientSink,
    idle: Duration,
) -> StreamOutcome {
    let mut outcome = StreamOutcome::default();
    let mut parser = SseParser::new();
    let mut events: Vec<SseEvent> = Vec::new();
    'reading: loop {
        let next = match select(body.next(), Delay::from(idle)).await {
            Either::Left((next, _)) => next,
            Either::Right(_) => {
                outcome.error = Some(StreamFailure::Idle);
                break;
            }
        };
        let bytes = match next {
            None => break,
            Some(Ok(bytes)) => bytes,
            // The connection failed under the stream: it was cut.
            Some(Err(error)) => {
                worker::console_warn!("upstream stream read failed: {error}");
                outcome.error = Some(StreamFailure::Cut);
                break;
            }
        };
        events.clear();
        if let Err(error) = parser.feed(&bytes, &mut events) {
            outcome.error = Some(StreamFailure::Broken(error.to_string()));
            break;
        }
        for event in &events {
            for item in translator.on_event(event) {
                match item {
                    StreamItem::Chunk(chunk) => {
                        outcome.observe(&chunk);
                        if let Some(frame) = render.chunk(chunk) {
                            sink.send(&frame).await;
                        }
                    }
                    StreamItem::Usage(usage) => outcome.usage = Some(usage),
                    StreamItem::Error(message) => {
                        outcome.error = Some(StreamFailure::Upstream(message));
                        break 'reading;
                    }
                    StreamItem::Done => outcome.upstream_done = true,
                }
            }
        }
    }
    parser.finish();
    if outcome.error.is_none() && !outcome.upstream_done && outcome.finish_reason.is_none() {
        outcome.error = Some(StreamFailure::Cut);
    }
    outcome
}
