//! What every handler gets: the bindings, the configuration and the request's id. Nothing
//! mutable: what a handler learns (the caller, the limiter's view) it returns.

use worker::{Context, Env};

use crate::config::Config;

pub struct App {
    pub env: Env,
    pub ctx: Context,
    pub config: Config,
    pub request_id: String,
}

impl App {
    pub fn new(env: Env, ctx: Context, request_id: String) -> App {
        let config = Config::load(&|name| env_string(&env, name));
        App {
            env,
            ctx,
            config,
            request_id,
        }
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
