//! The API surfaces: each client protocol's parsing, translation and answer shapes, plugged
//! into the metered pipeline by a thin handler.

pub mod embeddings;
pub mod messages;
pub mod responses;
#[cfg(test)]
pub(crate) mod test_chunks;
