//! Calls into `LIMITER` instances from the worker.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, Method, Request, RequestInit};

use super::{policy, AdmitCall, FailureRequest, FailureState, Peek, PeekCall, ReleaseCall};
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

/// Asks the user's limiter to admit a request.
pub async fn admit(env: &Env, user_id: i64, call: &AdmitCall) -> ApiResult<policy::Admission> {
    call_object(env, &user_object(user_id), "/admit", call).await
}

/// Frees a request's lease and corrects its tokens; failures are logged, never raised: the
/// lease expires on its own.
pub async fn release(env: &Env, user_id: i64, call: &ReleaseCall) {
    if let Err(error) =
        call_object::<_, serde_json::Value>(env, &user_object(user_id), "/release", call).await
    {
        worker::console_error!(
            "limiter release for {} failed: {:?}",
            call.request_id,
            error.internal
        );
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
