//! Money and limits end to end: holds under concurrency, the free allowance, RPM / TPM /
//! concurrency limits and their headers, failures and disconnects, top-ups and their webhook,
//! the operator's credit. After each story the books must balance: the balance equals credits
//! minus charges, and it is never negative.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{sse_data, unique, TestApp, User};
use futures_util::future::join_all;
use futures_util::StreamExt;
use serde_json::{json, Value};

fn ask(model: &str, prompt: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": prompt}]})
}

/// A user with room to run many requests at once, so only the limit under test binds.
async fn roomy_user(app: &TestApp, usd: f64, overrides: Value) -> User {
    let user = if usd > 0.0 {
        app.funded_user(usd).await
    } else {
        app.new_user().await
    };
    let mut limits = json!({"rpm": 10000, "tpm": 100000000, "concurrent_requests": 100});
    for (k, v) in overrides.as_object().unwrap() {
        limits[k] = v.clone();
    }
    app.set_plan(user.id, "enterprise", limits)
        .await
        .expect_status(200);
    user
}

/// The user as the operator's lookup shows them.
async fn operator_view(app: &TestApp, user: &User) -> Value {
    let found = app
        .send(
            app.client
                .get(format!("{}/admin/users", app.url))
                .query(&[("email", &user.email)])
                .bearer_auth(common::ADMIN_TOKEN),
        )
        .await
        .json();
    found["users"][0].clone()
}

async fn available(app: &TestApp, user: &User) -> f64 {
    operator_view(app, user).await["available_usd"].as_f64().unwrap()
}

#[tokio::test]
async fn thirty_concurrent_premium_requests_never_spend_more_than_the_balance() {
    let app = TestApp::new();
    // Each hold is about $0.004 (100 output tokens of gpt-5.1 at $39.20/1M, plus the prompt).
    let user = roomy_user(&app, 0.045, json!({})).await;
    let requests = (0..30).map(|i| {
        let mut body = ask(
            "gpt-5.1",
            &format!("{} [[mock delay=100 chunks=5]]", unique(&format!("c{i}"))),
        );
        body["max_tokens"] = json!(100);
        let app = &app;
        let token = user.token.clone();
        async move { app.chat(&token, &body).await }
    });
    let responses = join_all(requests).await;
    let ok: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<_> = responses.iter().filter(|r| r.status != 200).collect();
    assert!(!ok.is_empty(), "nothing was admitted");
    assert!(!refused.is_empty(), "30 holds fit a balance meant for about 10");
    for response in &refused {
        response.expect_status(402);
        assert_eq!(response.json()["error"]["code"], "insufficient_quota");
    }
    let charged: f64 = ok
        .iter()
        .map(|r| r.json()["usage"]["cost_usd"].as_f64().unwrap())
        .sum();
    let balance = app.assert_books_balance(&user.token).await;
    assert!(
        (0.045 - charged - balance).abs() < 1e-5,
        "charged {charged}, left {balance}"
    );
    assert_eq!(
        available(&app, &user).await,
        balance,
        "every hold was settled or released"
    );
}

#[tokio::test]
async fn twenty_parallel_lite_requests_against_an_allowance_of_fifteen_get_exactly_fifteen_free() {
    let app = TestApp::new();
    let user = roomy_user(&app, 0.0, json!({"daily_lite_requests": 15})).await;
    let bodies: Vec<Value> = (0..20)
        .map(|i| {
            ask(
                "gpt-4o-mini",
                &format!("{} [[mock delay=50 chunks=3]]", unique(&format!("l{i}"))),
            )
        })
        .collect();
    let requests = bodies.iter().map(|body| app.chat(&user.token, body));
    let responses = join_all(requests).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 15, "{statuses:?}");
    for response in responses.iter().filter(|r| r.status != 200) {
        response.expect_status(429);
        let error = &response.json()["error"];
        assert_eq!(error["code"], "free_quota_exhausted");
        assert!(response.header("retry-after").is_some());
    }
    let me = app.get_as(&user.token, "/auth/me").await.json();
    assert_eq!(me["usage"]["remaining"], 0);
    assert_eq!(me["usage"]["freeRequestsToday"], 15);
    assert_eq!(app.assert_books_balance(&user.token).await, 0.0);
}

#[tokio::test]
async fn past_the_allowance_lite_requests_are_charged_per_token_from_the_balance() {
    let app = TestApp::new();
    let user = roomy_user(&app, 1.0, json!({"daily_lite_requests": 1})).await;
    let first = app
        .post_as(
            &user.token,
            "/api/chat",
            &json!({"messages": [{"role": "user", "content": unique("f1")}]}),
        )
        .await;
    let second = app
        .post_as(
            &user.token,
            "/api/chat",
            &json!({"messages": [{"role": "user", "content": unique("f2")}]}),
        )
        .await;
    let billing = |text: &str| -> Value {
        let events = sse_data(text);
        serde_json::from_str::<Value>(&events[events.len() - 2]).unwrap()["billing"].clone()
    };
    assert_eq!(billing(&first.text)["billing_mode"], "free");
    assert_eq!(billing(&first.text)["cost_usd"], json!(0.0));
    let paid = billing(&second.text);
    assert_eq!(paid["billing_mode"], "per_token");
    assert!(paid["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(
        paid["balance_usd"].as_f64(),
        Some(app.assert_books_balance(&user.token).await)
    );
}

#[tokio::test]
async fn the_rpm_limit_refuses_with_retry_after_and_headers_on_every_response() {
    let app = TestApp::new();
    let user = roomy_user(&app, 0.0, json!({"rpm": 3})).await;
    for i in 0..3 {
        let response = app
            .chat(&user.token, &ask("gpt-4o-mini", &unique(&format!("r{i}"))))
            .await;
        response.expect_status(200);
        assert_eq!(response.header("x-ratelimit-limit-requests"), Some("3"));
        assert_eq!(
            response.header("x-ratelimit-remaining-requests"),
            Some(&*(2 - i).to_string())
        );
        for header in [
            "x-ratelimit-reset-requests",
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(response.header(header).is_some(), "{header} missing");
        }
    }
    let refused = app.chat(&user.token, &ask("gpt-4o-mini", &unique("r4"))).await;
    refused.expect_status(429);
    assert_eq!(refused.json()["error"]["code"], "rate_limit_exceeded");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(refused.header("x-ratelimit-remaining-requests"), Some("0"));
    let reset: i64 = refused.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(reset > now && reset <= now + 61, "reset {reset}, now {now}");
    // Other authenticated routes carry the headers too.
    for path in ["/auth/me", "/api/keys", "/v1/models"] {
        let response = app.get_as(&user.token, path).await;
        assert!(response.header("x-ratelimit-limit").is_some(), "{path}");
        assert!(
            response.header("x-ratelimit-remaining-requests").is_some(),
            "{path}"
        );
    }
    // Unauthenticated ones don't.
    assert!(app.get("/api/models").await.header("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn the_tpm_limit_counts_reserved_tokens_then_corrects_them() {
    let app = TestApp::new();
    let user = roomy_user(&app, 0.0, json!({"tpm": 5000})).await;
    let mut body = ask(
        "gpt-4o-mini",
        &format!("{} [[mock delay=400 chunks=4]]", unique("t1")),
    );
    body["max_tokens"] = json!(4000);
    let slow = app.chat(&user.token, &body);
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut body = ask("gpt-4o-mini", &unique("t2"));
        body["max_tokens"] = json!(4000);
        app.chat(&user.token, &body).await
    };
    let (slow, second) = tokio::join!(slow, second);
    slow.expect_status(200);
    second.expect_status(429);
    assert!(second.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tokens per minute"));
    // The first is over and was corrected to the few tokens it used: there is room again.
    let mut third = ask("gpt-4o-mini", &unique("t3"));
    third["max_tokens"] = json!(4000);
    app.chat(&user.token, &third).await.expect_status(200);
}

#[tokio::test]
async fn the_concurrency_limit_holds_a_slot_per_request_in_flight() {
    let app = TestApp::new();
    let user = roomy_user(&app, 0.0, json!({"concurrent_requests": 1})).await;
    let slow_body = ask(
        "gpt-4o-mini",
        &format!("{} [[mock delay=300 chunks=4]]", unique("s")),
    );
    let slow = app.chat(&user.token, &slow_body);
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.chat(&user.token, &ask("gpt-4o-mini", &unique("s2"))).await
    };
    let (slow, second) = tokio::join!(slow, second);
    slow.expect_status(200);
    second.expect_status(429);
    assert!(second.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at a time"));
    app.chat(&user.token, &ask("gpt-4o-mini", &unique("s3")))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_is_charged_for_what_was_generated() {
    let app = TestApp::new();
    let user = roomy_user(&app, 5.0, json!({})).await;
    let body = json!({"model": "gpt-5.1", "stream": true,
                      "messages": [{"role": "user", "content": format!("{} [[mock delay=100 chunks=10]]", unique("mid"))}]});
    let response = app.open_chat(&user.token, &body).await;
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches("data: ").count() < 4 {
        seen.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
    }
    drop(stream);
    let want = flint_mock::expected_answer(
        flint_mock::Provider::OpenAi,
        &body,
        &flint_mock::Defaults::default(),
    )
    .unwrap();
    let nanos = (want.prompt_tokens * 4_900_000 + want.completion_tokens * 39_200_000).div_ceil(1000);
    let expected = (5_000_000 - nanos.div_ceil(1000)) as f64 / 1e6;
    app.wait_for_balance(&user.token, expected).await;
    app.assert_books_balance(&user.token).await;
}

#[tokio::test]
async fn an_upstream_that_fails_before_the_first_byte_costs_nothing_and_frees_the_hold() {
    let app = TestApp::new();
    let user = roomy_user(&app, 2.0, json!({"daily_lite_requests": 1})).await;
    for stream in [false, true] {
        let mut body = ask("gpt-5.1", &format!("{} [[mock status=500]]", unique("fail")));
        body["stream"] = json!(stream);
        app.chat(&user.token, &body).await.expect_status(502);
    }
    assert_eq!(app.assert_books_balance(&user.token).await, 2.0);
    assert_eq!(available(&app, &user).await, 2.0);
    // A failed lite request gives its free request back.
    app.chat(
        &user.token,
        &ask("gpt-4o-mini", &format!("{} [[mock status=503]]", unique("lf"))),
    )
    .await;
    let me = app.get_as(&user.token, "/auth/me").await.json();
    assert_eq!(me["usage"]["remaining"], 1, "{me}");
}

#[tokio::test]
async fn a_stream_without_upstream_usage_is_charged_by_the_estimate_never_zero() {
    let app = TestApp::new();
    let user = roomy_user(&app, 2.0, json!({})).await;
    let body = json!({"model": "gpt-5.1", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": format!("{} [[mock no_usage]]", unique("est"))}]});
    let events = sse_data(&app.chat(&user.token, &body).await.text);
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["estimated"], true);
    assert!(usage["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(app.assert_books_balance(&user.token).await < 2.0);
}

// ---- the operator's credit

#[tokio::test]
async fn an_admin_credit_replayed_credits_once() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let reference = unique("invoice");
    let first = app
        .credit(user.id, 12.5, &reference)
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        (first["amount_usd"].as_f64(), first["replayed"].as_bool()),
        (Some(12.5), Some(false))
    );
    let again = app
        .credit(user.id, 12.5, &reference)
        .await
        .expect_status(200)
        .json();
    assert_eq!(again["replayed"], true);
    assert_eq!(again["id"], first["id"]);
    let concurrent = join_all((0..5).map(|_| app.credit(user.id, 12.5, &reference))).await;
    assert!(concurrent.iter().all(|r| r.status == 200));
    assert_eq!(app.assert_books_balance(&user.token).await, 12.5);
    // The first credit moves a free user to pay-as-you-go.
    assert_eq!(
        app.get_as(&user.token, "/auth/me").await.json()["user"]["plan"],
        "payg"
    );
}

#[tokio::test]
async fn admin_routes_need_the_admin_token_and_name_unknown_users() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let no_token = app
        .post_json(
            &format!("/admin/users/{}/credit", user.id),
            &json!({"amount_usd": 1, "reference": "x"}),
        )
        .await;
    no_token.expect_status(401);
    let as_user = app
        .post_as(
            &user.token,
            &format!("/admin/users/{}/credit", user.id),
            &json!({"amount_usd": 1, "reference": "x"}),
        )
        .await;
    as_user.expect_status(401);
    app.credit(987_654_321, 1.0, &unique("nobody"))
        .await
        .expect_status(404);
    for bad in [json!(-1), json!(0), json!("ten"), json!(1e9)] {
        let response = app
            .send(
                app.client
                    .post(format!("{}/admin/users/{}/credit", app.url, user.id))
                    .bearer_auth(common::ADMIN_TOKEN)
                    .json(&json!({"amount_usd": bad, "reference": unique("b")})),
            )
            .await;
        response.expect_status(400);
    }
    app.set_plan(user.id, "platinum", Value::Null)
        .await
        .expect_status(400);
    app.set_plan(user.id, "enterprise", json!({"rpm": 0}))
        .await
        .expect_status(400);
}

// ---- top-ups through YooKassa

async fn topup(app: &TestApp, user: &User, body: Value) -> Value {
    app.post_as(&user.token, "/api/billing/topup", &body)
        .await
        .expect_status(200)
        .json()
}

async fn notify(app: &TestApp, payment_id: &str) -> common::TestResponse {
    app.post_json(
        "/api/billing/webhook/yookassa",
        &json!({"type": "notification", "event": "payment.succeeded", "object": {"id": payment_id, "status": "succeeded", "amount": {"value": "999999.00", "currency": "RUB"}}}),
    )
    .await
}

async fn mock_pays(app: &TestApp, payment_id: &str) {
    let response = app
        .client
        .post(format!(
            "{}/__mock/yookassa/payments/{payment_id}/succeed",
            app.mock_url
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn a_topup_is_credited_once_after_yookassa_confirms_it() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let payment = topup(&app, &user, json!({"amount_rub": 925})).await;
    assert_eq!(payment["amount_rub"], json!(925.0));
    assert_eq!(payment["amount_usd"], json!(10.0));
    assert!(payment["confirmation_url"].as_str().unwrap().starts_with("http"));
    let id = payment["payment_id"].as_str().unwrap();
    let created = app
        .upstream_requests(&format!("\"user_id\":\"{}\"", user.id))
        .await;
    let create = created
        .iter()
        .find(|r| r["method"] == "POST")
        .expect("the payment was created at YooKassa");
    assert_eq!(
        create["body"]["amount"],
        json!({"value": "925.00", "currency": "RUB"})
    );
    assert!(create["headers"]["idempotence-key"].is_string());
    assert!(create["headers"]["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Basic "));

    // A notification before the payment succeeded credits nothing (YooKassa says pending).
    notify(&app, id).await.expect_status(200);
    assert_eq!(app.balance(&user.token).await, 0.0);
    mock_pays(&app, id).await;
    notify(&app, id).await.expect_status(200);
    assert_eq!(app.balance(&user.token).await, 10.0);
    // Replayed, even concurrently: still once.
    join_all((0..4).map(|_| notify(&app, id)))
        .await
        .iter()
        .for_each(|r| assert_eq!(r.status, 200));
    assert_eq!(app.assert_books_balance(&user.token).await, 10.0);
    let entries = app.history(&user.token).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["kind"], "topup");
    assert_eq!(entries[0]["reference"], format!("yookassa:{id}"));
}

#[tokio::test]
async fn a_forged_notification_credits_nothing() {
    let app = TestApp::new();
    let user = app.new_user().await;
    notify(&app, "2c5f0000-000f-5000-9000-1b2c3d4e5f60")
        .await
        .expect_status(200);
    let payment = topup(&app, &user, json!({"amount_usd": 5})).await;
    // Claims success for a payment that was never paid: YooKassa says otherwise.
    notify(&app, payment["payment_id"].as_str().unwrap())
        .await
        .expect_status(200);
    assert_eq!(app.balance(&user.token).await, 0.0);
    app.post_json("/api/billing/webhook/yookassa", &json!({"hello": "world"}))
        .await
        .expect_status(400);
}

#[tokio::test]
async fn a_topup_in_dollars_buys_at_least_that_many_dollars() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let payment = topup(&app, &user, json!({"amount_usd": 3.33})).await;
    // 3.33 × 92.5 = 308.025 RUB → 308.03 RUB.
    assert_eq!(payment["amount_rub"], json!(308.03));
    let id = payment["payment_id"].as_str().unwrap();
    mock_pays(&app, id).await;
    notify(&app, id).await.expect_status(200);
    assert!(app.assert_books_balance(&user.token).await >= 3.33);
}

#[tokio::test]
async fn a_month_of_pro_is_bought_the_same_way() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let payment = topup(&app, &user, json!({"plan": "pro"})).await;
    assert_eq!(payment["amount_rub"], json!(990.0));
    let id = payment["payment_id"].as_str().unwrap();
    mock_pays(&app, id).await;
    notify(&app, id).await.expect_status(200);
    let me = app.get_as(&user.token, "/auth/me").await.json();
    assert_eq!(me["user"]["plan"], "pro");
    assert_eq!(me["usage"]["limit"], 500);
    assert!(me["user"]["planExpiresAt"].is_string());
    assert_eq!(app.assert_books_balance(&user.token).await, 0.0);
}

#[tokio::test]
async fn bad_topups_are_400s() {
    let app = TestApp::new();
    let user = app.new_user().await;
    for (body, param) in [
        (json!({}), "amount_rub"),
        (json!({"amount_rub": 100, "amount_usd": 1}), "amount_rub"),
        (json!({"amount_rub": 1}), "amount_rub"),
        (json!({"amount_rub": 10.001}), "amount_rub"),
        (json!({"amount_usd": -5}), "amount_usd"),
        (json!({"plan": "free"}), "plan"),
    ] {
        let response = app.post_as(&user.token, "/api/billing/topup", &body).await;
        response.expect_status(400);
        assert_eq!(response.json()["detail"]["param"], param, "{body}");
    }
}

#[tokio::test]
async fn the_history_pages_newest_first() {
    let app = TestApp::new();
    let user = app.new_user().await;
    for i in 0..5 {
        app.credit(user.id, 1.0 + f64::from(i), &unique("h"))
            .await
            .expect_status(200);
    }
    let first = app
        .get_as(&user.token, "/api/billing/history?limit=2")
        .await
        .expect_status(200)
        .json();
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    assert_eq!(first["entries"][0]["amount_usd"], json!(5.0));
    assert_eq!(first["entries"][0]["balance_usd"], json!(15.0));
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_as(
            &user.token,
            &format!("/api/billing/history?limit=2&cursor={cursor}"),
        )
        .await
        .json();
    assert_eq!(second["entries"][0]["amount_usd"], json!(3.0));
    assert_eq!(app.history(&user.token).await.len(), 5);
    app.get_as(&user.token, "/api/billing/history?limit=0")
        .await
        .expect_status(400);
    // Another user sees only their own.
    let other = app.new_user().await;
    assert!(app.history(&other.token).await.is_empty());
}

#[tokio::test]
async fn an_upstream_that_ignores_max_tokens_is_charged_its_actual_cost_within_the_balance() {
    let app = TestApp::new();
    let user = roomy_user(&app, 1.0, json!({})).await;
    let mut body = ask(
        "gpt-5.1",
        &format!("{} [[mock chunks=400 max_tokens_ignored]]", unique("over")),
    );
    body["max_tokens"] = json!(2);
    let answer = app.chat(&user.token, &body).await.expect_status(200).json();
    let want = flint_mock::expected_answer(
        flint_mock::Provider::OpenAi,
        &body,
        &flint_mock::Defaults::default(),
    )
    .unwrap();
    assert_eq!(
        answer["usage"]["completion_tokens"].as_u64(),
        Some(want.completion_tokens)
    );
    assert!(want.completion_tokens > 2);
    // More than a hold sized for 2 output tokens: the whole cost is charged (rounded up to the
    // micro-dollar), because the balance covers it.
    let formula = (want.prompt_tokens * 4_900_000 + want.completion_tokens * 39_200_000).div_ceil(1000);
    let charged = (answer["usage"]["cost_usd"].as_f64().unwrap() * 1e9).round() as u64;
    assert_eq!(charged, formula.div_ceil(1000) * 1000, "formula {formula}");
    let balance = app.assert_books_balance(&user.token).await;
    assert!((1.0 - balance - answer["usage"]["cost_usd"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(available(&app, &user).await, balance);
    let rows = common::d1_execute(&format!(
        "SELECT cost_nanos, charged_nanos FROM usage_events WHERE user_id = {}",
        user.id
    ));
    let row = &rows[0]["results"][0];
    assert_eq!(row["cost_nanos"].as_u64(), Some(formula));
    assert_eq!(row["charged_nanos"].as_u64(), Some(charged), "{row}");
}

#[tokio::test]
async fn an_overrun_past_the_balance_stops_at_zero_with_the_remainder_on_record() {
    let app = TestApp::new();
    // Enough for the hold of a 2-token answer, far from enough for 400 chunks of gpt-5.1.
    let user = roomy_user(&app, 0.002, json!({})).await;
    let mut body = ask(
        "gpt-5.1",
        &format!("{} [[mock chunks=400 max_tokens_ignored]]", unique("broke")),
    );
    body["max_tokens"] = json!(2);
    let answer = app.chat(&user.token, &body).await.expect_status(200).json();
    assert_eq!(app.assert_books_balance(&user.token).await, 0.0);
    assert_eq!(answer["usage"]["cost_usd"].as_f64(), Some(0.002));
    let rows = common::d1_execute(&format!(
        "SELECT cost_nanos, charged_nanos FROM usage_events WHERE user_id = {}",
        user.id
    ));
    let row = &rows[0]["results"][0];
    assert_eq!(row["charged_nanos"].as_u64(), Some(2_000_000), "{row}");
    assert!(row["cost_nanos"].as_u64().unwrap() > 2_000_000, "{row}");
}

// ---- exactness past the small cases

#[tokio::test]
async fn ten_credits_of_a_million_dollars_add_up_exactly() {
    let app = TestApp::new();
    let user = app.new_user().await;
    // $10,000,000 is 10^16 nano-USD, past 2^53: a double can no longer hold every amount.
    for i in 0..10 {
        let entry = app
            .credit(user.id, 1_000_000.0, &unique(&format!("million{i}")))
            .await
            .expect_status(200)
            .json();
        assert_eq!(entry["balance_usd"], json!(1_000_000.0 * f64::from(i + 1)));
    }
    // One nano-dollar more, through an exact path: the balance is 10^16 + 1000 nanos.
    app.credit(user.id, 0.000001, &unique("micro"))
        .await
        .expect_status(200);
    let me = app
        .get_as(&user.token, "/auth/me")
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["user"]["balance_usd"], json!(10_000_000.000001));
    assert_eq!(app.assert_books_balance(&user.token).await, 10_000_000.000001);
}

// ---- refunds

/// A user with `rub` paid in through YooKassa; the payment's id.
async fn paid_user(app: &TestApp, rub: u32) -> (User, String) {
    let user = app.new_user().await;
    let payment = topup(app, &user, json!({"amount_rub": rub})).await;
    let id = payment["payment_id"].as_str().unwrap().to_owned();
    mock_pays(app, &id).await;
    notify(app, &id).await.expect_status(200);
    (user, id)
}

/// The shop refunds `rub` of a payment at (mock) YooKassa, as from its dashboard.
async fn yookassa_refunds(app: &TestApp, payment_id: &str, rub: &str) -> Value {
    let response = app
        .client
        .post(format!("{}/yookassa/v3/refunds", app.mock_url))
        .basic_auth("123456", Some("test_secret_yookassa"))
        .header("Idempotence-Key", unique("refund"))
        .json(&json!({"payment_id": payment_id, "amount": {"value": rub, "currency": "RUB"}}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.json().await.unwrap()
}

async fn notify_refund(app: &TestApp, refund: &Value) -> common::TestResponse {
    app.post_json(
        "/api/billing/webhook/yookassa",
        &json!({"type": "notification", "event": "refund.succeeded", "object": refund}),
    )
    .await
}

async fn flags(app: &TestApp, user: &User) -> Vec<Value> {
    operator_view(app, user).await["flags"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_refund_yookassa_confirms_is_debited_once() {
    let app = TestApp::new();
    let (user, payment_id) = paid_user(&app, 925).await;
    assert_eq!(app.balance(&user.token).await, 10.0);
    let refund = yookassa_refunds(&app, &payment_id, "462.50").await;
    notify_refund(&app, &refund).await.expect_status(200);
    assert_eq!(app.balance(&user.token).await, 5.0);
    // Replayed, even concurrently: once.
    for response in join_all((0..4).map(|_| notify_refund(&app, &refund))).await {
        response.expect_status(200);
    }
    assert_eq!(app.assert_books_balance(&user.token).await, 5.0);
    let entries = app.history(&user.token).await;
    assert_eq!(entries[0]["kind"], "refund");
    assert_eq!(entries[0]["amount_usd"], json!(-5.0));
    assert_eq!(
        entries[0]["reference"],
        format!("yookassa-refund:{}", refund["id"].as_str().unwrap())
    );
    assert!(flags(&app, &user).await.is_empty());
}

#[tokio::test]
async fn a_refund_of_money_already_spent_stops_the_balance_at_zero_and_flags_the_account() {
    let app = TestApp::new();
    let (user, payment_id) = paid_user(&app, 925).await;
    // Some of it is spent.
    app.chat(&user.token, &ask("gpt-4o", &unique("spend")))
        .await
        .expect_status(200);
    app.wait_for_balance_below(&user.token, 10.0).await;
    let left = app.balance(&user.token).await;
    let refund = yookassa_refunds(&app, &payment_id, "925.00").await;
    notify_refund(&app, &refund).await.expect_status(200);
    assert_eq!(app.balance(&user.token).await, 0.0);
    assert_eq!(app.assert_books_balance(&user.token).await, 0.0);
    let entries = app.history(&user.token).await;
    assert_eq!(entries[0]["kind"], "refund");
    assert_eq!(entries[0]["amount_usd"], json!(-left));
    let flags = flags(&app, &user).await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["reason"], "refund_shortfall");
    let shortfall: i64 = flags[0]["detail"]["shortfall_nanos"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(shortfall > 0 && shortfall < 10_000_000_000, "{shortfall}");
}

#[tokio::test]
async fn a_forged_refund_notification_debits_nothing() {
    let app = TestApp::new();
    let (user, payment_id) = paid_user(&app, 925).await;
    // YooKassa knows no such refund; the notification's own amount is never believed.
    let forged = json!({"id": "2c5f0000-0015-5000-9000-1b2c3d4e5f60", "payment_id": payment_id,
                        "status": "succeeded", "amount": {"value": "925.00", "currency": "RUB"}});
    notify_refund(&app, &forged).await.expect_status(200);
    // An absurd id is ignored (and never logged whole).
    let junk = json!({"id": "x".repeat(5000), "payment_id": payment_id});
    notify_refund(&app, &junk).await.expect_status(200);
    assert_eq!(app.assert_books_balance(&user.token).await, 10.0);
}

// ---- redemption codes

async fn create_codes(app: &TestApp, body: &Value) -> common::TestResponse {
    app.post_as(common::ADMIN_TOKEN, "/admin/codes", body).await
}

#[tokio::test]
async fn a_single_use_code_credits_once_under_twenty_concurrent_redemptions() {
    let app = TestApp::new();
    let batch = create_codes(&app, &json!({"amount_usd": 2.5, "count": 2, "note": "launch"}))
        .await
        .expect_status(200)
        .json();
    let codes: Vec<String> = batch["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 2);
    assert_ne!(codes[0], codes[1]);
    // Made one after another: twenty password hashes at once would only test the CPU.
    let mut users = Vec::new();
    for _ in 0..20 {
        users.push(app.new_user().await);
    }
    let attempts = join_all(users.iter().map(|user| async {
        app.post_as(&user.token, "/api/billing/redeem", &json!({"code": codes[0]}))
            .await
    }))
    .await;
    let statuses: Vec<u16> = attempts.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 200 || s == 409), "{statuses:?}");
    let refused = attempts.iter().find(|r| r.status == 409).unwrap();
    assert_eq!(
        refused.json()["detail"]["code"],
        "code_used_up",
        "{}",
        refused.text
    );
    let mut credited = 0.0;
    for user in &users {
        let balance = app.assert_books_balance(&user.token).await;
        credited += balance;
        if balance > 0.0 {
            let entries = app.history(&user.token).await;
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0]["kind"], "redeem");
            assert_eq!(entries[0]["amount_usd"], json!(2.5));
        }
    }
    assert_eq!(credited, 2.5);
    // The second code, typed loosely, works once per user; the operator's list shows no code.
    let user = &users[0];
    let loose = codes[1].to_lowercase().replace('-', " ");
    app.post_as(&user.token, "/api/billing/redeem", &json!({"code": loose}))
        .await
        .expect_status(200);
    let listed = app.get_as(common::ADMIN_TOKEN, "/admin/codes").await;
    listed.expect_status(200);
    assert!(!listed.text.contains(&codes[1][6..]), "{}", listed.text);
    let mine = listed.json()["batches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["batch_id"] == batch["batch_id"])
        .cloned()
        .unwrap();
    assert_eq!(mine["redeemed"], 2);
    assert_eq!(mine["note"], "launch");
}

#[tokio::test]
async fn a_multi_use_code_credits_each_user_once_and_wrong_codes_are_throttled() {
    let app = TestApp::new();
    let batch = create_codes(
        &app,
        &json!({"amount_usd": 1, "count": 1, "uses_per_code": 3, "expires_at": "2099-12-31"}),
    )
    .await
    .expect_status(200)
    .json();
    let code = batch["codes"][0].as_str().unwrap().to_owned();
    let user = app.new_user().await;
    app.post_as(&user.token, "/api/billing/redeem", &json!({"code": code}))
        .await
        .expect_status(200);
    let again = app
        .post_as(&user.token, "/api/billing/redeem", &json!({"code": code}))
        .await;
    again.expect_status(409);
    assert_eq!(again.json()["detail"]["code"], "code_already_redeemed");
    assert_eq!(app.assert_books_balance(&user.token).await, 1.0);

    // Wrong codes: ten an hour, then 429 with Retry-After — even for a right one.
    let guesser = app.new_user().await;
    for i in 0..10 {
        let wrong = app
            .post_as(
                &guesser.token,
                "/api/billing/redeem",
                &json!({"code": format!("FLINT-WRONG-{i:05}")}),
            )
            .await;
        wrong.expect_status(400);
        assert_eq!(wrong.json()["detail"]["code"], "invalid_code");
    }
    let blocked = app
        .post_as(&guesser.token, "/api/billing/redeem", &json!({"code": code}))
        .await;
    blocked.expect_status(429);
    assert!(blocked.header("retry-after").is_some());
    assert_eq!(app.balance(&guesser.token).await, 0.0);

    // The operator's API: bad batches are 400s naming the field; no token, no codes.
    for (body, param) in [
        (json!({"amount_usd": 0, "count": 1}), "amount_usd"),
        (json!({"amount_usd": 1, "count": 0}), "count"),
        (json!({"amount_usd": 1, "count": 1001}), "count"),
        (
            json!({"amount_usd": 1, "count": 1, "expires_at": "2001-01-01"}),
            "expires_at",
        ),
        (
            json!({"amount_usd": 1, "count": 1, "uses_per_code": 0}),
            "uses_per_code",
        ),
    ] {
        let refused = create_codes(&app, &body).await;
        refused.expect_status(400);
        assert_eq!(refused.json()["error"]["param"], param, "{body}");
    }
    app.post_as(&user.token, "/admin/codes", &json!({"amount_usd": 1, "count": 1}))
        .await
        .expect_status(401);
}

// ---- usage analytics

#[tokio::test]
async fn usage_by_day_model_and_key_adds_up_to_the_ledger() {
    let app = TestApp::new();
    let user = app.funded_user(5.0).await;
    let key = app.create_key(&user.token, &json!({"name": "reports"})).await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    let key = key["key"].as_str().unwrap().to_owned();
    for (token, model) in [
        (&user.token, "gpt-5.1"),
        (&user.token, "claude-sonnet-4.5"),
        (&key, "gpt-5.1"),
    ] {
        app.chat(token, &ask(model, &unique("usage")))
            .await
            .expect_status(200);
    }
    // Bills settle in the background: wait until the three charges are in the ledger.
    let mut charges = Vec::new();
    for _ in 0..100 {
        charges = app
            .history(&user.token)
            .await
            .into_iter()
            .filter(|e| e["kind"] == "charge")
            .collect();
        if charges.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(charges.len(), 3);
    let charged: i64 = charges
        .iter()
        .map(|e| (e["amount_usd"].as_f64().unwrap() * -1e6).round() as i64)
        .sum();
    let micros = |v: &Value| (v.as_f64().unwrap() * 1e6).round() as i64;
    for group in ["day", "model", "key"] {
        let report = app
            .get_as(&user.token, &format!("/api/usage?group={group}"))
            .await
            .expect_status(200)
            .json();
        let rows = report["rows"].as_array().unwrap();
        let sum: i64 = rows.iter().map(|r| micros(&r["cost_usd"])).sum();
        assert_eq!(sum, charged, "{group}: {report}");
        assert_eq!(micros(&report["totals"]["cost_usd"]), charged);
        assert_eq!(report["totals"]["requests"], 3, "{report}");
        match group {
            "model" => assert_eq!(rows.len(), 2, "{report}"),
            "key" => {
                let by_key = rows.iter().find(|r| r["key_id"] == key_id.as_str()).unwrap();
                assert_eq!(by_key["requests"], 1);
                assert!(rows.iter().any(|r| r["key_id"].is_null() && r["requests"] == 2));
            }
            _ => assert_eq!(rows.len(), 1, "{report}"),
        }
    }
    let csv = app.get_as(&user.token, "/api/usage?group=model&format=csv").await;
    csv.expect_status(200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(
        lines[0],
        "model,requests,input_tokens,cached_tokens,output_tokens,cost_usd"
    );
    assert_eq!(lines.len(), 3, "{}", csv.text);
    // The operator sees the same for this user, and the user among the top users.
    let admin = app
        .get_as(
            common::ADMIN_TOKEN,
            &format!("/admin/usage?group=model&user_id={}", user.id),
        )
        .await
        .expect_status(200)
        .json();
    assert_eq!(micros(&admin["totals"]["cost_usd"]), charged);
    assert_eq!(admin["top_users"][0]["user_id"], user.id);
    // Bad queries are 400s naming the parameter; another user's usage is not reachable.
    let refused = app.get_as(&user.token, "/api/usage?from=last-week").await;
    refused.expect_status(400);
    assert_eq!(refused.json()["detail"]["param"], "from");
    app.get_as(&user.token, &format!("/api/usage?user_id={}", user.id + 1))
        .await
        .expect_status(400);
    let stranger = app.new_user().await;
    let theirs = app
        .get_as(&stranger.token, "/api/usage")
        .await
        .expect_status(200)
        .json();
    assert_eq!(theirs["totals"]["requests"], 0);
}

// ---- key budgets

#[tokio::test]
async fn a_key_budget_stops_the_key_at_its_cap_and_nothing_else() {
    let app = TestApp::new();
    let user = roomy_user(&app, 5.0, json!({})).await;
    let created = app
        .create_key(
            &user.token,
            &json!({"name": "capped", "budget_usd": 0.003, "budget_period": "day"}),
        )
        .await;
    assert_eq!(created["budget"], json!({"usd": 0.003, "period": "day"}));
    let key = created["key"].as_str().unwrap().to_owned();
    let small = |marker: &str| json!({"model": "gpt-5.1", "max_tokens": 20, "messages": [{"role": "user", "content": marker}]});
    let mut refused = None;
    let mut answered = 0;
    for _ in 0..30 {
        let response = app.chat(&key, &small(&unique("budget"))).await;
        if response.status == 402 {
            refused = Some(response);
            break;
        }
        response.expect_status(200);
        answered += 1;
        // Each bill settles in the background; the budget counts what is settled and held.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let refused = refused.expect("the budget refused a request");
    assert!(answered >= 2, "{answered} requests before the cap");
    let error = refused.json();
    assert_eq!(error["error"]["code"], "key_budget_exceeded", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("$0.003 per day"), "{message}");
    // What the key spent stays under its cap; the account itself is not stopped.
    let spent: f64 = app
        .history(&user.token)
        .await
        .iter()
        .filter(|e| e["kind"] == "charge")
        .map(|e| -e["amount_usd"].as_f64().unwrap())
        .sum();
    assert!(spent <= 0.003 + 1e-9, "spent {spent}");
    app.chat(&user.token, &small(&unique("session")))
        .await
        .expect_status(200);
    let listed = app
        .get_as(&user.token, "/api/keys")
        .await
        .expect_status(200)
        .json();
    assert_eq!(listed["keys"][0]["budget"]["period"], "day", "{listed}");
    // Bad budgets are 400s naming the field.
    for (body, param) in [
        (json!({"name": "x", "budget_usd": 0}), "budget_usd"),
        (
            json!({"name": "x", "budget_usd": 1, "budget_period": "week"}),
            "budget_period",
        ),
        (json!({"name": "x", "budget_period": "day"}), "budget_usd"),
    ] {
        let response = app.post_as(&user.token, "/api/keys", &body).await;
        response.expect_status(400);
        assert_eq!(response.json()["detail"]["param"], param, "{body}");
    }
    app.assert_books_balance(&user.token).await;
}

// ---- price groups

async fn put_plan_price(app: &TestApp, plan: &str, body: &Value) -> common::TestResponse {
    app.send(
        app.client
            .put(format!("{}/admin/plans/{plan}", app.url))
            .bearer_auth(common::ADMIN_TOKEN)
            .json(body),
    )
    .await
}

#[tokio::test]
async fn a_plans_price_group_multiplies_every_charge() {
    let app = TestApp::new();
    // pro_plus is used by no other test of this binary: its price group is this test's alone.
    put_plan_price(&app, "pro_plus", &json!({"price_multiplier": 0.5}))
        .await
        .expect_status(200);
    let grouped = roomy_user(&app, 5.0, json!({})).await;
    app.set_plan(grouped.id, "pro_plus", Value::Null)
        .await
        .expect_status(200);
    let me = app
        .get_as(&grouped.token, "/auth/me")
        .await
        .expect_status(200)
        .json();
    assert_eq!(me["price_multiplier"], 0.5);
    let plain = roomy_user(&app, 5.0, json!({})).await;
    let body = ask("gpt-5.1", "the same words for both");
    let grouped_cost = app.chat(&grouped.token, &body).await.expect_status(200).json()["usage"]["cost_usd"]
        .as_f64()
        .unwrap();
    let plain_cost = app.chat(&plain.token, &body).await.expect_status(200).json()["usage"]["cost_usd"]
        .as_f64()
        .unwrap();
    // Half the prices (rounded up per 1M tokens), then up to the micro-dollar.
    let (g, p) = (
        (grouped_cost * 1e6).round() as i64,
        (plain_cost * 1e6).round() as i64,
    );
    assert!(g < p && g >= p / 2 && g <= p / 2 + 1, "{g} vs {p}");
    app.assert_books_balance(&grouped.token).await;
    // Bad multipliers and plans are refused by name.
    for (plan, body, status) in [
        ("pro_plus", json!({"price_multiplier": 0}), 400),
        ("pro_plus", json!({"price_multiplier": 11}), 400),
        ("platinum", json!({"price_multiplier": 0.9}), 404),
    ] {
        put_plan_price(&app, plan, &body).await.expect_status(status);
    }
}
