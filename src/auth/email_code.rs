//! Email-code registration (Iskra): `send-code` mails a 6-digit code, `verify-email` trades it
//! for a single-use ticket, `complete-registration` trades the ticket and a password for an
//! account. Codes are stored as HMACs keyed by `JWT_SECRET`, expire after 10 minutes
//! (`EMAIL_CODE_TTL_SECS`), allow 5 attempts, and can be re-sent once a minute.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Method, Request, Response};

use super::{password, session_body, Email};
use crate::app::App;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::{http, time};

pub const MAX_ATTEMPTS: i64 = 5;
pub const RESEND_AFTER_SECS: i64 = 60;
pub const TICKET_TTL_SECS: i64 = 900;

fn code_hash(secret: &[u8], email: &str, code: &str) -> ApiResult<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(ApiError::internal)?;
    mac.update(email.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// A uniformly random 6-digit code (rejection sampling, no modulo bias).
fn new_code() -> ApiResult<String> {
    loop {
        let mut bytes = [0u8; 4];
        getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
        let n = u32::from_le_bytes(bytes);
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

fn ticket_hash(ticket: &str) -> String {
    hex::encode(Sha256::digest(ticket.as_bytes()))
}

#[derive(Debug, Deserialize)]
struct SendCode {
    email: String,
}

#[derive(Debug, Deserialize)]
struct VerifyEmail {
    email: String,
    code: String,
}

#[derive(Debug, Deserialize)]
struct CompleteRegistration {
    ticket: String,
    password: String,
}

/// Delivers the code by mail, or logs it when mail is deliberately not configured (dev mode).
async fn deliver(app: &App, email: &str, code: &str) -> ApiResult<()> {
    let mail = &app.config.email;
    let Some(key) = &mail.api_key else {
        if mail.log_codes {
            worker::console_log!(
                "[dev] email code for {email}: {code} (EMAIL_API_KEY is not set; EMAIL_LOG_CODES=true)"
            );
            return Ok(());
        }
        return Err(ApiError::new(
            ErrorKind::Unavailable,
            "email_not_configured",
            "Email delivery is not configured on this gateway.",
        )
        .with_internal("EMAIL_API_KEY is not set; set it (and EMAIL_API_URL, EMAIL_FROM) to send codes"));
    };
    let body = json!({
        "from": mail.from,
        "to": [email],
        "subject": format!("Your Flint code: {code}"),
        "text": format!("Your verification code is {code}. It expires in 10 minutes.\n\nIf you did not ask for it, ignore this message."),
    });
    let unavailable = || {
        ApiError::new(
            ErrorKind::Unavailable,
            "email_unavailable",
            "The email service is unavailable; try again in a minute.",
        )
    };
    let auth = format!("Bearer {key}");
    let answer = http::send_outbound(
        Method::Post,
        &format!("{}/emails", mail.api_url),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        Some(body.to_string()),
    )
    .await
    .map_err(|e| unavailable().with_internal(format!("mail API unreachable: {e}")))?;
    if !(200..300).contains(&answer.status) {
        let excerpt: String = answer.body.chars().take(200).collect();
        return Err(unavailable().with_internal(format!("mail API answered {}: {excerpt}", answer.status)));
    }
    Ok(())
}

/// `POST /auth/send-code {"email"}` → `{"status":"ok"}`.
pub async fn send_code(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: SendCode = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    let secret = app.config.jwt_secret()?;
    let db = Db::from_env(&app.env)?;
    let now = time::now_secs();
    if let Some(existing) = db.email_code(email.as_str()).await? {
        let wait = existing.sent_at + RESEND_AFTER_SECS - now;
        if wait > 0 {
            return Err(ApiError::new(
                ErrorKind::RateLimited,
                "resend_too_soon",
                format!("A code was sent less than a minute ago; retry in {wait} s."),
            )
            .with_retry_after(wait as u64));
        }
    }
    let code = new_code()?;
    // Mail first: when delivery fails nothing is stored, and an earlier code stays valid.
    deliver(app, email.as_str(), &code).await?;
    db.put_email_code(
        email.as_str(),
        &code_hash(secret, email.as_str(), &code)?,
        now,
        now + app.config.email_code_ttl_secs,
    )
    .await?;
    http::json(200, &json!({ "status": "ok" }))
}

/// `POST /auth/verify-email {"email","code"}` → `{"status":"ok","ticket":"…"}`.
pub async fn verify_email(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: VerifyEmail = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    let secret = app.config.jwt_secret()?;
    let db = Db::from_env(&app.env)?;
    let now = time::now_secs();
    let invalid =
        |message: &str| ApiError::new(ErrorKind::BadRequest, "invalid_code", message).with_param("code");

    let Some(stored) = db.email_code(email.as_str()).await? else {
        return Err(invalid(
            "No code is pending for this email; request one with /auth/send-code.",
        ));
    };
    if stored.expires_at <= now {
        db.delete_email_code(email.as_str()).await?;
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "code_expired",
            "The code has expired; request a new one.",
        )
        .with_param("code"));
    }
    if stored.attempts >= MAX_ATTEMPTS {
        return Err(ApiError::new(
            ErrorKind::RateLimited,
            "too_many_attempts",
            "Too many wrong codes; request a new one with /auth/send-code.",
        )
        .with_retry_after(
            u64::try_from(stored.sent_at + RESEND_AFTER_SECS - now)
                .unwrap_or(0)
                .max(1),
        ));
    }
    let given = code_hash(secret, email.as_str(), body.code.trim())?;
    if !bool::from(given.as_bytes().ct_eq(stored.code_hash.as_bytes())) {
        let attempts = db.count_code_attempt(email.as_str()).await?;
        let left = (MAX_ATTEMPTS - attempts).max(0);
        return Err(invalid(&format!("The code is wrong; {left} attempt(s) left.")));
    }
    db.delete_email_code(email.as_str()).await?;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    let ticket = B64.encode(bytes);
    db.insert_ticket(&ticket_hash(&ticket), email.as_str(), now + TICKET_TTL_SECS)
        .await?;
    http::json(200, &json!({ "status": "ok", "ticket": ticket }))
}

/// `POST /auth/complete-registration {"ticket","password"}` → the register shape.
pub async fn complete_registration(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: CompleteRegistration = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    password::check_policy(&body.password).map_err(|m| ApiError::bad_request("password", m))?;
    app.config.jwt_secret()?;
    let db = Db::from_env(&app.env)?;
    let now = time::now_secs();
    let hash = ticket_hash(body.ticket.trim());
    let email = db.consume_ticket(&hash, now).await?.ok_or_else(|| {
        ApiError::new(
            ErrorKind::BadRequest,
            "invalid_ticket",
            "The ticket is invalid, expired or already used.",
        )
        .with_param("ticket")
    })?;
    let password_hash =
        password::hash(&body.password, app.config.password_iterations).map_err(ApiError::internal)?;
    let Some(user) = db.insert_user(&email, Some(&password_hash), now).await? else {
        db.release_ticket(&hash).await?;
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "email_taken",
            "An account with this email already exists.",
        )
        .with_param("email"));
    };
    http::json(200, &session_body(app, &user)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let code = new_code().unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn code_hashes_bind_the_email_and_the_secret() {
        let a = code_hash(b"secret-a", "a@x.io", "123456").unwrap();
        assert_eq!(a, code_hash(b"secret-a", "a@x.io", "123456").unwrap());
        assert_ne!(a, code_hash(b"secret-b", "a@x.io", "123456").unwrap());
        assert_ne!(a, code_hash(b"secret-a", "b@x.io", "123456").unwrap());
        assert!(!a.contains("123456"));
    }
}
