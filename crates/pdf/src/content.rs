//! Content streams: text operators, in the order the stream draws them, into the page's text.

use std::rc::Rc;

use crate::document::{Doc, Page};
use crate::font::Font;
use crate::lexer::{find, is_regular, is_ws, Lexer, Tok};
use crate::object::{Dict, Obj, Parser};
use crate::PAGE_BREAK;

/// Nested `q` (save graphics state) deeper than this is ignored: it costs memory per level and
/// no real page nests that deep.
const MAX_SAVED_STATES: usize = 256;

/// Content-stream operands waiting for their operator; more than this is garbage, and dropped.
const MAX_OPERANDS: usize = 4096;

/// Nodes one content-stream operand (a `TJ` array, an inline dictionary) may have.
const MAX_OPERAND_NODES: usize = 100_000;

/// A text move across the baseline of more than this fraction of the font size starts a line.
const NEWLINE_FRACTION: f64 = 0.5;

/// A gap along the baseline wider than this fraction of the font size is a word space (glyph
/// widths known from the font) ...
const SPACE_FRACTION: f64 = 0.15;

/// ... or this one, when the widths are only estimated.
const SPACE_FRACTION_ESTIMATED: f64 = 0.3;

/// An affine matrix `[a b c d e f]`, row-vector convention as in the PDF spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Mat([f64; 6]);

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
pub(crate) struct Out {
    pub(crate) text: String,
    chars: usize,
    max: usize,
    pub(crate) full: bool,
    pending: Option<char>,
    last: Option<LastText>,
}

impl Out {
    pub(crate) fn new(max: usize) -> Self {
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

    pub(crate) fn page_break(&mut self) {
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
    pub(crate) fn page_text(&mut self, page: &Page, out: &mut Out) {
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
