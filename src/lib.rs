//! Flint: an AI API gateway on Cloudflare Workers. This file is the event entry only: it builds
//! the per-request context, runs the router and renders errors in the route family's envelope.

// clippy.toml: one JSON reader in the worker (its size, issue 13).
#![deny(clippy::disallowed_methods)]

pub mod admin;
pub mod app;
pub mod auth;
pub mod billing;
pub mod canonical;
pub mod catalog;
pub mod chat;
pub mod config;
pub mod console;
pub mod db;
pub mod error;
pub mod health;
pub mod http;
pub mod images;
pub mod json_path;
pub mod keep_extra;
pub mod limits;
pub mod payments;
pub mod pipeline;
pub mod providers;
pub mod router;
pub mod sse;
pub mod surfaces;
pub mod time;
pub mod uploads;
pub mod workers;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

use crate::error::Family;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let request_id = workers::request_id(&req);
    let family = Family::of_path(&req.path());
    let app = app::App::new(env, ctx, request_id);
    let response = match router::handle(req, &app).await {
        Ok(router::Answer::Own(response)) => response,
        Ok(router::Answer::Forwarded(response)) => return Ok(response),
        Err(error) => http::error_response(&error, family, &app.request_id),
    };
    Ok(http::finish(response, &app.request_id))
}

/// The cron trigger: settles holds whose request stopped renewing them (a worker killed
/// mid-request) at the prompt's cost, never releasing them for free.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = config::Config::load(&|name| app::env_string(&env, name));
    let now = time::now_secs();
    let swept = async {
        let db = db::Db::from_env(&env)?;
        let stale = db.stale_holds(now - config.hold_timeout_secs, 500).await?;
        let mut settled = 0;
        for hold in &stale {
            match billing::reservation::settle_abandoned(&db, hold, now).await {
                Ok(()) => settled += 1,
                Err(error) => worker::console_error!(
                    "sweeper: hold {} not settled: {:?}",
                    hold.request_id,
                    error.internal
                ),
            }
        }
        error::ApiResult::Ok(settled)
    }
    .await;
    match swept {
        Ok(0) => {}
        Ok(n) => worker::console_log!("sweeper: settled {n} abandoned hold(s) at their prompt's cost"),
        Err(error) => worker::console_error!("sweeper failed: {:?}", error.internal),
    }
    if let Err(error) = sweep_responses(&env, now).await {
        worker::console_error!("sweeper: expired responses not removed: {:?}", error.internal);
    }
}

/// Removes expired stored responses: the D1 rows, then their R2 bodies.
async fn sweep_responses(env: &Env, now: i64) -> error::ApiResult<()> {
    use surfaces::responses::store;
    let db = env.d1("DB").map_err(error::ApiError::internal)?;
    let keys = store::delete_expired(&db, now, 500).await?;
    if keys.is_empty() {
        return Ok(());
    }
    let bucket = env.bucket(store::BUCKET).map_err(error::ApiError::internal)?;
    for key in &keys {
        store::delete_body(&bucket, key).await?;
    }
    worker::console_log!("sweeper: removed {} expired stored response(s)", keys.len());
    Ok(())
}
