//! Chat: `POST /v1/chat/completions` (also `/ai/v1/...`) and Stone's `POST /api/chat`. One core,
//! two thin envelopes. A request goes through named steps: authenticate → parse → look up the
//! model → reserve the money → call the upstream → stream or answer → settle.

pub mod params;
pub mod relay;
pub mod render;

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::Value;
use worker::{Request, Response};

use crate::app::App;
use crate::auth::Principal;
use crate::billing::estimate;
use crate::canonical::{ChatRequest, ChatRequestBody, Content, Message};
use crate::catalog::Pricing;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::pipeline::timing::Timing;
use crate::pipeline::{self, Call, Price};
use crate::providers::{self, Outgoing, Upstream};
use crate::{http, time};
use params::ParsedChat;
use relay::ChatRelay;
use render::{OpenAiRender, Render, StoneRender};

/// The response header naming what a provider could not take (`; `-separated), as on
/// `/v1/messages`.
pub const WARNING_HEADER: &str = "x-flint-warnings";

/// Which envelope the chat answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    OpenAi,
    Stone,
}

/// `POST /v1/chat/completions` and `POST /ai/v1/chat/completions`.
pub async fn completions(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let body = http::read_body_capped(&mut req, app.config.max_chat_body_bytes).await?;
    let parsed = params::parse_chat(&body)?;
    run(app, principal, parsed, Surface::OpenAi).await
}

/// Stone's request: `model_id`, `messages`, `system_prompt`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoneChatRequest {
    #[serde(default = "default_stone_model")]
    model_id: String,
    messages: Vec<Message>,
    #[serde(default)]
    system_prompt: Option<String>,
}

fn default_stone_model() -> String {
    "gpt-4o-mini".to_owned()
}

/// `POST /api/chat`: always streamed, in Stone's event shapes.
pub async fn stone_chat(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let bytes = http::read_body_capped(&mut req, app.config.max_chat_body_bytes).await?;
    let value: Value = http::parse_json(&bytes)?;
    let mut annotations = params::annotations(&value)?;
    drop(value);
    // From the text, as `params::parse_chat` does.
    let body: StoneChatRequest = http::parse_json(&bytes)?;
    let mut messages = Vec::with_capacity(body.messages.len() + 1);
    if let Some(system_prompt) = body.system_prompt.filter(|s| !s.trim().is_empty()) {
        if !principal.system_prompt_allowed() {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "system_prompt_not_allowed",
                "`system_prompt` is for paid users; top up the balance or choose a paid plan.",
            )
            .with_param("system_prompt")
            .with_detail("plan", principal.plan.id.clone()));
        }
        messages.push(Message::System {
            content: Content::Text(system_prompt),
            name: None,
        });
        annotations = annotations.shifted(1);
    }
    messages.extend(body.messages);
    let request = ChatRequest::try_from(ChatRequestBody {
        model: body.model_id,
        messages,
        stream: true,
        ..ChatRequestBody::default()
    })?;
    let parsed = ParsedChat {
        request,
        annotations,
        legacy_functions: false,
    };
    run(app, principal, parsed, Surface::Stone).await
}

/// The chat core both envelopes share: parse → look up the model → build → run the pipeline.
async fn run(app: &App, principal: &Principal, parsed: ParsedChat, surface: Surface) -> ApiResult<Response> {
    let ParsedChat {
        request,
        annotations,
        legacy_functions,
    } = parsed;
    let catalog = crate::catalog::live::for_caller(app, principal).await?;
    let model = catalog
        .model(&request.model)
        .ok_or_else(|| ApiError::model_not_found(&request.model))?;
    if let Some(reason) = model.not_for_chat() {
        return Err(ApiError::bad_request("model", reason));
    }
    principal.require_model(&model.id)?;
    let timing = Timing::new();
    // Uploaded files are read after admission (a refused request reads nothing); the builder
    // then sees the request with them in place.
    let files = crate::uploads::file_part_ids(&request);
    if !files.is_empty() {
        // Reading an upload is the `files` scope's, whichever route reads it.
        principal.require_scope(crate::auth::Scope::Files)?;
        if files.len() > app.config.max_file_parts_per_request {
            return Err(crate::uploads::too_many_file_parts(
                files.len(),
                app.config.max_file_parts_per_request,
            ));
        }
    }
    let routes = Upstream::routes(&app.config, model)?;
    let upstream = routes[0].clone();
    let stream = request.stream || surface == Surface::Stone;
    let completion_id = format!("chatcmpl-{}", http::random_hex(12));
    let render: Box<dyn Render> = match surface {
        Surface::OpenAi => Box::new(OpenAiRender {
            id: completion_id.clone(),
            model: request.model.clone(),
            created: time::now_secs(),
            include_usage: request.wants_usage_chunk(),
        }),
        Surface::Stone => Box::new(StoneRender),
    };
    let relay = ChatRelay::new(
        upstream.clone(),
        render,
        completion_id,
        time::now_secs(),
        request.model.clone(),
    )
    .with_legacy_functions(legacy_functions);
    let Pricing::PerToken { .. } = model.pricing else {
        return Err(ApiError::internal(format!(
            "chat model {} is not priced per token",
            model.id
        )));
    };
    // With `n` choices the output ceiling is theirs together (the hold covers all of them):
    // each choice gets an equal share of it.
    let choices = providers::choices(&upstream, &request);
    let call = Call {
        model: model.clone(),
        routes,
        stream,
        requested_max_output: request
            .requested_max_tokens()
            .map(|max| max.saturating_mul(choices)),
        prompt_tokens: estimate::prompt_tokens(&request),
        prompt_param: "messages",
        price: Price::Tokens(model.token_prices()),
        what: "this request".to_owned(),
        timing,
    };
    let request = RefCell::new(request);
    // The warnings of each route's last build (the cap decides whether thinking fits); the
    // answer carries those of the route that served.
    let warnings: RefCell<Vec<(String, Vec<String>)>> = RefCell::new(Vec::new());
    let build = |upstream: &Upstream, max_output_tokens: u32| {
        let built = providers::build_chat_request(
            upstream,
            &Outgoing {
                request: &request.borrow(),
                max_output_tokens: (max_output_tokens / choices).max(1),
                stream,
            },
            &annotations,
        )?;
        let mut warnings = warnings.borrow_mut();
        let route = upstream.route_name();
        warnings.retain(|(name, _)| *name != route);
        warnings.push((route, built.warnings));
        Ok(built.request)
    };
    let prepare: Option<pipeline::Prepare> = (!files.is_empty()).then(|| {
        let request = &request;
        let read = async move {
            let parts = crate::uploads::read_file_parts(&files, &app.env, principal.user.id).await?;
            let mut request = request.borrow_mut();
            request.resolve_parts(parts);
            Ok(estimate::prompt_tokens(&request))
        };
        Box::pin(read) as pipeline::Prepare
    });
    let mut response = pipeline::run_prepared(app, principal, call, prepare, &build, Box::new(relay)).await?;
    let served = response.headers().get(pipeline::ROUTE_HEADER).ok().flatten();
    let warnings = warnings
        .into_inner()
        .into_iter()
        .find(|(route, _)| Some(route) == served.as_ref())
        .map(|(_, warnings)| warnings)
        .unwrap_or_default();
    if !warnings.is_empty() {
        response.headers_mut().set(WARNING_HEADER, &warnings.join("; "))?;
    }
    Ok(response)
}
