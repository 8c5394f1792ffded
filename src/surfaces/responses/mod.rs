//! OpenAI's Responses API (`/v1/responses`): what Codex, the Agents SDK and
//! `client.responses.*` speak, on every model of the catalog.
//!
//! - `types`: the request, typed and validated (400s name `param`; inside `input` they start
//!   with `input`).
//! - `store`: stored responses (R2 bodies, the D1 index in `schema.sql`), the conversation a
//!   `previous_response_id` continues, `input_items` pages.
//! - `native`: the body for OpenAI models, forwarded to OpenAI's `/responses` with `store: false`.
//! - `translate`: the canonical `ChatRequest` for every other model.
//! - `render`: canonical chunks and completions as Responses events and `response` objects.
//! - `relay`: the native and translated relays the metered pipeline drives.
//! - `wire`: the `response` shell, usage, frames, warnings and ids they share.
//!
//! - `handlers`: `POST` (`types::parse` → the `previous_response_id` history from the store, a
//!   400 before any upstream call when it is not the caller's → `store::conversation` → the
//!   pipeline with a native or translated relay, which stores the answer in `after_billing`),
//!   `GET`, `DELETE` and `input_items`.

pub mod handlers;
pub mod native;
pub mod relay;
pub mod render;
pub mod store;
pub mod translate;
pub mod types;
pub mod wire;

#[cfg(test)]
pub(crate) mod fixtures {
    //! Requests Codex CLI 0.169.0 sent to a recording server (notes/codex.md): a first turn,
    //! and the turn after a tool call (reasoning with encrypted content, function call, output).
    pub(crate) const CODEX_TURN_1: &str =
        include_str!("../../../tests/fixtures/codex/codex-0.169.0-request-1.json");
    pub(crate) const CODEX_TURN_2: &str =
        include_str!("../../../tests/fixtures/codex/codex-0.169.0-request-2.json");
}
