//! The two Workers Flint deploys, built from this one crate (ARCHITECTURE.md, "Two workers").
//!
//! - The **gateway** (`wrangler.toml`) receives every request. It serves the metered API (chat on
//!   every surface, Responses, embeddings, images, the model lists) and `/health`, runs the
//!   sweeper, and hosts the limiter's Durable Object.
//! - The **account** worker (`wrangler.account.toml`, built with `--features account`) serves
//!   everything else: sign-up and sign-in, keys, files, billing, the console's data and the
//!   operator's `/admin` routes. It has no public route: the gateway hands it those requests
//!   through its `ACCOUNT` service binding, a call inside Cloudflare, not over the network.
//!
//! Why two: a Worker's wasm is compiled on every cold start, and the code only the console and
//! the operator use (PBKDF2, OAuth, payments, the PDF reader, the ledger reports) was a quarter
//! of it. Each build links only the handlers of its own routes (`router::handle`).

use worker::{Request, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult, ErrorKind};

/// The gateway's service binding to the account worker.
pub const ACCOUNT_BINDING: &str = "ACCOUNT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Gateway,
    Account,
}

impl Worker {
    /// The worker this build is.
    pub const THIS: Worker = if cfg!(feature = "account") {
        Worker::Account
    } else {
        Worker::Gateway
    };
}

/// Hands a request to the account worker as it came (method, headers, streamed body) and returns
/// its answer untouched: the account worker has already stamped its request id and CORS headers.
pub async fn to_account(req: Request, app: &App) -> ApiResult<Response> {
    let account = app.env.service(ACCOUNT_BINDING).map_err(|_| {
        ApiError::internal(format!(
            "no `{ACCOUNT_BINDING}` service binding: deploy wrangler.account.toml and bind it (README, Deploy)"
        ))
    })?;
    account.fetch_request(req).await.map_err(|error| {
        ApiError::new(
            ErrorKind::Unavailable,
            "service_unavailable",
            "The account service could not be reached; please retry.",
        )
        .with_internal(format!("the account worker failed: {error}"))
    })
}
