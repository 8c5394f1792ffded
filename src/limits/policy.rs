//! The admission rules, as pure functions over the limiter's counters: concurrency leases, the
//! RPM and TPM sliding windows and the daily free allowance. The Durable Object reads the
//! counters, calls `admit`, and writes the result back without awaiting anything in between.

use serde::{Deserialize, Serialize};

pub const WINDOW_MS: i64 = 60_000;

/// A user's effective limits (the plan's, with per-user overrides applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub daily_lite_requests: i64,
    pub rpm: i64,
    pub tpm: i64,
    pub concurrent_requests: i64,
}

/// What the limiter knows when a request asks to be admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Leases not yet expired.
    pub active_leases: i64,
    /// Requests admitted in the last minute.
    pub requests_last_minute: i64,
    /// Tokens reserved or used in the last minute.
    pub tokens_last_minute: i64,
    /// Free (allowance) requests used today.
    pub free_used_today: i64,
    /// When the oldest request / token entry of the window leaves it (ms), if any.
    pub oldest_request_ms: Option<i64>,
    pub oldest_token_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitRequest {
    pub now_ms: i64,
    /// Unix ms of the next local midnight (the allowance resets then).
    pub day_ends_ms: i64,
    pub lite: bool,
    pub reserve_tokens: i64,
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Concurrency,
    Rpm,
    Tpm,
}

/// The numbers every rate-limit header is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Snapshot {
    pub rpm_limit: i64,
    pub rpm_remaining: i64,
    pub rpm_reset_ms: i64,
    pub tpm_limit: i64,
    pub tpm_remaining: i64,
    pub tpm_reset_ms: i64,
    pub daily_limit: i64,
    pub daily_remaining: i64,
    pub daily_reset_ms: i64,
    pub concurrent_limit: i64,
    pub concurrent_active: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// `None`: admitted; the lease and the window entries are to be written.
    pub refused: Option<Refusal>,
    /// Admitted inside the daily free allowance (a lite request).
    pub free: bool,
    pub retry_after_ms: i64,
    pub snapshot: Snapshot,
}

fn reset_at(oldest: Option<i64>, now: i64) -> i64 {
    oldest.map_or(now, |at| at + WINDOW_MS)
}

/// The state of every limit, without admitting anything.
pub fn snapshot(counters: &Counters, limits: &Limits, now_ms: i64, day_ends_ms: i64) -> Snapshot {
    Snapshot {
        rpm_limit: limits.rpm,
        rpm_remaining: (limits.rpm - counters.requests_last_minute).max(0),
        rpm_reset_ms: reset_at(counters.oldest_request_ms, now_ms),
        tpm_limit: limits.tpm,
        tpm_remaining: (limits.tpm - counters.tokens_last_minute).max(0),
        tpm_reset_ms: reset_at(counters.oldest_token_ms, now_ms),
        daily_limit: limits.daily_lite_requests,
        daily_remaining: (limits.daily_lite_requests - counters.free_used_today).max(0),
        daily_reset_ms: day_ends_ms,
        concurrent_limit: limits.concurrent_requests,
        concurrent_active: counters.active_leases,
    }
}

/// Decides one request. Admitted requests take a concurrency lease, count one request and
/// `reserve_tokens` tokens in the windows, and (lite, with allowance left) one free request.
pub fn admit(counters: &Counters, request: &AdmitRequest) -> Admission {
    let limits = &request.limits;
    let now = request.now_ms;
    let before = snapshot(counters, limits, now, request.day_ends_ms);
    let refuse = |refusal: Refusal, retry_after_ms: i64| Admission {
        refused: Some(refusal),
        free: false,
        retry_after_ms: retry_after_ms.max(1000),
        snapshot: before,
    };
    if counters.active_leases >= limits.concurrent_requests {
        // A slot frees when a request finishes; a second is a fair first guess.
        return refuse(Refusal::Concurrency, 1000);
    }
    if counters.requests_last_minute >= limits.rpm {
        return refuse(Refusal::Rpm, before.rpm_reset_ms - now);
    }
    // A single request larger than the whole TPM budget is admitted when the window is empty,
    // or it could never run; otherwise it waits for room.
    let tokens = request.reserve_tokens.max(0);
    if counters.tokens_last_minute > 0 && counters.tokens_last_minute + tokens > limits.tpm {
        return refuse(Refusal::Tpm, before.tpm_reset_ms - now);
    }
    let free = request.lite && counters.free_used_today < limits.daily_lite_requests;
    let after = Counters {
        active_leases: counters.active_leases + 1,
        requests_last_minute: counters.requests_last_minute + 1,
        tokens_last_minute: counters.tokens_last_minute + tokens,
        free_used_today: counters.free_used_today + i64::from(free),
        oldest_request_ms: counters.oldest_request_ms.or(Some(now)),
        oldest_token_ms: counters.oldest_token_ms.or(Some(now)),
    };
    Admission {
        refused: None,
        free,
        retry_after_ms: 0,
        snapshot: snapshot(&after, limits, now, request.day_ends_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        daily_lite_requests: 15,
        rpm: 20,
        tpm: 40_000,
        concurrent_requests: 2,
    };

    fn request(lite: bool, tokens: i64) -> AdmitRequest {
        AdmitRequest {
            now_ms: 1_000_000,
            day_ends_ms: 2_000_000,
            lite,
            reserve_tokens: tokens,
            limits: LIMITS,
        }
    }

    #[test]
    fn a_lite_request_inside_the_allowance_is_free_and_counted() {
        let admission = admit(&Counters::default(), &request(true, 100));
        assert_eq!((admission.refused, admission.free), (None, true));
        assert_eq!(admission.snapshot.daily_remaining, 14);
        assert_eq!(admission.snapshot.rpm_remaining, 19);
        assert_eq!(admission.snapshot.tpm_remaining, 39_900);
    }

    #[test]
    fn past_the_allowance_a_lite_request_is_admitted_but_not_free() {
        let counters = Counters {
            free_used_today: 15,
            ..Counters::default()
        };
        let admission = admit(&counters, &request(true, 100));
        assert_eq!((admission.refused, admission.free), (None, false));
        let premium = admit(&Counters::default(), &request(false, 100));
        assert!(!premium.free);
    }

    #[test]
    fn each_limit_refuses_with_a_retry_hint() {
        let busy = Counters {
            active_leases: 2,
            ..Counters::default()
        };
        assert_eq!(
            admit(&busy, &request(true, 1)).refused,
            Some(Refusal::Concurrency)
        );
        let fast = Counters {
            requests_last_minute: 20,
            oldest_request_ms: Some(970_000),
            ..Counters::default()
        };
        let refused = admit(&fast, &request(true, 1));
        assert_eq!(refused.refused, Some(Refusal::Rpm));
        assert_eq!(refused.retry_after_ms, 30_000);
        let heavy = Counters {
            tokens_last_minute: 39_000,
            oldest_token_ms: Some(990_000),
            ..Counters::default()
        };
        let refused = admit(&heavy, &request(true, 5000));
        assert_eq!(
            (refused.refused, refused.retry_after_ms),
            (Some(Refusal::Tpm), 50_000)
        );
    }

    #[test]
    fn one_request_larger_than_the_tpm_budget_runs_alone() {
        assert_eq!(admit(&Counters::default(), &request(false, 90_000)).refused, None);
    }

    #[test]
    fn sequential_admissions_against_an_allowance_of_k_give_exactly_k_free() {
        let limits = Limits {
            daily_lite_requests: 15,
            rpm: 1000,
            tpm: 10_000_000,
            concurrent_requests: 100,
        };
        let mut counters = Counters::default();
        let mut free = 0;
        for _ in 0..20 {
            let admission = admit(
                &counters,
                &AdmitRequest {
                    limits,
                    ..request(true, 10)
                },
            );
            assert_eq!(admission.refused, None);
            free += i64::from(admission.free);
            counters.active_leases += 1;
            counters.requests_last_minute += 1;
            counters.free_used_today += i64::from(admission.free);
        }
        assert_eq!(free, 15);
    }
}
