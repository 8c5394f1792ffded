//! The live catalog: the embedded one with the operator's edits over it (D1 `model_overrides`,
//! one JSON edit per model; `catalog_state.version` counts the edits).
//!
//! Freshness without a round trip: the caller's authentication query also reads the version,
//! so an authenticated request sees every edit made before it was admitted, in every isolate —
//! an isolate whose copy is older loads the edits once (one D1 read) and keeps them. A request
//! without a caller (`GET /api/models`) takes a copy up to `UNAUTHENTICATED_TTL` old. Prices
//! are read when a request is admitted; a request in flight keeps the prices of its hold.

use std::cell::RefCell;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Catalog, Model, ModelRow, Pricing, Route, WireFormat};
use crate::billing::money::MicroUsd;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};

/// How old a copy a request without a caller may see.
pub const UNAUTHENTICATED_TTL_MS: u64 = 10_000;

/// An operator's edit of one model: the fields set replace the catalog's, the rest keep theirs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// USD per 1M tokens, decimal strings. A new input price moves the cache prices with it
    /// (they keep their ratio to input) unless they are set too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cache_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cache_write: Option<String>,
    /// The catalog's display figure; follows input + output when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_weighted: Option<String>,
    /// USD per image, for image models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The first route's upstream id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_id: Option<String>,
    /// Every route, in order (the first replaces the model's provider and upstream id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
    /// Aliases the operator added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// A model the operator added (`POST /admin/models`): the whole row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<ModelRow>,
}

impl Edit {
    /// `later` over `self`: the fields `later` sets win; aliases add up.
    pub fn merged(mut self, later: Edit) -> Edit {
        macro_rules! take {
            ($($field:ident),*) => { $( if later.$field.is_some() { self.$field = later.$field; } )* };
        }
        take!(
            price_input,
            price_output,
            price_cache_read,
            price_cache_write,
            price_weighted,
            price_per_image,
            enabled,
            upstream_id,
            routes,
            added
        );
        for alias in later.aliases {
            if !self.aliases.iter().any(|a| a.eq_ignore_ascii_case(&alias)) {
                self.aliases.push(alias);
            }
        }
        self
    }

    /// Whether the edit changes nothing (and may be dropped).
    pub fn is_empty(&self) -> bool {
        *self == Edit::default()
    }
}

fn price(model: &str, field: &str, text: &Option<String>) -> Result<Option<MicroUsd>, String> {
    text.as_deref()
        .map(|text| MicroUsd::parse(text).map_err(|e| format!("model `{model}` {field}: {e}")))
        .transpose()
}

/// `value` × `new` / `old`, rounded up (a price that keeps its ratio to another).
fn keep_ratio(value: MicroUsd, old: MicroUsd, new: MicroUsd) -> MicroUsd {
    if old.0 <= 0 {
        return value;
    }
    let scaled = (i128::from(value.0) * i128::from(new.0) + i128::from(old.0) - 1) / i128::from(old.0);
    MicroUsd(i64::try_from(scaled).unwrap_or(i64::MAX))
}

/// The model as `edit` leaves it; `None` when the edit disables it.
fn edited(catalog: &Catalog, base: Option<&Model>, id: &str, edit: &Edit) -> Result<Option<Model>, String> {
    let mut model = match (&edit.added, base) {
        (Some(row), None) => catalog.model_of_row(row.clone())?,
        (Some(_), Some(_)) => return Err(format!("model `{id}` is in the catalog already")),
        (None, Some(model)) => model.clone(),
        (None, None) => return Err(format!("no model `{id}` in the catalog")),
    };
    if edit.enabled == Some(false) {
        return Ok(None);
    }
    match &mut model.pricing {
        Pricing::PerToken {
            input,
            output,
            weighted,
            cache_read,
            cache_write,
        } => {
            if edit.price_per_image.is_some() {
                return Err(format!("model `{id}` is priced per token, not per image"));
            }
            let (old_input, old_output) = (*input, *output);
            if let Some(new) = price(id, "price_input", &edit.price_input)? {
                *cache_read = cache_read.map(|read| keep_ratio(read, old_input, new));
                *cache_write = cache_write.map(|write| keep_ratio(write, old_input, new));
                *input = new;
            }
            if let Some(new) = price(id, "price_output", &edit.price_output)? {
                *output = new;
            }
            if let Some(read) = price(id, "price_cache_read", &edit.price_cache_read)? {
                *cache_read = Some(read);
            }
            if let Some(write) = price(id, "price_cache_write", &edit.price_cache_write)? {
                *cache_write = Some(write);
            }
            *weighted = match price(id, "price_weighted", &edit.price_weighted)? {
                Some(set) => set,
                None => keep_ratio(
                    *weighted,
                    MicroUsd(old_input.0.saturating_add(old_output.0)),
                    MicroUsd(input.0.saturating_add(output.0)),
                ),
            };
            super::check_cache_prices(id, *input, *cache_read, *cache_write)?;
        }
        Pricing::PerImage { per_image } => {
            let token_prices = [
                &edit.price_input,
                &edit.price_output,
                &edit.price_cache_read,
                &edit.price_cache_write,
                &edit.price_weighted,
            ];
            if token_prices.iter().any(|p| p.is_some()) {
                return Err(format!("model `{id}` is priced per image: set price_per_image"));
            }
            if let Some(new) = price(id, "price_per_image", &edit.price_per_image)? {
                *per_image = new;
            }
        }
    }
    if let Some(routes) = &edit.routes {
        if routes.is_empty() {
            return Err(format!("model `{id}`: routes must name at least one route"));
        }
        model.routes = routes.clone();
    }
    if let Some(upstream_id) = &edit.upstream_id {
        if let Some(first) = model.routes.first_mut() {
            first.upstream_id = upstream_id.clone();
        }
    }
    let wire = |provider: &str| catalog.provider(provider).map(|p| p.wire);
    for route in &model.routes {
        if wire(&route.provider).is_none() {
            return Err(format!(
                "model `{id}`: no provider `{}` in the catalog",
                route.provider
            ));
        }
        if route.upstream_id.trim().is_empty() || route.upstream_id.len() > 200 {
            return Err(format!("model `{id}`: an upstream_id must be 1-200 characters"));
        }
    }
    let first_wire = model.routes.first().and_then(|r| wire(&r.provider));
    if model.embedding.is_some() && model.routes.iter().any(|r| wire(&r.provider) != first_wire) {
        return Err(format!(
            "embedding model `{id}`: every route must use the first route's wire format"
        ));
    }
    if model.embedding.is_some() && first_wire == Some(WireFormat::Anthropic) {
        return Err(format!(
            "embedding model `{id}`: Anthropic's wire has no embeddings"
        ));
    }
    if let Some(first) = model.routes.first() {
        model.provider = first.provider.clone();
        model.upstream_id = first.upstream_id.clone();
    }
    for alias in &edit.aliases {
        if !model.aliases.iter().any(|a| a.eq_ignore_ascii_case(alias)) {
            model.aliases.push(alias.clone());
        }
    }
    Ok(Some(model))
}

/// The embedded catalog with `edits` applied, in order. `strict`: the first edit that does not
/// apply is the error (the operator API checks an edit so before storing it); otherwise such an
/// edit is left out and named in the returned problems (it can only come from a race).
pub fn apply(
    base: &Catalog,
    edits: &[(String, Edit)],
    strict: bool,
) -> Result<(Catalog, Vec<String>), String> {
    let mut models: Vec<Arc<Model>> = base.models.clone();
    let mut problems = Vec::new();
    for (id, edit) in edits {
        let position = models.iter().position(|m| m.id.eq_ignore_ascii_case(id));
        let outcome = edited(base, position.map(|i| models[i].as_ref()), id, edit).and_then(|changed| {
            let mut trial = models.clone();
            match (changed, position) {
                (Some(model), Some(i)) => trial[i] = Arc::new(model),
                (Some(model), None) => trial.push(Arc::new(model)),
                (None, Some(i)) => {
                    trial.remove(i);
                }
                (None, None) => {}
            }
            // Aliases and ids must stay unique across the catalog.
            base.with_models(trial.clone()).map(|_| trial)
        });
        match outcome {
            Ok(trial) => models = trial,
            Err(problem) if strict => return Err(problem),
            Err(problem) => problems.push(problem),
        }
    }
    Ok((base.with_models(models)?, problems))
}

/// A copy of the live catalog in this isolate.
struct Snapshot {
    version: i64,
    loaded_ms: u64,
    catalog: Arc<Catalog>,
}

thread_local! {
    static SNAPSHOT: RefCell<Option<Snapshot>> = const { RefCell::new(None) };
}

/// The live catalog for a request. `version`: the one the caller's authentication read (the
/// copy is reloaded when it differs); `None` (no caller): a copy up to `UNAUTHENTICATED_TTL_MS`
/// old is good enough.
pub async fn current(db: &Db, version: Option<i64>) -> ApiResult<Arc<Catalog>> {
    let now = crate::time::now_ms();
    let cached = SNAPSHOT.with(|cell| {
        cell.borrow().as_ref().and_then(|snapshot| {
            let fresh = match version {
                Some(version) => snapshot.version == version,
                None => now.saturating_sub(snapshot.loaded_ms) < UNAUTHENTICATED_TTL_MS,
            };
            fresh.then(|| snapshot.catalog.clone())
        })
    });
    if let Some(catalog) = cached {
        return Ok(catalog);
    }
    let base = Catalog::embedded()?;
    let (loaded_version, rows) = db.catalog_edits().await?;
    let catalog = if rows.is_empty() {
        Arc::new(base.clone())
    } else {
        let edits = parse_rows(rows);
        let (catalog, problems) = apply(base, &edits, false).map_err(ApiError::internal)?;
        for problem in problems {
            worker::console_error!("catalog edit left out: {problem}");
        }
        Arc::new(catalog)
    };
    SNAPSHOT.with(|cell| {
        *cell.borrow_mut() = Some(Snapshot {
            version: loaded_version,
            loaded_ms: now,
            catalog: catalog.clone(),
        })
    });
    Ok(catalog)
}

/// The live catalog as of `caller`'s authentication.
pub async fn for_caller(app: &crate::app::App, caller: &crate::auth::Principal) -> ApiResult<Arc<Catalog>> {
    current(&Db::from_env(&app.env)?, Some(caller.catalog_version)).await
}

/// The stored edits, in the order they were first made; one that no longer parses is logged
/// and left out.
pub fn parse_rows(rows: Vec<crate::db::CatalogEditRow>) -> Vec<(String, Edit)> {
    rows.into_iter()
        .filter_map(|row| match serde_json::from_slice::<Edit>(row.edit.as_bytes()) {
            Ok(edit) => Some((row.model_id, edit)),
            Err(error) => {
                worker::console_error!("catalog edit of {} is unreadable: {error}", row.model_id);
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> &'static Catalog {
        Catalog::embedded().unwrap()
    }

    fn edit(json: &str) -> Edit {
        serde_json::from_slice(json.as_bytes()).unwrap()
    }

    #[test]
    fn a_new_input_price_moves_the_cache_prices_with_it() {
        let (live, problems) = apply(
            base(),
            &[(
                "gpt-4o".into(),
                edit(r#"{"price_input":"20.00","price_output":"80"}"#),
            )],
            true,
        )
        .unwrap();
        assert!(problems.is_empty());
        let prices = live.model("gpt-4o").unwrap().token_prices();
        assert_eq!(prices.input, MicroUsd(20_000_000));
        assert_eq!(prices.output, MicroUsd(80_000_000));
        assert_eq!(prices.cache_read, Some(MicroUsd(10_000_000)), "0.5× kept");
        // The embedded catalog is untouched.
        assert_eq!(
            base().model("gpt-4o").unwrap().token_prices().input,
            MicroUsd(10_000_000)
        );
    }

    #[test]
    fn disabled_models_and_their_aliases_are_gone() {
        let (live, _) = apply(base(), &[("gpt-4o".into(), edit(r#"{"enabled":false}"#))], true).unwrap();
        assert!(live.model("gpt-4o").is_none());
        assert!(live.model("gpt-4o-2024-11-20").is_none());
        assert!(live.model("gpt-4o-mini").is_some());
    }

    #[test]
    fn routes_and_upstream_ids_replace_where_a_model_is_served() {
        let (live, _) = apply(
            base(),
            &[(
                "claude-haiku-4.5".into(),
                edit(r#"{"upstream_id":"claude-haiku-4-5-next","routes":[{"provider":"anthropic","upstream_id":"x"},{"provider":"openai","upstream_id":"gpt-4o-mini"}]}"#),
            )],
            true,
        )
        .unwrap();
        let model = live.model("claude-haiku-4.5").unwrap();
        assert_eq!(model.upstream_id, "claude-haiku-4-5-next");
        assert_eq!(model.routes.len(), 2);
        assert_eq!(model.routes[1].provider, "openai");
    }

    #[test]
    fn an_added_model_and_alias_resolve_and_collisions_are_refused() {
        let added = r#"{"added":{"id":"house-mini","name":"House mini","company":"OpenAI","provider":"openai",
            "upstream_id":"gpt-4o-mini","tier":"premium","category":"chat","price_input":"1","price_output":"2",
            "price_weighted":"1.5","price_per_image":null,"price_cache_read":null,"price_cache_write":null,
            "context_length":128000,"max_output_tokens":4096}}"#;
        let (live, _) = apply(
            base(),
            &[
                ("house-mini".into(), edit(added)),
                ("house-mini".into(), edit(r#"{"aliases":["hm"]}"#)),
            ],
            true,
        )
        .unwrap();
        assert_eq!(live.model("HM").unwrap().id, "house-mini");
        let taken = apply(
            base(),
            &[("gpt-4o".into(), edit(r#"{"aliases":["gpt-4o-mini"]}"#))],
            true,
        );
        assert!(taken.unwrap_err().contains("used twice"));
        let (_, problems) = apply(
            base(),
            &[("gpt-4o".into(), edit(r#"{"aliases":["gpt-4o-mini"]}"#))],
            false,
        )
        .unwrap();
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn edits_that_break_the_rules_are_refused() {
        for bad in [
            r#"{"price_input":"-1"}"#,
            r#"{"price_per_image":"0.1"}"#,
            r#"{"routes":[]}"#,
            r#"{"routes":[{"provider":"nowhere","upstream_id":"x"}]}"#,
            r#"{"price_cache_read":"99"}"#,
        ] {
            assert!(
                apply(base(), &[("gpt-4o".into(), edit(bad))], true).is_err(),
                "{bad}"
            );
        }
        assert!(apply(base(), &[("no-such".into(), edit(r#"{"enabled":false}"#))], true).is_err());
    }

    #[test]
    fn later_edits_win_and_aliases_add_up() {
        let merged = edit(r#"{"price_input":"1","aliases":["a"]}"#)
            .merged(edit(r#"{"price_input":"2","enabled":false,"aliases":["b","A"]}"#));
        assert_eq!(merged.price_input.as_deref(), Some("2"));
        assert_eq!(merged.enabled, Some(false));
        assert_eq!(merged.aliases, vec!["a", "b"]);
        assert!(Edit::default().is_empty());
    }
}
