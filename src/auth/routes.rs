//! Password accounts (Stone) and the session routes: register, login, password change,
//! logout-all, and Iskra's `/auth/me`.

use futures_util::future::join;
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use super::password::{self, Verification};
use super::{client_ip, session_body, Email, Principal};
use crate::app::App;
use crate::billing::money::Nanos;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::client::{self, Throttle};
use crate::{http, time};

#[derive(Debug, Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
struct PasswordChange {
    #[serde(default)]
    current_password: Option<String>,
    new_password: String,
}

/// `POST /api/auth/register {"email","password"}`.
pub async fn register(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: Credentials = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    password::check_policy(&body.password).map_err(|m| ApiError::bad_request("password", m))?;
    app.config.jwt_secret()?;
    let hash = password::hash(&body.password, app.config.password_iterations).map_err(ApiError::internal)?;
    let db = Db::from_env(&app.env)?;
    let user = db
        .insert_user(email.as_str(), Some(&hash), time::now_secs())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::Conflict,
                "email_taken",
                "An account with this email already exists.",
            )
            .with_param("email")
        })?;
    http::json(200, &session_body(app, &user)?)
}

fn throttles(app: &App) -> (Throttle, Throttle) {
    let window_secs = app.config.login_failure_window_secs;
    (
        Throttle {
            limit: app.config.login_failures_per_email,
            window_secs,
        },
        Throttle {
            limit: app.config.login_failures_per_ip,
            window_secs,
        },
    )
}

fn too_many_attempts(retry_after: u64) -> ApiError {
    ApiError::new(
        ErrorKind::RateLimited,
        "too_many_login_attempts",
        format!("Too many failed sign-ins; retry in {retry_after} s."),
    )
    .with_retry_after(retry_after.max(1))
}

/// `POST /api/auth/login {"email","password"}`. A wrong password and an unknown email answer the
/// same 401 after the same work; failures are counted per email and per client IP.
pub async fn login(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: Credentials = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    app.config.jwt_secret()?;
    let now = time::now_secs();
    let (per_email, per_ip) = throttles(app);
    let email_key = format!("login-email:{}", email.as_str());
    let ip_key = format!("login-ip:{}", client_ip(&req));
    let (by_email, by_ip) = join(
        per_email.check(&app.env, &email_key, now),
        per_ip.check(&app.env, &ip_key, now),
    )
    .await;
    let (by_email, by_ip) = (by_email?, by_ip?);
    if by_email.blocked || by_ip.blocked {
        return Err(too_many_attempts(by_email.retry_after.max(by_ip.retry_after)));
    }

    let db = Db::from_env(&app.env)?;
    let iterations = app.config.password_iterations;
    let user = db.user_by_email(email.as_str()).await?;
    let verification = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
        Some(stored) => password::verify(&body.password, stored, iterations),
        None => {
            password::burn_equivalent_work(&body.password, iterations);
            Verification::Mismatch
        }
    };
    let (user, needs_rehash) = match (user, verification) {
        (Some(user), Verification::Match { needs_rehash }) => (user, needs_rehash),
        _ => {
            let (a, b) = join(
                per_email.record(&app.env, &email_key, now),
                per_ip.record(&app.env, &ip_key, now),
            )
            .await;
            let (a, b) = (a?, b?);
            if a.blocked || b.blocked {
                return Err(too_many_attempts(a.retry_after.max(b.retry_after)));
            }
            return Err(ApiError::new(
                ErrorKind::Unauthorized,
                "invalid_credentials",
                "Incorrect email or password.",
            ));
        }
    };
    if needs_rehash {
        let hash = password::hash(&body.password, iterations).map_err(ApiError::internal)?;
        db.set_password(user.id, &hash, false).await?;
    }
    if by_email.count > 0 {
        per_email.clear(&app.env, &email_key, now).await?;
    }
    http::json(200, &session_body(app, &user)?)
}

/// `POST /api/auth/password {"current_password","new_password"}`: revokes every earlier token
/// and answers with a fresh one.
pub async fn change_password(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_session("change the password")?;
    let body: PasswordChange = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    password::check_policy(&body.new_password).map_err(|m| ApiError::bad_request("new_password", m))?;
    let iterations = app.config.password_iterations;
    if let Some(stored) = principal.user.password_hash.as_deref() {
        let current = body.current_password.as_deref().ok_or_else(|| {
            ApiError::bad_request(
                "current_password",
                "`current_password` is required to change the password.",
            )
        })?;
        if password::verify(current, stored, iterations) == Verification::Mismatch {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                "invalid_credentials",
                "The current password is incorrect.",
            )
            .with_param("current_password"));
        }
    }
    let hash = password::hash(&body.new_password, iterations).map_err(ApiError::internal)?;
    let version = db.set_password(principal.user.id, &hash, true).await?;
    let mut user = principal.user.clone();
    user.token_version = version;
    let session = session_body(app, &user)?;
    http::json(200, &json!({ "status": "ok", "token": session["token"] }))
}

/// `POST /api/auth/logout-all`: every token issued so far stops working.
pub async fn logout_all(app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    db.bump_token_version(principal.user.id).await?;
    http::json(200, &json!({ "status": "ok" }))
}

/// `GET /auth/me`: the Iskra shape plus id, balance and plan, with today's real counters.
pub async fn me(app: &App, principal: &Principal) -> ApiResult<Response> {
    let user = &principal.user;
    let plan = &principal.plan;
    let day = time::day_at(time::now_ms() as i64, app.config.utc_offset_secs);
    let peek = client::peek(&app.env, user.id, plan.limits(), &day).await?;
    let (usage, limits) = (peek.usage, peek.snapshot);
    http::json(
        200,
        &json!({
            "user": {
                "id": user.id,
                "email": user.email,
                "tier": plan.id,
                "plan": plan.id,
                "planExpiresAt": user.plan_expires_at.map(time::iso8601),
                "balance_usd": Nanos(user.balance_nanos).as_usd_f64(),
                "created_at": time::iso8601(user.created_at),
            },
            "usage": {
                "requestsToday": usage.requests,
                "tokensToday": usage.tokens,
                "limit": limits.daily_limit,
                "remaining": limits.daily_remaining,
                "freeRequestsToday": usage.free,
                "resetsAt": time::iso8601(limits.daily_reset_ms.div_euclid(1000)),
            },
            "limits": {
                "rpm": limits.rpm_limit,
                "rpmRemaining": limits.rpm_remaining,
                "tpm": limits.tpm_limit,
                "tpmRemaining": limits.tpm_remaining,
                "concurrent": limits.concurrent_limit,
                "concurrentActive": limits.concurrent_active,
                "maxOutputTokens": plan.max_output_tokens,
                "systemPromptAllowed": principal.system_prompt_allowed(),
            },
        }),
    )
    .map(|mut response| {
        crate::limits::headers::stamp(&mut response, &peek.snapshot, true);
        response
    })
}
