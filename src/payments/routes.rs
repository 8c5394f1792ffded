//! `POST /api/billing/topup`, YooKassa's webhook and `GET /api/billing/payments/{id}`.

use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use super::yookassa::{self, loggable, plausible_id, shop, unavailable};
use super::{reconcile, PaymentKind, PaymentStatus};
use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::billing::money::{
    kopecks_text, kopecks_to_nanos, nanos_to_kopecks, parse_json_decimal, parse_rate, Nanos,
};
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::{http, time};

/// 10 RUB to 1,000,000 RUB, in kopecks.
const MIN_KOPECKS: i64 = 1_000;
const MAX_KOPECKS: i64 = 100_000_000;

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
            (PaymentKind::Topup, None, kopecks)
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
            (PaymentKind::Topup, None, kopecks)
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
            (PaymentKind::Subscription, Some(plan_id.to_owned()), kopecks)
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
        "metadata": {"user_id": principal.user.id.to_string(), "kind": kind.as_str(), "plan": plan},
    });
    let payment = yookassa::create_payment(&shop, &idempotence_key, &payload).await?;
    let (Some(id), Some(confirmation_url)) = (payment.id.as_deref(), payment.confirmation_url()) else {
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
            "amount_usd": if kind == PaymentKind::Topup { usd } else { None },
            "plan": plan,
        }),
    )
}

/// `POST /api/billing/webhook/yookassa`: 200 for every well-formed notification (a replay too).
/// `payment.*` notifications credit a payment YooKassa reports succeeded; `refund.succeeded`
/// debits a refund YooKassa reports succeeded.
pub async fn webhook(mut req: Request, app: &App) -> ApiResult<Response> {
    let notification: yookassa::Notification =
        http::read_json(&mut req, app.config.max_json_body_bytes).await?;
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
        reconcile::refund(app, &db, id).await?;
        return ok();
    }
    let Some(payment) = db.payment(id).await? else {
        worker::console_warn!("[{}] webhook for unknown payment {id} ignored", app.request_id);
        return ok();
    };
    if payment.status != PaymentStatus::Pending {
        return ok();
    }
    reconcile::payment(app, &db, &payment, &loggable(&notification.event)).await?;
    ok()
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
    let status = if payment.status == PaymentStatus::Pending {
        reconcile::payment(app, &db, &payment, "status check").await?
    } else {
        payment.status
    };
    let rate_e4 = parse_rate(&payment.usd_rub_rate).ok();
    let usd = rate_e4
        .and_then(|rate| kopecks_to_nanos(payment.amount_kopecks, rate))
        .map(|n| Nanos(n).as_usd_f64());
    http::json(
        200,
        &json!({
            "payment_id": payment.id,
            "status": status.as_str(),
            "kind": payment.kind.as_str(),
            "plan": payment.plan,
            "amount_rub": payment.amount_kopecks as f64 / 100.0,
            "amount_usd": if payment.kind == PaymentKind::Topup { usd } else { None },
            "created_at": time::iso8601(payment.created_at),
        }),
    )
}
