//! `GET /api/billing/history`: the user's ledger, newest first, a page at a time.

use serde_json::{json, Value};
use worker::{Request, Response};

use super::money::Nanos;
use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::db::{Db, LedgerRow};
use crate::error::{ApiError, ApiResult};
use crate::{http, time};

/// A ledger entry as the user's history shows it (the operator's answers add `user_id`).
pub fn entry_json(entry: &LedgerRow) -> Value {
    json!({
        "id": entry.id,
        "kind": entry.kind,
        "amount_usd": Nanos(entry.amount_nanos).as_usd_f64(),
        "balance_usd": Nanos(entry.balance_after_nanos).as_usd_f64(),
        "reference": entry.reference,
        "created_at": time::iso8601(entry.created_at),
    })
}

/// `GET /api/billing/history?limit=&cursor=`: the user's ledger, newest first.
pub async fn history(req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_scope(Scope::Billing)?;
    let mut limit = 20_i64;
    let mut cursor = None;
    for (key, value) in http::Query::of(&req).pairs() {
        match key.as_ref() {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request("limit", "`limit` must be a whole number from 1 to 100.")
                    })?;
            }
            "cursor" => {
                cursor = Some(value.parse::<i64>().map_err(|_| {
                    ApiError::bad_request("cursor", "`cursor` is not a cursor from this API.")
                })?);
            }
            _ => {}
        }
    }
    let mut rows = db.ledger_page(principal.user.id, cursor, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(20));
    let next_cursor = if more {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    let entries: Vec<Value> = rows.iter().map(entry_json).collect();
    http::json(200, &json!({ "entries": entries, "next_cursor": next_cursor }))
}
