//! The 402 / 429 answers of a request the limiter or the balance refused, built once for every
//! surface, with Stone's standing fields (`plan`, `tier`, `used_today`, `limit`,
//! `need_balance`) and the rate-limit headers of the limiter's view.

use super::headers::for_snapshot;
use super::policy::{Admission, Refusal, Snapshot};
use crate::billing::money::Nanos;
use crate::catalog::{Model, Tier};
use crate::db::PlanRow;
use crate::error::{ApiError, ErrorKind};
use crate::time;

/// Where the user stands today, in the error's detail fields.
fn standing(
    error: ApiError,
    plan: &PlanRow,
    model: &Model,
    snapshot: &Snapshot,
    need_balance: bool,
) -> ApiError {
    let lite = model.tier == Tier::Lite;
    error
        .with_detail("plan", plan.id.clone())
        .with_detail("tier", model.tier.as_str())
        .with_detail("used_today", snapshot.daily_limit - snapshot.daily_remaining)
        .with_detail("limit", if lite { snapshot.daily_limit } else { 0 })
        .with_detail("need_balance", need_balance)
}

/// The rate-limit headers of `snapshot` on an error.
pub fn with_rate_headers(mut error: ApiError, snapshot: &Snapshot, lite: bool) -> ApiError {
    for (name, value) in for_snapshot(snapshot, time::now_ms() as i64, lite) {
        error = error.with_header(name, value);
    }
    error
}

fn seconds_until(ms: i64) -> u64 {
    u64::try_from((ms - time::now_ms() as i64 + 999).div_euclid(1000))
        .unwrap_or(1)
        .max(1)
}

/// The limiter said no: 429 with `Retry-After`.
pub fn rate_limited(admission: &Admission, plan: &PlanRow, model: &Model) -> ApiError {
    let what = match admission.refused {
        Some(Refusal::Concurrency) => format!("{} requests at a time", plan.concurrent_requests),
        Some(Refusal::Tpm) => format!("{} tokens per minute", plan.tpm),
        _ => format!("{} requests per minute", plan.rpm),
    };
    let wait = u64::try_from((admission.retry_after_ms + 999) / 1000)
        .unwrap_or(1)
        .max(1);
    let error = ApiError::new(
        ErrorKind::RateLimited,
        "rate_limit_exceeded",
        format!(
            "Rate limit of the `{}` plan reached ({what}); retry after {wait} s.",
            plan.id
        ),
    )
    .with_retry_after(wait);
    let lite = model.tier == Tier::Lite;
    with_rate_headers(
        standing(error, plan, model, &admission.snapshot, false),
        &admission.snapshot,
        lite,
    )
}

/// The balance can't cover what the request may cost: 402, or 429 for a lite model whose free
/// allowance is spent (it will be free again tomorrow).
/// An API key whose budget can't take this request (what it spent and holds, plus this hold).
pub fn key_budget_exceeded(budget: &crate::auth::KeyBudget, needed: Nanos) -> ApiError {
    ApiError::new(
        ErrorKind::PaymentRequired,
        "key_budget_exceeded",
        format!(
            "This API key's budget of ${} per {} is spent: ${} used or held, and this request may cost up to ${}. It resets at {}.",
            budget.limit.as_usd_f64(),
            budget.period.name(),
            budget.used.as_usd_f64(),
            needed.as_usd_f64(),
            crate::time::iso8601(budget.resets_at)
        ),
    )
    .with_detail("budget_usd", budget.limit.as_usd_f64())
    .with_detail("budget_period", budget.period.name())
    .with_detail("used_usd", budget.used.as_usd_f64())
}

pub fn insufficient_balance(
    admission: &Admission,
    plan: &PlanRow,
    model: &Model,
    available: Nanos,
    needed: Nanos,
    what: &str,
) -> ApiError {
    let snapshot = &admission.snapshot;
    let lite = model.tier == Tier::Lite;
    let error = if lite {
        ApiError::new(
            ErrorKind::RateLimited,
            "free_quota_exhausted",
            format!(
                "Today's {} free requests are used up and the balance (${:.6}) cannot cover this one (up to ${:.6}). \
                 Wait for tomorrow or top up.",
                snapshot.daily_limit,
                available.as_usd_f64(),
                needed.as_usd_f64()
            ),
        )
        .with_retry_after(seconds_until(snapshot.daily_reset_ms))
    } else {
        ApiError::new(
            ErrorKind::PaymentRequired,
            "insufficient_quota",
            format!(
                "Insufficient balance: ${:.6} available, {what} may cost up to ${:.6}. Top up to continue.",
                available.as_usd_f64(),
                needed.as_usd_f64()
            ),
        )
    };
    with_rate_headers(standing(error, plan, model, snapshot, true), snapshot, lite)
}
