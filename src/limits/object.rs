//! The `Limiter` Durable Object: the class behind `LIMITER` (see the module above for what its
//! instances count). It is exported by the account worker and reached by both workers through
//! their `LIMITER` binding, so only the account worker's wasm carries its code.

use serde_json::json;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

use super::window::{FixedWindow, Strikes};
use super::*;

#[durable_object(fetch)]
pub struct Limiter {
    state: State,
    /// Whether this instance has created its tables (once per instance, not per request).
    schema_ready: std::cell::Cell<bool>,
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
            "/failures/take" => failures(&sql, req.json().await?, Op::Take),
            "/failures/give" => failures(&sql, req.json().await?, Op::Give),
            "/login/attempt" => login_attempt(&sql, req.json().await?),
            "/login/success" => login_success(&sql, req.json().await?),
            "/admit" => admit(&sql, req.json().await?),
            "/release" => release(&sql, req.json().await?),
            "/peek" => peek(&sql, req.json().await?),
            "/renew" => renew(&sql, req.json().await?),
            "/keys/report" => crate::providers::keys::object_report(&sql, req.json().await?),
            "/keys/state" => crate::providers::keys::object_state(&sql, req.json().await?),
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
         CREATE TABLE IF NOT EXISTS strikes (ip TEXT PRIMARY KEY, started_at INTEGER NOT NULL, count INTEGER NOT NULL, lockouts INTEGER NOT NULL, locked_until INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS probes (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL);",
        None,
    )?;
    sql.exec(crate::providers::keys::SCHEMA, None)?;
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
    /// Count an attempt only if there is room; `blocked` then means it was refused.
    Take,
    Give,
}

fn load_window(sql: &SqlStorage, name: &str) -> Result<FixedWindow> {
    #[derive(Deserialize)]
    struct Row {
        started_at: i64,
        count: i64,
    }
    let stored: Option<Row> = sql
        .exec(
            "SELECT started_at, count FROM windows WHERE name = ?",
            vec![name.into()],
        )?
        .to_array()?
        .into_iter()
        .next();
    Ok(stored
        .map(|r| FixedWindow {
            started_at: r.started_at,
            count: u32::try_from(r.count).unwrap_or(u32::MAX),
        })
        .unwrap_or_default())
}

fn save_window(sql: &SqlStorage, name: &str, window: FixedWindow) -> Result<()> {
    sql.exec(
        "INSERT INTO windows (name, started_at, count) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, count = excluded.count",
        vec![
            name.into(),
            window.started_at.into(),
            i64::from(window.count).into(),
        ],
    )?;
    Ok(())
}

fn failures(sql: &SqlStorage, request: FailureRequest, op: Op) -> Result<Response> {
    let mut window = load_window(sql, "failures")?;
    let (now, secs) = (request.now, request.window_secs);
    let mut refused = None;
    match op {
        Op::Check => window.roll(now, secs),
        Op::Record => window.hit(now, secs),
        Op::Clear => window = FixedWindow::default(),
        Op::Take => refused = window.take(now, request.limit, secs).err(),
        Op::Give => window.give(now, secs),
    }
    save_window(sql, "failures", window)?;
    let state = match (op, refused) {
        (Op::Take, Some(retry_after)) => FailureState {
            count: window.count,
            blocked: true,
            retry_after,
        },
        (Op::Take, None) => FailureState {
            count: window.count,
            blocked: false,
            retry_after: 0,
        },
        _ => FailureState {
            count: window.count,
            blocked: window.count >= request.limit,
            retry_after: window.retry_after(now, secs),
        },
    };
    Response::from_json(&state)
}

fn load_strikes(sql: &SqlStorage, ip: &str) -> Result<Strikes> {
    #[derive(Deserialize)]
    struct Row {
        started_at: i64,
        count: i64,
        lockouts: i64,
        locked_until: i64,
    }
    let stored: Option<Row> = sql
        .exec(
            "SELECT started_at, count, lockouts, locked_until FROM strikes WHERE ip = ?",
            vec![ip.into()],
        )?
        .to_array()?
        .into_iter()
        .next();
    Ok(stored
        .map(|r| Strikes {
            started_at: r.started_at,
            count: u32::try_from(r.count).unwrap_or(u32::MAX),
            lockouts: u32::try_from(r.lockouts).unwrap_or(u32::MAX),
            locked_until: r.locked_until,
        })
        .unwrap_or_default())
}

/// Checks the pair's lock and the email's ceiling, and counts the attempt against both, in
/// one request of this object: nothing can interleave, so parallel sign-ins get no extra checks.
fn login_attempt(sql: &SqlStorage, call: LoginAttempt) -> Result<Response> {
    let now = call.now;
    // Pairs idle past any lock they could still be under are forgotten.
    sql.exec(
        "DELETE FROM strikes WHERE locked_until + ? < ? AND started_at + ? < ?",
        vec![
            window::MAX_LOCK_SECS.into(),
            now.into(),
            i64::from(call.window_secs).into(),
            now.into(),
        ],
    )?;
    let mut pair = load_strikes(sql, &call.ip)?;
    let mut email = load_window(sql, "email")?;
    let refused = |retry_after: u64| {
        Response::from_json(&LoginVerdict {
            allowed: false,
            retry_after: retry_after.max(1),
        })
    };
    if pair.locked_until > now {
        return refused(u64::try_from(pair.locked_until - now).unwrap_or(1));
    }
    if let Err(retry_after) = email.take(now, call.email_limit, call.window_secs) {
        return refused(retry_after);
    }
    // Cannot be refused: the lock was checked above.
    let _ = pair.attempt(now, call.pair_limit, call.window_secs);
    save_window(sql, "email", email)?;
    sql.exec(
        "INSERT INTO strikes (ip, started_at, count, lockouts, locked_until) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (ip) DO UPDATE SET started_at = excluded.started_at, count = excluded.count,
           lockouts = excluded.lockouts, locked_until = excluded.locked_until",
        vec![
            call.ip.into(),
            pair.started_at.into(),
            i64::from(pair.count).into(),
            i64::from(pair.lockouts).into(),
            pair.locked_until.into(),
        ],
    )?;
    Response::from_json(&LoginVerdict {
        allowed: true,
        retry_after: 0,
    })
}

fn login_success(sql: &SqlStorage, call: LoginSuccess) -> Result<Response> {
    sql.exec("DELETE FROM strikes WHERE ip = ?", vec![call.ip.into()])?;
    let mut email = load_window(sql, "email")?;
    email.give(call.now, call.window_secs);
    save_window(sql, "email", email)?;
    Response::from_json(&json!({ "ok": true }))
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
