//! The metered pipeline: every paid request goes through `run`, whatever its surface. The
//! surface parses its request, finds the model and hands over how to build the upstream request
//! for a given output cap and how to relay the answer; the pipeline does the rest:
//!
//! 1. the context-window check (nothing consumed when the prompt can't fit),
//! 2. the output cap, and the hold sized on the body really sent,
//! 3. admission and hold in parallel — one remote step (`admit+hold`) after authentication
//!    (a request with uploaded files: admission, then the files read by `prepare`, then the hold
//!    sized on them — `admit`, `files`, `hold` — so a refused request reads nothing),
//! 4. the upstream call and the answer, streamed or whole, under `ctx.wait_until`, so a client
//!    that leaves doesn't stop the billing (the upstream is drained for a bounded window),
//! 5. settlement after the answer has gone where the answer doesn't show the balance.
//!
//! `Server-Timing` names each remote step the answer waited for.

pub mod relay;
pub mod stream;
pub mod timing;

use std::sync::Arc;
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{select, Either};
use serde_json::Value;
use worker::{Response, ResponseBody};

use crate::app::App;
use crate::auth::Principal;
use crate::billing::estimate;
use crate::billing::money::Nanos;
use crate::billing::reservation::{whole_micros, Ask, Consumption, HoldAsk, Meter, Refused, Reservation};
use crate::billing::usage::{TokenPrices, TokenUsage};
use crate::billing::{BillingMode, SettleStatus};
use crate::catalog::{Category, Model, Tier};
use crate::config::Config;
use crate::db::PlanRow;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::refusals;
use crate::providers::{call, errors, Upstream, UpstreamRequest};
use crate::sse::sink::ClientSink;
use crate::{http, time};
use relay::{Relay, StreamFailure};
use stream::PumpTimes;
use timing::Timing;

/// How a request is priced.
#[derive(Debug, Clone, Copy)]
pub enum Price {
    Tokens(TokenPrices),
    /// `units` things at `price` each (images); the hold is their whole price.
    PerUnit {
        price: Nanos,
        units: u64,
    },
}

impl Price {
    /// The price for a plan whose price group multiplies every charge by `ppm` / 1,000,000,
    /// each price rounded up to the unit it is kept in (micro-USD per 1M tokens, nano-USD).
    pub fn scaled(self, ppm: i64) -> Price {
        if ppm == crate::db::UNIT_MULTIPLIER_PPM {
            return self;
        }
        let scale = |value: i64| -> i64 {
            let product = i128::from(value.max(0)) * i128::from(ppm.max(0));
            i64::try_from((product + 999_999) / 1_000_000).unwrap_or(i64::MAX)
        };
        let micros = |price: crate::billing::money::MicroUsd| crate::billing::money::MicroUsd(scale(price.0));
        match self {
            Price::Tokens(prices) => Price::Tokens(TokenPrices {
                input: micros(prices.input),
                output: micros(prices.output),
                cache_read: prices.cache_read.map(micros),
                cache_write: prices.cache_write.map(micros),
            }),
            Price::PerUnit { price, units } => Price::PerUnit {
                price: Nanos(scale(price.0)),
                units,
            },
        }
    }
}

/// What a surface hands to the pipeline besides the builder and the relay.
pub struct Call {
    pub model: Arc<Model>,
    /// The model's routes the surface can serve, in order (`Upstream::routes`): the first that
    /// answers serves; the price is the model's whichever it is.
    pub routes: Vec<Upstream>,
    pub stream: bool,
    /// The output tokens the client asked for, if it said.
    pub requested_max_output: Option<u32>,
    /// The documented estimate of the prompt: checked against the context window, and the
    /// usage billed when the upstream reports none.
    pub prompt_tokens: u64,
    /// The request field a too-long prompt is blamed on (`messages`, `input`).
    pub prompt_param: &'static str,
    pub price: Price,
    /// How the refusal messages name what is asked for ("this request", "2 images of `x`").
    pub what: String,
    /// Remote steps the surface already waited for (reading uploaded files), for `Server-Timing`.
    pub timing: Timing,
}

/// Builds the upstream request for a route and an output cap (the cap differs for free use).
pub type Build<'a> = &'a dyn Fn(&Upstream, u32) -> ApiResult<UpstreamRequest>;

/// The header naming the route that served (`provider/upstream_id`).
pub const ROUTE_HEADER: &str = "X-Flint-Route";

/// Every route's request for an output cap: the first route's failure is the request's; a
/// later route its wire can't carry the request to is left out (logged).
fn build_routes(
    routes: &[Upstream],
    build: Build<'_>,
    max_output_tokens: u32,
) -> ApiResult<Vec<(Upstream, UpstreamRequest)>> {
    let mut built = Vec::with_capacity(routes.len());
    for (position, upstream) in routes.iter().enumerate() {
        match build(upstream, max_output_tokens) {
            Ok(request) => built.push((upstream.clone(), request)),
            Err(error) if position == 0 => return Err(error),
            Err(error) => worker::console_warn!(
                "route {} left out of this request: {}",
                upstream.route_name(),
                error.message
            ),
        }
    }
    Ok(built)
}

/// The output-token ceiling: what the client asked for, within the model's and the plan's
/// (`MAX_TOKENS_LITE` for free use, `MAX_TOKENS_PAID` and the plan's otherwise).
pub fn output_cap(config: &Config, plan: &PlanRow, model: &Model, free: bool, requested: Option<u32>) -> u32 {
    let plan_cap = if free {
        config.max_tokens_lite
    } else {
        config
            .max_tokens_paid
            .min(u32::try_from(plan.max_output_tokens).unwrap_or(u32::MAX))
    };
    let model_cap = if model.max_output_tokens > 0 {
        model.max_output_tokens
    } else {
        u32::MAX
    };
    requested.unwrap_or(u32::MAX).min(plan_cap).min(model_cap).max(1)
}

/// A prompt that can't fit: a 400 before anything is consumed.
pub fn context_length_exceeded(param: &str, prompt_tokens: u64, limit: u64, free_cap: bool) -> ApiError {
    let message = if free_cap {
        format!(
            "Free use takes prompts of up to {limit} tokens; this one is about {prompt_tokens} tokens. \
             Shorten it, or top up to send longer prompts."
        )
    } else {
        format!(
            "This model's maximum context length is {limit} tokens; the prompt is about {prompt_tokens} tokens. \
             Shorten the {param}."
        )
    };
    ApiError::new(ErrorKind::BadRequest, "context_length_exceeded", message)
        .with_param(param)
        .with_detail("prompt_tokens", prompt_tokens)
        .with_detail("max_tokens", limit)
}

fn check_context(model: &Model, prompt_tokens: u64, param: &str) -> ApiResult<()> {
    let window = u64::from(model.context_length);
    if window > 0 && prompt_tokens > window {
        return Err(context_length_exceeded(param, prompt_tokens, window, false));
    }
    Ok(())
}

/// Everything the background task needs; owned, because it outlives the handler.
struct Job {
    env: worker::Env,
    request_id: String,
    /// Each route with its request, in order.
    routes: Vec<(Upstream, UpstreamRequest)>,
    reservation: Reservation,
    prompt_tokens: u64,
    first_byte: Duration,
    times: PumpTimes,
}

/// What the task reports to the waiting handler once the upstream has answered.
enum Started {
    Stream {
        upstream_ms: u64,
        route: String,
    },
    Json {
        body: Value,
        upstream_ms: u64,
        route: String,
    },
}

/// The upstream's usage, or the documented estimate (marked) when it sent none.
fn consumption_of(reported: Option<TokenUsage>, prompt_tokens: u64, delivered_chars: u64) -> Consumption {
    match reported {
        Some(usage) if !usage.is_empty() => Consumption::Tokens {
            usage,
            estimated: false,
        },
        _ => Consumption::Tokens {
            usage: TokenUsage::new(prompt_tokens, estimate::text_tokens(delivered_chars)),
            estimated: true,
        },
    }
}

/// Work a surface does after admission and before the hold, returning the prompt's new
/// estimate: reading uploaded files, so a request the limiter refuses reads nothing and the hold
/// is sized on what is really sent.
pub type Prepare<'a> = futures_util::future::LocalBoxFuture<'a, ApiResult<u64>>;

/// Runs a metered request: see the module's documentation.
pub async fn run(
    app: &App,
    caller: &Principal,
    call: Call,
    build: Build<'_>,
    relay: Box<dyn Relay>,
) -> ApiResult<Response> {
    run_prepared(app, caller, call, None, build, relay).await
}

/// The hold a request needs, sized on the body really sent: every text field of the final
/// body, images by size.
struct Sized {
    meter: Meter,
    hold: Nanos,
    prompt_cost: Nanos,
    hold_tokens: u64,
}

fn meter_of(price: Price) -> Meter {
    match price {
        Price::Tokens(prices) => Meter::Tokens(prices),
        Price::PerUnit { price, .. } => Meter::PerUnit(price),
    }
}

/// The worst case of a request priced per token: its prompt and every output token it may
/// generate, in whole micro-dollars.
fn token_hold(prices: &TokenPrices, prompt_tokens: u64, paid_max: u32) -> Nanos {
    whole_micros(TokenUsage::new(prompt_tokens, u64::from(paid_max)).cost(prices))
}

/// Sized on the largest of the routes' bodies (any of them may be the one sent).
fn size_hold(
    price: Price,
    prompt_tokens: u64,
    routes: &[(Upstream, UpstreamRequest)],
    paid_max: u32,
) -> ApiResult<Sized> {
    Ok(match price {
        Price::Tokens(prices) => {
            let mut hold_tokens = prompt_tokens;
            for (_, request) in routes {
                hold_tokens = hold_tokens.max(estimate::hold_tokens_of_body(&request.body)?);
            }
            Sized {
                meter: meter_of(price),
                hold: token_hold(&prices, hold_tokens, paid_max),
                prompt_cost: TokenUsage::new(hold_tokens, 0).cost(&prices),
                hold_tokens,
            }
        }
        Price::PerUnit { price: each, units } => Sized {
            meter: meter_of(price),
            hold: Nanos(each.0.saturating_mul(i64::try_from(units).unwrap_or(i64::MAX))),
            prompt_cost: Nanos::ZERO,
            hold_tokens: 0,
        },
    })
}

/// `run` with a `prepare` step. With one, the order is admission → prepare → context check →
/// hold (three remote steps); without, admission and hold run in parallel (one).
pub async fn run_prepared(
    app: &App,
    caller: &Principal,
    call: Call,
    prepare: Option<Prepare<'_>>,
    build: Build<'_>,
    relay: Box<dyn Relay>,
) -> ApiResult<Response> {
    let model = call.model.clone();
    let model = model.as_ref();
    let lite = model.tier == Tier::Lite;
    // The plan's price group applies to every charge, the hold sized at the same prices.
    let price = call.price.scaled(caller.plan.price_multiplier_ppm);
    let tokens_metered = matches!(price, Price::Tokens(_));
    // An embedding model's window bounds each input, not their sum: its surface checks them.
    if tokens_metered && model.category != Category::Embedding {
        check_context(model, call.prompt_tokens, call.prompt_param)?;
    }
    let plan = &caller.plan;
    let paid_max = output_cap(&app.config, plan, model, false, call.requested_max_output);
    let deferred = prepare.is_some();
    // A deferred hold is sized once the request is complete; until then only its meter counts.
    let (mut request, sized) = if deferred {
        let sized = Sized {
            meter: meter_of(price),
            hold: Nanos::ZERO,
            prompt_cost: Nanos::ZERO,
            hold_tokens: call.prompt_tokens,
        };
        (None, sized)
    } else {
        let routes = build_routes(&call.routes, build, paid_max)?;
        let sized = size_hold(price, call.prompt_tokens, &routes, paid_max)?;
        (Some(routes), sized)
    };
    let over_free_cap = call.prompt_tokens > app.config.max_prompt_tokens_lite;
    let ask = Ask {
        request_id: &app.request_id,
        user_id: caller.user.id,
        api_key_id: caller.api_key_id(),
        model: &model.id,
        provider: call
            .routes
            .first()
            .map_or(model.provider.as_str(), |first| first.provider.id.as_str()),
        price_multiplier_ppm: plan.price_multiplier_ppm,
        limits: plan.limits(),
        free_eligible: lite && tokens_metered && !over_free_cap,
        reserve_tokens: sized.hold_tokens.saturating_add(if tokens_metered {
            u64::from(paid_max)
        } else {
            0
        }),
        hold: sized.hold,
        prompt_cost: sized.prompt_cost,
        prompt_tokens: sized.hold_tokens,
        meter: sized.meter,
        lease_ms: app.config.lease_secs * 1000,
        utc_offset_secs: app.config.utc_offset_secs,
        known_balance: Nanos(caller.user.balance_nanos),
    };

    let mut timing = call.timing.clone();
    // What the prompt is estimated at: after `prepare`, with the files it read.
    let mut prompt_tokens = call.prompt_tokens;
    let started_ms = time::now_ms();
    let opened = Reservation::open(&app.env, &app.ctx, &ask).await;
    timing.record(if deferred { "admit" } else { "admit+hold" }, started_ms);
    let with_timing = |error: ApiError, timing: &Timing| error.with_header("Server-Timing", timing.header());
    let refused_for_balance =
        |admission: &crate::limits::policy::Admission, available, needed, prompt_tokens: u64| {
            if lite && tokens_metered && prompt_tokens > app.config.max_prompt_tokens_lite {
                refusals::with_rate_headers(
                    context_length_exceeded(
                        call.prompt_param,
                        prompt_tokens,
                        app.config.max_prompt_tokens_lite,
                        true,
                    ),
                    &admission.snapshot,
                    lite,
                )
            } else {
                refusals::insufficient_balance(admission, plan, model, available, needed, &call.what)
            }
        };
    let mut reservation = match opened.map_err(|e| with_timing(e, &timing))? {
        Ok(reservation) => reservation,
        Err(Refused::Limited(admission)) => {
            return Err(with_timing(
                refusals::rate_limited(&admission, plan, model),
                &timing,
            ))
        }
        Err(Refused::Balance {
            admission,
            available,
            needed,
        }) => {
            return Err(with_timing(
                refused_for_balance(&admission, available, needed, call.prompt_tokens),
                &timing,
            ))
        }
    };
    let snapshot = reservation.admission.snapshot;
    let fail = |error: ApiError, timing: &Timing| {
        with_timing(refusals::with_rate_headers(error, &snapshot, lite), timing)
    };
    // An API key's budget bounds what its paid requests may hold.
    let over_budget = |mode: BillingMode, hold: Nanos| {
        let budget = caller.key_budget().filter(|_| mode != BillingMode::Free)?;
        (budget.used.0.saturating_add(hold.0) > budget.limit.0)
            .then(|| refusals::key_budget_exceeded(&budget, hold))
    };
    if !deferred {
        if let Some(error) = over_budget(reservation.mode, sized.hold) {
            reservation.cancel(&app.ctx);
            return Err(fail(error, &timing));
        }
    }
    if let Some(prepare) = prepare {
        if reservation.mode != BillingMode::Free && caller.user.balance_nanos <= 0 {
            // Nothing on the balance covers any hold: refused before a file is read.
            let needed = match price {
                Price::Tokens(prices) => token_hold(&prices, prompt_tokens, paid_max),
                Price::PerUnit { .. } => Nanos::ZERO,
            };
            let admission = reservation.admission;
            reservation.cancel(&app.ctx);
            return Err(with_timing(
                refused_for_balance(
                    &admission,
                    Nanos(caller.user.balance_nanos.max(0)),
                    needed,
                    prompt_tokens,
                ),
                &timing,
            ));
        }
        let started_ms = time::now_ms();
        let prepared = prepare.await;
        timing.record("files", started_ms);
        let complete = prepared.and_then(|prepared_tokens| {
            prompt_tokens = prepared_tokens;
            if tokens_metered {
                check_context(model, prompt_tokens, call.prompt_param)?;
                if reservation.mode == BillingMode::Free && prompt_tokens > app.config.max_prompt_tokens_lite
                {
                    return Err(context_length_exceeded(
                        call.prompt_param,
                        prompt_tokens,
                        app.config.max_prompt_tokens_lite,
                        true,
                    ));
                }
            }
            let routes = build_routes(&call.routes, build, paid_max)?;
            let sized = size_hold(price, prompt_tokens, &routes, paid_max)?;
            Ok((routes, sized))
        });
        let (built, sized) = match complete {
            Ok(done) => done,
            Err(error) => {
                reservation.cancel(&app.ctx);
                return Err(fail(error, &timing));
            }
        };
        if let Some(error) = over_budget(reservation.mode, sized.hold) {
            reservation.cancel(&app.ctx);
            return Err(fail(error, &timing));
        }
        let started_ms = time::now_ms();
        let held = reservation
            .hold_now(&HoldAsk {
                amount: sized.hold,
                prompt_cost: sized.prompt_cost,
                prompt_tokens: sized.hold_tokens,
                known_balance: Nanos(caller.user.balance_nanos),
            })
            .await;
        if reservation.mode != BillingMode::Free {
            timing.record("hold", started_ms);
        }
        match held {
            Ok(Ok(())) => request = Some(built),
            Ok(Err((available, needed))) => {
                let admission = reservation.admission;
                reservation.cancel(&app.ctx);
                return Err(with_timing(
                    refused_for_balance(&admission, available, needed, prompt_tokens),
                    &timing,
                ));
            }
            Err(error) => {
                reservation.cancel(&app.ctx);
                return Err(fail(error, &timing));
            }
        }
    }
    let Some(mut request) = request else {
        reservation.cancel(&app.ctx);
        return Err(fail(
            ApiError::internal("the metered request was never built"),
            &timing,
        ));
    };
    if reservation.mode == BillingMode::Free {
        let free_max = output_cap(&app.config, plan, model, true, call.requested_max_output);
        if free_max != paid_max {
            match build_routes(&call.routes, build, free_max) {
                Ok(rebuilt) => request = rebuilt,
                Err(error) => {
                    app.ctx.wait_until(reservation.abandon(error.code.to_string()));
                    return Err(fail(error, &timing));
                }
            }
        }
    }

    let job = Job {
        env: app.env.clone(),
        request_id: app.request_id.clone(),
        routes: request,
        reservation,
        prompt_tokens,
        first_byte: app.config.upstream_first_byte_timeout,
        times: PumpTimes {
            idle: app.config.upstream_idle_timeout,
            drain: app.config.drain_after_disconnect,
            renew_every: Duration::from_secs(
                u64::try_from(app.config.hold_timeout_secs.min(app.config.lease_secs) / 3)
                    .unwrap_or(60)
                    .max(1),
            ),
            lease_ms: app.config.lease_secs * 1000,
        },
    };
    let (started_tx, started_rx) = oneshot::channel();
    let pipe = if call.stream {
        let pipe = web_sys::TransformStream::new().map_err(|e| ApiError::internal(format!("{e:?}")))?;
        let writer = pipe
            .writable()
            .get_writer()
            .map_err(|e| ApiError::internal(format!("{e:?}")))?;
        let content_type = relay.stream_content_type();
        app.ctx
            .wait_until(serve_stream(job, relay, ClientSink::new(writer), started_tx));
        Some((pipe, content_type))
    } else {
        app.ctx.wait_until(serve_json(job, relay, started_tx));
        None
    };
    let started = match started_rx.await {
        Ok(Ok(started)) => started,
        Ok(Err(error)) => return Err(fail(error, &timing)),
        Err(_) => {
            return Err(fail(
                ApiError::internal("the metered task ended without answering"),
                &timing,
            ))
        }
    };
    let (mut response, upstream_ms, route) = match (started, pipe) {
        (Started::Stream { upstream_ms, route }, Some((pipe, content_type))) => {
            let mut response = Response::from_body(ResponseBody::Stream(pipe.readable()))?;
            let headers = response.headers_mut();
            headers.set("Content-Type", content_type)?;
            headers.set("Cache-Control", "no-cache")?;
            headers.set("X-Accel-Buffering", "no")?;
            (response, upstream_ms, route)
        }
        (
            Started::Json {
                body,
                upstream_ms,
                route,
            },
            None,
        ) => (http::json(200, &body)?, upstream_ms, route),
        _ => {
            return Err(fail(
                ApiError::internal("the metered task answered in the wrong shape"),
                &timing,
            ))
        }
    };
    timing.push("upstream", upstream_ms);
    crate::limits::headers::stamp(&mut response, &snapshot, lite);
    response.headers_mut().set("Server-Timing", &timing.header())?;
    response.headers_mut().set(ROUTE_HEADER, &route)?;
    Ok(response)
}

/// The upstream failed before anything reached the client: the client hears at once, then the
/// reservation is given back (nothing charged, a usage row saying why).
async fn fail_before_first_byte(job: Job, started: oneshot::Sender<ApiResult<Started>>, error: ApiError) {
    if let Some(internal) = &error.internal {
        worker::console_warn!(
            "[{}] upstream failed before the first byte: {internal}",
            job.request_id
        );
    }
    let code = error.code.to_string();
    let _ = started.send(Err(error));
    job.reservation.abandon(code).await;
}

/// Runs under `wait_until`: calls the upstream, streams to the client, settles.
async fn serve_stream(
    job: Job,
    mut relay: Box<dyn Relay>,
    mut sink: ClientSink,
    started: oneshot::Sender<ApiResult<Started>>,
) {
    let sent_ms = time::now_ms();
    let (mut response, position) = match call::send_routes(&job.env, &job.routes, job.first_byte).await {
        Ok(sent) => sent,
        Err(error) => return fail_before_first_byte(job, started, error).await,
    };
    let Some((upstream, _)) = job.routes.get(position) else {
        return fail_before_first_byte(job, started, ApiError::internal("no such route")).await;
    };
    let provider = upstream.provider.id.clone();
    let route = upstream.route_name();
    relay.on_route(upstream);
    let body = match response.stream() {
        Ok(body) => body,
        Err(error) => {
            return fail_before_first_byte(job, started, errors::unreachable(&provider, error)).await
        }
    };
    let mut job = job;
    job.reservation.served_by(&provider, &route);
    let upstream_ms = time::now_ms().saturating_sub(sent_ms);
    let _ = started.send(Ok(Started::Stream { upstream_ms, route }));

    let outcome = stream::pump(body, relay.as_mut(), &mut sink, job.times, &job.reservation).await;
    let consumption = consumption_of(relay.usage(), job.prompt_tokens, relay.delivered_chars());
    let status = match &outcome.error {
        _ if outcome.drained_out => SettleStatus::ClientGone,
        None => SettleStatus::Ok,
        Some(StreamFailure::Idle) => SettleStatus::Timeout,
        Some(StreamFailure::Cut) => SettleStatus::Cut,
        Some(_) => SettleStatus::UpstreamError,
    };
    let reservation = job.reservation;
    if let Some(failure) = &outcome.error {
        // Failed midway: the client is told at once, then what was generated is billed.
        sink.send(&relay.fail(&stream_error(&provider, failure))).await;
        sink.close().await;
        settle_logged(reservation, consumption, status, &job.request_id).await;
        return;
    }
    if outcome.drained_out || sink.is_gone() {
        sink.close().await;
        worker::console_log!(
            "[{}] client left before the end; billing what was generated",
            job.request_id
        );
        settle_logged(reservation, consumption, status, &job.request_id).await;
        return;
    }
    let ahead = match relay.shows_balance() {
        true => None,
        false => reservation.bill_ahead(consumption),
    };
    match ahead {
        Some(bill) => {
            // The end doesn't show the balance: the client goes before the database write.
            sink.send(&relay.finish(&bill)).await;
            sink.close().await;
            settle_logged(reservation, consumption, status, &job.request_id).await;
            after_billing(relay.as_mut(), &job.env, &bill).await;
        }
        None => {
            let settled = reservation.settle(consumption, status).await;
            match &settled {
                Ok(bill) => sink.send(&relay.finish(bill)).await,
                Err(error) => sink.send(&relay.fail(error)).await,
            }
            sink.close().await;
            if let Ok(bill) = settled {
                after_billing(relay.as_mut(), &job.env, &bill).await;
            }
        }
    }
}

async fn after_billing(relay: &mut dyn Relay, env: &worker::Env, bill: &crate::billing::reservation::Bill) {
    if let Some(work) = relay.after_billing(env, bill) {
        work.await;
    }
}

async fn settle_logged(
    reservation: Reservation,
    consumption: Consumption,
    status: SettleStatus,
    request_id: &str,
) {
    if let Err(error) = reservation.settle(consumption, status).await {
        worker::console_error!(
            "[{request_id}] settlement failed after retries; the sweeper will settle the hold: {:?}",
            error.internal
        );
    }
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

/// Runs under `wait_until`: calls the upstream, hands the JSON answer to the handler, settles.
async fn serve_json(job: Job, mut relay: Box<dyn Relay>, started: oneshot::Sender<ApiResult<Started>>) {
    let sent_ms = time::now_ms();
    let mut job = job;
    let answer = async {
        let (mut response, position) = call::send_routes(&job.env, &job.routes, job.first_byte).await?;
        let upstream = &job
            .routes
            .get(position)
            .ok_or_else(|| ApiError::internal("no such route"))?
            .0;
        let provider = upstream.provider.id.clone();
        let route = upstream.route_name();
        relay.on_route(upstream);
        let upstream_ms = time::now_ms().saturating_sub(sent_ms);
        let text = match select(Box::pin(response.text()), worker::Delay::from(job.times.idle)).await {
            Either::Left((Ok(text), _)) => text,
            Either::Left((Err(error), _)) => return Err(errors::unreachable(&provider, error)),
            Either::Right(_) => return Err(errors::timeout(&provider, "the body did not arrive in time")),
        };
        let parsed = relay.parse_json(&text).map_err(|problem| {
            ApiError::new(
                ErrorKind::BadGateway,
                "upstream_error",
                "The model's provider sent an unreadable answer.",
            )
            .with_internal(format!("{provider}: {problem}"))
        })?;
        Ok((parsed, upstream_ms, provider, route))
    }
    .await;
    let (parsed, upstream_ms, provider, route) = match answer {
        Ok(answer) => answer,
        Err(error) => return fail_before_first_byte(job, started, error).await,
    };
    job.reservation.served_by(&provider, &route);
    let consumption = match parsed.units {
        Some(units) => Consumption::Units(units),
        None => consumption_of(parsed.usage, job.prompt_tokens, parsed.delivered_chars),
    };
    let reservation = job.reservation;
    let ahead = match relay.shows_balance() {
        true => None,
        false => reservation.bill_ahead(consumption),
    };
    match ahead {
        Some(bill) => {
            let body = relay.render_json(parsed.body, &bill);
            let _ = started.send(Ok(Started::Json {
                body,
                upstream_ms,
                route,
            }));
            settle_logged(reservation, consumption, SettleStatus::Ok, &job.request_id).await;
            after_billing(relay.as_mut(), &job.env, &bill).await;
        }
        None => match reservation.settle(consumption, SettleStatus::Ok).await {
            Ok(bill) => {
                let body = relay.render_json(parsed.body, &bill);
                let _ = started.send(Ok(Started::Json {
                    body,
                    upstream_ms,
                    route,
                }));
                after_billing(relay.as_mut(), &job.env, &bill).await;
            }
            Err(error) => {
                let _ = started.send(Err(error));
            }
        },
    }
}
