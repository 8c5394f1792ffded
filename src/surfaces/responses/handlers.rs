//! The `/v1/responses` endpoints. `POST` goes through the metered pipeline (OpenAI models
//! natively, every other model translated); retrieval, deletion and `input_items` read the store
//! and are free.

use worker::{Request, Response};

use super::relay::{completion_parser, Keep, Kind, NativeRelay, ResponsesRelay, TranslatedRelay};
use super::render::Render;
use super::wire::{self, Overrides};
use super::{native, store, translate, types};
use crate::app::App;
use crate::auth::Principal;
use crate::billing::estimate;
use crate::catalog::{live, Pricing, WireFormat};
use crate::error::{ApiError, ApiResult};
use crate::pipeline::timing::Timing;
use crate::pipeline::{self, Call, Price};
use crate::providers::{self, Outgoing, Upstream};
use crate::{http, time};

fn db(app: &App) -> ApiResult<worker::D1Database> {
    app.env.d1("DB").map_err(ApiError::internal)
}

fn bucket(app: &App) -> ApiResult<worker::Bucket> {
    app.env.bucket(store::BUCKET).map_err(ApiError::internal)
}

/// Whether a model is served through OpenAI's own Responses API.
fn is_native(upstream: &Upstream) -> bool {
    upstream.provider.id == "openai" && upstream.provider.wire == WireFormat::Openai
}

/// The owner's stored response, or `None` (missing, expired, someone else's).
async fn stored(
    app: &App,
    user_id: i64,
    id: &str,
) -> ApiResult<Option<(store::ResponseRow, store::StoredBody)>> {
    let Some(row) = store::row(&db(app)?, user_id, id, time::now_secs()).await? else {
        return Ok(None);
    };
    let Some(body) = store::get_body(&bucket(app)?, &row.r2_key).await? else {
        return Ok(None);
    };
    Ok(Some((row, body)))
}

/// `POST /v1/responses`.
pub async fn create(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let bytes = http::read_body_capped(&mut req, app.config.max_chat_body_bytes).await?;
    let parsed = types::parse(&bytes)?;
    let catalog = live::for_caller(app, principal).await?;
    let request = &parsed.request;
    let model = catalog
        .model(&request.model)
        .ok_or_else(|| ApiError::model_not_found(&request.model))?;
    if let Some(reason) = model.not_for_chat() {
        return Err(ApiError::bad_request("model", reason));
    }
    principal.require_model(&model.id)?;
    let Pricing::PerToken { .. } = model.pricing else {
        return Err(ApiError::internal(format!(
            "responses model {} is not priced per token",
            model.id
        )));
    };
    let mut timing = Timing::new();
    // The conversation so far, checked before anything is reserved or sent upstream.
    let previous = match request.previous_response_id.as_deref() {
        Some(id) => {
            let started = time::now_ms();
            let found = stored(app, principal.user.id, id).await?;
            timing.record("previous", started);
            Some(found.ok_or_else(|| store::previous_not_found(id))?.1)
        }
        None => None,
    };
    let history_len = previous.as_ref().map_or(0, |p| p.history().len());
    let conversation = store::conversation(&parsed, previous.as_ref())?;
    let routes = Upstream::routes(&app.config, model)?;
    let upstream = routes[0].clone();
    let stream = request.streams();
    let keep = request.stores().then(|| Keep {
        user_id: principal.user.id,
        model: model.id.clone(),
        conversation: conversation.clone(),
    });
    // The documented prompt estimate is the canonical request's, for native models too.
    let translation = translate::to_chat(&parsed, &conversation, history_len);
    let base = Call {
        model: model.clone(),
        routes: Vec::new(),
        stream,
        requested_max_output: request.max_output_tokens,
        prompt_tokens: 0,
        prompt_param: "input",
        price: Price::Tokens(model.token_prices()),
        what: "this request".to_owned(),
        timing,
    };
    if is_native(&upstream) {
        let prompt_tokens = match &translation {
            Ok(t) => estimate::prompt_tokens(&t.chat),
            Err(_) => {
                estimate::text_tokens(serde_json::to_string(&conversation).map_or(0, |s| s.len() as u64))
            }
        };
        // The warnings do not depend on the cap.
        let (_, warnings) = native::body(&parsed, &conversation, &model.upstream_id, 16)?;
        let relay = ResponsesRelay::new(
            Kind::Native(NativeRelay::new(Overrides::of(&parsed, warnings))),
            keep,
        );
        let build = |upstream: &Upstream, max_output_tokens: u32| {
            let (body, _) = native::body(
                &parsed,
                &conversation,
                &upstream.model.upstream_id,
                max_output_tokens,
            )?;
            Ok(native::request(upstream, &body))
        };
        let call = Call {
            prompt_tokens,
            // Passed through as it came: only to routes that serve the Responses API.
            routes: routes.into_iter().filter(is_native).collect(),
            ..base
        };
        return pipeline::run(app, principal, call, &build, Box::new(relay)).await;
    }
    let translation = translation?;
    let overrides = Overrides::of(&parsed, translation.warnings.clone());
    let shell = wire::response_shell(&wire::new_response_id(), time::now_secs(), &parsed, &overrides);
    let relay = ResponsesRelay::new(
        Kind::Translated(TranslatedRelay::new(
            providers::stream_translator(&upstream),
            completion_parser(upstream.provider.wire),
            Render::new(shell, translation.tools.clone()),
        )),
        keep,
    );
    let chat = translation.chat;
    let build = |upstream: &Upstream, max_output_tokens: u32| {
        providers::build_request(
            upstream,
            &Outgoing {
                request: &chat,
                max_output_tokens,
                stream,
            },
        )
    };
    let call = Call {
        prompt_tokens: estimate::prompt_tokens(&chat),
        routes,
        ..base
    };
    pipeline::run(app, principal, call, &build, Box::new(relay)).await
}

/// `GET /v1/responses/{id}`: the response as the client got it.
pub async fn retrieve(app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    let (_, body) = stored(app, principal.user.id, id)
        .await?
        .ok_or_else(|| store::response_not_found(id))?;
    http::json(200, &body.response)
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    let key = store::delete_row(&db(app)?, principal.user.id, id, time::now_secs())
        .await?
        .ok_or_else(|| store::response_not_found(id))?;
    if let Err(error) = store::delete_body(&bucket(app)?, &key).await {
        // The row is gone, so nobody reads the body again; the log says what was left.
        worker::console_error!("response {id}: body not deleted: {:?}", error.internal);
    }
    http::json(200, &store::deleted(id))
}

/// `GET /v1/responses/{id}/input_items`.
pub async fn input_items(req: Request, app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    let pairs: Vec<(String, String)> = http::Query::of(&req)
        .pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let query = store::ItemsQuery::parse(&pairs)?;
    let (_, body) = stored(app, principal.user.id, id)
        .await?
        .ok_or_else(|| store::response_not_found(id))?;
    http::json(200, &store::input_items_page(&body, id, &query)?)
}
