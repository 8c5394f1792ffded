//! The canonical token usage every wire format's usage is read into, and its price.
//!
//! Conventions (OpenAI's, so the other surfaces convert at their edge):
//! - `input` counts every prompt token, cached or not; `cache_read`, `cache_write_5m` and
//!   `cache_write_1h` are parts of it. Anthropic reports `input_tokens` *without* its cache
//!   counts: its reader adds them in.
//! - `output` counts every generated token including reasoning; `reasoning` is a part of it.
//!   A provider that reports reasoning outside its completion count has it added in by its reader.
//!
//! `cost = (uncached_in × price_input + cache_read × price_cache_read
//!          + cache_write_5m × price_cache_write + cache_write_1h × 2 × price_input
//!          + output × price_output) / 1,000,000`

use super::money::{token_cost, MicroUsd, Nanos};
use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Every prompt token, cached or not.
    pub input: u64,
    /// Prompt tokens read from the provider's cache (part of `input`).
    pub cache_read: u64,
    /// Prompt tokens written to a 5-minute cache (part of `input`; Anthropic's default TTL).
    pub cache_write_5m: u64,
    /// Prompt tokens written to a 1-hour cache (part of `input`).
    pub cache_write_1h: u64,
    /// Every generated token, reasoning included.
    pub output: u64,
    /// Reasoning ("thinking") tokens (part of `output`).
    pub reasoning: u64,
}

/// Per-1M-token prices of a model. A provider without a prompt cache has `None` cache prices:
/// its cache counts (there should be none) are priced as plain input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenPrices {
    pub input: MicroUsd,
    pub output: MicroUsd,
    pub cache_read: Option<MicroUsd>,
    pub cache_write: Option<MicroUsd>,
}

impl TokenUsage {
    pub fn new(input: u64, output: u64) -> TokenUsage {
        TokenUsage {
            input,
            output,
            ..TokenUsage::default()
        }
    }

    pub fn cache_write(&self) -> u64 {
        self.cache_write_5m.saturating_add(self.cache_write_1h)
    }

    /// Input tokens neither read from nor written to a cache.
    pub fn uncached_input(&self) -> u64 {
        self.input
            .saturating_sub(self.cache_read)
            .saturating_sub(self.cache_write())
    }

    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }

    /// Whether the upstream reported anything at all (an all-zero usage means "not reported").
    pub fn is_empty(&self) -> bool {
        self.input == 0 && self.output == 0
    }

    /// The price of this usage, exact to the nano-dollar (rounded up).
    pub fn cost(&self, prices: &TokenPrices) -> Nanos {
        let read_price = prices.cache_read.unwrap_or(prices.input);
        let write_price = prices.cache_write.unwrap_or(prices.input);
        let one_hour_price = MicroUsd(prices.input.0.saturating_mul(2));
        let parts = [
            token_cost(self.uncached_input(), prices.input),
            token_cost(self.cache_read, read_price),
            token_cost(self.cache_write_5m, write_price),
            token_cost(self.cache_write_1h, one_hour_price),
            token_cost(self.output, prices.output),
        ];
        Nanos(parts.iter().fold(0_i64, |sum, part| sum.saturating_add(part.0)))
    }
}

/// The canonical (OpenAI-shaped) usage and the billed one: kept here, so the canonical types
/// stay below billing.
impl crate::canonical::Usage {
    /// OpenAI's usage read into the canonical one: `prompt_tokens` include the cached ones
    /// (`prompt_tokens_details.cached_tokens`), `completion_tokens` the reasoning ones.
    pub fn tokens(&self) -> TokenUsage {
        let detail = |group: &str, field: &str| {
            self.extra
                .get(group)
                .and_then(|d| d.get(field))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        TokenUsage {
            input: self.prompt_tokens,
            cache_read: detail("prompt_tokens_details", "cached_tokens").min(self.prompt_tokens),
            cache_write_5m: self.cache_writes.five_minutes,
            cache_write_1h: self.cache_writes.one_hour,
            output: self.completion_tokens,
            reasoning: detail("completion_tokens_details", "reasoning_tokens").min(self.completion_tokens),
        }
    }

    /// The canonical usage in OpenAI's shape, with both detail objects as OpenAI always sends
    /// them: `cached_tokens` (part of `prompt_tokens`) and `reasoning_tokens` (part of
    /// `completion_tokens`).
    pub fn from_tokens(usage: &TokenUsage) -> crate::canonical::Usage {
        let mut shown = crate::canonical::Usage::new(usage.input, usage.output);
        shown.extra.insert(
            "prompt_tokens_details".into(),
            serde_json::json!({"cached_tokens": usage.cache_read}),
        );
        shown.extra.insert(
            "completion_tokens_details".into(),
            serde_json::json!({"reasoning_tokens": usage.reasoning}),
        );
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sonnet() -> TokenPrices {
        // $3 in, $15 out, 0.1× read, 1.25× write.
        TokenPrices {
            input: MicroUsd(3_000_000),
            output: MicroUsd(15_000_000),
            cache_read: Some(MicroUsd(300_000)),
            cache_write: Some(MicroUsd(3_750_000)),
        }
    }

    #[test]
    fn the_stone_seed_example_costs_what_the_seed_says() {
        // 15 tokens in and 82 out on gpt-4o-mini (0.90 / 3.60 per 1M): $0.0003087.
        let mini = TokenPrices {
            input: MicroUsd(900_000),
            output: MicroUsd(3_600_000),
            ..TokenPrices::default()
        };
        assert_eq!(TokenUsage::new(15, 82).cost(&mini), Nanos(308_700));
    }

    #[test]
    fn plain_usage_is_the_seed_formula() {
        let usage = TokenUsage::new(1000, 500);
        // 1000 × 3 + 500 × 15 = 10,500 micro-USD-per-1M units → $0.0105
        assert_eq!(usage.cost(&sonnet()), Nanos(10_500_000));
    }

    #[test]
    fn cache_reads_and_writes_are_priced_by_their_own_rates() {
        let usage = TokenUsage {
            input: 10_000,
            cache_read: 8_000,
            cache_write_5m: 1_000,
            cache_write_1h: 500,
            output: 100,
            reasoning: 40,
        };
        assert_eq!(usage.uncached_input(), 500);
        let expected = 500 * 3_000 + 8_000 * 300 + 1_000 * 3_750 + 500 * 6_000 + 100 * 15_000;
        assert_eq!(usage.cost(&sonnet()), Nanos(expected));
    }

    #[test]
    fn without_cache_prices_cache_tokens_cost_plain_input() {
        let prices = TokenPrices {
            cache_read: None,
            cache_write: None,
            ..sonnet()
        };
        let usage = TokenUsage {
            input: 100,
            cache_read: 60,
            ..TokenUsage::default()
        };
        assert_eq!(usage.cost(&prices), TokenUsage::new(100, 0).cost(&prices));
    }

    #[test]
    fn inconsistent_counts_never_underflow() {
        let usage = TokenUsage {
            input: 10,
            cache_read: 50,
            ..TokenUsage::default()
        };
        assert_eq!(usage.uncached_input(), 0);
    }
}
