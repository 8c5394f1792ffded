//! `GET /v1/models` and `GET /v1/models/{id}` in Anthropic's shapes, for requests that carry
//! `anthropic-version` (the Anthropic SDKs and Claude Code always do). Pure: from the catalog.
//!
//! The list pages as Anthropic's does: `limit` (default 20, 1 to 1000), `after_id`,
//! `before_id`; `has_more`, `first_id` and `last_id` say where the page sits. Image and
//! embedding models are left out: `/v1/messages` cannot serve them.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::types::invalid;
use crate::catalog::{Catalog, Model};
use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 1000;

/// `created_at` of every model: the catalog carries no release dates, so this is the OpenAI
/// list's `created` (`catalog::routes::CATALOG_EPOCH`) as RFC 3339.
pub const CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// Whether `GET /v1/models*` should answer in Anthropic's shape.
pub fn wants_anthropic_shape(anthropic_version: Option<&str>) -> bool {
    anthropic_version.is_some_and(|v| !v.trim().is_empty())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: Option<String>,
    pub after_id: Option<String>,
    pub before_id: Option<String>,
}

impl ListQuery {
    pub fn from_query<'q>(pairs: impl Iterator<Item = (Cow<'q, str>, Cow<'q, str>)>) -> ListQuery {
        let mut query = ListQuery::default();
        for (key, value) in pairs {
            let value = Some(value.into_owned());
            match key.as_ref() {
                "limit" => query.limit = value,
                "after_id" => query.after_id = value,
                "before_id" => query.before_id = value,
                _ => {}
            }
        }
        query
    }
}

/// One model in Anthropic's shape (`max_input_tokens`/`max_tokens` as its Models API has them).
pub fn anthropic_model(model: &Model) -> Value {
    json!({
        "type": "model",
        "id": model.id,
        "display_name": model.name,
        "created_at": CREATED_AT,
        "max_input_tokens": model.context_length,
        "max_tokens": model.max_output_tokens,
    })
}

/// The models a caller may use, one page of them.
pub fn anthropic_list(
    catalog: &Catalog,
    allowed: impl Fn(&Model) -> bool,
    query: &ListQuery,
) -> ApiResult<Value> {
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                invalid(
                    "limit",
                    format!("Input should be an integer from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    if query.after_id.is_some() && query.before_id.is_some() {
        return Err(invalid(
            "before_id",
            "Only one of `before_id` and `after_id` may be given",
        ));
    }
    let models: Vec<&Model> = catalog
        .models
        .iter()
        .filter(|m| m.category.own_route().is_none() && allowed(m))
        .map(|m| m.as_ref())
        .collect();
    let position = |id: &str, param: &str| -> ApiResult<usize> {
        models
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| invalid(param, format!("no model `{id}` in this list")))
    };
    let (start, end) = match (&query.after_id, &query.before_id) {
        (Some(after), _) => {
            let start = position(after, "after_id")? + 1;
            (start, (start + limit).min(models.len()))
        }
        (_, Some(before)) => {
            let end = position(before, "before_id")?;
            (end.saturating_sub(limit), end)
        }
        _ => (0, limit.min(models.len())),
    };
    let page = models.get(start..end).unwrap_or_default();
    let has_more = if query.before_id.is_some() {
        start > 0
    } else {
        end < models.len()
    };
    Ok(json!({
        "data": page.iter().map(|m| anthropic_model(m)).collect::<Vec<_>>(),
        "has_more": has_more,
        "first_id": page.first().map(|m| m.id.as_str()),
        "last_id": page.last().map(|m| m.id.as_str()),
    }))
}

/// `GET /v1/models/{id}`: by id or alias, 404 in Anthropic's words otherwise.
pub fn anthropic_model_by_id(catalog: &Catalog, id: &str) -> ApiResult<Value> {
    catalog
        .model(id)
        .filter(|m| m.category.own_route().is_none())
        .map(|m| anthropic_model(m))
        .ok_or_else(|| ApiError::model_not_found(id).with_param("model"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> &'static Catalog {
        Catalog::embedded().unwrap()
    }

    fn query(limit: Option<&str>, after: Option<&str>, before: Option<&str>) -> ListQuery {
        ListQuery {
            limit: limit.map(str::to_owned),
            after_id: after.map(str::to_owned),
            before_id: before.map(str::to_owned),
        }
    }

    fn ids(page: &Value) -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_list_has_anthropics_shape_and_pages_like_it() {
        let page = anthropic_list(catalog(), |_| true, &ListQuery::default()).unwrap();
        assert_eq!(page["data"].as_array().unwrap().len(), DEFAULT_LIMIT);
        assert_eq!(page["has_more"], true);
        let first = &page["data"][0];
        assert_eq!(first["type"], "model");
        assert_eq!(first["created_at"], CREATED_AT);
        assert!(first["display_name"].is_string());
        assert_eq!(page["first_id"], first["id"]);
        assert_eq!(page["last_id"], page["data"][DEFAULT_LIMIT - 1]["id"]);

        // Walking with after_id visits every model /v1/messages serves once.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page =
                anthropic_list(catalog(), |_| true, &query(Some("7"), after.as_deref(), None)).unwrap();
            seen.extend(ids(&page));
            if page["has_more"] == false {
                break;
            }
            after = page["last_id"].as_str().map(str::to_owned);
        }
        let expected: Vec<String> = catalog()
            .models
            .iter()
            .filter(|m| m.category.own_route().is_none())
            .map(|m| m.id.clone())
            .collect();
        assert_eq!(seen, expected);

        // before_id pages backwards.
        let back = anthropic_list(catalog(), |_| true, &query(Some("3"), None, Some(&expected[5]))).unwrap();
        assert_eq!(ids(&back), expected[2..5]);
        assert_eq!(back["has_more"], true);
        let start = anthropic_list(catalog(), |_| true, &query(Some("3"), None, Some(&expected[1]))).unwrap();
        assert_eq!(
            (ids(&start), start["has_more"].clone()),
            (expected[0..1].to_vec(), json!(false))
        );
    }

    #[test]
    fn bad_paging_is_a_400_and_the_filter_applies() {
        for (limit, after, before) in [
            (Some("0"), None, None),
            (Some("1001"), None, None),
            (Some("x"), None, None),
            (None, Some("nope"), None),
            (None, Some("gpt-4o"), Some("gpt-4o")),
        ] {
            let error = anthropic_list(catalog(), |_| true, &query(limit, after, before)).unwrap_err();
            assert_eq!(error.status(), 400);
        }
        let page = anthropic_list(catalog(), |m| m.id == "claude-haiku-4.5", &ListQuery::default()).unwrap();
        assert_eq!(ids(&page), ["claude-haiku-4.5"]);
        assert_eq!(page["has_more"], false);
        let empty = anthropic_list(catalog(), |_| false, &ListQuery::default()).unwrap();
        assert_eq!(
            empty,
            json!({"data": [], "has_more": false, "first_id": null, "last_id": null})
        );
        assert!(
            !ids(&anthropic_list(catalog(), |_| true, &query(Some("1000"), None, None)).unwrap())
                .contains(&"flux-schnell".to_owned())
        );
    }

    #[test]
    fn created_at_is_the_openai_lists_created() {
        let parsed = chrono::DateTime::parse_from_rfc3339(CREATED_AT).unwrap();
        assert_eq!(parsed.timestamp() as u64, crate::catalog::routes::CATALOG_EPOCH);
    }

    #[test]
    fn one_model_by_id_or_alias() {
        let model = anthropic_model_by_id(catalog(), "claude-haiku-4-5-20251001").unwrap();
        assert_eq!(model["id"], "claude-haiku-4.5");
        assert_eq!(model["max_input_tokens"], 200_000);
        assert_eq!(
            anthropic_model_by_id(catalog(), "nope").unwrap_err().status(),
            404
        );
        assert_eq!(
            anthropic_model_by_id(catalog(), "flux-schnell")
                .unwrap_err()
                .status(),
            404
        );
        assert!(
            wants_anthropic_shape(Some("2023-06-01"))
                && !wants_anthropic_shape(None)
                && !wants_anthropic_shape(Some(" "))
        );
    }

    /// The ids Claude Code and the Anthropic SDKs send (notes/claude-code.md), and where they go.
    #[test]
    fn claude_codes_model_ids_resolve_to_current_anthropic_models() {
        let catalog = catalog();
        for (id, upstream) in [
            ("claude-opus-5-5", "claude-opus-5-5"),
            ("claude-sonnet-5-5", "claude-sonnet-5-5"),
            ("claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"),
            ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
            ("claude-3-5-haiku-20241022", "claude-haiku-4-5-20251001"),
            ("claude-sonnet-4-6", "claude-sonnet-4-6"),
            // Retired at Anthropic: served by a current model that takes the same request shape.
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-6"),
            ("claude-sonnet-4-5", "claude-sonnet-4-6"),
            ("claude-sonnet-4-20250514", "claude-sonnet-4-6"),
            ("claude-3-7-sonnet-20250219", "claude-sonnet-4-6"),
            ("claude-3-5-sonnet-20241022", "claude-sonnet-4-6"),
            ("claude-opus-4-20250514", "claude-opus-4-6"),
            ("claude-opus-4-1-20250805", "claude-opus-4-6"),
            ("claude-opus-4-1", "claude-opus-4-6"),
            ("claude-opus-4-5-20251101", "claude-opus-4-5-20251101"),
        ] {
            let model = catalog
                .model(id)
                .unwrap_or_else(|| panic!("{id} does not resolve"));
            assert_eq!(model.upstream_id, upstream, "{id}");
            assert_eq!(catalog.provider(&model.provider).unwrap().id, "anthropic", "{id}");
        }
    }
}
