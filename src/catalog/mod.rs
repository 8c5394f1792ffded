//! The model catalog, as data: `providers.json` and `models.json` are embedded at build time and
//! are the one source of truth for which models exist, what they cost and where they are served.

pub mod admin;
pub mod live;
pub mod routes;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::billing::money::MicroUsd;
use crate::error::{ApiError, ApiResult};

const PROVIDERS_JSON: &str = include_str!("providers.json");
const MODELS_JSON: &str = include_str!("models.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    Openai,
    Anthropic,
    Gemini,
}

/// How a provider wants its API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AuthStyle {
    #[serde(rename = "bearer")]
    Bearer,
    #[serde(rename = "x-api-key")]
    XApiKey,
    #[serde(rename = "x-goog-api-key")]
    XGoogApiKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: String,
    pub name: String,
    /// The public API's base URL; `<ID>_BASE_URL` overrides it.
    pub base_url: String,
    pub wire: WireFormat,
    pub auth: AuthStyle,
    /// OpenAI request parameters this vendor rejects; removed before forwarding.
    #[serde(default)]
    pub drop_params: Vec<String>,
    #[serde(default)]
    pub max_tokens_field: MaxTokensField,
    #[serde(default)]
    pub docs: Option<String>,
}

impl Provider {
    /// The env prefix of this provider's settings: its id in upper case (`OPENAI`, `DEEPSEEK`).
    pub fn env_prefix(&self) -> String {
        self.id.to_ascii_uppercase()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Lite,
    Premium,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Lite => "lite",
            Tier::Premium => "premium",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Chat,
    Image,
    Reason,
    Search,
    Code,
    /// Vectors for text (`POST /v1/embeddings`), priced per input token.
    Embedding,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Chat => "chat",
            Category::Image => "image",
            Category::Reason => "reason",
            Category::Search => "search",
            Category::Code => "code",
            Category::Embedding => "embedding",
        }
    }

    /// The route serving a category that does not chat (images, embeddings); `None` for the
    /// ones chat, Responses and Messages serve.
    pub fn own_route(self) -> Option<&'static str> {
        match self {
            Category::Image => Some("POST /v1/images/generations"),
            Category::Embedding => Some("POST /v1/embeddings"),
            Category::Chat | Category::Reason | Category::Search | Category::Code => None,
        }
    }
}

/// What an embedding model takes and gives, from its provider's documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingSpec {
    /// The vectors' width when `dimensions` is not asked for.
    pub dimensions: u32,
    /// `dimensions` may be asked for, from this up to the default width (OpenAI, Gemini).
    #[serde(default)]
    pub dimensions_min: Option<u32>,
    /// `dimensions` may be asked for, only these values, wider than the default too (Alibaba).
    #[serde(default)]
    pub dimensions_choices: Vec<u32>,
    /// The most inputs one request takes, when the provider takes fewer than OpenAI's 2048.
    #[serde(default)]
    pub max_inputs: Option<u32>,
    /// The provider serves OpenAI's embeddings API in full: token arrays, `encoding_format:
    /// base64` and `user` go to it as they came. Otherwise the gateway sends text only, asks for
    /// floats (encoding base64 itself when asked) and keeps `user` to itself.
    #[serde(default)]
    pub openai_native: bool,
}

impl EmbeddingSpec {
    /// Whether `dimensions` may be asked for at all.
    pub fn shortens(&self) -> bool {
        self.dimensions_min.is_some() || !self.dimensions_choices.is_empty()
    }

    /// Whether `dimensions` may be `wanted`.
    pub fn allows_dimensions(&self, wanted: u32) -> bool {
        match self.dimensions_min {
            Some(min) => (min..=self.dimensions).contains(&wanted),
            None => self.dimensions_choices.contains(&wanted),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    /// Micro-USD per 1M tokens; `weighted` is the catalog's display figure. The cache prices are
    /// `None` where the provider has no prompt cache (its cache counts then cost plain input).
    PerToken {
        input: MicroUsd,
        output: MicroUsd,
        weighted: MicroUsd,
        cache_read: Option<MicroUsd>,
        cache_write: Option<MicroUsd>,
    },
    /// Micro-USD per image returned.
    PerImage { per_image: MicroUsd },
}

/// Where a model may be served: a provider and the model's id there. A model's first route is
/// its `provider` and `upstream_id`; the others serve, in order, when the ones before are
/// unavailable before the first byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub provider: String,
    pub upstream_id: String,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub id: String,
    pub aliases: Vec<String>,
    pub name: String,
    pub company: String,
    /// The first route's provider and upstream id.
    pub provider: String,
    pub upstream_id: String,
    /// Every route, the first being (`provider`, `upstream_id`).
    pub routes: Vec<Route>,
    pub tier: Tier,
    pub category: Category,
    pub pricing: Pricing,
    pub context_length: u32,
    pub max_output_tokens: u32,
    /// For category `embedding` (and only there): what the model takes and gives.
    pub embedding: Option<EmbeddingSpec>,
}

/// A row of models.json as written (and a model the operator adds: `POST /admin/models`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRow {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub name: String,
    pub company: String,
    pub provider: String,
    pub upstream_id: String,
    pub tier: Tier,
    pub category: Category,
    pub price_input: Option<String>,
    pub price_output: Option<String>,
    pub price_weighted: Option<String>,
    pub price_per_image: Option<String>,
    /// USD per 1M tokens read from the provider's prompt cache; `null`: no cache.
    pub price_cache_read: Option<String>,
    /// USD per 1M tokens written to a 5-minute cache (Anthropic's 1-hour writes cost twice the
    /// input price); `null` where writes cost plain input.
    pub price_cache_write: Option<String>,
    pub context_length: u32,
    pub max_output_tokens: u32,
    #[serde(default)]
    pub embedding: Option<EmbeddingSpec>,
    /// Routes tried after (`provider`, `upstream_id`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Route>,
}

impl Model {
    /// Why chat, Responses and Messages refuse this model (of category `image` or `embedding`),
    /// naming the route that serves it.
    pub fn not_for_chat(&self) -> Option<String> {
        let category = self.category.as_str();
        self.category.own_route().map(|route| {
            format!(
                "`{}` is an {category} model (category `{category}`); use {route}.",
                self.id
            )
        })
    }

    /// The per-1M-token prices billing uses (zero for a model priced per image).
    pub fn token_prices(&self) -> crate::billing::usage::TokenPrices {
        match self.pricing {
            Pricing::PerToken {
                input,
                output,
                cache_read,
                cache_write,
                ..
            } => crate::billing::usage::TokenPrices {
                input,
                output,
                cache_read,
                cache_write,
            },
            Pricing::PerImage { .. } => crate::billing::usage::TokenPrices::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub providers: Vec<Provider>,
    pub models: Vec<Arc<Model>>,
    /// Lower-cased id or alias → index into `models`.
    index: HashMap<String, usize>,
}

impl Catalog {
    /// The embedded catalog, parsed on first use. A broken catalog is a build bug that the unit
    /// tests catch; at runtime it surfaces as a logged 500, never a panic.
    pub fn embedded() -> ApiResult<&'static Catalog> {
        static CATALOG: OnceLock<Result<Catalog, String>> = OnceLock::new();
        CATALOG
            .get_or_init(|| Catalog::parse(PROVIDERS_JSON, MODELS_JSON))
            .as_ref()
            .map_err(|e| ApiError::internal(format!("embedded catalog is invalid: {e}")))
    }

    pub fn parse(providers_json: &str, models_json: &str) -> Result<Catalog, String> {
        let providers: Vec<Provider> =
            serde_json::from_slice(providers_json.as_bytes()).map_err(|e| format!("providers.json: {e}"))?;
        let rows: Vec<ModelRow> =
            serde_json::from_slice(models_json.as_bytes()).map_err(|e| format!("models.json: {e}"))?;

        let mut provider_ids = HashMap::new();
        for provider in &providers {
            if provider.id.is_empty()
                || !provider
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(format!("provider id `{}` must be [a-z0-9]+", provider.id));
            }
            if provider_ids.insert(provider.id.clone(), provider.wire).is_some() {
                return Err(format!("provider `{}` is listed twice", provider.id));
            }
            if !(provider.base_url.starts_with("https://") || provider.base_url.starts_with("http://")) {
                return Err(format!(
                    "provider `{}` has a base_url that is not http(s)",
                    provider.id
                ));
            }
        }
        let mut catalog = Catalog {
            providers,
            models: Vec::with_capacity(rows.len()),
            index: HashMap::new(),
        };
        for row in rows {
            let model = catalog.model_of_row(row)?;
            catalog.models.push(Arc::new(model));
        }
        catalog.reindex()?;
        Ok(catalog)
    }

    /// A catalog of these models over the same providers (the live catalog: the embedded one
    /// with the operator's edits).
    pub(crate) fn with_models(&self, models: Vec<Arc<Model>>) -> Result<Catalog, String> {
        let mut catalog = Catalog {
            providers: self.providers.clone(),
            models,
            index: HashMap::new(),
        };
        catalog.reindex()?;
        Ok(catalog)
    }

    /// Rebuilds the id-and-alias index, refusing a name used twice.
    fn reindex(&mut self) -> Result<(), String> {
        self.index.clear();
        for (position, model) in self.models.iter().enumerate() {
            for name in std::iter::once(&model.id).chain(model.aliases.iter()) {
                if name.is_empty() || name.chars().any(char::is_whitespace) {
                    return Err(format!(
                        "model id or alias `{name}` must be non-empty without spaces"
                    ));
                }
                if self.index.insert(name.to_ascii_lowercase(), position).is_some() {
                    return Err(format!("model id or alias `{name}` is used twice"));
                }
            }
        }
        Ok(())
    }

    /// A model from its row, checked: known providers on every route, prices that fit its
    /// category, embedding facts where (and only where) they belong.
    pub(crate) fn model_of_row(&self, row: ModelRow) -> Result<Model, String> {
        let wire_of = |provider: &str| self.provider(provider).map(|p| p.wire);
        for route in std::iter::once(&row.provider).chain(row.fallbacks.iter().map(|r| &r.provider)) {
            if wire_of(route).is_none() {
                return Err(format!("model `{}` names unknown provider `{route}`", row.id));
            }
        }
        if row.upstream_id.trim().is_empty() || row.fallbacks.iter().any(|r| r.upstream_id.trim().is_empty())
        {
            return Err(format!("model `{}`: an upstream_id is empty", row.id));
        }
        let price = |field: &str, value: &Option<String>| -> Result<Option<MicroUsd>, String> {
            value
                .as_deref()
                .map(|text| MicroUsd::parse(text).map_err(|e| format!("model `{}` {field}: {e}", row.id)))
                .transpose()
        };
        let input = price("price_input", &row.price_input)?;
        let output = price("price_output", &row.price_output)?;
        let weighted = price("price_weighted", &row.price_weighted)?;
        let per_image = price("price_per_image", &row.price_per_image)?;
        let cache_read = price("price_cache_read", &row.price_cache_read)?;
        let cache_write = price("price_cache_write", &row.price_cache_write)?;
        let pricing = match (row.category, input, output, weighted, per_image) {
            (Category::Image, None, None, None, Some(per_image)) if cache_read.or(cache_write).is_none() => {
                Pricing::PerImage { per_image }
            }
            (category, Some(input), Some(output), Some(weighted), None) if category != Category::Image => {
                check_cache_prices(&row.id, input, cache_read, cache_write)?;
                Pricing::PerToken {
                    input,
                    output,
                    weighted,
                    cache_read,
                    cache_write,
                }
            }
            _ => {
                return Err(format!(
                    "model `{}`: image models need only price_per_image, others only the three token prices",
                    row.id
                ))
            }
        };
        match (row.category, &row.embedding) {
            (Category::Embedding, None) => {
                return Err(format!(
                    "embedding model `{}` needs its `embedding` facts",
                    row.id
                ))
            }
            (Category::Embedding, Some(spec)) => {
                match wire_of(&row.provider) {
                    Some(WireFormat::Anthropic) => {
                        return Err(format!(
                            "embedding model `{}`: Anthropic's wire has no embeddings",
                            row.id
                        ))
                    }
                    Some(WireFormat::Gemini) if spec.openai_native => {
                        return Err(format!(
                            "embedding model `{}`: Gemini's wire is not OpenAI's",
                            row.id
                        ))
                    }
                    _ => {}
                }
                // An embedding request is built for one wire: its fallbacks must speak it too.
                if row
                    .fallbacks
                    .iter()
                    .any(|r| wire_of(&r.provider) != wire_of(&row.provider))
                {
                    return Err(format!(
                        "embedding model `{}`: every route must use the first route's wire format",
                        row.id
                    ));
                }
                if spec.dimensions == 0
                    || spec
                        .dimensions_min
                        .is_some_and(|min| min == 0 || min > spec.dimensions)
                    || (spec.dimensions_min.is_some() && !spec.dimensions_choices.is_empty())
                    || spec.dimensions_choices.contains(&0)
                    || spec.max_inputs == Some(0)
                {
                    return Err(format!(
                        "embedding model `{}`: inconsistent `embedding` facts",
                        row.id
                    ));
                }
            }
            (_, Some(_)) => {
                return Err(format!(
                    "model `{}`: only embedding models have `embedding` facts",
                    row.id
                ))
            }
            (_, None) => {}
        }
        let mut routes = vec![Route {
            provider: row.provider.clone(),
            upstream_id: row.upstream_id.clone(),
        }];
        routes.extend(row.fallbacks);
        Ok(Model {
            id: row.id,
            aliases: row.aliases,
            name: row.name,
            company: row.company,
            provider: row.provider,
            upstream_id: row.upstream_id,
            routes,
            tier: row.tier,
            category: row.category,
            pricing,
            context_length: row.context_length,
            max_output_tokens: row.max_output_tokens,
            embedding: row.embedding,
        })
    }

    /// A model by id or alias, case-insensitively.
    pub fn model(&self, id_or_alias: &str) -> Option<&Arc<Model>> {
        self.index
            .get(&id_or_alias.to_ascii_lowercase())
            .and_then(|&i| self.models.get(i))
    }

    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }
}

/// A cache read is a discount and a cache write a surcharge, never the reverse.
pub(crate) fn check_cache_prices(
    model: &str,
    input: MicroUsd,
    cache_read: Option<MicroUsd>,
    cache_write: Option<MicroUsd>,
) -> Result<(), String> {
    if cache_read.is_some_and(|read| read > input) {
        return Err(format!("model `{model}`: price_cache_read is above price_input"));
    }
    if cache_write.is_some_and(|write| write < input) {
        return Err(format!("model `{model}`: price_cache_write is below price_input"));
    }
    Ok(())
}

/// `128000` → `"128K"`, `1048576` → `"1M"`: the context length as the Stone seed shows it.
pub fn display_context_length(tokens: u32) -> String {
    const MI: u32 = 1024 * 1024;
    match tokens {
        t if t >= MI && t % MI == 0 => format!("{}M", t / MI),
        t if t >= 1_000_000 && t % 1_000_000 == 0 => format!("{}M", t / 1_000_000),
        t if t >= 1000 && t % 1000 == 0 => format!("{}K", t / 1000),
        t if t >= 1024 && t % 1024 == 0 => format!("{}K", t / 1024),
        t if t >= 1000 => format!("{}K", (t + 500) / 1000),
        t => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn catalog() -> &'static Catalog {
        Catalog::embedded().unwrap()
    }

    #[test]
    fn every_model_of_a_provider_that_reports_cache_reads_prices_them_below_input() {
        let reporting = [
            "openai",
            "anthropic",
            "google",
            "deepseek",
            "xai",
            "alibaba",
            "moonshot",
            "zhipu",
            "minimax",
        ];
        for model in &catalog().models {
            let Pricing::PerToken {
                input, cache_read, ..
            } = model.pricing
            else {
                continue;
            };
            if reporting.contains(&model.provider.as_str()) && model.category != Category::Embedding {
                let read = cache_read.unwrap_or_else(|| panic!("{} has no price_cache_read", model.id));
                assert!(read <= input, "{}", model.id);
            }
        }
    }

    #[test]
    fn the_embedded_catalog_parses() {
        assert!(
            Catalog::embedded().is_ok(),
            "{:?}",
            Catalog::parse(PROVIDERS_JSON, MODELS_JSON).err()
        );
    }

    #[test]
    fn has_at_least_fifty_models_from_fifteen_providers_and_companies() {
        let c = catalog();
        assert!(c.models.len() >= 50, "{} models", c.models.len());
        let providers: HashSet<_> = c.models.iter().map(|m| &m.provider).collect();
        let companies: HashSet<_> = c.models.iter().map(|m| &m.company).collect();
        assert!(providers.len() >= 15, "{} providers used", providers.len());
        assert!(companies.len() >= 15, "{} companies", companies.len());
    }

    #[test]
    fn exactly_five_lite_models_including_the_seed_ones() {
        let lite: Vec<_> = catalog()
            .models
            .iter()
            .filter(|m| m.tier == Tier::Lite)
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(lite.len(), 5, "{lite:?}");
        assert!(
            lite.contains(&"gpt-4o-mini") && lite.contains(&"claude-haiku-4.5"),
            "{lite:?}"
        );
    }

    #[test]
    fn the_stone_seed_prices_are_exact() {
        let cases = [
            ("gpt-4o-mini", 900_000, 3_600_000, 2_500_000),
            ("claude-haiku-4.5", 3_200_000, 16_000_000, 11_000_000),
            ("gpt-5.1", 4_900_000, 39_200_000, 26_000_000),
            ("claude-opus-4", 37_500_000, 187_500_000, 130_000_000),
            ("gemini-2.5-pro", 5_000_000, 40_000_000, 26_000_000),
        ];
        for (id, input, output, weighted) in cases {
            let model = catalog().model(id).unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(
                model.pricing,
                Pricing::PerToken {
                    input: MicroUsd(input),
                    output: MicroUsd(output),
                    weighted: MicroUsd(weighted),
                    cache_read: model.token_prices().cache_read,
                    cache_write: model.token_prices().cache_write,
                },
                "{id}"
            );
        }
        // Cache prices follow each provider's published ratio to its input price.
        let sonnet = catalog().model("claude-sonnet-4.5").unwrap().token_prices();
        assert_eq!(
            sonnet.cache_read,
            Some(MicroUsd(1_200_000)),
            "Anthropic reads are 0.1×"
        );
        assert_eq!(
            sonnet.cache_write,
            Some(MicroUsd(15_000_000)),
            "Anthropic writes are 1.25×"
        );
        let gpt4o = catalog().model("gpt-4o").unwrap().token_prices();
        assert_eq!(
            gpt4o.cache_read,
            Some(MicroUsd(5_000_000)),
            "gpt-4o reads are 0.5×"
        );
        assert_eq!(gpt4o.cache_write, None, "OpenAI bills no cache writes");
        let flux = catalog().model("flux-schnell").unwrap();
        assert_eq!(
            flux.pricing,
            Pricing::PerImage {
                per_image: MicroUsd(12_000)
            }
        );
        assert_eq!(flux.category, Category::Image);
    }

    #[test]
    fn every_seed_model_resolves_by_id_or_alias() {
        for id in [
            "qwen3-coder-flash",
            "qwen3-coder-plus",
            "claude-haiku-4-5",
            "claude-haiku-4.5",
            "claude-sonnet-4-5",
            "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-20250514",
            "claude-3-7-sonnet-20250219",
            "gpt-4o",
            "gpt-4o-mini",
        ] {
            assert!(catalog().model(id).is_some(), "{id} does not resolve");
        }
        assert_eq!(
            catalog().model("claude-haiku-4-5").unwrap().id,
            "claude-haiku-4.5"
        );
        assert_eq!(catalog().model("GPT-4o-MINI").unwrap().id, "gpt-4o-mini");
    }

    #[test]
    fn the_big_three_use_their_native_wire_formats() {
        let c = catalog();
        assert_eq!(c.provider("openai").unwrap().wire, WireFormat::Openai);
        assert_eq!(c.provider("anthropic").unwrap().wire, WireFormat::Anthropic);
        assert_eq!(c.provider("google").unwrap().wire, WireFormat::Gemini);
        assert_eq!(c.provider("anthropic").unwrap().auth, AuthStyle::XApiKey);
        assert_eq!(c.provider("google").unwrap().auth, AuthStyle::XGoogApiKey);
        assert_eq!(c.provider("deepseek").unwrap().env_prefix(), "DEEPSEEK");
    }

    #[test]
    fn every_category_is_represented() {
        let categories: HashSet<_> = catalog().models.iter().map(|m| m.category).collect();
        for category in [
            Category::Chat,
            Category::Image,
            Category::Reason,
            Category::Search,
            Category::Code,
            Category::Embedding,
        ] {
            assert!(categories.contains(&category), "{category:?} missing");
        }
    }

    #[test]
    fn embedding_models_are_premium_priced_per_input_token_on_wires_that_embed() {
        let c = catalog();
        let embedding: Vec<&Arc<Model>> = c
            .models
            .iter()
            .filter(|m| m.category == Category::Embedding)
            .collect();
        let providers: HashSet<&str> = embedding.iter().map(|m| m.provider.as_str()).collect();
        for provider in ["openai", "google", "alibaba", "mistral"] {
            assert!(providers.contains(provider), "no embedding model of {provider}");
        }
        for model in &embedding {
            assert_eq!(model.tier, Tier::Premium, "{}", model.id);
            let Pricing::PerToken {
                input,
                output,
                weighted,
                ..
            } = model.pricing
            else {
                panic!("{} is not priced per token", model.id)
            };
            assert!(input.0 > 0 && output.0 == 0 && weighted == input, "{}", model.id);
            assert!(
                model.embedding.is_some() && model.context_length > 0,
                "{}",
                model.id
            );
            assert_ne!(c.provider(&model.provider).unwrap().wire, WireFormat::Anthropic);
            assert!(model.not_for_chat().unwrap().contains("POST /v1/embeddings"));
        }
        assert!(c
            .models
            .iter()
            .filter(|m| m.category != Category::Embedding)
            .all(|m| m.embedding.is_none()));
        // The operator's usual markup over the providers' list prices: 4×.
        let prices = [
            ("text-embedding-3-small", 80_000),
            ("text-embedding-3-large", 520_000),
            ("gemini-embedding-001", 600_000),
            ("text-embedding-v4", 280_000),
            ("mistral-embed", 400_000),
        ];
        for (id, micros) in prices {
            assert_eq!(
                c.model(id).unwrap().token_prices().input,
                MicroUsd(micros),
                "{id}"
            );
        }
        let small = c
            .model("text-embedding-3-small")
            .unwrap()
            .embedding
            .clone()
            .unwrap();
        assert!(small.openai_native && small.allows_dimensions(1) && small.allows_dimensions(1536));
        assert!(!small.allows_dimensions(1537));
        assert_eq!(c.model("gpt-4o").unwrap().not_for_chat(), None);
    }

    #[test]
    fn parse_refuses_embedding_rows_without_their_facts_and_facts_on_other_rows() {
        let providers = r#"[{"id":"p","name":"P","base_url":"https://p","wire":"openai","auth":"bearer"},
                            {"id":"a","name":"A","base_url":"https://a","wire":"anthropic","auth":"x-api-key"}]"#;
        let row = |category: &str, provider: &str, facts: &str| {
            format!(
                r#"[{{"id":"e","name":"n","company":"c","provider":"{provider}","upstream_id":"u","tier":"premium","category":"{category}","price_input":"0.1","price_output":"0","price_weighted":"0.1","price_per_image":null,"price_cache_read":null,"price_cache_write":null,"context_length":8192,"max_output_tokens":0{facts}}}]"#
            )
        };
        let facts = r#","embedding":{"dimensions":1024}"#;
        assert!(Catalog::parse(providers, &row("embedding", "p", facts)).is_ok());
        assert!(Catalog::parse(providers, &row("embedding", "p", ""))
            .unwrap_err()
            .contains("needs its `embedding` facts"));
        assert!(Catalog::parse(providers, &row("chat", "p", facts))
            .unwrap_err()
            .contains("only embedding models"));
        assert!(Catalog::parse(providers, &row("embedding", "a", facts))
            .unwrap_err()
            .contains("no embeddings"));
        let wrong = r#","embedding":{"dimensions":1024,"dimensions_min":2048}"#;
        assert!(Catalog::parse(providers, &row("embedding", "p", wrong))
            .unwrap_err()
            .contains("inconsistent"));
    }

    #[test]
    fn drop_params_name_only_known_openai_parameters() {
        const KNOWN: &[&str] = &[
            "temperature",
            "top_p",
            "max_tokens",
            "max_completion_tokens",
            "stop",
            "presence_penalty",
            "frequency_penalty",
            "seed",
            "response_format",
            "user",
            "parallel_tool_calls",
            "stream_options",
            "tools",
            "tool_choice",
        ];
        for provider in &catalog().providers {
            for param in &provider.drop_params {
                assert!(
                    KNOWN.contains(&param.as_str()),
                    "{}: unknown drop_param {param}",
                    provider.id
                );
            }
        }
    }

    #[test]
    fn parse_refuses_duplicate_aliases_and_unknown_providers() {
        let providers = r#"[{"id":"p","name":"P","base_url":"https://p","wire":"openai","auth":"bearer"}]"#;
        let row = |id: &str, alias: &str, provider: &str| {
            format!(
                r#"{{"id":"{id}","aliases":["{alias}"],"name":"n","company":"c","provider":"{provider}","upstream_id":"u","tier":"lite","category":"chat","price_input":"1","price_output":"2","price_weighted":"1.6","price_per_image":null,"context_length":1,"max_output_tokens":1}}"#
            )
        };
        let dup = format!("[{},{}]", row("a", "b", "p"), row("c", "B", "p"));
        assert!(Catalog::parse(providers, &dup)
            .unwrap_err()
            .contains("used twice"));
        let unknown = format!("[{}]", row("a", "b", "q"));
        assert!(Catalog::parse(providers, &unknown)
            .unwrap_err()
            .contains("unknown provider"));
    }

    #[test]
    fn context_lengths_display_like_the_seed() {
        assert_eq!(display_context_length(128_000), "128K");
        assert_eq!(display_context_length(131_072), "128K");
        assert_eq!(display_context_length(200_000), "200K");
        assert_eq!(display_context_length(1_048_576), "1M");
        assert_eq!(display_context_length(2_000_000), "2M");
        assert_eq!(display_context_length(32_768), "32K");
        assert_eq!(display_context_length(512), "512");
    }
}
