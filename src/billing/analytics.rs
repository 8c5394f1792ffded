//! Usage analytics: `GET /api/usage` (the caller's) and `GET /admin/usage` (everyone's), grouped
//! by day, model, API key (or user), as JSON or CSV. Read from the usage rows; `cost_usd` is what
//! was charged, so a period's rows add up to its ledger charges.

use serde_json::{json, Value};
use worker::{Request, Response};

use super::money::Nanos;
use crate::admin::require_admin;
use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::db::{Db, UsageFilter, UsageGroup, UsageRow};
use crate::error::{ApiError, ApiResult};
use crate::{http, time};

/// The longest period one query covers.
const MAX_DAYS: i64 = 366;
/// The default period: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;

/// What a query asks, parsed from its query string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    /// Unix seconds: `from`'s midnight, and the midnight after `to` (UTC).
    start: i64,
    end: i64,
    group: UsageGroup,
    csv: bool,
    user_id: Option<i64>,
}

fn parse_day(param: &'static str, text: &str) -> ApiResult<i64> {
    let valid = text.len() == 10 && time::is_date_only(text);
    valid
        .then(|| time::parse_iso8601(text))
        .flatten()
        .ok_or_else(|| ApiError::bad_request(param, format!("`{param}` must be a date like `2026-12-01`.")))
}

fn parse_query(query: &http::Query, now: i64, admin: bool) -> ApiResult<Query> {
    let (mut from, mut to, mut group, mut format, mut user_id) = (None, None, None, None, None);
    for (key, value) in query.pairs() {
        match key.as_ref() {
            "from" => from = Some(value.into_owned()),
            "to" => to = Some(value.into_owned()),
            "group" => group = Some(value.into_owned()),
            "format" => format = Some(value.into_owned()),
            "user_id" if admin => user_id = Some(value.into_owned()),
            other => {
                return Err(ApiError::bad_request(
                    other.to_owned(),
                    format!("Unknown parameter `{other}`."),
                ))
            }
        }
    }
    let today = now - now.rem_euclid(86_400);
    let end = match &to {
        Some(to) => parse_day("to", to)? + 86_400,
        None => today + 86_400,
    };
    let start = match &from {
        Some(from) => parse_day("from", from)?,
        None => end - DEFAULT_DAYS * 86_400,
    };
    if start >= end {
        return Err(ApiError::bad_request("from", "`from` must not be after `to`."));
    }
    if end - start > MAX_DAYS * 86_400 {
        return Err(ApiError::bad_request(
            "from",
            format!("A query covers at most {MAX_DAYS} days."),
        ));
    }
    let group = match group.as_deref().unwrap_or("day") {
        "day" => UsageGroup::Day,
        "model" => UsageGroup::Model,
        "key" => UsageGroup::Key,
        "user" if admin => UsageGroup::User,
        _ => {
            let allowed = if admin {
                "`day`, `model`, `key` or `user`"
            } else {
                "`day`, `model` or `key`"
            };
            return Err(ApiError::bad_request(
                "group",
                format!("`group` must be {allowed}."),
            ));
        }
    };
    let csv = match format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "format",
                "`format` must be `json` or `csv`.",
            ))
        }
    };
    let user_id = user_id
        .map(|id| {
            id.parse::<i64>()
                .map_err(|_| ApiError::bad_request("user_id", "`user_id` must be a user's id."))
        })
        .transpose()?;
    Ok(Query {
        start,
        end,
        group,
        csv,
        user_id,
    })
}

fn row_json(group: UsageGroup, row: &UsageRow) -> Value {
    let key = match group {
        UsageGroup::User => json!(row.key.as_deref().and_then(|k| k.parse::<i64>().ok())),
        _ => json!(row.key),
    };
    json!({
        group.name(): key,
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "cached_tokens": row.cached_tokens,
        "output_tokens": row.output_tokens,
        "cost_usd": Nanos(row.charged_nanos).as_usd_f64(),
    })
}

/// One CSV field: quoted when it holds a separator, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv(group: UsageGroup, rows: &[UsageRow]) -> String {
    let mut out = format!(
        "{},requests,input_tokens,cached_tokens,output_tokens,cost_usd\r\n",
        group.name()
    );
    for row in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{}\r\n",
            csv_field(row.key.as_deref().unwrap_or("")),
            row.requests,
            row.input_tokens,
            row.cached_tokens,
            row.output_tokens,
            Nanos(row.charged_nanos).as_usd_f64()
        ));
    }
    out
}

fn totals(rows: &[UsageRow]) -> Value {
    let sum = |f: fn(&UsageRow) -> i64| rows.iter().map(f).fold(0_i64, i64::saturating_add);
    json!({
        "requests": sum(|r| r.requests),
        "input_tokens": sum(|r| r.input_tokens),
        "cached_tokens": sum(|r| r.cached_tokens),
        "output_tokens": sum(|r| r.output_tokens),
        "cost_usd": Nanos(sum(|r| r.charged_nanos)).as_usd_f64(),
    })
}

async fn answer(db: &Db, query: &Query, filter: UsageFilter, extra: Option<Value>) -> ApiResult<Response> {
    let rows = db
        .usage_summary(filter, query.group, query.start, query.end)
        .await?;
    if query.csv {
        let mut response = Response::ok(csv(query.group, &rows))?;
        response
            .headers_mut()
            .set("Content-Type", "text/csv; charset=utf-8")?;
        return Ok(response);
    }
    let mut body = json!({
        "from": &time::iso8601(query.start)[..10],
        "to": &time::iso8601(query.end - 86_400)[..10],
        "group": query.group.name(),
        "rows": rows.iter().map(|r| row_json(query.group, r)).collect::<Vec<_>>(),
        "totals": totals(&rows),
    });
    if let (Some(extra), Some(object)) = (extra, body.as_object_mut()) {
        if let Some(extra) = extra.as_object() {
            object.extend(extra.clone());
        }
    }
    http::json(200, &body)
}

/// `GET /api/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&group=day|model|key[&format=csv]`; with
/// `days=7|30` instead, the console's report (every local day, by model and by key at once).
pub async fn mine(req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let query = http::Query::of(&req);
    if query.has("days") {
        return super::report::usage(req, app, principal).await;
    }
    principal.require_scope(Scope::Billing)?;
    let query = parse_query(&query, time::now_secs(), false)?;
    let db = Db::from_env(&app.env)?;
    answer(&db, &query, UsageFilter::User(principal.user.id), None).await
}

/// `GET /admin/usage?…[&group=user][&user_id=N]`: everyone's, with the top users and models.
pub async fn everyone(req: Request, app: &App) -> ApiResult<Response> {
    require_admin(&req, app).await?;
    let query = parse_query(&http::Query::of(&req), time::now_secs(), true)?;
    let db = Db::from_env(&app.env)?;
    let filter = query.user_id.map_or(UsageFilter::Everyone, UsageFilter::User);
    let extra = if query.csv {
        None
    } else {
        let top = |group, rows: Vec<UsageRow>| -> Vec<Value> {
            let mut rows = rows;
            rows.sort_by(|a, b| {
                b.charged_nanos
                    .cmp(&a.charged_nanos)
                    .then(b.requests.cmp(&a.requests))
            });
            rows.iter().take(10).map(|r| row_json(group, r)).collect()
        };
        let users = db
            .usage_summary(filter, UsageGroup::User, query.start, query.end)
            .await?;
        let models = db
            .usage_summary(filter, UsageGroup::Model, query.start, query.end)
            .await?;
        Some(json!({
            "top_users": top(UsageGroup::User, users),
            "top_models": top(UsageGroup::Model, models),
        }))
    };
    answer(&db, &query, filter, extra).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str, admin: bool) -> ApiResult<Query> {
        let query = http::Query::of_url(&format!("https://flint.test/api/usage?{q}"));
        // 2026-12-02T12:00:00Z
        parse_query(&query, 1_796_212_800, admin)
    }

    #[test]
    fn the_period_is_inclusive_utc_days_defaulting_to_the_last_thirty() {
        let q = query("from=2026-11-01&to=2026-11-30&group=model", false).unwrap();
        assert_eq!(q.start, time::parse_iso8601("2026-11-01").unwrap());
        assert_eq!(q.end, time::parse_iso8601("2026-12-01").unwrap());
        assert_eq!(q.group, UsageGroup::Model);
        let default = query("", false).unwrap();
        assert_eq!(default.end, time::parse_iso8601("2026-12-03").unwrap());
        assert_eq!(default.end - default.start, 30 * 86_400);
        assert_eq!(default.group, UsageGroup::Day);
    }

    #[test]
    fn bad_queries_name_their_parameter() {
        let param = |q: &str, admin| query(q, admin).unwrap_err().param.clone();
        assert_eq!(param("from=yesterday", false).as_deref(), Some("from"));
        assert_eq!(param("to=2026-13-01", false).as_deref(), Some("to"));
        assert_eq!(
            param("from=2026-12-02&to=2026-12-01", false).as_deref(),
            Some("from")
        );
        assert_eq!(
            param("from=2024-01-01&to=2026-01-01", false).as_deref(),
            Some("from")
        );
        assert_eq!(
            param("group=user", false).as_deref(),
            Some("group"),
            "only the operator groups by user"
        );
        assert_eq!(param("user_id=3", false).as_deref(), Some("user_id"));
        assert_eq!(param("format=xml", false).as_deref(), Some("format"));
        assert!(query("group=user&user_id=3&format=csv", true).is_ok());
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let rows = vec![UsageRow {
            key: Some("a,\"b\"".to_owned()),
            requests: 2,
            input_tokens: 10,
            cached_tokens: 4,
            output_tokens: 5,
            charged_nanos: 1_500_000,
        }];
        assert_eq!(
            csv(UsageGroup::Model, &rows),
            "model,requests,input_tokens,cached_tokens,output_tokens,cost_usd\r\n\"a,\"\"b\"\"\",2,10,4,5,0.0015\r\n"
        );
    }
}
