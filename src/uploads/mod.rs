//! Uploads (Stone's `/api/chat/upload`): images and PDFs into R2, readable by the models. An
//! image answers with a base64 data URL, a PDF with its text, extracted here in the worker by a
//! panic-free extractor with bounded memory, time and recursion.

pub mod multipart;
pub mod sniff;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use flint_pdf as pdf;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{Env, Request, Response};

use crate::app::App;
use crate::auth::{Principal, Scope};
use crate::chat::types::{ChatRequest, Content, ContentPart, ImageUrl, Message};
use crate::db::{Db, FileRow};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::client::{self, Throttle};
use crate::{http, time};
use sniff::Kind;

/// 10 MiB, the most a file may be.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Room for the multipart framing around the file.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

fn bucket(env: &Env) -> ApiResult<worker::Bucket> {
    env.bucket("UPLOADS")
        .map_err(|e| ApiError::internal(format!("R2 binding: {e}")))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, "file_not_found", format!("No file `{id}`."))
}

fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", B64.encode(bytes))
}

/// What a PDF says, or why it says nothing. Streams are capped at 16 MiB decompressed (the
/// extractor's default is 64 MiB): with the 10 MiB upload in memory it keeps well inside a
/// Worker's 128 MB.
fn pdf_text(bytes: &[u8]) -> (String, Option<usize>, Option<String>) {
    let limits = pdf::Limits {
        max_stream_bytes: 16 * 1024 * 1024,
        ..pdf::Limits::default()
    };
    match pdf::extract_text(bytes, &limits) {
        Ok(extraction) => (
            extraction.text,
            Some(extraction.pages),
            extraction.warning.map(|w| w.describe()),
        ),
        Err(_) => (
            String::new(),
            None,
            Some("The file is not a readable PDF.".to_owned()),
        ),
    }
}

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
        Kind::Pdf => pdf_text(part.data),
        _ => (String::new(), None, None),
    };
    let id = http::random_hex(12);
    let key = format!("uploads/{}/{id}", principal.user.id);
    let bucket = bucket(&app.env)?;
    bucket
        .put(&key, part.data.to_vec())
        .execute()
        .await
        .map_err(|e| ApiError::internal(format!("R2 put: {e}")))?;
    if kind == Kind::Pdf {
        let stored = bucket.put(format!("{key}.txt"), text.clone()).execute().await;
        if let Err(error) = stored {
            let _ = bucket.delete(&key).await;
            return Err(ApiError::internal(format!("R2 put text: {error}")));
        }
    }
    let row = FileRow {
        id: id.clone(),
        user_id: principal.user.id,
        r2_key: key,
        name,
        file_type: kind.file_type().to_owned(),
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
        let _ = bucket.delete(&row.r2_key).await;
        let _ = bucket.delete(format!("{}.txt", row.r2_key)).await;
        return Err(match recorded {
            Err(error) => error,
            _ => over_quota(quota, db.stored_bytes(principal.user.id).await?, part.data.len()),
        });
    }
    let content = match kind {
        Kind::Pdf => text,
        _ => data_url(kind.mime(), part.data),
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
        "file_type": row.file_type,
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

/// The content as at upload: the data URL of an image, the extracted text of a PDF.
async fn stored_content(env: &Env, row: &FileRow) -> ApiResult<String> {
    let bucket = bucket(env)?;
    let key = if row.file_type == "pdf" {
        format!("{}.txt", row.r2_key)
    } else {
        row.r2_key.clone()
    };
    let object = bucket
        .get(&key)
        .execute()
        .await
        .map_err(|e| ApiError::internal(format!("R2 get: {e}")))?
        .ok_or_else(|| ApiError::internal(format!("R2 object {key} is missing")))?;
    let body = object
        .body()
        .ok_or_else(|| ApiError::internal(format!("R2 object {key} has no body")))?;
    let bytes = body
        .bytes()
        .await
        .map_err(|e| ApiError::internal(format!("R2 read: {e}")))?;
    Ok(if row.file_type == "pdf" {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        data_url(&row.mime_type, &bytes)
    })
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
    let row = db
        .file(principal.user.id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let content = stored_content(&app.env, &row).await?;
    http::json(200, &file_json(&row, Some(content)))
}

/// `DELETE /api/files/{id}`: the R2 objects and the row.
pub async fn delete(app: &App, principal: &Principal, id: &str) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    principal.require_scope(Scope::Files)?;
    let row = db
        .file(principal.user.id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let bucket = bucket(&app.env)?;
    bucket
        .delete(&row.r2_key)
        .await
        .map_err(|e| ApiError::internal(format!("R2 delete: {e}")))?;
    if row.file_type == "pdf" {
        bucket
            .delete(format!("{}.txt", row.r2_key))
            .await
            .map_err(|e| ApiError::internal(format!("R2 delete: {e}")))?;
    }
    db.delete_file(principal.user.id, id).await?;
    http::json(200, &json!({ "status": "ok", "file_id": id, "deleted": true }))
}

/// More file parts than `MAX_FILE_PARTS_PER_REQUEST`: a 400 before anything is read or consumed.
pub fn too_many_file_parts(count: usize, limit: usize) -> ApiError {
    ApiError::new(
        ErrorKind::BadRequest,
        "too_many_file_parts",
        format!(
            "A request may reference at most {limit} uploaded files (MAX_FILE_PARTS_PER_REQUEST); this one references {count}."
        ),
    )
    .with_param("messages")
}

/// Where each file part of a request is (message, part) and which file it names.
pub fn file_part_ids(request: &ChatRequest) -> Vec<(usize, usize, String)> {
    let mut wanted = Vec::new();
    for (i, message) in request.messages.iter().enumerate() {
        let Message::User {
            content: Content::Parts(parts),
            ..
        } = message
        else {
            continue;
        };
        for (j, part) in parts.iter().enumerate() {
            if let ContentPart::File { file } = part {
                wanted.push((i, j, file.file_id.clone()));
            }
        }
    }
    wanted
}

/// What the model reads in place of each `{"type":"file","file":{"file_id"}}` part: an image
/// part (a data URL) or a text part (the PDF's text). Only the caller's own files; another's id
/// is a 404. One D1 query finds every file, then the R2 objects are read together.
pub async fn read_file_parts(
    wanted: &[(usize, usize, String)],
    env: &Env,
    user_id: i64,
) -> ApiResult<Vec<(usize, usize, ContentPart)>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let db = Db::from_env(env)?;
    let ids: Vec<&str> = wanted.iter().map(|(_, _, id)| id.as_str()).collect();
    let rows = db.files_by_ids(user_id, &ids).await?;
    let mut found = Vec::with_capacity(wanted.len());
    for (i, j, id) in wanted {
        let row = rows
            .iter()
            .find(|row| &row.id == id)
            .ok_or_else(|| not_found(id).with_param(format!("messages[{i}].content[{j}].file.file_id")))?;
        found.push((*i, *j, row));
    }
    let contents =
        futures_util::future::try_join_all(found.iter().map(|(_, _, row)| stored_content(env, row))).await?;
    Ok(found
        .into_iter()
        .zip(contents)
        .map(|((i, j, row), content)| {
            let part = if row.file_type == "pdf" {
                let note = row
                    .warning
                    .as_deref()
                    .map(|w| format!("\n({w})"))
                    .unwrap_or_default();
                ContentPart::Text {
                    text: format!("[File: {}]{note}\n\n{content}", row.name),
                }
            } else {
                ContentPart::ImageUrl {
                    image_url: ImageUrl {
                        url: content,
                        detail: None,
                    },
                }
            };
            (i, j, part)
        })
        .collect())
}

/// Puts what `read_file_parts` read in place of the file parts.
pub fn replace_file_parts(request: &mut ChatRequest, read: Vec<(usize, usize, ContentPart)>) {
    for (i, j, part) in read {
        if let Some(Message::User {
            content: Content::Parts(parts),
            ..
        }) = request.messages.get_mut(i)
        {
            if let Some(slot) = parts.get_mut(j) {
                *slot = part;
            }
        }
    }
}
