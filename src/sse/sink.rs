//! The client's side of a stream: the writable half of the `TransformStream` whose readable half
//! is the response body. The pump (`crate::pipeline::stream`) writes SSE frames to it while the
//! client reads, and learns from it when the client has gone.

use std::time::Duration;

use futures_util::future::select;
use wasm_bindgen_futures::JsFuture;
use web_sys::WritableStreamDefaultWriter;
use worker::Delay;

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
