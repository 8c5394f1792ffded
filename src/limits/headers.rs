//! Rate-limit headers from a limiter snapshot: `X-RateLimit-*` for the request limit that binds
//! first (the per-minute rate or the daily free allowance, whichever has less left), and
//! OpenAI's `x-ratelimit-*-requests` / `-tokens` trios for the per-minute windows.

use super::policy::Snapshot;
use crate::app::App;
use crate::auth::Principal;

/// A duration as OpenAI writes it: `250ms`, `7s`, `1m30s`.
pub fn openai_duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = (ms + 999) / 1000;
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, s) => format!("{m}m{s}s"),
    }
}

fn unix_secs_ceil(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
}

/// Every header, as (name, value) pairs.
pub fn for_snapshot(snapshot: &Snapshot, now_ms: i64, lite: bool) -> Vec<(&'static str, String)> {
    let rpm = (snapshot.rpm_limit, snapshot.rpm_remaining, snapshot.rpm_reset_ms);
    let daily = (
        snapshot.daily_limit,
        snapshot.daily_remaining,
        snapshot.daily_reset_ms,
    );
    // For a lite request (or when nothing says otherwise) the daily allowance competes too.
    let binding = if lite && daily.1 < rpm.1 { daily } else { rpm };
    vec![
        ("X-RateLimit-Limit", binding.0.to_string()),
        ("X-RateLimit-Remaining", binding.1.to_string()),
        ("X-RateLimit-Reset", unix_secs_ceil(binding.2).to_string()),
        ("x-ratelimit-limit-requests", snapshot.rpm_limit.to_string()),
        (
            "x-ratelimit-remaining-requests",
            snapshot.rpm_remaining.to_string(),
        ),
        (
            "x-ratelimit-reset-requests",
            openai_duration(snapshot.rpm_reset_ms - now_ms),
        ),
        ("x-ratelimit-limit-tokens", snapshot.tpm_limit.to_string()),
        ("x-ratelimit-remaining-tokens", snapshot.tpm_remaining.to_string()),
        (
            "x-ratelimit-reset-tokens",
            openai_duration(snapshot.tpm_reset_ms - now_ms),
        ),
    ]
}

/// The headers of an authenticated answer that did not talk to the limiter itself: from a peek
/// at the caller's limiter. A failure to read them costs the headers, not the answer.
pub async fn peeked(app: &App, caller: &Principal) -> Vec<(&'static str, String)> {
    let now_ms = crate::time::now_ms() as i64;
    let day = crate::time::day_at(now_ms, app.config.utc_offset_secs);
    match super::client::peek(&app.env, caller.user.id, caller.plan.limits(), &day).await {
        Ok(peek) => for_snapshot(&peek.snapshot, now_ms, true),
        Err(error) => {
            worker::console_error!(
                "[{}] rate-limit headers unavailable: {:?}",
                app.request_id,
                error.internal
            );
            Vec::new()
        }
    }
}

/// Sets every header of `snapshot` on a response.
pub fn stamp(response: &mut worker::Response, snapshot: &Snapshot, lite: bool) {
    let now_ms = crate::time::now_ms() as i64;
    for (name, value) in for_snapshot(snapshot, now_ms, lite) {
        let _ = response.headers_mut().set(name, &value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            rpm_limit: 20,
            rpm_remaining: 17,
            rpm_reset_ms: 1_000_030_500,
            tpm_limit: 40_000,
            tpm_remaining: 39_000,
            tpm_reset_ms: 1_000_090_000,
            daily_limit: 15,
            daily_remaining: 3,
            daily_reset_ms: 1_003_600_000,
            concurrent_limit: 2,
            concurrent_active: 1,
        }
    }

    #[test]
    fn durations_read_like_openais() {
        assert_eq!(openai_duration(250), "250ms");
        assert_eq!(openai_duration(7000), "7s");
        assert_eq!(openai_duration(90_000), "1m30s");
        assert_eq!(openai_duration(-5), "0ms");
    }

    #[test]
    fn the_binding_limit_is_the_one_with_less_left() {
        let lite = for_snapshot(&snapshot(), 1_000_000_000, true);
        assert_eq!(lite[0], ("X-RateLimit-Limit", "15".to_owned()));
        assert_eq!(lite[1], ("X-RateLimit-Remaining", "3".to_owned()));
        assert_eq!(lite[2], ("X-RateLimit-Reset", "1003600".to_owned()));
        let premium = for_snapshot(&snapshot(), 1_000_000_000, false);
        assert_eq!(premium[0], ("X-RateLimit-Limit", "20".to_owned()));
        assert_eq!(premium[2], ("X-RateLimit-Reset", "1000031".to_owned()));
        assert_eq!(premium[5], ("x-ratelimit-reset-requests", "31s".to_owned()));
        assert_eq!(premium[8], ("x-ratelimit-reset-tokens", "1m30s".to_owned()));
    }
}
