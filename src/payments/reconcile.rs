//! A payment or refund reconciled with what YooKassa reports: a top-up credited, a month granted,
//! a refund debited (or the month ended) — each once, however often the gateway is told to look.

use serde_json::json;

use super::yookassa::{self, loggable, shop, Payment};
use super::{PaymentKind, PaymentStatus};
use crate::app::App;
use crate::billing::money::{kopecks_to_nanos, parse_rate};
use crate::db::{Credit, Db, PaymentRow, Refund};
use crate::error::{ApiError, ApiResult};
use crate::time;

/// Asks YooKassa about a pending payment and records what it says: credits (or grants) one it
/// reports succeeded, marks one it reports canceled. The notification, or the payer coming back,
/// only says "look": the truth is what YooKassa answers. Returns the payment's status now.
pub(super) async fn payment(app: &App, db: &Db, payment: &PaymentRow, why: &str) -> ApiResult<PaymentStatus> {
    let shop = shop(app)?;
    let Some(reported) = yookassa::fetch_payment(&shop, &payment.id).await? else {
        worker::console_warn!(
            "[{}] YooKassa does not know payment {}",
            app.request_id,
            payment.id
        );
        return Ok(payment.status);
    };
    let now = time::now_secs();
    match reported.status.as_deref() {
        Some("succeeded") if reported.paid != Some(false) => {
            complete(db, payment, &reported, now).await?;
            Ok(PaymentStatus::Succeeded)
        }
        Some("canceled") => {
            db.set_payment_status(&payment.id, PaymentStatus::Canceled, now)
                .await?;
            Ok(PaymentStatus::Canceled)
        }
        other => {
            worker::console_log!(
                "[{}] {why} for payment {}: YooKassa says {:?}; nothing to do",
                app.request_id,
                payment.id,
                other.map(loggable)
            );
            Ok(payment.status)
        }
    }
}

/// A refund YooKassa reports succeeded, of a payment of ours that was credited: the refunded
/// amount (at the payment's rate) is debited once, never below zero; for a bought month, the
/// month ends now. What can't be taken back is recorded and the account flagged.
pub(super) async fn refund(app: &App, db: &Db, refund_id: &str) -> ApiResult<()> {
    let shop = shop(app)?;
    let Some(reported) = yookassa::fetch_refund(&shop, refund_id).await? else {
        worker::console_warn!("[{}] YooKassa does not know refund {refund_id}", app.request_id);
        return Ok(());
    };
    if reported.status.as_deref() != Some("succeeded") {
        return Ok(());
    }
    let payment_id = reported.payment_id();
    let Some(payment) = db.payment(payment_id).await? else {
        worker::console_warn!(
            "[{}] refund {refund_id} of unknown payment {:?} ignored",
            app.request_id,
            loggable(payment_id)
        );
        return Ok(());
    };
    if payment.status != PaymentStatus::Succeeded {
        // Never credited here, so there is nothing to take back.
        worker::console_warn!(
            "[{}] refund {refund_id} of payment {} that was not credited ({}) ignored",
            app.request_id,
            payment.id,
            payment.status.as_str()
        );
        return Ok(());
    }
    let (value, currency) = (reported.amount().value(), reported.amount().currency());
    let kopecks = reported
        .amount()
        .rub_kopecks()
        .filter(|k| *k > 0)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "refund {refund_id} reported an amount of {} {}",
                loggable(value),
                loggable(currency)
            ))
        })?;
    let now = time::now_secs();
    let rate_e4 = rate_of(&payment)?;
    let amount = match payment.kind {
        // A bought month moved no money onto the balance: nothing to debit, the month ends.
        PaymentKind::Subscription => 0,
        PaymentKind::Topup => {
            kopecks_to_nanos(kopecks, rate_e4).ok_or_else(|| ApiError::internal("amount overflow"))?
        }
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
    if payment.kind == PaymentKind::Subscription {
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
async fn complete(db: &Db, payment: &PaymentRow, reported: &Payment, now: i64) -> ApiResult<()> {
    let reference = format!("yookassa:{}", payment.id);
    let (value, currency) = (reported.amount().value(), reported.amount().currency());
    let kopecks = reported.amount().rub_kopecks().ok_or_else(|| {
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
    match (payment.kind, &payment.plan) {
        (PaymentKind::Subscription, Some(plan)) => {
            let detail = json!({"plan": plan, "amount_rub": value}).to_string();
            db.grant_subscription(payment.user_id, plan, &reference, &detail, now)
                .await?;
        }
        _ => {
            let rate_e4 = rate_of(payment)?;
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
    db.set_payment_status(&payment.id, PaymentStatus::Succeeded, now)
        .await
}

/// The rate a payment was made at, × 10⁴.
fn rate_of(payment: &PaymentRow) -> ApiResult<i64> {
    parse_rate(&payment.usd_rub_rate).map_err(|_| {
        ApiError::internal(format!(
            "payment {} has rate {}",
            payment.id, payment.usd_rub_rate
        ))
    })
}
