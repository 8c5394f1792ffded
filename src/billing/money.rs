//! Exact money. Amounts are integer nano-USD (1e-9 USD); prices are integer micro-USD per 1M
//! tokens (equivalently nano-USD per 1,000 tokens) or micro-USD per image. No floating point
//! touches an amount; `f64` appears only when rendering JSON numbers for display. RUB amounts
//! (payments) are integer kopecks, converted at a rate kept × 10⁴.

use std::fmt;

/// USD amount in nano-dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nanos(pub i64);

/// A price in micro-USD: per 1M tokens for token prices, per image for image prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MicroUsd(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMoneyError(pub String);

impl fmt::Display for ParseMoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a non-negative decimal string such as `"0.90"` or `"187.5"` with at most `scale`
/// fractional digits into an integer count of 10^-scale units.
pub fn parse_decimal(text: &str, scale: u32) -> Result<i64, ParseMoneyError> {
    let bad = || {
        ParseMoneyError(format!(
            "`{text}` is not a decimal amount with at most {scale} decimals"
        ))
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > scale as usize
        || (text.contains('.') && fraction.is_empty())
    {
        return Err(bad());
    }
    let unit = 10_i64.checked_pow(scale).ok_or_else(bad)?;
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let mut frac: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| bad())?
    };
    for _ in fraction.len()..scale as usize {
        frac *= 10;
    }
    whole
        .checked_mul(unit)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

/// Like `parse_decimal`, for a JSON number as serde_json writes it back, which may use an
/// exponent (`1e-6`, `1.5e+3`): the digits are shifted exactly, never through a float.
pub fn parse_json_decimal(text: &str, scale: u32) -> Result<i64, ParseMoneyError> {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return parse_decimal(text, scale);
    };
    let bad = || {
        ParseMoneyError(format!(
            "`{text}` is not a decimal amount with at most {scale} decimals"
        ))
    };
    let exponent: i32 = exponent
        .strip_prefix('+')
        .unwrap_or(exponent)
        .parse()
        .map_err(|_| bad())?;
    if exponent.unsigned_abs() > 40 {
        return Err(bad());
    }
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if whole.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // The position of the decimal point within `digits`, after the shift.
    let point = whole.len() as i32 + exponent;
    let plain = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    };
    // Trailing zeros of the fraction carry no precision.
    let plain = if plain.contains('.') {
        plain.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        plain
    };
    parse_decimal(&plain, scale)
}

impl MicroUsd {
    pub fn parse(text: &str) -> Result<MicroUsd, ParseMoneyError> {
        parse_decimal(text, 6).map(MicroUsd)
    }

    /// As a JSON number of USD (display only).
    pub fn as_usd_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl Nanos {
    pub const ZERO: Nanos = Nanos(0);

    /// Rounded to whole micro-USD (half away from zero), as a JSON number of USD with at most
    /// six decimals. Display only.
    pub fn as_usd_f64(self) -> f64 {
        let micros = if self.0 >= 0 {
            (self.0 + 500) / 1000
        } else {
            (self.0 - 500) / 1000
        };
        micros as f64 / 1e6
    }
}

/// `tokens × price` where the price is micro-USD per 1M tokens, in nano-USD, rounded up to the
/// next whole nano-dollar so a charge never falls short of the formula.
pub fn token_cost(tokens: u64, price_per_million: MicroUsd) -> Nanos {
    let product = u128::from(tokens) * u128::try_from(price_per_million.0.max(0)).unwrap_or(0);
    let nanos = product.div_ceil(1000);
    Nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// `USD_RUB_RATE` is kept to 4 decimals.
const RATE_SCALE: u32 = 4;

/// A RUB-per-USD rate such as `USD_RUB_RATE` (`"92.5"`), × 10⁴.
pub fn parse_rate(text: &str) -> Result<i64, ParseMoneyError> {
    parse_decimal(text, RATE_SCALE)
}

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

/// Kopecks as a RUB decimal with two places (`"990.00"`), as YooKassa wants amounts.
pub fn kopecks_text(kopecks: i64) -> String {
    format!("{}.{:02}", kopecks / 100, kopecks % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prices_exactly() {
        assert_eq!(MicroUsd::parse("0.90"), Ok(MicroUsd(900_000)));
        assert_eq!(MicroUsd::parse("187.50"), Ok(MicroUsd(187_500_000)));
        assert_eq!(MicroUsd::parse("0.012"), Ok(MicroUsd(12_000)));
        assert_eq!(MicroUsd::parse("3"), Ok(MicroUsd(3_000_000)));
        assert_eq!(MicroUsd::parse("0.000001"), Ok(MicroUsd(1)));
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in [
            "",
            ".5",
            "1.",
            "-1",
            "1e3",
            "0.0000001",
            "1,5",
            " 1",
            "abc",
            "99999999999999999999",
        ] {
            assert!(MicroUsd::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn exponent_forms_are_shifted_exactly() {
        assert_eq!(parse_json_decimal("1e-6", 9), Ok(1000));
        assert_eq!(parse_json_decimal("1.5e+3", 2), Ok(150_000));
        assert!(parse_json_decimal("2.5E-9", 9).is_err());
        assert_eq!(parse_json_decimal("1e-9", 9), Ok(1));
        assert_eq!(parse_json_decimal("1000.0", 9), Ok(1_000_000_000_000));
        assert_eq!(parse_json_decimal("1.0e6", 0), Ok(1_000_000));
        for bad in ["1e", "e5", "-1e3", "1e999", "1.e3x"] {
            assert!(parse_json_decimal(bad, 9).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_cost_follows_the_seed_formula() {
        // Stone seed: 15 tokens in and 82 out on gpt-4o-mini (0.90 / 3.60 per 1M).
        let cost = Nanos(token_cost(15, MicroUsd(900_000)).0 + token_cost(82, MicroUsd(3_600_000)).0);
        assert_eq!(cost, Nanos(308_700)); // $0.0003087 exactly
        assert_eq!(cost.as_usd_f64(), 0.000309);
    }

    #[test]
    fn token_cost_rounds_fractions_of_a_nano_up() {
        assert_eq!(token_cost(1, MicroUsd(1)), Nanos(1));
        assert_eq!(token_cost(0, MicroUsd(5_000_000)), Nanos(0));
        assert_eq!(token_cost(1_000_000, MicroUsd(1)), Nanos(1000));
    }

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
    fn amounts_are_written_as_yookassa_wants_them() {
        assert_eq!(kopecks_text(99_000), "990.00");
        assert_eq!(kopecks_text(1005), "10.05");
    }
}

/// The rules of the books, as the D1 statements of `db` apply them, in plain code so their
/// invariants can be checked over any sequence of operations: the ledger sums to the balance,
/// the balance never goes negative, and open holds never exceed it.
pub mod books {
    use std::collections::BTreeMap;

    #[derive(Debug, Default, Clone)]
    pub struct Books {
        pub balance: i64,
        /// Open holds by request id.
        pub holds: BTreeMap<u32, i64>,
        /// Signed amounts, credits positive.
        pub ledger: Vec<i64>,
    }

    impl Books {
        pub fn held(&self) -> i64 {
            self.holds.values().sum()
        }

        /// What may still be reserved: the balance minus open holds (`available_balance`).
        pub fn available(&self) -> i64 {
            self.balance - self.held()
        }

        /// `place_hold`: only if what is available covers it.
        pub fn place_hold(&mut self, id: u32, amount: i64) -> bool {
            if amount <= 0 || self.holds.contains_key(&id) || self.available() < amount {
                return false;
            }
            self.holds.insert(id, amount);
            true
        }

        /// `settle`: the cost capped at the hold is charged and the hold closed; a settlement of
        /// a hold no longer open changes nothing. Returns what was charged.
        pub fn settle(&mut self, id: u32, cost: i64) -> i64 {
            let Some(hold) = self.holds.remove(&id) else {
                return 0;
            };
            let charged = cost.clamp(0, hold);
            if charged > 0 {
                self.ledger.push(-charged);
                self.balance -= charged;
            }
            charged
        }

        /// `release_hold`: nothing is charged.
        pub fn release(&mut self, id: u32) {
            self.holds.remove(&id);
        }

        /// `credit`: refused when the balance could not hold it (SQL would turn the sum into a
        /// float).
        pub fn credit(&mut self, amount: i64) -> bool {
            match self.balance.checked_add(amount) {
                Some(balance) if amount > 0 => {
                    self.balance = balance;
                    self.ledger.push(amount);
                    true
                }
                _ => false,
            }
        }

        /// `record_refund`: the refund capped at what is available (so open holds can still
        /// settle), never below zero. Returns (debited, shortfall).
        pub fn refund(&mut self, amount: i64) -> (i64, i64) {
            let debit = amount.min(self.available().max(0)).max(0);
            self.ledger.push(-debit);
            self.balance -= debit;
            (debit, amount - debit)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Hold(u32, i64),
            Settle(u32, i64),
            Release(u32),
            Credit(i64),
            Refund(i64),
        }

        fn op() -> impl Strategy<Value = Op> {
            let amount = prop_oneof![0..1_000_i64, 0..10_000_000_000_i64, Just(i64::MAX / 2)];
            prop_oneof![
                (0..8_u32, amount.clone()).prop_map(|(id, a)| Op::Hold(id, a)),
                (0..8_u32, amount.clone()).prop_map(|(id, a)| Op::Settle(id, a)),
                (0..8_u32).prop_map(Op::Release),
                amount.clone().prop_map(Op::Credit),
                amount.prop_map(Op::Refund),
            ]
        }

        proptest! {
            #[test]
            fn any_sequence_keeps_the_ledger_equal_to_the_balance(ops in prop::collection::vec(op(), 1..200)) {
                let mut books = Books::default();
                for op in ops {
                    match op {
                        Op::Hold(id, a) => { books.place_hold(id, a); }
                        Op::Settle(id, cost) => {
                            let hold = books.holds.get(&id).copied().unwrap_or(0);
                            let charged = books.settle(id, cost);
                            prop_assert!(charged <= hold, "charged {} over the hold {}", charged, hold);
                        }
                        Op::Release(id) => books.release(id),
                        Op::Credit(a) => { books.credit(a); }
                        Op::Refund(a) => {
                            let (debit, shortfall) = books.refund(a);
                            prop_assert_eq!(debit + shortfall, a);
                            prop_assert!(shortfall >= 0);
                        }
                    }
                    let sum: i128 = books.ledger.iter().map(|&a| i128::from(a)).sum();
                    prop_assert_eq!(sum, i128::from(books.balance));
                    prop_assert!(books.balance >= 0);
                    prop_assert!(books.held() <= books.balance, "holds {} over the balance {}", books.held(), books.balance);
                }
            }
        }

        #[test]
        fn a_refund_leaves_what_open_holds_need() {
            let mut books = Books::default();
            books.credit(100);
            assert!(books.place_hold(1, 60));
            assert_eq!(books.refund(100), (40, 60));
            // The request in flight still settles in full.
            assert_eq!(books.settle(1, 60), 60);
            assert_eq!(books.balance, 0);
        }
    }
}
