//! Objects: the values of PDF's object syntax and the parser that reads them, with a depth
//! limit and a node budget.

use std::collections::HashMap;
use std::rc::Rc;

use crate::lexer::{is_regular, Lexer, Tok};

/// A string or name in an object costs one node per this many bytes (besides its own node).
const BYTES_PER_NODE: usize = 16;

/// A PDF object. Composite values sit behind `Rc` so that handing an object around (out of the
/// cache, into the page list) is a reference-count bump, never a deep copy.
#[derive(Debug, Clone)]
pub(crate) enum Obj {
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
pub(crate) struct Dict {
    pub(crate) entries: Vec<(Rc<[u8]>, Obj)>,
    index: Option<HashMap<Rc<[u8]>, usize>>,
}

impl Dict {
    pub(crate) fn new(entries: Vec<(Rc<[u8]>, Obj)>) -> Self {
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
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Obj> {
        match &self.index {
            Some(index) => index.get(key).and_then(|&i| self.entries.get(i)).map(|(_, v)| v),
            None => self.entries.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
        }
    }

    pub(crate) fn name(&self, key: &[u8]) -> Option<&[u8]> {
        self.get(key).and_then(Obj::as_name)
    }
}

/// A stream's dictionary and where its raw bytes are in the file (streams are never inside
/// object streams, so they are always file ranges).
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) dict: Rc<Dict>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Obj {
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Obj::Int(v) => Some(*v),
            // `as` saturates and maps NaN to 0: no panic for any float.
            Obj::Real(v) if v.is_finite() => Some(*v as i64),
            _ => None,
        }
    }

    pub(crate) fn as_usize(&self) -> Option<usize> {
        self.as_i64().and_then(|v| usize::try_from(v).ok())
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Obj::Int(v) => Some(*v as f64),
            Obj::Real(v) if v.is_finite() => Some(*v),
            _ => None,
        }
    }

    pub(crate) fn as_name(&self) -> Option<&[u8]> {
        match self {
            Obj::Name(n) => Some(n),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&[u8]> {
        match self {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Obj]> {
        match self {
            Obj::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The dictionary of a dictionary or of a stream.
    pub(crate) fn as_dict(&self) -> Option<&Rc<Dict>> {
        match self {
            Obj::Dict(d) => Some(d),
            Obj::Stream(s) => Some(&s.dict),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// A limit (depth, nodes) stopped the parse: the document is reported truncated.
    Limit,
    /// The bytes are not a valid object.
    Bad,
}

/// Parses objects from a lexer, with a depth limit (so `[[[[…` cannot overflow the stack) and a
/// node budget (so an array of millions of numbers cannot exhaust memory).
pub(crate) struct Parser<'a> {
    pub(crate) lex: Lexer<'a>,
    pub(crate) nodes: usize,
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
    pub(crate) fn new(buf: &'a [u8], pos: usize, nodes: usize, max_depth: usize) -> Self {
        Parser {
            lex: Lexer::new(buf, pos),
            nodes,
            max_depth,
        }
    }

    pub(crate) fn object(&mut self, depth: usize) -> Result<Obj, Fail> {
        let tok = self.lex.next();
        self.object_from(tok, depth)
    }

    pub(crate) fn object_from(&mut self, tok: Tok<'a>, depth: usize) -> Result<Obj, Fail> {
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
