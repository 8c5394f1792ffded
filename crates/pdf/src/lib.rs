//! Text extraction from uploaded PDFs, so a model can read them.
//!
//! This runs inside the Worker on bytes a user chose. In Wasm a panic aborts the whole instance
//! and every request in flight on it (billing streams included), so the crate is written never
//! to panic: no `unwrap`, no indexing, no unchecked arithmetic (the lints below enforce the last
//! two for the whole crate), and every loop, recursion and allocation is bounded by [`Limits`] or by the
//! input's length:
//!
//! - objects are parsed at most once each (cached), and never more than `max_objects` of them;
//! - nesting (arrays in dictionaries, indirect-reference chains, the page tree, form XObjects) is
//!   cut at `max_depth`; reference cycles are caught with "in progress" sets;
//! - every filter stage of a stream stops at `max_stream_bytes` (inflating incrementally, so a
//!   bomb never allocates more), a stream that hit that cap is not decoded again, and all stages
//!   of all streams together, with the parsed and interpreted bytes, stop at [`WORK_FACTOR`] times
//!   it: a file that reuses one bomb on every page, chains filters, or draws one content stream on
//!   a million pages is still bounded (each budget is spent in well under a second of native CPU
//!   at the defaults);
//! - content-stream operators stop at `max_operations`, and the text at `max_output_chars`;
//! - parsed object nodes stop at [`NODES_PER_OBJECT`] times `max_objects` (long strings count
//!   one node per 16 bytes), which bounds the memory a crafted array of millions of numbers, or
//!   objects overlapping in one long string, could take.
//!
//! When a limit stops the work, what was extracted so far is kept and the warning says
//! [`Warning::Truncated`]. Peak memory is about the input, plus one stream at `max_stream_bytes`
//! (1.5 times that while it grows), plus parsed objects (some 100 bytes a node at worst), plus the
//! text; with a Worker's 128 MB, a `max_stream_bytes` of 16 MiB leaves more room than the default.
//! Recursion is at most `max_depth` deep in each of three nestings (objects, references, forms):
//! keep it below a few hundred for the Wasm stack.
//!
//! What it reads: the cross-reference table and cross-reference streams (with object streams),
//! falling back to scanning the file for `N G obj` when those are broken; the page tree with
//! inherited resources; content streams (Flate with PNG/TIFF predictors, LZW, ASCIIHex, ASCII85,
//! RunLength); text operators and form XObjects; fonts through `/ToUnicode` CMaps, or for simple
//! fonts through their `/Encoding` (WinAnsi, MacRoman, Standard, `/Differences` glyph names).
//!
//! Pages are joined with [`PAGE_BREAK`] (`"\n\f\n"`), so the text of a document with text has
//! exactly `pages - 1` of them (unless cut short), an empty page keeping its place, and a caller
//! can split it back into pages. A document with no text at all gives an empty string.
//!
//! What comes out empty or garbled: encrypted files (even with an empty user password); scanned
//! pages without an OCR text layer; Type0 fonts without `/ToUnicode` (their codes are glyph ids);
//! simple fonts whose `/Differences` use made-up glyph names, or symbolic TrueType fonts with no
//! encoding; text in annotations and form fields (not in the page content). Reading order is
//! the content stream's, so multi-column layouts and right-to-left scripts may come out in
//! drawing order.
//!
//! The crate, in the order a document is read: `lexer` (bytes into tokens), `object` (tokens
//! into objects), `document` (the cross-reference, objects by number, the page tree, streams),
//! `filters` (stream decoding), `font` (codes to Unicode and widths, with the `tables`),
//! `content` (a page's text operators into text).

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use crate::content::Out;
use crate::document::Doc;
use crate::lexer::find;
use crate::object::Obj;

/// Put between the text of consecutive pages: a form feed on a line of its own, as `pdftotext`
/// does. It is unambiguous (a form feed never comes out of a page's text, control characters
/// are dropped), so a caller can split the text back into pages, and models read it as a break.
pub const PAGE_BREAK: &str = "\n\u{c}\n";

/// All decoded and interpreted stream bytes together may be this many times `max_stream_bytes`.
pub const WORK_FACTOR: usize = 4;

/// Parsed object nodes (numbers, names, array and dictionary entries) may be this many times
/// `max_objects`: an ordinary object has a handful, and this caps what a crafted one can take.
pub const NODES_PER_OBJECT: usize = 10;

/// What the extractor may spend on one document. Every field bounds a different resource; when
/// one runs out the text so far is kept and [`Warning::Truncated`] is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Indirect objects loaded (and pages in the page tree, and cross-reference entries).
    pub max_objects: usize,
    /// Decoded bytes of one stream; all streams together get [`WORK_FACTOR`] times this.
    pub max_stream_bytes: usize,
    /// Characters of text returned, page breaks included.
    pub max_output_chars: usize,
    /// Nesting of arrays and dictionaries, reference chains, the page tree and form XObjects.
    pub max_depth: usize,
    /// Content-stream operators executed, over the whole document.
    pub max_operations: usize,
}

impl Default for Limits {
    /// Roomy enough for any real upload (10 MiB at most). See the module docs for what they mean
    /// for memory and time.
    fn default() -> Self {
        Limits {
            max_objects: 100_000,
            max_stream_bytes: 64 * 1024 * 1024,
            max_output_chars: 2_000_000,
            max_depth: 64,
            max_operations: 50_000_000,
        }
    }
}

/// Why the text may be missing or incomplete; only the most important one is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The document is encrypted; no text is returned.
    Encrypted,
    /// No page has any text, e.g. a scanned document, or fonts with no way back to Unicode.
    NoText,
    /// A limit was reached; the text is what was extracted before it.
    Truncated,
    /// The file is damaged; the text was recovered as far as possible. The reason is for logs.
    Damaged(String),
}

impl Warning {
    /// A sentence to show the user next to the upload.
    pub fn describe(&self) -> String {
        match self {
            Warning::Encrypted => "This PDF is encrypted, so its text could not be read. Remove the \
                                   password protection and upload it again."
                .to_string(),
            Warning::NoText => "This PDF has no text that can be extracted; it may be a scanned \
                                image. Run text recognition (OCR) on it and upload it again."
                .to_string(),
            Warning::Truncated => "This PDF is too large or complex to read in full, so only the \
                                   first part of its text was extracted."
                .to_string(),
            Warning::Damaged(reason) => format!(
                "This PDF looks damaged ({reason}); its text was recovered as far as possible and \
                 may be incomplete."
            ),
        }
    }
}

/// The text of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    /// The pages' text in page order, joined with [`PAGE_BREAK`]; empty when no page has text.
    pub text: String,
    /// Pages in the document's page tree.
    pub pages: usize,
    pub warning: Option<Warning>,
}

/// The input has no `%PDF-` header in its first 1024 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPdf;

impl std::fmt::Display for NotPdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a PDF file")
    }
}

impl std::error::Error for NotPdf {}

/// Extracts the text of every page, in page order.
///
/// Never panics; returns Err only for input that is not a PDF at all (no `%PDF-` header in the
/// first 1024 bytes). Anything else — damaged, truncated, encrypted, hostile — gives the text
/// that could be read and a warning.
pub fn extract_text(bytes: &[u8], limits: &Limits) -> Result<Extraction, NotPdf> {
    extract_with_stats(bytes, limits).map(|(extraction, _)| extraction)
}

/// What an extraction spent; the tests check the bounds with it.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    /// Decoded (or, unfiltered, interpreted) stream bytes, every filter stage counted.
    decoded_bytes: usize,
    /// The largest output of a single filter stage.
    largest_stream: usize,
}

fn extract_with_stats(bytes: &[u8], limits: &Limits) -> Result<(Extraction, Stats), NotPdf> {
    let head = bytes.get(..1024).unwrap_or(bytes);
    let base = find(head, b"%PDF-", 0).ok_or(NotPdf)?;
    let mut doc = Doc::new(bytes, base, limits);
    let trailer = doc.trailer();
    let pages = doc.pages(&trailer);
    if trailer.get(b"Encrypt").is_some_and(|e| !matches!(e, Obj::Null)) {
        let extraction = Extraction {
            text: String::new(),
            pages: pages.len(),
            warning: Some(Warning::Encrypted),
        };
        return Ok((extraction, doc.stats));
    }
    let mut out = Out::new(limits.max_output_chars);
    for (index, page) in pages.iter().enumerate() {
        if out.full || doc.exhausted {
            break;
        }
        if index > 0 {
            out.page_break();
        }
        doc.page_text(page, &mut out);
    }
    let text = if out.text.trim().is_empty() {
        String::new()
    } else {
        out.text
    };
    let warning = if doc.truncated || out.full {
        Some(Warning::Truncated)
    } else if let Some(reason) = doc.damage.take() {
        Some(Warning::Damaged(reason))
    } else if text.is_empty() {
        Some(Warning::NoText)
    } else {
        None
    };
    Ok((
        Extraction {
            text,
            pages: pages.len(),
            warning,
        },
        doc.stats,
    ))
}

mod content;
mod document;
mod filters;
mod font;
mod lexer;
mod object;
mod tables;

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests;
