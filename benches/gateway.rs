//! `make bench`: figures, not assertions. Starts the mock provider and one `wrangler dev` through
//! the end-to-end harness, then prints the wasm size, the cost of the password routes (PBKDF2 runs
//! inside the worker), what the gateway adds to a chat completion over calling the provider
//! directly, and what the money path (holds, settlement, the ledger) and authentication with a
//! limiter round trip add to a request. Everything is timed from outside the worker:
//! `performance.now()` reads 0 inside it.
//!
//! It exits 0 whatever the figures are; only a gateway that can't start stops it. Answers that
//! are not a 200 with a complete body are not timed: a note under their row counts them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{repo_root, sse_data, unique, TestApp, User, MOCK_PROVIDER_KEY};
use flint_mock::{expected_answer, Defaults, Provider};
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
/// Lite: free inside the daily allowance, so no hold and no ledger row.
const LITE_MODEL: &str = "gpt-4o-mini";
/// Premium ($4.90 / $39.20 per 1M tokens): a hold before the upstream call, a settlement after.
const PREMIUM_MODEL: &str = "gpt-5.1";

/// Money path: whole answers at concurrency 1 (at 16, [`CHAT_CONCURRENT`] in all), and the
/// balance of the premium user (each hold is about $0.32: 8192 output tokens at most).
const MONEY_SEQUENTIAL: usize = 60;
const MONEY_FUNDS_USD: f64 = 1000.0;
/// Sequential requests of the no-auth and the authenticated GET.
const AUTH_SEQUENTIAL: usize = 100;

/// Failed sign-ins are throttled per client IP (50 per window by default), and every request here
/// comes from 127.0.0.1: the wrong-email and wrong-password rows would otherwise run into it.
/// The limit changes whether a login is refused, not what a refused or accepted one costs.
/// The account timings are PBKDF2's at the default cost, not the suite's cheaper one.
const VARS: &[(&str, &str)] = &[
    ("LOGIN_FAILURES_PER_IP", "1000000"),
    ("PASSWORD_ITERATIONS", "600000"),
];

fn main() {
    let started = Instant::now();
    let app = TestApp::with_vars(VARS);
    let gateway_up = started.elapsed();
    header();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        accounts(&app).await;
        chat_overhead(&app).await;
        agent_overhead(&app).await;
        money_path(&app).await;
        remote_steps(&app).await;
    });
    println!();
    // A shared machine shows here: a load above nproc means the figures competed for CPU.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    println!(
        "total         {:.1} s (starting the mock and wrangler dev: {:.1} s)   load average now {load}",
        started.elapsed().as_secs_f64(),
        gateway_up.as_secs_f64()
    );
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

    // Exact bytes (what Cloudflare's limits count: 3 MB free / 10 MB paid, compressed) and KiB.
    let size = |b: Option<u64>| {
        b.map_or("?".to_owned(), |b| {
            format!("{} B ({:.1} KiB)", thousands(b), b as f64 / 1024.0)
        })
    };
    // Both workers (src/workers.rs); the gateway's is the one every API call cold-starts.
    for (name, path) in [
        ("gateway", "build/index_bg.wasm"),
        ("account", "build/account/index_bg.wasm"),
    ] {
        let wasm = repo_root().join(path);
        let raw = std::fs::metadata(&wasm).map(|m| m.len()).ok();
        // gzip's default level, as `gzip -c` would ship it.
        let gzipped = Command::new("gzip")
            .arg("-c")
            .arg(&wasm)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| o.stdout.len() as u64);
        println!(
            "wasm {name:<8} {path:<28} {} raw   {} gzip",
            size(raw),
            size(gzipped)
        );
    }
}

/// 2009721 → "2,009,721".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
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

// ---- timed requests

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

    /// Total p50 and p99 in ms.
    fn totals_ms(&self) -> Option<[f64; 2]> {
        self.percentiles().map(|p| [ms(p[2]), ms(p[3])])
    }

    fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.wall.as_secs_f64()
    }
}

/// Inspects a 200's whole body; `Err` names what is wrong with it.
type Check<'a> = Box<dyn Fn(&[u8]) -> Result<(), String> + 'a>;

/// A request to time, again and again: how to build it, and what a complete answer is.
struct Probe<'a> {
    build: Box<dyn Fn() -> reqwest::RequestBuilder + 'a>,
    check: Check<'a>,
}

/// Sends the probe's request once and reads its body to the end, chunk by chunk as it arrives.
/// Anything but a 200 whose body passes the check is an `Err` naming what came back.
async fn probe_once(probe: &Probe<'_>) -> Result<Sample, String> {
    let start = Instant::now();
    let response = (probe.build)()
        .send()
        .await
        .map_err(|_| "transport error".to_owned())?;
    let status = response.status().as_u16();
    let mut chunks = response.bytes_stream();
    let mut ttfb = None;
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| format!("{status}, body cut"))?;
        if ttfb.is_none() && !chunk.is_empty() {
            ttfb = Some(start.elapsed());
        }
        body.extend_from_slice(&chunk);
    }
    let total = start.elapsed();
    if status != 200 {
        return Err(status.to_string());
    }
    (probe.check)(&body).map_err(|what| format!("200, {what}"))?;
    Ok(Sample {
        ttfb: ttfb.unwrap_or(total),
        total,
    })
}

/// `total` requests, at most `concurrency` in flight.
async fn run(probe: &Probe<'_>, concurrency: usize, total: usize) -> Run {
    let start = Instant::now();
    let results: Vec<Result<Sample, String>> = futures_util::stream::iter(0..total)
        .map(|_| probe_once(probe))
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

/// Rounds a comparison at concurrency above 1 is split into: drift and a busy neighbour then
/// fall on both sides. One at a time, the probes simply take turns, request by request.
const ROUNDS: usize = 4;

/// `total` requests of each probe, at most `concurrency` in flight, in rounds whose order
/// alternates (A B, B A, A B, …); one merged run per probe, its wall time the rounds' sum.
async fn run_interleaved(probes: &[&Probe<'_>], concurrency: usize, total: usize) -> Vec<Run> {
    let rounds = if concurrency == 1 { total } else { ROUNDS };
    let mut runs: Vec<Run> = probes
        .iter()
        .map(|_| Run {
            samples: Vec::with_capacity(total),
            misses: Misses::default(),
            wall: Duration::ZERO,
        })
        .collect();
    for round in 0..rounds {
        // The first rounds take the remainder: the sizes add up to `total`.
        let size = total / rounds + usize::from(round < total % rounds);
        let mut order: Vec<usize> = (0..probes.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let part = run(probes[i], concurrency, size).await;
            let merged = &mut runs[i];
            merged.samples.extend(part.samples);
            merged.wall += part.wall;
            for (what, n) in part.misses.0 {
                *merged.misses.0.entry(what).or_default() += n;
            }
        }
    }
    runs
}

// ---- chat

fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": CHAT_PROMPT}],
        "stream": stream,
    })
}

/// What the gateway must have billed a whole (non-streamed) answer.
#[derive(Clone, Copy)]
enum Charge {
    /// The mock itself: no `cost_usd` to look at.
    Unbilled,
    /// Inside the daily free allowance: `cost_usd` 0.
    Free,
    /// Settled against the balance: `cost_usd` above 0.
    Paid,
}

/// A complete chat answer: the mock's exact text for this body, and for a stream the `[DONE]`
/// after it; a whole answer also carries the bill the gateway settled.
fn chat_check(body: &Value, stream: bool, charge: Charge) -> impl Fn(&[u8]) -> Result<(), String> {
    let want = expected_answer(Provider::OpenAi, body, &Defaults::default())
        .map(|a| a.text())
        .unwrap_or_default();
    move |bytes: &[u8]| {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
        if stream {
            let events = sse_data(text);
            if events.last().map(String::as_str) != Some("[DONE]") {
                return Err("stream without [DONE]".to_owned());
            }
            let got: String = events
                .iter()
                .filter_map(|e| serde_json::from_str::<Value>(e).ok())
                .filter_map(|v| v["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
                .collect();
            if got != want {
                return Err("wrong text".to_owned());
            }
            return Ok(());
        }
        let answer: Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
        if answer["choices"][0]["message"]["content"].as_str() != Some(want.as_str()) {
            return Err("wrong text".to_owned());
        }
        let cost = answer["usage"]["cost_usd"].as_f64();
        match charge {
            Charge::Unbilled => Ok(()),
            Charge::Free if cost == Some(0.0) => Ok(()),
            Charge::Paid if cost.is_some_and(|c| c > 0.0) => Ok(()),
            Charge::Free | Charge::Paid => Err(format!("cost_usd {cost:?}")),
        }
    }
}

/// A chat completion sent to `url` with `bearer`, checked against the mock's answer.
fn chat_probe<'a>(
    client: &'a reqwest::Client,
    url: String,
    bearer: String,
    model: &str,
    stream: bool,
    charge: Charge,
) -> Probe<'a> {
    let body = chat_body(model, stream);
    let check = chat_check(&body, stream, charge);
    Probe {
        build: Box::new(move || client.post(&url).bearer_auth(&bearer).json(&body)),
        check: Box::new(check),
    }
}

/// A fresh user that no limit of the bench reaches, with `usd` on the balance.
async fn roomy_user(app: &TestApp, usd: f64) -> User {
    let user = if usd > 0.0 {
        app.funded_user(usd).await
    } else {
        app.new_user().await
    };
    let plan = app.set_plan(user.id, "enterprise", roomy_limits()).await;
    if plan.status != 200 {
        // The free plan's limits (2 at a time, 20 a minute) then show as 429s in the notes.
        println!(
            "  note: putting user {} on enterprise failed ({}): {}",
            user.id, plan.status, plan.text
        );
    }
    user
}

fn roomy_limits() -> Value {
    json!({"rpm": 1_000_000, "tpm": 1_000_000_000_u64, "concurrent_requests": 1000, "daily_lite_requests": 1_000_000})
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
/// provider and through the gateway, streamed and whole, one at a time and 16 at a time. The
/// model is lite and the user inside the free allowance: admission, no hold, no ledger row.
async fn chat_overhead(app: &TestApp) {
    let client = reqwest::Client::new();
    let user = roomy_user(app, 0.0).await;
    let direct_url = format!("{}/openai/v1/chat/completions", app.mock_url);
    let gateway_url = format!("{}/v1/chat/completions", app.url);

    println!();
    println!(
        "{:<34}{:>11}{:>11}{:>11}{:>11}{:>11}",
        "chat overhead (ms)", "ttfb p50", "ttfb p99", "total p50", "total p99", "req/s"
    );
    println!(
        "  {LITE_MODEL}, {CHAT_PROMPT:?}; c=1: {CHAT_SEQUENTIAL} one at a time (p99 = slowest), c={CHAT_CONCURRENCY}: {CHAT_CONCURRENT} in all"
    );

    for stream in [true, false] {
        let mode = if stream { "stream" } else { "non-stream" };
        let targets = [
            (
                "direct",
                chat_probe(
                    &client,
                    direct_url.clone(),
                    MOCK_PROVIDER_KEY.to_owned(),
                    LITE_MODEL,
                    stream,
                    Charge::Unbilled,
                ),
            ),
            (
                "gateway",
                chat_probe(
                    &client,
                    gateway_url.clone(),
                    user.token.clone(),
                    LITE_MODEL,
                    stream,
                    Charge::Free,
                ),
            ),
        ];
        // Untimed: opens a pool of connections to each target and wakes the worker's paths.
        for (_, probe) in &targets {
            run(probe, CHAT_CONCURRENCY, CHAT_CONCURRENCY).await;
        }
        for (concurrency, total) in [(1, CHAT_SEQUENTIAL), (CHAT_CONCURRENCY, CHAT_CONCURRENT)] {
            let probes: Vec<&Probe> = targets.iter().map(|(_, probe)| probe).collect();
            let runs: Vec<(&str, Run)> = targets
                .iter()
                .map(|(name, _)| *name)
                .zip(run_interleaved(&probes, concurrency, total).await)
                .collect();
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

// ---- agent protocols

/// A streamed agent-protocol request (`/v1/messages` or `/v1/responses`) sent to `url`; complete
/// when the stream carries its closing event and the mock's exact text.
fn agent_probe<'a>(
    client: &'a reqwest::Client,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Value,
    closing: &'static str,
    text_of: fn(&Value) -> Option<&str>,
    want: String,
) -> Probe<'a> {
    Probe {
        build: Box::new(move || {
            let mut request = client.post(&url).json(&body);
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            request
        }),
        check: Box::new(move |bytes: &[u8]| {
            let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
            let events: Vec<Value> = sse_data(text)
                .iter()
                .filter_map(|e| serde_json::from_str(e).ok())
                .collect();
            if events.last().and_then(|e| e["type"].as_str()) != Some(closing) {
                return Err(format!("stream without {closing}"));
            }
            let got: String = events.iter().filter_map(text_of).collect();
            if got != want {
                return Err("wrong text".to_owned());
            }
            Ok(())
        }),
    }
}

/// What the gateway adds to the agents' own protocols, streamed, one request at a time: Claude
/// Code's `/v1/messages` on `claude-haiku-4.5` (native, lite, free) and Codex's `/v1/responses` on
/// `gpt-4o-mini` (native, lite, free), each against the same request sent to the mock directly.
async fn agent_overhead(app: &TestApp) {
    let client = reqwest::Client::new();
    let user = roomy_user(app, 0.0).await;
    println!();
    println!(
        "{:<34}{:>11}{:>11}{:>11}{:>11}",
        "agent protocols, stream (ms)", "ttfb p50", "ttfb p99", "total p50", "total p99"
    );
    println!("  {CHAT_PROMPT:?}; c=1: {CHAT_SEQUENTIAL} one at a time (p99 = slowest)");
    let messages_body = |model: &str| {
        json!({"model": model, "max_tokens": 1024, "stream": true,
               "messages": [{"role": "user", "content": CHAT_PROMPT}]})
    };
    let responses_body =
        |model: &str| json!({"model": model, "stream": true, "input": CHAT_PROMPT, "store": false});
    let text_of_messages: fn(&Value) -> Option<&str> = |e| e["delta"]["text"].as_str();
    let text_of_responses: fn(&Value) -> Option<&str> = |e| {
        (e["type"] == "response.output_text.delta")
            .then(|| e["delta"].as_str())
            .flatten()
    };
    let anthropic_want = expected_answer(
        Provider::Anthropic,
        &messages_body("claude-haiku-4-5-20251001"),
        &Defaults::default(),
    )
    .map(|a| a.text())
    .unwrap_or_default();
    let openai_want = flint_mock::expected_response(&responses_body(LITE_MODEL), &Defaults::default())
        .map(|a| a.text())
        .unwrap_or_default();
    let version = ("anthropic-version", "2023-06-01".to_owned());
    let pairs = [
        (
            "/v1/messages",
            agent_probe(
                &client,
                format!("{}/anthropic/v1/messages", app.mock_url),
                vec![("x-api-key", MOCK_PROVIDER_KEY.to_owned()), version.clone()],
                messages_body("claude-haiku-4-5-20251001"),
                "message_stop",
                text_of_messages,
                anthropic_want.clone(),
            ),
            agent_probe(
                &client,
                format!("{}/v1/messages", app.url),
                vec![("x-api-key", user.token.clone()), version.clone()],
                messages_body("claude-haiku-4.5"),
                "message_stop",
                text_of_messages,
                anthropic_want,
            ),
        ),
        (
            "/v1/responses",
            agent_probe(
                &client,
                format!("{}/openai/v1/responses", app.mock_url),
                vec![("authorization", format!("Bearer {MOCK_PROVIDER_KEY}"))],
                responses_body(LITE_MODEL),
                "response.completed",
                text_of_responses,
                openai_want.clone(),
            ),
            agent_probe(
                &client,
                format!("{}/v1/responses", app.url),
                vec![("authorization", format!("Bearer {}", user.token))],
                responses_body(LITE_MODEL),
                "response.completed",
                text_of_responses,
                openai_want,
            ),
        ),
    ];
    for (route, direct, gateway) in &pairs {
        run(direct, 4, 4).await;
        run(gateway, 4, 4).await;
        let runs = run_interleaved(&[direct, gateway], 1, CHAT_SEQUENTIAL).await;
        chat_row(
            &format!("{route:<17}direct"),
            as_ms(runs[0].percentiles()),
            true,
            None,
        );
        chat_row(
            &format!("{:<17}gateway", ""),
            as_ms(runs[1].percentiles()),
            true,
            None,
        );
        let added = match (runs[0].percentiles(), runs[1].percentiles()) {
            (Some(d), Some(g)) => Some(std::array::from_fn(|k| ms(g[k]) - ms(d[k]))),
            _ => None,
        };
        chat_row(&format!("{:<17}gateway adds", ""), added, true, None);
        runs[0].misses.note(&format!("direct {route}"), CHAT_SEQUENTIAL);
        runs[1].misses.note(&format!("gateway {route}"), CHAT_SEQUENTIAL);
    }
}

// ---- money path

fn money_row(label: &str, figures: Option<[f64; 2]>, per_second: Option<f64>) {
    let mut line = format!("  {label:<48}");
    match figures {
        None => line.push_str(&format!("{:>9}{:>9}", "-", "-")),
        Some([p50, p99]) => line.push_str(&format!("{p50:>9.2}{p99:>9.2}")),
    }
    if let Some(rps) = per_second {
        line.push_str(&format!("{rps:>9.0}"));
    }
    println!("{}", line.trim_end());
}

/// Two runs of a batch and their difference (second − first), each row labelled; notes last.
fn money_pair(batch: &str, rows: [(&str, &Run); 2], difference: &str, total: usize, rate: bool) {
    for (i, (name, run)) in rows.iter().enumerate() {
        let head = if i == 0 { batch } else { "" };
        let per_second = (rate && !run.samples.is_empty()).then(|| run.per_second());
        money_row(&format!("{head:<13}{name}"), run.totals_ms(), per_second);
    }
    let diff = match (rows[0].1.totals_ms(), rows[1].1.totals_ms()) {
        (Some(a), Some(b)) => Some([b[0] - a[0], b[1] - a[1]]),
        _ => None,
    };
    money_row(&format!("{:<13}{difference}", ""), diff, None);
    for (name, run) in rows {
        run.misses.note(&format!("{} {}", batch.trim(), name), total);
    }
}

/// What holds and the ledger add to a request, and what authentication and a limiter round trip
/// cost: the same whole lite answer on a user inside the free allowance and premium answer on a
/// funded user; then a route with no auth beside one with a token and a limiter peek.
async fn money_path(app: &TestApp) {
    let client = reqwest::Client::new();
    let free_user = roomy_user(app, 0.0).await;
    let funded_user = roomy_user(app, MONEY_FUNDS_USD).await;
    let url = format!("{}/v1/chat/completions", app.url);
    let lite = chat_probe(
        &client,
        url.clone(),
        free_user.token.clone(),
        LITE_MODEL,
        false,
        Charge::Free,
    );
    let premium = chat_probe(
        &client,
        url,
        funded_user.token.clone(),
        PREMIUM_MODEL,
        false,
        Charge::Paid,
    );
    let models = Probe {
        build: Box::new(|| client.get(format!("{}/api/models", app.url))),
        check: Box::new(|bytes: &[u8]| {
            let listed = serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| v["models"].as_array().map(Vec::len))
                .unwrap_or(0);
            if listed > 0 {
                Ok(())
            } else {
                Err("no models listed".to_owned())
            }
        }),
    };
    let me_id = free_user.id;
    let me = Probe {
        build: Box::new(|| {
            client
                .get(format!("{}/auth/me", app.url))
                .bearer_auth(&free_user.token)
        }),
        check: Box::new(move |bytes: &[u8]| {
            let id = serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| v["user"]["id"].as_i64());
            if id == Some(me_id) {
                Ok(())
            } else {
                Err("not this user".to_owned())
            }
        }),
    };

    println!();
    println!(
        "{:<50}{:>9}{:>9}{:>9}",
        "money path, whole answers (ms)", "p50", "p99", "req/s"
    );
    println!(
        "  {CHAT_PROMPT:?} for both models; enterprise users, no limit, (b) with ${MONEY_FUNDS_USD}; c=1: p99 = slowest"
    );

    // Untimed: opens connections, and the first hold, ledger row and peek of each user.
    for probe in [&lite, &premium] {
        run(probe, CHAT_CONCURRENCY, CHAT_CONCURRENCY).await;
    }
    for probe in [&models, &me] {
        run(probe, 1, 5).await;
    }

    for (concurrency, total) in [(1, MONEY_SEQUENTIAL), (CHAT_CONCURRENCY, CHAT_CONCURRENT)] {
        let [a, b]: [Run; 2] = run_interleaved(&[&lite, &premium], concurrency, total)
            .await
            .try_into()
            .unwrap_or_else(|_| unreachable!("one run per probe"));
        money_pair(
            &format!("c={concurrency} N={total}"),
            [
                (&format!("(a) {LITE_MODEL}, free allowance"), &a),
                (&format!("(b) {PREMIUM_MODEL}, funded"), &b),
            ],
            "b − a: hold + ledger",
            total,
            concurrency > 1,
        );
    }
    let [c, d]: [Run; 2] = run_interleaved(&[&models, &me], 1, AUTH_SEQUENTIAL)
        .await
        .try_into()
        .unwrap_or_else(|_| unreachable!("one run per probe"));
    money_pair(
        &format!("c=1 N={AUTH_SEQUENTIAL}"),
        [
            ("(c) GET /api/models, no auth", &c),
            ("(d) GET /auth/me, token", &d),
        ],
        "d − c: hop + auth + peek",
        AUTH_SEQUENTIAL,
        false,
    );
    println!("  b − a: what a hold and the ledger add: the hold INSERT in D1 before the upstream call, and");
    println!(
        "         a settlement batch of 4 statements (usage row, ledger row, balance, hold closed) for 1"
    );
    println!("         (usage row); both pay the limiter's admit + release and the same upstream call. At");
    println!(
        "         c={CHAT_CONCURRENCY} the worker is saturated: those rows are mostly queueing, see req/s"
    );
    println!(
        "  d − c: what the hop to the account worker (its ACCOUNT service binding), authentication and a"
    );
    println!(
        "         limiter round trip add: the JWT verified, the user and its plan read from D1, one peek"
    );
    println!("         at the user's limiter Durable Object");
}

// ---- remote steps per path

/// The remote steps each path waits for before its upstream call, as its `Server-Timing` names
/// them (calls made in parallel share an entry), with the median of each step's duration.
async fn remote_steps(app: &TestApp) {
    const RUNS: usize = 20;
    println!();
    println!("remote steps before the upstream call (Server-Timing), median ms of {RUNS} runs each");
    let user = roomy_user(app, 100.0).await;
    let key = app.create_key(&user.token, &json!({"name": "bench"})).await["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for (credential, who) in [(&user.token, "JWT"), (&key, "API key")] {
        for (model, tier) in [(LITE_MODEL, "lite"), (PREMIUM_MODEL, "premium")] {
            for stream in [false, true] {
                let mut per_step: BTreeMap<String, Vec<f64>> = BTreeMap::new();
                let mut order: Vec<String> = Vec::new();
                for _ in 0..RUNS {
                    let response = app.chat(credential, &chat_body(model, stream)).await;
                    order.clear();
                    for (name, dur) in response.server_timing() {
                        per_step.entry(name.clone()).or_default().push(dur);
                        order.push(name);
                    }
                }
                let before = order.iter().take_while(|n| *n != "upstream").count();
                let steps: Vec<String> = order
                    .iter()
                    .map(|name| {
                        let mut values = per_step.get(name).cloned().unwrap_or_default();
                        values.sort_by(|a, b| a.total_cmp(b));
                        let median = values.get(values.len() / 2).copied().unwrap_or(0.0);
                        format!("{name} {median:.0}")
                    })
                    .collect();
                println!(
                    "  {who:<8} {tier:<8} {:<10} {before} step(s): {}",
                    if stream { "stream" } else { "non-stream" },
                    steps.join(", ")
                );
            }
        }
    }
}
