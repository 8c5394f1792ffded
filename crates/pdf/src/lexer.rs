//! Bytes and tokens: PDF's character classes, byte helpers, and the lexer that splits a buffer
//! into tokens.

/// PDF white-space characters.
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32)
}

/// Bytes that end a name, a number or a keyword.
fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

pub(crate) fn is_regular(b: u8) -> bool {
    !is_ws(b) && !is_delim(b)
}

/// The first position of `needle` in `hay` at or after `from`.
pub(crate) fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = hay.get(from..)?;
    if needle.is_empty() {
        return None;
    }
    rest.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p.saturating_add(from))
}

/// The last position of `needle` in `hay`.
pub(crate) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).rposition(|w| w == needle)
}

pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(b.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(b.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Big-endian bytes (at most four are ever passed) as a number.
pub(crate) fn be_u32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_shl(8) | u32::from(b))
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
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
pub(crate) struct Lexer<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Lexer { buf, pos }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    pub(crate) fn skip_ws(&mut self) {
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

    pub(crate) fn next(&mut self) -> Tok<'a> {
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
