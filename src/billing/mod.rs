//! Money: exact arithmetic, token estimates, and the cost of a request. Holds, settlement and
//! the ledger are D1 statements in `db`; the rules that size and settle them live here.

pub mod estimate;
pub mod money;
pub mod usage;
pub mod payments;

use crate::catalog::Pricing;
use money::{token_cost, Nanos};

/// `cost = (tokens_in × price_input + tokens_out × price_output) / 1,000,000`, exactly.
pub fn chat_cost(pricing: Pricing, tokens_in: u64, tokens_out: u64) -> Nanos {
    match pricing {
        Pricing::PerToken { input, output, .. } => Nanos(
            token_cost(tokens_in, input)
                .0
                .saturating_add(token_cost(tokens_out, output).0),
        ),
        Pricing::PerImage { .. } => Nanos::ZERO,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use money::MicroUsd;

    #[test]
    fn chat_cost_is_the_seed_formula() {
        let mini = Pricing::PerToken {
            input: MicroUsd(900_000),
            output: MicroUsd(3_600_000),
            weighted: MicroUsd(0),
        };
        assert_eq!(chat_cost(mini, 15, 82), Nanos(308_700));
        let opus = Pricing::PerToken {
            input: MicroUsd(37_500_000),
            output: MicroUsd(187_500_000),
            weighted: MicroUsd(0),
        };
        // 1,000 in and 500 out: 0.0375 + 0.09375 = $0.13125
        assert_eq!(chat_cost(opus, 1000, 500), Nanos(131_250_000));
    }
}
