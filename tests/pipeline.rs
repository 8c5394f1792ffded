//! The metered pipeline's stories: how many remote steps a request waits for before its
//! upstream call, billing a client that leaves a long stream, a settlement that fails once, the
//! sweeper charging a dead request's prompt (and leaving a live one alone), holds sized on what
//! is really sent, and prompts too long for the model. A gateway of its own: a short drain
//! window and hold timeout, so these stories take seconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{unique, TestApp, User};
use futures_util::StreamExt;
use serde_json::{json, Value};

const DRAIN_SECS: u64 = 3;

/// Some stories need the gateway to themselves (one locks the whole database, one writes to it
/// from outside, one sends an 11 MiB body): they take this for writing, the others for reading.
static GATEWAY_ALONE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn app() -> TestApp {
    TestApp::with_vars(&[
        ("DRAIN_AFTER_DISCONNECT_SECS", "3"),
        ("HOLD_TIMEOUT_SECS", "6"),
        ("LEASE_SECS", "10"),
    ])
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn ask(model: &str, prompt: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": prompt}]})
}

async fn usage_rows(user: &User) -> Vec<Value> {
    let rows = common::d1_execute(&format!(
        "SELECT status, tokens_in, tokens_out, estimated, cost_nanos, charged_nanos FROM usage_events WHERE user_id = {}",
        user.id
    ));
    rows[0]["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn every_path_waits_for_at_most_two_remote_steps_before_the_upstream() {
    let _turn = GATEWAY_ALONE.read().await;
    let app = app();
    let user = app.funded_user(5.0).await;
    let key = app.key_secret(&user.token, "steps").await;
    for credential in [&user.token, &key] {
        for model in ["gpt-4o-mini", "gpt-5.1"] {
            for stream in [false, true] {
                let mut body = ask(model, &unique("steps"));
                body["stream"] = json!(stream);
                let response = app.chat(credential, &body).await;
                response.expect_status(200);
                let steps = response.timing_steps();
                let upstream = steps.iter().position(|s| s == "upstream");
                assert!(upstream.is_some(), "{model} stream={stream}: {steps:?}");
                assert!(
                    upstream.unwrap() <= 2,
                    "{model} stream={stream}: more than two remote steps before the upstream: {steps:?}"
                );
                assert_eq!(steps[..upstream.unwrap()], ["auth", "admit+hold"], "{steps:?}");
            }
        }
    }
    // An error answer names the steps it took too, and no more.
    let broke = app.new_user().await;
    let refused = app.chat(&broke.token, &ask("gpt-5.1", &unique("broke"))).await;
    refused.expect_status(402);
    assert_eq!(refused.timing_steps(), ["auth", "admit+hold"]);
    assert!(refused.header("x-ratelimit-limit").is_some());
}

#[tokio::test]
async fn a_client_that_leaves_a_long_stream_is_billed_for_what_was_generated_within_the_drain_window() {
    let _turn = GATEWAY_ALONE.read().await;
    let app = app();
    let user = app.funded_user(5.0).await;
    // Forty chunks a second apart: a 40-second answer.
    let body = json!({"model": "gpt-5.1", "stream": true,
                      "messages": [{"role": "user", "content": format!("{} [[mock delay=1000 chunks=40]]", unique("long"))}]});
    let response = app.open_chat(&user.token, &body).await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 2 {
        seen.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
    }
    drop(stream);
    let left = Instant::now();
    let rows = loop {
        let rows = usage_rows(&user).await;
        if !rows.is_empty() {
            break rows;
        }
        assert!(
            left.elapsed() < Duration::from_secs(DRAIN_SECS + 12),
            "not billed {} s after the client left",
            left.elapsed().as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let billed_after = left.elapsed();
    let row = &rows[0];
    assert_eq!(row["status"], "client_gone", "{row}");
    // The upstream reports usage only at its end: what was received is estimated.
    assert_eq!(row["estimated"], 1, "{row}");
    let want = flint_mock::expected_answer(
        flint_mock::Provider::OpenAi,
        &body,
        &flint_mock::Defaults::default(),
    )
    .unwrap();
    let whole = (want.prompt_tokens * 4_900_000 + want.completion_tokens * 39_200_000).div_ceil(1000);
    let charged = row["charged_nanos"].as_u64().unwrap();
    assert!(charged > 0, "{row}");
    assert!(
        charged < whole,
        "charged {charged} of a whole answer's {whole}: {row}"
    );
    assert!(
        billed_after >= Duration::from_secs(DRAIN_SECS - 1),
        "billed {billed_after:?} after the client left, before the drain window closed"
    );
    let balance = app.assert_books_balance(&user.token).await;
    assert_eq!(balance, (5_000_000 - charged / 1000) as f64 / 1e6);
}

/// Holds an exclusive lock on the gateway's D1 database for `hold`, as a busy or failing
/// database would; the gateway's writes meanwhile fail with SQLITE_BUSY.
fn lock_d1_for(hold: Duration) -> std::process::Child {
    let state = common::gateway().state_dir.join("state");
    let script = format!(
        r#"
import glob, sqlite3, sys, time
files = [f for f in glob.glob("{dir}/**/*.sqlite", recursive=True) if "D1" in f]
conns = []
for f in files:
    c = sqlite3.connect(f, timeout=10, isolation_level=None)
    c.execute("BEGIN EXCLUSIVE")
    conns.append(c)
print(len(conns), flush=True)
time.sleep({secs})
for c in conns:
    c.execute("ROLLBACK")
"#,
        dir = state.display(),
        secs = hold.as_secs_f64()
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(
        line.trim().parse::<u32>().unwrap() >= 1,
        "no D1 database file under {state:?}"
    );
    child
}

#[tokio::test]
async fn a_settlement_that_fails_is_retried_until_it_lands() {
    let _turn = GATEWAY_ALONE.write().await;
    let app = app();
    let user = app.funded_user(5.0).await;
    let body = ask(
        "gpt-5.1",
        &format!("{} [[mock delay=400 chunks=5]]", unique("retry")),
    );
    let request = app.chat(&user.token, &body);
    let lock = async {
        // The answer is under way (admitted, held) when the database goes away for 2.5 s.
        tokio::time::sleep(Duration::from_millis(700)).await;
        tokio::task::spawn_blocking(|| lock_d1_for(Duration::from_millis(2500)))
            .await
            .unwrap()
    };
    let (answer, mut locker) = tokio::join!(request, lock);
    answer.expect_status(200);
    let request_id = answer.header("x-request-id").unwrap().to_owned();
    locker.wait().unwrap();
    let cost = answer.json()["usage"]["cost_usd"].as_f64().unwrap();
    app.wait_for_balance(&user.token, ((5.0 - cost) * 1e6).round() / 1e6)
        .await;
    app.assert_books_balance(&user.token).await;
    let log = std::fs::read_to_string(&common::gateway().wrangler_log).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains(&request_id) && l.contains("settle attempt 1 failed")),
        "the first settlement did not fail: the fault was not injected"
    );
}

#[tokio::test]
async fn the_sweeper_charges_a_dead_requests_prompt_and_leaves_a_streaming_one_alone() {
    // It writes to the database from outside the gateway, which makes the gateway's own writes
    // meanwhile fail as busy: the other stories wait.
    let _turn = GATEWAY_ALONE.write().await;
    let app = app();
    // A live request: streams for ~20 s, well past the 6-second hold timeout.
    let live = app.funded_user(2.0).await;
    let body = json!({"model": "gpt-5.1", "stream": true,
                      "messages": [{"role": "user", "content": format!("{} [[mock delay=1000 chunks=20]]", unique("live"))}]});
    let streaming = app.chat(&live.token, &body);
    // A dead request: its worker placed a hold a minute ago and died.
    let dead = app.funded_user(2.0).await;
    let request_id = unique("dead");
    common::d1_execute(&format!(
        "INSERT INTO holds (request_id, user_id, amount_nanos, prompt_cost_nanos, prompt_tokens, model, provider, created_at, renewed_at)
         VALUES ('{request_id}', {}, 500000000, 100000000, 20000, 'gpt-5.1', 'openai', {now}, {now})",
        dead.id,
        now = now_secs() - 60
    ));
    let sweep = async {
        tokio::time::sleep(Duration::from_secs(8)).await;
        app.run_sweeper().await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        common::d1_execute(&format!(
            "SELECT status FROM holds WHERE user_id = {} AND status = 'open'",
            live.id
        ))[0]["results"]
            .as_array()
            .unwrap()
            .len()
    };
    let (answer, live_open_holds) = tokio::join!(streaming, sweep);
    assert_eq!(live_open_holds, 1, "the streaming request's hold was swept");
    answer.expect_status(200);
    assert!(answer.text.contains("[DONE]"));
    // The dead one: its prompt charged, never the whole hold, never released for free.
    assert_eq!(
        common::hold_settlement(&request_id),
        json!({"status": "settled", "charged_nanos": 100000000})
    );
    assert_eq!(app.assert_books_balance(&dead.token).await, 1.9);
    let usage = usage_rows(&dead).await;
    assert_eq!(usage[0]["status"], "abandoned");
    // The live one was billed as usual once it finished.
    let rows = loop {
        let rows = usage_rows(&live).await;
        if !rows.is_empty() {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(rows[0]["status"], "ok");
    assert!(app.assert_books_balance(&live.token).await < 2.0);
}

#[tokio::test]
async fn a_schema_stuffed_with_a_document_is_held_and_charged_for_all_of_it() {
    let _turn = GATEWAY_ALONE.read().await;
    let app = app();
    // ~150k tokens hidden in a JSON schema's description, asking for one output token: the
    // Anthropic translation pastes the schema into the system prompt.
    let document = "lorem ipsum dolor sit amet ".repeat(20_000);
    let body = |marker: &str| {
        json!({"model": "claude-sonnet-4.5", "max_tokens": 1,
               "messages": [{"role": "user", "content": marker}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "doc", "schema": {"type": "object", "description": document}}}})
    };
    let small = app.funded_user(0.10).await;
    let refused = app.chat(&small.token, &body(&unique("stuffed"))).await;
    refused.expect_status(402);
    assert_eq!(refused.json()["error"]["code"], "insufficient_quota");
    assert_eq!(app.assert_books_balance(&small.token).await, 0.10);

    let rich = app.funded_user(20.0).await;
    let marker = unique("stuffed");
    let answer = app
        .chat(&rich.token, &body(&marker))
        .await
        .expect_status(200)
        .json();
    let prompt = answer["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 100_000, "the upstream saw the document: {prompt} tokens");
    // claude-sonnet-4.5: $12 in, $60 out per 1M tokens.
    let out = answer["usage"]["completion_tokens"].as_u64().unwrap();
    let cost = (prompt * 12_000_000 + out * 60_000_000)
        .div_ceil(1000)
        .div_ceil(1000);
    assert_eq!(answer["usage"]["cost_usd"].as_f64(), Some(cost as f64 / 1e6));
}

#[tokio::test]
async fn prompts_that_cannot_fit_are_refused_before_anything_is_consumed() {
    // An 11 MiB body is a large share of an isolate's 128 MB: it runs alone.
    let _turn = GATEWAY_ALONE.write().await;
    let app = app();
    let user = app.new_user().await;
    // 11 MiB to a 128k-token model on Stone's chat.
    let marker = unique("huge");
    let huge = format!("{marker} {}", "a".repeat(11 * 1024 * 1024));
    let response = app
        .post_as(
            &user.token,
            "/api/chat",
            &json!({"model_id": "gpt-4o-mini", "messages": [{"role": "user", "content": huge}]}),
        )
        .await;
    response.expect_status(400);
    let detail = &response.json()["detail"];
    assert_eq!(detail["code"], "context_length_exceeded", "{detail}");
    assert_eq!(detail["param"], "messages");

    // One token past phi-4's 16,384: ceil(chars / 4) + 4 per message.
    let funded = app.funded_user(1.0).await;
    let past = "b".repeat(4 * (16_384 + 1 - 4));
    let response = app.chat(&funded.token, &ask("phi-4", &past)).await;
    response.expect_status(400);
    let error = &response.json()["error"];
    assert_eq!(
        (error["code"].as_str(), error["param"].as_str()),
        (Some("context_length_exceeded"), Some("messages"))
    );
    // Exactly the window fits.
    let fits = "b".repeat(4 * (16_384 - 4));
    app.chat(&funded.token, &ask("phi-4", &fits))
        .await
        .expect_status(200);

    // Free use stops at MAX_PROMPT_TOKENS_LITE (32,000) for a user with nothing to pay with.
    let long = format!("{} {}", unique("free"), "c".repeat(4 * 33_000));
    let response = app.chat(&user.token, &ask("gpt-4o-mini", &long)).await;
    response.expect_status(400);
    assert_eq!(response.json()["error"]["code"], "context_length_exceeded");

    // Nothing was consumed: no allowance, no charge, no upstream call.
    for _ in 0..20 {
        let me = app.get_as(&user.token, "/auth/me").await.json();
        if me["usage"]["requestsToday"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let me = app.get_as(&user.token, "/auth/me").await.json();
    assert_eq!(me["usage"]["requestsToday"], 0, "{me}");
    assert_eq!(me["usage"]["remaining"], 15, "{me}");
    assert!(app.upstream_requests(&marker).await.is_empty());
    assert!(app.assert_books_balance(&funded.token).await < 1.0);
}

#[tokio::test]
async fn an_image_request_over_the_rate_limit_gets_the_same_429_as_chat() {
    let _turn = GATEWAY_ALONE.read().await;
    let app = app();
    let user = app.funded_user(1.0).await;
    app.set_plan(user.id, "enterprise", json!({"rpm": 1}))
        .await
        .expect_status(200);
    let body = json!({"model": "flux-schnell", "prompt": unique("img")});
    app.post_as(&user.token, "/v1/images/generations", &body)
        .await
        .expect_status(200);
    let refused = app.post_as(&user.token, "/v1/images/generations", &body).await;
    refused.expect_status(429);
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(
        error["message"].as_str().unwrap().contains("`enterprise` plan"),
        "{error}"
    );
    assert!(refused.header("retry-after").is_some());
    assert_eq!(refused.header("x-ratelimit-remaining-requests"), Some("0"));
}
