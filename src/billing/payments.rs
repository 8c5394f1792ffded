//! Top-ups and bought months through YooKassa, its webhook, and the user's ledger.
//!
//! A payment is always created in RUB at `USD_RUB_RATE` (recorded with the payment). The webhook
//! is never trusted as sent: the payment is fetched from YooKassa, and only a payment YooKassa
//! reports `succeeded` is credited — once, for the amount YooKassa reports.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Method, Request, Response};

use super::money::{parse_decimal, parse_json_decimal, Nanos};
use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::db::{Credit, Db, PaymentRow, Refund};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::{http, time};

/// 10 RUB to 1,000,000 RUB, in kopecks.
const MIN_KOPECKS: i64 = 1_000;
const MAX_KOPECKS: i64 = 100_000_000;
/// `USD_RUB_RATE` is kept to 4 decimals.
const RATE_SCALE: u32 = 4;

/// RUB (kopecks) → nano-USD at `rate_e4` (RUB per USD × 10⁴), rounded down.
pub fn kopecks_to_nanos(kopecks: i64, rate_e4: i64) -> Option<i64> {
    if rate_e4 <= 0 {
        return None;
    }
    let nanos = i128::from(kopecks).checked_mul(100_000_000_000)? / i128::from(rate_e4);
    i64::try_from(nanos).ok()
}

/// nano-USD → RUB (kopecks) at `rate_e4`, rounded up, so the credit is at least what was asked.
pub fn nanos_to_kopecks(nanos: i64, rate_e4: i64) -> Option<i64> {
    let kopecks = i128::from(nanos)
        .checked_mul(i128::from(rate_e4))?
        .checked_add(99_999_999_999)?
        / 100_000_000_000;
    i64::try_from(kopecks).ok()
}

fn kopecks_text(kopecks: i64) -> String {
    format!("{}.{:02}", kopecks / 100, kopecks % 100)
}

fn unavailable() -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "payment_service_unavailable",
        "Service Unavailable — the payment service is temporarily unavailable. Try again later.",
    )
}

struct Shop {
    api_url: String,
    authorization: String,
    rate_text: String,
    rate_e4: i64,
    return_url: Option<String>,
}

fn shop(app: &App) -> ApiResult<Shop> {
    let payments = &app.config.payments;
    let (Some(shop_id), Some(secret)) = (&payments.shop_id, &payments.secret_key) else {
        return Err(unavailable()
            .with_internal("YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY must be set to take payments"));
    };
    let rate_e4 = parse_decimal(&payments.usd_rub_rate, RATE_SCALE)
        .ok()
        .filter(|r| *r > 0)
        .ok_or_else(|| {
            unavailable().with_internal(format!(
                "USD_RUB_RATE `{}` is not a positive decimal",
                payments.usd_rub_rate
            ))
        })?;
    Ok(Shop {
        api_url: payments.api_url.clone(),
        authorization: format!("Basic {}", B64.encode(format!("{shop_id}:{secret}"))),
        rate_text: payments.usd_rub_rate.clone(),
        rate_e4,
        return_url: payments.return_url.clone(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopupRequest {
    #[serde(default)]
    amount_rub: Option<serde_json::Number>,
    #[serde(default)]
    amount_usd: Option<serde_json::Number>,
    /// Buy a month of this plan instead of topping up.
    #[serde(default)]
    plan: Option<String>,
}

/// `POST /api/billing/topup {"amount_rub"}` | `{"amount_usd"}` | `{"plan"}`.
pub async fn topup(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_scope(Scope::Billing)?;
    let origin = req
        .url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let body: TopupRequest = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let shop = shop(app)?;
    let (kind, plan, kopecks) = match (&body.amount_rub, &body.amount_usd, &body.plan) {
        (Some(rub), None, None) => {
            let kopecks = parse_json_decimal(&rub.to_string(), 2).map_err(|_| {
                ApiError::bad_request(
                    "amount_rub",
                    "`amount_rub` must be an amount with at most 2 decimals.",
                )
            })?;
            ("topup", None, kopecks)
        }
        (None, Some(usd), None) => {
            let too_large = || ApiError::bad_request("amount_usd", "`amount_usd` is too large.");
            let nanos = parse_json_decimal(&usd.to_string(), 6)
                .map_err(|_| {
                    ApiError::bad_request(
                        "amount_usd",
                        "`amount_usd` must be an amount with at most 6 decimals.",
                    )
                })?
                .checked_mul(1000)
                .ok_or_else(too_large)?;
            let kopecks = nanos_to_kopecks(nanos, shop.rate_e4).ok_or_else(too_large)?;
            ("topup", None, kopecks)
        }
        (None, None, Some(plan_id)) => {
            let plan_id = plan_id.trim();
            let monthly = db.plan_price_rub(plan_id).await?.ok_or_else(|| {
                ApiError::bad_request(
                    "plan",
                    format!("`{plan_id}` is not a plan sold by the month (pro, pro_plus)."),
                )
            })?;
            let kopecks = monthly.checked_mul(100).ok_or_else(|| {
                ApiError::internal(format!("plan {plan_id} has a monthly price of {monthly} RUB"))
            })?;
            ("subscription", Some(plan_id.to_owned()), kopecks)
        }
        _ => {
            return Err(ApiError::bad_request(
                "amount_rub",
                "Send exactly one of `amount_rub`, `amount_usd` or `plan`.",
            ))
        }
    };
    if !(MIN_KOPECKS..=MAX_KOPECKS).contains(&kopecks) {
        return Err(ApiError::bad_request(
            if body.amount_usd.is_some() {
                "amount_usd"
            } else {
                "amount_rub"
            },
            format!(
                "A payment must be from {} to {} RUB.",
                kopecks_text(MIN_KOPECKS),
                kopecks_text(MAX_KOPECKS)
            ),
        ));
    }

    let idempotence_key = format!("flint-{}", http::random_hex(16));
    // The console's return page (it reads the payment back from `/api/billing/payments/{id}`).
    let return_url = shop
        .return_url
        .clone()
        .unwrap_or_else(|| format!("{origin}/#/billing/return"));
    let description = match &plan {
        Some(plan) => format!("Flint: a month of {plan} for user {}", principal.user.id),
        None => format!("Flint: balance top-up for user {}", principal.user.id),
    };
    let payload = json!({
        "amount": {"value": kopecks_text(kopecks), "currency": "RUB"},
        "capture": true,
        "confirmation": {"type": "redirect", "return_url": return_url},
        "description": description,
        "metadata": {"user_id": principal.user.id.to_string(), "kind": kind, "plan": plan},
    });
    let answer = http::send_outbound(
        Method::Post,
        &format!("{}/payments", shop.api_url),
        &[
            ("Authorization", &shop.authorization),
            ("Idempotence-Key", &idempotence_key),
            ("Content-Type", "application/json"),
        ],
        Some(payload.to_string()),
    )
    .await
    .map_err(|e| unavailable().with_internal(format!("YooKassa unreachable: {e}")))?;
    if answer.status != 200 {
        let excerpt: String = answer.body.chars().take(300).collect();
        return Err(unavailable().with_internal(format!("YooKassa answered {}: {excerpt}", answer.status)));
    }
    let payment: Value = serde_json::from_str(&answer.body)
        .map_err(|e| unavailable().with_internal(format!("YooKassa sent non-JSON: {e}")))?;
    let (Some(id), Some(confirmation_url)) = (
        payment["id"].as_str(),
        payment["confirmation"]["confirmation_url"].as_str(),
    ) else {
        return Err(unavailable().with_internal("YooKassa's payment has no id or confirmation_url"));
    };
    db.insert_payment(
        id,
        principal.user.id,
        kind,
        plan.as_deref(),
        kopecks,
        &shop.rate_text,
        time::now_secs(),
    )
    .await?;
    let usd = kopecks_to_nanos(kopecks, shop.rate_e4).map(|n| Nanos(n).as_usd_f64());
    http::json(
        200,
        &json!({
            "payment_id": id,
            "confirmation_url": confirmation_url,
            "amount_rub": kopecks as f64 / 100.0,
            "amount_usd": if kind == "topup" { usd } else { None },
            "plan": plan,
        }),
    )
}

/// What YooKassa reports about one of its objects (`payments/{id}`, `refunds/{id}`), fetched with
/// the shop's credentials; `None` when YooKassa does not know it.
async fn fetch_object(shop: &Shop, kind: &str, id: &str) -> ApiResult<Option<Value>> {
    let answer = http::send_outbound(
        Method::Get,
        &format!("{}/{kind}/{id}", shop.api_url),
        &[("Authorization", &shop.authorization)],
        None,
    )
    .await
    .map_err(|e| unavailable().with_internal(format!("YooKassa unreachable: {e}")))?;
    match answer.status {
        200 => serde_json::from_str(&answer.body)
            .map(Some)
            .map_err(|e| unavailable().with_internal(format!("YooKassa sent non-JSON: {e}"))),
        404 => Ok(None),
        status => Err(unavailable().with_internal(format!("YooKassa answered {status} for {kind}/{id}"))),
    }
}

#[derive(Debug, Deserialize)]
struct Notification {
    event: String,
    object: NotifiedObject,
}

#[derive(Debug, Deserialize)]
struct NotifiedObject {
    id: String,
}

/// A value the sender chose, made safe for a log line: at most 64 characters, control
/// characters replaced.
fn loggable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// YooKassa's ids are short tokens of letters, digits and dashes; anything else is not one.
fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /api/billing/webhook/yookassa`: 200 for every well-formed notification (a replay too).
/// `payment.*` notifications credit a payment YooKassa reports succeeded; `refund.succeeded`
/// debits a refund YooKassa reports succeeded.
pub async fn webhook(mut req: Request, app: &App) -> ApiResult<Response> {
    let notification: Notification = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let ok = || http::json(200, &json!({"status": "ok"}));
    let id = notification.object.id.as_str();
    if !plausible_id(id) {
        worker::console_warn!(
            "[{}] webhook {:?} with an implausible object id {:?} ignored",
            app.request_id,
            loggable(&notification.event),
            loggable(id)
        );
        return ok();
    }
    let db = Db::from_env(&app.env)?;
    if notification.event == "refund.succeeded" {
        refund(app, &db, id).await?;
        return ok();
    }
    let Some(payment) = db.payment(id).await? else {
        worker::console_warn!("[{}] webhook for unknown payment {id} ignored", app.request_id);
        return ok();
    };
    if payment.status != "pending" {
        return ok();
    }
    reconcile(app, &db, &payment, &loggable(&notification.event)).await?;
    ok()
}

/// Asks YooKassa about a pending payment and records what it says: credits (or grants) one it
/// reports succeeded, marks one it reports canceled. The notification, or the payer coming back,
/// only says "look": the truth is what YooKassa answers. Returns the payment's status now.
async fn reconcile(app: &App, db: &Db, payment: &PaymentRow, why: &str) -> ApiResult<String> {
    let shop = shop(app)?;
    let Some(reported) = fetch_object(&shop, "payments", &payment.id).await? else {
        worker::console_warn!(
            "[{}] YooKassa does not know payment {}",
            app.request_id,
            payment.id
        );
        return Ok(payment.status.clone());
    };
    let now = time::now_secs();
    match reported["status"].as_str() {
        Some("succeeded") if reported["paid"] != json!(false) => {
            complete(db, payment, &reported, now).await?;
            Ok("succeeded".to_owned())
        }
        Some("canceled") => {
            db.set_payment_status(&payment.id, "canceled", now).await?;
            Ok("canceled".to_owned())
        }
        other => {
            worker::console_log!(
                "[{}] {why} for payment {}: YooKassa says {:?}; nothing to do",
                app.request_id,
                payment.id,
                other.map(loggable)
            );
            Ok(payment.status.clone())
        }
    }
}

/// `GET /api/billing/payments/{id}`: one of the caller's payments, as the console's return page
/// shows it. A pending one is first checked at YooKassa (the webhook's own verified path), so a
/// payer who comes back before the notification sees the outcome. Someone else's id is 404.
pub async fn payment_status(app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    principal.require_scope(Scope::Billing)?;
    let not_found = || ApiError::new(ErrorKind::NotFound, "payment_not_found", "No such payment.");
    if !plausible_id(id) {
        return Err(not_found());
    }
    let db = Db::from_env(&app.env)?;
    let payment = db
        .payment(id)
        .await?
        .filter(|p| p.user_id == principal.user.id)
        .ok_or_else(not_found)?;
    let status = if payment.status == "pending" {
        reconcile(app, &db, &payment, "status check").await?
    } else {
        payment.status.clone()
    };
    let rate_e4 = parse_decimal(&payment.usd_rub_rate, RATE_SCALE).ok();
    let usd = rate_e4
        .and_then(|rate| kopecks_to_nanos(payment.amount_kopecks, rate))
        .map(|n| Nanos(n).as_usd_f64());
    http::json(
        200,
        &json!({
            "payment_id": payment.id,
            "status": status,
            "kind": payment.kind,
            "plan": payment.plan,
            "amount_rub": payment.amount_kopecks as f64 / 100.0,
            "amount_usd": if payment.kind == "topup" { usd } else { None },
            "created_at": time::iso8601(payment.created_at),
        }),
    )
}

/// A refund YooKassa reports succeeded, of a payment of ours that was credited: the refunded
/// amount (at the payment's rate) is debited once, never below zero; for a bought month, the
/// month ends now. What can't be taken back is recorded and the account flagged.
async fn refund(app: &App, db: &Db, refund_id: &str) -> ApiResult<()> {
    let shop = shop(app)?;
    let Some(reported) = fetch_object(&shop, "refunds", refund_id).await? else {
        worker::console_warn!("[{}] YooKassa does not know refund {refund_id}", app.request_id);
        return Ok(());
    };
    if reported["status"].as_str() != Some("succeeded") {
        return Ok(());
    }
    let payment_id = reported["payment_id"].as_str().unwrap_or_default();
    let Some(payment) = db.payment(payment_id).await? else {
        worker::console_warn!(
            "[{}] refund {refund_id} of unknown payment {:?} ignored",
            app.request_id,
            loggable(payment_id)
        );
        return Ok(());
    };
    if payment.status != "succeeded" {
        // Never credited here, so there is nothing to take back.
        worker::console_warn!(
            "[{}] refund {refund_id} of payment {} that was not credited ({}) ignored",
            app.request_id,
            payment.id,
            payment.status
        );
        return Ok(());
    }
    let value = reported["amount"]["value"].as_str().unwrap_or_default();
    let currency = reported["amount"]["currency"].as_str().unwrap_or_default();
    let kopecks = parse_decimal(value, 2)
        .ok()
        .filter(|k| *k > 0 && currency == "RUB")
        .ok_or_else(|| {
            ApiError::internal(format!(
                "refund {refund_id} reported an amount of {} {}",
                loggable(value),
                loggable(currency)
            ))
        })?;
    let now = time::now_secs();
    let rate_e4 = parse_decimal(&payment.usd_rub_rate, RATE_SCALE).map_err(|_| {
        ApiError::internal(format!(
            "payment {} has rate {}",
            payment.id, payment.usd_rub_rate
        ))
    })?;
    let amount = match payment.kind.as_str() {
        // A bought month moved no money onto the balance: nothing to debit, the month ends.
        "subscription" => 0,
        _ => kopecks_to_nanos(kopecks, rate_e4).ok_or_else(|| ApiError::internal("amount overflow"))?,
    };
    let reference = format!("yookassa-refund:{refund_id}");
    let detail = json!({"payment_id": payment.id, "amount_rub": value, "usd_rub_rate": payment.usd_rub_rate})
        .to_string();
    let (row, replayed) = db
        .record_refund(&Refund {
            id: refund_id,
            payment_id: &payment.id,
            user_id: payment.user_id,
            amount_kopecks: kopecks,
            amount,
            reference: &reference,
            detail: &detail,
            now,
        })
        .await?;
    if replayed {
        return Ok(());
    }
    if payment.kind == "subscription" {
        db.end_bought_month(payment.user_id, now).await?;
        let flag =
            json!({"refund_id": refund_id, "payment_id": payment.id, "plan": payment.plan}).to_string();
        db.flag_account(payment.user_id, "subscription_refunded", &flag, now)
            .await?;
    }
    if row.shortfall_nanos > 0 {
        worker::console_warn!(
            "[{}] refund {refund_id}: user {} could cover {} of {} nano-USD; the rest is recorded and the account flagged",
            app.request_id,
            row.user_id,
            row.debited_nanos,
            row.amount_nanos
        );
    }
    Ok(())
}

/// Credits (or grants the month of) a payment YooKassa reported succeeded, for the amount it
/// reported.
async fn complete(db: &Db, payment: &PaymentRow, reported: &Value, now: i64) -> ApiResult<()> {
    let reference = format!("yookassa:{}", payment.id);
    let value = reported["amount"]["value"].as_str().unwrap_or_default();
    let currency = reported["amount"]["currency"].as_str().unwrap_or_default();
    let kopecks = parse_decimal(value, 2)
        .ok()
        .filter(|_| currency == "RUB")
        .ok_or_else(|| {
            ApiError::internal(format!(
                "payment {} reported an amount of {value} {currency}",
                payment.id
            ))
        })?;
    if kopecks != payment.amount_kopecks {
        worker::console_warn!(
            "payment {}: YooKassa reports {kopecks} kopecks, {} were requested; crediting what was paid",
            payment.id,
            payment.amount_kopecks
        );
    }
    match (payment.kind.as_str(), &payment.plan) {
        ("subscription", Some(plan)) => {
            let detail = json!({"plan": plan, "amount_rub": value}).to_string();
            db.grant_subscription(payment.user_id, plan, &reference, &detail, now)
                .await?;
        }
        _ => {
            let rate_e4 = parse_decimal(&payment.usd_rub_rate, RATE_SCALE).map_err(|_| {
                ApiError::internal(format!(
                    "payment {} has rate {}",
                    payment.id, payment.usd_rub_rate
                ))
            })?;
            let amount =
                kopecks_to_nanos(kopecks, rate_e4).ok_or_else(|| ApiError::internal("amount overflow"))?;
            let detail = json!({"amount_rub": value, "usd_rub_rate": payment.usd_rub_rate}).to_string();
            let credit = Credit {
                user_id: payment.user_id,
                kind: "topup",
                amount,
                reference: &reference,
                detail: &detail,
                now,
            };
            db.credit(&credit).await?;
        }
    }
    db.set_payment_status(&payment.id, "succeeded", now).await
}

/// `GET /api/billing/history?limit=&cursor=`: the user's ledger, newest first.
pub async fn history(req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_scope(Scope::Billing)?;
    let url = req.url()?;
    let mut limit = 20_i64;
    let mut cursor = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request("limit", "`limit` must be a whole number from 1 to 100.")
                    })?;
            }
            "cursor" => {
                cursor = Some(value.parse::<i64>().map_err(|_| {
                    ApiError::bad_request("cursor", "`cursor` is not a cursor from this API.")
                })?);
            }
            _ => {}
        }
    }
    let mut rows = db.ledger_page(principal.user.id, cursor, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(20));
    let next_cursor = if more {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "kind": r.kind,
                "amount_usd": Nanos(r.amount_nanos).as_usd_f64(),
                "balance_usd": Nanos(r.balance_after_nanos).as_usd_f64(),
                "reference": r.reference,
                "created_at": time::iso8601(r.created_at),
            })
        })
        .collect();
    http::json(200, &json!({ "entries": entries, "next_cursor": next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rubles_convert_to_dollars_exactly_at_the_rate() {
        // 925.00 RUB at 92.5 RUB/USD is exactly $10.
        assert_eq!(kopecks_to_nanos(92_500, 925_000), Some(10_000_000_000));
        // 100 RUB at 92.5: $1.081081081… rounded down to the nano.
        assert_eq!(kopecks_to_nanos(10_000, 925_000), Some(1_081_081_081));
        assert_eq!(kopecks_to_nanos(1, 0), None);
    }

    #[test]
    fn a_dollar_amount_buys_at_least_that_many_dollars() {
        for (usd_nanos, rate) in [
            (10_000_000_000, 925_000),
            (1_000_000_000, 1_000_001),
            (123_456_000, 777_777),
        ] {
            let kopecks = nanos_to_kopecks(usd_nanos, rate).unwrap();
            assert!(
                kopecks_to_nanos(kopecks, rate).unwrap() >= usd_nanos,
                "{usd_nanos} at {rate}"
            );
            assert!(
                kopecks_to_nanos(kopecks - 1, rate).unwrap() < usd_nanos,
                "not a kopeck more than needed"
            );
        }
    }

    #[test]
    fn conversions_at_the_edges_of_i64_answer_none_not_a_wrapped_amount() {
        assert_eq!(nanos_to_kopecks(i64::MAX, i64::MAX), None);
        assert_eq!(kopecks_to_nanos(i64::MAX, 1), None);
        assert!(kopecks_to_nanos(i64::MAX, i64::MAX).is_some());
    }

    #[test]
    fn webhook_values_are_bounded_before_they_reach_a_log() {
        let long = "x".repeat(10_000);
        assert_eq!(loggable(&long).chars().count(), 65);
        assert_eq!(loggable("a\nb\u{1b}[31m"), "a?b?[31m");
        assert!(plausible_id("2d8a7b4e-000f-5000-9000-1b68e7b15f3f"));
        assert!(!plausible_id(&long) && !plausible_id("") && !plausible_id("a b") && !plausible_id("../x"));
    }

    #[test]
    fn amounts_are_written_as_yookassa_wants_them() {
        assert_eq!(kopecks_text(99_000), "990.00");
        assert_eq!(kopecks_text(1005), "10.05");
    }
}
