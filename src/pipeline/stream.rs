//! Streaming to the client through a `TransformStream` whose readable side is the response body,
//! written by a task running under `ctx.wait_until` — so when the client disconnects, the task
//! keeps reading the upstream for a bounded drain window (Workers gives `waitUntil` work about
//! 30 s after the client goes) and bills what was generated (TOOLCHAIN.md has the measurements).

use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{ByteStream, Delay};

use super::relay::{Relay, Step, StreamFailure};
use crate::billing::reservation::Reservation;
use crate::sse::parser::{SseEvent, SseParser};
use crate::sse::sink::ClientSink;
use crate::time;

/// How long the pump may wait, and how often a long stream says it is alive.
#[derive(Debug, Clone, Copy)]
pub struct PumpTimes {
    /// The longest silence of the upstream before the stream is cut.
    pub idle: Duration,
    /// How long the upstream is still read after the client left.
    pub drain: Duration,
    /// How often the hold and the lease are renewed while streaming.
    pub renew_every: Duration,
    pub lease_ms: i64,
}

/// How a stream ended.
#[derive(Debug, Default)]
pub struct PumpOutcome {
    pub error: Option<StreamFailure>,
    /// The client left and the drain window closed before the upstream finished.
    pub drained_out: bool,
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Reads the upstream body, passing each event on through the relay as it arrives, until the
/// upstream ends, fails, goes silent, or the client has been gone for the drain window.
pub async fn pump(
    mut body: ByteStream,
    relay: &mut dyn Relay,
    sink: &mut ClientSink,
    times: PumpTimes,
    reservation: &Reservation,
) -> PumpOutcome {
    let mut outcome = PumpOutcome::default();
    let mut parser = SseParser::new();
    let mut events: Vec<SseEvent> = Vec::new();
    let mut frames = String::new();
    let mut upstream_done = false;
    let mut last_data = time::now_ms();
    let mut next_renew = last_data.saturating_add(ms(times.renew_every));
    let mut gone_at: Option<u64> = None;
    'reading: loop {
        let now = time::now_ms();
        if gone_at.is_none() && sink.is_gone() {
            gone_at = Some(now);
        }
        let idle_at = last_data.saturating_add(ms(times.idle));
        let drain_at = gone_at.map_or(u64::MAX, |at| at.saturating_add(ms(times.drain)));
        if now >= drain_at {
            outcome.drained_out = true;
            break;
        }
        if now >= next_renew {
            reservation.renew(times.lease_ms).await;
            next_renew = time::now_ms().saturating_add(ms(times.renew_every));
            continue;
        }
        let wake = idle_at.min(drain_at).min(next_renew);
        let wait = Duration::from_millis(wake.saturating_sub(now).max(1));
        let next = match select(body.next(), Delay::from(wait)).await {
            Either::Left((next, _)) => next,
            Either::Right(_) => {
                if time::now_ms() >= idle_at && drain_at > idle_at {
                    outcome.error = Some(StreamFailure::Idle);
                    break;
                }
                continue;
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
        last_data = time::now_ms();
        events.clear();
        if let Err(error) = parser.feed(&bytes, &mut events) {
            outcome.error = Some(StreamFailure::Broken(error.to_string()));
            break;
        }
        for event in &events {
            frames.clear();
            let step = relay.on_event(event, &mut frames);
            sink.send(&frames).await;
            match step {
                Step::Continue => {}
                Step::Done => upstream_done = true,
                Step::Failed(failure) => {
                    outcome.error = Some(failure);
                    break 'reading;
                }
            }
        }
    }
    parser.finish();
    if outcome.error.is_none() && !outcome.drained_out && !upstream_done && !relay.saw_finish() {
        outcome.error = Some(StreamFailure::Cut);
    }
    outcome
}
