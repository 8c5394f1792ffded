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
pub mod limits;
pub mod providers;
pub mod router;
pub mod sse;
pub mod time;

use worker::{event, Context, Env, Request, Response, Result};

use crate::error::Family;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let request_id = http::new_request_id();
    let family = Family::of_path(&req.path());
    let app = app::App::new(env, ctx, request_id);
    let response = match router::handle(req, &app).await {
        Ok(response) => response,
        Err(error) => http::error_response(&error, family, &app.request_id),
    };
    Ok(http::finish(response, &app.request_id))
}
