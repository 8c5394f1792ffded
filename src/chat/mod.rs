//! Chat: `POST /v1/chat/completions` (also `/ai/v1/...`) and Stone's `POST /api/chat`. One core,
//! two thin envelopes. A request goes through named steps: authenticate → parse → look up the
//! model → reserve the money → call the upstream → stream or answer → settle.

pub mod render;
pub mod stream;
pub mod types;

use std::time::Duration;

use futures_channel::oneshot;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request, Response, ResponseBody};

use crate::app::App;
use crate::auth::{authenticate, Principal};
use crate::billing::money::Nanos;
use crate::billing::{chat_cost, estimate, BillingMode};
use crate::catalog::{Catalog, Category, Model, Tier};
use crate::db::{Db, PlanRow, Settlement};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits;
use crate::limits::client;
use crate::limits::policy::{Admission, Refusal, Snapshot};
use crate::providers::{self, call, errors, Outgoing, Upstream, UpstreamRequest};
use crate::{http, time};
use render::{Bill, OpenAiRender, Render, StoneRender};
use stream::{ClientSink, StreamFailure, StreamOutcome};
use types::{ChatRequest, Content, Message, Usage};

/// Which envelope the chat answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    OpenAi,
    Stone,
}

/// `POST /v1/chat/completions` and `POST /ai/v1/chat/completions`.
pub async fn completions(mut req: Request, app: &App) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    let principal = authenticate(&req, app, &db).await?;
    let request: ChatRequest = http::read_json(&mut req, app.config.max_chat_body_bytes).await?;
    request.validate()?;
    run(app, &db, principal, request, Surface::OpenAi).await
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
pub async fn stone_chat(mut req: Request, app: &App) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    let principal = authenticate(&req, app, &db).await?;
    let body: StoneChatRequest = http::read_json(&mut req, app.config.max_chat_body_bytes).await?;
    let mut messages = Vec::with_capacity(body.messages.len() + 1);
    if let Some(system_prompt) = body.system_prompt.filter(|s| !s.trim().is_empty()) {
        // A "paid user": a plan other than free, or money on the balance.
        if principal.user.plan == "free" && principal.user.balance_nanos <= 0 {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "system_prompt_not_allowed",
                "`system_prompt` is for paid users; top up the balance or choose a paid plan.",
            )
            .with_param("system_prompt")
            .with_detail("plan", principal.user.plan.clone()));
        }
        messages.push(Message::System {
            content: Content::Text(system_prompt),
            name: None,
        });
    }
    messages.extend(body.messages);
    let request: ChatRequest =
        serde_json::from_value(json!({"model": body.model_id, "messages": [], "stream": true}))
            .map_err(ApiError::internal)?;
    let request = ChatRequest { messages, ..request };
    request.validate()?;
    run(app, &db, principal, request, Surface::Stone).await
}

/// Everything the background task needs; owned, because it outlives the handler.
struct Job {
    env: Env,
    request_id: String,
    completion_id: String,
    created: i64,
    principal: Principal,
    model: &'static Model,
    requested_model: String,
    upstream: Upstream,
    upstream_request: UpstreamRequest,
    mode: BillingMode,
    hold: Option<Nanos>,
    prompt_estimate: u64,
    first_byte_timeout: Duration,
    idle_timeout: Duration,
    started_ms: u64,
    /// The request's place in the limiter, given back when it ends.
    lease: client::Lease,
    /// Whether the answer shows the balance after the charge (Stone's billing event).
    show_balance: bool,
}

/// What the task reports to the waiting handler once the upstream has answered.
enum Started {
    Stream,
    Json(Value),
}

/// The output-token ceiling: what the client asked for, within the model's and the plan's.
fn max_output_tokens(
    app: &App,
    plan: &PlanRow,
    model: &Model,
    mode: BillingMode,
    requested: Option<u32>,
) -> u32 {
    let plan_cap = match mode {
        BillingMode::Free => app.config.max_tokens_lite,
        _ => app
            .config
            .max_tokens_paid
            .min(u32::try_from(plan.max_output_tokens).unwrap_or(u32::MAX)),
    };
    let model_cap = if model.max_output_tokens > 0 {
        model.max_output_tokens
    } else {
        u32::MAX
    };
    requested.unwrap_or(u32::MAX).min(plan_cap).min(model_cap).max(1)
}

/// The Stone detail fields of a 402 / 429: where the user stands today.
fn standing(
    error: ApiError,
    plan: &PlanRow,
    model: &Model,
    snapshot: &Snapshot,
    need_balance: bool,
) -> ApiError {
    let lite = model.tier == Tier::Lite;
    error
        .with_detail("plan", plan.id.clone())
        .with_detail("tier", model.tier.as_str())
        .with_detail("used_today", snapshot.daily_limit - snapshot.daily_remaining)
        .with_detail("limit", if lite { snapshot.daily_limit } else { 0 })
        .with_detail("need_balance", need_balance)
}

fn insufficient_balance(
    plan: &PlanRow,
    model: &Model,
    snapshot: &Snapshot,
    available: Nanos,
    hold: Nanos,
) -> ApiError {
    let (kind, message) = if model.tier == Tier::Lite {
        (
            ErrorKind::RateLimited,
            format!(
                "Today's {} free requests are used up and the balance (${:.6}) cannot cover this one (up to ${:.6}). \
                 Wait for tomorrow or top up.",
                snapshot.daily_limit,
                available.as_usd_f64(),
                hold.as_usd_f64()
            ),
        )
    } else {
        (
            ErrorKind::PaymentRequired,
            format!(
                "Insufficient balance: ${:.6} available, this request may cost up to ${:.6}. Top up to continue.",
                available.as_usd_f64(),
                hold.as_usd_f64()
            ),
        )
    };
    let code = if kind == ErrorKind::RateLimited {
        "free_quota_exhausted"
    } else {
        "insufficient_quota"
    };
    let mut error = standing(ApiError::new(kind, code, message), plan, model, snapshot, true);
    if kind == ErrorKind::RateLimited {
        let wait = (snapshot.daily_reset_ms - time::now_ms() as i64)
            .div_euclid(1000)
            .max(1);
        error = error.with_retry_after(u64::try_from(wait).unwrap_or(1));
    }
    error
}

fn rate_limited(refusal: Refusal, admission: &Admission, plan: &PlanRow, model: &Model) -> ApiError {
    let what = match refusal {
        Refusal::Concurrency => format!("{} requests at a time", plan.concurrent_requests),
        Refusal::Rpm => format!("{} requests per minute", plan.rpm),
        Refusal::Tpm => format!("{} tokens per minute", plan.tpm),
    };
    let wait = u64::try_from((admission.retry_after_ms + 999) / 1000)
        .unwrap_or(1)
        .max(1);
    let error = ApiError::new(
        ErrorKind::RateLimited,
        "rate_limit_exceeded",
        format!(
            "Rate limit of the `{}` plan reached ({what}); retry after {wait} s.",
            plan.id
        ),
    )
    .with_retry_after(wait);
    standing(error, plan, model, &admission.snapshot, false)
}

async fn run(
    app: &App,
    db: &Db,
    principal: Principal,
    mut request: ChatRequest,
    surface: Surface,
) -> ApiResult<Response> {
    let catalog = Catalog::embedded()?;
    let model = catalog
        .model(&request.model)
        .ok_or_else(|| ApiError::model_not_found(&request.model))?;
    if model.category == Category::Image {
        return Err(ApiError::bad_request(
            "model",
            format!(
                "`{}` is an image model (category `image`); use POST /v1/images/generations.",
                model.id
            ),
        ));
    }
    principal.require_model(&model.id)?;
    crate::uploads::resolve_file_parts(&mut request, db, &app.env, principal.user.id).await?;
    let provider = catalog
        .provider(&model.provider)
        .ok_or_else(|| ApiError::internal("model without provider"))?;
    let now = time::now_secs();
    let plan = limits::plan::effective(db, &principal.user, now).await?;
    let upstream = Upstream::resolve(app, provider, model)?;
    let stream = request.stream || surface == Surface::Stone;
    let lite = model.tier == Tier::Lite;
    let request_id = app.request_id.clone();
    let requested_max = request.requested_max_tokens();
    let paid_max = max_output_tokens(app, &plan, model, BillingMode::PerToken, requested_max);
    // Built once before admission so a request the provider can't take is refused for free.
    let mut outgoing = Outgoing {
        request: &request,
        max_output_tokens: paid_max,
        stream,
    };
    let mut upstream_request = providers::build_request(&upstream, &outgoing)?;

    // Admission: concurrency, RPM, TPM and the daily free allowance, in the user's limiter.
    let prompt_for_hold = estimate::prompt_tokens_for_hold(&request);
    let (admission, lease) = client::admit(
        app,
        principal.user.id,
        plan.limits(),
        lite,
        prompt_for_hold + u64::from(paid_max),
    )
    .await?;
    if let Some(refusal) = admission.refused {
        return Err(rate_limited(refusal, &admission, &plan, model));
    }

    let mode = if admission.free {
        BillingMode::Free
    } else {
        BillingMode::PerToken
    };
    let max_output = max_output_tokens(app, &plan, model, mode, requested_max);
    if max_output != paid_max {
        outgoing.max_output_tokens = max_output;
        upstream_request = match providers::build_request(&upstream, &outgoing) {
            Ok(built) => built,
            Err(error) => {
                lease.refund(&app.env).await;
                return Err(error);
            }
        };
    }
    let hold = match mode {
        BillingMode::Free => None,
        _ => {
            let amount = chat_cost(model.pricing, prompt_for_hold, u64::from(max_output));
            let placed = amount.0 <= 0
                || db
                    .place_hold(&request_id, principal.user.id, amount.0, now)
                    .await?;
            if !placed {
                lease.refund(&app.env).await;
                let available = Nanos(db.available_balance(principal.user.id).await?);
                return Err(insufficient_balance(
                    &plan,
                    model,
                    &admission.snapshot,
                    available,
                    amount,
                ));
            }
            (amount.0 > 0).then_some(amount)
        }
    };

    let job = Job {
        env: app.env.clone(),
        completion_id: format!("chatcmpl-{}", http::random_hex(12)),
        request_id,
        created: time::now_secs(),
        requested_model: request.model.clone(),
        principal,
        model,
        upstream,
        upstream_request,
        mode,
        hold,
        prompt_estimate: estimate::prompt_tokens(&request),
        first_byte_timeout: app.config.upstream_first_byte_timeout,
        idle_timeout: app.config.upstream_idle_timeout,
        started_ms: time::now_ms(),
        lease,
        show_balance: surface == Surface::Stone,
    };
    let render: Box<dyn Render> = match surface {
        Surface::OpenAi => Box::new(OpenAiRender {
            id: job.completion_id.clone(),
            model: job.requested_model.clone(),
            created: job.created,
            include_usage: request.wants_usage_chunk(),
        }),
        Surface::Stone => Box::new(StoneRender),
    };

    let (started_tx, started_rx) = oneshot::channel();
    if stream {
        let pipe = web_sys::TransformStream::new().map_err(|e| ApiError::internal(format!("{e:?}")))?;
        let writer = pipe
            .writable()
            .get_writer()
            .map_err(|e| ApiError::internal(format!("{e:?}")))?;
        app.ctx
            .wait_until(serve_stream(job, render, ClientSink::new(writer), started_tx));
        match started_rx.await {
            Ok(Ok(_)) => {
                let mut response = Response::from_body(ResponseBody::Stream(pipe.readable()))?;
                let headers = response.headers_mut();
                headers.set("Content-Type", "text/event-stream; charset=utf-8")?;
                headers.set("Cache-Control", "no-cache")?;
                headers.set("X-Accel-Buffering", "no")?;
                Ok(response)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ApiError::internal("the chat task ended without answering")),
        }
    } else {
        app.ctx.wait_until(serve_json(job, started_tx));
        match started_rx.await {
            Ok(Ok(Started::Json(body))) => http::json(200, &body),
            Ok(Ok(Started::Stream)) => Err(ApiError::internal("a JSON chat reported a stream")),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ApiError::internal("the chat task ended without answering")),
        }
    }
}

/// Runs under `wait_until`: calls the upstream, streams to the client, settles.
async fn serve_stream(
    job: Job,
    mut render: Box<dyn Render>,
    mut sink: ClientSink,
    started: oneshot::Sender<ApiResult<Started>>,
) {
    let provider = job.upstream.provider.id.clone();
    let response = call::send(&job.upstream, &job.upstream_request, job.first_byte_timeout).await;
    let mut response = match response {
        Ok(response) => response,
        Err(error) => {
            fail_before_first_byte(&job, &error).await;
            let _ = started.send(Err(error));
            return;
        }
    };
    let body = match response.stream() {
        Ok(body) => body,
        Err(error) => {
            let error = errors::unreachable(&provider, error);
            fail_before_first_byte(&job, &error).await;
            let _ = started.send(Err(error));
            return;
        }
    };
    let mut translator = match providers::stream_translator(&job.upstream) {
        Ok(translator) => translator,
        Err(problem) => {
            let error = ApiError::internal(problem);
            fail_before_first_byte(&job, &error).await;
            let _ = started.send(Err(error));
            return;
        }
    };
    let _ = started.send(Ok(Started::Stream));

    let outcome = stream::pump(
        body,
        translator.as_mut(),
        render.as_mut(),
        &mut sink,
        job.idle_timeout,
    )
    .await;
    let status = match &outcome.error {
        None => "ok",
        Some(StreamFailure::Idle) => "timeout",
        Some(StreamFailure::Cut) => "cut",
        Some(_) => "upstream_error",
    };
    // Ended well and the end doesn't show the bill: let the client go before settling.
    let mut sink = Some(sink);
    if outcome.error.is_none() {
        if let Some(end) = render.finish_unbilled() {
            if let Some(mut done) = sink.take() {
                done.send(&end).await;
                done.close().await;
            }
        }
    }
    let (usage, estimated) = usage_or_estimate(outcome.usage.clone(), &job, &outcome);
    let bill = settle(&job, &usage, estimated, status).await;
    let Some(mut sink) = sink else { return };
    match (&outcome.error, bill) {
        (None, Ok(bill)) => sink.send(&render.finish(&bill)).await,
        (None, Err(error)) => sink.send(&render.error(&error)).await,
        (Some(failure), _) => sink.send(&render.error(&stream_error(&provider, failure))).await,
    }
    if sink.is_gone() {
        worker::console_log!("[{}] client left before the end; usage recorded", job.request_id);
    }
    sink.close().await;
}

fn stream_error(provider: &str, failure: &StreamFailure) -> ApiError {
    match failure {
        StreamFailure::Upstream(message) => ApiError::new(
            ErrorKind::BadGateway,
            "upstream_error",
            format!("The model's provider failed mid-stream: {message}"),
        ),
        StreamFailure::Idle => errors::timeout(provider, "the stream went silent"),
        StreamFailure::Cut => ApiError::new(
            ErrorKind::BadGateway,
            "upstream_stream_cut",
            "The model's provider ended the stream before it was complete.",
        ),
        StreamFailure::Broken(what) => ApiError::new(
            ErrorKind::BadGateway,
            "upstream_stream_broken",
            "The model's provider sent a stream the gateway could not read.",
        )
        .with_internal(format!("{provider}: {what}")),
    }
}

/// Runs under `wait_until`: calls the upstream, settles, hands the JSON answer to the handler.
async fn serve_json(job: Job, started: oneshot::Sender<ApiResult<Started>>) {
    let answer = answer_json(&job).await;
    let _ = started.send(answer.map(Started::Json));
}

async fn answer_json(job: &Job) -> ApiResult<Value> {
    let provider = job.upstream.provider.id.clone();
    let mut response = match call::send(&job.upstream, &job.upstream_request, job.first_byte_timeout).await {
        Ok(response) => response,
        Err(error) => {
            fail_before_first_byte(job, &error).await;
            return Err(error);
        }
    };
    let text =
        match futures_util::future::select(Box::pin(response.text()), worker::Delay::from(job.idle_timeout))
            .await
        {
            futures_util::future::Either::Left((Ok(text), _)) => text,
            futures_util::future::Either::Left((Err(error), _)) => {
                let error = errors::unreachable(&provider, error);
                fail_before_first_byte(job, &error).await;
                return Err(error);
            }
            futures_util::future::Either::Right(_) => {
                let error = errors::timeout(&provider, "the body did not arrive in time");
                fail_before_first_byte(job, &error).await;
                return Err(error);
            }
        };
    let mut completion = match providers::parse_completion(&job.upstream, &text) {
        Ok(completion) => completion,
        Err(problem) => {
            let error = ApiError::new(
                ErrorKind::BadGateway,
                "upstream_error",
                "The model's provider sent an unreadable answer.",
            )
            .with_internal(problem);
            fail_before_first_byte(job, &error).await;
            return Err(error);
        }
    };
    let delivered: u64 = completion
        .choices
        .iter()
        .map(|c| {
            let message = &c.message;
            let calls: usize = message
                .tool_calls
                .iter()
                .flatten()
                .map(|t| t.function.name.len() + t.function.arguments.chars().count())
                .sum();
            (message.content.as_deref().map_or(0, |t| t.chars().count()) + calls) as u64
        })
        .sum();
    let outcome = StreamOutcome {
        completion_chars: delivered,
        ..StreamOutcome::default()
    };
    let (usage, estimated) = usage_or_estimate(completion.usage.take(), job, &outcome);
    let bill = settle(job, &usage, estimated, "ok").await?;
    completion.id.clone_from(&job.completion_id);
    completion.model.clone_from(&job.requested_model);
    completion.created = job.created;
    completion.object = "chat.completion".into();
    completion.usage = Some(bill.usage());
    serde_json::to_value(&completion).map_err(ApiError::internal)
}

/// The upstream's usage, or the documented estimate (marked) when it sent none.
fn usage_or_estimate(usage: Option<Usage>, job: &Job, outcome: &StreamOutcome) -> (Usage, bool) {
    match usage {
        Some(usage) if usage.prompt_tokens > 0 || usage.completion_tokens > 0 => (usage, false),
        _ => (
            Usage::new(
                job.prompt_estimate,
                estimate::text_tokens(outcome.completion_chars),
            ),
            true,
        ),
    }
}

/// The upstream failed before anything reached the client: no charge, the hold released, and a
/// usage row saying so.
async fn fail_before_first_byte(job: &Job, error: &ApiError) {
    if let Some(internal) = &error.internal {
        worker::console_warn!(
            "[{}] upstream failed before the first byte: {internal}",
            job.request_id
        );
    }
    let result = async {
        let db = Db::from_env(&job.env)?;
        if job.hold.is_some() {
            db.release_hold(&job.request_id, time::now_secs()).await?;
        }
        job.lease.refund(&job.env).await;
        let detail = json!({"error": error.code}).to_string();
        db.settle(&settlement(
            job,
            &Usage::default(),
            false,
            0,
            0,
            "upstream_error",
            &detail,
            false,
        ))
        .await
    }
    .await;
    if let Err(problem) = result {
        worker::console_error!(
            "[{}] could not record a failed request: {:?}",
            job.request_id,
            problem.internal
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn settlement<'a>(
    job: &'a Job,
    usage: &Usage,
    estimated: bool,
    cost: i64,
    charged: i64,
    status: &'a str,
    detail: &'a str,
    has_hold: bool,
) -> Settlement<'a> {
    Settlement {
        request_id: &job.request_id,
        user_id: job.principal.user.id,
        api_key_id: job.principal.api_key_id(),
        model: &job.model.id,
        provider: &job.upstream.provider.id,
        tokens_in: i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX),
        tokens_out: i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX),
        estimated,
        cost,
        charged,
        billing_mode: job.mode.as_str(),
        status,
        latency_ms: i64::try_from(time::now_ms().saturating_sub(job.started_ms)).unwrap_or(i64::MAX),
        detail,
        has_hold,
        now: time::now_secs(),
    }
}

/// Charges the actual cost (capped at the hold), records usage, and counts the day's usage.
async fn settle(job: &Job, usage: &Usage, estimated: bool, status: &str) -> ApiResult<Bill> {
    let cost = match job.mode {
        BillingMode::Free => Nanos::ZERO,
        _ => chat_cost(job.model.pricing, usage.prompt_tokens, usage.completion_tokens),
    };
    let charged = job.hold.map_or(Nanos::ZERO, |hold| Nanos(cost.0.min(hold.0)));
    if cost > charged {
        worker::console_warn!(
            "[{}] overrun: cost {} nanos exceeds the hold {} nanos; charged the hold",
            job.request_id,
            cost.0,
            charged.0
        );
    }
    let detail = json!({
        "model": job.model.id,
        "tokens_in": usage.prompt_tokens,
        "tokens_out": usage.completion_tokens,
        "estimated": estimated,
        "overrun_nanos": (cost.0 - charged.0).max(0),
    })
    .to_string();
    let db = Db::from_env(&job.env)?;
    db.settle(&settlement(
        job,
        usage,
        estimated,
        cost.0,
        charged.0,
        status,
        &detail,
        job.hold.is_some(),
    ))
    .await?;
    job.lease
        .release(
            &job.env,
            usage.prompt_tokens.saturating_add(usage.completion_tokens),
        )
        .await;
    // Only Stone's billing event shows the balance: spare the read everywhere else.
    let balance_after = match job.show_balance {
        true => Some(Nanos(
            db.user_by_id(job.principal.user.id)
                .await?
                .map_or(0, |u| u.balance_nanos),
        )),
        false => None,
    };
    Ok(Bill {
        tokens_in: usage.prompt_tokens,
        tokens_out: usage.completion_tokens,
        estimated,
        cost: charged,
        balance_after,
        mode: job.mode,
    })
}
