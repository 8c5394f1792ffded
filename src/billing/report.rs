//! `GET /api/usage?days=7|30`: the user's spend and tokens per local day, by model and by key,
//! read from `usage_events` (what the console's usage page draws).

use serde_json::{json, Value};
use worker::{Request, Response};

use super::money::Nanos;
use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::db::{Db, UsageGroupRow};
use crate::error::{ApiError, ApiResult};
use crate::{http, time};

/// The report's window: `days` local days ending today (today included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first local day, as days since 1970-01-01.
    pub first_day: i64,
    pub days: i64,
    /// Unix seconds of the first day's local midnight.
    pub since: i64,
}

impl Window {
    pub fn ending_at(now_secs: i64, offset_secs: i64, days: i64) -> Window {
        let today = (now_secs + offset_secs).div_euclid(86_400);
        let first_day = today - days + 1;
        Window {
            first_day,
            days,
            since: first_day * 86_400 - offset_secs,
        }
    }
}

/// `days` from the query: 7 (the default) or 30.
pub fn parse_days(query: Option<&str>) -> ApiResult<i64> {
    match query {
        None => Ok(7),
        Some("7") => Ok(7),
        Some("30") => Ok(30),
        Some(_) => Err(ApiError::bad_request("days", "`days` must be 7 or 30.")),
    }
}

fn totals(row: &UsageGroupRow) -> Value {
    json!({
        "requests": row.requests,
        "tokens_in": row.tokens_in,
        "tokens_out": row.tokens_out,
        "cost_usd": Nanos(row.charged_nanos).as_usd_f64(),
    })
}

/// Every day of the window, oldest first, with zeros where nothing was used.
pub fn daily(window: Window, rows: &[UsageGroupRow]) -> Vec<Value> {
    (window.first_day..window.first_day + window.days)
        .map(|day| {
            let found = rows
                .iter()
                // D1 hands numbers back as doubles.
                .find(|r| r.group_key.as_ref().and_then(Value::as_f64) == Some(day as f64));
            let mut entry = match found {
                Some(row) => totals(row),
                None => json!({"requests": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0}),
            };
            entry["date"] = json!(time::iso8601(day * 86_400)[..10]);
            entry
        })
        .collect()
}

pub async fn usage(req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    principal.require_scope(Scope::Billing)?;
    let days_param = http::Query::of(&req).get("days");
    let days = parse_days(days_param.as_deref())?;
    let offset = app.config.utc_offset_secs;
    let window = Window::ending_at(time::now_secs(), offset, days);
    let db = Db::from_env(&app.env)?;
    let user = principal.user.id;
    let (by_day, by_model, by_key) = futures_util::future::try_join3(
        db.usage_by_day(user, window.since, offset),
        db.usage_by_model(user, window.since),
        db.usage_by_key(user, window.since),
    )
    .await?;
    let models: Vec<Value> = by_model
        .iter()
        .map(|r| {
            let mut entry = totals(r);
            entry["model"] = r.group_key.clone().unwrap_or(Value::Null);
            entry
        })
        .collect();
    let keys: Vec<Value> = by_key
        .iter()
        .map(|r| {
            let mut entry = totals(r);
            entry["key_id"] = r.group_key.clone().unwrap_or(Value::Null);
            entry["name"] = json!(r.key_name);
            entry
        })
        .collect();
    http::json(
        200,
        &json!({
            "days": days,
            "since": time::iso8601(window.since),
            "daily": daily(window, &by_day),
            "by_model": models,
            "by_key": keys,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: Value, nanos: i64) -> UsageGroupRow {
        UsageGroupRow {
            group_key: Some(key),
            key_name: None,
            requests: 2,
            tokens_in: 10,
            tokens_out: 5,
            charged_nanos: nanos,
        }
    }

    #[test]
    fn the_window_starts_at_local_midnight_days_ago() {
        // 2026-11-22T10:00:00Z, at +03:00: the local day starts 2026-11-21T21:00:00Z.
        let now = time::parse_iso8601("2026-11-22T10:00:00Z").unwrap();
        let w = Window::ending_at(now, 3 * 3600, 7);
        assert_eq!(time::iso8601(w.since), "2026-11-15T21:00:00Z");
        assert_eq!(w.days, 7);
        let utc = Window::ending_at(now, 0, 30);
        assert_eq!(time::iso8601(utc.since), "2026-10-24T00:00:00Z");
    }

    #[test]
    fn every_day_is_listed_with_zeros_where_nothing_was_used() {
        let now = time::parse_iso8601("2026-11-22T10:00:00Z").unwrap();
        let w = Window::ending_at(now, 0, 7);
        let rows = [row(json!(w.first_day + 6), 1_500_000)];
        let days = daily(w, &rows);
        assert_eq!(days.len(), 7);
        assert_eq!(days[0]["date"], "2026-11-16");
        assert_eq!(days[0]["requests"], 0);
        assert_eq!(days[6]["date"], "2026-11-22");
        assert_eq!(days[6]["cost_usd"], 0.0015);
        assert_eq!(days[6]["tokens_in"], 10);
    }

    #[test]
    fn days_is_7_or_30() {
        assert_eq!(parse_days(None).unwrap(), 7);
        assert_eq!(parse_days(Some("30")).unwrap(), 30);
        let error = parse_days(Some("31")).unwrap_err();
        assert_eq!(error.status(), 400);
    }
}
