//! Streaming: a provider renders its answer as a list of events; this module times them,
//! applies the `error_after` / `cut_after` knobs, and turns them into a body that writes
//! each event as it is produced.

use std::io;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;

use crate::knobs::Knobs;

/// One wire event of a stream, tagged by its place in it.
#[derive(Debug, Clone)]
pub enum Ev {
    /// Before any content (OpenAI's role chunk, Anthropic's message_start, …).
    Head(Bytes),
    /// One content chunk: a piece of text or of tool-call arguments.
    Content(Bytes),
    /// Between content chunks, not content (Anthropic's block stop/start, a new tool call).
    Mid(Bytes),
    /// After the content (finish, usage, `[DONE]`, message_stop).
    Tail(Bytes),
}

/// A timed stream: each frame waits its delay, then is written and flushed.
#[derive(Debug, Clone, Default)]
pub struct StreamPlan {
    pub frames: Vec<(u64, Bytes)>,
    /// End by dropping the connection instead of finishing the body.
    pub abort: bool,
}

/// Builds the plan: `delay_ms` before every content chunk but the first; `error_after=N`
/// replaces everything after the Nth content chunk with `error_frame(frames written so
/// far)` (the count numbers a Responses `sequence_number`); `cut_after=N` drops the
/// connection there instead (the smaller N wins; a tie is an error event).
pub fn assemble(
    events: Vec<Ev>,
    delay_ms: u64,
    knobs: &Knobs,
    error_frame: impl FnOnce(u64) -> Bytes,
) -> StreamPlan {
    let total = events.iter().filter(|e| matches!(e, Ev::Content(_))).count() as u64;
    let stop = match (knobs.error_after, knobs.cut_after) {
        (Some(e), Some(c)) if c < e => Some((c, false)),
        (Some(e), _) => Some((e, true)),
        (None, Some(c)) => Some((c, false)),
        (None, None) => None,
    };
    let stop_index = stop.map(|(n, _)| {
        let n = n.min(total);
        if n == 0 {
            events
                .iter()
                .position(|e| !matches!(e, Ev::Head(_)))
                .unwrap_or(events.len())
        } else {
            let mut seen = 0;
            let mut index = events.len();
            for (i, e) in events.iter().enumerate() {
                if matches!(e, Ev::Content(_)) {
                    seen += 1;
                    if seen == n {
                        index = i + 1;
                        break;
                    }
                }
            }
            index
        }
    });
    let mut frames = Vec::with_capacity(events.len() + 1);
    let mut contents = 0;
    for (i, e) in events.into_iter().enumerate() {
        if Some(i) == stop_index {
            break;
        }
        match e {
            Ev::Content(b) => {
                let wait = if contents == 0 { 0 } else { delay_ms };
                contents += 1;
                frames.push((wait, b));
            }
            Ev::Head(b) | Ev::Mid(b) | Ev::Tail(b) => frames.push((0, b)),
        }
    }
    let mut abort = false;
    if let Some((_, is_error)) = stop {
        if is_error {
            let written = frames.len() as u64;
            frames.push((0, error_frame(written)));
        } else {
            abort = true;
        }
    }
    StreamPlan { frames, abort }
}

/// How long an aborted stream waits (after its last frame) before dropping the connection.
const ABORT_GRACE_MS: u64 = 50;

struct Cursor {
    frames: std::vec::IntoIter<(u64, Bytes)>,
    abort: bool,
}

/// A body that writes each frame after its delay, as it is produced (never buffered),
/// and, for an aborted plan, ends in an error so the connection is dropped mid-body.
pub fn body(plan: StreamPlan) -> Body {
    let cursor = Cursor {
        frames: plan.frames.into_iter(),
        abort: plan.abort,
    };
    let stream = futures_util::stream::unfold(cursor, |mut cur| async move {
        match cur.frames.next() {
            Some((wait, bytes)) => {
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Some((Ok::<Bytes, io::Error>(bytes), cur))
            }
            None if cur.abort => {
                cur.abort = false;
                // Let what was written reach the socket before the connection is dropped;
                // an immediately failing body would lose the response head too.
                tokio::time::sleep(Duration::from_millis(ABORT_GRACE_MS)).await;
                Some((
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "flint-mock: cut_after",
                    )),
                    cur,
                ))
            }
            None => None,
        }
    });
    Body::from_stream(stream)
}

/// `data: {json}\n\n`.
pub fn data_line(value: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `event: name\ndata: {json}\n\n`.
pub fn named_event(name: &str, value: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evs() -> Vec<Ev> {
        vec![
            Ev::Head(Bytes::from("h")),
            Ev::Content(Bytes::from("c1")),
            Ev::Mid(Bytes::from("m")),
            Ev::Content(Bytes::from("c2")),
            Ev::Content(Bytes::from("c3")),
            Ev::Tail(Bytes::from("t")),
        ]
    }

    fn texts(plan: &StreamPlan) -> Vec<String> {
        plan.frames
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn delays_only_between_content_chunks() {
        let plan = assemble(evs(), 50, &Knobs::default(), |_| Bytes::new());
        let waits: Vec<u64> = plan.frames.iter().map(|(w, _)| *w).collect();
        assert_eq!(waits, [0, 0, 0, 50, 50, 0]);
        assert!(!plan.abort);
    }

    #[test]
    fn error_after_replaces_the_rest() {
        let k = Knobs {
            error_after: Some(2),
            ..Default::default()
        };
        let plan = assemble(evs(), 0, &k, |n| Bytes::from(format!("E{n}")));
        assert_eq!(texts(&plan), ["h", "c1", "m", "c2", "E4"]);
        assert!(!plan.abort);
    }

    #[test]
    fn cut_after_aborts_and_zero_cuts_after_the_head() {
        let k = Knobs {
            cut_after: Some(0),
            ..Default::default()
        };
        let plan = assemble(evs(), 0, &k, |_| Bytes::new());
        assert_eq!(texts(&plan), ["h"]);
        assert!(plan.abort);
        let k = Knobs {
            cut_after: Some(99),
            ..Default::default()
        };
        assert_eq!(
            texts(&assemble(evs(), 0, &k, |_| Bytes::new())),
            ["h", "c1", "m", "c2", "c3"]
        );
    }
}
