//! Flint: an AI API gateway on Cloudflare Workers. This file is the event entry only: it builds
//! the per-request context, runs the router and renders errors in the route family's envelope.

pub mod admin;
pub mod app;
pub mod auth;
pub mod billing;
pub mod catalog;
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod http;
pub mod images;
pub mod limits;
pub mod providers;
pub mod router;
pub mod sse;
pub mod surfaces;
pub mod time;
pub mod uploads;

use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

use crate::error::Family;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let request_id = http::new_request_id();
    let family = Family::of_path(&req.path());
    let app = app::App::new(env, ctx, request_id);
    let mut response = match router::handle(req, &app).await {
        Ok(response) => response,
        Err(error) => http::error_response(&error, family, &app.request_id),
    };
    for (name, value) in rate_headers(&app).await {
        let _ = response.headers_mut().set(name, &value);
    }
    Ok(http::finish(response, &app.request_id))
}

/// The rate-limit headers of an authenticated response: from what the handler learned from the
/// limiter, or from a peek at it. A failure to read them costs the headers, not the response.
async fn rate_headers(app: &app::App) -> Vec<(&'static str, String)> {
    let now_ms = time::now_ms() as i64;
    let stamp = *app.rate.borrow();
    if let Some(stamp) = stamp {
        return limits::headers::for_snapshot(&stamp.snapshot, now_ms, stamp.lite);
    }
    let caller = app.caller.borrow().clone();
    let Some(user) = caller else { return Vec::new() };
    let peeked = async {
        let db = db::Db::from_env(&app.env)?;
        let plan = limits::plan::effective(&db, &user, time::now_secs()).await?;
        let day = time::day_at(now_ms, app.config.utc_offset_secs);
        limits::client::peek(&app.env, user.id, plan.limits(), &day).await
    }
    .await;
    match peeked {
        Ok(peek) => limits::headers::for_snapshot(&peek.snapshot, now_ms, true),
        Err(error) => {
            worker::console_error!(
                "[{}] rate-limit headers unavailable: {:?}",
                app.request_id,
                error.internal
            );
            Vec::new()
        }
    }
}

/// The cron trigger: releases holds whose request never settled (a worker killed mid-request).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let config = config::Config::load(&|name| app::env_string(&env, name));
    let now = time::now_secs();
    let swept = async {
        db::Db::from_env(&env)?
            .release_stale_holds(now - config.hold_timeout_secs, now)
            .await
    }
    .await;
    match swept {
        Ok(0) => {}
        Ok(n) => worker::console_log!("sweeper: released {n} stale hold(s)"),
        Err(error) => worker::console_error!("sweeper failed: {:?}", error.internal),
    }
}
