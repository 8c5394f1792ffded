//! `LIMITER`, the Durable Object class that keeps counters: one instance per user
//! (`user:<id>`: daily usage) and one per login key (`login-email:<email>`, `login-ip:<ip>`:
//! failed sign-ins). Its SQLite storage is strongly consistent and its requests run one at a
//! time, and no operation awaits anything between reading and writing a counter, so counts are
//! exact under any concurrency and survive eviction and restarts.

pub mod client;
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

/// `POST /usage/get` and `POST /usage/add`: today's request and token counts.
#[derive(Debug, Serialize, Deserialize)]
pub struct UsageRequest {
    pub day: String,
    #[serde(default)]
    pub requests: i64,
    #[serde(default)]
    pub tokens: i64,
}

#[derive(Debug, Serialize, Deserialize, Default)]
pub struct Usage {
    pub requests: i64,
    pub tokens: i64,
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
            "/usage/get" => usage(&sql, req.json().await?, false),
            "/usage/add" => usage(&sql, req.json().await?, true),
            other => Response::error(format!("unknown limiter operation {other}"), 404),
        }
    }
}

fn ensure_schema(sql: &SqlStorage) -> Result<()> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS windows (name TEXT PRIMARY KEY, started_at INTEGER NOT NULL, count INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS daily (day TEXT PRIMARY KEY, requests INTEGER NOT NULL, tokens INTEGER NOT NULL);
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

fn usage(sql: &SqlStorage, request: UsageRequest, add: bool) -> Result<Response> {
    if add {
        sql.exec(
            "INSERT INTO daily (day, requests, tokens) VALUES (?, ?, ?)
             ON CONFLICT (day) DO UPDATE SET requests = requests + excluded.requests, tokens = tokens + excluded.tokens",
            vec![request.day.clone().into(), request.requests.into(), request.tokens.into()],
        )?;
        // Yesterday's rows are history nobody reads; keep the object small.
        sql.exec(
            "DELETE FROM daily WHERE day < ?",
            vec![request.day.clone().into()],
        )?;
    }
    let usage: Usage = sql
        .exec(
            "SELECT requests, tokens FROM daily WHERE day = ?",
            vec![request.day.into()],
        )?
        .to_array()?
        .into_iter()
        .next()
        .unwrap_or_default();
    Response::from_json(&usage)
}
