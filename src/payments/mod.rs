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
