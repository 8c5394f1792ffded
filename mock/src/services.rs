//! The non-model upstreams: mail (Resend), Google tokeninfo, Yandex OAuth, YooKassa.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::util;

/// A JSON answer: status and body.
pub type Reply = (u16, Value);

// ---------------------------------------------------------------- mail (Resend)

fn resend_error(status: u16, name: &str, message: &str) -> Reply {
    (
        status,
        json!({"statusCode": status, "name": name, "message": message}),
    )
}

/// `POST …/emails`: `{from, to, subject, text|html}` → `{"id"}`. A recipient containing
/// `fail-mail` answers 500.
pub fn send_email(body: &Value) -> Reply {
    if !body.is_object() {
        return resend_error(422, "validation_error", "Invalid JSON body.");
    }
    for field in ["from", "to", "subject"] {
        let present = match body.get(field) {
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        if !present {
            return resend_error(
                422,
                "missing_required_field",
                &format!("Missing `{field}` field."),
            );
        }
    }
    if body.get("text").is_none() && body.get("html").is_none() {
        return resend_error(422, "missing_required_field", "Missing `html` or `text` field.");
    }
    let recipients = match &body["to"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    if recipients.iter().any(|r| r.contains("fail-mail")) {
        return resend_error(
            500,
            "application_error",
            "An unexpected error occurred (injected by flint-mock).",
        );
    }
    (200, json!({"id": util::uuid_like()}))
}

/// Resend's answer to a missing or wrong API key.
pub fn email_auth_error(missing: bool) -> Reply {
    if missing {
        resend_error(401, "missing_api_key", "Missing API key in the authorization header. Include the following header in the request: Authorization: Bearer YOUR_API_KEY")
    } else {
        resend_error(403, "invalid_api_key", "API key is invalid")
    }
}

// ---------------------------------------------------------------- Google tokeninfo

/// `GET …/tokeninfo?id_token=T`: T is base64url JSON claims (or a JWT whose payload is);
/// answered as Google does, every scalar claim as a string.
pub fn tokeninfo(token: Option<&str>) -> Reply {
    let invalid = (
        400,
        json!({"error": "invalid_token", "error_description": "Invalid Value"}),
    );
    let Some(claims) = token.and_then(util::decode_json_token) else {
        return invalid;
    };
    let mut out = Map::new();
    for (k, v) in claims {
        let v = match v {
            Value::Bool(b) => Value::String(b.to_string()),
            Value::Number(n) => Value::String(n.to_string()),
            other => other,
        };
        out.insert(k, v);
    }
    for (k, v) in [("alg", "RS256"), ("kid", "flint-mock"), ("typ", "JWT")] {
        out.entry(k).or_insert_with(|| Value::String(v.to_string()));
    }
    (200, Value::Object(out))
}

// ---------------------------------------------------------------- Yandex OAuth

/// `POST …/token` (form): exchanges a code for `ya-<code>`.
pub fn yandex_token(form: &str, basic_auth: Option<(String, String)>, secret: &str) -> Reply {
    let get = |k: &str| util::pair_value(form, k).filter(|v| !v.is_empty());
    let client_secret = get("client_secret").or_else(|| basic_auth.as_ref().map(|(_, s)| s.clone()));
    let client_id = get("client_id").or_else(|| basic_auth.as_ref().map(|(i, _)| i.clone()));
    if client_id.is_none() || client_secret.as_deref() != Some(secret) {
        return (
            401,
            json!({"error": "invalid_client", "error_description": "Client not found"}),
        );
    }
    match get("grant_type").as_deref() {
        Some("authorization_code") => {}
        Some(_) => {
            return (
                400,
                json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"}),
            )
        }
        None => {
            return (
                400,
                json!({"error": "invalid_request", "error_description": "grant_type not in POST"}),
            )
        }
    }
    match get("code").as_deref() {
        None => (
            400,
            json!({"error": "invalid_request", "error_description": "code not in POST"}),
        ),
        Some("bad") => (
            400,
            json!({"error": "invalid_grant", "error_description": "Code has expired"}),
        ),
        Some(code) => (
            200,
            json!({"access_token": format!("ya-{code}"), "token_type": "bearer", "expires_in": 3600,
                   "refresh_token": format!("yr-{code}")}),
        ),
    }
}

/// `GET …/info?format=json` with `Authorization: OAuth <token>` (or `?oauth_token=`):
/// the token (after an optional `ya-`) is base64url JSON `{"id","email", …}`.
pub fn yandex_info(token: Option<&str>) -> Reply {
    yandex_info_for(token, None)
}

/// The default `client_id` of a token no application exchanged here.
pub const YANDEX_DEFAULT_CLIENT_ID: &str = "flint-mock-yandex-client";

/// Like `yandex_info`, for a token the token endpoint issued to `issued_to` (its `client_id`, as
/// real Yandex reports the application a token belongs to). A `client_id` claim in the token
/// overrides it: that is how a test makes a token issued to another application.
pub fn yandex_info_for(token: Option<&str>, issued_to: Option<&str>) -> Reply {
    let unauthorized = (
        401,
        json!({"error": "invalid_token", "error_description": "Invalid token"}),
    );
    let Some(token) = token else { return unauthorized };
    let token = token.strip_prefix("ya-").unwrap_or(token);
    let Some(claims) = util::decode_json_token(token) else {
        return unauthorized;
    };
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let id = match claims.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "1000034426".to_string(),
    };
    let login = email
        .split('@')
        .next()
        .filter(|l| !l.is_empty())
        .unwrap_or("mock-user")
        .to_string();
    let mut out = json!({
        "id": id,
        "login": login,
        "client_id": issued_to.unwrap_or(YANDEX_DEFAULT_CLIENT_ID),
        "default_email": email,
        "emails": if email.is_empty() { json!([]) } else { json!([email]) },
        "psuid": format!("1.flintmock.{id}"),
    });
    for (k, v) in claims {
        if k != "email" && k != "id" {
            out[k] = v;
        }
    }
    (200, out)
}

// ---------------------------------------------------------------- YooKassa

fn yookassa_error(status: u16, code: &str, description: &str, parameter: Option<&str>) -> Reply {
    let mut body =
        json!({"type": "error", "id": util::uuid_like(), "code": code, "description": description});
    if let Some(p) = parameter {
        body["parameter"] = json!(p);
    }
    (status, body)
}

/// YooKassa's 400: the request is malformed (`parameter` names what).
fn invalid_request(description: &str, parameter: Option<&str>) -> Reply {
    yookassa_error(400, "invalid_request", description, parameter)
}

/// The Idempotence-Key every creating call needs, or YooKassa's 400 without one.
fn idempotence_key(key: Option<&str>) -> Result<&str, Reply> {
    key.filter(|k| !k.is_empty())
        .ok_or_else(|| invalid_request("Idempotence key is missing", Some("Idempotence-Key")))
}

/// YooKassa's answer to missing or malformed Basic credentials.
pub fn yookassa_auth_error() -> Reply {
    yookassa_error(
        401,
        "invalid_credentials",
        "Login or password is incorrect. Use your shopId as the login and the secret key as the password.",
        None,
    )
}

/// The payments (and their refunds) a mock YooKassa shop holds.
#[derive(Debug, Default)]
pub struct Payments {
    by_id: HashMap<String, Value>,
    by_key: HashMap<(String, String), String>,
    refunds: HashMap<String, Value>,
    refund_keys: HashMap<(String, String), String>,
}

impl Payments {
    /// `POST …/payments`; the same Idempotence-Key (per shop) returns the same payment.
    pub fn create(&mut self, shop_id: &str, key: Option<&str>, body: &Value, base_url: &str) -> Reply {
        let key = match idempotence_key(key) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        if let Some(id) = self.by_key.get(&(shop_id.to_string(), key.to_string())) {
            if let Some(p) = self.by_id.get(id) {
                return (200, p.clone());
            }
        }
        let value = body.pointer("/amount/value").and_then(Value::as_str);
        let currency = body.pointer("/amount/currency").and_then(Value::as_str);
        let (Some(value), Some(currency)) = (value, currency) else {
            return invalid_request("Parameter amount is missing or invalid", Some("amount"));
        };
        if value.parse::<f64>().map_or(true, |v| v <= 0.0) {
            return invalid_request("Invalid amount value", Some("amount.value"));
        }
        let id = util::uuid_like();
        let mut confirmation = json!({"type": "redirect",
            "confirmation_url": format!("{base_url}/__mock/yookassa/confirm/{id}")});
        if let Some(ret) = body.pointer("/confirmation/return_url") {
            confirmation["return_url"] = ret.clone();
        }
        let mut payment = json!({
            "id": id,
            "status": "pending",
            "paid": false,
            "amount": {"value": value, "currency": currency},
            "confirmation": confirmation,
            "created_at": util::rfc3339_millis(util::now_millis()),
            "description": body.get("description").cloned().unwrap_or(Value::Null),
            "metadata": body.get("metadata").cloned().unwrap_or_else(|| json!({})),
            "recipient": {"account_id": shop_id, "gateway_id": "flint-mock-gateway"},
            "refundable": false,
            "test": true,
        });
        if payment["description"].is_null() {
            if let Some(o) = payment.as_object_mut() {
                o.remove("description");
            }
        }
        self.by_key
            .insert((shop_id.to_string(), key.to_string()), id.clone());
        self.by_id.insert(id, payment.clone());
        (200, payment)
    }

    /// `GET …/payments/{id}`.
    pub fn get(&self, id: &str) -> Reply {
        match self.by_id.get(id) {
            Some(p) => (200, p.clone()),
            None => not_found(id),
        }
    }

    /// Moves a pending payment to `succeeded` (paid) or `canceled`.
    pub fn settle(&mut self, id: &str, succeed: bool) -> Reply {
        let Some(p) = self.by_id.get_mut(id) else {
            return not_found(id);
        };
        if succeed {
            p["status"] = json!("succeeded");
            p["paid"] = json!(true);
            p["refundable"] = json!(true);
            p["captured_at"] = json!(util::rfc3339_millis(util::now_millis()));
            p["income_amount"] = p["amount"].clone();
            p["payment_method"] = json!({"type": "bank_card", "id": id, "saved": false,
                "title": "Bank card *4444", "card": {"last4": "4444", "card_type": "Mir"}});
        } else {
            p["status"] = json!("canceled");
            p["paid"] = json!(false);
            p["cancellation_details"] = json!({"party": "yoo_money", "reason": "expired_on_confirmation"});
        }
        (200, p.clone())
    }

    /// `POST …/refunds {"payment_id","amount":{"value","currency"}}`: refunds (part of) a
    /// succeeded payment at once (`status: succeeded`), as YooKassa does for bank cards; at most
    /// what is left of the payment. The same Idempotence-Key returns the same refund.
    pub fn refund(&mut self, shop_id: &str, key: Option<&str>, body: &Value) -> Reply {
        let key = match idempotence_key(key) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        let idem = (shop_id.to_string(), key.to_string());
        if let Some(refund) = self.refund_keys.get(&idem).and_then(|id| self.refunds.get(id)) {
            return (200, refund.clone());
        }
        let payment_id = body.get("payment_id").and_then(Value::as_str).unwrap_or("");
        let Some(payment) = self.by_id.get(payment_id) else {
            return invalid_request("Payment doesn't exist or is not available", Some("payment_id"));
        };
        if payment["status"] != "succeeded" {
            return invalid_request("Payment is not succeeded", Some("payment_id"));
        }
        let (Some(asked), Some(paid)) = (
            body.pointer("/amount/value").and_then(kopecks),
            payment.pointer("/amount/value").and_then(kopecks),
        ) else {
            return invalid_request("Parameter amount is missing or invalid", Some("amount"));
        };
        let refunded: i64 = self
            .refunds
            .values()
            .filter(|r| r["payment_id"] == payment_id)
            .filter_map(|r| r.pointer("/amount/value").and_then(kopecks))
            .sum();
        if asked <= 0 || asked > paid - refunded {
            return invalid_request(
                "Refund amount exceeds the payment amount left",
                Some("amount.value"),
            );
        }
        let id = util::uuid_like();
        let refund = json!({
            "id": id,
            "payment_id": payment_id,
            "status": "succeeded",
            "amount": {"value": format!("{}.{:02}", asked / 100, asked % 100), "currency": payment["amount"]["currency"]},
            "created_at": util::rfc3339_millis(util::now_millis()),
            "description": body.get("description").cloned().unwrap_or(Value::Null),
        });
        if let Some(p) = self.by_id.get_mut(payment_id) {
            p["refunded_amount"] = json!({"value": format!("{}.{:02}", (refunded + asked) / 100, (refunded + asked) % 100), "currency": p["amount"]["currency"]});
        }
        self.refund_keys.insert(idem, id.clone());
        self.refunds.insert(id, refund.clone());
        (200, refund)
    }

    /// `GET …/refunds/{id}`.
    pub fn get_refund(&self, id: &str) -> Reply {
        match self.refunds.get(id) {
            Some(r) => (200, r.clone()),
            None => yookassa_error(
                404,
                "not_found",
                &format!("Refund {id} not found"),
                Some("refund_id"),
            ),
        }
    }

    /// The return URL a payment's confirmation page sends the payer back to.
    pub fn return_url(&self, id: &str) -> Option<String> {
        self.by_id
            .get(id)?
            .pointer("/confirmation/return_url")?
            .as_str()
            .map(str::to_string)
    }
}

/// `"12.34"` → 1234.
fn kopecks(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    let (whole, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<2}");
    if frac.len() != 2 {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

fn not_found(id: &str) -> Reply {
    yookassa_error(
        404,
        "not_found",
        &format!("Payment {id} not found"),
        Some("payment_id"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(v: Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn tokeninfo_echoes_claims_as_strings() {
        let t = b64(json!({"aud":"cid","email":"a@b.c","email_verified":true,"exp":1700000000,"sub":"42"}));
        let (status, body) = tokeninfo(Some(&t));
        assert_eq!(status, 200);
        assert_eq!(body["email_verified"], "true");
        assert_eq!(body["exp"], "1700000000");
        assert_eq!(tokeninfo(Some("%%%")).0, 400);
        assert_eq!(tokeninfo(None).1["error"], "invalid_token");
    }

    #[test]
    fn yandex_exchanges_codes_and_checks_the_secret() {
        let ok = yandex_token(
            "grant_type=authorization_code&code=abc&client_id=x&client_secret=s",
            None,
            "s",
        );
        assert_eq!(ok.1["access_token"], "ya-abc");
        let wrong = yandex_token(
            "grant_type=authorization_code&code=abc&client_id=x&client_secret=t",
            None,
            "s",
        );
        assert_eq!(
            wrong,
            (
                401,
                json!({"error":"invalid_client","error_description":"Client not found"})
            )
        );
        let bad = yandex_token(
            "grant_type=authorization_code&code=bad&client_id=x&client_secret=s",
            None,
            "s",
        );
        assert_eq!(bad.1["error"], "invalid_grant");
        let token = format!("ya-{}", b64(json!({"id":"7","email":"ivan@yandex.ru"})));
        let info = yandex_info(Some(&token));
        assert_eq!(info.1["login"], "ivan");
        assert_eq!(info.1["emails"], json!(["ivan@yandex.ru"]));
        assert_eq!(yandex_info(Some("ya-!!")).0, 401);
    }

    #[test]
    fn payments_are_idempotent_and_settle() {
        let mut p = Payments::default();
        let body = json!({"amount":{"value":"100.00","currency":"RUB"},
            "confirmation":{"type":"redirect","return_url":"http://x/back"},"metadata":{"u":"1"}});
        let (s, a) = p.create("shop", Some("k1"), &body, "http://127.0.0.1:1");
        assert_eq!((s, a["status"].as_str()), (200, Some("pending")));
        let (_, b) = p.create("shop", Some("k1"), &body, "http://127.0.0.1:1");
        assert_eq!(a["id"], b["id"]);
        let id = a["id"].as_str().unwrap();
        assert_eq!(p.settle(id, true).1["paid"], true);
        assert_eq!(p.get(id).1["status"], "succeeded");
        assert_eq!(p.get("nope").0, 404);
        assert_eq!(p.create("shop", None, &body, "").0, 400);
    }

    #[test]
    fn refunds_take_back_at_most_what_was_paid() {
        let mut p = Payments::default();
        let body = json!({"amount":{"value":"100.00","currency":"RUB"}});
        let id = p.create("shop", Some("k"), &body, "").1["id"]
            .as_str()
            .unwrap()
            .to_string();
        let refund = |amount: &str| json!({"payment_id": id, "amount": {"value": amount, "currency": "RUB"}});
        assert_eq!(
            p.refund("shop", Some("r0"), &refund("10.00")).0,
            400,
            "not paid yet"
        );
        p.settle(&id, true);
        let (s, r) = p.refund("shop", Some("r1"), &refund("60.00"));
        assert_eq!((s, r["status"].as_str()), (200, Some("succeeded")));
        assert_eq!(p.refund("shop", Some("r1"), &refund("60.00")).1["id"], r["id"]);
        assert_eq!(p.refund("shop", Some("r2"), &refund("40.01")).0, 400);
        assert_eq!(p.refund("shop", Some("r3"), &refund("40")).0, 200);
        assert_eq!(
            p.get_refund(r["id"].as_str().unwrap()).1["amount"]["value"],
            "60.00"
        );
        assert_eq!(p.get_refund("nope").0, 404);
        assert_eq!(p.get(&id).1["refunded_amount"]["value"], "100.00");
    }

    #[test]
    fn a_yandex_token_names_the_application_it_was_issued_to() {
        let token = format!("ya-{}", b64(json!({"id":"7","email":"ivan@yandex.ru"})));
        assert_eq!(yandex_info(Some(&token)).1["client_id"], YANDEX_DEFAULT_CLIENT_ID);
        assert_eq!(
            yandex_info_for(Some(&token), Some("app-1")).1["client_id"],
            "app-1"
        );
        let foreign = b64(json!({"id":"7","email":"ivan@yandex.ru","client_id":"another-app"}));
        assert_eq!(
            yandex_info_for(Some(&foreign), Some("app-1")).1["client_id"],
            "another-app"
        );
    }

    #[test]
    fn mail_validates_and_fails_on_request() {
        let ok = json!({"from":"a@b.c","to":"x@y.z","subject":"s","text":"t"});
        assert_eq!(send_email(&ok).0, 200);
        let fail = json!({"from":"a@b.c","to":["fail-mail@y.z"],"subject":"s","html":"t"});
        assert_eq!(send_email(&fail).0, 500);
        assert_eq!(
            send_email(&json!({"from":"a@b.c","subject":"s","text":"t"})).0,
            422
        );
    }
}
