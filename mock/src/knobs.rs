//! Behaviour knobs: process-wide defaults, overridden per request by `[[mock …]]` markers.

/// Per-request knobs read from `[[mock key=value flag …]]` markers anywhere in the prompt.
///
/// Every key is optional; unknown keys and malformed values are ignored. When several
/// markers (or the same key twice) appear, the later one wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knobs {
    /// `ttft=MS`: wait this long before the first byte (headers included).
    pub ttft_ms: Option<u64>,
    /// `delay=MS`: wait this long between content chunks.
    pub delay_ms: Option<u64>,
    /// `chunks=N`: how many content chunks a text answer has.
    pub chunks: Option<u64>,
    /// `status=CODE`: answer this HTTP status in the provider's own error shape.
    pub status: Option<u16>,
    /// `retry_after=S`: the `Retry-After` seconds sent with a 429 (default 1).
    pub retry_after: Option<u64>,
    /// `error_after=N`: after N content chunks, a mid-stream error event, then a clean end.
    pub error_after: Option<u64>,
    /// `cut_after=N`: after N content chunks, drop the connection (no finish, no usage).
    pub cut_after: Option<u64>,
    /// `no_usage`: omit usage everywhere.
    pub no_usage: bool,
    /// `tools=N`: how many tool calls one answer carries (default 1).
    pub tools: Option<u64>,
    /// `max_tokens_ignored`: do not stop at the request's max tokens.
    pub max_tokens_ignored: bool,
    /// `fail_once`: the full text of the marker that carried it; the first request with
    /// this exact marker answers 500.
    pub fail_once: Option<String>,
    /// `cache_read=N`: N prompt tokens read from the provider's cache, on top of the words.
    pub cache_read: Option<u64>,
    /// `cache_write=N`: N prompt tokens written to the cache, on top of the words, with the
    /// TTL of `cache_ttl` (else the request's `cache_control.ttl`, else 5m).
    pub cache_write: Option<u64>,
    /// `cache_write_5m=N` / `cache_write_1h=N`: cache writes with an explicit TTL (added to
    /// `cache_write`'s bucket, so one request can carry both).
    pub cache_write_5m: Option<u64>,
    pub cache_write_1h: Option<u64>,
    /// `cache_ttl=5m|1h`: the TTL of `cache_write`.
    pub cache_ttl: Option<CacheTtl>,
    /// `reasoning=N`: N reasoning ("thinking") tokens, on top of the visible answer.
    pub reasoning: Option<u64>,
    /// `echo`: the answer is `Heard <turns> turns: <last user text>` (one chunk per word).
    pub echo: bool,
    /// `ping_every=N`: an Anthropic stream sends a `ping` after every N content chunks.
    pub ping_every: Option<u64>,
    /// `error_event`: on the Responses API, `error_after` ends with a bare `error` event
    /// instead of `response.failed`.
    pub error_event: bool,
}

/// How long a prompt-cache write lives (Anthropic's two TTLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheTtl {
    #[default]
    FiveMinutes,
    OneHour,
}

impl CacheTtl {
    /// `5m` / `1h` (Anthropic's `cache_control.ttl` values).
    pub fn parse(s: &str) -> Option<CacheTtl> {
        match s {
            "5m" => Some(CacheTtl::FiveMinutes),
            "1h" => Some(CacheTtl::OneHour),
            _ => None,
        }
    }
}

impl Knobs {
    /// Reads every marker in every text, in order.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Knobs {
        let mut knobs = Knobs::default();
        for text in texts {
            knobs.absorb(text);
        }
        knobs
    }

    /// Reads the markers found in one text.
    pub fn absorb(&mut self, text: &str) {
        let mut rest = text;
        while let Some(start) = rest.find("[[mock") {
            let after = &rest[start..];
            let Some(end) = after.find("]]") else { break };
            let marker = &after[..end + 2];
            let inner = &marker["[[mock".len()..marker.len() - 2];
            // `[[mockery]]` is not a marker: the keyword must stand alone.
            if inner.is_empty() || inner.starts_with(char::is_whitespace) {
                self.apply(marker, inner);
            }
            rest = &after[end + 2..];
        }
    }

    fn apply(&mut self, marker: &str, inner: &str) {
        for word in inner.split_whitespace() {
            let (key, value) = match word.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (word, None),
            };
            let num = value.and_then(|v| v.parse::<u64>().ok());
            match key {
                "ttft" => self.ttft_ms = num.or(self.ttft_ms),
                "delay" => self.delay_ms = num.or(self.delay_ms),
                "chunks" => self.chunks = num.or(self.chunks),
                "status" => {
                    if let Some(code) = value.and_then(|v| v.parse::<u16>().ok()) {
                        if (100..=599).contains(&code) {
                            self.status = Some(code);
                        }
                    }
                }
                "retry_after" => self.retry_after = num.or(self.retry_after),
                "error_after" => self.error_after = num.or(self.error_after),
                "cut_after" => self.cut_after = num.or(self.cut_after),
                "tools" => self.tools = num.or(self.tools),
                "no_usage" => self.no_usage = true,
                "max_tokens_ignored" => self.max_tokens_ignored = true,
                "fail_once" => self.fail_once = Some(marker.to_string()),
                "cache_read" => self.cache_read = num.or(self.cache_read),
                "cache_write" => self.cache_write = num.or(self.cache_write),
                "cache_write_5m" => self.cache_write_5m = num.or(self.cache_write_5m),
                "cache_write_1h" => self.cache_write_1h = num.or(self.cache_write_1h),
                "cache_ttl" => self.cache_ttl = value.and_then(CacheTtl::parse).or(self.cache_ttl),
                "reasoning" => self.reasoning = num.or(self.reasoning),
                "echo" => self.echo = true,
                "ping_every" => self.ping_every = num.or(self.ping_every),
                "error_event" => self.error_event = true,
                _ => {}
            }
        }
    }
}

/// Process-wide defaults (from the command line) that markers override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    pub ttft_ms: u64,
    pub delay_ms: u64,
    pub chunks: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            ttft_ms: 0,
            delay_ms: 0,
            chunks: 8,
        }
    }
}

/// The timing a request is served with, after markers override defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub ttft_ms: u64,
    pub delay_ms: u64,
}

impl Timing {
    pub fn resolve(knobs: &Knobs, defaults: &Defaults) -> Timing {
        Timing {
            ttft_ms: knobs.ttft_ms.unwrap_or(defaults.ttft_ms),
            delay_ms: knobs.delay_ms.unwrap_or(defaults.delay_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_knob_of_a_marker() {
        let k = Knobs::from_texts([
            "hi [[mock ttft=500 delay=200 chunks=10 status=429 retry_after=3 error_after=3 cut_after=4 \
             no_usage tools=2 max_tokens_ignored]] there",
        ]);
        assert_eq!(k.ttft_ms, Some(500));
        assert_eq!(k.delay_ms, Some(200));
        assert_eq!(k.chunks, Some(10));
        assert_eq!(k.status, Some(429));
        assert_eq!(k.retry_after, Some(3));
        assert_eq!(k.error_after, Some(3));
        assert_eq!(k.cut_after, Some(4));
        assert!(k.no_usage && k.max_tokens_ignored);
        assert_eq!(k.tools, Some(2));
        assert_eq!(k.fail_once, None);
    }

    #[test]
    fn later_markers_win_and_junk_is_ignored() {
        let k = Knobs::from_texts([
            "[[mock status=500 chunks=3]]",
            "[[mock status=503 bogus=1 chunks=x]] [[mockery chunks=9]]",
        ]);
        assert_eq!(k.status, Some(503));
        assert_eq!(k.chunks, Some(3));
    }

    #[test]
    fn reads_the_cache_and_reasoning_knobs() {
        let k = Knobs::from_texts([
            "[[mock cache_read=800 cache_write=200 cache_ttl=1h cache_write_5m=7 reasoning=50 echo error_event]]",
        ]);
        assert_eq!(k.cache_read, Some(800));
        assert_eq!(k.cache_write, Some(200));
        assert_eq!(k.cache_ttl, Some(CacheTtl::OneHour));
        assert_eq!(k.cache_write_5m, Some(7));
        assert_eq!(k.cache_write_1h, None);
        assert_eq!(k.reasoning, Some(50));
        assert!(k.echo && k.error_event);
        let bad = Knobs::from_texts(["[[mock cache_ttl=2h]]"]);
        assert_eq!(bad.cache_ttl, None);
    }

    #[test]
    fn fail_once_keys_on_the_whole_marker() {
        let k = Knobs::from_texts(["retry me [[mock fail_once id=abc]] please"]);
        assert_eq!(k.fail_once.as_deref(), Some("[[mock fail_once id=abc]]"));
    }

    #[test]
    fn text_without_a_marker_has_no_knobs() {
        assert_eq!(Knobs::from_texts(["plain [[ text ]] [[mock"]), Knobs::default());
    }
}
