//! `LIMITER`, the Durable Object class that keeps counters: one instance per user
//! (`user:<id>`: daily usage) and one per login key (`login-email:<email>`, `login-ip:<ip>`:
//! failed sign-ins). Its SQLite storage is strongly consistent and its requests run one at a
//! time, and no operation awaits anything between reading and writing a counter, so counts are
//! exact under any concurrency and survive eviction and restarts.

pub mod client;
pub mod headers;
pub mod plan;
pub mod policy;
pub mod refusals;
pub mod window;

use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

use window::FixedWindow;

#[durable_object(fetch)]
pub struct Limiter {
    state: State,
    /// Whether this instance has created its tables (once per instance, not per request).
    schema_ready: std::cell::Cell<bool>,
}

/// `POST /failures/{check,record,clear}`: a fixed window of failed attempts.
#[derive(Debug, Serialize, Deserialize)]
pub struct FailureRequest {
    pub limit: u32,
    pub window_secs: u32,
    pub now: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FailureState {
    pub count: u32,
    pub blocked: bool,
    pub retry_after: u64,
}

/// `POST /admit`: a request asks for a concurrency lease and room in every window.
#[derive(Debug, Serialize, Deserialize)]
pub struct AdmitCall {
    pub request_id: String,
    pub day: String,
    pub lease_ms: i64,
    #[serde(flatten)]
    pub admit: policy::AdmitRequest,
}

/// `POST /release`: a request is over; its lease is freed and its tokens corrected to the
/// actual count. `refund` gives back the request (and its free allowance) when it never reached
/// the model.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseCall {
    pub request_id: String,
    pub day: String,
    pub actual_tokens: i64,
    pub refund: bool,
    pub was_free: bool,
}

/// `POST /renew`: a long request is still running; its lease is extended.
#[derive(Debug, Serialize, Deserialize)]
pub struct RenewCall {
    pub request_id: String,
    pub expires_ms: i64,
}

/// `POST /peek`: the limits' state and today's usage, changing nothing.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeekCall {
    pub now_ms: i64,
    pub day: String,
    pub day_ends_ms: i64,
    pub limits: policy::Limits,
}

#[derive(Debug, Serialize, Deserialize, Default, Clone, Copy)]
pub struct Usage {
    pub requests: i64,
    pub tokens: i64,
    pub free: i64,
}

#[derive(Debug, Serialize, Deserialize, Clone, Copy)]
pub struct Peek {
    pub snapshot: policy::Snapshot,
    pub usage: Usage,
}

impl DurableObject for Limiter {
    fn new(state: State, _env: Env) -> Self {
        Limiter {
            state,
            schema_ready: std::cell::Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let sql = self.state.storage().sql();
        if !self.schema_ready.get() {
            ensure_schema(&sql)?;
            self.schema_ready.set(true);
        }
        match req.path().as_str() {
            "/health" => health(&sql),
            "/failures/check" => failures(&sql, req.json().await?, Op::Check),
            "/failures/record" => failures(&sql, req.json().await?, Op::Record),
            "/failures/clear" => failures(&sql, req.json().await?, Op::Clear),
            "/admit" => admit(&sql, req.json().await?),
            "/release" => release(&sql, req.json().await?),
            "/peek" => peek(&sql, req.json().await?),
            "/renew" => renew(&sql, req.json().await?),
            other => Response::error(format!("unknown limiter operation {other}"), 404),
        }
    }
}

fn ensure_schema(sql: &SqlStorage) -> Result<()> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS windows (name TEXT PRIMARY KEY, started_at INTEGER NOT NULL, count INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS daily (day TEXT PRIMARY KEY, requests INTEGER NOT NULL, tokens INTEGER NOT NULL, free INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS leases (request_id TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS recent (request_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, tokens INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS probes (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL);",
        None,
    )?;
    Ok(())
}

/// Proves the object's SQLite storage answers: a real write and read, not a constant.
fn health(sql: &SqlStorage) -> Result<Response> {
    sql.exec(
        "INSERT INTO probes (id, count) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET count = count + 1",
        None,
    )?;
    #[derive(Deserialize)]
    struct Row {
        count: i64,
    }
    let row: Row = sql.exec("SELECT count FROM probes WHERE id = 1", None)?.one()?;
    Response::from_json(&json!({ "ok": true, "probes": row.count }))
}

#[derive(Clone, Copy)]
enum Op {
    Check,
    Record,
    Clear,
}

fn failures(sql: &SqlStorage, request: FailureRequest, op: Op) -> Result<Response> {
    #[derive(Deserialize)]
    struct Row {
        started_at: i64,
        count: i64,
    }
    let stored: Option<Row> = sql
        .exec(
            "SELECT started_at, count FROM windows WHERE name = 'failures'",
            None,
        )?
        .to_array()?
        .into_iter()
        .next();
    let mut window = stored
        .map(|r| FixedWindow {
            started_at: r.started_at,
            count: u32::try_from(r.count).unwrap_or(u32::MAX),
        })
        .unwrap_or_default();
    match op {
        Op::Check => window.roll(request.now, request.window_secs),
        Op::Record => window.hit(request.now, request.window_secs),
        Op::Clear => window = FixedWindow::default(),
    }
    sql.exec(
        "INSERT INTO windows (name, started_at, count) VALUES ('failures', ?, ?)
         ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, count = excluded.count",
        vec![window.started_at.into(), i64::from(window.count).into()],
    )?;
    Response::from_json(&FailureState {
        count: window.count,
        blocked: window.count >= request.limit,
        retry_after: window.retry_after(request.now, request.window_secs),
    })
}

/// Drops expired leases and window entries older than a minute, then reads the counters.
fn counters(sql: &SqlStorage, now_ms: i64, day: &str) -> Result<(policy::Counters, Usage)> {
    sql.exec("DELETE FROM leases WHERE expires_ms <= ?", vec![now_ms.into()])?;
    sql.exec(
        "DELETE FROM recent WHERE at_ms <= ?",
        vec![(now_ms - policy::WINDOW_MS).into()],
    )?;
    sql.exec("DELETE FROM daily WHERE day < ?", vec![day.into()])?;
    #[derive(Deserialize)]
    struct Window {
        requests: i64,
        tokens: i64,
        oldest: Option<i64>,
    }
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let leases: Count = sql.exec("SELECT COUNT(*) AS n FROM leases", None)?.one()?;
    let window: Window =
        sql.exec("SELECT COUNT(*) AS requests, COALESCE(SUM(tokens), 0) AS tokens, MIN(at_ms) AS oldest FROM recent", None)?.one()?;
    let usage: Usage = sql
        .exec(
            "SELECT requests, tokens, free FROM daily WHERE day = ?",
            vec![day.into()],
        )?
        .to_array()?
        .into_iter()
        .next()
        .unwrap_or_default();
    let counters = policy::Counters {
        active_leases: leases.n,
        requests_last_minute: window.requests,
        tokens_last_minute: window.tokens,
        free_used_today: usage.free,
        oldest_request_ms: window.oldest,
        oldest_token_ms: window.oldest,
    };
    Ok((counters, usage))
}

fn admit(sql: &SqlStorage, call: AdmitCall) -> Result<Response> {
    let now = call.admit.now_ms;
    let (counters, _) = counters(sql, now, &call.day)?;
    let admission = policy::admit(&counters, &call.admit);
    if admission.refused.is_none() {
        sql.exec(
            "INSERT OR REPLACE INTO leases (request_id, expires_ms) VALUES (?, ?)",
            vec![call.request_id.clone().into(), (now + call.lease_ms).into()],
        )?;
        sql.exec(
            "INSERT OR REPLACE INTO recent (request_id, at_ms, tokens) VALUES (?, ?, ?)",
            vec![
                call.request_id.into(),
                now.into(),
                call.admit.reserve_tokens.max(0).into(),
            ],
        )?;
        sql.exec(
            "INSERT INTO daily (day, requests, tokens, free) VALUES (?, 1, 0, ?)
             ON CONFLICT (day) DO UPDATE SET requests = requests + 1, free = free + excluded.free",
            vec![call.day.into(), i64::from(admission.free).into()],
        )?;
    }
    Response::from_json(&admission)
}

fn release(sql: &SqlStorage, call: ReleaseCall) -> Result<Response> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let held: Count = sql
        .exec(
            "SELECT COUNT(*) AS n FROM leases WHERE request_id = ?",
            vec![call.request_id.clone().into()],
        )?
        .one()?;
    // Only the first release of a request counts (a retried call changes nothing).
    if held.n == 1 {
        sql.exec(
            "DELETE FROM leases WHERE request_id = ?",
            vec![call.request_id.clone().into()],
        )?;
        sql.exec(
            "UPDATE recent SET tokens = ? WHERE request_id = ?",
            vec![call.actual_tokens.max(0).into(), call.request_id.into()],
        )?;
        let (requests, free) = if call.refund {
            (-1_i64, -i64::from(call.was_free))
        } else {
            (0, 0)
        };
        sql.exec(
            "UPDATE daily SET tokens = tokens + ?, requests = MAX(0, requests + ?), free = MAX(0, free + ?) WHERE day = ?",
            vec![call.actual_tokens.max(0).into(), requests.into(), free.into(), call.day.into()],
        )?;
    }
    Response::from_json(&json!({ "released": held.n == 1 }))
}

fn renew(sql: &SqlStorage, call: RenewCall) -> Result<Response> {
    sql.exec(
        "UPDATE leases SET expires_ms = MAX(expires_ms, ?) WHERE request_id = ?",
        vec![call.expires_ms.into(), call.request_id.into()],
    )?;
    Response::from_json(&json!({ "renewed": true }))
}

fn peek(sql: &SqlStorage, call: PeekCall) -> Result<Response> {
    let (counters, usage) = counters(sql, call.now_ms, &call.day)?;
    Response::from_json(&Peek {
        snapshot: policy::snapshot(&counters, &call.limits, call.now_ms, call.day_ends_ms),
        usage,
    })
}
