//! Calls into `LIMITER` instances from the worker.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, Method, Request, RequestInit};

use super::{FailureRequest, FailureState, Usage, UsageRequest};
use crate::error::{ApiError, ApiResult};

async fn call<B: Serialize, T: DeserializeOwned>(
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
        call(env, object, "/failures/check", &self.request(now)).await
    }

    pub async fn record(self, env: &Env, object: &str, now: i64) -> ApiResult<FailureState> {
        call(env, object, "/failures/record", &self.request(now)).await
    }

    pub async fn clear(self, env: &Env, object: &str, now: i64) -> ApiResult<FailureState> {
        call(env, object, "/failures/clear", &self.request(now)).await
    }
}

pub fn user_object(user_id: i64) -> String {
    format!("user:{user_id}")
}

/// Today's counters of a user (`day` as `YYYY-MM-DD` in the configured time zone).
pub async fn usage_today(env: &Env, user_id: i64, day: &str) -> ApiResult<Usage> {
    call(
        env,
        &user_object(user_id),
        "/usage/get",
        &UsageRequest {
            day: day.to_owned(),
            requests: 0,
            tokens: 0,
        },
    )
    .await
}

/// Adds a finished request's tokens to the user's day.
pub async fn add_usage(env: &Env, user_id: i64, day: &str, requests: i64, tokens: u64) -> ApiResult<Usage> {
    let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
    call(
        env,
        &user_object(user_id),
        "/usage/add",
        &UsageRequest {
            day: day.to_owned(),
            requests,
            tokens,
        },
    )
    .await
}
