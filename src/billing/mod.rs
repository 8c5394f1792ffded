//! Money: exact arithmetic, token estimates, the cost of a request (`usage`) and the
//! `Reservation` every paid request takes. Holds, settlement and the ledger are D1 statements in
//! `db`; the rules that size and settle them live here. Payments (YooKassa) are `crate::payments`.

pub mod analytics;
pub mod codes;
pub mod estimate;
pub mod ledger;
pub mod money;
pub mod report;
pub mod reservation;
pub mod usage;

/// How a request is paid for, as `billing_mode` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingMode {
    /// A lite request inside the day's free allowance: nothing is charged.
    Free,
    PerToken,
    PerImage,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Free => "free",
            BillingMode::PerToken => "per_token",
            BillingMode::PerImage => "per_image",
        }
    }
}
