//! Stored responses, as OpenAI's `store` (default `true`) promises: a response and its input
//! are kept for their owner for 30 days, so `previous_response_id` continues a conversation on
//! every model (the gateway rebuilds the history; the upstream never sees the id), and
//! `GET /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` and `DELETE` work.
//!
//! Layout: the body (every input item the model saw, history included, and the `response`
//! object as the client got it) is one JSON object in R2 under `responses/{user_id}/{id}.json`;
//! D1's `responses` table (the repo's schema.sql) indexes it by id and owner. Storing the
//! whole input with each response makes a continuation one R2 read however long the chain.
//!
//! The pure parts (what is stored, the chain, the list page) are tested natively; the D1 and
//! R2 calls at the bottom are thin.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use wasm_bindgen::JsValue;

use super::types::Parsed;
use crate::error::{ApiError, ApiResult, ErrorKind};

/// The R2 binding the bodies live in (`responses/` keys, next to the uploads).
pub const BUCKET: &str = "UPLOADS";
/// How long a stored response is kept.
pub const RETENTION_SECS: i64 = 30 * 24 * 60 * 60;
/// `input_items` page size: default and maximum (OpenAI's).
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
const BODY_VERSION: u32 = 1;

/// The R2 object of a stored response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBody {
    pub version: u32,
    /// Every item the model saw as input, history first, as the client (or an earlier
    /// response) wrote it.
    pub input: Vec<Value>,
    /// The `response` object as the client got it: output, usage, status, settings.
    pub response: Value,
}

/// A row of the D1 index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseRow {
    pub id: String,
    pub user_id: i64,
    /// The catalog id of the model that answered.
    pub model: String,
    pub status: String,
    pub previous_response_id: Option<String>,
    pub r2_key: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn r2_key(user_id: i64, response_id: &str) -> String {
    format!("responses/{user_id}/{response_id}.json")
}

impl StoredBody {
    /// What a continuation of this response starts from: its input, then its output.
    pub fn history(&self) -> Vec<Value> {
        let mut items = self.input.clone();
        if let Some(output) = self.response.get("output").and_then(Value::as_array) {
            items.extend(output.iter().cloned());
        }
        items
    }
}

/// What to keep for a finished response. `conversation` is what `conversation()` built for
/// the request; `response` the final `response` object. `None` when it should not be kept: the
/// client said `store: false`, or the response has no id.
pub fn record(
    user_id: i64,
    model: &str,
    now: i64,
    conversation: Vec<Value>,
    response: Value,
) -> Option<(ResponseRow, StoredBody)> {
    if response.get("store").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let id = response.get("id").and_then(Value::as_str)?.to_owned();
    let row = ResponseRow {
        r2_key: r2_key(user_id, &id),
        user_id,
        model: model.to_owned(),
        status: response
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("completed")
            .to_owned(),
        previous_response_id: response
            .get("previous_response_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created_at: now,
        expires_at: now + RETENTION_SECS,
        id,
    };
    let body = StoredBody {
        version: BODY_VERSION,
        input: conversation,
        response,
    };
    Some((row, body))
}

/// The items the model sees for this request: the history of the previous response (if any),
/// then the request's own input, with `item_reference`s replaced by the items they name (an
/// upstream called with `store: false` could not resolve them). A string input becomes one user
/// message; a message without `type` gets one, as OpenAI lists it.
pub fn conversation(parsed: &Parsed, previous: Option<&StoredBody>) -> ApiResult<Vec<Value>> {
    let mut items = previous.map(StoredBody::history).unwrap_or_default();
    let own: Vec<Value> = match parsed.raw.get("input") {
        Some(Value::String(text)) => vec![json!({
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        })],
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    };
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            by_id.insert(id.to_owned(), index);
        }
    }
    for (i, mut item) in own.into_iter().enumerate() {
        if item.get("type").and_then(Value::as_str) == Some("item_reference") {
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            let Some(&index) = by_id.get(id) else {
                return Err(ApiError::bad_request(
                    format!("input[{i}]"),
                    format!("Item with id '{id}' not found. An `item_reference` can name an item of the `previous_response_id` chain or of this input."),
                ));
            };
            item = items.get(index).cloned().unwrap_or(Value::Null);
        } else if let Some(map) = item.as_object_mut() {
            if map.get("type").is_none_or(Value::is_null) {
                map.insert("type".into(), json!("message"));
            }
        }
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            by_id.insert(id.to_owned(), items.len());
        }
        items.push(item);
    }
    Ok(items)
}

// ---- errors

pub fn response_not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "not_found",
        format!("Response with id '{id}' not found."),
    )
}

/// An unknown, expired, unstored or someone else's `previous_response_id` (OpenAI's answer):
/// a 400 before any upstream call.
pub fn previous_not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorKind::BadRequest,
        "previous_response_not_found",
        format!("Previous response with id '{id}' not found."),
    )
    .with_param("previous_response_id")
}

// ---- input_items

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// The query of `GET /v1/responses/{id}/input_items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsQuery {
    pub limit: usize,
    pub order: Order,
    pub after: Option<String>,
}

impl ItemsQuery {
    /// From `limit`, `order` and `after` (`include` is accepted and has nothing to add).
    pub fn parse(pairs: &[(String, String)]) -> ApiResult<ItemsQuery> {
        let mut query = ItemsQuery {
            limit: DEFAULT_PAGE,
            order: Order::Desc,
            after: None,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => {
                    query.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE).contains(n))
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                "limit",
                                format!("`limit` must be between 1 and {MAX_PAGE}."),
                            )
                        })?;
                }
                "order" => {
                    query.order = match value.as_str() {
                        "asc" => Order::Asc,
                        "desc" => Order::Desc,
                        _ => return Err(ApiError::bad_request("order", "`order` is `asc` or `desc`.")),
                    }
                }
                "after" => query.after = Some(value.clone()).filter(|v| !v.is_empty()),
                "include" | "include[]" => {}
                other => {
                    return Err(ApiError::bad_request(
                        other.to_owned(),
                        format!("Unknown parameter: '{other}'."),
                    ))
                }
            }
        }
        Ok(query)
    }
}

/// The id shown for a stored input item: its own, or one derived from its place (stable, so
/// `after` pages through items that came without an id).
fn listed_id(item: &Value, response_id: &str, index: usize) -> String {
    if let Some(id) = item.get("id").and_then(Value::as_str) {
        return id.to_owned();
    }
    let prefix = match item.get("type").and_then(Value::as_str) {
        Some("message") | None => "msg",
        Some("function_call_output") => "fco",
        Some("function_call") => "fc",
        Some(_) => "item",
    };
    let suffix = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{suffix}i{index:05}")
}

/// A page of a stored response's input items, in OpenAI's list shape
/// (`object`, `data`, `first_id`, `last_id`, `has_more`).
pub fn input_items_page(body: &StoredBody, response_id: &str, query: &ItemsQuery) -> ApiResult<Value> {
    let mut listed: Vec<Value> = body
        .input
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let mut item = item.clone();
            if let Some(map) = item.as_object_mut() {
                if !map.contains_key("id") {
                    let id = listed_id(&Value::Object(map.clone()), response_id, index);
                    let mut with_id = Map::new();
                    with_id.insert("id".into(), json!(id));
                    with_id.extend(std::mem::take(map));
                    *map = with_id;
                }
            }
            item
        })
        .collect();
    if query.order == Order::Desc {
        listed.reverse();
    }
    let start = match &query.after {
        None => 0,
        Some(after) => {
            listed
                .iter()
                .position(|item| item.get("id").and_then(Value::as_str) == Some(after.as_str()))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "after",
                        format!("No input item with id '{after}' in this response."),
                    )
                })?
                + 1
        }
    };
    let rest = listed.get(start..).unwrap_or_default();
    let data: Vec<Value> = rest.iter().take(query.limit).cloned().collect();
    let id_of = |item: Option<&Value>| item.and_then(|i| i.get("id")).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "object": "list",
        "data": data,
        "first_id": id_of(data.first()),
        "last_id": id_of(data.last()),
        "has_more": rest.len() > data.len(),
    }))
}

/// `DELETE /v1/responses/{id}`'s answer.
pub fn deleted(id: &str) -> Value {
    json!({"id": id, "object": "response.deleted", "deleted": true})
}

// ---- D1 (the `responses` table of schema.sql)

fn int(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn opt_text(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, text)
}

fn d1_error(what: &'static str) -> impl Fn(worker::Error) -> ApiError {
    move |e| ApiError::internal(format!("D1 responses {what}: {e}"))
}

pub const INSERT_SQL: &str =
    "INSERT INTO responses (id, user_id, model, status, previous_response_id, r2_key, created_at, expires_at)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
 ON CONFLICT (id) DO NOTHING";
/// Only the owner's, and only while it is kept.
pub const SELECT_SQL: &str =
    "SELECT id, user_id, model, status, previous_response_id, r2_key, created_at, expires_at FROM responses
 WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3";
pub const DELETE_SQL: &str =
    "DELETE FROM responses WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3 RETURNING r2_key";
pub const DELETE_EXPIRED_SQL: &str = "DELETE FROM responses WHERE id IN
 (SELECT id FROM responses WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2) RETURNING r2_key";

/// Indexes a stored response. `false` when the id was already taken (an upstream reusing ids):
/// the first owner keeps it.
pub async fn insert_row(db: &worker::D1Database, row: &ResponseRow) -> ApiResult<bool> {
    let result = db
        .prepare(INSERT_SQL)
        .bind(&[
            text(&row.id),
            int(row.user_id),
            text(&row.model),
            text(&row.status),
            opt_text(row.previous_response_id.as_deref()),
            text(&row.r2_key),
            int(row.created_at),
            int(row.expires_at),
        ])
        .map_err(d1_error("bind"))?
        .run()
        .await
        .map_err(d1_error("insert"))?;
    Ok(result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) == 1)
}

/// The owner's response `id`, if it is still kept; another user's is `None`, like a missing one.
pub async fn row(
    db: &worker::D1Database,
    user_id: i64,
    id: &str,
    now: i64,
) -> ApiResult<Option<ResponseRow>> {
    db.prepare(SELECT_SQL)
        .bind(&[text(id), int(user_id), int(now)])
        .map_err(d1_error("bind"))?
        .first::<ResponseRow>(None)
        .await
        .map_err(d1_error("select"))
}

/// Removes the owner's response from the index, returning its R2 key.
pub async fn delete_row(
    db: &worker::D1Database,
    user_id: i64,
    id: &str,
    now: i64,
) -> ApiResult<Option<String>> {
    #[derive(Deserialize)]
    struct Key {
        r2_key: String,
    }
    let key: Option<Key> = db
        .prepare(DELETE_SQL)
        .bind(&[text(id), int(user_id), int(now)])
        .map_err(d1_error("bind"))?
        .first(None)
        .await
        .map_err(d1_error("delete"))?;
    Ok(key.map(|k| k.r2_key))
}

/// For the sweeper: removes up to `limit` expired rows, returning their R2 keys.
pub async fn delete_expired(db: &worker::D1Database, now: i64, limit: i64) -> ApiResult<Vec<String>> {
    #[derive(Deserialize)]
    struct Key {
        r2_key: String,
    }
    let result = db
        .prepare(DELETE_EXPIRED_SQL)
        .bind(&[int(now), int(limit)])
        .map_err(d1_error("bind"))?
        .all()
        .await
        .map_err(d1_error("sweep"))?;
    let keys: Vec<Key> = result.results().map_err(d1_error("rows"))?;
    Ok(keys.into_iter().map(|k| k.r2_key).collect())
}

// ---- R2

fn r2_error(what: &'static str) -> impl Fn(worker::Error) -> ApiError {
    move |e| ApiError::internal(format!("R2 responses {what}: {e}"))
}

pub async fn put_body(bucket: &worker::Bucket, key: &str, body: &StoredBody) -> ApiResult<()> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    bucket.put(key, bytes).execute().await.map_err(r2_error("put"))?;
    Ok(())
}

pub async fn get_body(bucket: &worker::Bucket, key: &str) -> ApiResult<Option<StoredBody>> {
    let Some(object) = bucket.get(key).execute().await.map_err(r2_error("get"))? else {
        return Ok(None);
    };
    let Some(body) = object.body() else {
        return Ok(None);
    };
    let bytes = body.bytes().await.map_err(r2_error("read"))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("R2 responses body {key} is not a stored response: {e}")))
}

pub async fn delete_body(bucket: &worker::Bucket, key: &str) -> ApiResult<()> {
    bucket.delete(key).await.map_err(r2_error("delete"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::responses::types::parse;

    fn parsed(body: Value) -> Parsed {
        parse(body.to_string().as_bytes()).unwrap()
    }

    fn stored(input: Vec<Value>, output: Vec<Value>) -> StoredBody {
        StoredBody {
            version: 1,
            input,
            response: json!({"id": "resp_prev", "object": "response", "store": true, "output": output}),
        }
    }

    #[test]
    fn a_chain_is_the_previous_input_then_its_output_then_the_new_input() {
        let previous = stored(
            vec![
                json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"}]}),
            ],
            vec![
                json!({"type": "message", "id": "msg_a", "role": "assistant", "content": [{"type": "output_text", "text": "1"}]}),
            ],
        );
        let request = parsed(json!({"model": "m", "input": "two", "previous_response_id": "resp_prev"}));
        let items = conversation(&request, Some(&previous)).unwrap();
        let texts: Vec<&str> = items
            .iter()
            .map(|i| i["content"][0]["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["one", "1", "two"]);
        assert_eq!(items[2]["type"], "message");
        assert_eq!(items[2]["role"], "user");
    }

    #[test]
    fn item_references_are_replaced_by_the_items_they_name() {
        let previous = stored(
            vec![],
            vec![
                json!({"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"}),
            ],
        );
        let request = parsed(
            json!({"model": "m", "previous_response_id": "resp_prev", "input": [
                {"type": "item_reference", "id": "fc_1"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
                {"role": "user", "content": "thanks"}
            ]}),
        );
        let items = conversation(&request, Some(&previous)).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[1]["type"], "function_call");
        assert_eq!(items[1]["call_id"], "c1");
        assert_eq!(items[3]["type"], "message");

        let dangling = parsed(
            json!({"model": "m", "input": [{"role": "user", "content": "x"}, {"type": "item_reference", "id": "fc_nope"}]}),
        );
        let error = conversation(&dangling, None).unwrap_err();
        assert_eq!((error.status(), error.param.as_deref()), (400, Some("input[1]")));
    }

    #[test]
    fn store_false_keeps_nothing_and_a_kept_response_expires_in_30_days() {
        let response = json!({"id": "resp_1", "store": false, "status": "completed", "output": []});
        assert!(record(7, "gpt-4o-mini", 1_000, vec![], response).is_none());
        let response = json!({"id": "resp_1", "store": true, "status": "incomplete", "previous_response_id": "resp_0", "output": []});
        let (row, body) = record(
            7,
            "gpt-4o-mini",
            1_000,
            vec![json!({"type": "message"})],
            response.clone(),
        )
        .unwrap();
        assert_eq!(
            row,
            ResponseRow {
                id: "resp_1".into(),
                user_id: 7,
                model: "gpt-4o-mini".into(),
                status: "incomplete".into(),
                previous_response_id: Some("resp_0".into()),
                r2_key: "responses/7/resp_1.json".into(),
                created_at: 1_000,
                expires_at: 1_000 + 2_592_000,
            }
        );
        assert_eq!(body.response, response);
        assert_eq!(body.input.len(), 1);
        // The R2 body round-trips.
        let bytes = serde_json::to_vec(&body).unwrap();
        assert_eq!(serde_json::from_slice::<StoredBody>(&bytes).unwrap(), body);
    }

    fn numbered(n: usize) -> StoredBody {
        stored(
            (0..n)
                .map(|i| json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": i.to_string()}]}))
                .collect(),
            vec![],
        )
    }

    fn query(pairs: &[(&str, &str)]) -> ApiResult<ItemsQuery> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ItemsQuery::parse(&pairs)
    }

    #[test]
    fn input_items_page_newest_first_with_cursors() {
        let body = numbered(5);
        let first = input_items_page(&body, "resp_abc", &query(&[("limit", "2")]).unwrap()).unwrap();
        assert_eq!(first["object"], "list");
        let texts = |page: &Value| -> Vec<String> {
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["content"][0]["text"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(texts(&first), ["4", "3"]);
        assert_eq!(first["has_more"], true);
        assert_eq!(first["first_id"], first["data"][0]["id"]);
        let last_id = first["last_id"].as_str().unwrap().to_owned();
        assert!(last_id.starts_with("msg_abc"), "{last_id}");
        // The listed id comes first, as OpenAI lists it.
        assert_eq!(first["data"][0].as_object().unwrap().keys().next().unwrap(), "id");

        let second = input_items_page(
            &body,
            "resp_abc",
            &query(&[("limit", "2"), ("after", &last_id)]).unwrap(),
        )
        .unwrap();
        assert_eq!(texts(&second), ["2", "1"]);
        let third = input_items_page(
            &body,
            "resp_abc",
            &query(&[("limit", "2"), ("after", second["last_id"].as_str().unwrap())]).unwrap(),
        )
        .unwrap();
        assert_eq!(texts(&third), ["0"]);
        assert_eq!(third["has_more"], false);

        let ascending = input_items_page(&body, "resp_abc", &query(&[("order", "asc")]).unwrap()).unwrap();
        assert_eq!(texts(&ascending), ["0", "1", "2", "3", "4"]);
        assert_eq!(ascending["has_more"], false);

        let empty = input_items_page(&numbered(0), "resp_abc", &query(&[]).unwrap()).unwrap();
        assert_eq!(
            empty,
            json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false})
        );
    }

    #[test]
    fn items_keep_their_own_ids_and_bad_queries_are_named() {
        let body = stored(
            vec![json!({"type": "function_call_output", "id": "fco_9", "call_id": "c", "output": "x"})],
            vec![],
        );
        let page = input_items_page(&body, "resp_abc", &query(&[]).unwrap()).unwrap();
        assert_eq!(page["first_id"], "fco_9");
        for (pairs, param) in [
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "101")], "limit"),
            (vec![("limit", "x")], "limit"),
            (vec![("order", "sideways")], "order"),
            (vec![("colour", "red")], "colour"),
        ] {
            assert_eq!(query(&pairs).unwrap_err().param.as_deref(), Some(param));
        }
        let missing =
            input_items_page(&body, "resp_abc", &query(&[("after", "msg_nope")]).unwrap()).unwrap_err();
        assert_eq!(missing.param.as_deref(), Some("after"));
    }

    #[test]
    fn the_sql_binds_every_placeholder_it_uses() {
        for (sql, args) in [
            (INSERT_SQL, 8),
            (SELECT_SQL, 3),
            (DELETE_SQL, 3),
            (DELETE_EXPIRED_SQL, 2),
        ] {
            for n in 1..=args {
                assert!(sql.contains(&format!("?{n}")), "{sql} lacks ?{n}");
            }
            assert!(!sql.contains(&format!("?{}", args + 1)), "{sql}");
        }
        // Ownership is part of every read and delete.
        assert!(SELECT_SQL.contains("user_id = ?2") && DELETE_SQL.contains("user_id = ?2"));
    }

    #[test]
    fn errors_are_the_ones_openai_gives() {
        let missing = previous_not_found("resp_x");
        assert_eq!(
            (missing.status(), missing.param.as_deref()),
            (400, Some("previous_response_id"))
        );
        assert_eq!(missing.code, "previous_response_not_found");
        assert_eq!(response_not_found("resp_x").status(), 404);
        assert_eq!(
            deleted("resp_x"),
            json!({"id": "resp_x", "object": "response.deleted", "deleted": true})
        );
    }
}
