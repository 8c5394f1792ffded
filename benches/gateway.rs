//! `make bench`: figures, not assertions. Starts the mock provider and one `wrangler dev` through
//! the end-to-end harness, then prints the wasm size, the cost of the password routes (PBKDF2 runs
//! inside the worker) and what the gateway adds to a chat completion over calling the provider
//! directly. Everything is timed from outside the worker: `performance.now()` reads 0 inside it.
//!
//! It exits 0 whatever the figures are; only a gateway that can't start stops it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{repo_root, unique, TestApp, MOCK_PROVIDER_KEY};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// Sequential requests per account route.
const ACCOUNT_RUNS: usize = 20;
const PASSWORD: &str = "correct horse battery";

/// Chat: requests at concurrency 1, and in total at [`CHAT_CONCURRENCY`].
const CHAT_SEQUENTIAL: usize = 50;
const CHAT_CONCURRENT: usize = 200;
const CHAT_CONCURRENCY: usize = 16;
const CHAT_PROMPT: &str = "bench [[mock chunks=20 delay=0]]";

/// Failed sign-ins are throttled per client IP (50 per window by default), and every request here
/// comes from 127.0.0.1: the wrong-email and wrong-password rows would otherwise run into it.
/// The limit changes whether a login is refused, not what a refused or accepted one costs.
const VARS: &[(&str, &str)] = &[("LOGIN_FAILURES_PER_IP", "1000000")];

fn main() {
    let app = TestApp::with_vars(VARS);
    header();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        accounts(&app).await;
        chat_overhead(&app).await;
    });
}

// ---- figures

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `p`% at or below it.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How many answers of each unexpected kind ("429", "transport error"), for a note under a row.
#[derive(Default)]
struct Misses(BTreeMap<String, usize>);

impl Misses {
    fn add(&mut self, what: impl Into<String>) {
        *self.0.entry(what.into()).or_default() += 1;
    }

    fn count(&self) -> usize {
        self.0.values().sum()
    }

    /// "  note: gateway stream c=16: 3 of 200 not counted (429 ×3)", or nothing.
    fn note(&self, label: &str, of: usize) {
        if self.0.is_empty() {
            return;
        }
        let kinds: Vec<String> = self.0.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        println!(
            "  note: {label}: {} of {of} not counted ({})",
            self.count(),
            kinds.join(", ")
        );
    }
}

// ---- header

fn header() {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "date unknown".to_owned());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("flint bench   {date}   nproc {nproc}");

    let wasm = repo_root().join("build/index_bg.wasm");
    let raw = std::fs::metadata(&wasm).map(|m| m.len()).ok();
    // gzip's default level, as `gzip -c` would ship it.
    let gzipped = Command::new("gzip")
        .arg("-c")
        .arg(&wasm)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout.len() as u64);
    let kib = |b: Option<u64>| b.map_or("?".to_owned(), |b| format!("{:.1} KiB", b as f64 / 1024.0));
    println!(
        "wasm          build/index_bg.wasm   {} raw   {} gzip",
        kib(raw),
        kib(gzipped)
    );
}

// ---- accounts

/// Times `n` sequential calls of `request(i)`; answers other than `expected` are noted, not timed.
async fn time_each<F, Fut>(label: &str, n: usize, expected: u16, mut request: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = common::TestResponse>,
{
    let mut samples = Vec::with_capacity(n);
    let mut misses = Misses::default();
    for i in 0..n {
        let start = Instant::now();
        let response = request(i).await;
        let elapsed = start.elapsed();
        if response.status == expected {
            samples.push(elapsed);
        } else {
            misses.add(response.status.to_string());
        }
    }
    samples.sort();
    if samples.is_empty() {
        println!("  {label:<32}{:>7}{:>7}{:>7}{:>7}", "-", "-", "-", "-");
    } else {
        println!(
            "  {label:<32}{:>7.1}{:>7.1}{:>7.1}{:>7.1}",
            ms(samples[0]),
            ms(percentile(&samples, 50.0)),
            ms(percentile(&samples, 90.0)),
            ms(samples[samples.len() - 1]),
        );
    }
    misses.note(label, n);
}

fn fresh_email(prefix: &str) -> String {
    format!("{}@example.com", unique(prefix))
}

/// Register and login through the gateway: PBKDF2-HMAC-SHA256 at the configured iterations runs
/// inside the worker. An unknown email burns an equal hash, so its row should match a real login.
async fn accounts(app: &TestApp) {
    // The first use of each path (D1, the limiter object, PBKDF2) is slow on a fresh wrangler.
    let warm = fresh_email("warm");
    app.register(&warm, PASSWORD).await;
    app.login(&warm, PASSWORD).await;
    app.login(&warm, "wrong password").await;
    app.login(&fresh_email("nobody"), PASSWORD).await;

    let emails: Vec<String> = (0..ACCOUNT_RUNS).map(|_| fresh_email("bench")).collect();
    let unknown: Vec<String> = (0..ACCOUNT_RUNS).map(|_| fresh_email("nobody")).collect();

    println!();
    println!(
        "{:<34}{:>7}{:>7}{:>7}{:>7}",
        format!("accounts ({ACCOUNT_RUNS} sequential, ms)"),
        "min",
        "p50",
        "p90",
        "max"
    );
    time_each("register", ACCOUNT_RUNS, 200, |i| {
        app.register(&emails[i], PASSWORD)
    })
    .await;
    time_each("login", ACCOUNT_RUNS, 200, |i| app.login(&emails[i], PASSWORD)).await;
    time_each("login, unknown email", ACCOUNT_RUNS, 401, |i| {
        app.login(&unknown[i], PASSWORD)
    })
    .await;
    // One failure per account: the per-email lock (10 failures) is never reached.
    time_each("login, wrong password", ACCOUNT_RUNS, 401, |i| {
        app.login(&emails[i], "wrong password")
    })
    .await;
}

// ---- chat

/// Where a chat request goes: the mock provider itself, or the gateway in front of it.
struct Target {
    name: &'static str,
    url: String,
    bearer: String,
}

/// One request's timings: to the first byte of the body, and to its end.
struct Sample {
    ttfb: Duration,
    total: Duration,
}

struct Run {
    samples: Vec<Sample>,
    misses: Misses,
    wall: Duration,
}

impl Run {
    fn sorted(&self, of: impl Fn(&Sample) -> Duration) -> Vec<Duration> {
        let mut v: Vec<Duration> = self.samples.iter().map(of).collect();
        v.sort();
        v
    }

    /// ttfb p50, ttfb p99, total p50, total p99; `None` when nothing succeeded.
    fn percentiles(&self) -> Option<[Duration; 4]> {
        if self.samples.is_empty() {
            return None;
        }
        let ttfb = self.sorted(|s| s.ttfb);
        let total = self.sorted(|s| s.total);
        Some([
            percentile(&ttfb, 50.0),
            percentile(&ttfb, 99.0),
            percentile(&total, 50.0),
            percentile(&total, 99.0),
        ])
    }

    fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.wall.as_secs_f64()
    }
}

fn chat_body(stream: bool) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": CHAT_PROMPT}],
        "stream": stream,
    })
}

/// Sends one chat request and reads its body to the end, chunk by chunk as it arrives.
async fn chat_once(
    client: &reqwest::Client,
    target: &Target,
    body: &Value,
    stream: bool,
) -> Result<Sample, String> {
    let start = Instant::now();
    let response = client
        .post(&target.url)
        .bearer_auth(&target.bearer)
        .json(body)
        .send()
        .await
        .map_err(|_| "transport error".to_owned())?;
    let status = response.status().as_u16();
    let mut chunks = response.bytes_stream();
    let mut ttfb = None;
    let mut text = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| "body cut".to_owned())?;
        if ttfb.is_none() && !chunk.is_empty() {
            ttfb = Some(start.elapsed());
        }
        text.extend_from_slice(&chunk);
    }
    let total = start.elapsed();
    if status != 200 {
        return Err(status.to_string());
    }
    let text = String::from_utf8_lossy(&text);
    let complete = if stream {
        text.contains("data: [DONE]")
    } else {
        text.contains("\"choices\"")
    };
    if !complete {
        return Err("incomplete body".to_owned());
    }
    Ok(Sample {
        ttfb: ttfb.unwrap_or(total),
        total,
    })
}

/// `total` requests, at most `concurrency` in flight.
async fn chat_run(
    client: &reqwest::Client,
    target: &Target,
    stream: bool,
    concurrency: usize,
    total: usize,
) -> Run {
    let body = chat_body(stream);
    let start = Instant::now();
    let results: Vec<Result<Sample, String>> = futures_util::stream::iter(0..total)
        .map(|_| chat_once(client, target, &body, stream))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = start.elapsed();
    let mut run = Run {
        samples: Vec::with_capacity(total),
        misses: Misses::default(),
        wall,
    };
    for result in results {
        match result {
            Ok(sample) => run.samples.push(sample),
            Err(what) => run.misses.add(what),
        }
    }
    run
}

/// Whether the gateway serves the chat route yet: anything but its "no such route" 404 counts.
async fn chat_route_exists(client: &reqwest::Client, gateway: &Target) -> bool {
    match client
        .post(&gateway.url)
        .bearer_auth(&gateway.bearer)
        .json(&chat_body(false))
        .send()
        .await
    {
        Ok(response) if response.status().as_u16() == 404 => !response
            .text()
            .await
            .unwrap_or_default()
            .contains("route_not_found"),
        Ok(_) => true,
        Err(_) => false,
    }
}

fn chat_row(label: &str, figures: Option<[f64; 4]>, stream: bool, per_second: Option<f64>) {
    let mut line = format!("  {label:<32}");
    match figures {
        None => line.push_str(&format!("{:>11}{:>11}{:>11}{:>11}", "-", "-", "-", "-")),
        Some([ttfb50, ttfb99, total50, total99]) => {
            // A whole answer's first byte is its last: only a stream has a time to first byte.
            if stream {
                line.push_str(&format!("{ttfb50:>11.2}{ttfb99:>11.2}"));
            } else {
                line.push_str(&format!("{:>11}{:>11}", "-", "-"));
            }
            line.push_str(&format!("{total50:>11.2}{total99:>11.2}"));
        }
    }
    if let Some(rps) = per_second {
        line.push_str(&format!("{rps:>11.0}"));
    }
    println!("{}", line.trim_end());
}

fn as_ms(p: Option<[Duration; 4]>) -> Option<[f64; 4]> {
    p.map(|p| p.map(ms))
}

/// What the gateway adds to a chat completion: the same OpenAI request sent straight to the mock
/// provider and through the gateway, streamed and whole, one at a time and 16 at a time.
async fn chat_overhead(app: &TestApp) {
    let client = reqwest::Client::new();
    let user = app.register(&fresh_email("chat"), PASSWORD).await;
    let token = serde_json::from_str::<Value>(&user.text)
        .ok()
        .and_then(|b| b["token"].as_str().map(str::to_owned));
    let token = token.unwrap_or_default();
    let direct = Target {
        name: "direct",
        url: format!("{}/openai/v1/chat/completions", app.mock_url),
        bearer: MOCK_PROVIDER_KEY.to_owned(),
    };
    let gateway = Target {
        name: "gateway",
        url: format!("{}/v1/chat/completions", app.url),
        bearer: token,
    };
    let through_gateway = chat_route_exists(&client, &gateway).await;

    println!();
    println!(
        "{:<34}{:>11}{:>11}{:>11}{:>11}{:>11}",
        "chat (ms)", "ttfb p50", "ttfb p99", "total p50", "total p99", "req/s"
    );
    println!("  {CHAT_PROMPT:?}, c=1: {CHAT_SEQUENTIAL} sequential, c={CHAT_CONCURRENCY}: {CHAT_CONCURRENT} in all");
    if !through_gateway {
        println!("chat: route not available yet");
    }
    let targets: Vec<&Target> = if through_gateway {
        vec![&direct, &gateway]
    } else {
        vec![&direct]
    };

    for stream in [true, false] {
        let mode = if stream { "stream" } else { "non-stream" };
        // Untimed: opens a pool of connections to each target and wakes the worker's paths.
        for target in &targets {
            chat_run(&client, target, stream, CHAT_CONCURRENCY, CHAT_CONCURRENCY).await;
        }
        for (concurrency, total) in [(1, CHAT_SEQUENTIAL), (CHAT_CONCURRENCY, CHAT_CONCURRENT)] {
            let mut runs = Vec::new();
            for target in &targets {
                runs.push((
                    target.name,
                    chat_run(&client, target, stream, concurrency, total).await,
                ));
            }
            let batch = format!("{mode} c={concurrency}");
            for (i, (name, run)) in runs.iter().enumerate() {
                let label = if i == 0 {
                    format!("{batch:<17}{name}")
                } else {
                    format!("{:<17}{name}", "")
                };
                let per_second = (concurrency > 1 && !run.samples.is_empty()).then(|| run.per_second());
                chat_row(&label, as_ms(run.percentiles()), stream, per_second);
            }
            if let [(_, direct), (_, gateway)] = runs.as_slice() {
                let added = match (direct.percentiles(), gateway.percentiles()) {
                    (Some(d), Some(g)) => Some(std::array::from_fn(|k| ms(g[k]) - ms(d[k]))),
                    _ => None,
                };
                chat_row(&format!("{:<17}gateway adds", ""), added, stream, None);
            }
            for (name, run) in &runs {
                run.misses.note(&format!("{name} {batch}"), total);
            }
        }
    }
}
