//! The handlers: `POST /v1/messages` through the metered pipeline, `POST
//! /v1/messages/count_tokens` outside it (counting is free and not admitted).

use std::cell::RefCell;
use std::sync::Arc;

use worker::{Request, Response};

use super::relay::{AnthropicRender, NativeRelay, TranslatedRelay};
use super::types::{self, MessagesRequest};
use super::validate::{self, Betas, Endpoint};
use super::{count, native, translate, Route, WARNING_HEADER};
use crate::app::App;
use crate::auth::Principal;
use crate::catalog::{live, Catalog, Model};
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::pipeline::relay::Relay;
use crate::pipeline::{self, Call, Price};
use crate::providers::{self, call, Outgoing, Upstream};

/// The request's Anthropic headers, forwarded to Anthropic as they came.
fn client_headers(req: &Request) -> native::ClientHeaders {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    native::ClientHeaders {
        anthropic_version: header("anthropic-version"),
        anthropic_beta: header("anthropic-beta"),
    }
}

/// Parse → validate → look up the model: what both endpoints start with.
fn model_of<'c>(
    catalog: &'c Catalog,
    principal: &Principal,
    request: &MessagesRequest<'_>,
) -> ApiResult<&'c Arc<Model>> {
    let model = catalog
        .model(&request.model)
        .ok_or_else(|| ApiError::model_not_found(&request.model).with_param("model"))?;
    principal.require_model(&model.id)?;
    Ok(model)
}

/// `POST /v1/messages` (also `?beta=true`, which Claude Code sends).
pub async fn messages(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let client = client_headers(&req);
    let body = http::read_body_capped(&mut req, app.config.max_chat_body_bytes).await?;
    let request = types::parse(&body)?;
    let betas = Betas::parse(client.anthropic_beta.as_deref());
    validate::validate(&request, &betas, Endpoint::Messages)?;
    let catalog = live::for_caller(app, principal).await?;
    let model = model_of(&catalog, principal, &request)?;
    let route = super::route(&catalog, model)?;
    let routes = Upstream::routes(&app.config, model)?;
    let stream = request.is_stream();
    let prompt_tokens = count::estimate_input_tokens(&request);
    let call = Call {
        model: model.clone(),
        // Passed through as it came, a request goes only where Anthropic's protocol is spoken.
        routes: match route {
            Route::Native => providers::same_wire(routes.clone()),
            Route::Translated => routes.clone(),
        },
        stream,
        requested_max_output: request.max_tokens,
        prompt_tokens,
        prompt_param: "messages",
        price: Price::Tokens(model.token_prices()),
        what: "this request".to_owned(),
        timing: crate::pipeline::timing::Timing::new(),
    };
    // The warnings of the last build (the one sent): the cap decides the thinking clamp.
    let warnings: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let answered = match route {
        Route::Native => {
            let build = |upstream: &Upstream, max_output: u32| {
                let built = native::messages_request(upstream, &request, &client, max_output)?;
                *warnings.borrow_mut() = built.warnings;
                Ok(built.request)
            };
            pipeline::run(app, principal, call, &build, Box::new(NativeRelay::new())).await
        }
        Route::Translated => {
            let translated = translate::chat_request(&request, model)?;
            let chat = translated.request;
            let render = AnthropicRender::new(
                format!("msg_{}", http::random_hex(12)),
                request.model.as_ref(),
                prompt_tokens,
            );
            let first = &routes[0];
            let relay: Box<dyn Relay> = Box::new(TranslatedRelay::new(
                providers::stream_translator(first),
                first.provider.wire,
                render,
            ));
            let build = |upstream: &Upstream, max_output: u32| {
                *warnings.borrow_mut() = translated.warnings.clone();
                providers::build_request(
                    upstream,
                    &Outgoing {
                        request: &chat,
                        max_output_tokens: translate::output_cap(&chat, max_output),
                        stream,
                    },
                )
            };
            pipeline::run(app, principal, call, &build, relay).await
        }
    };
    let mut response = answered.map_err(in_anthropics_words)?;
    let warnings = warnings.into_inner();
    if !warnings.is_empty() {
        response.headers_mut().set(WARNING_HEADER, &warnings.join("; "))?;
    }
    Ok(response)
}

/// The pipeline's context refusal in the wording Claude Code recognises (it then compacts).
fn in_anthropics_words(error: ApiError) -> ApiError {
    if error.code != "context_length_exceeded" {
        return error;
    }
    let number = |key: &str| error.detail.get(key).and_then(serde_json::Value::as_u64);
    let (Some(tokens), Some(maximum)) = (number("prompt_tokens"), number("max_tokens")) else {
        return error;
    };
    let mut error = error;
    error.message = super::prompt_too_long(tokens, maximum).message.clone();
    error
}

/// `POST /v1/messages/count_tokens`: Anthropic's own count for Claude models, the documented
/// estimate for the others. Never charged, never admitted.
pub async fn count_tokens(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let client = client_headers(&req);
    let body = http::read_body_capped(&mut req, app.config.max_chat_body_bytes).await?;
    let request = types::parse(&body)?;
    let betas = Betas::parse(client.anthropic_beta.as_deref());
    validate::validate(&request, &betas, Endpoint::CountTokens)?;
    let catalog = live::for_caller(app, principal).await?;
    let model = model_of(&catalog, principal, &request)?;
    let input_tokens = match super::route(&catalog, model)? {
        Route::Native => {
            let routes = Upstream::routes(&app.config, model)?;
            let upstream = &routes[0];
            let outgoing = native::count_tokens_request(upstream, &request, &client)?;
            let mut answer = call::send(
                &app.env,
                upstream,
                &outgoing,
                app.config.upstream_first_byte_timeout,
            )
            .await?;
            let text = answer.text().await.map_err(ApiError::internal)?;
            native::parse_count_tokens(&text).map_err(ApiError::internal)?
        }
        Route::Translated => count::estimate_input_tokens(&request),
    };
    http::json(200, &count::count_tokens_body(input_tokens))
}
