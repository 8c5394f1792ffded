//! Text extraction from uploaded PDFs, so a model can read them.
//!
//! This runs inside the Worker on bytes a user chose. In Wasm a panic aborts the whole instance
//! and every request in flight on it (billing streams included), so the module is written never
//! to panic: no `unwrap`, no indexing, no unchecked arithmetic (the lints below enforce the last
//! two for this file), and every loop, recursion and allocation is bounded by [`Limits`] or by the
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

#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// Put between the text of consecutive pages: a form feed on a line of its own, as `pdftotext`
/// does. It is unambiguous (a form feed never comes out of a page's text, control characters
/// are dropped), so a caller can split the text back into pages, and models read it as a break.
pub const PAGE_BREAK: &str = "\n\u{c}\n";

/// All decoded and interpreted stream bytes together may be this many times `max_stream_bytes`.
pub const WORK_FACTOR: usize = 4;

/// Parsed object nodes (numbers, names, array and dictionary entries) may be this many times
/// `max_objects`: an ordinary object has a handful, and this caps what a crafted one can take.
pub const NODES_PER_OBJECT: usize = 10;

/// A string or name in an object costs one node per this many bytes (besides its own node).
const BYTES_PER_NODE: usize = 16;

/// Nested `q` (save graphics state) deeper than this is ignored: it costs memory per level and
/// no real page nests that deep.
const MAX_SAVED_STATES: usize = 256;

/// Content-stream operands waiting for their operator; more than this is garbage, and dropped.
const MAX_OPERANDS: usize = 4096;

/// Nodes one content-stream operand (a `TJ` array, an inline dictionary) may have.
const MAX_OPERAND_NODES: usize = 100_000;

/// Filters on one stream; real files use one or two.
const MAX_FILTERS: usize = 8;

/// Cross-reference sections followed through `/Prev` and `/XRefStm`.
const MAX_XREF_SECTIONS: usize = 1024;

/// A text move across the baseline of more than this fraction of the font size starts a line.
const NEWLINE_FRACTION: f64 = 0.5;

/// A gap along the baseline wider than this fraction of the font size is a word space (glyph
/// widths known from the font) ...
const SPACE_FRACTION: f64 = 0.15;

/// ... or this one, when the widths are only estimated.
const SPACE_FRACTION_ESTIMATED: f64 = 0.3;

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

// ---------------------------------------------------------------------------------------------
// Bytes and tokens

/// PDF white-space characters.
fn is_ws(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32)
}

/// Bytes that end a name, a number or a keyword.
fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_ws(b) && !is_delim(b)
}

/// The first position of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    if needle.is_empty() {
        return None;
    }
    rest.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p.saturating_add(from))
}

/// The last position of `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(b.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(b.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Big-endian bytes (at most four are ever passed) as a number.
fn be_u32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_shl(8) | u32::from(b))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Int(i64),
    Real(f64),
    Name(Vec<u8>),
    Str(Vec<u8>),
    ArrOpen,
    ArrClose,
    DictOpen,
    DictClose,
    /// Any other run of regular characters: `obj`, `R`, `true`, an operator like `Tj`.
    Kw(&'a [u8]),
    Eof,
}

/// Splits bytes into PDF tokens. Every call to [`Lexer::next`] either returns `Eof` or consumes
/// at least one byte, so a loop over tokens ends within the buffer's length.
struct Lexer<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(buf: &'a [u8], pos: usize) -> Self {
        Lexer { buf, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_ws(b) {
                self.bump();
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn next(&mut self) -> Tok<'a> {
        self.skip_ws();
        let Some(b) = self.peek() else { return Tok::Eof };
        let start = self.pos;
        self.bump();
        match b {
            b'(' => Tok::Str(self.literal_string()),
            b'<' if self.peek() == Some(b'<') => {
                self.bump();
                Tok::DictOpen
            }
            b'<' => Tok::Str(self.hex_string()),
            b'>' if self.peek() == Some(b'>') => {
                self.bump();
                Tok::DictClose
            }
            b'[' => Tok::ArrOpen,
            b']' => Tok::ArrClose,
            b'/' => Tok::Name(self.name()),
            b'0'..=b'9' | b'+' | b'-' | b'.' => self.number(start),
            b'>' | b')' | b'{' | b'}' => Tok::Kw(self.buf.get(start..self.pos).unwrap_or_default()),
            _ => {
                while self.peek().is_some_and(is_regular) {
                    self.bump();
                }
                Tok::Kw(self.buf.get(start..self.pos).unwrap_or_default())
            }
        }
    }

    /// After the `(`: unescapes up to the matching `)`, or to the end of the buffer.
    fn literal_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut depth = 1usize;
        while let Some(c) = self.peek() {
            self.bump();
            match c {
                b'(' => {
                    depth = depth.saturating_add(1);
                    out.push(c);
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                    out.push(c);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.bump();
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'0'..=b'7' => {
                            let mut value = u32::from(e.wrapping_sub(b'0'));
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        value = value
                                            .wrapping_mul(8)
                                            .wrapping_add(u32::from(d.wrapping_sub(b'0')));
                                        self.bump();
                                    }
                                    _ => break,
                                }
                            }
                            out.push((value & 0xFF) as u8);
                        }
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.bump();
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                b'\r' => {
                    if self.peek() == Some(b'\n') {
                        self.bump();
                    }
                    out.push(b'\n');
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// After the `<`: hex digits up to `>`; white space and stray bytes are skipped, and an odd
    /// last digit is padded with 0 as the spec says.
    fn hex_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(c) = self.peek() {
            self.bump();
            if c == b'>' {
                break;
            }
            if let Some(v) = hex_value(c) {
                match high.take() {
                    Some(h) => out.push(h.wrapping_shl(4) | v),
                    None => high = Some(v),
                }
            }
        }
        if let Some(h) = high {
            out.push(h.wrapping_shl(4));
        }
        out
    }

    /// After the `/`: the name's bytes, with `#xx` escapes decoded.
    fn name(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = self.peek().filter(|&c| is_regular(c)) {
            self.bump();
            if c == b'#' {
                let hi = self.peek().and_then(hex_value);
                let lo = self
                    .buf
                    .get(self.pos.saturating_add(1))
                    .copied()
                    .and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    self.bump();
                    self.bump();
                    out.push(hi.wrapping_shl(4) | lo);
                    continue;
                }
            }
            out.push(c);
        }
        out
    }

    /// A number starting at `start` (already consumed one byte). Lenient as readers are: extra
    /// signs and dots are skipped; an integer too large for i64 becomes a real.
    fn number(&mut self, start: usize) -> Tok<'a> {
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'+' | b'-'))
        {
            self.bump();
        }
        let span = self.buf.get(start..self.pos).unwrap_or_default();
        if !span.iter().any(u8::is_ascii_digit) {
            return Tok::Kw(span);
        }
        let negative = span.first() == Some(&b'-');
        let mut int: Option<i64> = Some(0);
        let mut whole = 0.0f64;
        let mut frac = 0.0f64;
        let mut scale = 0.1f64;
        let mut dot = false;
        for &c in span {
            match c {
                b'0'..=b'9' => {
                    let d = c.wrapping_sub(b'0');
                    if dot {
                        frac += f64::from(d) * scale;
                        scale *= 0.1;
                    } else {
                        int = int
                            .and_then(|v| v.checked_mul(10))
                            .and_then(|v| v.checked_add(i64::from(d)));
                        whole = whole * 10.0 + f64::from(d);
                    }
                }
                b'.' => dot = true,
                _ => {}
            }
        }
        match int {
            // `v` is never negative here, so its negation cannot overflow.
            Some(v) if !dot => Tok::Int(if negative { v.wrapping_neg() } else { v }),
            _ => {
                let v = whole + frac;
                Tok::Real(if negative { -v } else { v })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Objects

/// A PDF object. Composite values sit behind `Rc` so that handing an object around (out of the
/// cache, into the page list) is a reference-count bump, never a deep copy.
#[derive(Debug, Clone)]
enum Obj {
    Null,
    /// No text depends on a boolean's value, so it is not kept.
    Bool,
    Int(i64),
    Real(f64),
    Name(Rc<[u8]>),
    Str(Rc<[u8]>),
    Array(Rc<[Obj]>),
    Dict(Rc<Dict>),
    Stream(Rc<Stream>),
    /// An indirect reference; the generation number is ignored, the newest definition wins.
    Ref(u32),
}

/// A dictionary. Large ones get a hash index: operators look up resources by name over and
/// over, and a crafted dictionary of a million entries must not make each lookup a scan.
#[derive(Debug, Default)]
struct Dict {
    entries: Vec<(Rc<[u8]>, Obj)>,
    index: Option<HashMap<Rc<[u8]>, usize>>,
}

impl Dict {
    fn new(entries: Vec<(Rc<[u8]>, Obj)>) -> Self {
        let index = (entries.len() > 16).then(|| {
            let mut index = HashMap::with_capacity(entries.len());
            for (i, (key, _)) in entries.iter().enumerate() {
                index.entry(key.clone()).or_insert(i);
            }
            index
        });
        Dict { entries, index }
    }

    /// The first value under `key`.
    fn get(&self, key: &[u8]) -> Option<&Obj> {
        match &self.index {
            Some(index) => index.get(key).and_then(|&i| self.entries.get(i)).map(|(_, v)| v),
            None => self.entries.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
        }
    }

    fn name(&self, key: &[u8]) -> Option<&[u8]> {
        self.get(key).and_then(Obj::as_name)
    }
}

/// A stream's dictionary and where its raw bytes are in the file (streams are never inside
/// object streams, so they are always file ranges).
#[derive(Debug)]
struct Stream {
    dict: Rc<Dict>,
    start: usize,
    end: usize,
}

impl Obj {
    fn as_i64(&self) -> Option<i64> {
        match self {
            Obj::Int(v) => Some(*v),
            // `as` saturates and maps NaN to 0: no panic for any float.
            Obj::Real(v) if v.is_finite() => Some(*v as i64),
            _ => None,
        }
    }

    fn as_usize(&self) -> Option<usize> {
        self.as_i64().and_then(|v| usize::try_from(v).ok())
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Obj::Int(v) => Some(*v as f64),
            Obj::Real(v) if v.is_finite() => Some(*v),
            _ => None,
        }
    }

    fn as_name(&self) -> Option<&[u8]> {
        match self {
            Obj::Name(n) => Some(n),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&[u8]> {
        match self {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Obj]> {
        match self {
            Obj::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The dictionary of a dictionary or of a stream.
    fn as_dict(&self) -> Option<&Rc<Dict>> {
        match self {
            Obj::Dict(d) => Some(d),
            Obj::Stream(s) => Some(&s.dict),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    /// A limit (depth, nodes) stopped the parse: the document is reported truncated.
    Limit,
    /// The bytes are not a valid object.
    Bad,
}

/// Parses objects from a lexer, with a depth limit (so `[[[[…` cannot overflow the stack) and a
/// node budget (so an array of millions of numbers cannot exhaust memory).
struct Parser<'a> {
    lex: Lexer<'a>,
    nodes: usize,
    max_depth: usize,
}

/// Keywords that end an object; meeting one inside an array or dictionary means it is broken,
/// and stopping there keeps a missing `]` from swallowing the rest of the file.
fn is_structural(kw: &[u8]) -> bool {
    matches!(
        kw,
        b"obj" | b"endobj" | b"stream" | b"endstream" | b"xref" | b"trailer" | b"startxref"
    )
}

impl<'a> Parser<'a> {
    fn new(buf: &'a [u8], pos: usize, nodes: usize, max_depth: usize) -> Self {
        Parser {
            lex: Lexer::new(buf, pos),
            nodes,
            max_depth,
        }
    }

    fn object(&mut self, depth: usize) -> Result<Obj, Fail> {
        let tok = self.lex.next();
        self.object_from(tok, depth)
    }

    fn object_from(&mut self, tok: Tok<'a>, depth: usize) -> Result<Obj, Fail> {
        self.nodes = self.nodes.checked_sub(1).ok_or(Fail::Limit)?;
        match tok {
            Tok::Int(n) => match u32::try_from(n) {
                Ok(id) if self.reference_follows() => Ok(Obj::Ref(id)),
                _ => Ok(Obj::Int(n)),
            },
            Tok::Real(v) => Ok(Obj::Real(v)),
            // Long strings cost nodes too: overlapping objects can make the same bytes parse as
            // many strings, and the cache would keep them all.
            Tok::Name(n) => {
                self.nodes = self
                    .nodes
                    .checked_sub(n.len() / BYTES_PER_NODE)
                    .ok_or(Fail::Limit)?;
                Ok(Obj::Name(n.into()))
            }
            Tok::Str(s) => {
                self.nodes = self
                    .nodes
                    .checked_sub(s.len() / BYTES_PER_NODE)
                    .ok_or(Fail::Limit)?;
                Ok(Obj::Str(s.into()))
            }
            Tok::Kw(b"true") => Ok(Obj::Bool),
            Tok::Kw(b"false") => Ok(Obj::Bool),
            Tok::Kw(b"null") => Ok(Obj::Null),
            Tok::ArrOpen => {
                let depth = self.deeper(depth)?;
                let mut items = Vec::new();
                loop {
                    match self.lex.next() {
                        Tok::ArrClose => break,
                        Tok::Eof | Tok::DictClose => return Err(Fail::Bad),
                        Tok::Kw(k) if !matches!(k, b"true" | b"false" | b"null") => return Err(Fail::Bad),
                        t => items.push(self.object_from(t, depth)?),
                    }
                }
                Ok(Obj::Array(items.into()))
            }
            Tok::DictOpen => {
                let depth = self.deeper(depth)?;
                let mut entries: Vec<(Rc<[u8]>, Obj)> = Vec::new();
                loop {
                    match self.lex.next() {
                        Tok::DictClose => break,
                        Tok::Eof => return Err(Fail::Bad),
                        Tok::Kw(k) if is_structural(k) => return Err(Fail::Bad),
                        Tok::Name(key) => {
                            let value = self.lex.next();
                            if value == Tok::DictClose {
                                // `/Key >>`: a missing value; keep the rest of the dictionary.
                                entries.push((key.into(), Obj::Null));
                                break;
                            }
                            let value = self.object_from(value, depth)?;
                            self.nodes = self.nodes.checked_sub(1).ok_or(Fail::Limit)?;
                            entries.push((key.into(), value));
                        }
                        // A value without a key: parse it (to skip it whole) and drop it.
                        other => {
                            self.object_from(other, depth)?;
                        }
                    }
                }
                Ok(Obj::Dict(Rc::new(Dict::new(entries))))
            }
            Tok::Kw(_) | Tok::ArrClose | Tok::DictClose | Tok::Eof => Err(Fail::Bad),
        }
    }

    /// After an object number: consumes ` G R` and says true, or consumes nothing. Looks at
    /// bytes, not tokens, so that a long string after a number is not lexed twice.
    fn reference_follows(&mut self) -> bool {
        let save = self.lex.pos;
        self.lex.skip_ws();
        if self.lex.peek().is_some_and(|b| b.is_ascii_digit()) {
            if let Tok::Int(_) = self.lex.next() {
                self.lex.skip_ws();
                let after = self.lex.pos.saturating_add(1);
                if self.lex.peek() == Some(b'R') && self.lex.buf.get(after).is_none_or(|&b| !is_regular(b)) {
                    self.lex.pos = after;
                    return true;
                }
            }
        }
        self.lex.pos = save;
        false
    }

    fn deeper(&self, depth: usize) -> Result<usize, Fail> {
        if depth >= self.max_depth {
            return Err(Fail::Limit);
        }
        Ok(depth.saturating_add(1))
    }
}

// ---------------------------------------------------------------------------------------------
// The document: cross-reference, object loading, streams

/// Where an object's definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    /// At a byte offset in the file.
    At(usize),
    /// Inside the object stream with this object number.
    InStream(u32),
    /// Deleted by an incremental update: resolves to null, and hides older definitions.
    Free,
}

/// A decoded object stream: its bytes and where each object in it starts.
struct ObjStm {
    data: Vec<u8>,
    first: usize,
    offsets: HashMap<u32, usize>,
}

/// One page of the page tree: its dictionary and its (possibly inherited) resources.
struct Page {
    dict: Rc<Dict>,
    resources: Obj,
}

struct Doc<'a> {
    data: &'a [u8],
    /// Where `%PDF-` starts: offsets in files with junk before the header may count from it.
    base: usize,
    limits: &'a Limits,
    xref: HashMap<u32, Loc>,
    /// Object locations found by scanning the whole file; built the first time the cross-
    /// reference data fails us.
    scanned: Option<HashMap<u32, Loc>>,
    /// The last trailer dictionary that names a catalog, found by the same scan.
    scanned_trailer: Option<Rc<Dict>>,
    cache: HashMap<u32, Obj>,
    /// Objects being loaded right now: meeting one again is a reference cycle.
    resolving: HashSet<u32>,
    objstms: HashMap<u32, Option<Rc<ObjStm>>>,
    /// Streams (by data offset) that reached `max_stream_bytes` once.
    capped_streams: HashSet<usize>,
    fonts: HashMap<u32, Rc<Font>>,
    inline_fonts: HashMap<usize, (Rc<Dict>, Rc<Font>)>,
    fallback_font: Option<Rc<Font>>,
    nodes_left: usize,
    work_left: usize,
    ops_left: usize,
    /// A limit was reached somewhere: the result is reported truncated.
    truncated: bool,
    /// A document-wide budget is spent: stop all work.
    exhausted: bool,
    /// The first sign of damage met, for [`Warning::Damaged`].
    damage: Option<String>,
    stats: Stats,
}

impl<'a> Doc<'a> {
    fn new(data: &'a [u8], base: usize, limits: &'a Limits) -> Self {
        Doc {
            data,
            base,
            limits,
            xref: HashMap::new(),
            scanned: None,
            scanned_trailer: None,
            cache: HashMap::new(),
            resolving: HashSet::new(),
            objstms: HashMap::new(),
            capped_streams: HashSet::new(),
            fonts: HashMap::new(),
            inline_fonts: HashMap::new(),
            fallback_font: None,
            nodes_left: limits.max_objects.saturating_mul(NODES_PER_OBJECT),
            work_left: limits.max_stream_bytes.saturating_mul(WORK_FACTOR),
            ops_left: limits.max_operations,
            truncated: false,
            exhausted: false,
            damage: None,
            stats: Stats::default(),
        }
    }

    fn damaged(&mut self, reason: &str) {
        if self.damage.is_none() {
            self.damage = Some(reason.to_string());
        }
    }

    /// Spends `n` bytes of the work budget; false (and the document marked exhausted) when it
    /// is spent.
    fn charge(&mut self, n: usize) -> bool {
        match self.work_left.checked_sub(n) {
            Some(left) => {
                self.work_left = left;
                true
            }
            None => {
                self.work_left = 0;
                self.truncated = true;
                self.exhausted = true;
                false
            }
        }
    }

    /// Follows references (a chain of them at most `max_depth` long) to a direct object.
    fn resolve(&mut self, obj: &Obj) -> Obj {
        let mut current = obj.clone();
        let mut chain = Vec::new();
        for _ in 0..self.limits.max_depth {
            match current {
                Obj::Ref(id) if chain.contains(&id) => {
                    self.damaged("a reference points to itself");
                    return Obj::Null;
                }
                Obj::Ref(id) => {
                    chain.push(id);
                    current = self.get(id);
                }
                other => return other,
            }
        }
        if matches!(current, Obj::Ref(_)) {
            self.truncated = true;
            return Obj::Null;
        }
        current
    }

    /// Follows `key` in `dict` to a direct object (null when absent).
    fn lookup(&mut self, dict: &Dict, key: &[u8]) -> Obj {
        match dict.get(key) {
            Some(obj) => self.resolve(obj),
            None => Obj::Null,
        }
    }

    /// The object with this number, loaded once and cached (failures too, as null).
    fn get(&mut self, id: u32) -> Obj {
        if let Some(obj) = self.cache.get(&id) {
            return obj.clone();
        }
        if self.resolving.contains(&id) {
            self.damaged("an object refers to itself");
            return Obj::Null;
        }
        if self.resolving.len() >= self.limits.max_depth || self.cache.len() >= self.limits.max_objects {
            self.truncated = true;
            return Obj::Null;
        }
        self.resolving.insert(id);
        let obj = self.load(id);
        self.resolving.remove(&id);
        self.cache.insert(id, obj.clone());
        obj
    }

    fn load(&mut self, id: u32) -> Obj {
        let listed = self.xref.get(&id).copied();
        if listed == Some(Loc::Free) {
            return Obj::Null;
        }
        if let Some(loc) = listed {
            if let Some(obj) = self.load_at(id, loc) {
                return obj;
            }
        }
        // Not where the cross-reference data says, or not listed at all: look in the file.
        self.ensure_scanned();
        let found = self.scanned.as_ref().and_then(|m| m.get(&id)).copied();
        match found {
            Some(loc) if Some(loc) != listed => match self.load_at(id, loc) {
                Some(obj) => {
                    self.damaged("the cross-reference table does not match the objects");
                    obj
                }
                None => {
                    self.damaged("an object could not be read");
                    Obj::Null
                }
            },
            // Listed but unreadable either way.
            _ if listed.is_some() => {
                self.damaged("an object could not be read");
                Obj::Null
            }
            // A reference to an object that does not exist is null, as the spec says.
            _ => Obj::Null,
        }
    }

    fn load_at(&mut self, id: u32, loc: Loc) -> Option<Obj> {
        match loc {
            Loc::At(offset) => self.parse_indirect(Some(id), offset).or_else(|| {
                let shifted = offset.checked_add(self.base).filter(|_| self.base > 0)?;
                self.parse_indirect(Some(id), shifted)
            }),
            Loc::InStream(stm) => self.load_from_objstm(stm, id),
            Loc::Free => Some(Obj::Null),
        }
    }

    /// Parses `id gen obj … endobj` at `offset` (checking the number when `id` is given), with a
    /// stream body when the object has one.
    fn parse_indirect(&mut self, id: Option<u32>, offset: usize) -> Option<Obj> {
        if self.exhausted || offset >= self.data.len() {
            return None;
        }
        let data = self.data;
        let mut parser = Parser::new(data, offset, self.nodes_left, self.limits.max_depth);
        let header_ok = match (parser.lex.next(), parser.lex.next(), parser.lex.next()) {
            (Tok::Int(n), Tok::Int(_), Tok::Kw(b"obj")) => id.is_none_or(|id| i64::from(id) == n),
            _ => false,
        };
        if !header_ok {
            return None;
        }
        let parsed = parser.object(0);
        self.nodes_left = parser.nodes;
        let consumed = parser.lex.pos.saturating_sub(offset);
        self.charge(consumed);
        let obj = match parsed {
            Ok(obj) => obj,
            Err(Fail::Limit) => {
                self.truncated = true;
                return None;
            }
            Err(Fail::Bad) => return None,
        };
        let Obj::Dict(dict) = obj else { return Some(obj) };
        if parser.lex.next() != Tok::Kw(b"stream") {
            return Some(Obj::Dict(dict));
        }
        // The data starts after the end of line that follows `stream`.
        let mut start = parser.lex.pos;
        if data.get(start) == Some(&b'\r') {
            start = start.saturating_add(1);
        }
        if data.get(start) == Some(&b'\n') {
            start = start.saturating_add(1);
        }
        let length = self.lookup(&dict, b"Length").as_usize();
        let end = match length
            .and_then(|l| start.checked_add(l))
            .filter(|&e| ends_stream(data, e))
        {
            Some(end) => end,
            // A wrong /Length is common: the data ends where `endstream` is.
            None => match find(data, b"endstream", start) {
                Some(at) => {
                    self.charge(at.saturating_sub(start));
                    let mut end = at;
                    if end > start && data.get(end.saturating_sub(1)) == Some(&b'\n') {
                        end = end.saturating_sub(1);
                    }
                    if end > start && data.get(end.saturating_sub(1)) == Some(&b'\r') {
                        end = end.saturating_sub(1);
                    }
                    end
                }
                None => {
                    self.charge(data.len().saturating_sub(start));
                    self.damaged("a stream has no end");
                    data.len()
                }
            },
        };
        Some(Obj::Stream(Rc::new(Stream { dict, start, end })))
    }

    fn objstm(&mut self, stm: u32) -> Option<Rc<ObjStm>> {
        if let Some(known) = self.objstms.get(&stm) {
            return known.clone();
        }
        // Marked first, so a stream whose own dictionary leads back into it fails, not loops.
        self.objstms.insert(stm, None);
        let Obj::Stream(stream) = self.get(stm) else {
            return None;
        };
        let first = self.lookup(&stream.dict, b"First").as_usize()?;
        let count = self.lookup(&stream.dict, b"N").as_usize()?;
        let data = self.decode_stream(&stream)?;
        let mut offsets = HashMap::new();
        let header = data.get(..first).unwrap_or(&data);
        let mut lex = Lexer::new(header, 0);
        for _ in 0..count {
            let (Tok::Int(num), Tok::Int(off)) = (lex.next(), lex.next()) else {
                break;
            };
            let (Ok(num), Ok(off)) = (u32::try_from(num), usize::try_from(off)) else {
                continue;
            };
            if offsets.len() >= self.limits.max_objects {
                self.truncated = true;
                break;
            }
            offsets.entry(num).or_insert(off);
        }
        let parsed = Rc::new(ObjStm { data, first, offsets });
        self.objstms.insert(stm, Some(parsed.clone()));
        Some(parsed)
    }

    fn load_from_objstm(&mut self, stm: u32, id: u32) -> Option<Obj> {
        let objstm = self.objstm(stm)?;
        let pos = objstm.first.checked_add(*objstm.offsets.get(&id)?)?;
        if self.exhausted {
            return None;
        }
        let mut parser = Parser::new(&objstm.data, pos, self.nodes_left, self.limits.max_depth);
        let parsed = parser.object(0);
        self.nodes_left = parser.nodes;
        self.charge(parser.lex.pos.saturating_sub(pos));
        match parsed {
            Ok(obj) => Some(obj),
            Err(Fail::Limit) => {
                self.truncated = true;
                None
            }
            Err(Fail::Bad) => None,
        }
    }

    /// Records a cross-reference entry unless a newer section already did.
    fn add_xref(&mut self, id: u32, loc: Loc) {
        if self.xref.contains_key(&id) {
            return;
        }
        if self.xref.len() >= self.limits.max_objects {
            self.truncated = true;
            return;
        }
        self.xref.insert(id, loc);
    }

    /// Reads the cross-reference data and returns the trailer; when that fails, or names no
    /// usable catalog, rebuilds both by scanning the file.
    fn trailer(&mut self) -> Rc<Dict> {
        let from_xref = self.read_xref_chain();
        // Objects read while the table was half-built (a /Length by reference) may be wrong.
        self.cache.clear();
        self.objstms.clear();
        let usable = from_xref.as_ref().is_some_and(|t| {
            let t = t.clone();
            let root = self.lookup(&t, b"Root");
            root.as_dict().is_some_and(|d| d.get(b"Pages").is_some())
        });
        if let (true, Some(trailer)) = (usable, from_xref.clone()) {
            return trailer;
        }
        self.damaged("the cross-reference table is unreadable");
        self.ensure_scanned();
        if let Some(trailer) = self.scanned_trailer.clone() {
            return trailer;
        }
        // No trailer anywhere: look for the catalog itself.
        let mut trailer: Vec<(Rc<[u8]>, Obj)> = Vec::new();
        if let Some(old) = from_xref {
            trailer.extend(old.entries.iter().filter(|(k, _)| &**k != b"Root").cloned());
        }
        if let Some(catalog) = self.find_object_with_type(b"Catalog").first() {
            trailer.push((Rc::from(&b"Root"[..]), Obj::Ref(*catalog)));
        }
        Rc::new(Dict::new(trailer))
    }

    /// Follows `startxref`, then `/XRefStm` and `/Prev`, reading each section once; returns the
    /// newest trailer.
    fn read_xref_chain(&mut self) -> Option<Rc<Dict>> {
        let data = self.data;
        let tail_start = data.len().saturating_sub(2048);
        let at = rfind(data.get(tail_start..).unwrap_or_default(), b"startxref")?;
        let mut lex = Lexer::new(data, tail_start.saturating_add(at).saturating_add(9));
        let Tok::Int(first) = lex.next() else { return None };
        let mut queue = vec![usize::try_from(first).ok()?];
        let mut seen = HashSet::new();
        let mut newest: Option<Rc<Dict>> = None;
        while let Some(offset) = queue.pop() {
            if !seen.insert(offset) {
                continue;
            }
            if seen.len() > MAX_XREF_SECTIONS {
                self.truncated = true;
                break;
            }
            let section = self.read_xref_section(offset).or_else(|| {
                let shifted = offset.checked_add(self.base).filter(|_| self.base > 0)?;
                self.read_xref_section(shifted)
            });
            let Some(trailer) = section else {
                self.damaged("a cross-reference section is unreadable");
                // The newest section broken: the whole table is suspect, rebuild it instead.
                newest.as_ref()?;
                continue;
            };
            // A stack: the hybrid file's /XRefStm is read before /Prev, as it is newer.
            if let Some(prev) = trailer.get(b"Prev").and_then(Obj::as_usize) {
                queue.push(prev);
            }
            if let Some(stm) = trailer.get(b"XRefStm").and_then(Obj::as_usize) {
                queue.push(stm);
            }
            if newest.is_none() {
                newest = Some(trailer);
            }
        }
        newest
    }

    fn read_xref_section(&mut self, offset: usize) -> Option<Rc<Dict>> {
        if self.exhausted {
            return None;
        }
        let data = self.data;
        let mut lex = Lexer::new(data, offset);
        match lex.next() {
            Tok::Kw(b"xref") => {
                let trailer = self.read_xref_table(&mut lex);
                self.charge(lex.pos.saturating_sub(offset));
                trailer
            }
            Tok::Int(_) => self.read_xref_stream(offset),
            _ => None,
        }
    }

    /// The classic table: subsections `start count` of `offset gen n|f` lines, then `trailer`.
    fn read_xref_table(&mut self, lex: &mut Lexer<'a>) -> Option<Rc<Dict>> {
        loop {
            match lex.next() {
                Tok::Int(start) => {
                    let Tok::Int(count) = lex.next() else { return None };
                    let mut index = 0i64;
                    while index < count {
                        let (Tok::Int(offset), Tok::Int(_), Tok::Kw(kind)) =
                            (lex.next(), lex.next(), lex.next())
                        else {
                            return None;
                        };
                        let id = start.checked_add(index).and_then(|n| u32::try_from(n).ok());
                        if let Some(id) = id {
                            match (kind, usize::try_from(offset)) {
                                (b"n", Ok(offset)) if offset > 0 => self.add_xref(id, Loc::At(offset)),
                                (b"f", _) if id > 0 => self.add_xref(id, Loc::Free),
                                _ => {}
                            }
                        }
                        index = index.saturating_add(1);
                    }
                }
                Tok::Kw(b"trailer") => {
                    let mut parser = Parser::new(lex.buf, lex.pos, self.nodes_left, self.limits.max_depth);
                    let parsed = parser.object(0);
                    self.nodes_left = parser.nodes;
                    lex.pos = parser.lex.pos;
                    return match parsed {
                        Ok(Obj::Dict(d)) => Some(d),
                        _ => None,
                    };
                }
                _ => return None,
            }
        }
    }

    /// A cross-reference stream (PDF 1.5): binary rows of `/W` field widths, over `/Index`.
    fn read_xref_stream(&mut self, offset: usize) -> Option<Rc<Dict>> {
        let Obj::Stream(stream) = self.parse_indirect(None, offset)? else {
            return None;
        };
        let dict = stream.dict.clone();
        if dict.name(b"Type") != Some(b"XRef") {
            return None;
        }
        let widths: Vec<usize> = dict
            .get(b"W")?
            .as_array()?
            .iter()
            .map(|w| w.as_usize().unwrap_or(usize::MAX))
            .collect();
        let [w0, w1, w2] = widths[..] else { return None };
        if w0 > 8 || w1 > 8 || w2 > 8 {
            return None;
        }
        let row = w0.saturating_add(w1).saturating_add(w2);
        if row == 0 {
            return None;
        }
        let size = dict.get(b"Size").and_then(Obj::as_i64).unwrap_or(0);
        let index: Vec<i64> = match dict.get(b"Index").and_then(Obj::as_array) {
            Some(items) => items.iter().map(|i| i.as_i64().unwrap_or(-1)).collect(),
            None => vec![0, size],
        };
        let data = self.decode_stream(&stream)?;
        let mut rows = data.chunks_exact(row);
        for pair in index.chunks_exact(2) {
            let [start, count] = *pair else { continue };
            let mut i = 0i64;
            while i < count {
                let Some(entry) = rows.next() else {
                    return Some(dict.clone());
                };
                let (f0, rest) = entry.split_at_checked(w0).unwrap_or_default();
                let (f1, f2) = rest.split_at_checked(w1).unwrap_or_default();
                let kind = if w0 == 0 { 1 } else { be_u64(f0) };
                let f1 = be_u64(f1);
                // The third field (generation or index in the object stream) is not needed:
                // the newest definition wins, and object streams are indexed by number.
                let _ = f2;
                if let Some(id) = start.checked_add(i).and_then(|n| u32::try_from(n).ok()) {
                    match kind {
                        0 if id > 0 => self.add_xref(id, Loc::Free),
                        1 => match usize::try_from(f1) {
                            Ok(offset) if offset > 0 => self.add_xref(id, Loc::At(offset)),
                            _ => {}
                        },
                        2 => {
                            if let Ok(stm) = u32::try_from(f1) {
                                self.add_xref(id, Loc::InStream(stm));
                            }
                        }
                        _ => {}
                    }
                }
                i = i.saturating_add(1);
            }
        }
        Some(dict)
    }

    /// Builds a table of every `N G obj` in the file (later definitions win, as in incremental
    /// updates), the last trailer with a catalog, and the contents of object streams.
    fn ensure_scanned(&mut self) {
        if self.scanned.is_some() {
            return;
        }
        let data = self.data;
        self.charge(data.len());
        let mut map: HashMap<u32, Loc> = HashMap::new();
        let mut order: Vec<(u32, usize)> = Vec::new();
        let mut from = 0;
        while let Some(at) = find(data, b"obj", from) {
            from = at.saturating_add(3);
            if data.get(from).is_some_and(|&b| is_regular(b)) {
                continue;
            }
            if let Some((id, start)) = object_header_before(data, at) {
                if map.len() >= self.limits.max_objects && !map.contains_key(&id) {
                    self.truncated = true;
                    continue;
                }
                map.insert(id, Loc::At(start));
                order.push((id, start));
            }
        }
        self.scanned = Some(map);
        let mut from = 0;
        while let Some(at) = find(data, b"trailer", from) {
            from = at.saturating_add(7);
            if self.exhausted {
                break;
            }
            let mut parser = Parser::new(data, from, self.nodes_left, self.limits.max_depth);
            let parsed = parser.object(0);
            self.nodes_left = parser.nodes;
            self.charge(parser.lex.pos.saturating_sub(from));
            if let Ok(Obj::Dict(d)) = parsed {
                if d.get(b"Root").is_some() {
                    self.scanned_trailer = Some(d);
                }
            }
        }
        // Cross-reference streams carry the trailer keys; object streams hold more objects.
        let mut stream_objects: Vec<(u32, u32)> = Vec::new();
        for &(id, start) in &order {
            let head = data
                .get(start..start.saturating_add(1024).min(data.len()))
                .unwrap_or_default();
            if find(head, b"/XRef", 0).is_some() && self.scanned_trailer.is_none() {
                if let Some(Obj::Stream(s)) = self.parse_indirect(Some(id), start) {
                    if s.dict.get(b"Root").is_some() {
                        self.scanned_trailer = Some(s.dict.clone());
                    }
                }
            }
            if find(head, b"/ObjStm", 0).is_some() {
                if let Some(objstm) = self.objstm(id) {
                    let mut ids: Vec<u32> = objstm.offsets.keys().copied().collect();
                    ids.sort_unstable();
                    stream_objects.extend(ids.into_iter().map(|inner| (inner, id)));
                }
            }
        }
        if let Some(map) = self.scanned.as_mut() {
            for (inner, stm) in stream_objects {
                if map.len() >= self.limits.max_objects && !map.contains_key(&inner) {
                    break;
                }
                map.entry(inner).or_insert(Loc::InStream(stm));
            }
        }
    }

    /// Numbers of the scanned objects whose `/Type` is `kind`, in file order.
    fn find_object_with_type(&mut self, kind: &[u8]) -> Vec<u32> {
        self.ensure_scanned();
        let data = self.data;
        let mut candidates: Vec<(usize, u32)> = Vec::new();
        if let Some(map) = &self.scanned {
            for (&id, loc) in map {
                let key = match loc {
                    // Only objects that mention the type near their start are parsed, so the
                    // budgets are not spent on the rest.
                    Loc::At(at) => {
                        let head = data
                            .get(*at..at.saturating_add(4096).min(data.len()))
                            .unwrap_or_default();
                        if find(head, kind, 0).is_none() {
                            continue;
                        }
                        *at
                    }
                    Loc::InStream(_) => usize::MAX,
                    Loc::Free => continue,
                };
                candidates.push((key, id));
            }
        }
        candidates.sort_unstable();
        let mut found = Vec::new();
        for (_, id) in candidates {
            if self.exhausted {
                break;
            }
            if let Obj::Dict(d) = self.get(id) {
                if d.name(b"Type") == Some(kind) {
                    found.push(id);
                }
            }
        }
        found
    }

    /// The leaves of the page tree, in order, each with its inherited resources. Walks with an
    /// explicit stack (no recursion), visits each referenced node once (so cyclic or repeated
    /// `/Kids` end), and stops at `max_depth` levels and `max_objects` pages.
    fn pages(&mut self, trailer: &Dict) -> Vec<Page> {
        let root = self.lookup(trailer, b"Root");
        let mut pages = Vec::new();
        if let Some(catalog) = root.as_dict() {
            let top = catalog.get(b"Pages").cloned().unwrap_or(Obj::Null);
            let mut stack: Vec<(Obj, usize, Obj)> = vec![(top, 0, Obj::Null)];
            let mut seen = HashSet::new();
            while let Some((node, depth, inherited)) = stack.pop() {
                if let Obj::Ref(id) = node {
                    if !seen.insert(id) {
                        self.damaged("the page tree has a cycle");
                        continue;
                    }
                }
                let node = self.resolve(&node);
                let Some(dict) = node.as_dict().cloned() else {
                    self.damaged("a page is missing");
                    continue;
                };
                let resources = dict.get(b"Resources").cloned().unwrap_or(inherited);
                let kind = dict.name(b"Type");
                let is_tree =
                    kind == Some(b"Pages") || (kind != Some(b"Page") && dict.get(b"Kids").is_some());
                if !is_tree {
                    if pages.len() >= self.limits.max_objects {
                        self.truncated = true;
                        break;
                    }
                    pages.push(Page { dict, resources });
                    continue;
                }
                if depth >= self.limits.max_depth {
                    self.truncated = true;
                    continue;
                }
                let kids = self.lookup(&dict, b"Kids");
                for kid in kids.as_array().unwrap_or_default().iter().rev() {
                    if stack.len() >= self.limits.max_objects {
                        self.truncated = true;
                        break;
                    }
                    stack.push((kid.clone(), depth.saturating_add(1), resources.clone()));
                }
            }
        }
        if pages.is_empty() && !self.exhausted {
            // No usable page tree: take the page objects in file order.
            for id in self.find_object_with_type(b"Page") {
                if let Obj::Dict(dict) = self.get(id) {
                    self.damaged("the page tree is unreadable");
                    let resources = self.inherited_resources(&dict);
                    pages.push(Page { dict, resources });
                }
            }
        }
        pages
    }

    /// A page's resources, from it or the nearest `/Parent` that has them.
    fn inherited_resources(&mut self, page: &Rc<Dict>) -> Obj {
        let mut node = page.clone();
        for _ in 0..self.limits.max_depth {
            if let Some(res) = node.get(b"Resources") {
                return res.clone();
            }
            match self.lookup(&node, b"Parent").as_dict() {
                Some(parent) => node = parent.clone(),
                None => break,
            }
        }
        Obj::Null
    }

    /// A stream's data with its filters undone, at most `max_stream_bytes` and within the work
    /// budget. None for filters that do not carry text (images) or data that cannot be had.
    fn decode_stream(&mut self, stream: &Stream) -> Option<Vec<u8>> {
        // A stream that already ran into the size cap is not decoded again: a bomb shared by
        // every page must not spend the whole budget.
        if self.exhausted || self.capped_streams.contains(&stream.start) {
            return None;
        }
        let raw = self.data.get(stream.start..stream.end)?;
        let filters = match self.lookup(&stream.dict, b"Filter") {
            Obj::Name(n) => vec![n],
            Obj::Array(items) => items.iter().filter_map(|f| f.as_name().map(Rc::from)).collect(),
            _ => Vec::new(),
        };
        if filters.len() > MAX_FILTERS {
            self.damaged("a stream has too many filters");
            return None;
        }
        let params = self.lookup(&stream.dict, b"DecodeParms");
        let mut data: Cow<'_, [u8]> = Cow::Borrowed(raw);
        let mut capped = false;
        for (i, filter) in filters.iter().enumerate() {
            let param = match &params {
                Obj::Array(items) => items.get(i).map(|p| self.resolve(p)).unwrap_or(Obj::Null),
                other => other.clone(),
            };
            let param = param.as_dict().cloned().unwrap_or_default();
            // Every stage's output is charged, so a chain of filters cannot multiply the work.
            let cap = self.limits.max_stream_bytes.min(self.work_left);
            let decoded = match &**filter {
                b"FlateDecode" | b"Fl" => inflate(&data, cap),
                b"LZWDecode" | b"LZW" => {
                    let early = param.get(b"EarlyChange").and_then(Obj::as_i64).unwrap_or(1) != 0;
                    lzw_decode(&data, cap, early)
                }
                b"ASCIIHexDecode" | b"AHx" => ascii_hex_decode(&data, cap),
                b"ASCII85Decode" | b"A85" => ascii85_decode(&data, cap),
                b"RunLengthDecode" | b"RL" => run_length_decode(&data, cap),
                b"Crypt" => continue,
                // Image codecs (DCT, JPX, CCITTFax, JBIG2) and unknown filters hold no text.
                _ => return None,
            };
            let decoded = match decoded {
                Decoded::Ok(bytes) => bytes,
                Decoded::Capped(bytes) => {
                    capped = true;
                    bytes
                }
                Decoded::Corrupt(bytes) => {
                    if bytes.is_empty() {
                        self.damaged("a compressed stream is corrupt");
                    }
                    bytes
                }
            };
            let decoded = match param.get(b"Predictor").and_then(Obj::as_i64) {
                Some(p) if p > 1 => unpredict(decoded, p, &param),
                _ => decoded,
            };
            if !self.spend_decoded(decoded.len()) {
                return None;
            }
            data = Cow::Owned(decoded);
        }
        let data = match data {
            Cow::Owned(data) => data,
            // Unfiltered bytes cost the same as decoded ones: they are interpreted all the same.
            Cow::Borrowed(raw) => {
                let cap = self.limits.max_stream_bytes.min(self.work_left);
                capped = raw.len() > cap;
                let raw = raw.get(..cap).unwrap_or(raw);
                if !self.spend_decoded(raw.len()) {
                    return None;
                }
                raw.to_vec()
            }
        };
        if capped {
            self.truncated = true;
            self.capped_streams.insert(stream.start);
        }
        Some(data)
    }

    /// Charges decoded bytes to the work budget and the statistics.
    fn spend_decoded(&mut self, n: usize) -> bool {
        self.stats.decoded_bytes = self.stats.decoded_bytes.saturating_add(n);
        self.stats.largest_stream = self.stats.largest_stream.max(n);
        self.charge(n)
    }
}

/// Whether `endstream` follows `at` (after white space): a /Length that can be trusted.
fn ends_stream(data: &[u8], at: usize) -> bool {
    let rest = data.get(at..).unwrap_or_default();
    // A few bytes of white space at most: an unbounded skip could be made to rescan the file.
    let Some(skip) = rest.iter().take(64).position(|&b| !is_ws(b)) else {
        return false;
    };
    rest.get(skip..).is_some_and(|r| r.starts_with(b"endstream"))
}

/// For an `obj` keyword at `at`, the object number and the offset of `N G obj` before it.
fn object_header_before(data: &[u8], at: usize) -> Option<(u32, usize)> {
    // Walks back at most a few dozen bytes: object numbers are short, and a bound keeps a
    // crafted run of digits from being walked once per `obj` after it.
    let floor = at.saturating_sub(64);
    let before = |i: usize| {
        i.checked_sub(1)
            .filter(|&j| j >= floor)
            .and_then(|j| data.get(j).copied().map(|b| (j, b)))
    };
    let mut i = at;
    while let Some((j, b)) = before(i).filter(|&(_, b)| is_ws(b)) {
        let _ = b;
        i = j;
    }
    let gen_end = i;
    while let Some((j, _)) = before(i).filter(|&(_, b)| b.is_ascii_digit()) {
        i = j;
    }
    if i == gen_end || before(i).is_none_or(|(_, b)| !is_ws(b)) {
        return None;
    }
    while let Some((j, _)) = before(i).filter(|&(_, b)| is_ws(b)) {
        i = j;
    }
    let id_end = i;
    while let Some((j, _)) = before(i).filter(|&(_, b)| b.is_ascii_digit()) {
        i = j;
    }
    if i == id_end || before(i).is_some_and(|(_, b)| is_regular(b)) {
        return None;
    }
    let digits = data.get(i..id_end)?;
    let id = digits.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u32::from(d.wrapping_sub(b'0')))
    })?;
    Some((id, i))
}

fn be_u64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0u64, |acc, &b| acc.wrapping_shl(8) | u64::from(b))
}

// ---------------------------------------------------------------------------------------------
// Stream filters

/// A filter's output and how it ended.
enum Decoded {
    Ok(Vec<u8>),
    /// Stopped at the size cap: the rest of the stream was not decoded.
    Capped(Vec<u8>),
    /// The data is corrupt: what was decoded before the fault.
    Corrupt(Vec<u8>),
}

/// Inflates zlib (or, failing that, raw deflate) data, growing the output by doubling and never
/// past `cap`: a bomb of a few bytes stops at `cap`, however much it would expand.
fn inflate(input: &[u8], cap: usize) -> Decoded {
    match inflate_with(input, cap, inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER) {
        // Some writers leave out the zlib header: try raw deflate before giving up.
        Decoded::Corrupt(out) if out.is_empty() => inflate_with(input, cap, 0),
        other => other,
    }
}

fn inflate_with(input: &[u8], cap: usize, flags: u32) -> Decoded {
    let flags = flags | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut out = vec![0u8; input.len().saturating_mul(4).clamp(1024, 1 << 20).min(cap)];
    let mut state = Box::<DecompressorOxide>::default();
    let (mut in_pos, mut out_pos) = (0usize, 0usize);
    loop {
        let rest = input.get(in_pos..).unwrap_or_default();
        let (status, consumed, written) = decompress(&mut state, rest, &mut out, out_pos, flags);
        in_pos = in_pos.saturating_add(consumed);
        out_pos = out_pos.saturating_add(written).min(out.len());
        match status {
            TINFLStatus::Done => {
                out.truncate(out_pos);
                return Decoded::Ok(out);
            }
            TINFLStatus::HasMoreOutput => {
                if out.len() >= cap {
                    out.truncate(out_pos);
                    return Decoded::Capped(out);
                }
                let grown = out.len().saturating_mul(2).clamp(1, cap);
                out.resize(grown, 0);
            }
            // Data that ends early or has a bad checksum still decoded this far: keep it quietly,
            // as viewers do (truncated final blocks are common in real files).
            TINFLStatus::Adler32Mismatch | TINFLStatus::FailedCannotMakeProgress if out_pos > 0 => {
                out.truncate(out_pos);
                return Decoded::Ok(out);
            }
            _ => {
                out.truncate(out_pos);
                return Decoded::Corrupt(out);
            }
        }
    }
}

/// LZW as PDF uses it: 9–12-bit codes, 256 clears, 257 ends; `early` is `/EarlyChange`.
fn lzw_decode(input: &[u8], cap: usize, early: bool) -> Decoded {
    // Each entry: (prefix entry, last byte, length of the string it stands for).
    let mut table: Vec<(u16, u8, u16)> = (0..=255u8).map(|b| (u16::MAX, b, 1)).collect();
    table.push((u16::MAX, 0, 0));
    table.push((u16::MAX, 0, 0));
    let mut out = Vec::new();
    let mut prev: Option<u16> = None;
    let mut width = 9u32;
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut bytes = input.iter();
    let mut scratch = Vec::new();
    loop {
        while bits < width {
            let Some(&b) = bytes.next() else {
                return Decoded::Ok(out);
            };
            acc = acc.wrapping_shl(8) | u32::from(b);
            bits = bits.saturating_add(8);
        }
        bits = bits.saturating_sub(width);
        let code = ((acc.wrapping_shr(bits)) & (1u32.wrapping_shl(width).wrapping_sub(1))) as u16;
        match code {
            256 => {
                table.truncate(258);
                width = 9;
                prev = None;
                continue;
            }
            257 => return Decoded::Ok(out),
            _ => {}
        }
        // The string for `code`, or for prev + its first byte when `code` is the next entry.
        scratch.clear();
        let known = usize::from(code) < table.len();
        let walk_from = if known { Some(code) } else { prev };
        let Some(mut at) = walk_from else {
            return Decoded::Corrupt(out);
        };
        if !known && usize::from(code) != table.len() {
            return Decoded::Corrupt(out);
        }
        for _ in 0..4096 {
            let Some(&(prefix, byte, _)) = table.get(usize::from(at)) else {
                break;
            };
            scratch.push(byte);
            if prefix == u16::MAX {
                break;
            }
            at = prefix;
        }
        scratch.reverse();
        let Some(&first) = scratch.first() else {
            return Decoded::Corrupt(out);
        };
        if !known {
            scratch.push(first);
        }
        if let Some(p) = prev {
            if table.len() < 4096 {
                let len = table.get(usize::from(p)).map_or(0, |e| e.2).saturating_add(1);
                table.push((p, first, len));
            }
        }
        if out.len().saturating_add(scratch.len()) > cap {
            let room = cap.saturating_sub(out.len());
            out.extend_from_slice(scratch.get(..room).unwrap_or_default());
            return Decoded::Capped(out);
        }
        out.extend_from_slice(&scratch);
        prev = Some(code);
        let next = table.len().saturating_add(usize::from(early));
        if next >= (1usize << width) && width < 12 {
            width = width.saturating_add(1);
        }
    }
}

fn ascii_hex_decode(input: &[u8], cap: usize) -> Decoded {
    let mut out = Vec::with_capacity((input.len() / 2).min(cap));
    let mut high: Option<u8> = None;
    for &c in input {
        if c == b'>' {
            break;
        }
        let Some(v) = hex_value(c) else { continue };
        match high.take() {
            Some(h) => {
                if out.len() >= cap {
                    return Decoded::Capped(out);
                }
                out.push(h.wrapping_shl(4) | v);
            }
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        if out.len() < cap {
            out.push(h.wrapping_shl(4));
        }
    }
    Decoded::Ok(out)
}

fn ascii85_decode(input: &[u8], cap: usize) -> Decoded {
    let mut out = Vec::with_capacity(input.len().min(cap));
    let mut group = [0u8; 5];
    let mut n = 0usize;
    let push = |out: &mut Vec<u8>, bytes: &[u8]| -> bool {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        bytes.len() <= room
    };
    let value = |group: &[u8; 5]| -> [u8; 4] {
        let v = group
            .iter()
            .fold(0u64, |acc, &c| acc.wrapping_mul(85).wrapping_add(u64::from(c)));
        ((v & 0xFFFF_FFFF) as u32).to_be_bytes()
    };
    let input = input.strip_prefix(b"<~").unwrap_or(input);
    for &c in input {
        match c {
            b'~' => break,
            b'z' if n == 0 && !push(&mut out, &[0; 4]) => return Decoded::Capped(out),
            b'z' if n == 0 => {}
            b'!'..=b'u' => {
                if let Some(slot) = group.get_mut(n) {
                    *slot = c.wrapping_sub(b'!');
                }
                n = n.saturating_add(1);
                if n == 5 {
                    if !push(&mut out, &value(&group)) {
                        return Decoded::Capped(out);
                    }
                    n = 0;
                }
            }
            _ => {}
        }
    }
    if n > 1 {
        // A final partial group of n characters is padded with 'u' and gives n - 1 bytes.
        for slot in group.iter_mut().skip(n) {
            *slot = 84;
        }
        let bytes = value(&group);
        if !push(&mut out, bytes.get(..n.saturating_sub(1)).unwrap_or_default()) {
            return Decoded::Capped(out);
        }
    }
    Decoded::Ok(out)
}

fn run_length_decode(input: &[u8], cap: usize) -> Decoded {
    let mut out = Vec::new();
    let mut bytes = input.iter();
    while let Some(&len) = bytes.next() {
        let (chunk, repeat): (Vec<u8>, usize) = match len {
            128 => break,
            0..=127 => (
                bytes
                    .by_ref()
                    .take(usize::from(len).saturating_add(1))
                    .copied()
                    .collect(),
                1,
            ),
            _ => match bytes.next() {
                Some(&b) => (vec![b], 257usize.saturating_sub(usize::from(len))),
                None => break,
            },
        };
        for _ in 0..repeat {
            if out.len().saturating_add(chunk.len()) > cap {
                return Decoded::Capped(out);
            }
            out.extend_from_slice(&chunk);
        }
    }
    Decoded::Ok(out)
}

/// Undoes PNG (10–15) and TIFF (2) predictors, as cross-reference streams commonly use.
/// Parameters that make no sense leave the data as it is.
fn unpredict(data: Vec<u8>, predictor: i64, params: &Dict) -> Vec<u8> {
    let get = |key: &[u8], default: usize| params.get(key).and_then(Obj::as_usize).unwrap_or(default);
    let colors = get(b"Colors", 1);
    let bpc = get(b"BitsPerComponent", 8);
    let columns = get(b"Columns", 1);
    if !(1..=32).contains(&colors) || !matches!(bpc, 1 | 2 | 4 | 8 | 16) || !(1..=1 << 20).contains(&columns)
    {
        return data;
    }
    let bits = colors.saturating_mul(bpc);
    let bpp = bits.div_ceil(8).max(1);
    let row = bits.saturating_mul(columns).div_ceil(8);
    if row == 0 {
        return data;
    }
    if predictor == 2 {
        if bpc != 8 {
            return data;
        }
        let mut out = data;
        for line in out.chunks_mut(row) {
            for i in bpp..line.len() {
                let left = i.checked_sub(bpp).and_then(|j| line.get(j)).copied().unwrap_or(0);
                if let Some(b) = line.get_mut(i) {
                    *b = b.wrapping_add(left);
                }
            }
        }
        return out;
    }
    if predictor < 10 {
        return data;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row];
    let mut line = vec![0u8; row];
    for chunk in data.chunks(row.saturating_add(1)) {
        let Some((&filter, cur)) = chunk.split_first() else {
            continue;
        };
        for (i, &x) in cur.iter().enumerate() {
            let a = i.checked_sub(bpp).and_then(|j| line.get(j)).copied().unwrap_or(0);
            let b = prev.get(i).copied().unwrap_or(0);
            let c = i.checked_sub(bpp).and_then(|j| prev.get(j)).copied().unwrap_or(0);
            let v = match filter {
                1 => x.wrapping_add(a),
                2 => x.wrapping_add(b),
                3 => x.wrapping_add((u16::from(a).wrapping_add(u16::from(b)) >> 1) as u8),
                4 => x.wrapping_add(paeth(a, b, c)),
                _ => x,
            };
            if let Some(slot) = line.get_mut(i) {
                *slot = v;
            }
        }
        out.extend_from_slice(line.get(..cur.len()).unwrap_or_default());
        std::mem::swap(&mut prev, &mut line);
    }
    out
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia.wrapping_add(ib).wrapping_sub(ic);
    let (pa, pb, pc) = (
        p.wrapping_sub(ia).wrapping_abs(),
        p.wrapping_sub(ib).wrapping_abs(),
        p.wrapping_sub(ic).wrapping_abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

// ---------------------------------------------------------------------------------------------
// Fonts: from character codes to Unicode (and widths, to find word spaces)

/// A range of codes of one byte length, as `begincodespacerange` gives them.
#[derive(Debug, Clone)]
struct CodeRange {
    len: usize,
    lo: [u8; 4],
    hi: [u8; 4],
}

impl CodeRange {
    fn new(lo: &[u8], hi: &[u8]) -> Option<Self> {
        if lo.len() != hi.len() || lo.is_empty() || lo.len() > 4 {
            return None;
        }
        let (mut l, mut h) = ([0u8; 4], [0u8; 4]);
        l.iter_mut().zip(lo).for_each(|(s, b)| *s = *b);
        h.iter_mut().zip(hi).for_each(|(s, b)| *s = *b);
        Some(CodeRange {
            len: lo.len(),
            lo: l,
            hi: h,
        })
    }

    fn contains(&self, code: &[u8]) -> bool {
        code.len() == self.len
            && code
                .iter()
                .zip(self.lo.iter().zip(&self.hi))
                .all(|(b, (lo, hi))| (lo..=hi).contains(&b))
    }
}

/// What a `bfrange` maps to.
#[derive(Debug, Clone)]
enum RangeDst {
    /// UTF-16 units for the first code; later codes increment the last unit.
    Base(Vec<u16>),
    /// One string per code, in order.
    List(Vec<String>),
}

/// A `/ToUnicode` CMap. Ranges are kept as ranges, never expanded, so `<00000000> <FFFFFFFF>`
/// costs one entry. Codes are looked up by value, whatever their byte length: producers that
/// write two-byte sources for one-byte fonts are common, and readers accept them.
#[derive(Debug, Default)]
struct CMap {
    codespace: Vec<CodeRange>,
    single: HashMap<u32, String>,
    /// Sorted by start.
    ranges: Vec<(u32, u32, RangeDst)>,
}

impl CMap {
    /// Reads the CMap operators we need from a decoded CMap stream; `budget` counts entries.
    fn parse(data: &[u8], budget: &mut usize) -> CMap {
        let mut cmap = CMap::default();
        let mut lex = Lexer::new(data, 0);
        loop {
            match lex.next() {
                Tok::Eof => break,
                Tok::Kw(b"begincodespacerange") => {
                    while let (Tok::Str(lo), Tok::Str(hi)) = (lex.next(), lex.next()) {
                        if let Some(range) = CodeRange::new(&lo, &hi) {
                            if !take(budget) {
                                break;
                            }
                            cmap.codespace.push(range);
                        }
                    }
                }
                Tok::Kw(b"beginbfchar") => {
                    while let Tok::Str(src) = lex.next() {
                        let dst = match lex.next() {
                            Tok::Str(dst) => utf16_to_string(&dst),
                            Tok::Name(name) => glyph_to_unicode(&name).unwrap_or_default(),
                            _ => break,
                        };
                        if src.len() <= 4 && take(budget) {
                            cmap.single.insert(be_u32(&src), dst);
                        }
                    }
                }
                Tok::Kw(b"beginbfrange") => {
                    while let (Tok::Str(lo), Tok::Str(hi)) = (lex.next(), lex.next()) {
                        let dst = match lex.next() {
                            Tok::Str(dst) => RangeDst::Base(utf16_units(&dst)),
                            Tok::ArrOpen => {
                                let mut list = Vec::new();
                                while let Tok::Str(item) = lex.next() {
                                    if !take(budget) {
                                        break;
                                    }
                                    list.push(utf16_to_string(&item));
                                }
                                RangeDst::List(list)
                            }
                            _ => break,
                        };
                        let (lo_code, hi_code) = (be_u32(&lo), be_u32(&hi));
                        if lo.len() <= 4 && hi.len() <= 4 && lo_code <= hi_code && take(budget) {
                            cmap.ranges.push((lo_code, hi_code, dst));
                        }
                    }
                }
                _ => {}
            }
            if *budget == 0 {
                break;
            }
        }
        cmap.ranges.sort_by_key(|r| r.0);
        cmap
    }

    fn lookup(&self, code: u32) -> Option<String> {
        if let Some(s) = self.single.get(&code) {
            return Some(s.clone());
        }
        let after = self.ranges.partition_point(|r| r.0 <= code);
        // Overlapping ranges are rare; look back a few for one that holds the code.
        let candidates = self
            .ranges
            .get(after.saturating_sub(4)..after)
            .unwrap_or_default();
        let (lo, _, dst) = candidates.iter().rev().find(|r| r.0 <= code && code <= r.1)?;
        let offset = code.wrapping_sub(*lo);
        match dst {
            RangeDst::List(list) => list.get(usize::try_from(offset).ok()?).cloned(),
            RangeDst::Base(units) => {
                let (&last, head) = units.split_last()?;
                let bumped = u32::from(last).checked_add(offset)?;
                if head.is_empty() {
                    return char::from_u32(bumped).map(String::from);
                }
                let mut units = head.to_vec();
                units.push(u16::try_from(bumped).ok()?);
                Some(
                    char::decode_utf16(units)
                        .map(|r| r.unwrap_or('\u{FFFD}'))
                        .collect(),
                )
            }
        }
    }
}

/// Spends one unit of a budget; false when none is left.
fn take(budget: &mut usize) -> bool {
    match budget.checked_sub(1) {
        Some(left) => {
            *budget = left;
            true
        }
        None => false,
    }
}

/// UTF-16BE code units; a lone byte (invalid, but seen) is taken as a Latin-1 character.
fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    if let [b] = bytes {
        return vec![u16::from(*b)];
    }
    bytes
        .chunks_exact(2)
        .map(|p| p.iter().fold(0u16, |acc, &b| acc.wrapping_shl(8) | u16::from(b)))
        .collect()
}

fn utf16_to_string(bytes: &[u8]) -> String {
    char::decode_utf16(utf16_units(bytes))
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

/// Advance widths, in thousandths of the text size.
#[derive(Debug)]
enum Widths {
    /// `/FirstChar` and `/Widths` of a simple font.
    Simple {
        first: u32,
        widths: Vec<f64>,
        missing: f64,
    },
    /// `/DW` and the `/W` ranges of a CID font, sorted by first code.
    Cid {
        default: f64,
        ranges: Vec<(u32, u32, CidWidth)>,
    },
    /// Unknown: a typical average.
    Estimated,
}

#[derive(Debug)]
enum CidWidth {
    Same(f64),
    Each(Vec<f64>),
}

#[derive(Debug)]
struct Font {
    /// Type0 fonts take codes of several bytes; simple fonts one byte each.
    multibyte: bool,
    /// How to split a Type0 string into codes; empty means two bytes each.
    codespace: Vec<CodeRange>,
    to_unicode: Option<CMap>,
    /// For simple fonts, the text of each of the 256 codes by their encoding.
    encoding: Option<Vec<Option<String>>>,
    /// A Type0 font with a predefined UCS-2/UTF-16 CMap: the codes are Unicode.
    unicode_codes: bool,
    widths: Widths,
    /// Glyph-space to text-space scale for widths (Type 3 fonts have their own matrix).
    width_scale: f64,
}

impl Font {
    /// For text drawn with no font selected, or with a font that cannot be read.
    fn fallback() -> Font {
        Font {
            multibyte: false,
            codespace: Vec::new(),
            to_unicode: None,
            encoding: Some(base_encoding(&WIN_ANSI_ENCODING)),
            unicode_codes: false,
            widths: Widths::Estimated,
            width_scale: 1.0,
        }
    }

    /// The next code in `bytes` at `pos` and its length in bytes (never 0 on non-empty input).
    fn next_code(&self, bytes: &[u8], pos: usize) -> (u32, usize) {
        let rest = bytes.get(pos..).unwrap_or_default();
        if !self.multibyte {
            return (rest.first().map_or(0, |&b| u32::from(b)), 1);
        }
        if self.codespace.is_empty() {
            let code = rest.get(..2).unwrap_or(rest);
            return (be_u32(code), code.len().max(1));
        }
        for n in 1..=4 {
            let Some(code) = rest.get(..n) else { break };
            if self.codespace.iter().any(|r| r.contains(code)) {
                return (be_u32(code), n);
            }
        }
        // Not in any range: skip as many bytes as the shortest range takes.
        let n = self
            .codespace
            .iter()
            .map(|r| r.len)
            .min()
            .unwrap_or(1)
            .clamp(1, rest.len().max(1));
        (be_u32(rest.get(..n).unwrap_or(rest)), n)
    }

    fn text(&self, code: u32) -> Option<String> {
        if let Some(s) = self.to_unicode.as_ref().and_then(|m| m.lookup(code)) {
            if s.chars().any(|c| c != '\0') {
                return Some(s);
            }
        }
        if let Some(encoding) = &self.encoding {
            return encoding.get(usize::try_from(code).ok()?).cloned().flatten();
        }
        if self.unicode_codes {
            return char::from_u32(code).map(String::from);
        }
        None
    }

    /// The advance of a code, in thousandths of the text size.
    fn width(&self, code: u32) -> f64 {
        let w = match &self.widths {
            Widths::Simple {
                first,
                widths,
                missing,
            } => code
                .checked_sub(*first)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| widths.get(i))
                .copied()
                .unwrap_or(*missing),
            Widths::Cid { default, ranges } => {
                let after = ranges.partition_point(|r| r.0 <= code);
                match after.checked_sub(1).and_then(|i| ranges.get(i)) {
                    Some((lo, hi, w)) if code <= *hi => match w {
                        CidWidth::Same(w) => *w,
                        CidWidth::Each(list) => usize::try_from(code.wrapping_sub(*lo))
                            .ok()
                            .and_then(|i| list.get(i))
                            .copied()
                            .unwrap_or(*default),
                    },
                    _ => *default,
                }
            }
            Widths::Estimated => 500.0,
        };
        w * self.width_scale
    }

    fn widths_known(&self) -> bool {
        !matches!(self.widths, Widths::Estimated)
    }
}

/// A code → text table from one of the encoding tables below.
fn base_encoding(table: &[u16; 256]) -> Vec<Option<String>> {
    table
        .iter()
        .map(|&u| {
            if u == 0 {
                None
            } else {
                char::from_u32(u32::from(u)).map(String::from)
            }
        })
        .collect()
}

/// The Unicode text of a glyph name: the names of the Adobe Glyph List that Latin text uses,
/// `uniXXXX` and `uXXXX[XX]` names, `afii` Cyrillic names, suffixes (`a.sc`) and ligatures
/// (`f_f_i`). Names of glyph indices (`g123`) have no text.
fn glyph_to_unicode(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    let base = name.split('.').next()?;
    if base.is_empty() {
        return None;
    }
    if base.contains('_') {
        let parts: Option<String> = base.split('_').map(single_glyph).collect();
        return parts;
    }
    single_glyph(base)
}

/// [`GLYPH_NAMES`] as a map, built on first use.
fn glyph_table() -> &'static HashMap<&'static str, u32> {
    static TABLE: std::sync::OnceLock<HashMap<&'static str, u32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        let mut words = GLYPH_NAMES.split_ascii_whitespace();
        while let (Some(glyph), Some(hex)) = (words.next(), words.next()) {
            if let Ok(unicode) = u32::from_str_radix(hex, 16) {
                table.insert(glyph, unicode);
            }
        }
        table
    })
}

fn single_glyph(name: &str) -> Option<String> {
    if name.len() == 1 && name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Some(name.to_string());
    }
    if let Some(&unicode) = glyph_table().get(name) {
        return char::from_u32(unicode).map(String::from);
    }
    if let Some(hex) = name.strip_prefix("uni") {
        if hex.len() >= 4 && hex.len() % 4 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let units: Vec<u16> = hex
                .as_bytes()
                .chunks_exact(4)
                .filter_map(|c| {
                    std::str::from_utf8(c)
                        .ok()
                        .and_then(|s| u16::from_str_radix(s, 16).ok())
                })
                .collect();
            return Some(
                char::decode_utf16(units)
                    .map(|r| r.unwrap_or('\u{FFFD}'))
                    .collect(),
            );
        }
    }
    if let Some(hex) = name.strip_prefix('u') {
        if (4..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .map(String::from);
        }
    }
    if let Some(num) = name.strip_prefix("afii").and_then(|n| n.parse::<u32>().ok()) {
        // The Adobe names of the Russian alphabet: А–Я is 10017–10049 and а–я 10065–10097,
        // in alphabetical order with Ё/ё in sixth place.
        let unicode = match num {
            10017..=10022 => num.wrapping_sub(10017).wrapping_add(0x0410),
            10023 => 0x0401,
            10024..=10049 => num.wrapping_sub(10024).wrapping_add(0x0416),
            10065..=10070 => num.wrapping_sub(10065).wrapping_add(0x0430),
            10071 => 0x0451,
            10072..=10097 => num.wrapping_sub(10072).wrapping_add(0x0436),
            _ => return None,
        };
        return char::from_u32(unicode).map(String::from);
    }
    None
}

impl Doc<'_> {
    /// The font a `/Font` resource entry names, built once per font (a `Tf` in a loop must not
    /// rebuild it each time).
    fn font(&mut self, entry: &Obj) -> Rc<Font> {
        if let Obj::Ref(id) = entry {
            if let Some(font) = self.fonts.get(id) {
                return font.clone();
            }
        }
        let resolved = self.resolve(entry);
        let font = match resolved.as_dict() {
            Some(dict) => {
                // A font dictionary written inline is keyed by its address; the entry keeps the
                // dictionary alive, so the address cannot be reused for another one.
                let key = Rc::as_ptr(dict) as usize;
                if let Some((_, font)) = self.inline_fonts.get(&key) {
                    return font.clone();
                }
                let font = Rc::new(self.build_font(dict));
                if !matches!(entry, Obj::Ref(_)) {
                    self.inline_fonts.insert(key, (dict.clone(), font.clone()));
                }
                font
            }
            None => self.fallback_font(),
        };
        if let Obj::Ref(id) = entry {
            self.fonts.insert(*id, font.clone());
        }
        font
    }

    /// For text drawn with no font selected, or with a font that cannot be read.
    fn fallback_font(&mut self) -> Rc<Font> {
        self.fallback_font
            .get_or_insert_with(|| Rc::new(Font::fallback()))
            .clone()
    }

    fn build_font(&mut self, dict: &Dict) -> Font {
        let to_unicode = match self.lookup(dict, b"ToUnicode") {
            Obj::Stream(s) => self
                .decode_stream(&s)
                .map(|data| CMap::parse(&data, &mut self.nodes_left)),
            _ => None,
        };
        if self.nodes_left == 0 {
            self.truncated = true;
        }
        if dict.name(b"Subtype") == Some(b"Type0") {
            return self.build_type0(dict, to_unicode);
        }
        let base_font = dict.name(b"BaseFont").unwrap_or_default().to_vec();
        let symbolic = [&b"Symbol"[..], b"ZapfDingbats", b"Wingdings"]
            .iter()
            .any(|s| find(&base_font, s, 0).is_some());
        let (base_name, differences) = match self.lookup(dict, b"Encoding") {
            Obj::Name(n) => (Some(n), None),
            Obj::Dict(d) => (
                d.get(b"BaseEncoding").and_then(Obj::as_name).map(Rc::from),
                d.get(b"Differences").cloned(),
            ),
            _ => (None, None),
        };
        let table = match base_name.as_deref() {
            Some(b"WinAnsiEncoding") => Some(&WIN_ANSI_ENCODING),
            Some(b"MacRomanEncoding") => Some(&MAC_ROMAN_ENCODING),
            Some(b"StandardEncoding") => Some(&STANDARD_ENCODING),
            _ if symbolic => None,
            // No encoding named: Type 1 fonts default to Standard; for the rest WinAnsi is what
            // the bytes almost always are.
            _ if dict.name(b"Subtype") == Some(b"Type1") => Some(&STANDARD_ENCODING),
            _ => Some(&WIN_ANSI_ENCODING),
        };
        let mut encoding = match table {
            Some(table) => base_encoding(table),
            None => vec![None; 256],
        };
        if base_name.is_none() {
            // An embedded Type 1 program has its own encoding, which applies when the font
            // dictionary names none: TeX's math fonts (no ToUnicode) rely on it.
            if let Some(builtin) = self.type1_builtin_encoding(dict) {
                encoding = builtin;
            }
        }
        if let Some(diffs) = differences.map(|d| self.resolve(&d)) {
            let mut code = 0usize;
            for item in diffs.as_array().unwrap_or_default() {
                match item {
                    Obj::Int(_) | Obj::Real(_) => code = item.as_usize().unwrap_or(usize::MAX),
                    Obj::Name(name) => {
                        if let Some(slot) = encoding.get_mut(code) {
                            *slot = glyph_to_unicode(name);
                        }
                        code = code.saturating_add(1);
                    }
                    _ => {}
                }
            }
        }
        let widths = match self.lookup(dict, b"Widths") {
            Obj::Array(items) => Widths::Simple {
                first: dict
                    .get(b"FirstChar")
                    .and_then(Obj::as_i64)
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0),
                widths: items
                    .iter()
                    .map(|w| self.resolve(w).as_f64().unwrap_or(0.0))
                    .collect(),
                missing: 0.0,
            },
            _ => standard_widths(&base_font),
        };
        let width_scale = match (dict.name(b"Subtype"), self.lookup(dict, b"FontMatrix").as_array()) {
            (Some(b"Type3"), Some(m)) => m.first().and_then(Obj::as_f64).map_or(1.0, |a| a * 1000.0),
            _ => 1.0,
        };
        Font {
            multibyte: false,
            codespace: Vec::new(),
            to_unicode,
            encoding: Some(encoding),
            unicode_codes: false,
            widths,
            width_scale,
        }
    }

    fn build_type0(&mut self, dict: &Dict, to_unicode: Option<CMap>) -> Font {
        let mut unicode_codes = false;
        let mut codespace = Vec::new();
        let mut known_encoding = false;
        match self.lookup(dict, b"Encoding") {
            Obj::Name(name) => {
                // Identity-H/V: two bytes per code. The UCS-2 and UTF-16 CMaps: codes are Unicode.
                known_encoding = name.starts_with(b"Identity");
                if find(&name, b"UCS2", 0).is_some() || find(&name, b"UTF16", 0).is_some() {
                    unicode_codes = true;
                    known_encoding = true;
                }
            }
            Obj::Stream(s) => {
                if let Some(data) = self.decode_stream(&s) {
                    codespace = CMap::parse(&data, &mut self.nodes_left).codespace;
                    known_encoding = !codespace.is_empty();
                }
            }
            _ => {}
        }
        // For the other predefined CMaps, the ToUnicode map's code ranges are the best guess.
        if !known_encoding {
            if let Some(cmap) = &to_unicode {
                codespace = cmap.codespace.clone();
            }
        }
        let descendant = match self.lookup(dict, b"DescendantFonts") {
            Obj::Array(items) => items.first().map(|d| self.resolve(d)).unwrap_or(Obj::Null),
            other => other,
        };
        let widths = match descendant.as_dict() {
            Some(cid) => {
                let default = cid.get(b"DW").and_then(Obj::as_f64).unwrap_or(1000.0);
                let w = self.lookup(cid, b"W");
                Widths::Cid {
                    default,
                    ranges: self.cid_widths(w.as_array().unwrap_or_default()),
                }
            }
            None => Widths::Cid {
                default: 1000.0,
                ranges: Vec::new(),
            },
        };
        Font {
            multibyte: true,
            codespace,
            to_unicode,
            encoding: None,
            unicode_codes,
            widths,
            width_scale: 1.0,
        }
    }

    /// The encoding in the clear-text part of an embedded Type 1 font program
    /// (`dup 58 /period put …`), or None when it has none or says `StandardEncoding`.
    fn type1_builtin_encoding(&mut self, dict: &Dict) -> Option<Vec<Option<String>>> {
        let descriptor = self.lookup(dict, b"FontDescriptor");
        let Obj::Stream(program) = self.lookup(descriptor.as_dict()?, b"FontFile") else {
            return None;
        };
        let data = self.decode_stream(&program)?;
        let clear = data
            .get(..find(&data, b"eexec", 0).unwrap_or(data.len()))
            .unwrap_or_default();
        let at = find(clear, b"/Encoding", 0)?;
        let mut lex = Lexer::new(clear, at.saturating_add(9));
        let mut encoding: Vec<Option<String>> = vec![None; 256];
        let (mut code, mut name): (Option<usize>, Option<Vec<u8>>) = (None, None);
        let mut found = false;
        loop {
            match lex.next() {
                Tok::Kw(b"StandardEncoding") if !found => return None,
                Tok::Int(n) => code = usize::try_from(n).ok(),
                Tok::Name(n) => name = Some(n),
                Tok::Kw(b"put") => {
                    if let (Some(code), Some(name)) = (code.take(), name.take()) {
                        if let Some(slot) = encoding.get_mut(code) {
                            *slot = glyph_to_unicode(&name);
                            found = true;
                        }
                    }
                }
                Tok::Kw(b"def") | Tok::Kw(b"readonly") if found => break,
                Tok::Eof => break,
                _ => {}
            }
        }
        found.then_some(encoding)
    }

    /// `/W`: `c [w1 w2 …]` and `c_first c_last w` entries.
    fn cid_widths(&mut self, items: &[Obj]) -> Vec<(u32, u32, CidWidth)> {
        let mut ranges = Vec::new();
        let mut i = 0usize;
        while let Some(first) = items
            .get(i)
            .and_then(Obj::as_i64)
            .and_then(|v| u32::try_from(v).ok())
        {
            match items.get(i.saturating_add(1)).map(|o| self.resolve(o)) {
                Some(Obj::Array(list)) => {
                    let list: Vec<f64> = list.iter().map(|w| w.as_f64().unwrap_or(0.0)).collect();
                    let last = u32::try_from(list.len())
                        .ok()
                        .and_then(|n| first.checked_add(n.saturating_sub(1)));
                    if let (Some(last), false) = (last, list.is_empty()) {
                        ranges.push((first, last, CidWidth::Each(list)));
                    }
                    i = i.saturating_add(2);
                }
                Some(last) => {
                    let last = last.as_i64().and_then(|v| u32::try_from(v).ok());
                    let w = items.get(i.saturating_add(2)).and_then(Obj::as_f64);
                    if let (Some(last), Some(w)) = (last, w) {
                        if first <= last {
                            ranges.push((first, last, CidWidth::Same(w)));
                        }
                    }
                    i = i.saturating_add(3);
                }
                None => break,
            }
        }
        ranges.sort_by_key(|r| r.0);
        ranges
    }
}

/// Widths of the standard fonts that files use without embedding (and without `/Widths`):
/// Helvetica (Arial), Times and Courier, for the printable ASCII codes.
fn standard_widths(base_font: &[u8]) -> Widths {
    let table = if find(base_font, b"Courier", 0).is_some() {
        return Widths::Simple {
            first: 0,
            widths: Vec::new(),
            missing: 600.0,
        };
    } else if find(base_font, b"Helvetica", 0).is_some() || find(base_font, b"Arial", 0).is_some() {
        &HELVETICA_WIDTHS
    } else if find(base_font, b"Times", 0).is_some() {
        &TIMES_WIDTHS
    } else {
        return Widths::Estimated;
    };
    Widths::Simple {
        first: 32,
        widths: table.iter().map(|&w| f64::from(w)).collect(),
        missing: 500.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Content streams: text operators, in the order the stream draws them

/// An affine matrix `[a b c d e f]`, row-vector convention as in the PDF spec.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mat([f64; 6]);

const IDENTITY: Mat = Mat([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

impl Mat {
    fn from_operands(ops: &[Obj]) -> Option<Mat> {
        let mut m = [0.0; 6];
        if ops.len() != 6 {
            return None;
        }
        for (slot, op) in m.iter_mut().zip(ops) {
            *slot = op.as_f64()?;
        }
        Some(Mat(m))
    }

    fn translate(x: f64, y: f64) -> Mat {
        Mat([1.0, 0.0, 0.0, 1.0, x, y])
    }

    /// `self × other`: apply `self`, then `other`.
    fn mul(&self, other: &Mat) -> Mat {
        let [a1, b1, c1, d1, e1, f1] = self.0;
        let [a2, b2, c2, d2, e2, f2] = other.0;
        Mat([
            a1 * a2 + b1 * c2,
            a1 * b2 + b1 * d2,
            c1 * a2 + d1 * c2,
            c1 * b2 + d1 * d2,
            e1 * a2 + f1 * c2 + e2,
            e1 * b2 + f1 * d2 + f2,
        ])
    }

    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (x * a + y * c + e, x * b + y * d + f)
    }
}

/// The text state parameters that `q`/`Q` save with the graphics state.
#[derive(Clone)]
struct GState {
    ctm: Mat,
    font: Option<Rc<Font>>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    scale: f64,
    leading: f64,
    rise: f64,
}

impl GState {
    fn new(ctm: Mat) -> Self {
        GState {
            ctm,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// Where the last shown text ended, in device space, to tell a new line or a word gap.
#[derive(Clone, Copy)]
struct LastText {
    end: (f64, f64),
    size: f64,
    /// The baseline's direction, a unit vector.
    dir: (f64, f64),
}

/// The extracted text so far, with its character count and limit. Separators are held back
/// (`pending`) until the next character, so none trails a page and none doubles a space that
/// the text itself has.
struct Out {
    text: String,
    chars: usize,
    max: usize,
    full: bool,
    pending: Option<char>,
    last: Option<LastText>,
}

impl Out {
    fn new(max: usize) -> Self {
        Out {
            text: String::new(),
            chars: 0,
            max,
            full: false,
            pending: None,
            last: None,
        }
    }

    fn raw(&mut self, c: char) {
        if self.chars >= self.max {
            self.full = true;
            return;
        }
        self.text.push(c);
        self.chars = self.chars.saturating_add(1);
    }

    fn separate(&mut self, c: char) {
        if self.pending != Some('\n') {
            self.pending = Some(c);
        }
    }

    fn push(&mut self, c: char) {
        // Control characters (a font mapping to U+0000, a stray form feed) would corrupt the
        // text and its page breaks, and private-use characters (symbol fonts' bullets and icons)
        // mean nothing to a reader; tabs and no-break spaces become spaces.
        let c = match c {
            '\t' | '\u{a0}' => ' ',
            c if c.is_control() || ('\u{e000}'..='\u{f8ff}').contains(&c) => return,
            c => c,
        };
        let at_start = self.text.is_empty() || self.text.ends_with('\n');
        match self.pending.take() {
            Some('\n') if !at_start => {
                while self.text.ends_with(' ') {
                    self.text.pop();
                    self.chars = self.chars.saturating_sub(1);
                }
                self.raw('\n');
            }
            Some(' ') if !at_start && !self.text.ends_with(' ') && c != ' ' => self.raw(' '),
            _ => {}
        }
        if c == ' ' && (self.text.is_empty() || self.text.ends_with('\n')) {
            return;
        }
        self.raw(c);
    }

    fn page_break(&mut self) {
        while self.text.ends_with(' ') {
            self.text.pop();
            self.chars = self.chars.saturating_sub(1);
        }
        for c in PAGE_BREAK.chars() {
            self.raw(c);
        }
        self.pending = None;
        self.last = None;
    }
}

/// Interprets one content stream (and the forms it draws) into `out`.
struct Interp<'d, 'a> {
    doc: &'d mut Doc<'a>,
    out: &'d mut Out,
    gs: GState,
    saved: Vec<GState>,
    tm: Mat,
    tlm: Mat,
}

impl Doc<'_> {
    fn page_text(&mut self, page: &Page, out: &mut Out) {
        let mut content = Vec::new();
        match self.lookup(&page.dict, b"Contents") {
            Obj::Stream(s) => content = self.decode_stream(&s).unwrap_or_default(),
            Obj::Array(parts) => {
                // The parts form one stream: an operator's operands may be in the previous part.
                for part in parts.iter() {
                    if let Obj::Stream(s) = self.resolve(part) {
                        content.extend(self.decode_stream(&s).unwrap_or_default());
                        content.push(b'\n');
                    }
                }
            }
            _ => {}
        }
        let resources = self
            .resolve(&page.resources)
            .as_dict()
            .cloned()
            .unwrap_or_default();
        let mut interp = Interp {
            doc: self,
            out,
            gs: GState::new(IDENTITY),
            saved: Vec::new(),
            tm: IDENTITY,
            tlm: IDENTITY,
        };
        let mut forms = Vec::new();
        interp.run(&content, &resources, 0, &mut forms);
    }
}

/// The last `n` operands (fewer if there are not that many): operators read their operands
/// from the end, so stray extra ones before them do no harm.
fn last_n(ops: &[Obj], n: usize) -> &[Obj] {
    ops.get(ops.len().saturating_sub(n)..).unwrap_or_default()
}

fn number(ops: &[Obj], n: usize, i: usize) -> f64 {
    last_n(ops, n).get(i).and_then(Obj::as_f64).unwrap_or(0.0)
}

impl Interp<'_, '_> {
    fn run(&mut self, content: &[u8], resources: &Dict, depth: usize, forms: &mut Vec<u32>) {
        let mut parser = Parser::new(content, 0, MAX_OPERAND_NODES, self.doc.limits.max_depth);
        let mut operands: Vec<Obj> = Vec::new();
        while !self.out.full && !self.doc.exhausted {
            let tok = parser.lex.next();
            match tok {
                Tok::Eof => break,
                Tok::Kw(op) => {
                    match self.doc.ops_left.checked_sub(1) {
                        Some(left) => self.doc.ops_left = left,
                        None => {
                            self.doc.truncated = true;
                            self.doc.exhausted = true;
                            break;
                        }
                    }
                    if op == b"BI" {
                        skip_inline_image(&mut parser.lex);
                    } else {
                        self.operator(op, &operands, resources, depth, forms);
                    }
                    operands.clear();
                    parser.nodes = MAX_OPERAND_NODES;
                }
                Tok::Int(v) => operands.push(Obj::Int(v)),
                Tok::Real(v) => operands.push(Obj::Real(v)),
                Tok::Name(n) => operands.push(Obj::Name(n.into())),
                Tok::Str(s) => operands.push(Obj::Str(s.into())),
                Tok::ArrOpen | Tok::DictOpen => match parser.object_from(tok, 0) {
                    Ok(obj) => operands.push(obj),
                    Err(_) => operands.clear(),
                },
                Tok::ArrClose | Tok::DictClose => operands.clear(),
            }
            if operands.len() > MAX_OPERANDS {
                operands.clear();
            }
        }
    }

    fn operator(&mut self, op: &[u8], ops: &[Obj], resources: &Dict, depth: usize, forms: &mut Vec<u32>) {
        match op {
            b"BT" => {
                self.tm = IDENTITY;
                self.tlm = IDENTITY;
            }
            b"Tf" => {
                let args = last_n(ops, 2);
                self.gs.size = number(ops, 2, 1);
                let name = args.first().and_then(Obj::as_name);
                let fonts = self.doc.lookup(resources, b"Font");
                let entry = name.and_then(|n| fonts.as_dict().and_then(|f| f.get(n)).cloned());
                self.gs.font = Some(match entry {
                    Some(entry) => self.doc.font(&entry),
                    None => self.doc.fallback_font(),
                });
            }
            b"Tc" => self.gs.char_spacing = number(ops, 1, 0),
            b"Tw" => self.gs.word_spacing = number(ops, 1, 0),
            b"Tz" => self.gs.scale = number(ops, 1, 0) / 100.0,
            b"TL" => self.gs.leading = number(ops, 1, 0),
            b"Ts" => self.gs.rise = number(ops, 1, 0),
            b"Td" => self.move_line(number(ops, 2, 0), number(ops, 2, 1)),
            b"TD" => {
                self.gs.leading = -number(ops, 2, 1);
                self.move_line(number(ops, 2, 0), number(ops, 2, 1));
            }
            b"Tm" => {
                if let Some(m) = Mat::from_operands(last_n(ops, 6)) {
                    self.tm = m;
                    self.tlm = m;
                }
            }
            b"T*" => self.move_line(0.0, -self.gs.leading),
            b"Tj" => self.show_operand(last_n(ops, 1)),
            b"'" => {
                self.move_line(0.0, -self.gs.leading);
                self.show_operand(last_n(ops, 1));
            }
            b"\"" => {
                self.gs.word_spacing = number(ops, 3, 0);
                self.gs.char_spacing = number(ops, 3, 1);
                self.move_line(0.0, -self.gs.leading);
                self.show_operand(last_n(ops, 1));
            }
            b"TJ" => {
                let items = last_n(ops, 1).first().and_then(Obj::as_array).unwrap_or_default();
                for item in items {
                    match item {
                        Obj::Str(s) => self.show(s),
                        other => {
                            // A number moves the text left by thousandths of the font size; a
                            // large negative one is how many writers set word spaces.
                            let shift = other.as_f64().unwrap_or(0.0);
                            let tx = -shift / 1000.0 * self.gs.size * self.gs.scale;
                            self.tm = Mat::translate(tx, 0.0).mul(&self.tm);
                        }
                    }
                }
            }
            b"q" if self.saved.len() < MAX_SAVED_STATES => self.saved.push(self.gs.clone()),
            b"Q" => {
                if let Some(gs) = self.saved.pop() {
                    self.gs = gs;
                }
            }
            b"cm" => {
                if let Some(m) = Mat::from_operands(last_n(ops, 6)) {
                    self.gs.ctm = m.mul(&self.gs.ctm);
                }
            }
            b"Do" => {
                if let Some(name) = last_n(ops, 1).first().and_then(Obj::as_name) {
                    self.draw_form(name, resources, depth, forms);
                }
            }
            _ => {}
        }
    }

    fn move_line(&mut self, x: f64, y: f64) {
        self.tlm = Mat::translate(x, y).mul(&self.tlm);
        self.tm = self.tlm;
    }

    fn show_operand(&mut self, args: &[Obj]) {
        if let Some(s) = args.first().and_then(Obj::as_str) {
            self.show(s);
        }
    }

    /// Shows a string: decides from where it starts whether a line or word break comes first,
    /// writes its text, and advances the text matrix by its glyph widths.
    fn show(&mut self, bytes: &[u8]) {
        let font = match &self.gs.font {
            Some(font) => font.clone(),
            None => self.doc.fallback_font(),
        };
        let trm = self.tm.mul(&self.gs.ctm);
        let start = trm.apply(0.0, self.gs.rise);
        let [a, b, c, d, _, _] = trm.0;
        let size = self.gs.size.abs() * c.hypot(d);
        let along = a.hypot(b);
        let dir = if along > 1e-9 {
            (a / along, b / along)
        } else {
            (1.0, 0.0)
        };
        self.separate(start, size, font.widths_known());
        let mut pos = 0usize;
        while pos < bytes.len() && !self.out.full {
            let (code, len) = font.next_code(bytes, pos);
            pos = pos.saturating_add(len.max(1));
            if let Some(text) = font.text(code) {
                for c in text.chars() {
                    self.out.push(c);
                }
            }
            let spacing = if len == 1 && code == 32 {
                self.gs.word_spacing
            } else {
                0.0
            };
            let advance =
                (font.width(code) / 1000.0 * self.gs.size + self.gs.char_spacing + spacing) * self.gs.scale;
            if advance.is_finite() {
                self.tm = Mat::translate(advance, 0.0).mul(&self.tm);
            }
        }
        let end = self.tm.mul(&self.gs.ctm).apply(0.0, self.gs.rise);
        self.out.last = Some(LastText { end, size, dir });
    }

    /// A new line when the text moved across its baseline; a space when it jumped along it.
    fn separate(&mut self, start: (f64, f64), size: f64, widths_known: bool) {
        let Some(last) = self.out.last else { return };
        let size = if size.is_finite() && size > 0.01 {
            size
        } else {
            last.size
        };
        let size = if size.is_finite() && size > 0.01 {
            size
        } else {
            1.0
        };
        let (dx, dy) = (start.0 - last.end.0, start.1 - last.end.1);
        let (ux, uy) = last.dir;
        let along = dx * ux + dy * uy;
        let across = dy * ux - dx * uy;
        let space = if widths_known {
            SPACE_FRACTION
        } else {
            SPACE_FRACTION_ESTIMATED
        };
        if across.abs() > NEWLINE_FRACTION * size {
            self.out.separate('\n');
        } else if along > space * size || along < -size {
            self.out.separate(' ');
        }
    }

    /// `Do` with a form XObject: its content, with its own resources, drawn in place. Forms
    /// already being drawn (a form that draws itself) and nesting past `max_depth` are skipped.
    fn draw_form(&mut self, name: &[u8], resources: &Dict, depth: usize, forms: &mut Vec<u32>) {
        let xobjects = self.doc.lookup(resources, b"XObject");
        let Some(entry) = xobjects.as_dict().and_then(|x| x.get(name)).cloned() else {
            return;
        };
        let id = match entry {
            Obj::Ref(id) => Some(id),
            _ => None,
        };
        if id.is_some_and(|id| forms.contains(&id)) {
            self.doc.damaged("a form draws itself");
            return;
        }
        if depth >= self.doc.limits.max_depth {
            self.doc.truncated = true;
            return;
        }
        let Obj::Stream(form) = self.doc.resolve(&entry) else {
            return;
        };
        if form.dict.name(b"Subtype") != Some(b"Form") {
            return;
        }
        let Some(content) = self.doc.decode_stream(&form) else {
            return;
        };
        let own = self.doc.lookup(&form.dict, b"Resources");
        let form_resources = own.as_dict().cloned();
        let matrix = match self.doc.lookup(&form.dict, b"Matrix") {
            Obj::Array(m) => Mat::from_operands(&m).unwrap_or(IDENTITY),
            _ => IDENTITY,
        };
        let (saved_gs, saved_tm, saved_tlm) = (self.gs.clone(), self.tm, self.tlm);
        self.gs.ctm = matrix.mul(&self.gs.ctm);
        if let Some(id) = id {
            forms.push(id);
        }
        match form_resources {
            Some(own) => self.run(&content, &own, depth.saturating_add(1), forms),
            None => self.run(&content, resources, depth.saturating_add(1), forms),
        }
        if id.is_some() {
            forms.pop();
        }
        self.gs = saved_gs;
        self.tm = saved_tm;
        self.tlm = saved_tlm;
    }
}

/// Skips an inline image (`BI … ID <binary> EI`): its data is not made of tokens, and read as
/// such it would be garbage text.
fn skip_inline_image(lex: &mut Lexer<'_>) {
    loop {
        match lex.next() {
            Tok::Kw(b"ID") => break,
            Tok::Eof => return,
            _ => {}
        }
    }
    let start = lex.pos.saturating_add(1);
    let buf = lex.buf;
    let mut from = start;
    while let Some(at) = find(buf, b"EI", from) {
        let before_ok = at == start
            || at
                .checked_sub(1)
                .and_then(|i| buf.get(i))
                .is_some_and(|&b| is_ws(b));
        let after = at.saturating_add(2);
        let after_ok = buf.get(after).is_none_or(|&b| !is_regular(b));
        if before_ok && after_ok {
            lex.pos = after;
            return;
        }
        from = at.saturating_add(1);
    }
    lex.pos = buf.len();
}

// ---------------------------------------------------------------------------------------------
// Tables (generated once from the Adobe Glyph List, fontTools' encodings, Python's cp1252 codec
// and the standard fonts' AFM metrics; 0 means no character)

const STANDARD_ENCODING: [u16; 256] = [
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0020, 0x0021, 0x0022, 0x0023, 0x0024, 0x0025, 0x0026,
    0x2019, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, 0x0030, 0x0031, 0x0032, 0x0033,
    0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, 0x0040,
    0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, 0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D,
    0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A,
    0x005B, 0x005C, 0x005D, 0x005E, 0x005F, 0x2018, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074,
    0x0075, 0x0076, 0x0077, 0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x00A1, 0x00A2, 0x00A3, 0x2044, 0x00A5, 0x0192, 0x00A7, 0x00A4,
    0x0027, 0x201C, 0x00AB, 0x2039, 0x203A, 0xFB01, 0xFB02, 0x0000, 0x2013, 0x2020, 0x2021, 0x00B7, 0x0000,
    0x00B6, 0x2022, 0x201A, 0x201E, 0x201D, 0x00BB, 0x2026, 0x2030, 0x0000, 0x00BF, 0x0000, 0x0060, 0x00B4,
    0x02C6, 0x02DC, 0x00AF, 0x02D8, 0x02D9, 0x00A8, 0x0000, 0x02DA, 0x00B8, 0x0000, 0x02DD, 0x02DB, 0x02C7,
    0x2014, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x00C6, 0x0000, 0x00AA, 0x0000, 0x0000, 0x0000, 0x0000, 0x0141, 0x00D8,
    0x0152, 0x00BA, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x00E6, 0x0000, 0x0000, 0x0000, 0x0131, 0x0000,
    0x0000, 0x0142, 0x00F8, 0x0153, 0x00DF, 0x0000, 0x0000, 0x0000, 0x0000,
];
const MAC_ROMAN_ENCODING: [u16; 256] = [
    0x0000, 0x00D0, 0x00F0, 0x0141, 0x0142, 0x0160, 0x0161, 0x00DD, 0x00FD, 0x0000, 0x0000, 0x00DE, 0x00FE,
    0x0000, 0x017D, 0x017E, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x00BD, 0x00BC, 0x00B9, 0x00BE, 0x00B3,
    0x00B2, 0x00A6, 0x2212, 0x00D7, 0x0000, 0x0000, 0x0020, 0x0021, 0x0022, 0x0023, 0x0024, 0x0025, 0x0026,
    0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, 0x0030, 0x0031, 0x0032, 0x0033,
    0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, 0x0040,
    0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, 0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D,
    0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A,
    0x005B, 0x005C, 0x005D, 0x005E, 0x005F, 0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074,
    0x0075, 0x0076, 0x0077, 0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0x0000, 0x00C4, 0x00C5,
    0x00C7, 0x00C9, 0x00D1, 0x00D6, 0x00DC, 0x00E1, 0x00E0, 0x00E2, 0x00E4, 0x00E3, 0x00E5, 0x00E7, 0x00E9,
    0x00E8, 0x00EA, 0x00EB, 0x00ED, 0x00EC, 0x00EE, 0x00EF, 0x00F1, 0x00F3, 0x00F2, 0x00F4, 0x00F6, 0x00F5,
    0x00FA, 0x00F9, 0x00FB, 0x00FC, 0x2020, 0x00B0, 0x00A2, 0x00A3, 0x00A7, 0x2022, 0x00B6, 0x00DF, 0x00AE,
    0x00A9, 0x2122, 0x00B4, 0x00A8, 0x2260, 0x00C6, 0x00D8, 0x221E, 0x00B1, 0x2264, 0x2265, 0x00A5, 0x00B5,
    0x2202, 0x2211, 0x220F, 0x03C0, 0x222B, 0x00AA, 0x00BA, 0x2126, 0x00E6, 0x00F8, 0x00BF, 0x00A1, 0x00AC,
    0x221A, 0x0192, 0x2248, 0x2206, 0x00AB, 0x00BB, 0x2026, 0x00A0, 0x00C0, 0x00C3, 0x00D5, 0x0152, 0x0153,
    0x2013, 0x2014, 0x201C, 0x201D, 0x2018, 0x2019, 0x00F7, 0x25CA, 0x00FF, 0x0178, 0x2044, 0x00A4, 0x2039,
    0x203A, 0xFB01, 0xFB02, 0x2021, 0x00B7, 0x201A, 0x201E, 0x2030, 0x00C2, 0x00CA, 0x00C1, 0x00CB, 0x00C8,
    0x00CD, 0x00CE, 0x00CF, 0x00CC, 0x00D3, 0x00D4, 0x0000, 0x00D2, 0x00DA, 0x00DB, 0x00D9, 0x0131, 0x02C6,
    0x02DC, 0x00AF, 0x02D8, 0x02D9, 0x02DA, 0x00B8, 0x02DD, 0x02DB, 0x02C7,
];
const WIN_ANSI_ENCODING: [u16; 256] = [
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0020, 0x0021, 0x0022, 0x0023, 0x0024, 0x0025, 0x0026,
    0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, 0x0030, 0x0031, 0x0032, 0x0033,
    0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, 0x0040,
    0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, 0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D,
    0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A,
    0x005B, 0x005C, 0x005D, 0x005E, 0x005F, 0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074,
    0x0075, 0x0076, 0x0077, 0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0x007F, 0x20AC, 0x0000,
    0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x0000, 0x017D,
    0x0000, 0x0000, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
    0x0153, 0x0000, 0x017E, 0x0178, 0x00A0, 0x00A1, 0x00A2, 0x00A3, 0x00A4, 0x00A5, 0x00A6, 0x00A7, 0x00A8,
    0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF, 0x00B0, 0x00B1, 0x00B2, 0x00B3, 0x00B4, 0x00B5,
    0x00B6, 0x00B7, 0x00B8, 0x00B9, 0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF, 0x00C0, 0x00C1, 0x00C2,
    0x00C3, 0x00C4, 0x00C5, 0x00C6, 0x00C7, 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x00D0, 0x00D1, 0x00D2, 0x00D3, 0x00D4, 0x00D5, 0x00D6, 0x00D7, 0x00D8, 0x00D9, 0x00DA, 0x00DB, 0x00DC,
    0x00DD, 0x00DE, 0x00DF, 0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x00E4, 0x00E5, 0x00E6, 0x00E7, 0x00E8, 0x00E9,
    0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF, 0x00F0, 0x00F1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x00F6,
    0x00F7, 0x00F8, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x00FD, 0x00FE, 0x00FF,
];
const GLYPH_NAMES: &str = "\
    AE 00C6 Aacute 00C1 Abreve 0102 Acircumflex 00C2 Adieresis 00C4 Agrave 00C0 Amacron 0100 \
    Aogonek 0104 Aring 00C5 Atilde 00C3 Cacute 0106 Ccaron 010C Ccedilla 00C7 Ccircumflex 0108 \
    Cdotaccent 010A Dcaron 010E Dcroat 0110 Delta 2206 Eacute 00C9 Ebreve 0114 Ecaron 011A \
    Ecircumflex 00CA Edieresis 00CB Edotaccent 0116 Egrave 00C8 Emacron 0112 Eng 014A Eogonek 0118 \
    Eth 00D0 Euro 20AC Gbreve 011E Gcircumflex 011C Gdotaccent 0120 Hbar 0126 Hcircumflex 0124 \
    IJ 0132 Iacute 00CD Ibreve 012C Icircumflex 00CE Idieresis 00CF Idotaccent 0130 Igrave 00CC \
    Imacron 012A Iogonek 012E Itilde 0128 Jcircumflex 0134 Lacute 0139 Lcaron 013D Ldot 013F \
    Lslash 0141 Nacute 0143 Ncaron 0147 Ntilde 00D1 OE 0152 Oacute 00D3 Obreve 014E \
    Ocircumflex 00D4 Odieresis 00D6 Ograve 00D2 Ohungarumlaut 0150 Omacron 014C Omega 2126 \
    Oslash 00D8 Otilde 00D5 Racute 0154 Rcaron 0158 Sacute 015A Scaron 0160 Scedilla 015E \
    Scircumflex 015C Tbar 0166 Tcaron 0164 Thorn 00DE Uacute 00DA Ubreve 016C Ucircumflex 00DB \
    Udieresis 00DC Ugrave 00D9 Uhungarumlaut 0170 Umacron 016A Uogonek 0172 Uring 016E Utilde 0168 \
    Wcircumflex 0174 Yacute 00DD Ycircumflex 0176 Ydieresis 0178 Zacute 0179 Zcaron 017D \
    Zdotaccent 017B aacute 00E1 abreve 0103 acircumflex 00E2 acute 00B4 adieresis 00E4 ae 00E6 \
    agrave 00E0 amacron 0101 ampersand 0026 aogonek 0105 approxequal 2248 aring 00E5 \
    asciicircum 005E asciitilde 007E asterisk 002A at 0040 atilde 00E3 backslash 005C bar 007C \
    braceleft 007B braceright 007D bracketleft 005B bracketright 005D breve 02D8 brokenbar 00A6 \
    bullet 2022 cacute 0107 caron 02C7 ccaron 010D ccedilla 00E7 ccircumflex 0109 cdotaccent 010B \
    cedilla 00B8 cent 00A2 circumflex 02C6 colon 003A comma 002C copyright 00A9 currency 00A4 \
    dagger 2020 daggerdbl 2021 dcaron 010F dcroat 0111 degree 00B0 dieresis 00A8 divide 00F7 \
    dollar 0024 dotaccent 02D9 dotlessi 0131 eacute 00E9 ebreve 0115 ecaron 011B ecircumflex 00EA \
    edieresis 00EB edotaccent 0117 egrave 00E8 eight 0038 ellipsis 2026 emacron 0113 emdash 2014 \
    endash 2013 eng 014B eogonek 0119 equal 003D eth 00F0 exclam 0021 exclamdbl 203C \
    exclamdown 00A1 ff FB00 ffi FB03 ffl FB04 fi FB01 figuredash 2012 five 0035 fl FB02 florin 0192 \
    four 0034 fraction 2044 gbreve 011F gcircumflex 011D gdotaccent 0121 germandbls 00DF grave 0060 \
    greater 003E greaterequal 2265 guillemotleft 00AB guillemotright 00BB guilsinglleft 2039 \
    guilsinglright 203A hbar 0127 hcircumflex 0125 hungarumlaut 02DD hyphen 002D iacute 00ED \
    ibreve 012D icircumflex 00EE idieresis 00EF igrave 00EC ij 0133 imacron 012B infinity 221E \
    integral 222B iogonek 012F itilde 0129 jcircumflex 0135 kgreenlandic 0138 lacute 013A \
    lcaron 013E ldot 0140 less 003C lessequal 2264 logicalnot 00AC longs 017F lozenge 25CA \
    lslash 0142 macron 00AF minus 2212 minute 2032 mu 00B5 multiply 00D7 nacute 0144 \
    napostrophe 0149 nbspace 00A0 ncaron 0148 nine 0039 notequal 2260 ntilde 00F1 numbersign 0023 \
    oacute 00F3 obreve 014F ocircumflex 00F4 odieresis 00F6 oe 0153 ogonek 02DB ograve 00F2 \
    ohungarumlaut 0151 omacron 014D one 0031 onedotenleader 2024 onehalf 00BD onequarter 00BC \
    onesuperior 00B9 ordfeminine 00AA ordmasculine 00BA oslash 00F8 otilde 00F5 paragraph 00B6 \
    parenleft 0028 parenright 0029 partialdiff 2202 percent 0025 period 002E periodcentered 00B7 \
    perthousand 2030 pi 03C0 plus 002B plusminus 00B1 product 220F question 003F questiondown 00BF \
    quotedbl 0022 quotedblbase 201E quotedblleft 201C quotedblright 201D quoteleft 2018 \
    quotereversed 201B quoteright 2019 quotesinglbase 201A quotesingle 0027 racute 0155 \
    radical 221A rcaron 0159 registered 00AE ring 02DA sacute 015B scaron 0161 scedilla 015F \
    scircumflex 015D second 2033 section 00A7 semicolon 003B seven 0037 six 0036 slash 002F \
    space 0020 sterling 00A3 summation 2211 tbar 0167 tcaron 0165 thorn 00FE three 0033 \
    threequarters 00BE threesuperior 00B3 tilde 02DC trademark 2122 two 0032 twodotenleader 2025 \
    twosuperior 00B2 uacute 00FA ubreve 016D ucircumflex 00FB udieresis 00FC ugrave 00F9 \
    uhungarumlaut 0171 umacron 016B underscore 005F underscoredbl 2017 uogonek 0173 uring 016F \
    utilde 0169 wcircumflex 0175 yacute 00FD ycircumflex 0177 ydieresis 00FF yen 00A5 zacute 017A \
    zcaron 017E zdotaccent 017C zero 0030 \
";

/// Helvetica's widths for codes 32–126.
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
    500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
    556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
    278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Times-Roman's widths for codes 32–126.
const TIMES_WIDTHS: [u16; 95] = [
    250, 333, 408, 500, 500, 833, 778, 180, 333, 333, 500, 564, 250, 333, 250, 278, 500, 500, 500, 500, 500,
    500, 500, 500, 500, 500, 278, 278, 564, 564, 564, 444, 921, 722, 667, 667, 722, 611, 556, 722, 722, 333,
    389, 722, 611, 889, 722, 722, 556, 722, 667, 556, 611, 722, 722, 944, 722, 722, 611, 333, 278, 333, 469,
    500, 333, 444, 500, 444, 500, 444, 333, 500, 500, 278, 278, 500, 278, 778, 500, 500, 500, 500, 333, 389,
    278, 500, 500, 722, 500, 500, 444, 480, 200, 480, 541,
];

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// A PDF whose object i+1 has body `objects[i]`, with a correct cross-reference table and
    /// `/Root 1 0 R`.
    fn build(objects: &[Vec<u8>], trailer_extra: &str) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", i + 1).bytes());
            out.extend(body);
            out.extend(b"\nendobj\n");
        }
        let start = out.len();
        out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
        for offset in offsets {
            out.extend(format!("{offset:010} 00000 n \n").bytes());
        }
        out.extend(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R {trailer_extra}>>\nstartxref\n{start}\n%%EOF\n",
                objects.len() + 1
            )
            .bytes(),
        );
        out
    }

    fn stream(data: &[u8], extra: &str) -> Vec<u8> {
        let mut out = format!("<< /Length {} {extra}>>\nstream\n", data.len()).into_bytes();
        out.extend(data);
        out.extend(b"\nendstream");
        out
    }

    const HELVETICA: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

    /// Catalog 1, Pages 2, one Page 3 with content 4 and font /F1 5, then `extra` objects from 6.
    fn one_page(content: &[u8], font: &str, extra: Vec<Vec<u8>>) -> Vec<u8> {
        let mut objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X1 6 0 R >> >> \
              /Contents 4 0 R >>"
                .to_vec(),
            stream(content, ""),
            font.as_bytes().to_vec(),
        ];
        objects.extend(extra);
        build(&objects, "")
    }

    fn text_of(pdf: &[u8]) -> Extraction {
        extract_text(pdf, &Limits::default()).unwrap()
    }

    fn page_text(content: &str) -> String {
        text_of(&one_page(content.as_bytes(), HELVETICA, vec![])).text
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
    }

    fn fixture_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pdf")
    }

    // --- the real fixtures -------------------------------------------------------------------

    #[test]
    fn three_page_fixture_gives_latin_and_cyrillic_text_in_page_order() {
        let e = text_of(include_bytes!(
            "../../tests/fixtures/pdf/multipage-latin-cyrillic.pdf"
        ));
        assert_eq!(e.pages, 3);
        assert_eq!(e.warning, None);
        let pages: Vec<&str> = e.text.split(PAGE_BREAK).collect();
        assert_eq!(pages.len(), 3, "{:?}", e.text);
        assert_eq!(pages[0], "Page one: Hello, world.\nПривет, мир");
        assert!(pages[1].starts_with("Page two: The quick brown fox jumps over the lazy dog.\n"));
        assert!(pages[1].contains("Съешь же ещё этих мягких французских булок"));
        assert_eq!(pages[2], "Page three: Goodbye.\nДо свидания, Ёжик");
    }

    #[test]
    fn compressed_fixture_with_object_and_xref_streams_is_read() {
        let pdf = include_bytes!("../../tests/fixtures/pdf/compressed.pdf");
        assert!(find(pdf, b"/ObjStm", 0).is_some() && find(pdf, b"/XRef", 0).is_some());
        let e = text_of(pdf);
        assert_eq!(e.pages, 2);
        assert_eq!(e.warning, None);
        assert_eq!(
            e.text,
            "Compressed page one.\nSecond line, same page.\n\u{c}\nCompressed page two."
        );
    }

    #[test]
    fn scanned_fixture_has_one_page_and_no_text() {
        let e = text_of(include_bytes!("../../tests/fixtures/pdf/scanned.pdf"));
        assert_eq!(
            (e.text.as_str(), e.pages, e.warning),
            ("", 1, Some(Warning::NoText))
        );
    }

    #[test]
    fn encrypted_fixture_gives_no_text_and_the_encrypted_warning() {
        let e = text_of(include_bytes!("../../tests/fixtures/pdf/encrypted.pdf"));
        assert_eq!((e.text.as_str(), e.warning), ("", Some(Warning::Encrypted)));
        assert_eq!(e.pages, 2);
    }

    #[test]
    fn every_malformed_file_returns_within_the_limits() {
        let dir = fixture_dir().join("malformed");
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        assert!(entries.len() >= 30, "the corpus has {} files", entries.len());
        let tight = Limits {
            max_objects: 1000,
            max_stream_bytes: 1 << 20,
            max_output_chars: 100,
            max_depth: 16,
            max_operations: 10_000,
        };
        for path in entries {
            let bytes = std::fs::read(&path).unwrap();
            for limits in [Limits::default(), tight.clone()] {
                let started = std::time::Instant::now();
                let result = extract_with_stats(&bytes, &limits);
                let elapsed = started.elapsed();
                let name = path.display();
                assert!(elapsed.as_secs() < 20, "{name} took {elapsed:?}");
                let Ok((e, stats)) = result else { continue };
                assert!(e.text.chars().count() <= limits.max_output_chars, "{name}");
                assert!(e.pages <= limits.max_objects, "{name}");
                assert!(stats.largest_stream <= limits.max_stream_bytes, "{name}");
                assert!(
                    stats.decoded_bytes <= limits.max_stream_bytes * WORK_FACTOR,
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn flate_bombs_stop_at_the_stream_limit_and_report_truncation() {
        let dir = fixture_dir().join("malformed");
        for name in [
            "zip-bomb.pdf",
            "zip-bomb-double.pdf",
            "zip-bomb-shared.pdf",
            "zip-bomb-every-page.pdf",
        ] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let limits = Limits {
                max_stream_bytes: 4 << 20,
                ..Limits::default()
            };
            let (e, stats) = extract_with_stats(&bytes, &limits).unwrap();
            assert_eq!(e.warning, Some(Warning::Truncated), "{name}");
            assert_eq!(stats.largest_stream, 4 << 20, "{name}");
            assert!(
                stats.decoded_bytes <= 4 * (4 << 20),
                "{name}: {}",
                stats.decoded_bytes
            );
            if name.contains("shared") || name.contains("every-page") {
                // One bomb drawn on every page is decoded once, not once a page.
                assert!(
                    stats.decoded_bytes <= 2 * (4 << 20),
                    "{name}: {}",
                    stats.decoded_bytes
                );
            }
        }
    }

    // --- the header --------------------------------------------------------------------------

    #[test]
    fn bytes_without_a_pdf_header_are_not_a_pdf() {
        assert_eq!(extract_text(b"", &Limits::default()), Err(NotPdf));
        assert_eq!(extract_text(b"GIF89a", &Limits::default()), Err(NotPdf));
        let late = [vec![b' '; 1024], b"%PDF-1.4".to_vec()].concat();
        assert_eq!(extract_text(&late, &Limits::default()), Err(NotPdf));
    }

    #[test]
    fn junk_before_the_header_is_tolerated() {
        let pdf = [
            b"junk from a mail gateway\n".to_vec(),
            one_page(b"BT /F1 12 Tf (Hi) Tj ET", HELVETICA, vec![]),
        ]
        .concat();
        assert_eq!(text_of(&pdf).text, "Hi");
    }

    #[test]
    fn a_header_alone_is_a_damaged_pdf_with_no_pages() {
        let e = text_of(b"%PDF-1.4");
        assert_eq!(e.pages, 0);
        assert!(matches!(e.warning, Some(Warning::Damaged(_))));
    }

    // --- text operators ----------------------------------------------------------------------

    #[test]
    fn tj_shows_a_string() {
        assert_eq!(
            page_text("BT /F1 12 Tf 72 720 Td (Hello, world) Tj ET"),
            "Hello, world"
        );
    }

    #[test]
    fn literal_string_escapes_are_decoded() {
        assert_eq!(
            page_text(r"BT /F1 12 Tf (a\(b\)c \101\102 d\\e) Tj ET"),
            r"a(b)c AB d\e"
        );
    }

    #[test]
    fn tj_arrays_turn_large_negative_kerning_into_a_space_and_ignore_small_kerning() {
        assert_eq!(
            page_text("BT /F1 12 Tf [(Hel) -20 (lo) -300 (world) 15 (!)] TJ ET"),
            "Hello world!"
        );
    }

    #[test]
    fn moving_down_a_line_starts_a_new_line() {
        let text = page_text("BT /F1 12 Tf 14 TL 72 720 Td (one) Tj 0 -14 Td (two) Tj T* (three) Tj ET");
        assert_eq!(text, "one\ntwo\nthree");
    }

    #[test]
    fn quote_operators_move_to_the_next_line_before_showing() {
        let text = page_text("BT /F1 12 Tf 72 720 Td 14 TL (one) Tj (two) ' 1 0 (three) \" ET");
        assert_eq!(text, "one\ntwo\nthree");
    }

    #[test]
    fn td_with_leading_and_tm_positions_are_followed() {
        let text = page_text("BT /F1 10 Tf 0 -12 TD (a) Tj T* (b) Tj 1 0 0 1 300 500 Tm (c) Tj ET");
        assert_eq!(text, "a\nb\nc");
    }

    #[test]
    fn words_placed_apart_on_one_line_get_a_space_and_adjacent_runs_do_not() {
        // Helvetica "Hello" at 10 pt is 22.78 pt wide.
        let text = page_text("BT /F1 10 Tf 72 700 Td (Hello) Tj 22.78 0 Td (World) Tj 40 0 Td (Next) Tj ET");
        assert_eq!(text, "HelloWorld Next");
    }

    #[test]
    fn a_scaled_ctm_is_taken_into_account_for_line_breaks() {
        let text = page_text(
            "q 1 0 0 1 72 700 cm BT /F1 9 Tf (first) Tj ET Q \
             q 1 0 0 1 72 688 cm BT /F1 9 Tf (second) Tj ET Q",
        );
        assert_eq!(text, "first\nsecond");
    }

    #[test]
    fn inline_images_are_skipped() {
        let content =
            b"BT /F1 12 Tf (before) Tj ET BI /W 2 /H 2 /BPC 8 /CS /G ID \x01(x) Tj\xff EI BT (after) Tj ET";
        assert_eq!(
            text_of(&one_page(content, HELVETICA, vec![])).text,
            "before after"
        );
    }

    #[test]
    fn text_in_form_xobjects_is_extracted_and_a_form_drawing_itself_stops() {
        let form = stream(
            b"BT /F1 12 Tf (in the form) Tj ET /X1 Do",
            "/Type /XObject /Subtype /Form /Matrix [1 0 0 1 0 -20] ",
        );
        let pdf = one_page(b"BT /F1 12 Tf (page) Tj ET /X1 Do", HELVETICA, vec![form]);
        let e = text_of(&pdf);
        assert_eq!(e.text, "page\nin the form");
        assert!(matches!(e.warning, Some(Warning::Damaged(_))));
    }

    // --- page tree ---------------------------------------------------------------------------

    #[test]
    fn pages_follow_the_page_tree_not_the_file_and_inherit_resources() {
        let content = |s: &str| stream(format!("BT /F1 12 Tf ({s}) Tj ET").as_bytes(), "");
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [6 0 R 3 0 R] /Count 3 /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
            content("third"),
            HELVETICA.as_bytes().to_vec(),
            b"<< /Type /Pages /Parent 2 0 R /Kids [8 0 R 7 0 R] /Count 2 >>".to_vec(),
            b"<< /Type /Page /Parent 6 0 R /Contents [9 0 R 10 0 R] >>".to_vec(),
            b"<< /Type /Page /Parent 6 0 R /Contents 11 0 R >>".to_vec(),
            stream(b"BT /F1 12 Tf (sec", ""),
            stream(b"ond) Tj ET", ""),
            content("first"),
        ];
        let e = text_of(&build(&objects, ""));
        assert_eq!(e.pages, 3);
        assert_eq!(e.text, "first\n\u{c}\nsecond\n\u{c}\nthird");
    }

    #[test]
    fn an_empty_page_keeps_its_place_between_page_breaks() {
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R >>".to_vec(),
            stream(b"BT /F1 12 Tf (second) Tj ET", ""),
            HELVETICA.as_bytes().to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
                .to_vec(),
        ];
        assert_eq!(text_of(&build(&objects, "")).text, "\n\u{c}\nsecond");
    }

    #[test]
    fn a_cyclic_page_tree_ends_and_is_reported_damaged() {
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
                .to_vec(),
            stream(b"BT /F1 12 Tf (once) Tj ET", ""),
            HELVETICA.as_bytes().to_vec(),
        ];
        let e = text_of(&build(&objects, ""));
        assert_eq!((e.text.as_str(), e.pages), ("once", 1));
        assert!(matches!(e.warning, Some(Warning::Damaged(_))));
    }

    // --- cross-reference ---------------------------------------------------------------------

    #[test]
    fn a_broken_xref_table_is_rebuilt_by_scanning_for_objects() {
        let mut pdf = one_page(b"BT /F1 12 Tf (found anyway) Tj ET", HELVETICA, vec![]);
        let at = find(&pdf, b"xref\n", 0).unwrap();
        pdf.truncate(at);
        pdf.extend(b"xref\ngarbage\nstartxref\n12345678\n%%EOF");
        let e = text_of(&pdf);
        assert_eq!(e.text, "found anyway");
        assert!(matches!(e.warning, Some(Warning::Damaged(_))));
    }

    #[test]
    fn wrong_xref_offsets_are_corrected_from_the_scan() {
        let pdf = one_page(b"BT /F1 12 Tf (shifted) Tj ET", HELVETICA, vec![]);
        // Every object moves 3 bytes on; the table still has the old offsets.
        let pdf = [b"%PDF-1.7\n   ".to_vec(), pdf[9..].to_vec()].concat();
        assert_eq!(text_of(&pdf).text, "shifted");
    }

    #[test]
    fn a_wrong_stream_length_is_corrected_from_endstream() {
        let objects = one_page(b"BT /F1 12 Tf (length) Tj ET", HELVETICA, vec![]);
        let pdf = String::from_utf8_lossy(&objects)
            .replace("/Length 27", "/Length 5")
            .into_bytes();
        assert_eq!(text_of(&pdf).text, "length");
    }

    #[test]
    fn xref_streams_with_png_predictors_and_object_streams_are_read() {
        // Objects 2–5 in object stream 6; 1 and 4 (the content stream) directly in the file.
        let content = stream(b"BT /F1 12 Tf (from an object stream) Tj ET", "");
        let inner = [
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            HELVETICA,
        ];
        let mut header = String::new();
        let mut body = String::new();
        for (num, obj) in [2, 3, 5].iter().zip(inner) {
            header.push_str(&format!("{num} {} ", body.len()));
            body.push_str(obj);
            body.push(' ');
        }
        let objstm_data = deflate(format!("{header}{body}").as_bytes());
        let mut pdf = b"%PDF-1.5\n".to_vec();
        let mut offsets = [0usize; 8];
        offsets[1] = pdf.len();
        pdf.extend(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
        offsets[4] = pdf.len();
        pdf.extend(b"4 0 obj\n");
        pdf.extend(&content);
        pdf.extend(b"\nendobj\n");
        offsets[6] = pdf.len();
        pdf.extend(b"6 0 obj\n");
        pdf.extend(stream(
            &objstm_data,
            &format!("/Type /ObjStm /N 3 /First {} /Filter /FlateDecode ", header.len()),
        ));
        pdf.extend(b"\nendobj\n");
        offsets[7] = pdf.len();
        // Rows of (type, offset or stream number (2 bytes), index), PNG "Up" predicted.
        let rows: Vec<[u8; 4]> = vec![
            [0, 0, 0, 0],
            [1, (offsets[1] >> 8) as u8, offsets[1] as u8, 0],
            [2, 0, 6, 0],
            [2, 0, 6, 1],
            [1, (offsets[4] >> 8) as u8, offsets[4] as u8, 0],
            [2, 0, 6, 2],
            [1, (offsets[6] >> 8) as u8, offsets[6] as u8, 0],
            [1, (offsets[7] >> 8) as u8, offsets[7] as u8, 0],
        ];
        let mut predicted = Vec::new();
        let mut prev = [0u8; 4];
        for row in &rows {
            predicted.push(2);
            predicted.extend(row.iter().zip(prev).map(|(b, p)| b.wrapping_sub(p)));
            prev = *row;
        }
        let xref = deflate(&predicted);
        pdf.extend(b"7 0 obj\n");
        pdf.extend(stream(
            &xref,
            "/Type /XRef /Size 8 /W [1 2 1] /Root 1 0 R /Filter /FlateDecode \
             /DecodeParms << /Predictor 12 /Columns 4 >> ",
        ));
        pdf.extend(format!("\nendobj\nstartxref\n{}\n%%EOF\n", offsets[7]).bytes());
        let e = text_of(&pdf);
        assert_eq!(
            (e.text.as_str(), e.pages, e.warning),
            ("from an object stream", 1, None)
        );
    }

    #[test]
    fn an_encrypt_entry_in_the_trailer_gives_the_encrypted_warning() {
        let objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R >>".to_vec(),
            b"<< /Filter /Standard /V 2 /R 3 >>".to_vec(),
        ];
        let e = text_of(&build(&objects, "/Encrypt 4 0 R "));
        assert_eq!(
            (e.text.as_str(), e.pages, e.warning),
            ("", 1, Some(Warning::Encrypted))
        );
    }

    // --- fonts -------------------------------------------------------------------------------

    fn type0(to_unicode: u32) -> String {
        format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /ABC+DejaVu /Encoding /Identity-H \
             /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /DW 600 >>] \
             /ToUnicode {to_unicode} 0 R >>"
        )
    }

    const CMAP_HEAD: &str = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
        1 begincodespacerange <0000> <FFFF> endcodespacerange\n";

    #[test]
    fn tounicode_bfchar_and_bfrange_turn_two_byte_codes_into_cyrillic() {
        let cmap = format!(
            "{CMAP_HEAD}2 beginbfchar <0003> <0020> <0010> <002C> endbfchar\n\
             1 beginbfrange <0020> <003F> <0410> endbfrange\nendcmap end end"
        );
        // П р и в е т = 041F 0440 0438 0432 0435 0442 → codes 0x2F, 0x40.. are not in the range,
        // so use upper case: ПРИВЕТ = 041F 0420 0418 0412 0415 0422.
        let content = "BT /F1 12 Tf <002F00300028002200250032001000030020> Tj ET";
        let pdf = one_page(content.as_bytes(), &type0(6), vec![stream(cmap.as_bytes(), "")]);
        assert_eq!(text_of(&pdf).text, "ПРИВЕТ, А");
    }

    #[test]
    fn tounicode_bfrange_arrays_and_surrogate_pairs_are_decoded_and_private_use_dropped() {
        let cmap = format!(
            "{CMAP_HEAD}1 beginbfrange <0001> <0003> [<0416> <D83DDE00> <00660069>] endbfrange\n\
             2 beginbfchar <0004> <D835DC00> <0005> <F0B7> endbfchar\nendcmap"
        );
        // 0005 maps to a private-use bullet, which is dropped.
        let content = "BT /F1 12 Tf <00010002000300050004> Tj ET";
        let pdf = one_page(content.as_bytes(), &type0(6), vec![stream(cmap.as_bytes(), "")]);
        assert_eq!(text_of(&pdf).text, "Ж😀fi𝐀");
    }

    #[test]
    fn codespace_ranges_split_mixed_one_and_two_byte_codes() {
        let cmap = "2 begincodespacerange <00> <7F> <8000> <FFFF> endcodespacerange\n\
                    2 beginbfchar <41> <0041> <8141> <042F> endbfchar\n\
                    1 beginbfrange <42> <43> <0062> endbfrange";
        let font =
            "<< /Type /Font /Subtype /Type0 /Encoding /Custom /DescendantFonts [<< >>] /ToUnicode 6 0 R >>";
        let pdf = one_page(
            b"BT /F1 12 Tf <41814142438141> Tj ET",
            font,
            vec![stream(cmap.as_bytes(), "")],
        );
        assert_eq!(text_of(&pdf).text, "AЯbcЯ");
    }

    #[test]
    fn identity_h_without_tounicode_is_skipped_and_reported_as_no_text() {
        let font =
            "<< /Type /Font /Subtype /Type0 /Encoding /Identity-H /DescendantFonts [<< /DW 1000 >>] >>";
        let e = text_of(&one_page(b"BT /F1 12 Tf <00410042> Tj ET", font, vec![]));
        assert_eq!((e.text.as_str(), e.warning), ("", Some(Warning::NoText)));
    }

    #[test]
    fn ucs2_cmaps_read_codes_as_unicode() {
        let font = "<< /Type /Font /Subtype /Type0 /Encoding /UniGB-UCS2-H /DescendantFonts [<< >>] >>";
        assert_eq!(
            text_of(&one_page(b"BT /F1 12 Tf <4E2D6587> Tj ET", font, vec![])).text,
            "中文"
        );
    }

    #[test]
    fn win_ansi_encoding_maps_the_high_bytes() {
        let font = "<< /Type /Font /Subtype /TrueType /BaseFont /Arial /Encoding /WinAnsiEncoding >>";
        let pdf = one_page(b"BT /F1 12 Tf (\x93caf\xe9\x94 \x80 \x96) Tj ET", font, vec![]);
        assert_eq!(text_of(&pdf).text, "\u{201c}café\u{201d} € –");
    }

    #[test]
    fn standard_and_mac_roman_encodings_differ_from_ascii_where_they_should() {
        let standard = "<< /Type /Font /Subtype /Type1 /BaseFont /Foo /Encoding /StandardEncoding >>";
        assert_eq!(
            text_of(&one_page(b"BT /F1 12 Tf (it's \xae) Tj ET", standard, vec![])).text,
            "it\u{2019}s ﬁ"
        );
        let mac = "<< /Type /Font /Subtype /Type1 /BaseFont /Foo /Encoding /MacRomanEncoding >>";
        assert_eq!(
            text_of(&one_page(b"BT /F1 12 Tf (\x8e\x9a) Tj ET", mac, vec![])).text,
            "éö"
        );
    }

    #[test]
    fn differences_glyph_names_map_to_unicode() {
        let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Foo \
                    /Encoding << /BaseEncoding /WinAnsiEncoding /Differences \
                    [1 /afii10017 /afii10071 /uni0416 /u1F600 /eacute /f_f_i /a.sc /g123 /.notdef] >> >>";
        let pdf = one_page(
            b"BT /F1 12 Tf (\x01\x02\x03\x04\x05\x06\x07\x08\x09ok) Tj ET",
            font,
            vec![],
        );
        assert_eq!(text_of(&pdf).text, "АёЖ😀éffiaok");
    }

    #[test]
    fn an_embedded_type1_font_program_supplies_its_own_encoding() {
        let program =
            b"%!PS-AdobeFont-1.0: CMMI10\n/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\n\
                        dup 58 /period put\ndup 66 /afii10017 put\nreadonly def\ncurrentfile eexec \x8f\x01";
        let font = "<< /Type /Font /Subtype /Type1 /BaseFont /CMMI10 /FontDescriptor 6 0 R >>";
        let extra = vec![
            b"<< /Type /FontDescriptor /FontFile 7 0 R >>".to_vec(),
            stream(program, ""),
        ];
        assert_eq!(
            text_of(&one_page(b"BT /F1 12 Tf (:B) Tj ET", font, extra)).text,
            ".А"
        );
    }

    #[test]
    fn glyph_names_cover_the_russian_alphabet() {
        let upper: String = (10017..=10049)
            .filter_map(|n| glyph_to_unicode(format!("afii{n}").as_bytes()))
            .collect();
        let lower: String = (10065..=10097)
            .filter_map(|n| glyph_to_unicode(format!("afii{n}").as_bytes()))
            .collect();
        assert_eq!(upper, "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ");
        assert_eq!(lower, "абвгдеёжзийклмнопрстуфхцчшщъыьэюя");
    }

    // --- filters -----------------------------------------------------------------------------

    fn decoded(d: Decoded) -> Vec<u8> {
        match d {
            Decoded::Ok(v) => v,
            Decoded::Capped(_) => panic!("capped"),
            Decoded::Corrupt(_) => panic!("corrupt"),
        }
    }

    #[test]
    fn flate_content_streams_are_decoded() {
        let data = deflate(b"BT /F1 12 Tf (deflated) Tj ET");
        let mut objects = one_page(b"", HELVETICA, vec![]);
        let content = stream(&data, "/Filter /FlateDecode ");
        let at = find(&objects, b"<< /Length 0 >>\nstream\n\nendstream", 0).unwrap();
        objects.splice(at..at + 32, content);
        // The offsets after object 4 moved: the reader corrects them from the scan.
        assert_eq!(text_of(&objects).text, "deflated");
    }

    #[test]
    fn inflate_stops_at_the_cap_and_accepts_raw_deflate() {
        let bomb = deflate(&vec![0u8; 10 << 20]);
        match inflate(&bomb, 1 << 20) {
            Decoded::Capped(out) => assert_eq!(out.len(), 1 << 20),
            _ => panic!("not capped"),
        }
        let raw = miniz_oxide::deflate::compress_to_vec(b"raw deflate", 6);
        assert_eq!(decoded(inflate(&raw, 1000)), b"raw deflate");
        assert!(matches!(
            inflate(b"not deflate at all", 1000),
            Decoded::Corrupt(_)
        ));
    }

    #[test]
    fn ascii_hex_ascii85_run_length_and_lzw_decode() {
        assert_eq!(decoded(ascii_hex_decode(b"48 65 6c6C 6>", 100)), b"Hell`");
        assert_eq!(
            decoded(ascii85_decode(b"<~87cURD]i,\"Ebo80~>", 100)),
            b"Hello World!"
        );
        assert_eq!(decoded(ascii85_decode(b"z!!~>", 100)), b"\0\0\0\0\0");
        assert_eq!(
            decoded(run_length_decode(&[2, b'a', b'b', b'c', 254, b'x', 128, 9], 100)),
            b"abcxxx"
        );
        // The example from the PDF spec (7.4.4.2): 45 45 45 45 45 65 45 45 45 66.
        let lzw = [0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01];
        assert_eq!(
            decoded(lzw_decode(&lzw, 100, true)),
            [45, 45, 45, 45, 45, 65, 45, 45, 45, 66]
        );
    }

    #[test]
    fn png_and_tiff_predictors_are_undone() {
        let params = Dict::new(vec![(Rc::from(&b"Columns"[..]), Obj::Int(3))]);
        // Sub, Up, Average, Paeth rows.
        let data = vec![1, 1, 1, 1, 2, 1, 1, 1, 3, 0, 0, 0, 4, 1, 0, 0];
        assert_eq!(
            unpredict(data, 12, &params),
            vec![1, 2, 3, 2, 3, 4, 1, 2, 3, 2, 2, 3]
        );
        assert_eq!(
            unpredict(vec![1, 1, 1, 5, 0, 0], 2, &params),
            vec![1, 2, 3, 5, 5, 5]
        );
    }

    // --- limits ------------------------------------------------------------------------------

    #[test]
    fn output_stops_at_max_output_chars_and_says_truncated() {
        let pdf = one_page(b"BT /F1 12 Tf (0123456789) Tj ET", HELVETICA, vec![]);
        let e = extract_text(
            &pdf,
            &Limits {
                max_output_chars: 4,
                ..Limits::default()
            },
        )
        .unwrap();
        assert_eq!((e.text.as_str(), e.warning), ("0123", Some(Warning::Truncated)));
    }

    #[test]
    fn operators_stop_at_max_operations_and_say_truncated() {
        let pdf = one_page(b"BT /F1 12 Tf (a) Tj (b) Tj (c) Tj ET", HELVETICA, vec![]);
        let e = extract_text(
            &pdf,
            &Limits {
                max_operations: 4,
                ..Limits::default()
            },
        )
        .unwrap();
        assert_eq!((e.text.as_str(), e.warning), ("ab", Some(Warning::Truncated)));
    }

    #[test]
    fn deep_nesting_stops_at_max_depth_without_recursing_further() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let content = format!("BT /F1 12 Tf {deep} TJ (after) Tj ET");
        assert_eq!(page_text(&content), "after");
        let mut parser = Parser::new(deep.as_bytes(), 0, usize::MAX, 64);
        assert_eq!(parser.object(0).unwrap_err(), Fail::Limit);
    }

    #[test]
    fn objects_stop_at_max_objects() {
        let pdf = one_page(b"BT /F1 12 Tf (x) Tj ET", HELVETICA, vec![]);
        let e = extract_text(
            &pdf,
            &Limits {
                max_objects: 2,
                ..Limits::default()
            },
        )
        .unwrap();
        assert_eq!(e.warning, Some(Warning::Truncated));
    }

    #[test]
    fn a_cmap_range_over_all_codes_is_not_expanded() {
        let cmap = "1 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange\n\
                    1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange";
        let mut budget = 100;
        let cmap = CMap::parse(cmap.as_bytes(), &mut budget);
        assert_eq!(cmap.ranges.len(), 1);
        assert_eq!(cmap.lookup(1).as_deref(), Some("B"));
        assert_eq!(cmap.lookup(0xFFFF_FFFF), None);
    }

    #[test]
    fn every_warning_describes_itself_in_a_sentence() {
        for w in [
            Warning::Encrypted,
            Warning::NoText,
            Warning::Truncated,
            Warning::Damaged("a reason".into()),
        ] {
            let s = w.describe();
            assert!(s.starts_with("This PDF") && s.ends_with('.'), "{s}");
        }
        assert!(Warning::Damaged("a reason".into())
            .describe()
            .contains("a reason"));
    }
}
