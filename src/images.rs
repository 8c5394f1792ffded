//! `POST /v1/images/generations`: OpenAI's images API for models of category `image`, routed to
//! the provider's OpenAI-compatible images endpoint and charged the model's per-image price for
//! each image returned, through the same admission, hold and ledger as chat.

use futures_channel::oneshot;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Env, Request, Response};

use crate::app::App;
use crate::auth::{authenticate, Principal};
use crate::billing::money::Nanos;
use crate::catalog::{Catalog, Model, Pricing};
use crate::db::{Db, Settlement};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::client;
use crate::providers::openai::auth_header;
use crate::providers::{call, errors, Upstream, UpstreamRequest};
use crate::{http, time};

const MAX_IMAGES: u32 = 10;
const MAX_PROMPT_CHARS: usize = 4000;
/// Parameters passed to the provider as they are.
const PASSTHROUGH: &[&str] = &[
    "quality",
    "style",
    "user",
    "background",
    "output_format",
    "moderation",
];

#[derive(Debug, Deserialize)]
struct ImageRequest {
    model: String,
    prompt: String,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    response_format: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl ImageRequest {
    fn validate(&self) -> ApiResult<u32> {
        if let Some(unknown) = self.extra.keys().find(|k| !PASSTHROUGH.contains(&k.as_str())) {
            return Err(ApiError::bad_request(
                unknown.clone(),
                format!("Unrecognized request argument supplied: {unknown}"),
            ));
        }
        let prompt_chars = self.prompt.trim().chars().count();
        if prompt_chars == 0 || prompt_chars > MAX_PROMPT_CHARS {
            return Err(ApiError::bad_request(
                "prompt",
                format!("`prompt` must be 1 to {MAX_PROMPT_CHARS} characters."),
            ));
        }
        let n = self.n.unwrap_or(1);
        if !(1..=MAX_IMAGES).contains(&n) {
            return Err(ApiError::bad_request(
                "n",
                format!("`n` must be from 1 to {MAX_IMAGES}."),
            ));
        }
        if let Some(size) = &self.size {
            let valid = size.split_once('x').is_some_and(|(w, h)| {
                [w, h]
                    .iter()
                    .all(|d| d.parse::<u32>().is_ok_and(|v| (64..=4096).contains(&v)))
            });
            if !valid && size != "auto" {
                return Err(ApiError::bad_request(
                    "size",
                    "`size` must look like `1024x1024` (64 to 4096 per side) or `auto`.",
                ));
            }
        }
        match self.response_format.as_deref() {
            None | Some("url") | Some("b64_json") => Ok(n),
            Some(_) => Err(ApiError::bad_request(
                "response_format",
                "`response_format` must be `url` or `b64_json`.",
            )),
        }
    }
}

struct ImageJob {
    env: Env,
    request_id: String,
    principal: Principal,
    model: &'static Model,
    upstream: Upstream,
    upstream_request: UpstreamRequest,
    per_image: Nanos,
    hold: Nanos,
    lease: client::Lease,
    first_byte: std::time::Duration,
    started_ms: u64,
}

pub async fn generate(mut req: Request, app: &App) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    let principal = authenticate(&req, app, &db).await?;
    let body: ImageRequest = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let n = body.validate()?;
    let catalog = Catalog::embedded()?;
    let model = catalog
        .model(&body.model)
        .ok_or_else(|| ApiError::model_not_found(&body.model))?;
    let Pricing::PerImage { per_image } = model.pricing else {
        return Err(ApiError::bad_request(
            "model",
            format!(
                "`{}` is a {} model (category `{}`); use POST /v1/chat/completions.",
                model.id,
                model.category.as_str(),
                model.category.as_str()
            ),
        ));
    };
    principal.require_model(&model.id)?;
    let provider = catalog
        .provider(&model.provider)
        .ok_or_else(|| ApiError::internal("model without provider"))?;
    let upstream = Upstream::resolve(app, provider, model)?;
    let mut payload = json!({"model": model.upstream_id, "prompt": body.prompt, "n": n});
    if let Some(size) = &body.size {
        payload["size"] = json!(size);
    }
    payload["response_format"] = json!(body.response_format.as_deref().unwrap_or("url"));
    for (key, value) in &body.extra {
        payload[key] = value.clone();
    }
    let upstream_request = UpstreamRequest {
        url: format!("{}/images/generations", upstream.base_url),
        headers: vec![
            auth_header(&upstream),
            ("Content-Type", "application/json".to_owned()),
        ],
        body: payload.to_string(),
    };

    let now = time::now_secs();
    let plan = crate::limits::plan::effective(&db, &principal.user, now).await?;
    let request_id = app.request_id.clone();
    let (admission, lease) = client::admit(app, principal.user.id, plan.limits(), false, 0).await?;
    if admission.refused.is_some() {
        let wait = u64::try_from((admission.retry_after_ms + 999) / 1000)
            .unwrap_or(1)
            .max(1);
        return Err(ApiError::new(
            ErrorKind::RateLimited,
            "rate_limit_exceeded",
            format!("Rate limit reached; retry after {wait} s."),
        )
        .with_retry_after(wait));
    }
    let hold = Nanos(per_image.0.saturating_mul(i64::from(n)).saturating_mul(1000));
    let per_image = Nanos(per_image.0.saturating_mul(1000));
    if !db.place_hold(&request_id, principal.user.id, hold.0, now).await? {
        lease.refund(&app.env).await;
        let available = Nanos(db.available_balance(principal.user.id).await?);
        return Err(ApiError::new(
            ErrorKind::PaymentRequired,
            "insufficient_quota",
            format!(
                "Insufficient balance: ${:.6} available, {n} image(s) of `{}` cost ${:.6}. Top up to continue.",
                available.as_usd_f64(),
                model.id,
                hold.as_usd_f64()
            ),
        )
        .with_detail("plan", plan.id.clone())
        .with_detail("tier", model.tier.as_str())
        .with_detail("need_balance", true));
    }

    let job = ImageJob {
        env: app.env.clone(),
        request_id,
        principal,
        model,
        upstream,
        upstream_request,
        per_image,
        hold,
        lease,
        first_byte: app.config.upstream_first_byte_timeout,
        started_ms: time::now_ms(),
    };
    // Under wait_until: a client that leaves still gets billed for the images made.
    let (tx, rx) = oneshot::channel();
    app.ctx.wait_until(async move {
        let _ = tx.send(run(&job).await);
    });
    match rx.await {
        Ok(Ok(body)) => http::json(200, &body),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(ApiError::internal("the image task ended without answering")),
    }
}

async fn run(job: &ImageJob) -> ApiResult<Value> {
    let outcome = async {
        let mut response = call::send(&job.upstream, &job.upstream_request, job.first_byte).await?;
        let text = response
            .text()
            .await
            .map_err(|e| errors::unreachable(&job.upstream.provider.id, e))?;
        serde_json::from_str::<Value>(&text).map_err(|e| {
            ApiError::new(
                ErrorKind::BadGateway,
                "upstream_error",
                "The model's provider sent an unreadable answer.",
            )
            .with_internal(format!("images: {e}"))
        })
    }
    .await;
    let images = outcome
        .as_ref()
        .ok()
        .and_then(|b| b["data"].as_array())
        .map_or(0, Vec::len);
    let cost = Nanos(job.per_image.0.saturating_mul(images as i64));
    let charged = Nanos(cost.0.min(job.hold.0));
    let status = if outcome.is_ok() { "ok" } else { "upstream_error" };
    let detail = json!({"model": job.model.id, "images": images}).to_string();
    let settled = async {
        let db = Db::from_env(&job.env)?;
        if images == 0 {
            db.release_hold(&job.request_id, time::now_secs()).await?;
        }
        db.settle(&Settlement {
            request_id: &job.request_id,
            user_id: job.principal.user.id,
            api_key_id: job.principal.api_key_id(),
            model: &job.model.id,
            provider: &job.upstream.provider.id,
            tokens_in: 0,
            tokens_out: 0,
            estimated: false,
            cost: cost.0,
            charged: charged.0,
            billing_mode: "per_image",
            status,
            latency_ms: i64::try_from(time::now_ms().saturating_sub(job.started_ms)).unwrap_or(i64::MAX),
            detail: &detail,
            has_hold: images > 0,
            now: time::now_secs(),
        })
        .await
    }
    .await;
    if images == 0 {
        job.lease.refund(&job.env).await;
    } else {
        job.lease.release(&job.env, 0).await;
    }
    settled?;
    let mut body = outcome?;
    body["usage"] = json!({"images": images, "cost_usd": charged.as_usd_f64(), "billing_mode": "per_image"});
    Ok(body)
}
