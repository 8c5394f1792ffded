//! Small helpers: ids, clocks, query strings, base64url.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a, 64-bit: the mock's deterministic hash (signatures, embedding seeds).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64: a deterministic stream of well-mixed values from a seed.
pub fn mix64(x: u64) -> u64 {
    splitmix64(x)
}

/// A fresh pseudo-random 64-bit value (unique per call within a process).
pub fn next_u64() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = now_nanos() as u64;
    splitmix64(seed ^ splitmix64(n))
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` random alphanumeric characters.
pub fn random_alnum(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut bits = next_u64();
    let mut left = 10;
    for _ in 0..len {
        if left == 0 {
            bits = next_u64();
            left = 10;
        }
        out.push(char::from(ALNUM[(bits % 62) as usize]));
        bits /= 62;
        left -= 1;
    }
    out
}

/// A uuid-shaped hex id (`8-4-4-4-12`), as YooKassa and Resend hand out.
pub fn uuid_like() -> String {
    let a = next_u64();
    let b = next_u64();
    format!(
        "{:08x}-{:04x}-5000-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        0x8000 | ((b >> 48) as u16 & 0x0fff),
        b & 0xffff_ffff_ffff
    )
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub fn now_secs() -> u64 {
    (now_nanos() / 1_000_000_000) as u64
}

pub fn now_millis() -> u64 {
    (now_nanos() / 1_000_000) as u64
}

/// RFC 3339 UTC timestamp with milliseconds, e.g. `2019-01-22T14:30:45.129Z`.
pub fn rfc3339_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Percent-decodes a query-string or form component (`+` is a space).
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `a=1&b=two` into decoded pairs.
pub fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

/// The first value of `key` in a query or form string.
pub fn pair_value(s: &str, key: &str) -> Option<String> {
    parse_pairs(s).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Decodes base64 leniently: url-safe or standard alphabet, with or without padding.
pub fn b64_decode_lenient(s: &str) -> Option<Vec<u8>> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cleaned.as_bytes())
        .ok()
}

/// Decodes a base64url token holding a JSON object. A three-part JWT-shaped token
/// (`header.payload.signature`) is accepted too: its middle part is decoded.
pub fn decode_json_token(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = if parts.len() == 3 { parts[1] } else { token };
    let bytes = b64_decode_lenient(payload)?;
    match serde_json::from_slice::<serde_json::Value>(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

pub fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_a_known_instant() {
        assert_eq!(rfc3339_millis(1_548_167_445_129), "2019-01-22T14:30:45.129Z");
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn url_decode_handles_plus_percent_and_garbage() {
        assert_eq!(url_decode("a+b%20c%2Fd"), "a b c/d");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%zz"), "%zz");
        assert_eq!(
            pair_value("x=1&id_token=abc%3D&y", "id_token").as_deref(),
            Some("abc=")
        );
    }

    #[test]
    fn uuid_like_has_the_uuid_shape() {
        let id = uuid_like();
        let lens: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(lens, vec![8, 4, 4, 4, 12]);
        assert_ne!(id, uuid_like());
    }

    #[test]
    fn json_tokens_decode_plain_and_jwt_shaped() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"1"}"#);
        assert!(decode_json_token(&payload).is_some());
        assert!(decode_json_token(&format!("eyJhbGciOiJub25lIn0.{payload}.sig")).is_some());
        assert!(decode_json_token("not base64 !!").is_none());
        assert!(decode_json_token("WzFd").is_none()); // "[1]" is not an object
    }
}
