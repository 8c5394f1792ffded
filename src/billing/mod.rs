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

/// How a metered request ended, as its usage row's `status` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleStatus {
    Ok,
    /// The client left; what was generated is billed.
    ClientGone,
    /// The upstream went silent past the idle timeout.
    Timeout,
    /// The upstream's connection ended before its stream did.
    Cut,
    /// The upstream failed (before the first byte: nothing charged).
    UpstreamError,
    /// The worker died; the sweeper settled the hold.
    Abandoned,
}

impl SettleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SettleStatus::Ok => "ok",
            SettleStatus::ClientGone => "client_gone",
            SettleStatus::Timeout => "timeout",
            SettleStatus::Cut => "cut",
            SettleStatus::UpstreamError => "upstream_error",
            SettleStatus::Abandoned => "abandoned",
        }
    }
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
