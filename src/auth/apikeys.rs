//! API keys (TechStone's console keys): `sk-` plus 32 random bytes, shown once; only the SHA-256
//! and a short display prefix are stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{Request, Response};

use super::{unauthorized, BudgetPeriod, Credential, KeyBudget, Principal, Scope};
use crate::app::App;
use crate::billing::money::Nanos;
use crate::db::{ApiKeyRow, Db};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::{http, time};

pub const KEY_PREFIX: &str = "sk-";
const KEY_RANDOM_BYTES: usize = 32;
const DISPLAY_PREFIX_CHARS: usize = 12;
const MAX_KEYS_PER_USER: usize = 100;

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_key() -> ApiResult<String> {
    let mut bytes = [0u8; KEY_RANDOM_BYTES];
    getrandom::getrandom(&mut bytes).map_err(ApiError::internal)?;
    Ok(format!("{KEY_PREFIX}{}", B64.encode(bytes)))
}

/// The key's owner and plan in one query; the last-use stamp is written after the response.
pub async fn authenticate(app: &App, db: &Db, key: &str, now: i64) -> ApiResult<Principal> {
    let invalid = || unauthorized("invalid_api_key", "Invalid API key; it may have been revoked.");
    let offset = app.config.utc_offset_secs;
    let (day_start, _) = BudgetPeriod::Day.window(now, offset);
    let (month_start, _) = BudgetPeriod::Month.window(now, offset);
    let row = db
        .caller_by_key_hash(&hash_key(key), now, day_start, month_start)
        .await?
        .ok_or_else(invalid)?;
    if row.key_expires_at.is_some_and(|at| at <= now) {
        return Err(unauthorized("api_key_expired", "This API key has expired."));
    }
    let key_id = row.key_id.clone().ok_or_else(invalid)?;
    let models = row.key_models.as_deref().map(parse_models).transpose()?;
    // Last-used time is informational: a minute's precision saves a write per request, and the
    // write never delays the answer.
    if row.key_last_used_at.is_none_or(|at| now - at >= 60) {
        let env = app.env.clone();
        let id = key_id.clone();
        app.ctx.wait_until(async move {
            let touched = async { Db::from_env(&env)?.touch_api_key(&id, now).await }.await;
            if let Err(error) = touched {
                worker::console_warn!("api key last-use stamp failed: {:?}", error.internal);
            }
        });
    }
    let scopes = match row.key_scopes.as_deref() {
        Some(stored) => parse_scopes(stored)?,
        None => Scope::defaults(models.as_deref()),
    };
    let budget = match (row.key_budget_nanos.as_deref(), row.key_budget_period.as_deref()) {
        (Some(limit), Some(period)) => {
            let period = BudgetPeriod::parse(period)
                .ok_or_else(|| ApiError::internal(format!("api_key_budgets.period `{period}`")))?;
            let exact = |text: &str| {
                text.parse::<i64>()
                    .map(Nanos)
                    .map_err(|e| ApiError::internal(format!("key budget `{text}`: {e}")))
            };
            Some(KeyBudget {
                limit: exact(limit)?,
                period,
                used: exact(row.key_budget_used.as_deref().unwrap_or("0"))?,
                resets_at: period.window(now, offset).1,
            })
        }
        _ => None,
    };
    let catalog_version = row.catalog_version;
    let (user, plan) = row.split();
    let plan = crate::limits::plan::with_overrides(&user, plan)?;
    Ok(Principal {
        catalog_version,
        user,
        credential: Credential::ApiKey {
            id: key_id,
            models,
            scopes,
            budget,
        },
        plan,
    })
}

/// The key's scopes: as stored, or the default of its kind for keys made before scopes were.
fn key_scopes(row: &ApiKeyRow, models: Option<&[String]>) -> ApiResult<Vec<Scope>> {
    match row.scopes.as_deref() {
        Some(stored) => parse_scopes(stored),
        None => Ok(Scope::defaults(models)),
    }
}

fn parse_scopes(stored: &str) -> ApiResult<Vec<Scope>> {
    serde_json::from_slice(stored.as_bytes())
        .map_err(|e| ApiError::internal(format!("api_key_scopes.scopes is not a list of scopes: {e}")))
}

fn parse_models(stored: &str) -> ApiResult<Vec<String>> {
    serde_json::from_slice(stored.as_bytes())
        .map_err(|e| ApiError::internal(format!("api_keys.models is not a JSON list: {e}")))
}

fn key_json(row: &ApiKeyRow) -> ApiResult<Value> {
    let models = row.models.as_deref().map(parse_models).transpose()?;
    let scopes = key_scopes(row, models.as_deref())?;
    Ok(json!({
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "models": models,
        "scopes": scopes,
        "budget": budget_json(row.budget_nanos.as_deref(), row.budget_period.as_deref()),
        "expires_at": row.expires_at.map(time::iso8601),
        "created_at": time::iso8601(row.created_at),
        "last_used_at": row.last_used_at.map(time::iso8601),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    #[serde(default)]
    models: Option<Vec<String>>,
    /// `files`, `billing`; omitted: all for a key of every model, none for a model-scoped key.
    #[serde(default)]
    scopes: Option<Vec<Scope>>,
    #[serde(default)]
    expires_at: Option<ExpiresAt>,
    /// A spending cap in USD per `budget_period` (`day` or `month`, default `month`).
    #[serde(default)]
    budget_usd: Option<serde_json::Number>,
    #[serde(default)]
    budget_period: Option<String>,
}

/// The largest budget a key may carry: $1,000,000 per period.
const MAX_BUDGET_NANOS: i64 = 1_000_000 * 1_000_000_000;

fn parse_budget(
    usd: Option<&serde_json::Number>,
    period: Option<&str>,
) -> ApiResult<Option<(i64, BudgetPeriod)>> {
    let period = match period {
        None => None,
        Some(text) => Some(BudgetPeriod::parse(text).ok_or_else(|| {
            ApiError::bad_request("budget_period", "`budget_period` must be `day` or `month`.")
        })?),
    };
    let Some(usd) = usd else {
        if period.is_some() {
            return Err(ApiError::bad_request(
                "budget_usd",
                "`budget_period` needs a `budget_usd`.",
            ));
        }
        return Ok(None);
    };
    let nanos = crate::admin::usd_to_nanos(usd)
        .filter(|&n| n > 0 && n <= MAX_BUDGET_NANOS)
        .ok_or_else(|| {
            ApiError::bad_request(
                "budget_usd",
                "`budget_usd` must be a positive amount of at most $1,000,000.",
            )
        })?;
    Ok(Some((nanos, period.unwrap_or(BudgetPeriod::Month))))
}

fn budget_json(nanos: Option<&str>, period: Option<&str>) -> Value {
    match (nanos.and_then(|n| n.parse::<i64>().ok()), period) {
        (Some(nanos), Some(period)) => json!({"usd": Nanos(nanos).as_usd_f64(), "period": period}),
        _ => Value::Null,
    }
}

/// `expires_at` as an ISO 8601 time or Unix seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExpiresAt {
    Unix(i64),
    Iso(String),
}

/// `POST /api/keys`: the key is in this answer and never again.
pub async fn create(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_session("manage API keys")?;
    let body: CreateKey = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let now = time::now_secs();

    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "name",
            "`name` must be 1 to 100 characters.",
        ));
    }
    let models = match body.models {
        None => None,
        Some(list) if list.is_empty() => {
            return Err(ApiError::bad_request(
                "models",
                "`models` must list at least one model, or be omitted for all.",
            ))
        }
        Some(list) => {
            let catalog = crate::catalog::live::for_caller(app, principal).await?;
            let mut canonical = Vec::with_capacity(list.len());
            for (i, id) in list.iter().enumerate() {
                let model = catalog.model(id).ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::BadRequest,
                        "model_not_found",
                        format!("Unknown model `{id}` in `models`."),
                    )
                    .with_param(format!("models[{i}]"))
                })?;
                if !canonical.contains(&model.id) {
                    canonical.push(model.id.clone());
                }
            }
            Some(canonical)
        }
    };
    let expires_at = match body.expires_at {
        None => None,
        Some(ExpiresAt::Unix(secs)) => Some(secs),
        Some(ExpiresAt::Iso(text)) => Some(time::parse_iso8601(&text).ok_or_else(|| {
            ApiError::bad_request(
                "expires_at",
                "`expires_at` must be an ISO 8601 time such as 2027-01-31T00:00:00Z.",
            )
        })?),
    };
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_request(
            "expires_at",
            "`expires_at` must be in the future.",
        ));
    }
    let budget = parse_budget(body.budget_usd.as_ref(), body.budget_period.as_deref())?;
    if db.api_keys_of(principal.user.id).await?.len() >= MAX_KEYS_PER_USER {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "too_many_keys",
            format!("An account may hold at most {MAX_KEYS_PER_USER} API keys; revoke one first."),
        ));
    }

    let mut scopes = body.scopes.unwrap_or_else(|| Scope::defaults(models.as_deref()));
    scopes.sort_by_key(|s| s.name());
    scopes.dedup();
    let scopes_json = serde_json::to_string(&scopes).map_err(ApiError::internal)?;

    let key = new_key()?;
    let id = format!("key_{}", http::random_hex(8));
    let prefix: String = key.chars().take(DISPLAY_PREFIX_CHARS).collect();
    let models_json = models
        .as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_default());
    db.insert_api_key(
        &id,
        principal.user.id,
        name,
        &hash_key(&key),
        &prefix,
        models_json.as_deref(),
        &scopes_json,
        expires_at,
        budget.map(|(nanos, period)| (nanos, period.name())),
        now,
    )
    .await?;
    http::json(
        201,
        &json!({
            "id": id,
            "name": name,
            "key": key,
            "prefix": prefix,
            "models": models,
            "scopes": scopes,
            "budget": budget.map(|(nanos, period)| json!({"usd": Nanos(nanos).as_usd_f64(), "period": period.name()})),
            "expires_at": expires_at.map(time::iso8601),
            "created_at": time::iso8601(now),
        }),
    )
}

/// `GET /api/keys`: the caller's keys, without secrets.
pub async fn list(app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_session("manage API keys")?;
    let keys = db
        .api_keys_of(principal.user.id)
        .await?
        .iter()
        .map(key_json)
        .collect::<ApiResult<Vec<_>>>()?;
    http::json(200, &json!({ "keys": keys }))
}

/// `DELETE /api/keys/{id}`: revokes at once; another user's key is a 404 like a missing one.
pub async fn revoke(app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_session("manage API keys")?;
    if !db.delete_api_key(principal.user.id, id).await? {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "key_not_found",
            format!("No API key `{id}`."),
        ));
    }
    http::json(200, &json!({ "status": "ok", "id": id, "revoked": true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert!(a.starts_with("sk-") && a.len() == 3 + 43, "{a}");
        assert_ne!(a, b);
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[test]
    fn expires_at_accepts_iso_or_unix() {
        let iso: CreateKey =
            serde_json::from_slice(r#"{"name":"n","expires_at":"2030-01-01T00:00:00Z"}"#.as_bytes()).unwrap();
        assert!(matches!(iso.expires_at, Some(ExpiresAt::Iso(_))));
        let unix: CreateKey =
            serde_json::from_slice(r#"{"name":"n","expires_at":1900000000}"#.as_bytes()).unwrap();
        assert!(matches!(unix.expires_at, Some(ExpiresAt::Unix(1_900_000_000))));
    }

    #[test]
    fn scopes_are_named_and_unknown_ones_refused() {
        let key: CreateKey =
            serde_json::from_slice(r#"{"name":"n","scopes":["files","billing"]}"#.as_bytes()).unwrap();
        assert_eq!(key.scopes, Some(vec![Scope::Files, Scope::Billing]));
        assert!(
            serde_json::from_slice::<CreateKey>(r#"{"name":"n","scopes":["admin"]}"#.as_bytes()).is_err()
        );
    }
}
