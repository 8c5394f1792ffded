//! Uploads (Stone's `/api/chat/upload`): images and PDFs into R2, readable by the models. An
//! image answers with a base64 data URL, a PDF with its text, extracted here in the worker by a
//! panic-free extractor with bounded memory, time and recursion (the `flint-pdf` crate).
//!
//! - `routes`: the handlers of `/api/chat/upload` and `/api/files`, and their JSON;
//! - `store`: what is kept of a file (the R2 objects and their key layout, the PDF's text, the D1
//!   row) and how its content is read back;
//! - `attach`: a chat request's `file` parts replaced by what the model reads;
//! - `multipart`: the request body's parts; `sniff`: what a file is, by its first bytes.

mod attach;
pub mod multipart;
mod routes;
pub mod sniff;
mod store;

pub use attach::{file_part_ids, read_file_parts, too_many_file_parts};
pub use routes::{delete, get, list, upload};
pub use store::MAX_FILE_BYTES;
