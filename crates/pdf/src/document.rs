//! The document: the cross-reference (tables and streams, or a scan of the file when they are
//! broken), loading each object at most once, the page tree, and decoding streams through their
//! filters within the work budget.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::filters::{
    ascii85_decode, ascii_hex_decode, inflate, lzw_decode, run_length_decode, unpredict, Decoded,
};
use crate::font::Font;
use crate::lexer::{find, is_regular, is_ws, rfind, Lexer, Tok};
use crate::object::{Dict, Fail, Obj, Parser, Stream};
use crate::{Limits, Stats, NODES_PER_OBJECT, WORK_FACTOR};

/// Filters on one stream; real files use one or two.
const MAX_FILTERS: usize = 8;

/// Cross-reference sections followed through `/Prev` and `/XRefStm`.
const MAX_XREF_SECTIONS: usize = 1024;

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
pub(crate) struct Page {
    pub(crate) dict: Rc<Dict>,
    pub(crate) resources: Obj,
}

pub(crate) struct Doc<'a> {
    data: &'a [u8],
    /// Where `%PDF-` starts: offsets in files with junk before the header may count from it.
    base: usize,
    pub(crate) limits: &'a Limits,
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
    pub(crate) fonts: HashMap<u32, Rc<Font>>,
    pub(crate) inline_fonts: HashMap<usize, (Rc<Dict>, Rc<Font>)>,
    pub(crate) fallback_font: Option<Rc<Font>>,
    pub(crate) nodes_left: usize,
    work_left: usize,
    pub(crate) ops_left: usize,
    /// A limit was reached somewhere: the result is reported truncated.
    pub(crate) truncated: bool,
    /// A document-wide budget is spent: stop all work.
    pub(crate) exhausted: bool,
    /// The first sign of damage met, for [`Warning::Damaged`].
    pub(crate) damage: Option<String>,
    pub(crate) stats: Stats,
}

impl<'a> Doc<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize, limits: &'a Limits) -> Self {
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

    pub(crate) fn damaged(&mut self, reason: &str) {
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
    pub(crate) fn resolve(&mut self, obj: &Obj) -> Obj {
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
    pub(crate) fn lookup(&mut self, dict: &Dict, key: &[u8]) -> Obj {
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
    pub(crate) fn trailer(&mut self) -> Rc<Dict> {
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
    pub(crate) fn pages(&mut self, trailer: &Dict) -> Vec<Page> {
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
    pub(crate) fn decode_stream(&mut self, stream: &Stream) -> Option<Vec<u8>> {
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
