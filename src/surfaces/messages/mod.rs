//! Anthropic's Messages API for every model.

pub mod count;
pub mod models;
pub mod native;
pub mod relay;
pub mod translate;
pub mod types;
pub mod validate;
