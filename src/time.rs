//! The clock and timestamps. In the Worker the clock is JavaScript's `Date` (it advances across
//! I/O, not during pure CPU work); natively, for unit tests, it is the system clock.

/// Milliseconds since the Unix epoch.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn now_secs() -> i64 {
    (now_ms() / 1000) as i64
}

/// A calendar day in the configured time zone: the key of daily counters and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// `YYYY-MM-DD`, local.
    pub key: String,
    /// Unix milliseconds of the next local midnight.
    pub ends_ms: i64,
}

/// The day that contains `now_ms` for a zone `offset_secs` east of UTC.
pub fn day_at(now_ms: i64, offset_secs: i64) -> Day {
    let local_secs = now_ms.div_euclid(1000) + offset_secs;
    let days = local_secs.div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Day {
        key: format!("{year:04}-{month:02}-{day:02}"),
        ends_ms: ((days + 1) * 86_400 - offset_secs) * 1000,
    }
}

/// The start and end (Unix seconds) of the local calendar month containing `now_secs`, for a zone
/// `offset_secs` east of UTC.
pub fn month_at(now_secs: i64, offset_secs: i64) -> (i64, i64) {
    let days = (now_secs + offset_secs).div_euclid(86_400);
    let (year, month, _) = civil_from_days(days);
    let first = days_from_civil(year, month, 1);
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let next = days_from_civil(next_year, next_month, 1);
    (first * 86_400 - offset_secs, next * 86_400 - offset_secs)
}

/// `UTC`, `Z`, or an offset `±HH:MM[:SS]` → seconds east of UTC. Named zones with daylight
/// saving are not supported (a fixed offset is exact for zones without it, e.g. Moscow +03:00).
pub fn parse_utc_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("utc") || text == "Z" || text.eq_ignore_ascii_case("etc/utc") {
        return Some(0);
    }
    let text = text.strip_prefix("UTC").unwrap_or(text);
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let mut parts = rest.split(':');
    let mut field = |max: i64| -> Option<i64> {
        let part = parts.next()?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok().filter(|v| *v <= max)
    };
    let hours = field(14)?;
    let minutes = field(59)?;
    let seconds = field(59).unwrap_or(0);
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds → `2026-11-22T10:00:00Z`.
pub fn iso8601(secs: i64) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2026-11-22T10:00:00Z`, `2026-11-22T10:00:00.5+03:00` or `2026-11-22` → Unix seconds.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = |s: &str| -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (date, rest) = match text.split_once(['T', 't', ' ']) {
        Some((d, r)) => (d, Some(r)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?)?;
    let month = u32::try_from(digits(parts.next()?)?).ok()?;
    let day = u32::try_from(digits(parts.next()?)?).ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    if let Some(rest) = rest {
        let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let at = rest.rfind(['+', '-'])?;
            let (c, o) = rest.split_at(at);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (h, m) = o[1..].split_once(':')?;
            (c, sign * (digits(h)? * 3600 + digits(m)? * 60))
        };
        let clock = clock.split('.').next()?;
        let mut hms = clock.split(':');
        let (h, m, s) = (
            digits(hms.next()?)?,
            digits(hms.next()?)?,
            digits(hms.next().unwrap_or("0"))?,
        );
        if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
            return None;
        }
        secs += h * 3600 + m * 60 + s - offset;
    }
    Some(secs)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Whether an ISO 8601 text is a date alone (no time of day): `2026-12-01`, not
/// `2026-12-01T10:00:00Z`.
pub fn is_date_only(text: &str) -> bool {
    !text.trim().contains(['T', 't', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        for secs in [0, 951_782_400, 1_700_000_000, 1_795_000_000, 4_102_444_800] {
            assert_eq!(parse_iso8601(&iso8601(secs)), Some(secs), "{}", iso8601(secs));
        }
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parses_offsets_fractions_and_dates() {
        assert_eq!(
            parse_iso8601("2023-11-15T01:13:20.123+03:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_iso8601("2023-11-14"), Some(1_699_920_000));
    }

    #[test]
    fn days_follow_the_configured_offset() {
        // 2023-11-14T22:13:20Z is already the 15th in Moscow (+03:00).
        let utc = day_at(1_700_000_000_000, 0);
        assert_eq!(utc.key, "2023-11-14");
        assert_eq!(utc.ends_ms, 1_700_006_400_000);
        let moscow = day_at(1_700_000_000_000, 3 * 3600);
        assert_eq!(moscow.key, "2023-11-15");
        assert_eq!(moscow.ends_ms, 1_700_082_000_000);
        assert!(day_at(moscow.ends_ms - 1, 3 * 3600).key == "2023-11-15");
        assert_eq!(day_at(moscow.ends_ms, 3 * 3600).key, "2023-11-16");
    }

    #[test]
    fn offsets_parse_strictly() {
        assert_eq!(parse_utc_offset("UTC"), Some(0));
        assert_eq!(parse_utc_offset("+03:00"), Some(10_800));
        assert_eq!(parse_utc_offset("UTC-05:30"), Some(-19_800));
        assert_eq!(parse_utc_offset("+01:02:03"), Some(3723));
        for bad in ["Europe/Moscow", "3", "+3:00", "+15:00", "+03:60", ""] {
            assert_eq!(parse_utc_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_impossible_dates() {
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "2023-11-14T25:00:00Z",
            "yesterday",
            "",
            "2023-11-14T10:00:00+0300",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}
