//! What every handler gets: the bindings, the configuration and the request's id.

use std::cell::RefCell;

use worker::{Context, Env};

use crate::config::Config;
use crate::db::UserRow;
use crate::limits::policy::Snapshot;

pub struct App {
    pub env: Env,
    pub ctx: Context,
    pub config: Config,
    pub request_id: String,
    /// The authenticated user, once a handler has authenticated the request.
    pub caller: RefCell<Option<UserRow>>,
    /// The limiter's view after this request, for the rate-limit headers; a handler that
    /// talked to the limiter sets it, otherwise the headers come from a peek.
    pub rate: RefCell<Option<RateStamp>>,
}

#[derive(Debug, Clone, Copy)]
pub struct RateStamp {
    pub snapshot: Snapshot,
    /// Whether the daily free allowance applies (a lite model's request).
    pub lite: bool,
}

impl App {
    pub fn new(env: Env, ctx: Context, request_id: String) -> App {
        let config = Config::load(&|name| env_string(&env, name));
        App {
            env,
            ctx,
            config,
            request_id,
            caller: RefCell::new(None),
            rate: RefCell::new(None),
        }
    }

    pub fn stamp_rate(&self, snapshot: Snapshot, lite: bool) {
        *self.rate.borrow_mut() = Some(RateStamp { snapshot, lite });
    }
}

/// A `[vars]` value or secret as a string. `[vars]` may hold numbers or booleans in TOML; they
/// are read as their decimal/text form.
pub fn env_string(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env.as_ref(), &wasm_bindgen::JsValue::from_str(name)).ok()?;
    if let Some(text) = value.as_string() {
        return Some(text);
    }
    if let Some(number) = value.as_f64() {
        return Some(number.to_string());
    }
    value.as_bool().map(|b| b.to_string())
}
