//! The handlers of `/api/chat/upload` and `/api/files`, and the JSON they answer with.

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{Request, Response};

use super::multipart;
use super::sniff::{self, Kind};
use super::store::{self, MAX_FILE_BYTES};
use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::db::{Db, FileRow};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::client::{self, Throttle};
use crate::{http, time};

/// Room for the multipart framing around the file.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

fn over_quota(quota: u64, stored: i64, size: usize) -> ApiError {
    ApiError::new(
        ErrorKind::Forbidden,
        "storage_quota_exceeded",
        format!(
            "This upload would exceed your storage quota of {quota} bytes (UPLOAD_QUOTA_BYTES): {stored} bytes are stored{}. Delete files to make room.",
            if size > 0 { format!(" and the file has {size}") } else { String::new() }
        ),
    )
    .with_param("file")
}

/// `POST /api/chat/upload`, multipart field `file`. At most `UPLOADS_PER_HOUR` uploads per user
/// and `UPLOAD_QUOTA_BYTES` of files kept.
pub async fn upload(mut req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    let content_type = req
        .headers()
        .get("Content-Type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let boundary = multipart::boundary(&content_type).map_err(|e| {
        ApiError::new(ErrorKind::UnsupportedMediaType, "not_multipart", e.describe()).with_param("file")
    })?;
    let body = http::read_body_capped(&mut req, MAX_FILE_BYTES + MULTIPART_OVERHEAD)
        .await
        .map_err(|e| if e.status() == 413 { too_large() } else { e })?;
    // The limits are checked after the body is read: answering before would leave the client
    // writing into a closed request.
    principal.require_scope(Scope::Files)?;
    let now = time::now_secs();
    let rate = Throttle {
        limit: app.config.uploads_per_hour,
        window_secs: 3600,
    }
    .take(&app.env, &format!("uploads:{}", principal.user.id), now)
    .await?;
    if rate.blocked {
        return Err(client::throttled(
            "too_many_uploads",
            format!(
                "At most {} uploads an hour (UPLOADS_PER_HOUR); retry in {} s.",
                app.config.uploads_per_hour, rate.retry_after
            ),
            rate.retry_after,
        ));
    }
    let quota = app.config.upload_quota_bytes;
    let quota_i64 = i64::try_from(quota).unwrap_or(i64::MAX);
    let stored = db.stored_bytes(principal.user.id).await?;
    if stored >= quota_i64 {
        return Err(over_quota(quota, stored, 0));
    }
    let parts = multipart::parts(&body, &boundary).map_err(|e| {
        ApiError::new(ErrorKind::BadRequest, "invalid_multipart", e.describe()).with_param("file")
    })?;
    let part = parts
        .into_iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| ApiError::bad_request("file", "The multipart body has no `file` field."))?;
    if part.data.is_empty() {
        return Err(ApiError::bad_request("file", "The file is empty."));
    }
    if part.data.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    if stored.saturating_add(part.data.len() as i64) > quota_i64 {
        return Err(over_quota(quota, stored, part.data.len()));
    }
    let raw_name = part.file_name.clone().unwrap_or_default();
    let kind = sniff::check(part.data, part.content_type.as_deref(), &raw_name).map_err(|why| {
        ApiError::new(ErrorKind::UnsupportedMediaType, "unsupported_file_type", why).with_param("file")
    })?;
    let name = sniff::sanitize_file_name(&raw_name, kind);

    let (text, pages, warning) = match kind {
        Kind::Pdf => store::pdf_text(part.data),
        _ => (String::new(), None, None),
    };
    let id = http::random_hex(12);
    let key = store::object_key(principal.user.id, &id);
    let bucket = store::bucket(&app.env)?;
    let pdf_text = (kind == Kind::Pdf).then(|| text.clone());
    store::put_objects(&bucket, &key, part.data, pdf_text).await?;
    let row = FileRow {
        id: id.clone(),
        user_id: principal.user.id,
        r2_key: key,
        name,
        file_type: kind.file_kind(),
        mime_type: kind.mime().to_owned(),
        size: part.data.len() as i64,
        sha256: hex::encode(Sha256::digest(part.data)),
        pages: pages.map(|p| p as i64),
        warning,
        created_at: time::now_secs(),
    };
    // The quota is decided by the insert itself: parallel uploads can't together pass it.
    let recorded = db.insert_file(&row, quota_i64).await;
    if !matches!(recorded, Ok(true)) {
        // Nothing half-created: the objects go when the row can't be written.
        store::discard_objects(&bucket, &row.r2_key).await;
        return Err(match recorded {
            Err(error) => error,
            _ => over_quota(quota, db.stored_bytes(principal.user.id).await?, part.data.len()),
        });
    }
    let content = match kind {
        Kind::Pdf => text,
        _ => store::data_url(kind.mime(), part.data),
    };
    http::json(200, &file_json(&row, Some(content)))
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        "file_too_large",
        format!("A file may be at most {MAX_FILE_BYTES} bytes (10 MiB)."),
    )
    .with_param("file")
}

fn file_json(row: &FileRow, content: Option<String>) -> Value {
    let mut body = json!({
        "file_id": row.id,
        "file_name": row.name,
        "file_type": row.file_type.as_str(),
        "mime_type": row.mime_type,
        "size": row.size,
    });
    if let Some(content) = content {
        body["content"] = json!(content);
    }
    body["sha256"] = json!(row.sha256);
    body["created_at"] = json!(time::iso8601(row.created_at));
    if let Some(pages) = row.pages {
        body["pages"] = json!(pages);
    }
    if let Some(warning) = &row.warning {
        body["warning"] = json!(warning);
    }
    body
}

#[derive(Debug, Deserialize)]
struct Page {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /api/files`: the caller's uploads, newest first, paginated.
pub async fn list(req: Request, app: &App, principal: &Principal) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_scope(Scope::Files)?;
    let page: Page = req
        .query()
        .map_err(|_| ApiError::bad_request("limit", "`limit` must be a whole number."))?;
    let limit = page.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit", "`limit` must be from 1 to 100."));
    }
    let cursor = page
        .cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::bad_request("cursor", "`cursor` is not a cursor from this API."))
        })
        .transpose()?;
    let mut rows = db.files_of(principal.user.id, cursor, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(20));
    let next_cursor = if more {
        rows.last().map(|r| r.seq.to_string())
    } else {
        None
    };
    let files: Vec<Value> = rows.iter().map(|r| file_json(&r.file, None)).collect();
    http::json(200, &json!({ "files": files, "next_cursor": next_cursor }))
}

/// `GET /api/files/{id}`: metadata and the content as at upload.
pub async fn get(app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_scope(Scope::Files)?;
    let row = store::own_file(&db, principal.user.id, id).await?;
    let content = store::stored_content(&app.env, &row).await?;
    http::json(200, &file_json(&row, Some(content)))
}

/// `DELETE /api/files/{id}`: the R2 objects and the row.
pub async fn delete(app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_scope(Scope::Files)?;
    let row = store::own_file(&db, principal.user.id, id).await?;
    store::delete_objects(&store::bucket(&app.env)?, &row).await?;
    db.delete_file(principal.user.id, id).await?;
    http::json(200, &json!({ "status": "ok", "file_id": id, "deleted": true }))
}
