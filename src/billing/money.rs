//! Exact money. Amounts are integer nano-USD (1e-9 USD); prices are integer micro-USD per 1M
//! tokens (equivalently nano-USD per 1,000 tokens) or micro-USD per image. No floating point
//! touches an amount; `f64` appears only when rendering JSON numbers for display.

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
}
