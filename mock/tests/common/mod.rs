//! Test helpers: a mock server per test, request shortcuts, and an SSE reader.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use flint_mock::Config;
use futures_util::StreamExt;
use serde_json::Value;

pub const KEY: &str = "mock-key";

pub struct Mock {
    pub base: String,
    pub client: reqwest::Client,
}

impl Mock {
    pub async fn start() -> Mock {
        Mock::with(Config {
            quiet: true,
            ..Config::default()
        })
        .await
    }

    pub async fn with(config: Config) -> Mock {
        let addr = flint_mock::spawn(config).await.expect("the mock starts");
        Mock {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn openai(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn anthropic(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/messages"))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `method` is `generateContent` or `streamGenerateContent?alt=sse`.
    pub async fn gemini(&self, model: &str, method: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/v1beta/models/{model}:{method}")))
            .header("x-goog-api-key", KEY)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn requests(&self, contains: &str) -> Vec<Value> {
        self.client
            .get(self.url("/__mock/requests"))
            .query(&[("contains", contains)])
            .send()
            .await
            .expect("request sent")
            .json::<Vec<Value>>()
            .await
            .expect("a JSON array")
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub event: Option<String>,
    pub data: String,
}

impl Sse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("bad JSON in {:?}: {e}", self.data))
    }
}

/// Parses an SSE body (LF or CRLF line ends).
pub fn parse_sse(text: &str) -> Vec<Sse> {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push(v.to_string());
                }
            }
            Sse {
                event,
                data: data.join("\n"),
            }
        })
        .collect()
}

/// Reads a streamed body chunk by chunk: each chunk with its arrival time since `start`,
/// and whether the body ended in an error (a dropped connection).
pub async fn read_timed(resp: reqwest::Response, start: Instant) -> (Vec<(Duration, String)>, bool) {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => out.push((start.elapsed(), String::from_utf8_lossy(&b).into_owned())),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    (out, failed)
}

/// The whole body of a stream as text, and whether it ended in an error.
pub async fn read_all(resp: reqwest::Response) -> (String, bool) {
    let (chunks, failed) = read_timed(resp, Instant::now()).await;
    (chunks.into_iter().map(|(_, s)| s).collect(), failed)
}

/// A unique id for a test's prompt.
pub fn uid(name: &str) -> String {
    format!("{name}-{}", flint_mock::util::random_alnum(10))
}
