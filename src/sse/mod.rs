//! Server-sent events: the incremental parser every upstream stream goes through.

pub mod parser;
