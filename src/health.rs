//! `GET /health`: liveness for anyone, touching nothing; with the operator's bearer
//! (`Authorization: Bearer $ADMIN_TOKEN`), also a real round trip to each binding (D1, the
//! Durable Object, R2, and from the gateway the account worker behind it) — kept from the public,
//! as each costs a read, a write or a request.

use serde_json::{json, Value};
use worker::{Date, Request, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::http;

/// Runs one check, timing it and logging (never returning) the reason of a failure.
async fn timed<F>(app: &App, name: &str, check: F) -> Value
where
    F: std::future::Future<Output = worker::Result<Value>>,
{
    let started = Date::now().as_millis();
    let outcome = check.await;
    let ms = Date::now().as_millis().saturating_sub(started);
    match outcome {
        Ok(extra) => {
            let mut value = json!({ "ok": true, "ms": ms });
            if let (Some(map), Value::Object(extra)) = (value.as_object_mut(), extra) {
                map.extend(extra);
            }
            value
        }
        Err(error) => {
            worker::console_error!("[{}] health check {name} failed: {error}", app.request_id);
            json!({ "ok": false, "ms": ms, "error": format!("{name} is unreachable; see the worker log") })
        }
    }
}

async fn check_d1(app: &App) -> worker::Result<Value> {
    let db = app.env.d1("DB")?;
    let plans: Option<i64> = db
        .prepare("SELECT COUNT(*) AS plans FROM plans")
        .first(Some("plans"))
        .await?;
    Ok(json!({ "plans": plans.unwrap_or(0) }))
}

async fn check_durable_object(app: &App) -> worker::Result<Value> {
    let stub = app.env.durable_object("LIMITER")?.get_by_name("health")?;
    let mut response = stub.fetch_with_str("https://limiter/health").await?;
    if response.status_code() != 200 {
        return Err(format!("limiter answered {}", response.status_code()).into());
    }
    let body: Value = http::response_json(&mut response).await?;
    Ok(json!({ "probes": body["probes"] }))
}

async fn check_r2(app: &App) -> worker::Result<Value> {
    let bucket = app.env.bucket("UPLOADS")?;
    bucket.head("health/probe").await?;
    Ok(json!({}))
}

/// The account worker's own liveness answer, through the gateway's service binding: it is up,
/// and its configuration (its own copy of the secrets) is complete.
async fn check_account_worker(app: &App) -> worker::Result<Value> {
    let account = app.env.service(crate::workers::ACCOUNT_BINDING)?;
    let mut response = account.fetch("https://account/health", None).await?;
    let status = response.status_code();
    let body: Value = http::response_json(&mut response).await.unwrap_or(Value::Null);
    if status != 200 {
        return Err(format!("the account worker answered {status}: {body}").into());
    }
    Ok(json!({}))
}

pub async fn check(req: &Request, app: &App) -> ApiResult<Response> {
    let config_ok = app.config.problems.is_empty() && app.config.jwt_secret_problem().is_none();
    if req.headers().get("Authorization").ok().flatten().is_none() {
        let body = json!({
            "status": if config_ok { "ok" } else { "degraded" },
            "checks": { "config": { "ok": config_ok } },
        });
        return http::json(if config_ok { 200 } else { 503 }, &body);
    }
    if !crate::admin::is_admin(req, app).await? {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "invalid_admin_token",
            "The deep health check needs the admin token; without `Authorization` /health is a plain liveness check.",
        ));
    }
    let d1 = timed(app, "d1", check_d1(app)).await;
    let durable_object = timed(app, "durable_object", check_durable_object(app)).await;
    let r2 = timed(app, "r2", check_r2(app)).await;
    let mut checks = vec![("d1", d1), ("durable_object", durable_object), ("r2", r2)];
    if crate::workers::Worker::THIS == crate::workers::Worker::Gateway {
        checks.push((
            "account_worker",
            timed(app, "account_worker", check_account_worker(app)).await,
        ));
    }
    for problem in app
        .config
        .problems
        .iter()
        .map(String::as_str)
        .chain(app.config.jwt_secret_problem())
    {
        worker::console_error!("[{}] configuration: {problem}", app.request_id);
    }
    let all_ok = checks.iter().all(|(_, check)| check["ok"] == true) && config_ok;
    let mut checks: serde_json::Map<String, Value> = checks
        .into_iter()
        .map(|(name, check)| (name.to_owned(), check))
        .collect();
    checks.insert("config".to_owned(), json!({ "ok": config_ok }));
    let body = json!({ "status": if all_ok { "ok" } else { "degraded" }, "checks": checks });
    http::json(if all_ok { 200 } else { 503 }, &body)
}
