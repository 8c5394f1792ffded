//! What is kept of a file: the upload in R2 at `uploads/{user id}/{file id}`, for a PDF also its
//! text beside it at `….txt` (extracted once, at upload), and the row in D1 (`files`) that says
//! what it is, whose it is and where the objects are.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use flint_pdf as pdf;
use worker::Env;

use super::sniff::FileKind;
use crate::db::{Db, FileRow};
use crate::error::{ApiError, ApiResult, ErrorKind};

/// 10 MiB, the most a file may be.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

pub(super) fn bucket(env: &Env) -> ApiResult<worker::Bucket> {
    env.bucket("UPLOADS")
        .map_err(|e| ApiError::internal(format!("R2 binding: {e}")))
}

/// The R2 key of a user's upload.
pub(super) fn object_key(user_id: i64, id: &str) -> String {
    format!("uploads/{user_id}/{id}")
}

/// The R2 key of a PDF's extracted text, beside the upload.
pub(super) fn text_key(object_key: &str) -> String {
    format!("{object_key}.txt")
}

/// No file of the caller's has this id (another user's is not told apart).
pub(super) fn not_found(id: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, "file_not_found", format!("No file `{id}`."))
}

/// The caller's file with this id, or a 404.
pub(super) async fn own_file(db: &Db, user_id: i64, id: &str) -> ApiResult<FileRow> {
    db.file(user_id, id).await?.ok_or_else(|| not_found(id))
}

pub(super) fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", B64.encode(bytes))
}

/// What a PDF says, or why it says nothing. Streams are capped at 16 MiB decompressed (the
/// extractor's default is 64 MiB): with the 10 MiB upload in memory it keeps well inside a
/// Worker's 128 MB.
pub(super) fn pdf_text(bytes: &[u8]) -> (String, Option<usize>, Option<String>) {
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

/// The content as at upload: the data URL of an image, the extracted text of a PDF.
pub(super) async fn stored_content(env: &Env, row: &FileRow) -> ApiResult<String> {
    let bucket = bucket(env)?;
    let key = if row.file_type == FileKind::Pdf {
        text_key(&row.r2_key)
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
    Ok(if row.file_type == FileKind::Pdf {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        data_url(&row.mime_type, &bytes)
    })
}

/// Puts the upload and, for a PDF, its text. When the text can't be put, the upload goes too.
pub(super) async fn put_objects(
    bucket: &worker::Bucket,
    key: &str,
    data: &[u8],
    text: Option<String>,
) -> ApiResult<()> {
    bucket
        .put(key, data.to_vec())
        .execute()
        .await
        .map_err(|e| ApiError::internal(format!("R2 put: {e}")))?;
    if let Some(text) = text {
        let stored = bucket.put(text_key(key), text).execute().await;
        if let Err(error) = stored {
            let _ = bucket.delete(key).await;
            return Err(ApiError::internal(format!("R2 put text: {error}")));
        }
    }
    Ok(())
}

/// Removes what `put_objects` put, as far as it can: the row could not be written.
pub(super) async fn discard_objects(bucket: &worker::Bucket, key: &str) {
    let _ = bucket.delete(key).await;
    let _ = bucket.delete(text_key(key)).await;
}

/// Deletes a file's objects (the upload, and a PDF's text).
pub(super) async fn delete_objects(bucket: &worker::Bucket, row: &FileRow) -> ApiResult<()> {
    bucket
        .delete(&row.r2_key)
        .await
        .map_err(|e| ApiError::internal(format!("R2 delete: {e}")))?;
    if row.file_type == FileKind::Pdf {
        bucket
            .delete(text_key(&row.r2_key))
            .await
            .map_err(|e| ApiError::internal(format!("R2 delete: {e}")))?;
    }
    Ok(())
}
