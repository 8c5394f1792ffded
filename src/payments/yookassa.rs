//! The YooKassa client: the shop's credentials from the config, creating a payment, fetching a
//! payment or a refund; and the parts of YooKassa's objects the gateway reads, deserialized.
//! A field YooKassa leaves out reads as empty, as if it said nothing.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use worker::Method;

use crate::app::App;
use crate::billing::money::{parse_decimal, parse_rate};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::http;

/// The shop YooKassa knows: where its API is, how to sign in, the rate payments are made at.
pub(super) struct Shop {
    api_url: String,
    authorization: String,
    /// `USD_RUB_RATE` as configured, recorded with each payment.
    pub rate_text: String,
    /// The same rate × 10⁴.
    pub rate_e4: i64,
    pub return_url: Option<String>,
}

/// A 503: the payment service is not configured, unreachable or answered nonsense.
pub(super) fn unavailable() -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "payment_service_unavailable",
        "Service Unavailable — the payment service is temporarily unavailable. Try again later.",
    )
}

pub(super) fn shop(app: &App) -> ApiResult<Shop> {
    let payments = &app.config.payments;
    let (Some(shop_id), Some(secret)) = (&payments.shop_id, &payments.secret_key) else {
        return Err(unavailable()
            .with_internal("YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY must be set to take payments"));
    };
    let rate_e4 = parse_rate(&payments.usd_rub_rate)
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

/// An amount as YooKassa writes it: a decimal string and a currency code.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Amount {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    currency: Option<String>,
}

/// A payment, as `POST /payments` and `GET /payments/{id}` answer.
#[derive(Debug, Deserialize)]
pub(super) struct Payment {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Absent is not `false`: only a payment that says it is unpaid is held back.
    #[serde(default)]
    pub paid: Option<bool>,
    #[serde(default)]
    amount: Option<Amount>,
    #[serde(default)]
    confirmation: Option<Confirmation>,
}

#[derive(Debug, Deserialize)]
struct Confirmation {
    #[serde(default)]
    confirmation_url: Option<String>,
}

/// A refund, as `GET /refunds/{id}` answers.
#[derive(Debug, Deserialize)]
pub(super) struct Refund {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    payment_id: Option<String>,
    #[serde(default)]
    amount: Option<Amount>,
}

const NO_AMOUNT: &Amount = &Amount {
    value: None,
    currency: None,
};

impl Payment {
    /// Where the payer confirms the payment.
    pub fn confirmation_url(&self) -> Option<&str> {
        self.confirmation.as_ref()?.confirmation_url.as_deref()
    }

    pub fn amount(&self) -> &Amount {
        self.amount.as_ref().unwrap_or(NO_AMOUNT)
    }
}

impl Refund {
    /// The refunded payment's id; empty when not said.
    pub fn payment_id(&self) -> &str {
        self.payment_id.as_deref().unwrap_or_default()
    }

    pub fn amount(&self) -> &Amount {
        self.amount.as_ref().unwrap_or(NO_AMOUNT)
    }
}

impl Amount {
    /// The decimal as written; empty when not said.
    pub fn value(&self) -> &str {
        self.value.as_deref().unwrap_or_default()
    }

    /// The currency code; empty when not said.
    pub fn currency(&self) -> &str {
        self.currency.as_deref().unwrap_or_default()
    }

    /// The amount in kopecks, if it is a RUB amount with at most 2 decimals.
    pub fn rub_kopecks(&self) -> Option<i64> {
        parse_decimal(self.value(), 2)
            .ok()
            .filter(|_| self.currency() == "RUB")
    }
}

/// The webhook's body: which event, about which object.
#[derive(Debug, Deserialize)]
pub(super) struct Notification {
    pub event: String,
    pub object: NotifiedObject,
}

#[derive(Debug, Deserialize)]
pub(super) struct NotifiedObject {
    pub id: String,
}

/// A value the sender chose, made safe for a log line: at most 64 characters, control
/// characters replaced.
pub(super) fn loggable(text: &str) -> String {
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
pub(super) fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn decode<T: DeserializeOwned>(body: &str) -> ApiResult<T> {
    serde_json::from_slice(body.as_bytes())
        .map_err(|e| unavailable().with_internal(format!("YooKassa sent non-JSON: {e}")))
}

/// Creates a payment (`POST /payments`) under a fresh idempotence key.
pub(super) async fn create_payment(
    shop: &Shop,
    idempotence_key: &str,
    payload: &Value,
) -> ApiResult<Payment> {
    let answer = http::send_outbound(
        Method::Post,
        &format!("{}/payments", shop.api_url),
        &[
            ("Authorization", &shop.authorization),
            ("Idempotence-Key", idempotence_key),
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
    decode(&answer.body)
}

/// What YooKassa reports about a payment; `None` when it does not know it.
pub(super) async fn fetch_payment(shop: &Shop, id: &str) -> ApiResult<Option<Payment>> {
    fetch_object(shop, "payments", id).await
}

/// What YooKassa reports about a refund; `None` when it does not know it.
pub(super) async fn fetch_refund(shop: &Shop, id: &str) -> ApiResult<Option<Refund>> {
    fetch_object(shop, "refunds", id).await
}

/// One of YooKassa's objects (`payments/{id}`, `refunds/{id}`), fetched with the shop's
/// credentials; `None` when YooKassa does not know it.
async fn fetch_object<T: DeserializeOwned>(shop: &Shop, kind: &str, id: &str) -> ApiResult<Option<T>> {
    let answer = http::send_outbound(
        Method::Get,
        &format!("{}/{kind}/{id}", shop.api_url),
        &[("Authorization", &shop.authorization)],
        None,
    )
    .await
    .map_err(|e| unavailable().with_internal(format!("YooKassa unreachable: {e}")))?;
    match answer.status {
        200 => decode(&answer.body).map(Some),
        404 => Ok(None),
        status => Err(unavailable().with_internal(format!("YooKassa answered {status} for {kind}/{id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_missing_or_null_fields_reads_as_saying_nothing() {
        let payment: Payment = serde_json::from_slice(
            r#"{"id": "p-1", "paid": null, "amount": null, "extra": {"x": 1}}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(payment.id.as_deref(), Some("p-1"));
        assert_eq!((payment.status.as_deref(), payment.paid), (None, None));
        assert_eq!((payment.amount().value(), payment.amount().currency()), ("", ""));
        assert_eq!(payment.confirmation_url(), None);
        let refund: Refund = serde_json::from_slice(r#"{"payment_id": null}"#.as_bytes()).unwrap();
        assert_eq!((refund.payment_id(), refund.amount().rub_kopecks()), ("", None));
    }

    #[test]
    fn an_amount_counts_only_in_rubles() {
        let amount = |value: &str, currency: &str| Amount {
            value: Some(value.to_owned()),
            currency: Some(currency.to_owned()),
        };
        assert_eq!(amount("990.00", "RUB").rub_kopecks(), Some(99_000));
        assert_eq!(amount("990.00", "USD").rub_kopecks(), None);
        assert_eq!(amount("9.999", "RUB").rub_kopecks(), None);
    }

    #[test]
    fn webhook_values_are_bounded_before_they_reach_a_log() {
        let long = "x".repeat(10_000);
        assert_eq!(loggable(&long).chars().count(), 65);
        assert_eq!(loggable("a\nb\u{1b}[31m"), "a?b?[31m");
        assert!(plausible_id("2d8a7b4e-000f-5000-9000-1b68e7b15f3f"));
        assert!(!plausible_id(&long) && !plausible_id("") && !plausible_id("a b") && !plausible_id("../x"));
    }
}
