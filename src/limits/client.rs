//! Calls into `LIMITER` instances from the worker.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, Method, Request, RequestInit};

use super::{policy, AdmitCall, FailureRequest, FailureState, Peek, PeekCall, ReleaseCall, RenewCall};
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
    Ok(response.json().await?)
}

/// A login throttle: at most `limit` failures per `window_secs` for one key (an email or an IP).
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
