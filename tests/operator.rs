//! Running the business, end to end: upstream key pools that route around a refused or
//! rate-limited key, routes that fall back when a provider is down, and the live catalog the
//! operator edits without a redeploy. The gateway runs with an OpenAI pool of three keys (one
//! the mock does not know, one it rate-limits, one good) and a DeepSeek pool whose every key is
//! refused. The catalog is shared by this binary's tests: each edits a model of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{
    charge_micros, unique, TestApp, User, ADMIN_TOKEN, MOCK_PROVIDER_KEY, MOCK_RATE_LIMITED_KEY,
    MOCK_REVOKED_KEY,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

const VARS: &[(&str, &str)] = &[
    (
        "OPENAI_API_KEY",
        "sk-mock-revoked-key-9d04aa, sk-mock-rate-limited-key-2b81d4,sk-mock-provider-key-7f3a9c1e",
    ),
    (
        "DEEPSEEK_API_KEY",
        "sk-mock-revoked-key-9d04aa,sk-mock-revoked-key-second",
    ),
];

fn app() -> TestApp {
    assert_eq!(
        VARS[0].1.replace(' ', ""),
        format!("{MOCK_REVOKED_KEY},{MOCK_RATE_LIMITED_KEY},{MOCK_PROVIDER_KEY}")
    );
    TestApp::with_vars(VARS)
}

fn ask(model: &str, prompt: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": prompt}]})
}

async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> common::TestResponse {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

async fn put_model(app: &TestApp, id: &str, body: Value) -> common::TestResponse {
    admin(
        app,
        reqwest::Method::PUT,
        &format!("/admin/models/{id}"),
        Some(body),
    )
    .await
}

/// The key an upstream request carried.
fn key_of(request: &Value) -> String {
    let headers = &request["headers"];
    headers["authorization"]
        .as_str()
        .map(|h| h.trim_start_matches("Bearer ").to_owned())
        .or_else(|| headers["x-api-key"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn usage_rows(user: &User) -> Vec<Value> {
    let rows = common::d1_execute(&format!(
        "SELECT model, provider, route, status, price_multiplier_ppm, charged_nanos FROM usage_events WHERE user_id = {} ORDER BY created_at",
        user.id
    ));
    rows[0]["results"].as_array().cloned().unwrap_or_default()
}

async fn billed_rows(user: &User, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let rows = usage_rows(user);
        if rows.len() >= count {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("fewer than {count} usage rows for user {}", user.id);
}

fn mock_usage(body: &Value) -> flint_mock::Usage {
    let (input, cached, output, reasoning) = common::openai_usage_counts(&body["usage"]);
    flint_mock::Usage {
        input,
        cache_read: cached,
        cache_write_5m: 0,
        cache_write_1h: 0,
        output,
        reasoning,
    }
}

#[tokio::test]
async fn traffic_moves_off_a_refused_and_a_rate_limited_key_with_no_failed_request() {
    let app = app();
    let user = app.funded_user(5.0).await;
    let marker = unique("pool");
    for i in 0..6 {
        let answer = app
            .chat(&user.token, &ask("gpt-4.1-mini", &format!("{marker} #{i}")))
            .await;
        answer.expect_status(200);
        assert_eq!(answer.header("x-flint-route"), Some("openai/gpt-4.1-mini"));
    }
    let seen = app.upstream_requests(&marker).await;
    let keys: Vec<String> = seen.iter().map(key_of).collect();
    let good = keys.iter().filter(|k| *k == MOCK_PROVIDER_KEY).count();
    assert_eq!(
        good, 6,
        "each request was answered once, by the good key: {keys:?}"
    );
    // Once a key has failed, this isolate no longer sends it: the last requests go straight to
    // the good key (the first ones may have met the bad keys, here or in a parallel test).
    let last_three = &seen[seen.len() - 3..];
    assert!(
        last_three.iter().all(|r| key_of(r) == MOCK_PROVIDER_KEY),
        "{keys:?}"
    );
    assert!(
        keys.iter().filter(|k| *k == MOCK_REVOKED_KEY).count() <= 1,
        "{keys:?}"
    );
    assert!(
        keys.iter().filter(|k| *k == MOCK_RATE_LIMITED_KEY).count() <= 1,
        "{keys:?}"
    );

    // The operator sees the pool's health by fingerprint, never a key.
    let mut health = Value::Null;
    for _ in 0..50 {
        health = admin(&app, reqwest::Method::GET, "/admin/keys", None)
            .await
            .expect_status(200)
            .json();
        let openai = health["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == "openai")
            .unwrap()
            .clone();
        let states: Vec<&str> = openai["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["state"].as_str().unwrap())
            .collect();
        if states == ["out", "resting", "ok"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = health.to_string();
    assert!(
        text.contains(r#""state":"out""#) && text.contains(r#""state":"resting""#),
        "{text}"
    );
    for key in [MOCK_PROVIDER_KEY, MOCK_REVOKED_KEY, MOCK_RATE_LIMITED_KEY] {
        assert!(!text.contains(key), "a key in the operator's view: {text}");
    }
    app.assert_books_balance(&user.token).await;
}

#[tokio::test]
async fn a_provider_with_every_key_refused_falls_back_to_the_next_route_at_the_models_price() {
    let app = app();
    let user = app.funded_user(5.0).await;
    // Without a fallback route, every key refused is a 503 and costs nothing.
    let before = app.balance(&user.token).await;
    let down = app
        .chat(&user.token, &ask("deepseek-flash", &unique("down")))
        .await;
    down.expect_status(503);
    assert_eq!(
        down.json()["error"]["code"],
        "upstream_unavailable",
        "{}",
        down.text
    );
    assert!(!down.text.contains("sk-mock"), "{}", down.text);

    put_model(
        &app,
        "deepseek-v4-pro",
        json!({"routes": [
            {"provider": "deepseek", "upstream_id": "deepseek-v4-pro"},
            {"provider": "openai", "upstream_id": "gpt-4o-mini"}
        ]}),
    )
    .await
    .expect_status(200);
    let prices = app.token_prices("deepseek-v4-pro").await;
    let marker = unique("fallback");
    let served = app.chat(&user.token, &ask("deepseek-v4-pro", &marker)).await;
    served.expect_status(200);
    assert_eq!(served.header("x-flint-route"), Some("openai/gpt-4o-mini"));
    let sent = app.upstream_requests(&marker).await;
    let bodies: Vec<&str> = sent.iter().filter_map(|r| r["body"]["model"].as_str()).collect();
    assert!(bodies.contains(&"gpt-4o-mini"), "{bodies:?}");

    let charge = app.last_charge_micros(&user.token, before).await;
    assert_eq!(
        charge,
        charge_micros(&mock_usage(&served.json()), &prices),
        "priced as the model"
    );
    let rows = billed_rows(&user, 2).await;
    let fallback = rows.iter().find(|r| r["model"] == "deepseek-v4-pro").unwrap();
    assert_eq!(fallback["route"], "openai/gpt-4o-mini", "{rows:?}");
    assert_eq!(fallback["provider"], "openai");
    assert_eq!(fallback["price_multiplier_ppm"], 1_000_000);
    let failed = rows.iter().find(|r| r["model"] == "deepseek-flash").unwrap();
    assert_eq!(
        (failed["status"].as_str(), failed["charged_nanos"].as_i64()),
        (Some("upstream_error"), Some(0))
    );
    app.assert_books_balance(&user.token).await;
}

#[tokio::test]
async fn a_price_change_applies_to_the_next_request_and_not_to_one_in_flight() {
    let app = app();
    let user = app.funded_user(5.0).await;
    let old = app.token_prices("mistral-large").await;
    // A slow stream: admitted at the old prices, finished after the change.
    let mut body = ask(
        "mistral-large",
        &format!("{} [[mock delay=250 chunks=8]]", unique("flight")),
    );
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let before = app.balance(&user.token).await;
    let response = app.open_chat(&user.token, &body).await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    put_model(
        &app,
        "mistral-large",
        json!({"price_input": "20.00", "price_output": "60"}),
    )
    .await
    .expect_status(200);
    let mut text = String::from_utf8_lossy(&first).into_owned();
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let usage_chunk = common::sse_data(&text)
        .into_iter()
        .filter_map(|d| serde_json::from_str::<Value>(&d).ok())
        .find(|c| !c["usage"].is_null())
        .unwrap();
    let in_flight = app.last_charge_micros(&user.token, before).await;
    assert_eq!(
        in_flight,
        charge_micros(&mock_usage(&usage_chunk), &old),
        "the hold's prices"
    );

    let new = app.token_prices("mistral-large").await;
    assert_eq!((new.input, new.output), (20_000_000, 60_000_000));
    let before = app.balance(&user.token).await;
    let next = app
        .chat(&user.token, &ask("mistral-large", &unique("after")))
        .await;
    next.expect_status(200);
    let charge = app.last_charge_micros(&user.token, before).await;
    assert_eq!(
        charge,
        charge_micros(&mock_usage(&next.json()), &new),
        "the new prices"
    );
    // /v1/models shows the new prices at once.
    let listed = app
        .get_as(&user.token, "/v1/models/mistral-large")
        .await
        .expect_status(200)
        .json();
    assert_eq!(listed["pricing"]["input"], 20.0, "{listed}");
    app.assert_books_balance(&user.token).await;
}

#[tokio::test]
async fn a_disabled_model_is_404_everywhere_until_the_override_is_dropped() {
    let app = app();
    let user = app.funded_user(1.0).await;
    app.chat(&user.token, &ask("command-r7b", "hello"))
        .await
        .expect_status(200);
    put_model(&app, "command-r7b", json!({"enabled": false}))
        .await
        .expect_status(200);
    let refused = app.chat(&user.token, &ask("command-r7b", "hello")).await;
    refused.expect_status(404);
    assert_eq!(refused.json()["error"]["code"], "model_not_found");
    let listed = app
        .get_as(&user.token, "/v1/models")
        .await
        .expect_status(200)
        .text
        .clone();
    assert!(!listed.contains("\"command-r7b\""));
    app.get_as(&user.token, "/v1/models/command-r7b")
        .await
        .expect_status(404);

    admin(&app, reqwest::Method::DELETE, "/admin/models/command-r7b", None)
        .await
        .expect_status(200);
    app.chat(&user.token, &ask("command-r7b", "hello again"))
        .await
        .expect_status(200);
    // The open list follows within its ten seconds.
    let mut shown = false;
    for _ in 0..60 {
        if app.get_models("").await.text.contains("\"command-r7b\"") {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(shown, "/api/models never listed the model again");
}

#[tokio::test]
async fn a_remapped_upstream_id_reaches_the_provider() {
    let app = app();
    let user = app.funded_user(1.0).await;
    put_model(&app, "glm-4.6", json!({"upstream_id": "glm-4.6-remapped-0611"}))
        .await
        .expect_status(200);
    let marker = unique("remap");
    let answer = app.chat(&user.token, &ask("glm-4.6", &marker)).await;
    answer.expect_status(200);
    assert_eq!(
        answer.json()["model"],
        "glm-4.6",
        "the client sees the model it asked for"
    );
    assert_eq!(
        answer.header("x-flint-route"),
        Some("zhipu/glm-4.6-remapped-0611")
    );
    let sent = app.upstream_requests(&marker).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["body"]["model"], "glm-4.6-remapped-0611");
}

#[tokio::test]
async fn an_operator_adds_a_model_and_an_alias_and_takes_the_alias_back() {
    let app = app();
    let user = app.funded_user(1.0).await;
    let id = unique("house-llama").to_ascii_lowercase();
    let row = json!({
        "id": id, "name": "House Llama", "company": "Meta", "provider": "together",
        "upstream_id": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "tier": "premium", "category": "chat",
        "price_input": "1.00", "price_output": "2.00", "price_weighted": "1.50",
        "price_per_image": null, "price_cache_read": null, "price_cache_write": null,
        "context_length": 131072, "max_output_tokens": 4096
    });
    admin(&app, reqwest::Method::POST, "/admin/models", Some(row.clone()))
        .await
        .expect_status(200);
    admin(&app, reqwest::Method::POST, "/admin/models", Some(row))
        .await
        .expect_status(409);
    let alias = format!("{id}-fast");
    admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin/models/{id}/aliases"),
        Some(json!({"alias": alias})),
    )
    .await
    .expect_status(200);

    let before = app.balance(&user.token).await;
    let answer = app.chat(&user.token, &ask(&alias, "hello")).await;
    answer.expect_status(200);
    let prices = common::TokenPrices {
        input: 1_000_000,
        output: 2_000_000,
        cache_read: 1_000_000,
        cache_write: 1_000_000,
    };
    assert_eq!(
        app.last_charge_micros(&user.token, before).await,
        charge_micros(&mock_usage(&answer.json()), &prices)
    );

    admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/models/{id}/aliases/{alias}"),
        None,
    )
    .await
    .expect_status(200);
    app.chat(&user.token, &ask(&alias, "hello"))
        .await
        .expect_status(404);
    app.chat(&user.token, &ask(&id, "hello")).await.expect_status(200);
    admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/models/{id}"),
        None,
    )
    .await
    .expect_status(200);
    app.chat(&user.token, &ask(&id, "hello")).await.expect_status(404);
    app.assert_books_balance(&user.token).await;
}

#[tokio::test]
async fn bad_catalog_edits_are_refused_and_change_nothing() {
    let app = app();
    let model = "nemotron-3-super";
    let before = app.token_prices(model).await;
    for (body, status) in [
        (json!({"price_input": "-1"}), 400),
        (json!({"price_input": 3}), 400),
        (json!({"price_cache_read": "99"}), 400),
        (json!({"routes": []}), 400),
        (
            json!({"routes": [{"provider": "nowhere", "upstream_id": "x"}]}),
            400,
        ),
        (json!({"aliases": ["x"]}), 400),
        (json!({"surprise": true}), 400),
        (json!({}), 400),
    ] {
        let answer = put_model(&app, model, body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.text);
        assert!(answer.json()["error"]["message"].is_string());
    }
    put_model(&app, "no-such-model", json!({"enabled": false}))
        .await
        .expect_status(404);
    admin(
        &app,
        reqwest::Method::POST,
        "/admin/models/gpt-4o/aliases",
        Some(json!({"alias": "gpt-4o-mini"})),
    )
    .await
    .expect_status(400);
    let anonymous = app
        .send(
            app.client
                .put(format!("{}/admin/models/{model}", app.url))
                .json(&json!({"enabled": false})),
        )
        .await;
    anonymous.expect_status(401);
    app.get("/admin/keys").await.expect_status(401);
    admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/models/{model}"),
        None,
    )
    .await
    .expect_status(404);
    admin(
        &app,
        reqwest::Method::DELETE,
        "/admin/models/gpt-4o/aliases/gpt-4o-2024-11-20",
        None,
    )
    .await
    .expect_status(404);
    let after = app.token_prices(model).await;
    assert_eq!((before.input, before.output), (after.input, after.output));
    let user = app.funded_user(1.0).await;
    app.chat(&user.token, &ask(model, "still here"))
        .await
        .expect_status(200);
}
