//! Email-code registration (Iskra): `send-code` mails a 6-digit code, `verify-email` trades it
//! for a single-use ticket, `complete-registration` trades the ticket and a password for an
//! account. Codes are stored as HMACs under a key derived from `JWT_SECRET` (never the JWT key
//! itself), expire after 10 minutes (`EMAIL_CODE_TTL_SECS`), allow 5 wrong attempts in their
//! life — a resend replaces the code, not the count — and can be re-sent once a minute, at most
//! `EMAIL_CODES_PER_ADDRESS` times an hour per mailbox and `EMAIL_CODES_PER_IP` per client IP.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Method, Request, Response};

use super::{client_ip, password, routes, session_body, Email};
use crate::app::App;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::client::{self, PerIp, Throttle};
use crate::{http, time};

pub const MAX_ATTEMPTS: i64 = 5;
pub const RESEND_AFTER_SECS: i64 = 60;
pub const TICKET_TTL_SECS: i64 = 900;

/// The key codes are hashed under: derived from `JWT_SECRET` for this one purpose, so a code
/// hash says nothing usable about the key that signs sessions.
fn code_key(secret: &[u8]) -> ApiResult<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(ApiError::internal)?;
    mac.update(b"flint/email-code-hmac/v1");
    Ok(mac.finalize().into_bytes().to_vec())
}

fn code_hash(secret: &[u8], email: &str, code: &str) -> ApiResult<String> {
    let key = code_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(ApiError::internal)?;
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

fn too_many_attempts(retry_after: i64) -> ApiError {
    client::throttled(
        "too_many_attempts",
        "Too many wrong codes for this address; wait for the code to expire, then request a new one.",
        u64::try_from(retry_after).unwrap_or(1),
    )
}

/// `POST /auth/send-code {"email"}` → `{"status":"ok"}`.
pub async fn send_code(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: SendCode = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    let secret = app.config.jwt_secret()?;
    let db = Db::from_env(&app.env)?;
    let now = time::now_secs();
    if let Some(existing) = db.email_code(email.as_str()).await? {
        if existing.expires_at > now && existing.attempts >= MAX_ATTEMPTS {
            return Err(too_many_attempts(existing.expires_at - now));
        }
        let wait = existing.sent_at + RESEND_AFTER_SECS - now;
        if wait > 0 {
            return Err(client::throttled(
                "resend_too_soon",
                format!("A code was sent less than a minute ago; retry in {wait} s."),
                wait as u64,
            ));
        }
    }
    let per_ip = PerIp::new(
        app,
        &client_ip(&req),
        "send-code",
        Throttle {
            limit: app.config.email_codes_per_ip,
            window_secs: 3600,
        },
    );
    if let Err(retry_after) = per_ip.take(&app.env, now).await? {
        return Err(client::throttled(
            "too_many_codes",
            format!("Too many codes were requested from this address; retry in {retry_after} s."),
            retry_after,
        ));
    }
    let per_address = Throttle {
        limit: app.config.email_codes_per_address,
        window_secs: 3600,
    };
    let address_key = format!("send-code-to:{}", email.mailbox());
    let to_address = per_address.take(&app.env, &address_key, now).await?;
    if to_address.blocked {
        per_ip.give(&app.env, now).await?;
        return Err(client::throttled(
            "too_many_codes",
            format!(
                "Too many codes were sent to this email; retry in {} s.",
                to_address.retry_after
            ),
            to_address.retry_after,
        ));
    }
    let code = new_code()?;
    // Mail first: when delivery fails nothing is stored, an earlier code stays valid, and the
    // attempt is given back to both throttles (nothing was sent).
    if let Err(error) = deliver(app, email.as_str(), &code).await {
        per_ip.give(&app.env, now).await?;
        per_address.give(&app.env, &address_key, now).await?;
        return Err(error);
    }
    db.put_email_code(
        email.as_str(),
        &code_hash(secret, email.as_str(), &code)?,
        now,
        now + app.config.email_code_ttl_secs,
    )
    .await?;
    http::json(200, &json!({ "status": "ok" }))
}

/// `POST /auth/verify-email {"email","code"}` → `{"status":"ok","ticket":"…"}`. Each guess
/// spends an attempt before it is compared, in one statement, so parallel guesses get no more
/// than `MAX_ATTEMPTS`; wrong guesses are also counted per client IP across addresses.
pub async fn verify_email(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: VerifyEmail = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let email = Email::parse(&body.email)?;
    let secret = app.config.jwt_secret()?;
    let db = Db::from_env(&app.env)?;
    let now = time::now_secs();
    let invalid =
        |message: &str| ApiError::new(ErrorKind::BadRequest, "invalid_code", message).with_param("code");

    let per_ip = PerIp::new(
        app,
        &client_ip(&req),
        "code-guess",
        Throttle {
            limit: app.config.email_code_failures_per_ip,
            window_secs: 3600,
        },
    );
    if let Err(retry_after) = per_ip.take(&app.env, now).await? {
        return Err(client::throttled(
            "too_many_attempts",
            format!("Too many wrong codes from this address; retry in {retry_after} s."),
            retry_after,
        ));
    }
    let Some(stored) = db.take_code_attempt(email.as_str(), MAX_ATTEMPTS, now).await? else {
        // No guess was compared: the address gets its attempt back. Say why.
        per_ip.give(&app.env, now).await?;
        return Err(match db.email_code(email.as_str()).await? {
            None => invalid("No code is pending for this email; request one with /auth/send-code."),
            Some(code) if code.expires_at <= now => {
                db.delete_email_code(email.as_str()).await?;
                ApiError::new(
                    ErrorKind::BadRequest,
                    "code_expired",
                    "The code has expired; request a new one.",
                )
                .with_param("code")
            }
            Some(code) => too_many_attempts(code.expires_at - now),
        });
    };
    let given = code_hash(secret, email.as_str(), body.code.trim())?;
    if !bool::from(given.as_bytes().ct_eq(stored.code_hash.as_bytes())) {
        let left = (MAX_ATTEMPTS - stored.attempts).max(0);
        return Err(invalid(&format!("The code is wrong; {left} attempt(s) left.")));
    }
    per_ip.give(&app.env, now).await?;
    db.delete_email_code(email.as_str()).await?;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    let ticket = B64.encode(bytes);
    db.insert_ticket(&ticket_hash(&ticket), email.as_str(), now + TICKET_TTL_SECS)
        .await?;
    http::json(200, &json!({ "status": "ok", "ticket": ticket }))
}

/// `POST /auth/complete-registration {"ticket","password"}` → the register shape. The address is
/// proven, so the account is verified; an unverified account of the same mailbox (someone
/// registered it with a password) passes to the proven owner: the new password replaces the old
/// one and every earlier token and key is revoked. A verified account is a 409.
pub async fn complete_registration(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: CompleteRegistration = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    password::check_policy(&body.password).map_err(|m| ApiError::bad_request("password", m))?;
    app.config.jwt_secret()?;
    let db = Db::from_env(&app.env)?;
    let now = time::now_secs();
    let throttle = routes::registrations(app, &req);
    if let Err(retry_after) = throttle.take(&app.env, now).await? {
        return Err(routes::too_many_registrations(retry_after));
    }
    let hash = ticket_hash(body.ticket.trim());
    let Some(email) = db.consume_ticket(&hash, now).await? else {
        throttle.give(&app.env, now).await?;
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            "invalid_ticket",
            "The ticket is invalid, expired or already used.",
        )
        .with_param("ticket"));
    };
    let email = Email::parse(&email)?;
    let mailbox = email.mailbox();
    let password_hash =
        password::hash(&body.password, app.config.password_iterations).map_err(ApiError::internal)?;
    if let Some(user) = db
        .insert_user(email.as_str(), &mailbox, Some(&password_hash), Some(now), now)
        .await?
    {
        return http::json(200, &session_body(app, &user)?);
    }
    // No new account: the mailbox has one. Not a registration either way.
    throttle.give(&app.env, now).await?;
    let existing = db.user_by_mailbox(&mailbox).await?;
    let existing = match existing {
        Some(user) => Some(user),
        None => db.user_by_email(email.as_str()).await?,
    };
    let Some(existing) = existing else {
        db.release_ticket(&hash).await?;
        return Err(ApiError::internal("an email was taken by no account"));
    };
    if db.email_verified(existing.id).await? {
        db.release_ticket(&hash).await?;
        return Err(routes::email_taken());
    }
    db.claim_account(existing.id, &mailbox, Some(&password_hash), now)
        .await?;
    let user = db
        .user_by_id(existing.id)
        .await?
        .ok_or_else(|| ApiError::internal("claimed account vanished"))?;
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

    #[test]
    fn the_code_key_is_derived_not_the_jwt_key() {
        let secret = b"the jwt secret, thirty-two bytes!";
        assert_ne!(code_key(secret).unwrap(), secret.to_vec());
        assert_eq!(code_key(secret).unwrap(), code_key(secret).unwrap());
    }
}
