//! End-to-end checks of images, mail, tokeninfo, Yandex OAuth and YooKassa.

mod common;

use base64::Engine as _;
use common::{uid, Mock, KEY};
use serde_json::{json, Value};

fn b64url(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn images_come_inline_or_by_url_and_are_real_pngs() {
    let mock = Mock::start().await;
    let resp = mock
        .client
        .post(mock.url("/v1/images/generations"))
        .bearer_auth(KEY)
        .json(
            &json!({"model": "flux-schnell", "prompt": "a fox", "n": 2, "size": "256x256",
            "response_format": "b64_json"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["created"].as_u64().unwrap() > 0);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let png = base64::engine::general_purpose::STANDARD
        .decode(data[0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(png, flint_mock::MOCK_PNG);

    let body: Value = mock
        .client
        .post(mock.url("/v1/images/generations"))
        .bearer_auth(KEY)
        .json(&json!({"model": "dall-e-3", "prompt": "a fox", "response_format": "url"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = body["data"][0]["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/__mock/image.png"));
    let resp = mock.client.get(url).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), flint_mock::MOCK_PNG);

    let bad = mock
        .client
        .post(mock.url("/v1/images/generations"))
        .bearer_auth(KEY)
        .json(&json!({"model": "m", "prompt": "x [[mock status=503]]"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 503);
    let unauth = mock
        .client
        .post(mock.url("/v1/images/generations"))
        .json(&json!({"prompt": "x"}))
        .send()
        .await;
    assert_eq!(unauth.unwrap().status(), 401);
}

#[tokio::test]
async fn mail_is_accepted_recorded_and_can_fail() {
    let mock = Mock::start().await;
    let id = uid("mail");
    let send = |to: String| {
        mock.client
            .post(mock.url("/emails"))
            .bearer_auth(KEY)
            .json(
                &json!({"from": "Flint <no-reply@flint.dev>", "to": [to], "subject": "Your code",
                "text": format!("code 123456 {id}")}),
            )
            .send()
    };
    let resp = send("user@example.com".into()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.json::<Value>().await.unwrap()["id"].is_string());
    let recorded = mock.requests(&id).await;
    assert_eq!(recorded.len(), 1);
    assert!(recorded[0]["body"]["text"].as_str().unwrap().contains("123456"));

    let fail = send("fail-mail@example.com".into()).await.unwrap();
    assert_eq!(fail.status(), 500);
    let err: Value = fail.json().await.unwrap();
    assert_eq!(err["statusCode"], 500);
    assert!(err["name"].is_string());

    let unauth = mock
        .client
        .post(mock.url("/emails"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
}

#[tokio::test]
async fn tokeninfo_decodes_minted_tokens() {
    let mock = Mock::start().await;
    let claims = json!({"aud": "client-1", "email": "a@example.com", "email_verified": "true",
        "exp": "4102444800", "sub": "1234", "iss": "https://accounts.google.com"});
    let resp = mock
        .client
        .get(mock.url("/tokeninfo"))
        .query(&[("id_token", b64url(&claims))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    for k in ["aud", "email", "email_verified", "exp", "sub", "iss"] {
        assert_eq!(body[k], claims[k], "{k}");
    }
    let bad = mock
        .client
        .get(mock.url("/tokeninfo?id_token=garbage!"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap(),
        json!({"error": "invalid_token", "error_description": "Invalid Value"})
    );
}

#[tokio::test]
async fn yandex_exchanges_a_code_and_describes_the_user() {
    let mock = Mock::start().await;
    let code = b64url(&json!({"id": "555", "email": "ivan@yandex.ru"}));
    let form = |secret: &str, code: &str| {
        format!("grant_type=authorization_code&code={code}&client_id=yid&client_secret={secret}")
    };
    let post = |body: String| {
        mock.client
            .post(mock.url("/yandex/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let resp = post(form("mock-yandex-secret", &code)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let token: Value = resp.json().await.unwrap();
    assert_eq!(token["access_token"], format!("ya-{code}"));
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 3600);

    let wrong = post(form("nope", &code)).await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_client");
    let expired = post(form("mock-yandex-secret", "bad")).await.unwrap();
    assert_eq!(expired.status(), 400);
    assert_eq!(
        expired.json::<Value>().await.unwrap(),
        json!({"error": "invalid_grant", "error_description": "Code has expired"})
    );

    let info = mock
        .client
        .get(mock.url("/yandex/info?format=json"))
        .header(
            "authorization",
            format!("OAuth {}", token["access_token"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["id"], "555");
    assert_eq!(info["default_email"], "ivan@yandex.ru");
    assert_eq!(info["emails"], json!(["ivan@yandex.ru"]));
    assert_eq!(info["login"], "ivan");
    assert!(info["client_id"].is_string() && info["psuid"].is_string());
    let bad = mock
        .client
        .get(mock.url("/yandex/info"))
        .header("authorization", "OAuth ya-???")
        .send()
        .await;
    assert_eq!(bad.unwrap().status(), 401);
}

#[tokio::test]
async fn yookassa_payments_are_idempotent_and_can_succeed() {
    let mock = Mock::start().await;
    let create = |key: &'static str| {
        mock.client
            .post(mock.url("/v3/payments"))
            .basic_auth("shop-1", Some("secret"))
            .header("Idempotence-Key", key)
            .json(&json!({"amount": {"value": "100.00", "currency": "RUB"},
                "confirmation": {"type": "redirect", "return_url": "http://localhost/back"},
                "capture": true, "description": "Top-up", "metadata": {"user_id": "u1"}}))
            .send()
    };
    let resp = create("k-1").await.unwrap();
    assert_eq!(resp.status(), 200);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["status"], "pending");
    assert_eq!(p["paid"], false);
    assert_eq!(p["amount"], json!({"value": "100.00", "currency": "RUB"}));
    assert_eq!(p["metadata"], json!({"user_id": "u1"}));
    assert_eq!(p["confirmation"]["type"], "redirect");
    assert!(p["confirmation"]["confirmation_url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert!(p["created_at"].as_str().unwrap().ends_with('Z'));
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    let again: Value = create("k-1").await.unwrap().json().await.unwrap();
    assert_eq!(again["id"], p["id"]);
    let other: Value = create("k-2").await.unwrap().json().await.unwrap();
    assert_ne!(other["id"], p["id"]);

    let get = |id: String| {
        mock.client
            .get(mock.url(&format!("/v3/payments/{id}")))
            .basic_auth("shop-1", Some("s"))
            .send()
    };
    assert_eq!(
        get(id.clone()).await.unwrap().json::<Value>().await.unwrap()["status"],
        "pending"
    );
    let ok = mock
        .client
        .post(mock.url(&format!("/__mock/yookassa/payments/{id}/succeed")))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let p: Value = get(id.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(p["status"], "succeeded");
    assert_eq!(p["paid"], true);

    let missing = get("00000000-0000-5000-8000-000000000000".into()).await.unwrap();
    assert_eq!(missing.status(), 404);
    let err: Value = missing.json().await.unwrap();
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "not_found");
    assert!(err["id"].is_string() && err["description"].is_string());

    let no_key = mock
        .client
        .post(mock.url("/v3/payments"))
        .basic_auth("shop-1", Some("secret"))
        .json(&json!({"amount": {"value": "1.00", "currency": "RUB"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 400);
    let no_auth = mock
        .client
        .post(mock.url("/v3/payments"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
}
