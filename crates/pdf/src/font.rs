//! Fonts: from character codes to Unicode (`/ToUnicode` CMaps, or a simple font's encoding and
//! glyph names), and widths, to find word spaces.

use std::collections::HashMap;
use std::rc::Rc;

use crate::document::Doc;
use crate::lexer::{be_u32, find, Lexer, Tok};
use crate::object::{Dict, Obj};
use crate::tables::{
    GLYPH_NAMES, HELVETICA_WIDTHS, MAC_ROMAN_ENCODING, STANDARD_ENCODING, TIMES_WIDTHS, WIN_ANSI_ENCODING,
};

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
pub(crate) enum RangeDst {
    /// UTF-16 units for the first code; later codes increment the last unit.
    Base(Vec<u16>),
    /// One string per code, in order.
    List(Vec<String>),
}

/// A `/ToUnicode` CMap. Ranges are kept as ranges, never expanded, so `<00000000> <FFFFFFFF>`
/// costs one entry. Codes are looked up by value, whatever their byte length: producers that
/// write two-byte sources for one-byte fonts are common, and readers accept them.
#[derive(Debug, Default)]
pub(crate) struct CMap {
    codespace: Vec<CodeRange>,
    single: HashMap<u32, String>,
    /// Sorted by start.
    pub(crate) ranges: Vec<(u32, u32, RangeDst)>,
}

impl CMap {
    /// Reads the CMap operators we need from a decoded CMap stream; `budget` counts entries.
    pub(crate) fn parse(data: &[u8], budget: &mut usize) -> CMap {
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

    pub(crate) fn lookup(&self, code: u32) -> Option<String> {
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
pub(crate) enum Widths {
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
pub(crate) enum CidWidth {
    Same(f64),
    Each(Vec<f64>),
}

#[derive(Debug)]
pub(crate) struct Font {
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
    pub(crate) fn next_code(&self, bytes: &[u8], pos: usize) -> (u32, usize) {
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

    pub(crate) fn text(&self, code: u32) -> Option<String> {
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
    pub(crate) fn width(&self, code: u32) -> f64 {
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

    pub(crate) fn widths_known(&self) -> bool {
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
pub(crate) fn glyph_to_unicode(name: &[u8]) -> Option<String> {
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
    pub(crate) fn font(&mut self, entry: &Obj) -> Rc<Font> {
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
    pub(crate) fn fallback_font(&mut self) -> Rc<Font> {
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
