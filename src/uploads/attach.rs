//! A chat request's `{"type":"file","file":{"file_id"}}` parts, replaced by what the model reads:
//! an image part (the data URL) or a text part (the PDF's text), from the caller's own files.

use worker::Env;

use super::sniff::FileKind;
use super::store;
use crate::canonical::{ChatRequest, Content, ContentPart, ImageUrl, Message};
use crate::db::Db;
use crate::error::{ApiError, ApiResult, ErrorKind};

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
        let row = rows.iter().find(|row| &row.id == id).ok_or_else(|| {
            store::not_found(id).with_param(format!("messages[{i}].content[{j}].file.file_id"))
        })?;
        found.push((*i, *j, row));
    }
    let contents =
        futures_util::future::try_join_all(found.iter().map(|(_, _, row)| store::stored_content(env, row)))
            .await?;
    Ok(found
        .into_iter()
        .zip(contents)
        .map(|((i, j, row), content)| {
            let part = if row.file_type == FileKind::Pdf {
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
