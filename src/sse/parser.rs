//! An incremental Server-Sent Events parser (WHATWG HTML, "Interpreting an event stream").
//!
//! Upstream providers stream completions as `text/event-stream`, and the network cuts that stream
//! into chunks anywhere: inside a line, inside a `\r\n`, inside a multi-byte UTF-8 character. The
//! parser therefore works on bytes, keeps only the current incomplete line and the current
//! event's fields, and decodes a line only once all of it has arrived. Complete lines inside a
//! chunk are parsed straight from the chunk without being copied, since this runs on every chunk
//! of every streamed response.

/// A longer line is a broken or hostile upstream; refusing it bounds what one stream can make the
/// Worker buffer before a line ending arrives.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A larger event is likewise refused: many short `data:` lines could otherwise grow one event
/// without bound even though every line is within [`MAX_LINE_BYTES`].
pub const MAX_EVENT_BYTES: usize = 8 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; None when absent (the spec's default type "message").
    pub event: Option<String>,
    /// The `data:` lines joined with '\n' (no trailing newline).
    pub data: String,
    /// The stream's last event ID as of this event: as in the spec, an `id:` field carries over
    /// to later events until another one replaces it, and an empty `id:` clears it (None).
    pub id: Option<String>,
    /// A `retry:` field seen in this event's block. The spec treats it as a stream setting rather
    /// than part of the event, so a block holding only `retry:` is not dispatched and its value
    /// is not reported.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// An event of only `data`, as a unit test of a stream translator feeds it.
    #[cfg(test)]
    pub fn with_data(data: &str) -> SseEvent {
        SseEvent {
            data: data.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    LineTooLong { limit: usize },
    EventTooLarge { limit: usize },
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::LineTooLong { limit } => write!(f, "event-stream line longer than {limit} bytes"),
            SseError::EventTooLarge { limit } => write!(f, "event-stream event larger than {limit} bytes"),
        }
    }
}

impl std::error::Error for SseError {}

#[derive(Debug, Default)]
pub struct SseParser {
    /// The bytes of the current line so far, without its line ending; reused across lines so a
    /// stream of split lines costs no allocation per line.
    line: Vec<u8>,
    /// The previous chunk ended in a `\r`, so a `\n` opening the next one completes that line
    /// ending instead of ending an empty line (which would dispatch the event early).
    after_cr: bool,
    /// How many bytes of a leading BOM have been matched; a BOM can itself be split across chunks.
    bom_matched: usize,
    /// The stream's first bytes have been checked for a BOM; later `EF BB BF` bytes are content.
    bom_checked: bool,
    event: PendingEvent,
    /// The stream already exceeded a limit. Later input is refused with the same error rather than
    /// being parsed from the middle of a line, which would yield fabricated events.
    failed: Option<SseError>,
}

/// The fields gathered for the event being built, between two blank lines.
#[derive(Debug, Default)]
struct PendingEvent {
    data: String,
    event_type: String,
    /// Survives dispatch: the spec's "last event ID buffer" belongs to the stream, not the event.
    last_id: String,
    retry: Option<u64>,
    /// A field line arrived since the last blank line, so ending the stream now cuts an event.
    has_fields: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes, pushing every event completed by them into `out`.
    ///
    /// On error, events completed earlier in the same chunk are already in `out`; the parser then
    /// refuses all further input with the same error, as the rest of the stream cannot be framed.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let rest = self.skip_bom(bytes);
        self.feed_lines(rest, out).map_err(|error| self.fail(error))
    }

    /// End of stream: a final event without its blank line is NOT dispatched (per spec); returns
    /// whether unterminated data was discarded (so a caller can tell a stream was cut mid-event).
    ///
    /// A stream that failed with an error counts as cut. The parser is reset afterwards, ready
    /// for a new stream (including its BOM).
    pub fn finish(&mut self) -> bool {
        let partial_bom = !self.bom_checked && self.bom_matched > 0;
        let cut = self.failed.is_some() || partial_bom || !self.line.is_empty() || self.event.has_fields;
        *self = Self::new();
        cut
    }

    /// Bytes buffered for the current incomplete line.
    pub fn pending_bytes(&self) -> usize {
        let partial_bom = if self.bom_checked { 0 } else { self.bom_matched };
        self.line.len() + partial_bom
    }

    /// Drops a leading BOM, which the spec's UTF-8 decode step strips and which would otherwise
    /// become part of the first field name and hide a `data:` or `event:` line.
    fn skip_bom<'a>(&mut self, mut bytes: &'a [u8]) -> &'a [u8] {
        while !self.bom_checked {
            let Some((&byte, tail)) = bytes.split_first() else {
                break;
            };
            if BOM.get(self.bom_matched) == Some(&byte) {
                self.bom_matched += 1;
                self.bom_checked = self.bom_matched == BOM.len();
                bytes = tail;
            } else {
                // Not a BOM after all: the bytes held back are ordinary line content (neither
                // can be a line ending), so they start the first line.
                self.bom_checked = true;
                self.line
                    .extend_from_slice(BOM.get(..self.bom_matched).unwrap_or_default());
            }
        }
        bytes
    }

    fn feed_lines(&mut self, mut rest: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        while !rest.is_empty() {
            if std::mem::take(&mut self.after_cr) {
                if let Some((b'\n', tail)) = rest.split_first() {
                    rest = tail;
                    continue;
                }
            }
            let Some((content, terminator, tail)) = split_line(rest) else {
                self.buffer(rest)?;
                break;
            };
            self.after_cr = terminator == b'\r';
            rest = tail;
            if self.line.is_empty() {
                check_line_length(content.len())?;
                self.event.process_line(content, out)?;
            } else {
                self.buffer(content)?;
                let result = self.event.process_line(&self.line, out);
                self.line.clear();
                result?;
            }
        }
        Ok(())
    }

    fn buffer(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        check_line_length(self.line.len().saturating_add(bytes.len()))?;
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Frees what the broken stream buffered, since nothing of it can be used any more.
    fn fail(&mut self, error: SseError) -> SseError {
        self.line = Vec::new();
        self.event = PendingEvent::default();
        self.failed = Some(error.clone());
        error
    }
}

impl PendingEvent {
    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            None if line.is_empty() => {
                self.dispatch(out);
                return Ok(());
            }
            None => (line, &[][..]),
            // A comment: providers send these as keep-alives.
            Some(0) => return Ok(()),
            Some(colon) => {
                let (name, value) = line.split_at_checked(colon).unwrap_or((line, &[]));
                (name, value.get(1..).unwrap_or_default())
            }
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        self.has_fields = true;
        match name {
            b"data" => {
                let value = String::from_utf8_lossy(value);
                if self.data.len().saturating_add(value.len()).saturating_add(1) > MAX_EVENT_BYTES {
                    return Err(SseError::EventTooLarge {
                        limit: MAX_EVENT_BYTES,
                    });
                }
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&String::from_utf8_lossy(value));
            }
            // The spec ignores an ID with NUL: it could not be sent back in a `Last-Event-ID` header.
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                self.last_id.push_str(&String::from_utf8_lossy(value));
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // All ASCII digits, so only overflow can fail; the spec leaves that case open, and
                // ignoring it like any other malformed value is the safe reading.
                if let Some(retry) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                    self.retry = Some(retry);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event_type = std::mem::take(&mut self.event_type);
        let retry = self.retry.take();
        self.has_fields = false;
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(SseEvent {
            event: (!event_type.is_empty()).then_some(event_type),
            data,
            id: (!self.last_id.is_empty()).then(|| self.last_id.clone()),
            retry,
        });
    }
}

/// The first line of `bytes`: its content, the byte that ended it, and what follows that byte.
/// A `\r` is returned alone even when a `\n` follows; the caller's `after_cr` then swallows the
/// `\n` whether it follows in this chunk or opens the next one.
fn split_line(bytes: &[u8]) -> Option<(&[u8], u8, &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n' || b == b'\r')?;
    let (content, rest) = bytes.split_at_checked(end)?;
    let (&terminator, rest) = rest.split_first()?;
    Some((content, terminator, rest))
}

fn check_line_length(len: usize) -> Result<(), SseError> {
    if len > MAX_LINE_BYTES {
        return Err(SseError::LineTooLong {
            limit: MAX_LINE_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_chunks(chunks: &[&[u8]]) -> (Vec<SseEvent>, bool) {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        let cut = parser.finish();
        (out, cut)
    }

    fn parse(stream: &str) -> Vec<SseEvent> {
        let (events, cut) = parse_chunks(&[stream.as_bytes()]);
        assert!(!cut, "stream unexpectedly cut: {stream:?}");
        events
    }

    fn data(data: &str) -> SseEvent {
        SseEvent {
            data: data.to_owned(),
            ..SseEvent::default()
        }
    }

    fn typed(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: Some(event.to_owned()),
            data: data.to_owned(),
            ..SseEvent::default()
        }
    }

    #[test]
    fn an_openai_style_stream_yields_one_event_per_data_line() {
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
                      data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n\
                      data: [DONE]\n\n";
        assert_eq!(
            parse(stream),
            vec![
                data("{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}"),
                data("{\"choices\":[{\"delta\":{\"content\":\" there\"}}]}"),
                data("[DONE]"),
            ]
        );
    }

    #[test]
    fn an_anthropic_style_stream_carries_the_event_type() {
        let stream = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n\
                      event: ping\ndata: {\"type\": \"ping\"}\n\n\
                      event: content_block_delta\ndata: {\"delta\":{\"text\":\"Hello\"}}\n\n\
                      event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        assert_eq!(
            parse(stream),
            vec![
                typed("message_start", "{\"type\":\"message_start\"}"),
                typed("ping", "{\"type\": \"ping\"}"),
                typed("content_block_delta", "{\"delta\":{\"text\":\"Hello\"}}"),
                typed("message_stop", "{\"type\":\"message_stop\"}"),
            ]
        );
    }

    #[test]
    fn the_event_type_does_not_leak_into_the_next_event() {
        assert_eq!(
            parse("event: a\ndata: 1\n\ndata: 2\n\n"),
            vec![typed("a", "1"), data("2")]
        );
    }

    #[test]
    fn a_gemini_style_stream_with_crlf_line_endings_is_parsed() {
        let stream = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A\"}]}}]}\r\n\r\n\
                      data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"B\"}]}}]}\r\n\r\n";
        assert_eq!(
            parse(stream),
            vec![
                data("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A\"}]}}]}"),
                data("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"B\"}]}}]}"),
            ]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        assert_eq!(
            parse("data: first\ndata: second\ndata:\ndata: fourth\n\n"),
            vec![data("first\nsecond\n\nfourth")]
        );
    }

    #[test]
    fn a_single_empty_data_line_dispatches_an_event_with_empty_data() {
        assert_eq!(parse("data\n\ndata:\n\n"), vec![data(""), data("")]);
    }

    #[test]
    fn comments_and_keep_alives_are_ignored() {
        assert_eq!(
            parse(": ping\n\n:\n: OPENROUTER PROCESSING\ndata: x\n: mid-event comment\ndata: y\n\n"),
            vec![data("x\ny")]
        );
    }

    #[test]
    fn a_lone_cr_ends_a_line() {
        assert_eq!(
            parse("event: e\rdata: a\rdata: b\r\rdata: c\r\r"),
            vec![typed("e", "a\nb"), data("c")]
        );
    }

    #[test]
    fn a_crlf_split_across_chunks_is_one_line_ending() {
        let (events, cut) = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(events, vec![data("a\nb")]);
        assert!(!cut);
    }

    #[test]
    fn a_cr_at_the_end_of_a_chunk_followed_by_another_cr_is_a_blank_line() {
        let (events, _) = parse_chunks(&[b"data: a\r", b"\r"]);
        assert_eq!(events, vec![data("a")]);
    }

    #[test]
    fn a_leading_bom_is_skipped() {
        assert_eq!(parse("\u{FEFF}data: x\n\n"), vec![data("x")]);
    }

    #[test]
    fn a_bom_split_across_chunks_is_skipped() {
        let (events, cut) = parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(events, vec![data("x")]);
        assert!(!cut);
    }

    #[test]
    fn a_bom_after_the_first_bytes_is_content() {
        // Only one leading BOM is stripped; a second one makes the field name unknown.
        assert_eq!(parse("\u{FEFF}\u{FEFF}data: x\n\ndata: y\n\n"), vec![data("y")]);
        assert_eq!(parse("data: x\n\n\u{FEFF}data: y\n\n"), vec![data("x")]);
        assert_eq!(parse("data: \u{FEFF}x\n\n"), vec![data("\u{FEFF}x")]);
    }

    #[test]
    fn a_partial_bom_prefix_is_kept_as_line_content() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.feed(b"\xEF\xBB", &mut out).unwrap();
        assert_eq!(parser.pending_bytes(), 2);
        parser.feed(b":comment\ndata: x\n\n", &mut out).unwrap();
        // The held-back bytes became the (unknown) field name `\xEF\xBB`.
        assert_eq!(out, vec![data("x")]);
    }

    #[test]
    fn a_line_without_a_colon_is_a_field_with_an_empty_value() {
        assert_eq!(parse("event\ndata\ndata\n\n"), vec![data("\n")]);
        assert_eq!(parse("event: e\nevent\ndata: x\n\n"), vec![data("x")]);
    }

    #[test]
    fn exactly_one_leading_space_is_stripped_from_a_value() {
        assert_eq!(
            parse("data:no space\ndata: one\ndata:  two\ndata:\tTab\ndata: trailing \n\n"),
            vec![data("no space\none\n two\n\tTab\ntrailing ")]
        );
        assert_eq!(parse("event:  spaced\ndata: x\n\n"), vec![typed(" spaced", "x")]);
    }

    #[test]
    fn a_value_may_contain_colons() {
        assert_eq!(parse("data: {\"a\":\"b:c\"}\n\n"), vec![data("{\"a\":\"b:c\"}")]);
    }

    #[test]
    fn field_names_are_case_sensitive_and_unknown_fields_are_ignored() {
        assert_eq!(
            parse("Data: x\nDATA: y\nfoo: bar\ndata : z\ndata: w\n\n"),
            vec![data("w")]
        );
    }

    #[test]
    fn retry_is_taken_only_when_all_ascii_digits() {
        let retry = |stream: &str| parse(stream).first().and_then(|event| event.retry);
        assert_eq!(retry("retry: 3000\ndata: x\n\n"), Some(3000));
        assert_eq!(retry("retry:0\ndata: x\n\n"), Some(0));
        assert_eq!(retry("retry: 3s\ndata: x\n\n"), None);
        assert_eq!(retry("retry: +5\ndata: x\n\n"), None);
        assert_eq!(retry("retry: -5\ndata: x\n\n"), None);
        assert_eq!(retry("retry: 1.5\ndata: x\n\n"), None);
        assert_eq!(retry("retry: ٣\ndata: x\n\n"), None);
        assert_eq!(retry("retry:\ndata: x\n\n"), None);
        assert_eq!(retry("retry: 99999999999999999999999\ndata: x\n\n"), None);
        assert_eq!(retry("retry: 10\nretry: x\ndata: x\n\n"), Some(10));
    }

    #[test]
    fn retry_belongs_to_its_own_block() {
        let events = parse("retry: 10\n\ndata: a\n\nretry: 20\ndata: b\n\ndata: c\n\n");
        let retries: Vec<_> = events.iter().map(|event| event.retry).collect();
        assert_eq!(retries, vec![None, Some(20), None]);
    }

    #[test]
    fn the_last_event_id_carries_over_until_replaced_or_cleared() {
        let events = parse("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n");
        let ids: Vec<_> = events.iter().map(|event| event.id.as_deref()).collect();
        assert_eq!(ids, vec![Some("1"), Some("1"), Some("2"), None]);
    }

    #[test]
    fn an_id_containing_nul_is_ignored() {
        let events = parse("id: 7\n\nid: a\0b\ndata: x\n\n");
        assert_eq!(events.first().and_then(|event| event.id.as_deref()), Some("7"));
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing_but_reset_the_event_type() {
        assert_eq!(parse("\n\n\r\n\r\r"), vec![]);
        assert_eq!(parse("event: lost\n\ndata: x\n\n"), vec![data("x")]);
        assert_eq!(parse("event: e\nid: 1\nretry: 5\n\n"), vec![]);
    }

    #[test]
    fn multi_byte_characters_split_across_chunks_are_decoded_whole() {
        let stream = "data: {\"content\":\"Привет, мир 🦀👋🏽\"}\n\n".as_bytes();
        let mut out = Vec::new();
        let mut parser = SseParser::new();
        for byte in stream {
            parser.feed(std::slice::from_ref(byte), &mut out).unwrap();
        }
        assert!(!parser.finish());
        assert_eq!(out, vec![data("{\"content\":\"Привет, мир 🦀👋🏽\"}")]);

        // A four-byte emoji cut after each of its first three bytes.
        let crab = "🦀".as_bytes();
        let (events, _) = parse_chunks(&[
            b"data: ",
            &crab[..1],
            &crab[1..2],
            &crab[2..3],
            &crab[3..],
            b"\n\n",
        ]);
        assert_eq!(events, vec![data("🦀")]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_a_panic() {
        let (events, _) = parse_chunks(&[b"data: a\xFFb\xC3\n\n", b"event: \xE2\x82\ndata: c\n\n"]);
        assert_eq!(events, vec![data("a\u{FFFD}b\u{FFFD}"), typed("\u{FFFD}", "c")]);
    }

    #[test]
    fn an_unterminated_final_event_is_not_dispatched_and_finish_reports_it() {
        let (events, cut) = parse_chunks(&[b"data: a\n\ndata: b\n"]);
        assert_eq!(events, vec![data("a")]);
        assert!(cut);

        let (events, cut) = parse_chunks(&[b"data: a\n\ndata: partial li"]);
        assert_eq!(events, vec![data("a")]);
        assert!(cut);

        let (_, cut) = parse_chunks(&[b"data: a\n\nevent: started\n"]);
        assert!(cut);
    }

    #[test]
    fn a_stream_ending_on_a_blank_line_or_comment_is_not_cut() {
        assert!(!parse_chunks(&[b"data: a\n\n"]).1);
        assert!(!parse_chunks(&[b"data: a\n\n: keep-alive\n"]).1);
        assert!(!parse_chunks(&[b""]).1);
        // A final CRLF whose `\n` never arrived still ended the line.
        assert!(!parse_chunks(&[b"data: a\r\n\r"]).1);
    }

    #[test]
    fn finish_resets_the_parser_for_a_new_stream() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser
            .feed(b"id: 1\nevent: e\ndata: lost\npartial", &mut out)
            .unwrap();
        assert!(parser.finish());
        assert_eq!(parser.pending_bytes(), 0);
        parser.feed("\u{FEFF}data: x\n\n".as_bytes(), &mut out).unwrap();
        assert_eq!(out, vec![data("x")]);
        assert!(!parser.finish());
    }

    #[test]
    fn pending_bytes_counts_only_the_incomplete_line() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.feed(b"data: complete\ndata: par", &mut out).unwrap();
        assert_eq!(parser.pending_bytes(), "data: par".len());
        parser.feed(b"tial\n", &mut out).unwrap();
        assert_eq!(parser.pending_bytes(), 0);
        parser.feed(b"\n", &mut out).unwrap();
        assert_eq!(out, vec![data("complete\npartial")]);
    }

    #[test]
    fn a_line_at_the_limit_is_accepted() {
        let mut line = b"data: ".to_vec();
        line.resize(MAX_LINE_BYTES, b'x');
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let (head, tail) = line.split_at(1000);
        parser.feed(head, &mut out).unwrap();
        parser.feed(tail, &mut out).unwrap();
        parser.feed(b"\n\n", &mut out).unwrap();
        assert_eq!(
            out.first().map(|event| event.data.len()),
            Some(MAX_LINE_BYTES - "data: ".len())
        );
    }

    #[test]
    fn a_line_longer_than_the_limit_is_an_error() {
        let limit_error = Err(SseError::LineTooLong {
            limit: MAX_LINE_BYTES,
        });

        // Arriving a piece at a time, it is refused before the line ending, bounding the buffer.
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let piece = vec![b'x'; 64 * 1024];
        parser.feed(b"data: ", &mut out).unwrap();
        let mut result = Ok(());
        for _ in 0..=MAX_LINE_BYTES / piece.len() {
            result = parser.feed(&piece, &mut out);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, limit_error);
        assert!(parser.pending_bytes() <= MAX_LINE_BYTES);
        // The error sticks: the rest of the stream cannot be framed any more.
        assert_eq!(parser.feed(b"\n\ndata: x\n\n", &mut out), limit_error);
        assert!(out.is_empty());
        assert!(parser.finish());

        // Complete in one chunk, it is refused too.
        let mut line = b"data: ".to_vec();
        line.resize(MAX_LINE_BYTES + 1, b'x');
        line.extend_from_slice(b"\n\n");
        let mut parser = SseParser::new();
        assert_eq!(parser.feed(&line, &mut out), limit_error);
        assert!(out.is_empty());
    }

    #[test]
    fn events_completed_before_an_error_are_kept() {
        let mut stream = b"data: ok\n\ndata: ".to_vec();
        stream.resize(stream.len() + MAX_LINE_BYTES, b'x');
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        assert!(parser.feed(&stream, &mut out).is_err());
        assert_eq!(out, vec![data("ok")]);
    }

    #[test]
    fn an_event_larger_than_the_limit_is_an_error() {
        let mut line = b"data: ".to_vec();
        line.resize(MAX_LINE_BYTES / 2, b'x');
        line.push(b'\n');
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let mut result = Ok(());
        for _ in 0..=2 * MAX_EVENT_BYTES / MAX_LINE_BYTES {
            result = parser.feed(&line, &mut out);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(SseError::EventTooLarge {
                limit: MAX_EVENT_BYTES
            })
        );
        assert!(out.is_empty());
        assert_eq!(
            parser.feed(b"\n", &mut out),
            Err(SseError::EventTooLarge {
                limit: MAX_EVENT_BYTES
            })
        );
    }

    /// Realistic lines from the providers' streams, without their line endings.
    const VOCABULARY: &[&str] = &[
        "data: {\"choices\":[{\"delta\":{\"content\":\"Привет, мир\"}}]}",
        "data: {\"choices\":[{\"delta\":{\"content\":\"🦀 emoji 👋🏽 🇺🇦\"}}]}",
        "data: {\"delta\":{\"type\":\"text_delta\",\"text\":\"日本語\"}}",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"é\"}]}}]}",
        "data: [DONE]",
        "data:no-space",
        "data:  two spaces",
        "data",
        "data:",
        "event: message_start",
        "event: content_block_delta",
        "event:",
        "id: 42",
        "id: чат-1",
        "id",
        "retry: 3000",
        "retry: 3s",
        ": ping",
        ":",
        ": OPENROUTER PROCESSING",
        "unknown: field",
        "",
        "",
        "",
    ];

    const LINE_ENDINGS: &[&str] = &["\n", "\r\n", "\r"];

    fn stream_strategy() -> impl Strategy<Value = Vec<u8>> {
        let line = (0..VOCABULARY.len(), 0..LINE_ENDINGS.len());
        (any::<bool>(), prop::collection::vec(line, 0..40), any::<bool>()).prop_map(|(bom, lines, cut)| {
            let mut stream = Vec::new();
            if bom {
                stream.extend_from_slice(BOM);
            }
            for (line, ending) in lines {
                stream.extend_from_slice(VOCABULARY[line].as_bytes());
                stream.extend_from_slice(LINE_ENDINGS[ending].as_bytes());
            }
            if cut {
                stream.extend_from_slice("data: unterminated Ж".as_bytes());
            }
            stream
        })
    }

    /// Feeds `stream` cut at `cuts`, returning the events, whether `finish` reported a cut, and
    /// the buffered bytes before `finish`.
    fn feed_split(stream: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, bool, usize) {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
            parser.feed(&stream[start..cut], &mut out).unwrap();
            start = cut;
        }
        let pending = parser.pending_bytes();
        (out, parser.finish(), pending)
    }

    proptest! {
        #[test]
        fn any_split_of_a_stream_yields_the_same_events_as_feeding_it_whole(
            stream in stream_strategy(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
        ) {
            let whole = feed_split(&stream, &[]);

            let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(&feed_split(&stream, &cuts), &whole);

            let every_byte: Vec<usize> = (0..=stream.len()).collect();
            prop_assert_eq!(&feed_split(&stream, &every_byte), &whole);
        }

        #[test]
        fn generated_events_come_back_exactly_however_the_stream_is_split(
            blocks in prop::collection::vec(
                (
                    prop::option::of("[a-z_]{0,12}"),
                    prop::collection::vec("[ a-zA-Z0-9{}\":,.Жжё€🦀👋🏽]{0,16}", 0..4),
                    prop::option::of("[a-z0-9 ]{0,6}"),
                    prop::option::of(0u64..100_000),
                    any::<bool>(),
                ),
                0..8,
            ),
            ending in 0..LINE_ENDINGS.len(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
        ) {
            let ending = LINE_ENDINGS[ending];
            let mut stream = String::new();
            let mut expected = Vec::new();
            let mut last_id = None;
            for (event, data_lines, id, retry, comment) in &blocks {
                if *comment {
                    stream += &format!(": keep-alive{ending}");
                }
                if let Some(event) = event {
                    stream += &format!("event: {event}{ending}");
                }
                for line in data_lines {
                    stream += &format!("data: {line}{ending}");
                }
                if let Some(id) = id {
                    stream += &format!("id: {id}{ending}");
                    last_id = Some(id.clone()).filter(|id| !id.is_empty());
                }
                if let Some(retry) = retry {
                    stream += &format!("retry: {retry}{ending}");
                }
                stream += ending;
                if !data_lines.is_empty() {
                    expected.push(SseEvent {
                        event: event.clone().filter(|event| !event.is_empty()),
                        data: data_lines.join("\n"),
                        id: last_id.clone(),
                        retry: *retry,
                    });
                }
            }
            let stream = stream.as_bytes();
            let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
            cuts.sort_unstable();
            let (events, cut, pending) = feed_split(stream, &cuts);
            prop_assert_eq!(events, expected);
            prop_assert!(!cut);
            prop_assert_eq!(pending, 0);
        }
    }
}
