//! The two Workers Flint deploys, built from this one crate (ARCHITECTURE.md, "Two workers").
//!
//! - The **gateway** (`wrangler.toml`) receives every request. It serves the metered API (chat on
//!   every surface, Responses, embeddings, images, the model lists) and `/health`, and runs the
//!   sweeper.
//! - The **account** worker (`wrangler.account.toml`, built with `--features account`) serves
//!   everything else: sign-up and sign-in, keys, files, billing, the console's data and the
//!   operator's `/admin` routes. It has no public route: the gateway hands it those requests
//!   through its `ACCOUNT` service binding, a call inside Cloudflare, not over the network. It
//!   also exports the limiter's Durable Object class (`limits::object`); both workers reach the
//!   same objects through their `LIMITER` binding, and an object runs apart from either.
//!
//! Why two: a Worker's wasm is compiled on every cold start, and the code only the console and
//! the operator use (PBKDF2, OAuth, payments, the PDF reader, the ledger reports) and the
//! object's own code were a third of it. Each build links only its own routes' handlers
//! (`router::handle`).

use worker::{Headers, Request, RequestInit, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult, ErrorKind};

/// The gateway's service binding to the account worker.
pub const ACCOUNT_BINDING: &str = "ACCOUNT";

/// The header that carries the gateway's request id to the account worker, so one request has
/// one id in both workers' logs and in the answer. The account worker has no public route, so
/// only the gateway can set it; the gateway drops a client's own.
pub const REQUEST_ID_HEADER: &str = "X-Flint-Request-Id";

/// The request id to use: in the account worker, the gateway's when it sent a well-formed one.
pub fn request_id(req: &Request) -> String {
    let forwarded = if Worker::THIS == Worker::Account {
        req.headers()
            .get(REQUEST_ID_HEADER)
            .ok()
            .flatten()
            .filter(|id| is_request_id(id))
    } else {
        None
    };
    forwarded.unwrap_or_else(crate::http::new_request_id)
}

fn is_request_id(id: &str) -> bool {
    id.strip_prefix("req_")
        .is_some_and(|hex| hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

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
    // An incoming request's headers are immutable: a new request with the same method, headers
    // and (streamed, not read) body, plus our request id.
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if !name.eq_ignore_ascii_case(REQUEST_ID_HEADER) {
            headers.append(&name, &value)?;
        }
    }
    headers.set(REQUEST_ID_HEADER, &app.request_id)?;
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    init.with_body(req.inner().body().map(Into::into));
    let forwarded = Request::new_with_init(&req.inner().url(), &init)?;
    account.fetch_request(forwarded).await.map_err(|error| {
        ApiError::new(
            ErrorKind::Unavailable,
            "service_unavailable",
            "The account service could not be reached; please retry.",
        )
        .with_internal(format!("the account worker failed: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of a config's `[header]` section, comments and blank lines left out.
    fn section<'a>(config: &'a str, header: &str) -> Vec<&'a str> {
        let lines = config.lines().map(str::trim);
        let body = lines.skip_while(|line| *line != header).skip(1);
        body.take_while(|line| !line.starts_with('['))
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    }

    #[test]
    fn both_workers_share_their_variables_database_and_bucket() {
        let gateway = include_str!("../wrangler.toml");
        let account = include_str!("../wrangler.account.toml");
        for header in ["[vars]", "[[d1_databases]]", "[[r2_buckets]]"] {
            let shared = section(gateway, header);
            assert!(!shared.is_empty(), "wrangler.toml has no {header}");
            assert_eq!(
                section(account, header),
                shared,
                "{header} differs between the two configs"
            );
        }
        assert!(section(gateway, "[[services]]").contains(&"binding = \"ACCOUNT\""));
        assert!(section(gateway, "[[services]]").contains(&"service = \"flint-account\""));
        assert!(account.contains("name = \"flint-account\""));
        assert!(section(gateway, "[[durable_objects.bindings]]").contains(&"script_name = \"flint-account\""));
        assert!(section(account, "[[migrations]]").contains(&"new_sqlite_classes = [\"Limiter\"]"));
        assert!(
            !gateway.contains("[[migrations]]"),
            "the gateway exports no Durable Object class"
        );
    }

    #[test]
    fn only_a_well_formed_request_id_is_taken_over() {
        assert!(is_request_id(&crate::http::new_request_id()));
        for bad in [
            "",
            "req_",
            "req_123",
            "req_3697fcfe48229fcca24971eg",
            "x_3697fcfe48229fcca24971ef",
            "req_3697fcfe48229fcca24971ef0",
        ] {
            assert!(!is_request_id(bad), "{bad:?}");
        }
    }
}
