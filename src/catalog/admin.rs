//! The operator's catalog API (`/admin/models…`) and the key pools' health (`/admin/keys`).
//! Every edit is checked against the whole catalog before it is stored (a price below its cache
//! price, an alias taken, a route to an unknown provider are 400s), and is in force for every
//! request admitted after it, in every isolate (`live`).

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use super::live::{self, Edit};
use super::{Catalog, ModelRow};
use crate::admin::require_admin;
use crate::app::App;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::{http, time};

/// An authorized operator's JSON body.
async fn admin_body<T: for<'de> Deserialize<'de>>(req: &mut Request, app: &App) -> ApiResult<T> {
    let raw = http::read_body_capped(req, app.config.max_json_body_bytes).await?;
    require_admin(req, app).await?;
    http::parse_json(&raw)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, "invalid_catalog_edit", message.into())
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "model_not_found",
        format!("No model `{id}` in the catalog."),
    )
}

/// The stored edits and the catalog they make, as D1 has them now.
async fn stored(db: &Db) -> ApiResult<(Vec<(String, Edit)>, Catalog)> {
    let (_, rows) = db.catalog_edits().await?;
    let edits = live::parse_rows(rows);
    let (catalog, _) = live::apply(Catalog::embedded()?, &edits, false).map_err(ApiError::internal)?;
    Ok((edits, catalog))
}

/// Checks `edit` as `id`'s new edit against every other stored one, stores it, and answers with
/// the model as it now is.
async fn store(db: &Db, edits: Vec<(String, Edit)>, id: &str, edit: Edit) -> ApiResult<Response> {
    let mut trial: Vec<(String, Edit)> = edits.into_iter().filter(|(other, _)| other != id).collect();
    if !edit.is_empty() {
        trial.push((id.to_owned(), edit.clone()));
    }
    let (catalog, _) = live::apply(Catalog::embedded()?, &trial, true).map_err(invalid)?;
    let stored = (!edit.is_empty())
        .then(|| serde_json::to_string(&edit))
        .transpose()
        .map_err(ApiError::internal)?;
    db.put_catalog_edit(id, stored.as_deref(), time::now_secs())
        .await?;
    http::json(200, &model_view(&catalog, id, &edit))
}

fn model_view(catalog: &Catalog, id: &str, edit: &Edit) -> Value {
    let model = catalog.model(id);
    json!({
        "id": id,
        "enabled": model.is_some(),
        "model": model.map(|m| super::routes::openai_model(m)),
        "routes": model.map(|m| m.routes.clone()),
        "aliases": model.map(|m| m.aliases.clone()),
        "override": edit,
    })
}

/// The canonical id of a model the operator names (an alias names its model). A model the
/// operator disabled is found by the id of its edit.
fn canonical_id(catalog: &Catalog, edits: &[(String, Edit)], id: &str) -> Option<String> {
    catalog
        .model(id)
        .map(|m| m.id.clone())
        .or_else(|| {
            edits
                .iter()
                .find(|(edited, _)| edited.eq_ignore_ascii_case(id))
                .map(|(edited, _)| edited.clone())
        })
        .or_else(|| Catalog::embedded().ok()?.model(id).map(|m| m.id.clone()))
}

/// `GET /admin/models`: every stored edit, oldest first.
pub async fn list(req: Request, app: &App) -> ApiResult<Response> {
    require_admin(&req, app).await?;
    let db = Db::from_env(&app.env)?;
    let (version, rows) = db.catalog_edits().await?;
    let overrides: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let edit: Value = serde_json::from_slice(row.edit.as_bytes()).unwrap_or(Value::Null);
            json!({"id": row.model_id, "override": edit, "updated_at": row.updated_at})
        })
        .collect();
    http::json(200, &json!({"version": version, "overrides": overrides}))
}

/// `PUT /admin/models/{id}`: a partial edit; the fields sent change, the others keep theirs.
pub async fn edit(mut req: Request, app: &App, id: &str) -> ApiResult<Response> {
    let change: Edit = admin_body(&mut req, app).await?;
    if change.added.is_some() || !change.aliases.is_empty() {
        return Err(invalid(
            "PUT changes prices, `enabled`, `upstream_id` and `routes`; add models with POST /admin/models and aliases with POST /admin/models/{id}/aliases.",
        ));
    }
    if change.is_empty() {
        return Err(invalid("Nothing to change: send at least one field."));
    }
    let db = Db::from_env(&app.env)?;
    let (edits, catalog) = stored(&db).await?;
    let id = canonical_id(&catalog, &edits, id).ok_or_else(|| not_found(id))?;
    let before = edits
        .iter()
        .find(|(edited, _)| *edited == id)
        .map(|(_, e)| e.clone())
        .unwrap_or_default();
    store(&db, edits, &id, before.merged(change)).await
}

/// `DELETE /admin/models/{id}`: the catalog's own model again (a model the operator added is
/// removed).
pub async fn drop_edit(req: Request, app: &App, id: &str) -> ApiResult<Response> {
    require_admin(&req, app).await?;
    let db = Db::from_env(&app.env)?;
    let (edits, catalog) = stored(&db).await?;
    let id = canonical_id(&catalog, &edits, id).ok_or_else(|| not_found(id))?;
    if !edits.iter().any(|(edited, _)| *edited == id) {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "override_not_found",
            format!("`{id}` has no override."),
        ));
    }
    store(&db, edits, &id, Edit::default()).await
}

/// `POST /admin/models`: a model of a provider the catalog has, with the `/api/models` fields
/// plus `provider` and `upstream_id` (and optional `fallbacks` routes).
pub async fn add(mut req: Request, app: &App) -> ApiResult<Response> {
    let row: ModelRow = admin_body(&mut req, app).await?;
    let db = Db::from_env(&app.env)?;
    let (edits, catalog) = stored(&db).await?;
    if catalog.model(&row.id).is_some() || Catalog::embedded()?.model(&row.id).is_some() {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "model_exists",
            format!(
                "`{}` is in the catalog already; PUT /admin/models/{} edits it.",
                row.id, row.id
            ),
        ));
    }
    let id = row.id.clone();
    let edit = Edit {
        added: Some(row),
        ..Edit::default()
    };
    store(&db, edits, &id, edit).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasRequest {
    alias: String,
}

/// `POST /admin/models/{id}/aliases {"alias"}`.
pub async fn add_alias(mut req: Request, app: &App, id: &str) -> ApiResult<Response> {
    let body: AliasRequest = admin_body(&mut req, app).await?;
    let alias = body.alias.trim().to_owned();
    if alias.is_empty() || alias.len() > 100 || alias.chars().any(char::is_whitespace) {
        return Err(invalid("`alias` must be 1-100 characters without spaces."));
    }
    let db = Db::from_env(&app.env)?;
    let (edits, catalog) = stored(&db).await?;
    let id = catalog
        .model(id)
        .map(|m| m.id.clone())
        .ok_or_else(|| not_found(id))?;
    let before = edits
        .iter()
        .find(|(edited, _)| *edited == id)
        .map(|(_, e)| e.clone())
        .unwrap_or_default();
    let change = Edit {
        aliases: vec![alias],
        ..Edit::default()
    };
    store(&db, edits, &id, before.merged(change)).await
}

/// `DELETE /admin/models/{id}/aliases/{alias}`: an alias the operator added.
pub async fn remove_alias(req: Request, app: &App, id: &str, alias: &str) -> ApiResult<Response> {
    require_admin(&req, app).await?;
    let db = Db::from_env(&app.env)?;
    let (edits, catalog) = stored(&db).await?;
    let id = canonical_id(&catalog, &edits, id).ok_or_else(|| not_found(id))?;
    let mut edit = edits
        .iter()
        .find(|(edited, _)| *edited == id)
        .map(|(_, e)| e.clone())
        .unwrap_or_default();
    let before = edit.aliases.len();
    edit.aliases.retain(|a| !a.eq_ignore_ascii_case(alias));
    if edit.aliases.len() == before {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "alias_not_found",
            format!(
                "`{alias}` is not an alias the operator added to `{id}` (the catalog's own aliases stay)."
            ),
        ));
    }
    store(&db, edits, &id, edit).await
}

/// `GET /admin/keys`: for every configured provider, its keys by fingerprint and what the
/// pool's shared state says of each (`ok`, `resting` with seconds left, `out`).
pub async fn key_health(req: Request, app: &App) -> ApiResult<Response> {
    require_admin(&req, app).await?;
    let now_ms = time::now_ms();
    let mut providers = Vec::new();
    for provider in &Catalog::embedded()?.providers {
        let Some(credentials) = app
            .config
            .provider(&provider.id)
            .filter(|c| !c.api_keys.is_empty())
        else {
            continue;
        };
        let shared = crate::providers::keys::shared_state(&app.env, &provider.id, now_ms)
            .await
            .map_err(|e| ApiError::internal(format!("key health of {}: {e}", provider.id)))?;
        let keys: Vec<Value> = credentials
            .api_keys
            .iter()
            .map(|key| {
                let fingerprint = crate::providers::keys::fingerprint(key);
                match shared.keys.get(&fingerprint) {
                    Some(state) if state.out => json!({"fingerprint": fingerprint, "state": "out",
                        "back_in_secs": state.until_ms.saturating_sub(now_ms).div_ceil(1000)}),
                    Some(state) => json!({"fingerprint": fingerprint, "state": "resting",
                        "back_in_secs": state.until_ms.saturating_sub(now_ms).div_ceil(1000)}),
                    None => json!({"fingerprint": fingerprint, "state": "ok"}),
                }
            })
            .collect();
        providers.push(json!({"provider": provider.id, "keys": keys}));
    }
    http::json(200, &json!({"providers": providers}))
}
