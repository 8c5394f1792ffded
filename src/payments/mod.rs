//! Top-ups and bought months through YooKassa.
//!
//! A payment is always created in RUB at `USD_RUB_RATE` (recorded with the payment). The webhook
//! is never trusted as sent: the payment is fetched from YooKassa, and only a payment YooKassa
//! reports `succeeded` is credited — once, for the amount YooKassa reports.
//!
//! - `routes`: `POST /api/billing/topup`, the webhook, `GET /api/billing/payments/{id}`;
//! - `reconcile`: a payment or refund checked at YooKassa, and what it does to the account;
//! - `yookassa`: the client (the shop's credentials, creating and fetching payments and refunds)
//!   and YooKassa's objects, typed.
//!
//! RUB ↔ USD arithmetic is with the rest of the money code, in `billing::money`.

mod reconcile;
mod routes;
mod yookassa;

pub use routes::{payment_status, topup, webhook};

use serde::Deserialize;

/// What a payment buys, as `payments.kind` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentKind {
    /// USD on the balance, at the payment's rate.
    Topup,
    /// A month of a plan (`payments.plan`); no money reaches the balance.
    Subscription,
}

impl PaymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentKind::Topup => "topup",
            PaymentKind::Subscription => "subscription",
        }
    }
}

/// Where a payment is, as `payments.status` says it: pending until YooKassa reports it one way
/// or the other, then never again changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Pending,
    /// Credited (or the month granted).
    Succeeded,
    Canceled,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Canceled => "canceled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_read_as_they_are_written() {
        for kind in [PaymentKind::Topup, PaymentKind::Subscription] {
            let read: PaymentKind = serde_json::from_value(serde_json::json!(kind.as_str())).unwrap();
            assert_eq!(read, kind);
        }
        for status in [
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Canceled,
        ] {
            let read: PaymentStatus = serde_json::from_value(serde_json::json!(status.as_str())).unwrap();
            assert_eq!(read, status);
        }
    }
}
