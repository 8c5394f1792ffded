//! Calls into `LIMITER` instances from the worker.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, Method, Request, RequestInit};

use super::{
    policy, AdmitCall, FailureRequest, FailureState, LoginAttempt, LoginSuccess, LoginVerdict, Peek,
    PeekCall, ReleaseCall, RenewCall,
};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::time::Day;

async fn call_object<B: Serialize, T: DeserializeOwned>(
    env: &Env,
    object: &str,
    op: &str,
    body: &B,
) -> ApiResult<T> {
    let stub = env.durable_object("LIMITER")?.get_by_name(object)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(
        serde_json::to_string(body).map_err(ApiError::internal)?.into(),
    ));
    let request = Request::new_with_init(&format!("https://limiter{op}"), &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    if response.status_code() != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(ApiError::internal(format!(
            "limiter {object}{op} answered {}: {text}",
            response.status_code()
        )));
    }
    Ok(crate::http::response_json(&mut response).await?)
}

/// A throttle: at most `limit` attempts (or failures) per `window_secs` for one key (an IP, an
/// address, a user).
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub limit: u32,
    pub window_secs: u32,
}

impl Throttle {
    fn request(self, now: i64) -> FailureRequest {
        FailureRequest {
            limit: self.limit,
            window_secs: self.window_secs,
            now,
        }
    }

    pub async fn check(self, env: &Env, object: &str, now: i64) -> ApiResult<FailureState> {
        call_object(env, object, "/failures/check", &self.request(now)).await
    }

    pub async fn record(self, env: &Env, object: &str, now: i64) -> ApiResult<FailureState> {
        call_object(env, object, "/failures/record", &self.request(now)).await
    }

    pub async fn clear(self, env: &Env, object: &str, now: i64) -> ApiResult<FailureState> {
        call_object(env, object, "/failures/clear", &self.request(now)).await
    }

    /// Counts an attempt if there is room, in one step; `blocked` means it was refused (and not
    /// counted), `retry_after` says for how long.
    pub async fn take(self, env: &Env, object: &str, now: i64) -> ApiResult<FailureState> {
        call_object(env, object, "/failures/take", &self.request(now)).await
    }

    /// Gives back an attempt taken earlier (it was not a failure after all).
    pub async fn give(self, env: &Env, object: &str, now: i64) -> ApiResult<FailureState> {
        call_object(env, object, "/failures/give", &self.request(now)).await
    }
}

/// A throttle keyed by the client's address (`<prefix>:<ip or /64>`), skipped for the addresses
/// of `THROTTLE_EXEMPT_IPS`.
#[derive(Debug, Clone)]
pub struct PerIp {
    throttle: Throttle,
    /// `None` when the client is exempt.
    object: Option<String>,
}

impl PerIp {
    pub fn new(app: &App, ip: &super::ip::ClientIp, prefix: &str, throttle: Throttle) -> PerIp {
        let exempt = ip.is_exempt(&app.config.throttle_exempt_ips);
        PerIp {
            throttle,
            object: (!exempt).then(|| format!("{prefix}:{}", ip.key())),
        }
    }

    /// Counts an attempt, or answers `Err(retry_after)` when the address is out of room.
    pub async fn take(&self, env: &Env, now: i64) -> ApiResult<Result<(), u64>> {
        let Some(object) = &self.object else {
            return Ok(Ok(()));
        };
        let state = self.throttle.take(env, object, now).await?;
        Ok(if state.blocked {
            Err(state.retry_after.max(1))
        } else {
            Ok(())
        })
    }

    pub async fn give(&self, env: &Env, now: i64) -> ApiResult<()> {
        if let Some(object) = &self.object {
            self.throttle.give(env, object, now).await?;
        }
        Ok(())
    }

    /// Whether the address is out of room, without counting.
    pub async fn blocked(&self, env: &Env, now: i64) -> ApiResult<Option<u64>> {
        let Some(object) = &self.object else {
            return Ok(None);
        };
        let state = self.throttle.check(env, object, now).await?;
        Ok(state.blocked.then_some(state.retry_after.max(1)))
    }

    /// Counts a failure.
    pub async fn record(&self, env: &Env, now: i64) -> ApiResult<()> {
        if let Some(object) = &self.object {
            self.throttle.record(env, object, now).await?;
        }
        Ok(())
    }
}

/// A 429 with `Retry-After`, the answer of every throttle.
pub fn throttled(code: &'static str, message: impl Into<String>, retry_after: u64) -> ApiError {
    ApiError::new(crate::error::ErrorKind::RateLimited, code, message).with_retry_after(retry_after.max(1))
}

/// The sign-in throttle of one email: failures per client IP (`pair_limit`, then a lock that
/// doubles each time) under a ceiling for the email from everywhere (`email_limit`).
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    pub pair_limit: u32,
    pub email_limit: u32,
    pub window_secs: u32,
}

fn login_object(email: &str) -> String {
    format!("login:{email}")
}

impl LoginThrottle {
    /// Counts a sign-in about to check a password, or refuses it unchecked.
    pub async fn attempt(self, env: &Env, email: &str, ip: &str, now: i64) -> ApiResult<LoginVerdict> {
        let call = LoginAttempt {
            ip: ip.to_owned(),
            pair_limit: self.pair_limit,
            email_limit: self.email_limit,
            window_secs: self.window_secs,
            now,
        };
        call_object(env, &login_object(email), "/login/attempt", &call).await
    }

    /// The password was right: the pair's failures are forgotten.
    pub async fn success(self, env: &Env, email: &str, ip: &str, now: i64) -> ApiResult<()> {
        let call = LoginSuccess {
            ip: ip.to_owned(),
            window_secs: self.window_secs,
            now,
        };
        call_object::<_, serde_json::Value>(env, &login_object(email), "/login/success", &call)
            .await
            .map(|_| ())
    }
}

pub fn user_object(user_id: i64) -> String {
    format!("user:{user_id}")
}

/// An admitted request's place in its user's limiter, to be given back when it ends.
#[derive(Debug, Clone)]
pub struct Lease {
    user_id: i64,
    request_id: String,
    day: String,
    /// Admitted inside the daily free allowance.
    pub free: bool,
}

/// Asks the user's limiter to admit a request (`reserve_tokens` counted against TPM until the
/// release corrects them). The lease is meaningful only when the admission was not refused.
#[allow(clippy::too_many_arguments)]
pub async fn admit(
    env: &Env,
    request_id: &str,
    user_id: i64,
    limits: policy::Limits,
    lite: bool,
    reserve_tokens: u64,
    lease_ms: i64,
    utc_offset_secs: i64,
) -> ApiResult<(policy::Admission, Lease)> {
    let now_ms = crate::time::now_ms() as i64;
    let day = crate::time::day_at(now_ms, utc_offset_secs);
    let call = AdmitCall {
        request_id: request_id.to_owned(),
        day: day.key.clone(),
        lease_ms,
        admit: policy::AdmitRequest {
            now_ms,
            day_ends_ms: day.ends_ms,
            lite,
            reserve_tokens: i64::try_from(reserve_tokens).unwrap_or(i64::MAX),
            limits,
        },
    };
    let admission: policy::Admission = call_object(env, &user_object(user_id), "/admit", &call).await?;
    let lease = Lease {
        user_id,
        request_id: call.request_id,
        day: day.key,
        free: admission.free,
    };
    Ok((admission, lease))
}

impl Lease {
    /// The request ran: frees the slot and corrects its tokens to `actual_tokens`.
    pub async fn release(&self, env: &Env, actual_tokens: u64) {
        self.send(env, actual_tokens, false).await;
    }

    /// The request never reached the model: frees the slot and gives back the request (and
    /// its free allowance, if it used one).
    pub async fn refund(&self, env: &Env) {
        self.send(env, 0, true).await;
    }

    /// The same, after the answer has gone.
    pub fn refund_later(&self, env: &Env, ctx: &worker::Context) {
        let (lease, env) = (self.clone(), env.clone());
        ctx.wait_until(async move { lease.refund(&env).await });
    }

    /// A long request is still running: its slot must not expire under it.
    pub async fn renew(&self, env: &Env, lease_ms: i64) {
        let call = RenewCall {
            request_id: self.request_id.clone(),
            expires_ms: crate::time::now_ms() as i64 + lease_ms,
        };
        let sent =
            call_object::<_, serde_json::Value>(env, &user_object(self.user_id), "/renew", &call).await;
        if let Err(error) = sent {
            worker::console_warn!(
                "limiter renew for {} failed: {:?}",
                self.request_id,
                error.internal
            );
        }
    }

    /// Failures are logged, never raised: the lease expires on its own.
    async fn send(&self, env: &Env, actual_tokens: u64, refund: bool) {
        let call = ReleaseCall {
            request_id: self.request_id.clone(),
            day: self.day.clone(),
            actual_tokens: i64::try_from(actual_tokens).unwrap_or(i64::MAX),
            refund,
            was_free: self.free,
        };
        let sent =
            call_object::<_, serde_json::Value>(env, &user_object(self.user_id), "/release", &call).await;
        if let Err(error) = sent {
            worker::console_error!(
                "limiter release for {} failed: {:?}",
                self.request_id,
                error.internal
            );
        }
    }
}

/// The limits' state and today's usage of a user.
pub async fn peek(env: &Env, user_id: i64, limits: policy::Limits, day: &Day) -> ApiResult<Peek> {
    let call = PeekCall {
        now_ms: crate::time::now_ms() as i64,
        day: day.key.clone(),
        day_ends_ms: day.ends_ms,
        limits,
    };
    call_object(env, &user_object(user_id), "/peek", &call).await
}
