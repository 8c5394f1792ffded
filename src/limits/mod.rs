//! `LIMITER`, the Durable Object class that keeps counters: one instance per user
//! (`user:<id>`: daily usage), one per provider (`keys:<provider>`: the health of its API keys,
//! `providers::keys`) and one per throttled key (`login:<email>`: failed sign-ins per
//! client IP and in all; `login-ip:<ip>`, `register:<ip>`, `send-code:<ip>`, … : attempts). Its SQLite storage is strongly consistent and its requests run one at a
//! time, and no operation awaits anything between reading and writing a counter, so counts are
//! exact under any concurrency and survive eviction and restarts.

pub mod client;
pub mod headers;
pub mod ip;
// The object itself runs in the account worker (src/workers.rs); the gateway only calls it.
#[cfg(feature = "account")]
pub mod object;
pub mod plan;
pub mod policy;
pub mod refusals;
pub mod window;

use serde::{Deserialize, Serialize};

/// `POST /failures/{check,record,clear}`: a fixed window of failed attempts.
#[derive(Debug, Serialize, Deserialize)]
pub struct FailureRequest {
    pub limit: u32,
    pub window_secs: u32,
    pub now: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FailureState {
    pub count: u32,
    pub blocked: bool,
    pub retry_after: u64,
}

/// `POST /login/attempt`: a sign-in about to check a password, from `ip`. Counted before the
/// check against the (email, IP) pair and the email's ceiling, or refused without counting.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginAttempt {
    pub ip: String,
    pub pair_limit: u32,
    pub email_limit: u32,
    pub window_secs: u32,
    pub now: i64,
}

/// `POST /login/success`: the password was right; the pair is forgotten and the attempt given
/// back to the email's ceiling.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginSuccess {
    pub ip: String,
    pub window_secs: u32,
    pub now: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LoginVerdict {
    pub allowed: bool,
    pub retry_after: u64,
}

/// `POST /admit`: a request asks for a concurrency lease and room in every window.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdmitCall {
    pub request_id: String,
    pub day: String,
    pub lease_ms: i64,
    #[serde(flatten)]
    pub admit: policy::AdmitRequest,
}

/// `POST /release`: a request is over; its lease is freed and its tokens corrected to the
/// actual count. `refund` gives back the request (and its free allowance) when it never reached
/// the model.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseCall {
    pub request_id: String,
    pub day: String,
    pub actual_tokens: i64,
    pub refund: bool,
    pub was_free: bool,
}

/// `POST /renew`: a long request is still running; its lease is extended.
#[derive(Debug, Serialize, Deserialize)]
pub struct RenewCall {
    pub request_id: String,
    pub expires_ms: i64,
}

/// `POST /peek`: the limits' state and today's usage, changing nothing.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeekCall {
    pub now_ms: i64,
    pub day: String,
    pub day_ends_ms: i64,
    pub limits: policy::Limits,
}

#[derive(Debug, Serialize, Deserialize, Default, Clone, Copy)]
pub struct Usage {
    pub requests: i64,
    pub tokens: i64,
    pub free: i64,
}

#[derive(Debug, Serialize, Deserialize, Clone, Copy)]
pub struct Peek {
    pub snapshot: policy::Snapshot,
    pub usage: Usage,
}
