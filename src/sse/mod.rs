//! Server-sent events: the incremental parser every upstream stream goes through, and the sink
//! every stream to a client is written to.

pub mod parser;
pub mod sink;
