//! Anthropic's Messages API for every model.

pub mod types;
pub mod validate;
