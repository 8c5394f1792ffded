//! Stream filters: Flate (with PNG/TIFF predictors), LZW, ASCIIHex, ASCII85 and RunLength, each
//! stopping at a cap on its output.

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use crate::lexer::hex_value;
use crate::object::{Dict, Obj};

/// A filter's output and how it ended.
pub(crate) enum Decoded {
    Ok(Vec<u8>),
    /// Stopped at the size cap: the rest of the stream was not decoded.
    Capped(Vec<u8>),
    /// The data is corrupt: what was decoded before the fault.
    Corrupt(Vec<u8>),
}

/// Inflates zlib (or, failing that, raw deflate) data, growing the output by doubling and never
/// past `cap`: a bomb of a few bytes stops at `cap`, however much it would expand.
pub(crate) fn inflate(input: &[u8], cap: usize) -> Decoded {
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
pub(crate) fn lzw_decode(input: &[u8], cap: usize, early: bool) -> Decoded {
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

pub(crate) fn ascii_hex_decode(input: &[u8], cap: usize) -> Decoded {
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

pub(crate) fn ascii85_decode(input: &[u8], cap: usize) -> Decoded {
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

pub(crate) fn run_length_decode(input: &[u8], cap: usize) -> Decoded {
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
pub(crate) fn unpredict(data: Vec<u8>, predictor: i64, params: &Dict) -> Vec<u8> {
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
