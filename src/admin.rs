//! The operator API behind `ADMIN_TOKEN`: credit a user (idempotent by reference), set a plan,
//! look users up.

use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use worker::{Request, Response};

use crate::app::App;
use crate::auth::client_ip;
use crate::billing::money::{parse_json_decimal, Nanos};
use crate::db::{Credit, Db, LedgerRow, UserRow};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::client::{throttled, PerIp, Throttle};
use crate::{http, time};

/// The largest single credit accepted (a typo guard): $1,000,000.
const MAX_CREDIT_NANOS: i64 = 1_000_000 * 1_000_000_000;

/// Whether `req` carries the operator's bearer. Wrong tokens are counted per client IP
/// (`ADMIN_FAILURES_PER_IP` per `LOGIN_FAILURE_WINDOW_SECS`); past that every attempt from the
/// address is refused, the right token too, so the limit is no oracle.
pub async fn is_admin(req: &Request, app: &App) -> ApiResult<bool> {
    let Some(expected) = app.config.admin_token()? else {
        return Ok(false);
    };
    let given = bearer_token(req);
    let per_ip = PerIp::new(
        app,
        &client_ip(req),
        "admin-ip",
        Throttle {
            limit: app.config.admin_failures_per_ip,
            window_secs: app.config.login_failure_window_secs,
        },
    );
    let now = time::now_secs();
    if let Some(retry_after) = per_ip.blocked(&app.env, now).await? {
        return Err(throttled(
            "too_many_admin_attempts",
            format!("Too many wrong admin tokens from this address; retry in {retry_after} s."),
            retry_after,
        ));
    }
    let matches = !given.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    if !matches {
        per_ip.record(&app.env, now).await?;
    }
    Ok(matches)
}

fn bearer_token(req: &Request) -> String {
    let header = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    header
        .strip_prefix("Bearer ")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

pub async fn require_admin(req: &Request, app: &App) -> ApiResult<()> {
    if app.config.admin_token()?.is_none() {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "admin_disabled",
            "The operator API is disabled on this gateway.",
        )
        .with_internal("ADMIN_TOKEN is not set"));
    }
    if is_admin(req, app).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorKind::Unauthorized,
            "invalid_admin_token",
            "A valid admin token is required.",
        ))
    }
}

/// A JSON number of USD as exact nano-USD (at most 9 decimals; exponent forms shifted exactly).
pub fn usd_to_nanos(value: &serde_json::Number) -> Option<i64> {
    parse_json_decimal(&value.to_string(), 9).ok()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditRequest {
    amount_usd: serde_json::Number,
    reference: String,
}

fn entry_json(entry: &LedgerRow) -> Value {
    let mut json = crate::billing::ledger::entry_json(entry);
    json["user_id"] = json!(entry.user_id);
    json
}

async fn user(db: &Db, id: &str) -> ApiResult<UserRow> {
    let not_found = || ApiError::new(ErrorKind::NotFound, "user_not_found", format!("No user `{id}`."));
    let id: i64 = id.parse().map_err(|_| not_found())?;
    db.user_by_id(id).await?.ok_or_else(not_found)
}

/// `POST /admin/users/{id}/credit {"amount_usd","reference"}`.
pub async fn credit(mut req: Request, app: &App, id: &str) -> ApiResult<Response> {
    // The body is read before the answer, whatever it is: a request answered half-read leaves
    // its client writing into a closed request.
    let raw = http::read_body_capped(&mut req, app.config.max_json_body_bytes).await?;
    require_admin(&req, app).await?;
    let body: CreditRequest = http::parse_json(&raw)?;
    let amount = usd_to_nanos(&body.amount_usd)
        .filter(|&n| n > 0 && n <= MAX_CREDIT_NANOS)
        .ok_or_else(|| {
            ApiError::bad_request(
                "amount_usd",
                "`amount_usd` must be a positive amount of at most $1,000,000.",
            )
        })?;
    let reference = body.reference.trim();
    if reference.is_empty() || reference.len() > 200 {
        return Err(ApiError::bad_request(
            "reference",
            "`reference` must be 1 to 200 characters.",
        ));
    }
    let db = Db::from_env(&app.env)?;
    let user = user(&db, id).await?;
    let detail = json!({"by": "admin"}).to_string();
    let reference = format!("admin:{reference}");
    let credit = Credit {
        user_id: user.id,
        kind: "credit",
        amount,
        reference: &reference,
        detail: &detail,
        now: time::now_secs(),
    };
    let (entry, replayed) = db.credit(&credit).await?;
    if entry.user_id != user.id {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "reference_taken",
            "This reference was already used to credit another user.",
        )
        .with_param("reference"));
    }
    let mut body = entry_json(&entry);
    body["replayed"] = json!(replayed);
    http::json(200, &body)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanRequest {
    plan: String,
    /// Per-user limits over the plan's (meant for `enterprise`); omitted: none.
    #[serde(default)]
    overrides: Option<crate::limits::plan::Overrides>,
}

/// `PUT /admin/users/{id}/plan {"plan"}`.
pub async fn set_plan(mut req: Request, app: &App, id: &str) -> ApiResult<Response> {
    // The body is read before the answer, whatever it is: a request answered half-read leaves
    // its client writing into a closed request.
    let raw = http::read_body_capped(&mut req, app.config.max_json_body_bytes).await?;
    require_admin(&req, app).await?;
    let body: PlanRequest = http::parse_json(&raw)?;
    let db = Db::from_env(&app.env)?;
    let user = user(&db, id).await?;
    let plan = db
        .plan(body.plan.trim())
        .await?
        .ok_or_else(|| ApiError::bad_request("plan", format!("Unknown plan `{}`.", body.plan.trim())))?;
    let overrides = match &body.overrides {
        Some(overrides) => {
            overrides
                .validate()
                .map_err(|m| ApiError::bad_request("overrides", m))?;
            Some(serde_json::to_string(overrides).map_err(ApiError::internal)?)
        }
        None => None,
    };
    db.set_plan(user.id, &plan.id, None, overrides.as_deref()).await?;
    http::json(
        200,
        &json!({"status": "ok", "user_id": user.id, "plan": plan.id, "overrides": body.overrides}),
    )
}

/// `GET /admin/users?email=`: balance, plan and today's usage.
pub async fn find_users(req: Request, app: &App) -> ApiResult<Response> {
    require_admin(&req, app).await?;
    let email = http::Query::of(&req)
        .get("email")
        .map(|v| v.trim().to_lowercase());
    let Some(email) = email.filter(|e| !e.is_empty()) else {
        return Err(ApiError::bad_request(
            "email",
            "Pass `?email=` to look a user up.",
        ));
    };
    let db = Db::from_env(&app.env)?;
    let mut users = Vec::new();
    if let Some(user) = db.user_by_email(&email).await? {
        let plan = crate::limits::plan::effective(&db, &user, time::now_secs()).await?;
        let day = time::day_at(time::now_ms() as i64, app.config.utc_offset_secs);
        let usage = crate::limits::client::peek(&app.env, user.id, plan.limits(), &day)
            .await?
            .usage;
        users.push(json!({
            "id": user.id,
            "email": user.email,
            "plan": plan.id,
            "plan_expires_at": user.plan_expires_at.map(time::iso8601),
            "limits_override": user.limits_override.as_deref().and_then(|o| serde_json::from_slice::<Value>(o.as_bytes()).ok()),
            "balance_usd": Nanos(user.balance_nanos).as_usd_f64(),
            "available_usd": Nanos(db.available_balance(user.id).await?).as_usd_f64(),
            "created_at": time::iso8601(user.created_at),
            "usage_today": {"requests": usage.requests, "tokens": usage.tokens, "free_requests": usage.free},
            "email_verified": db.email_verified(user.id).await?,
            "flags": db.account_flags(user.id).await?.iter().map(|f| json!({
                "reason": f.reason,
                "detail": f.detail.as_deref().and_then(|d| serde_json::from_slice::<Value>(d.as_bytes()).ok()),
                "created_at": time::iso8601(f.created_at),
            })).collect::<Vec<_>>(),
        }));
    }
    http::json(200, &json!({ "users": users }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_numbers_convert_exactly() {
        let n = |s: &str| serde_json::from_slice::<serde_json::Number>(s.as_bytes()).unwrap();
        assert_eq!(usd_to_nanos(&n("10")), Some(10_000_000_000));
        assert_eq!(usd_to_nanos(&n("0.000309")), Some(309_000));
        assert_eq!(usd_to_nanos(&n("-1")), None);
        // serde_json shows 1e3 as 1000.0: an exact amount, accepted; 1e-10 has too many decimals.
        assert_eq!(usd_to_nanos(&n("1e3")), Some(1_000_000_000_000));
        assert_eq!(usd_to_nanos(&n("1e-10")), None);
        assert_eq!(usd_to_nanos(&n("0.000001")), Some(1000));
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanPriceRequest {
    price_multiplier: serde_json::Number,
}

/// `PUT /admin/plans/{plan} {"price_multiplier": 0.9}`: the plan's price group, applied to every
/// charge of requests admitted from now on (1 removes it).
pub async fn set_plan_price(mut req: Request, app: &App, plan_id: &str) -> ApiResult<Response> {
    let raw = http::read_body_capped(&mut req, app.config.max_json_body_bytes).await?;
    require_admin(&req, app).await?;
    let body: PlanPriceRequest = http::parse_json(&raw)?;
    let ppm = parse_json_decimal(&body.price_multiplier.to_string(), 6)
        .ok()
        .filter(|ppm| (10_000..=10_000_000).contains(ppm))
        .ok_or_else(|| {
            ApiError::bad_request(
                "price_multiplier",
                "`price_multiplier` must be from 0.01 to 10, with at most 6 decimals.",
            )
        })?;
    let db = Db::from_env(&app.env)?;
    let plan = db.plan(plan_id).await?.ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "plan_not_found",
            format!("No plan `{plan_id}`."),
        )
    })?;
    db.set_price_multiplier(&plan.id, ppm).await?;
    http::json(
        200,
        &json!({"status": "ok", "plan": plan.id, "price_multiplier": ppm as f64 / 1e6}),
    )
}
