//! The web console in a real browser: Debian's headless Chromium driven by `playwright-core`
//! (tests/console/*.test.mjs, through Node's test runner) against this binary's `wrangler dev`,
//! which serves the console's static assets and the API on one origin. Screenshots of every page
//! go to target/console/ for review.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::Command;

fn chromium() -> PathBuf {
    let path =
        PathBuf::from(std::env::var("FLINT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()));
    assert!(
        path.is_file(),
        "{} is missing: `make test` installs Debian's chromium package (scripts/setup.sh); by hand: \
         apt-get install -y chromium, or set FLINT_CHROMIUM to a Chromium binary",
        path.display()
    );
    path
}

#[test]
fn the_console_works_in_a_browser_for_a_customer_and_an_operator() {
    let browser = chromium();
    let gateway = common::gateway();
    let root = common::repo_root();
    let shots = root.join("target/console");
    std::fs::create_dir_all(&shots).unwrap();
    let output = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .arg(root.join("tests/console/console.test.mjs"))
        .current_dir(&root)
        .env("FLINT_URL", &gateway.url)
        .env("FLINT_MOCK_URL", &gateway.mock_url)
        .env("FLINT_ADMIN_TOKEN", common::ADMIN_TOKEN)
        .env("FLINT_CHROMIUM", &browser)
        .env("FLINT_SCREENSHOTS", &shots)
        .output()
        .expect("run node --test");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{report}");
    assert!(
        output.status.success(),
        "the console's browser tests failed (screenshots in {}; wrangler's log {}):\n{report}",
        shots.display(),
        gateway.wrangler_log.display()
    );
}

#[tokio::test]
async fn the_console_is_served_at_the_root_and_api_paths_stay_the_workers() {
    let app = common::TestApp::new();
    let page = app.client.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Its headers (build/console/_headers): no framing, a script policy of its own origin only.
    let policy = page
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'"),
        "{policy:?}"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<script type=\"module\" src=\"/app.js\"></script>"),
        "{html}"
    );
    let script = app
        .client
        .get(format!("{}/app.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    // API paths reach the worker: its JSON answers and its 404 envelope, never index.html.
    app.get("/api/models").await.expect_status(200);
    let missing = app.get("/api/nope").await;
    missing.expect_status(404);
    assert!(missing.json()["detail"]["error"].is_string());
    let config = app.get("/api/console/config").await;
    config.expect_status(200);
    let config = config.json();
    assert_eq!(config["google_client_id"], common::GOOGLE_CLIENT_ID);
    assert_eq!(config["yandex_client_id"], common::YANDEX_CLIENT_ID);
    assert_eq!(config["payments"], true);
    assert!(config["plans"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "pro" && p["monthly_price_rub"] == 990));
}

/// The console's session: the token handed over once comes back as an HttpOnly cookie, which
/// authenticates only with `X-Flint-Session: cookie` beside it.
#[tokio::test]
async fn a_session_token_becomes_an_httponly_cookie_that_needs_its_header() {
    let app = common::TestApp::new();
    let user = app.new_user().await;
    let answer = app
        .send(
            app.client
                .post(format!("{}/api/auth/session", app.url))
                .bearer_auth(&user.token),
        )
        .await;
    answer.expect_status(200);
    let cookie = answer.header("set-cookie").unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("flint_session={};", user.token)),
        "{cookie}"
    );
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
    let pair = format!("flint_session={}", user.token);
    let me = |header: bool| {
        let mut request = app
            .client
            .get(format!("{}/auth/me", app.url))
            .header("Cookie", &pair);
        if header {
            request = request.header("X-Flint-Session", "cookie");
        }
        app.send(request)
    };
    assert_eq!(me(true).await.expect_status(200).json()["user"]["id"], user.id);
    // The cookie alone, as another site's form would send it, is not a credential.
    me(false).await.expect_status(401);
    // An API key can't become a cookie, and one put in the cookie is not taken.
    let key = app.key_secret(&user.token, "k").await;
    app.send(
        app.client
            .post(format!("{}/api/auth/session", app.url))
            .bearer_auth(&key),
    )
    .await
    .expect_status(403);
    app.send(
        app.client
            .get(format!("{}/auth/me", app.url))
            .header("Cookie", format!("flint_session={key}"))
            .header("X-Flint-Session", "cookie"),
    )
    .await
    .expect_status(401);
    // Signing out clears it.
    let out = app
        .send(app.client.delete(format!("{}/api/auth/session", app.url)))
        .await;
    out.expect_status(200);
    assert!(out.header("set-cookie").unwrap().starts_with("flint_session=; "));
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn usage_by_day_model_and_key_counts_what_was_charged() {
    let app = common::TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app
        .create_key(&user.token, &serde_json::json!({"name": "reporting"}))
        .await;
    let key_secret = key["key"].as_str().unwrap();
    let chat = serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]});
    app.chat(key_secret, &chat).await.expect_status(200);
    app.chat(&user.token, &chat).await.expect_status(200);
    app.wait_for_balance_below(&user.token, 5.0).await;
    let spent = 5.0 - app.balance(&user.token).await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let report = loop {
        let report = app.get_as(&user.token, "/api/usage?days=7").await;
        report.expect_status(200);
        let report = report.json();
        let today = &report["daily"][6];
        if today["requests"] == 2 || std::time::Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(report["days"], 7);
    let daily = report["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 7);
    assert!(daily[..6]
        .iter()
        .all(|d| d["requests"] == 0 && d["cost_usd"] == 0.0));
    let today = &daily[6];
    assert_eq!(today["requests"], 2, "{report}");
    assert!(today["tokens_in"].as_i64().unwrap() > 0);
    let cost = today["cost_usd"].as_f64().unwrap();
    assert!((cost - spent).abs() < 1e-6, "{cost} charged vs {spent} spent");
    assert_eq!(report["by_model"][0]["model"], "gpt-4o");
    assert_eq!(report["by_model"][0]["requests"], 2);
    let by_key = report["by_key"].as_array().unwrap();
    assert_eq!(by_key.len(), 2);
    assert!(by_key
        .iter()
        .any(|k| k["key_id"] == key["id"] && k["name"] == "reporting" && k["requests"] == 1));
    assert!(by_key.iter().any(|k| k["key_id"].is_null() && k["requests"] == 1));
    assert_eq!(
        app.get_as(&user.token, "/api/usage?days=30").await.json()["daily"]
            .as_array()
            .unwrap()
            .len(),
        30
    );
    let bad = app.get_as(&user.token, "/api/usage?days=31").await;
    bad.expect_status(400);
    assert_eq!(bad.json()["detail"]["param"], "days");
    // Someone else sees nothing of it.
    let other = app.new_user().await;
    let theirs = app.get_as(&other.token, "/api/usage?days=7").await.json();
    assert_eq!(theirs["by_model"], serde_json::json!([]));
}

#[tokio::test]
async fn the_return_page_reads_a_payment_checked_at_yookassa_and_credited_once() {
    let app = common::TestApp::new();
    let user = app.new_user().await;
    let payment = app
        .post_as(
            &user.token,
            "/api/billing/topup",
            &serde_json::json!({"amount_usd": 10}),
        )
        .await;
    payment.expect_status(200);
    let id = payment.json()["payment_id"].as_str().unwrap().to_owned();
    let path = format!("/api/billing/payments/{id}");
    let pending = app.get_as(&user.token, &path).await;
    pending.expect_status(200);
    assert_eq!(pending.json()["status"], "pending");
    assert_eq!(pending.json()["amount_usd"], 10.0);
    assert_eq!(app.balance(&user.token).await, 0.0);
    // The payer pays at YooKassa; no notification has come yet.
    let paid = app
        .client
        .post(format!("{}/__mock/yookassa/payments/{id}/succeed", app.mock_url))
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success());
    let done = app.get_as(&user.token, &path).await;
    done.expect_status(200);
    assert_eq!(done.json()["status"], "succeeded");
    assert_eq!(app.balance(&user.token).await, 10.0);
    // Read again, and the notification arriving late: still credited once.
    app.get_as(&user.token, &path).await.expect_status(200);
    app.post_json(
        "/api/billing/webhook/yookassa",
        &serde_json::json!({"type": "notification", "event": "payment.succeeded", "object": {"id": id}}),
    )
    .await
    .expect_status(200);
    assert_eq!(app.assert_books_balance(&user.token).await, 10.0);
    assert_eq!(app.history(&user.token).await.len(), 1);
    // Another user's payment id is unknown to them.
    let other = app.new_user().await;
    let theirs = app.get_as(&other.token, &path).await;
    theirs.expect_status(404);
    assert_eq!(theirs.json()["detail"]["code"], "payment_not_found");
}
