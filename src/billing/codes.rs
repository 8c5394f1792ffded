//! Redemption codes: the operator creates a batch (`POST /admin/codes`) and sees its codes once;
//! a user redeems one (`POST /api/billing/redeem`) and is credited once, whatever the
//! concurrency. Codes are stored as their SHA-256 only; wrong codes are throttled per user.

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{Request, Response};

use super::money::Nanos;
use crate::admin::{require_admin, usd_to_nanos};
use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::db::{CodeState, Db, NewCodeBatch};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::client::{throttled, Throttle};
use crate::{http, time};

/// The most codes one batch makes, and the largest amount one code credits.
const MAX_CODES_PER_BATCH: u32 = 1000;
const MAX_CODE_NANOS: i64 = 10_000 * 1_000_000_000;
/// Crockford's base32: no I, L, O, U, so a code read aloud or retyped stays one code.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 20 symbols of 5 bits: 100 random bits, shown as `FLINT-XXXXX-XXXXX-XXXXX-XXXXX`.
const CODE_SYMBOLS: usize = 20;
/// Wrong codes a user may try per hour.
const WRONG_CODES_PER_HOUR: u32 = 10;

fn new_code() -> ApiResult<String> {
    let mut bytes = [0u8; CODE_SYMBOLS];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    let symbols: Vec<char> = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    let groups: Vec<String> = symbols.chunks(5).map(|g| g.iter().collect()).collect();
    Ok(format!("FLINT-{}", groups.join("-")))
}

/// The form a code is stored and compared in: upper case, without spaces, dashes or the
/// `FLINT` prefix, with the look-alikes Crockford folds (O→0, I/L→1).
fn normalize(code: &str) -> String {
    let upper: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    upper
        .strip_prefix("FLINT")
        .unwrap_or(&upper)
        .chars()
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

fn hash_code(code: &str) -> String {
    hex::encode(Sha256::digest(normalize(code).as_bytes()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    amount_usd: serde_json::Number,
    count: u32,
    #[serde(default)]
    uses_per_code: Option<u32>,
    /// ISO 8601 (`2027-01-31T23:59:59Z`) or a date (`2027-01-31`, its end in UTC); none: never.
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

fn parse_expiry(text: &str) -> Option<i64> {
    let text = text.trim();
    let date_only = time::is_date_only(text);
    time::parse_iso8601(text).map(|at| if date_only { at + 86_399 } else { at })
}

/// `POST /admin/codes {"amount_usd","count","uses_per_code","expires_at","note"}` → the codes,
/// shown this once.
pub async fn create_batch(mut req: Request, app: &App) -> ApiResult<Response> {
    let raw = http::read_body_capped(&mut req, app.config.max_json_body_bytes).await?;
    require_admin(&req, app).await?;
    let body: BatchRequest = http::parse_json(&raw)?;
    let amount = usd_to_nanos(&body.amount_usd)
        .filter(|&n| n > 0 && n <= MAX_CODE_NANOS && n % 1000 == 0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "amount_usd",
                "`amount_usd` must be a positive amount of whole micro-dollars, at most $10,000.",
            )
        })?;
    if !(1..=MAX_CODES_PER_BATCH).contains(&body.count) {
        return Err(ApiError::bad_request(
            "count",
            format!("`count` must be from 1 to {MAX_CODES_PER_BATCH}."),
        ));
    }
    let uses_per_code = body.uses_per_code.unwrap_or(1);
    if !(1..=1_000_000).contains(&uses_per_code) {
        return Err(ApiError::bad_request(
            "uses_per_code",
            "`uses_per_code` must be from 1 to 1000000.",
        ));
    }
    let now = time::now_secs();
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => Some(parse_expiry(text).filter(|&at| at > now).ok_or_else(|| {
            ApiError::bad_request(
                "expires_at",
                "`expires_at` must be a future ISO 8601 time (`2027-01-31T23:59:59Z`) or date.",
            )
        })?),
    };
    let note = body.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 200) {
        return Err(ApiError::bad_request(
            "note",
            "`note` must be at most 200 characters.",
        ));
    }
    let codes = (0..body.count)
        .map(|_| new_code())
        .collect::<ApiResult<Vec<_>>>()?;
    let hashes: Vec<String> = codes.iter().map(|c| hash_code(c)).collect();
    let id = format!("batch_{}", http::random_hex(8));
    let db = Db::from_env(&app.env)?;
    db.insert_code_batch(
        &NewCodeBatch {
            id: &id,
            amount,
            uses_per_code: i64::from(uses_per_code),
            expires_at,
            note,
            now,
        },
        &hashes,
    )
    .await?;
    http::json(
        200,
        &json!({
            "batch_id": id,
            "amount_usd": Nanos(amount).as_usd_f64(),
            "uses_per_code": uses_per_code,
            "expires_at": expires_at.map(time::iso8601),
            "note": note,
            "codes": codes,
        }),
    )
}

/// `GET /admin/codes`: every batch and how much of it was redeemed; never a code.
pub async fn list_batches(req: Request, app: &App) -> ApiResult<Response> {
    require_admin(&req, app).await?;
    let batches = Db::from_env(&app.env)?.code_batches().await?;
    let batches: Vec<Value> = batches
        .iter()
        .map(|b| {
            json!({
                "batch_id": b.id,
                "amount_usd": Nanos(b.amount_nanos).as_usd_f64(),
                "codes": b.codes,
                "uses_per_code": b.uses_per_code,
                "redeemed": b.redeemed,
                "expires_at": b.expires_at.map(time::iso8601),
                "note": b.note,
                "created_at": time::iso8601(b.created_at),
            })
        })
        .collect();
    http::json(200, &json!({ "batches": batches }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemRequest {
    code: String,
}

fn refused(code: &'static str, message: &str, status: ErrorKind) -> ApiError {
    ApiError::new(status, code, message.to_owned()).with_param("code")
}

/// `POST /api/billing/redeem {"code"}`: credits the code's amount once.
pub async fn redeem(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let body: RedeemRequest = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    principal.require_scope(Scope::Billing)?;
    if body.code.trim().is_empty() || body.code.len() > 100 {
        return Err(ApiError::bad_request("code", "`code` must be a redemption code."));
    }
    let now = time::now_secs();
    // Every attempt counts until it succeeds, so parallel guesses can't pass the limit.
    let throttle = Throttle {
        limit: WRONG_CODES_PER_HOUR,
        window_secs: 3600,
    };
    let object = format!("redeem:{}", principal.user.id);
    let state = throttle.take(&app.env, &object, now).await?;
    if state.blocked {
        return Err(throttled(
            "too_many_wrong_codes",
            format!("Too many wrong codes; retry in {} s.", state.retry_after.max(1)),
            state.retry_after.max(1),
        ));
    }
    let db = Db::from_env(&app.env)?;
    let hash = hash_code(&body.code);
    if let Some(entry) = db.redeem_code(&hash, principal.user.id, now).await? {
        throttle.give(&app.env, &object, now).await?;
        return http::json(
            200,
            &json!({
                "status": "ok",
                "amount_usd": Nanos(entry.amount_nanos).as_usd_f64(),
                "balance_usd": Nanos(entry.balance_after_nanos).as_usd_f64(),
            }),
        );
    }
    Err(match db.code_state(&hash, principal.user.id, now).await? {
        CodeState::Unknown | CodeState::Expired => refused(
            "invalid_code",
            "This code is not valid or has expired.",
            ErrorKind::BadRequest,
        ),
        CodeState::AlreadyRedeemed => refused(
            "code_already_redeemed",
            "You have already redeemed this code.",
            ErrorKind::Conflict,
        ),
        CodeState::UsedUp => refused(
            "code_used_up",
            "This code has been redeemed as many times as it allows.",
            ErrorKind::Conflict,
        ),
        // Redeemable now but not a moment ago: only the balance's ceiling refuses a credit.
        CodeState::Redeemable => ApiError::new(
            ErrorKind::Conflict,
            "balance_limit",
            "The balance cannot hold this credit.",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_100_random_bits_in_groups_and_normalise_to_one_form() {
        let code = new_code().unwrap();
        assert!(code.starts_with("FLINT-"), "{code}");
        assert_eq!(code.len(), "FLINT-".len() + 20 + 3);
        assert_ne!(code, new_code().unwrap());
        let retyped = code.to_lowercase().replace('-', " ");
        assert_eq!(hash_code(&code), hash_code(&retyped));
        assert_eq!(normalize("flint-0o1il"), "00111");
        assert_ne!(hash_code("FLINT-AAAAA"), hash_code("FLINT-AAAAB"));
    }

    #[test]
    fn expiry_takes_a_time_or_a_date() {
        assert_eq!(
            parse_expiry("2027-01-31"),
            time::parse_iso8601("2027-01-31T23:59:59Z")
        );
        assert!(parse_expiry("2027-01-31T10:00:00Z").is_some());
        assert!(parse_expiry("soon").is_none());
    }
}
