//! `GET /api/models` (Stone's shape, with filters), `GET /v1/models` and `GET /v1/models/{id}`
//! (OpenAI's shapes).

use serde::Serialize;
use serde_json::{json, Value};

use super::{display_context_length, Catalog, Model, Pricing};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::surfaces::messages;

/// `created` for every model in the OpenAI shapes: the catalog carries no release dates, so this
/// is the date the catalog format was introduced (2025-01-01T00:00:00Z).
pub(crate) const CATALOG_EPOCH: u64 = 1_735_689_600;

/// The filters of `GET /api/models`, each optional and case-insensitive.
#[derive(Debug, Default, Clone)]
pub struct ModelFilter {
    pub tier: Option<String>,
    pub company: Option<String>,
    pub category: Option<String>,
}

impl ModelFilter {
    pub fn from_query<'a>(
        pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    ) -> Self {
        let mut filter = ModelFilter::default();
        for (key, value) in pairs {
            let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
            match key.as_ref() {
                "tier" => filter.tier = value,
                "company" => filter.company = value,
                "category" => filter.category = value,
                _ => {}
            }
        }
        filter
    }

    pub fn matches(&self, model: &Model) -> bool {
        let same = |wanted: &Option<String>, actual: &str| {
            wanted.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(actual))
        };
        same(&self.tier, model.tier.as_str())
            && same(&self.company, &model.company)
            && same(&self.category, model.category.as_str())
    }
}

#[derive(Serialize)]
struct StoneModel<'a> {
    id: &'a str,
    name: &'a str,
    company: &'a str,
    tier: &'static str,
    category: &'static str,
    price_weighted: f64,
    price_input: Option<f64>,
    price_output: Option<f64>,
    /// USD per 1M cached prompt tokens; `null` where the provider has no prompt cache.
    price_cache_read: Option<f64>,
    /// USD per 1M tokens written to a 5-minute cache; `null` where writes cost plain input.
    price_cache_write: Option<f64>,
    /// `null` where it means nothing (image models).
    context_length: Option<String>,
}

fn stone_model(model: &Model) -> StoneModel<'_> {
    let (weighted, input, output) = match model.pricing {
        Pricing::PerToken {
            input,
            output,
            weighted,
            ..
        } => (
            weighted.as_usd_f64(),
            Some(input.as_usd_f64()),
            Some(output.as_usd_f64()),
        ),
        Pricing::PerImage { per_image } => (per_image.as_usd_f64(), None, None),
    };
    let prices = model.token_prices();
    StoneModel {
        id: &model.id,
        name: &model.name,
        company: &model.company,
        tier: model.tier.as_str(),
        category: model.category.as_str(),
        price_weighted: weighted,
        price_input: input,
        price_output: output,
        price_cache_read: prices.cache_read.map(|p| p.as_usd_f64()),
        price_cache_write: prices.cache_write.map(|p| p.as_usd_f64()),
        context_length: (model.context_length > 0).then(|| display_context_length(model.context_length)),
    }
}

/// `{"models": [...]}` with the filters applied; an unknown filter value gives an empty list.
pub fn stone_list(catalog: &Catalog, filter: &ModelFilter) -> Value {
    let models: Vec<_> = catalog
        .models
        .iter()
        .filter(|m| filter.matches(m))
        .map(|m| stone_model(m))
        .collect();
    json!({ "models": models })
}

/// OpenAI's model object, with Flint's prices (USD per 1M tokens, or per image) added under
/// `pricing` — clients that don't know the field ignore it.
pub(crate) fn openai_model(model: &Model) -> Value {
    let pricing = match model.pricing {
        Pricing::PerToken {
            input,
            output,
            cache_read,
            cache_write,
            ..
        } => json!({
            "input": input.as_usd_f64(),
            "output": output.as_usd_f64(),
            "cache_read": cache_read.map(|p| p.as_usd_f64()),
            "cache_write": cache_write.map(|p| p.as_usd_f64()),
        }),
        Pricing::PerImage { per_image } => json!({ "per_image": per_image.as_usd_f64() }),
    };
    json!({
        "id": model.id,
        "object": "model",
        "created": CATALOG_EPOCH,
        "owned_by": model.company,
        "pricing": pricing,
    })
}

/// The models a caller may use, in OpenAI's list shape.
pub fn openai_list(catalog: &Catalog, allowed: impl Fn(&Model) -> bool) -> Value {
    let data: Vec<_> = catalog
        .models
        .iter()
        .filter(|m| allowed(m))
        .map(|m| openai_model(m))
        .collect();
    json!({ "object": "list", "data": data })
}

pub fn openai_get(catalog: &Catalog, id: &str) -> ApiResult<Value> {
    catalog
        .model(id)
        .map(|m| openai_model(m))
        .ok_or_else(|| ApiError::model_not_found(id))
}

/// `GET /api/models`: open to all, so it reads a copy of the live catalog up to
/// `live::UNAUTHENTICATED_TTL_MS` old.
pub async fn handle_stone_list(req: &worker::Request, app: &crate::app::App) -> ApiResult<worker::Response> {
    let filter = ModelFilter::from_query(http::Query::of(req).pairs());
    let catalog = super::live::current(&crate::db::Db::from_env(&app.env)?, None).await?;
    http::json(200, &stone_list(&catalog, &filter))
}

/// `GET /v1/models`: authenticated, as OpenAI's is; a key scoped to some models sees those.
/// `GET /v1/models`: OpenAI's list, or Anthropic's when the request has `anthropic-version`
/// (the Anthropic SDKs' `models.list()` and Claude Code).
pub async fn handle_openai_list(
    req: worker::Request,
    app: &crate::app::App,
    principal: &Principal,
) -> ApiResult<worker::Response> {
    let catalog = super::live::for_caller(app, principal).await?;
    let allowed = |m: &Model| principal.may_use_model(&m.id);
    if anthropic_shape(&req) {
        let query = messages::models::ListQuery::from_query(http::Query::of(&req).pairs());
        return http::json(200, &messages::models::anthropic_list(&catalog, allowed, &query)?);
    }
    http::json(200, &openai_list(&catalog, allowed))
}

/// `GET /v1/models/{id}`, in Anthropic's shape when the request has `anthropic-version`.
pub async fn handle_openai_get(
    req: worker::Request,
    app: &crate::app::App,
    principal: &Principal,
    id: &str,
) -> ApiResult<worker::Response> {
    let catalog = super::live::for_caller(app, principal).await?;
    if anthropic_shape(&req) {
        let model = messages::models::anthropic_model_by_id(&catalog, id)?;
        if let Some(found) = model.get("id").and_then(Value::as_str) {
            principal.require_model(found)?;
        }
        return http::json(200, &model);
    }
    let model = catalog.model(id).ok_or_else(|| ApiError::model_not_found(id))?;
    principal.require_model(&model.id)?;
    http::json(200, &openai_model(model))
}

fn anthropic_shape(req: &worker::Request) -> bool {
    let version = req.headers().get("anthropic-version").ok().flatten();
    messages::models::wants_anthropic_shape(version.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn filter(query: &[(&'static str, &'static str)]) -> ModelFilter {
        ModelFilter::from_query(query.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))))
    }

    fn ids(value: &Value) -> Vec<String> {
        value["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The row of model `id` in a Stone list.
    fn listed<'a>(list: &'a Value, id: &str) -> &'a Value {
        list["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()
    }

    #[test]
    fn filters_combine_and_ignore_case() {
        let catalog = Catalog::embedded().unwrap();
        let lite = ids(&stone_list(catalog, &filter(&[("tier", "LITE")])));
        assert_eq!(lite.len(), 5);
        let lite_openai = ids(&stone_list(
            catalog,
            &filter(&[("tier", "lite"), ("company", "openai")]),
        ));
        assert_eq!(lite_openai, vec!["gpt-4o-mini"]);
        assert!(ids(&stone_list(catalog, &filter(&[("tier", "gold")]))).is_empty());
        assert_eq!(
            ids(&stone_list(catalog, &filter(&[("unknown", "x")]))).len(),
            catalog.models.len()
        );
    }

    #[test]
    fn the_stone_shape_matches_the_seed() {
        let catalog = Catalog::embedded().unwrap();
        let list = stone_list(catalog, &filter(&[]));
        let mini = listed(&list, "gpt-4o-mini");
        assert_eq!(
            mini,
            &json!({"id":"gpt-4o-mini","name":"GPT-4o mini","company":"OpenAI","tier":"lite","category":"chat",
                    "price_weighted":2.5,"price_input":0.9,"price_output":3.6,
                    "price_cache_read":0.45,"price_cache_write":null,"context_length":"128K"})
        );
        let flux = listed(&list, "flux-schnell");
        assert_eq!(flux["price_weighted"], json!(0.012));
        assert_eq!(flux["price_input"], Value::Null);
        assert_eq!(flux["context_length"], Value::Null);
    }

    #[test]
    fn the_embedding_category_lists_the_embedding_models_priced_per_input_token() {
        let catalog = Catalog::embedded().unwrap();
        let list = stone_list(catalog, &filter(&[("category", "embedding")]));
        let models = list["models"].as_array().unwrap();
        assert!(models.len() >= 5, "{models:?}");
        let small = listed(&list, "text-embedding-3-small");
        assert_eq!(
            small,
            &json!({"id":"text-embedding-3-small","name":"OpenAI text-embedding-3-small","company":"OpenAI",
                    "tier":"premium","category":"embedding","price_weighted":0.08,"price_input":0.08,
                    "price_output":0.0,"price_cache_read":null,"price_cache_write":null,"context_length":"8K"})
        );
    }

    #[test]
    fn openai_get_resolves_aliases_and_refuses_unknown_models() {
        let catalog = Catalog::embedded().unwrap();
        assert_eq!(
            openai_get(catalog, "claude-haiku-4-5").unwrap()["id"],
            "claude-haiku-4.5"
        );
        let error = openai_get(catalog, "gpt-17").unwrap_err();
        assert_eq!((error.status(), error.code.as_ref()), (404, "model_not_found"));
    }
}
