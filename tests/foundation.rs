//! The foundation, end to end against `wrangler dev`: health, the catalog and the error envelopes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn the_deep_health_check_touches_d1_the_durable_object_r2_and_the_account_worker() {
    let app = TestApp::new();
    let response = app.deep_health().await;
    response.expect_status(200);
    let body = response.json();
    assert_eq!(body["status"], "ok");
    for check in ["d1", "durable_object", "r2", "account_worker", "config"] {
        assert_eq!(body["checks"][check]["ok"], true, "{check}: {body}");
    }
    // Seeded plans prove the schema is loaded; the probe counter proves the DO's storage writes.
    assert_eq!(body["checks"]["d1"]["plans"], 5);
    let before = body["checks"]["durable_object"]["probes"].as_i64().unwrap();
    let after = app.deep_health().await.json()["checks"]["durable_object"]["probes"]
        .as_i64()
        .unwrap();
    assert!(
        after > before,
        "the durable object's counter should advance: {before} -> {after}"
    );
}

/// An account route answered behind the gateway keeps its CORS and rate-limit headers, the
/// request id a client sees finds the account worker's log line, and a client can't choose that
/// id. (That it is the gateway's own id is not visible from outside: the gateway logs nothing for
/// a request it forwards.)
#[tokio::test]
async fn an_account_route_keeps_its_headers_and_a_request_id_the_client_cannot_choose() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let planted = "req_0123456789abcdef01234567";
    let response = app
        .send(
            app.client
                .get(format!("{}/auth/me", app.url))
                .bearer_auth(&user.token)
                .header("X-Flint-Request-Id", planted),
        )
        .await;
    response.expect_status(200);
    let id = response.header("X-Request-Id").unwrap().to_owned();
    assert!(id.starts_with("req_") && id.len() == 28, "{id}");
    assert_ne!(id, planted, "a client chose the request id");
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
    assert!(response.header("X-RateLimit-Limit").is_some());
    // The account worker logs a failure under the id the client was given.
    let email = format!("fail-mail-{}@example.com", common::unique("id"));
    let failed = app.send_code(&email).await;
    failed.expect_status(503);
    let id = failed.header("X-Request-Id").unwrap().to_owned();
    // wrangler writes the log a moment after the answer.
    let mut log = String::new();
    for _ in 0..50 {
        log = std::fs::read_to_string(&common::gateway().wrangler_log).unwrap();
        if log
            .lines()
            .any(|line| line.contains(&id) && line.contains("mail API answered 500"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no log line under {id}:\n{log}");
}

#[tokio::test]
async fn the_public_health_check_is_liveness_that_touches_no_binding() {
    let app = TestApp::new();
    let probes = || async {
        app.deep_health().await.json()["checks"]["durable_object"]["probes"]
            .as_i64()
            .unwrap()
    };
    let before = probes().await;
    for _ in 0..5 {
        let body = app.health().await.expect_status(200).json();
        assert_eq!(body, json!({"status": "ok", "checks": {"config": {"ok": true}}}));
    }
    // Only the two deep checks wrote to the Durable Object (others may run in parallel, so
    // compare against a run of public checks that would have added five).
    let after = probes().await;
    assert!(
        after - before < 5,
        "public checks wrote to the DO: {before} -> {after}"
    );
    // A wrong bearer gets no deep check.
    let wrong = app
        .send(
            app.client
                .get(format!("{}/health", app.url))
                .bearer_auth("not-the-admin-token"),
        )
        .await;
    wrong.expect_status(401);
}

#[tokio::test]
async fn every_response_has_a_request_id_and_cors_headers() {
    let app = TestApp::new();
    let ok = app.get("/api/models").await;
    let missing = app.get("/nowhere").await;
    for response in [&ok, &missing] {
        let id = response.header("x-request-id").expect("X-Request-Id");
        assert!(id.starts_with("req_") && id.len() > 10, "{id}");
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    }
    assert_ne!(ok.header("x-request-id"), missing.header("x-request-id"));
}

#[tokio::test]
async fn a_cors_preflight_is_answered_for_known_routes() {
    let app = TestApp::new();
    let response = app
        .send(
            app.client
                .request(Method::OPTIONS, format!("{}/v1/models", app.url))
                .header("Origin", "https://app.example")
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "authorization"),
        )
        .await;
    response.expect_status(204);
    assert!(response
        .header("access-control-allow-methods")
        .unwrap()
        .contains("GET"));
    assert!(response
        .header("access-control-allow-headers")
        .unwrap()
        .contains("Authorization"));
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
}

fn ids(body: &Value) -> Vec<&str> {
    body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_catalog_lists_fifty_models_from_fifteen_companies() {
    let app = TestApp::new();
    let body = app.get_models("").await.expect_status(200).json();
    let models = body["models"].as_array().unwrap();
    assert!(models.len() >= 50, "{} models", models.len());
    let companies: std::collections::HashSet<_> =
        models.iter().map(|m| m["company"].as_str().unwrap()).collect();
    assert!(companies.len() >= 15, "{companies:?}");
    for model in models {
        for field in [
            "id",
            "name",
            "company",
            "tier",
            "category",
            "price_weighted",
            "price_input",
            "price_output",
            "context_length",
        ] {
            assert!(model.get(field).is_some(), "{field} missing in {model}");
        }
    }
}

#[tokio::test]
async fn the_lite_filter_lists_exactly_five_models_with_the_seed_prices() {
    let app = TestApp::new();
    let body = app.get_models("tier=lite").await.expect_status(200).json();
    let lite = ids(&body);
    assert_eq!(lite.len(), 5, "{lite:?}");
    assert!(lite.contains(&"gpt-4o-mini") && lite.contains(&"claude-haiku-4.5"));
    let mini = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(
        mini,
        &json!({"id": "gpt-4o-mini", "name": "GPT-4o mini", "company": "OpenAI", "tier": "lite", "category": "chat",
                "price_weighted": 2.5, "price_input": 0.9, "price_output": 3.6,
                "price_cache_read": 0.45, "price_cache_write": null, "context_length": "128K"})
    );
}

#[tokio::test]
async fn the_seed_price_table_is_served_exactly() {
    let app = TestApp::new();
    let body = app.get_models("").await.json();
    let by_id = |id: &str| {
        body["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap()
    };
    for (id, input, output, weighted) in [
        ("claude-haiku-4.5", 3.2, 16.0, 11.0),
        ("gpt-5.1", 4.9, 39.2, 26.0),
        ("claude-opus-4", 37.5, 187.5, 130.0),
        ("gemini-2.5-pro", 5.0, 40.0, 26.0),
    ] {
        let model = by_id(id);
        assert_eq!(
            (model["price_input"].as_f64(), model["price_output"].as_f64()),
            (Some(input), Some(output)),
            "{id}"
        );
        assert_eq!(model["price_weighted"].as_f64(), Some(weighted), "{id}");
    }
    let flux = by_id("flux-schnell");
    assert_eq!(flux["price_weighted"], json!(0.012));
    assert_eq!(
        (flux["price_input"].clone(), flux["price_output"].clone()),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn filters_combine_ignore_case_and_unknown_values_give_an_empty_list() {
    let app = TestApp::new();
    let openai_lite = app.get_models("tier=LITE&company=openai").await.json();
    assert_eq!(ids(&openai_lite), vec!["gpt-4o-mini"]);
    let images = app.get_models("category=Image").await.json();
    assert!(ids(&images).contains(&"flux-schnell"));
    assert!(images["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["category"] == "image"));
    let anthropic = app.get_models("company=Anthropic&tier=premium").await.json();
    assert!(!ids(&anthropic).is_empty());
    assert!(anthropic["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["company"] == "Anthropic" && m["tier"] == "premium"));
    let unknown = app.get_models("tier=platinum").await.expect_status(200).json();
    assert_eq!(unknown, json!({"models": []}));
}

#[tokio::test]
async fn v1_models_is_an_openai_list_and_models_resolve_by_alias() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let list = app
        .get_as(&user.token, "/v1/models")
        .await
        .expect_status(200)
        .json();
    assert_eq!(list["object"], "list");
    let first = &list["data"][0];
    assert_eq!(first["object"], "model");
    assert!(first["created"].is_u64() && first["owned_by"].is_string());
    let model = app
        .get_as(&user.token, "/v1/models/claude-haiku-4-5")
        .await
        .expect_status(200)
        .json();
    assert_eq!(model["id"], "claude-haiku-4.5");
    let same = app
        .get_as(&user.token, "/ai/v1/models/claude-haiku-4.5")
        .await
        .expect_status(200)
        .json();
    assert_eq!(model, same);
}

#[tokio::test]
async fn an_unknown_model_is_404_model_not_found() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let response = app.get_as(&user.token, "/v1/models/gpt-17-ultra").await;
    response.expect_status(404);
    let error = &response.json()["error"];
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["type"], "invalid_request_error");
    assert!(error["message"].as_str().unwrap().contains("gpt-17-ultra"));
}

/// The OpenAI envelope: exactly message, type, param and code.
fn assert_openai_error(body: &Value, code: &str) {
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("not an OpenAI error: {body}"));
    let mut keys: Vec<_> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "param", "type"], "{body}");
    assert_eq!(error["code"], code, "{body}");
}

/// The Stone envelope: `detail.error` is the message.
fn assert_stone_error(body: &Value, code: &str) {
    assert!(body["detail"]["error"].is_string(), "not a Stone error: {body}");
    assert_eq!(body["detail"]["code"], code, "{body}");
}

#[tokio::test]
async fn unknown_routes_are_404_in_each_familys_envelope() {
    let app = TestApp::new();
    let stone = app.get("/api/nothing-here").await;
    stone.expect_status(404);
    assert_stone_error(&stone.json(), "route_not_found");
    for path in ["/v1/nothing", "/ai/v1/nothing", "/auth/nothing", "/nothing"] {
        let response = app.get(path).await;
        response.expect_status(404);
        assert_openai_error(&response.json(), "route_not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow_in_each_familys_envelope() {
    let app = TestApp::new();
    let stone = app.request(Method::DELETE, "/api/models").await;
    stone.expect_status(405);
    assert_eq!(stone.header("allow"), Some("GET"));
    assert_stone_error(&stone.json(), "method_not_allowed");
    let openai = app.request(Method::POST, "/v1/models").await;
    openai.expect_status(405);
    assert_eq!(openai.header("allow"), Some("GET"));
    assert_openai_error(&openai.json(), "method_not_allowed");
}

/// A POST route of each family that takes a JSON body (the oversized-body checks live in
/// tests/body_limits.rs).
const JSON_ROUTES: [(&str, bool); 3] = [
    ("/api/auth/register", true),
    ("/auth/send-code", false),
    ("/api/auth/login", true),
];

fn assert_error(body: &Value, stone: bool, code: &str) {
    if stone {
        assert_stone_error(body, code);
    } else {
        assert_openai_error(body, code);
    }
}

#[tokio::test]
async fn invalid_json_is_a_400_in_each_familys_envelope() {
    let app = TestApp::new();
    for (path, stone) in JSON_ROUTES {
        for body in ["{\"email\": ", "", "[1, 2]", "not json"] {
            let response = app.post_raw(path, body.to_owned()).await;
            response.expect_status(400);
            let code = if body == "[1, 2]" {
                "invalid_request"
            } else {
                "invalid_json"
            };
            assert_error(&response.json(), stone, code);
        }
    }
}

#[tokio::test]
async fn a_wrong_field_type_is_a_400_naming_the_field() {
    let app = TestApp::new();
    for (path, stone) in JSON_ROUTES {
        let response = app
            .post_json(path, &json!({"email": 42, "password": "long enough"}))
            .await;
        response.expect_status(400);
        let body = response.json();
        assert_error(&body, stone, "invalid_request");
        let param = if stone {
            &body["detail"]["param"]
        } else {
            &body["error"]["param"]
        };
        assert_eq!(param, "email", "{body}");
        let missing = app.post_json(path, &json!({})).await.json();
        let param = if stone {
            &missing["detail"]["param"]
        } else {
            &missing["error"]["param"]
        };
        assert_eq!(param, "email", "{missing}");
    }
}
