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
use crate::limits::client::{self, LoginThrottle, PerIp, Throttle};
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

/// The registration throttle of the client's address (`REGISTRATIONS_PER_IP` per hour).
pub fn registrations(app: &App, req: &Request) -> PerIp {
    PerIp::new(
        app,
        &client_ip(req),
        "register",
        Throttle {
            limit: app.config.registrations_per_ip,
            window_secs: 3600,
        },
    )
}

pub fn too_many_registrations(retry_after: u64) -> ApiError {
    client::throttled(
        "too_many_registrations",
        format!("Too many accounts were created from this address; retry in {retry_after} s."),
        retry_after,
    )
}

pub fn email_taken() -> ApiError {
    ApiError::new(
        ErrorKind::Conflict,
        "email_taken",
        "An account with this email already exists.",
    )
    .with_param("email")
}

/// `POST /api/auth/register {"email","password"}`: an account at once, its address unverified
/// until an email code or an OAuth sign-in proves it. One account per mailbox (aliases fold).
pub async fn register(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: Credentials = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    password::check_policy(&body.password).map_err(|m| ApiError::bad_request("password", m))?;
    app.config.jwt_secret()?;
    let now = time::now_secs();
    let throttle = registrations(app, &req);
    if let Err(retry_after) = throttle.take(&app.env, now).await? {
        return Err(too_many_registrations(retry_after));
    }
    let hash = password::hash(&body.password, app.config.password_iterations).map_err(ApiError::internal)?;
    let db = Db::from_env(&app.env)?;
    let Some(user) = db
        .insert_user(email.as_str(), &email.mailbox(), Some(&hash), None, now)
        .await?
    else {
        // No account was made: the attempt does not count against the address.
        throttle.give(&app.env, now).await?;
        return Err(email_taken());
    };
    http::json(200, &session_body(app, &user)?)
}

fn too_many_attempts(retry_after: u64) -> ApiError {
    client::throttled(
        "too_many_login_attempts",
        format!("Too many failed sign-ins; retry in {retry_after} s."),
        retry_after,
    )
}

/// `POST /api/auth/login {"email","password"}`. A wrong password and an unknown email answer the
/// same 401 after the same work. Every attempt is counted before its password is checked — per
/// client IP, per (email, IP) pair (locked for a growing time at its limit) and per email from
/// everywhere — so parallel guesses get no more checks than sequential ones; an attempt refused
/// by a limit is answered 429 without being checked.
pub async fn login(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: Credentials = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    app.config.jwt_secret()?;
    let now = time::now_secs();
    let ip = client_ip(&req);
    let window_secs = app.config.login_failure_window_secs;
    let pair = LoginThrottle {
        pair_limit: app.config.login_failures_per_email_ip,
        email_limit: app.config.login_failures_per_email,
        window_secs,
    };
    let per_ip = PerIp::new(
        app,
        &ip,
        "login-ip",
        Throttle {
            limit: app.config.login_failures_per_ip,
            window_secs,
        },
    );
    if let Err(retry_after) = per_ip.take(&app.env, now).await? {
        return Err(too_many_attempts(retry_after));
    }
    let verdict = pair.attempt(&app.env, email.as_str(), &ip.key(), now).await?;
    if !verdict.allowed {
        per_ip.give(&app.env, now).await?;
        return Err(too_many_attempts(verdict.retry_after));
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
    // A failure stays counted: the attempt was counted before the check.
    let (Some(user), Verification::Match { needs_rehash }) = (user, verification) else {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "invalid_credentials",
            "Incorrect email or password.",
        ));
    };
    if needs_rehash {
        let hash = password::hash(&body.password, iterations).map_err(ApiError::internal)?;
        db.set_password(user.id, &hash, false).await?;
    }
    let (cleared, given) = join(
        pair.success(&app.env, email.as_str(), &ip.key(), now),
        per_ip.give(&app.env, now),
    )
    .await;
    cleared?;
    given?;
    http::json(200, &session_body(app, &user)?)
}

/// `POST /api/auth/password {"current_password","new_password"}`: revokes every earlier token and
/// every API key, and answers with a fresh token.
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
    let version = db.change_password(principal.user.id, &hash).await?;
    let mut user = principal.user.clone();
    user.token_version = version;
    let session = session_body(app, &user)?;
    http::json(200, &json!({ "status": "ok", "token": session["token"] }))
}

/// `POST /api/auth/logout-all`: every token issued so far stops working (API keys are revoked
/// one by one, or all by a password change). Only a session may do it.
pub async fn logout_all(app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_session("sign every session out")?;
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
            "price_multiplier": plan.price_multiplier_ppm as f64 / 1e6,
        }),
    )
    .map(|mut response| {
        crate::limits::headers::stamp(&mut response, &peek.snapshot, true);
        response
    })
}

/// `POST /api/auth/session`: the console hands its session token over once and gets it back as
/// an HttpOnly cookie, so no script on the page can read it afterwards (see the README's
/// console section). Only a session token; an API key is 403.
pub async fn start_session(req: &Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    principal.require_session("start a console session")?;
    let token = super::credential_of(req)
        .ok_or_else(|| ApiError::internal("an authenticated request without a credential"))?;
    let secure = req.inner().url().starts_with("https:");
    let cookie = session_cookie(&token, app.config.jwt_ttl_secs, secure);
    let mut response = http::json(200, &json!({ "status": "ok" }))?;
    response.headers_mut().set("Set-Cookie", &cookie)?;
    Ok(response)
}

/// `DELETE /api/auth/session`: the console signs out on this browser (the cookie is cleared;
/// the token itself lives until it expires or `logout-all`).
pub async fn end_session(req: &Request) -> ApiResult<Response> {
    let secure = req.inner().url().starts_with("https:");
    let mut response = http::json(200, &json!({ "status": "ok" }))?;
    response
        .headers_mut()
        .set("Set-Cookie", &session_cookie("", 0, secure))?;
    Ok(response)
}

/// The `Set-Cookie` value of the console's session: HttpOnly, SameSite=Strict, the whole origin,
/// `Secure` on HTTPS (not on `http://127.0.0.1` of `make dev`).
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    let name = super::SESSION_COOKIE;
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_httponly_strict_and_secure_on_https() {
        assert_eq!(
            session_cookie("eyJ.x.y", 604800, true),
            "flint_session=eyJ.x.y; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800; Secure"
        );
        assert!(!session_cookie("", 0, false).contains("Secure"));
        assert!(session_cookie("", 0, false).contains("Max-Age=0"));
    }
}
