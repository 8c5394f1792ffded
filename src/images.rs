//! `POST /v1/images/generations`: OpenAI's images API for models of category `image`, routed to
//! the provider's OpenAI-compatible images endpoint and charged the model's per-image price for
//! each image returned, through the same admission, hold and ledger as chat.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Request, Response};

use crate::app::App;
use crate::auth::Principal;
use crate::billing::money::Nanos;
use crate::billing::reservation::{Bill, Consumption};
use crate::catalog::Pricing;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::pipeline::relay::{Parsed, Unstreamed, WholeAnswer};
use crate::pipeline::{self, Call, Price};
use crate::providers::openai::auth_header;
use crate::providers::{Upstream, UpstreamRequest};

const MAX_IMAGES: u32 = 10;
/// The catalog's `price_per_image` buys an image of up to this many pixels (1024×1024) at
/// standard quality.
const PIXELS_PRICED: u64 = 1024 * 1024;
/// Qualities providers bill several times over; the gateway counts them as this many images.
const HIGH_QUALITY: &[&str] = &["hd", "high"];
const HIGH_QUALITY_FACTOR: u64 = 2;
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

/// How many catalog prices one image costs: its megapixels (1024×1024 each, rounded up; `auto`
/// or no size is one) times 2 for a high quality. Providers bill big and high-quality images
/// several times over; a flat price would let them cost the operator more than they earn.
fn priced_units(size: Option<&str>, quality: Option<&str>) -> u64 {
    let pixels = size
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some(w.parse::<u64>().ok()? * h.parse::<u64>().ok()?))
        .unwrap_or(PIXELS_PRICED);
    let size_units = pixels.div_ceil(PIXELS_PRICED).max(1);
    let quality_units = if quality.is_some_and(|q| HIGH_QUALITY.contains(&q)) {
        HIGH_QUALITY_FACTOR
    } else {
        1
    };
    size_units * quality_units
}

/// The images answer: OpenAI's body as the provider sent it, with what was charged.
struct ImagesRelay {
    provider: String,
}

impl WholeAnswer for ImagesRelay {
    const MAKES: &'static str = "images";

    fn parse_json(&mut self, body: &str) -> Result<Parsed, String> {
        let value: Value =
            serde_json::from_slice(body.as_bytes()).map_err(|e| format!("{}: images: {e}", self.provider))?;
        let images = value["data"].as_array().map_or(0, Vec::len) as u64;
        Ok(Parsed {
            body: value,
            usage: None,
            delivered_chars: 0,
            units: Some(images),
        })
    }

    fn render_json(&mut self, mut body: Value, bill: &Bill) -> Value {
        let images = match bill.consumption {
            Consumption::Units(units) => units,
            Consumption::Tokens { .. } => 0,
        };
        body["usage"] =
            json!({"images": images, "cost_usd": bill.cost.as_usd_f64(), "billing_mode": bill.mode.as_str()});
        body
    }
}

pub async fn generate(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let body: ImageRequest = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    let n = body.validate()?;
    let catalog = crate::catalog::live::for_caller(app, principal).await?;
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
    // Every route speaks the first one's images API.
    let routes = crate::providers::same_wire(Upstream::routes(&app.config, model)?);
    let build = |upstream: &Upstream, _: u32| {
        let mut payload = json!({"model": upstream.model.upstream_id, "prompt": body.prompt, "n": n});
        if let Some(size) = &body.size {
            payload["size"] = json!(size);
        }
        payload["response_format"] = json!(body.response_format.as_deref().unwrap_or("url"));
        for (key, value) in &body.extra {
            payload[key] = value.clone();
        }
        Ok(UpstreamRequest {
            url: format!("{}/images/generations", upstream.base_url),
            headers: vec![
                auth_header(upstream),
                ("Content-Type", "application/json".to_owned()),
            ],
            body: payload.to_string(),
        })
    };
    let provider = routes[0].provider.id.clone();
    let quality = body.extra.get("quality").and_then(Value::as_str);
    let units_per_image = priced_units(body.size.as_deref(), quality);
    // Micro-USD per image → nano-USD, times what this size and quality count as.
    let price = Nanos(
        per_image
            .0
            .saturating_mul(1000)
            .saturating_mul(i64::try_from(units_per_image).unwrap_or(i64::MAX)),
    );
    let call = Call {
        model: model.clone(),
        routes,
        stream: false,
        requested_max_output: None,
        prompt_tokens: 0,
        prompt_param: "prompt",
        price: Price::PerUnit {
            price,
            units: u64::from(n),
        },
        what: match &body.size {
            Some(size) => format!("{n} image(s) of `{}` at {size}", model.id),
            None => format!("{n} image(s) of `{}`", model.id),
        },
        timing: pipeline::timing::Timing::new(),
    };
    let relay = ImagesRelay { provider };
    pipeline::run(app, principal, call, &build, Box::new(Unstreamed(relay))).await
}

#[cfg(test)]
mod tests {
    use super::priced_units;

    #[test]
    fn big_and_high_quality_images_count_as_several() {
        assert_eq!(priced_units(None, None), 1);
        assert_eq!(priced_units(Some("auto"), None), 1);
        assert_eq!(priced_units(Some("512x512"), None), 1);
        assert_eq!(priced_units(Some("1024x1024"), None), 1);
        assert_eq!(priced_units(Some("1024x1536"), None), 2);
        assert_eq!(priced_units(Some("2048x2048"), None), 4);
        assert_eq!(priced_units(Some("4096x4096"), None), 16);
        assert_eq!(priced_units(Some("1024x1024"), Some("hd")), 2);
        assert_eq!(priced_units(Some("2048x2048"), Some("high")), 8);
        assert_eq!(priced_units(Some("1024x1024"), Some("standard")), 1);
    }
}
