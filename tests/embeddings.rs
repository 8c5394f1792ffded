//! `POST /v1/embeddings` end to end: what reached each provider (OpenAI-compatible and Gemini's
//! `batchEmbedContents`), the vectors the client got (float and base64, checked against the
//! mock's own), the exact charge in the ledger, and the refusals. The SDK's view is in
//! tests/sdk/embeddings.test.mjs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use common::{unique, TestApp, MOCK_PROVIDER_KEY};
use flint_mock::{expected_embeddings, expected_gemini_embeddings};
use serde_json::{json, Value};

async fn only_upstream(app: &TestApp, marker: &str) -> Value {
    let seen = app.upstream_requests(marker).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    seen.into_iter().next().unwrap()
}

async fn embed(app: &TestApp, token: &str, body: &Value) -> Value {
    app.post_as(token, "/v1/embeddings", body)
        .await
        .expect_status(200)
        .json()
}

fn floats(embedding: &Value) -> Vec<f32> {
    embedding
        .as_array()
        .unwrap_or_else(|| panic!("not floats: {embedding}"))
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn decoded(embedding: &Value) -> Vec<f32> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(
            embedding
                .as_str()
                .unwrap_or_else(|| panic!("not base64: {embedding}")),
        )
        .unwrap();
    assert_eq!(bytes.len() % 4, 0);
    bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn vectors(answer: &Value, read: fn(&Value) -> Vec<f32>) -> Vec<Vec<f32>> {
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, item)| {
            assert_eq!(item["object"], "embedding");
            assert_eq!(item["index"], i);
            read(&item["embedding"])
        })
        .collect()
}

/// `tokens × price` (nano-USD per token) rounded up to the whole micro-dollar, in USD.
fn charge_usd(tokens: u64, nanos_per_token: u64) -> f64 {
    (tokens * nanos_per_token).div_ceil(1000) as f64 / 1e6
}

/// The settled charge: the answer goes out before the ledger write, so wait for it.
async fn assert_charged(app: &TestApp, token: &str, funded: f64, cost: f64) {
    let expected = ((funded - cost) * 1e6).round() / 1e6;
    app.wait_for_balance(token, expected).await;
    let entries = app.history(token).await;
    assert_eq!(entries[0]["kind"], "charge");
    assert_eq!(entries[0]["amount_usd"].as_f64().unwrap(), -cost);
    assert_eq!(app.assert_books_balance(token).await, expected);
}

#[tokio::test]
async fn openai_embeddings_in_floats_are_the_providers_and_billed_per_input_token() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let marker = unique("emb");
    let body = json!({"model": "text-embedding-3-small", "input": [format!("{marker} one two"), "three four five six"],
                      "encoding_format": "float", "user": "end-user-7"});
    let answer = embed(&app, &user.token, &body).await;
    let sent = only_upstream(&app, &marker).await;
    assert_eq!(sent["path"], "/openai/v1/embeddings");
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Bearer {MOCK_PROVIDER_KEY}")
    );
    assert_eq!(
        sent["body"],
        json!({"model": "text-embedding-3-small", "input": body["input"], "encoding_format": "float", "user": "end-user-7"})
    );
    let want = expected_embeddings(&sent["body"]).unwrap();
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["model"], "text-embedding-3-small");
    let got = vectors(&answer, floats);
    assert_eq!(got, want.vectors);
    assert_eq!(got[0].len(), 1536);
    // 3 + 4 words: the mock's count, as OpenAI reports it.
    assert_eq!(want.prompt_tokens, 7);
    let cost = charge_usd(7, 80);
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": 7, "total_tokens": 7, "cost_usd": cost, "estimated": false})
    );
    assert_charged(&app, &user.token, 1.0, cost).await;
}

#[tokio::test]
async fn base64_and_dimensions_give_the_same_floats_as_float() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let marker = unique("b64");
    let ask = |format: &str| {
        json!({"model": "text-embedding-3-large", "input": [format!("{marker} alpha"), "beta gamma"],
               "encoding_format": format, "dimensions": 256})
    };
    let as_base64 = embed(&app, &user.token, &ask("base64")).await;
    let as_float = embed(&app, &user.token, &ask("float")).await;
    let sent = app.upstream_requests(&marker).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["body"]["encoding_format"], "base64");
    assert_eq!(sent[0]["body"]["dimensions"], 256);
    let decoded_vectors = vectors(&as_base64, decoded);
    assert_eq!(decoded_vectors, vectors(&as_float, floats));
    assert_eq!(
        decoded_vectors,
        expected_embeddings(&sent[1]["body"]).unwrap().vectors
    );
    assert_eq!(decoded_vectors[0].len(), 256);
    // OpenAI's shortened vectors are unit length again.
    let norm: f64 = decoded_vectors[1].iter().map(|x| f64::from(*x).powi(2)).sum();
    assert!((norm - 1.0).abs() < 1e-5, "{norm}");
}

#[tokio::test]
async fn token_arrays_pass_unchanged_and_cost_exactly_their_tokens() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let long: Vec<u64> = (1..=1000).collect();
    let input = json!([long, [5, 6, 7]]);
    let answer = embed(
        &app,
        &user.token,
        &json!({"model": "text-embedding-3-large", "input": input}),
    )
    .await;
    let seen = app.upstream_requests("\"input\":[[1,2,3,4,5,").await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["body"]["input"], input);
    assert_eq!(
        vectors(&answer, floats),
        expected_embeddings(&seen[0]["body"]).unwrap().vectors
    );
    // 1003 tokens × $0.52 per 1M = $0.00052156, charged as 522 micro-dollars.
    assert_eq!(answer["usage"]["prompt_tokens"], 1003);
    assert_eq!(answer["usage"]["cost_usd"], json!(0.000522));
    assert_charged(&app, &user.token, 1.0, 0.000522).await;
    // One token array on its own, as OpenAI also takes it.
    let one = embed(
        &app,
        &user.token,
        &json!({"model": "text-embedding-3-small", "input": [9, 8, 7]}),
    )
    .await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn gemini_embeddings_go_to_batch_embed_contents_and_bill_the_estimate() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let marker = unique("gem");
    let texts = [
        format!("{marker} semantic search"),
        "Ünïcødé text, eleven".to_owned(),
    ];
    let body = json!({"model": "gemini-embedding-001", "input": texts, "dimensions": 768});
    let answer = embed(&app, &user.token, &body).await;
    let sent = only_upstream(&app, &marker).await;
    assert_eq!(
        sent["path"],
        "/google/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(sent["headers"]["x-goog-api-key"], MOCK_PROVIDER_KEY);
    assert_eq!(
        sent["body"],
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": texts[0]}]}, "outputDimensionality": 768},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": texts[1]}]}, "outputDimensionality": 768}
        ]})
    );
    let want = expected_gemini_embeddings("gemini-embedding-001", true, &sent["body"]).unwrap();
    assert_eq!(vectors(&answer, floats), want);
    assert_eq!(want[0].len(), 768);
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["model"], "gemini-embedding-001");
    // Gemini reports no usage: ceil(characters / 4) of each text is billed, and said so.
    let estimate: u64 = texts.iter().map(|t| (t.chars().count() as u64).div_ceil(4)).sum();
    let cost = charge_usd(estimate, 600);
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": estimate, "total_tokens": estimate, "cost_usd": cost, "estimated": true})
    );
    assert_charged(&app, &user.token, 1.0, cost).await;
    // base64 from Gemini's floats: OpenAI's float32 little-endian bytes.
    let again = embed(
        &app,
        &user.token,
        &json!({"model": "gemini-embedding-001", "input": texts, "dimensions": 768, "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(vectors(&again, decoded), want);
}

#[tokio::test]
async fn providers_that_send_only_floats_are_asked_for_floats_and_the_gateway_encodes() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let marker = unique("qwen");
    let answer = embed(
        &app,
        &user.token,
        &json!({"model": "text-embedding-v4", "input": [marker.clone(), "b c"], "dimensions": 512,
                "encoding_format": "base64", "user": "kept-here"}),
    )
    .await;
    let sent = only_upstream(&app, &marker).await;
    assert_eq!(sent["path"], "/alibaba/v1/embeddings");
    assert_eq!(
        sent["body"],
        json!({"model": "text-embedding-v4", "input": [marker, "b c"], "encoding_format": "float", "dimensions": 512})
    );
    let want = expected_embeddings(&sent["body"]).unwrap();
    assert_eq!(vectors(&answer, decoded), want.vectors);
    assert_eq!(answer["usage"]["prompt_tokens"], want.prompt_tokens);
    let mistral = unique("mis");
    let answer = embed(
        &app,
        &user.token,
        &json!({"model": "mistral-embed", "input": mistral.clone()}),
    )
    .await;
    let sent = only_upstream(&app, &mistral).await;
    assert_eq!(sent["path"], "/mistral/v1/embeddings");
    assert_eq!(vectors(&answer, floats)[0].len(), 1024);
}

#[tokio::test]
async fn without_reported_usage_the_estimate_is_billed_and_marked() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let text = format!("{} [[mock no_usage]]", unique("nou"));
    let answer = embed(
        &app,
        &user.token,
        &json!({"model": "text-embedding-3-small", "input": text}),
    )
    .await;
    let estimate = (text.chars().count() as u64).div_ceil(4);
    assert_eq!(answer["usage"]["prompt_tokens"], estimate);
    assert_eq!(answer["usage"]["estimated"], true);
    assert_charged(&app, &user.token, 1.0, charge_usd(estimate, 80)).await;
}

#[tokio::test]
async fn embeddings_are_never_free_a_user_without_balance_gets_402() {
    let app = TestApp::new();
    let user = app.new_user().await;
    let marker = unique("free");
    let refused = app
        .post_as(
            &user.token,
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": marker}),
        )
        .await;
    refused.expect_status(402);
    assert_eq!(refused.json()["error"]["code"], "insufficient_quota");
    assert!(app.upstream_requests(&marker).await.is_empty());
    assert_eq!(app.balance(&user.token).await, 0.0);
}

#[tokio::test]
async fn bad_requests_are_400s_naming_the_field_and_cost_nothing() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let marker = unique("bad");
    for (body, param) in [
        (json!({"model": "text-embedding-3-small"}), "input"),
        (json!({"model": "text-embedding-3-small", "input": ""}), "input"),
        (json!({"model": "text-embedding-3-small", "input": []}), "input"),
        (
            json!({"model": "text-embedding-3-small", "input": [marker, 3]}),
            "input",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": vec![json!(marker); 2049]}),
            "input",
        ),
        (
            json!({"model": "gemini-embedding-001", "input": [1, 2, 3]}),
            "input",
        ),
        (
            json!({"model": "gemini-embedding-001", "input": vec![json!(marker); 101]}),
            "input",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": marker, "encoding_format": "int8"}),
            "encoding_format",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": marker, "dimensions": 0}),
            "dimensions",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": marker, "dimensions": 4096}),
            "dimensions",
        ),
        (
            json!({"model": "mistral-embed", "input": marker, "dimensions": 256}),
            "dimensions",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": marker, "task_type": "query"}),
            "task_type",
        ),
        (json!({"model": "gpt-4o", "input": marker}), "model"),
        (json!({"model": "flux-schnell", "input": marker}), "model"),
    ] {
        let response = app.post_as(&user.token, "/v1/embeddings", &body).await;
        response.expect_status(400);
        let error = &response.json()["error"];
        assert_eq!(error["param"], param, "{}", response.text);
        assert_eq!(error["type"], "invalid_request_error");
    }
    let unknown_field = app
        .post_as(
            &user.token,
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": "x", "task_type": "query"}),
        )
        .await;
    assert_eq!(
        unknown_field.json()["error"]["message"],
        "Unrecognized request argument supplied: task_type"
    );
    let chat_model = app
        .post_as(
            &user.token,
            "/v1/embeddings",
            &json!({"model": "gpt-4o", "input": "x"}),
        )
        .await
        .json();
    assert!(chat_model["error"]["message"]
        .as_str()
        .unwrap()
        .contains("category `chat`"));
    let too_long = app
        .post_as(
            &user.token,
            "/v1/embeddings",
            &json!({"model": "gemini-embedding-001", "input": ["short", "word ".repeat(3000)]}),
        )
        .await;
    too_long.expect_status(400);
    assert_eq!(too_long.json()["error"]["code"], "context_length_exceeded");
    assert_eq!(too_long.json()["error"]["param"], "input");
    let unknown = app
        .post_as(
            &user.token,
            "/v1/embeddings",
            &json!({"model": "text-embedding-9", "input": "x"}),
        )
        .await;
    unknown.expect_status(404);
    assert_eq!(unknown.json()["error"]["code"], "model_not_found");
    assert!(app.upstream_requests(&marker).await.is_empty());
    assert_eq!(app.assert_books_balance(&user.token).await, 1.0);
}

#[tokio::test]
async fn an_embedding_model_is_refused_by_chat_responses_and_messages() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let chat = app
        .chat(
            &user.token,
            &json!({"model": "text-embedding-3-small", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    chat.expect_status(400);
    let error = &chat.json()["error"];
    assert_eq!(error["param"], "model");
    assert!(error["message"].as_str().unwrap().contains("POST /v1/embeddings"));
    let stone = app
        .post_as(
            &user.token,
            "/api/chat",
            &json!({"model_id": "gemini-embedding-001", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    stone.expect_status(400);
    assert_eq!(stone.json()["detail"]["param"], "model");
    let responses = app
        .post_as(
            &user.token,
            "/v1/responses",
            &json!({"model": "mistral-embed", "input": "hi"}),
        )
        .await;
    responses.expect_status(400);
    assert_eq!(responses.json()["error"]["param"], "model");
    let messages = app
        .post_as(
            &user.token,
            "/v1/messages",
            &json!({"model": "text-embedding-v4", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    messages.expect_status(400);
    let body = messages.json();
    assert_eq!(body["type"], "error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("category `embedding`"));
    assert_eq!(app.assert_books_balance(&user.token).await, 1.0);
}

#[tokio::test]
async fn the_provider_refusing_is_passed_on_and_nothing_is_charged() {
    let app = TestApp::new();
    let user = app.funded_user(1.0).await;
    let refused = app
        .post_as(
            &user.token,
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": format!("{} [[mock status=400]]", unique("rej"))}),
        )
        .await;
    refused.expect_status(400);
    assert_eq!(refused.json()["error"]["code"], "upstream_rejected");
    assert_eq!(app.assert_books_balance(&user.token).await, 1.0);
}

#[tokio::test]
async fn the_catalog_lists_embedding_models_by_category() {
    let app = TestApp::new();
    let listed = app
        .get_models("category=embedding")
        .await
        .expect_status(200)
        .json();
    let ids: Vec<&str> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for id in [
        "text-embedding-3-small",
        "text-embedding-3-large",
        "gemini-embedding-001",
        "text-embedding-v4",
        "mistral-embed",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["category"] == "embedding"
            && m["tier"] == "premium"
            && m["price_output"] == json!(0.0)
            && m["price_weighted"] == m["price_input"]));
}
