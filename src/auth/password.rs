//! Password hashing: PBKDF2-HMAC-SHA256 with a random 16-byte salt, stored self-describing as
//! `pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>` so the iteration count can be raised later:
//! old hashes still verify and are re-hashed at the next login.

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const DEFAULT_ITERATIONS: u32 = 600_000;
pub const MIN_ITERATIONS: u32 = 100_000;
/// A stored count above this is refused before deriving: it would burn the CPU budget.
pub const MAX_ITERATIONS: u32 = 5_000_000;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;
const SCHEME: &str = "pbkdf2_sha256";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match { needs_rehash: bool },
}

/// PBKDF2-HMAC-SHA256 with one output block (32 bytes): U1 = HMAC(password, salt || 1), each
/// further U = HMAC(password, previous U), the output their XOR. The bytes are
/// `pbkdf2::pbkdf2_hmac::<Sha256>`'s (the tests compare them). HMAC is written out so that each
/// iteration is two calls of `sha2::compress256` on one padded block, from the key's inner and
/// outer states computed once, with the XOR on the state's words: the work stays in `sha2`, which
/// Cargo.toml builds at opt-level 3, and not in generic HMAC code monomorphized into this crate,
/// which is built for size (where it made a login at the default cost about 1.5x slower).
fn derive(password: &str, salt: &[u8], iterations: u32) -> [u8; HASH_BYTES] {
    use sha2::digest::consts::U64;
    use sha2::digest::generic_array::GenericArray;
    use sha2::Digest;
    const BLOCK: usize = 64;
    /// SHA-256's initial state (FIPS 180-4 §5.3.3).
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ];
    // The state's words big-endian (a digest as SHA-256 writes it) into the first 32 bytes.
    // Fixed-size arrays, no slicing: at opt-level "z" a range index or `copy_from_slice` is a call.
    fn put_words(words: &[u32; 8], out: &mut [u8; BLOCK]) {
        for (i, word) in words.iter().enumerate() {
            let bytes = word.to_be_bytes();
            out[4 * i] = bytes[0];
            out[4 * i + 1] = bytes[1];
            out[4 * i + 2] = bytes[2];
            out[4 * i + 3] = bytes[3];
        }
    }
    // HMAC's key: a password longer than a block is hashed first, a shorter one zero-padded.
    let mut key = [0u8; BLOCK];
    if password.len() > BLOCK {
        key[..HASH_BYTES].copy_from_slice(&Sha256::digest(password.as_bytes()));
    } else {
        key[..password.len()].copy_from_slice(password.as_bytes());
    }
    let (ipad, opad) = (key.map(|k| k ^ 0x36), key.map(|k| k ^ 0x5c));
    let keyed = |pad: [u8; BLOCK]| {
        let mut state = IV;
        sha2::compress256(&mut state, &[GenericArray::from(pad)]);
        state
    };
    let (inner, outer) = (keyed(ipad), keyed(opad));

    // U1, through the streaming hasher (the salt has any length).
    let inner_hash = Sha256::new()
        .chain_update(ipad)
        .chain_update(salt)
        .chain_update(1u32.to_be_bytes())
        .finalize();
    let u1 = Sha256::new()
        .chain_update(opad)
        .chain_update(inner_hash)
        .finalize();
    let mut out = [0u32; 8];
    for (word, bytes) in out.iter_mut().zip(u1.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }

    // One block after the 64-byte pad: the 32-byte message, 0x80, zeros, the length in bits
    // ((64 + 32) * 8 = 768) in the last 2 of its 8 length bytes.
    let mut block = [0u8; BLOCK];
    block[..HASH_BYTES].copy_from_slice(&u1);
    block[HASH_BYTES] = 0x80;
    block[BLOCK - 2..].copy_from_slice(&768u16.to_be_bytes());
    for _ in 1..iterations {
        let mut state = inner;
        sha2::compress256(&mut state, &[*GenericArray::<u8, U64>::from_slice(&block)]);
        put_words(&state, &mut block);
        state = outer;
        sha2::compress256(&mut state, &[*GenericArray::<u8, U64>::from_slice(&block)]);
        put_words(&state, &mut block);
        for (o, word) in out.iter_mut().zip(state.iter()) {
            *o ^= word;
        }
    }
    let mut bytes = [0u8; BLOCK];
    put_words(&out, &mut bytes);
    let mut derived = [0u8; HASH_BYTES];
    derived.copy_from_slice(&bytes[..HASH_BYTES]);
    derived
}

/// Hashes `password` with a fresh random salt.
pub fn hash(password: &str, iterations: u32) -> Result<String, getrandom::Error> {
    let mut salt = [0u8; SALT_BYTES];
    getrandom::getrandom(&mut salt)?;
    Ok(hash_with_salt(password, &salt, iterations))
}

fn hash_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let derived = derive(password, salt, iterations);
    format!(
        "{SCHEME}${iterations}${}${}",
        B64.encode(salt),
        B64.encode(derived)
    )
}

/// Checks `password` against a stored hash in constant time. A malformed hash or an iteration
/// count outside the sane range never matches (and is not derived).
pub fn verify(password: &str, stored: &str, configured_iterations: u32) -> Verification {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Verification::Mismatch;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return Verification::Mismatch;
    };
    if !(1..=MAX_ITERATIONS).contains(&iterations) {
        return Verification::Mismatch;
    }
    let (Ok(salt), Ok(expected)) = (B64.decode(salt), B64.decode(expected)) else {
        return Verification::Mismatch;
    };
    if expected.len() != HASH_BYTES {
        return Verification::Mismatch;
    }
    let derived = derive(password, &salt, iterations);
    if bool::from(derived.ct_eq(expected.as_slice())) {
        Verification::Match {
            needs_rehash: iterations < configured_iterations,
        }
    } else {
        Verification::Mismatch
    }
}

/// Spends the same work as verifying a real hash, so an unknown email answers in the same time.
pub fn burn_equivalent_work(password: &str, iterations: u32) {
    let _ = derive(password, b"flint-timing-equalizer", iterations);
}

/// Checks the length rule (8 to 128 characters), naming the problem.
pub fn check_policy(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(format!(
            "The password must be at least {MIN_PASSWORD_CHARS} characters long."
        ))
    } else if chars > MAX_PASSWORD_CHARS {
        Err(format!(
            "The password must be at most {MAX_PASSWORD_CHARS} characters long."
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(password: &str, salt: &[u8], iterations: u32, len: usize) -> String {
        let mut out = vec![0u8; len];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
        hex::encode(out)
    }

    /// Published PBKDF2-HMAC-SHA256 vectors (RFC 7914 §11 and the RFC 6070-style SHA-256 set).
    #[test]
    fn pbkdf2_matches_published_vectors() {
        // (password, salt, iterations, the derived key in hex: as long as the vector asks for)
        let vectors: [(&str, &[u8], u32, &str); 5] = [
            ("password", b"salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"),
            ("password", b"salt", 4096, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"),
            ("passwd", b"salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"),
            ("Password", b"NaCl", 80_000, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"),
            (
                "passwordPASSWORDpassword",
                b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
                4096,
                "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9",
            ),
        ];
        for (password, salt, iterations, want) in vectors {
            assert_eq!(
                hex_of(password, salt, iterations, want.len() / 2),
                want,
                "{password} {iterations}"
            );
        }
    }

    /// `derive` gives the `pbkdf2` crate's bytes: the published 32-byte vectors, passwords
    /// shorter than, as long as and longer than a block (hashed first), any salt length.
    #[test]
    fn derive_matches_the_pbkdf2_crate() {
        assert_eq!(
            hex::encode(derive("password", b"salt", 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
        let long = "п".repeat(64);
        for password in ["", "password", &"x".repeat(64), &"y".repeat(65), &long] {
            for salt in [&b""[..], b"salt", &[7u8; 16], &[9u8; 200]] {
                for iterations in [1, 2, 3, 1000] {
                    assert_eq!(
                        hex::encode(derive(password, salt, iterations)),
                        hex_of(password, salt, iterations, HASH_BYTES),
                        "{password:?} {salt:?} {iterations}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_hash_is_self_describing_salted_and_verifies() {
        let a = hash("correct horse", 1000).unwrap();
        let b = hash("correct horse", 1000).unwrap();
        assert_ne!(a, b, "salts must differ");
        assert!(a.starts_with("pbkdf2_sha256$1000$"));
        assert_eq!(
            verify("correct horse", &a, 1000),
            Verification::Match { needs_rehash: false }
        );
        assert_eq!(verify("correct horsf", &a, 1000), Verification::Mismatch);
    }

    #[test]
    fn an_older_lower_count_still_verifies_and_asks_for_a_rehash() {
        let old = hash_with_salt("pw-12345678", b"0123456789abcdef", 1000);
        assert_eq!(
            verify("pw-12345678", &old, 2000),
            Verification::Match { needs_rehash: true }
        );
    }

    #[test]
    fn malformed_or_absurd_hashes_never_match() {
        let huge = format!(
            "pbkdf2_sha256$4000000000${}${}",
            B64.encode([0u8; 16]),
            B64.encode([0u8; 32])
        );
        for stored in [
            "",
            "plain",
            "pbkdf2_sha256$x$a$b",
            "bcrypt$1$a$b",
            "pbkdf2_sha256$0$AAAA$AAAA",
            &huge,
        ] {
            assert_eq!(
                verify("whatever", stored, 1000),
                Verification::Mismatch,
                "{stored}"
            );
        }
    }

    #[test]
    fn the_policy_counts_characters_not_bytes() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("пароль12").is_ok()); // 8 characters, 14 bytes
        assert!(check_policy(&"x".repeat(129)).is_err());
        assert!(check_policy(&"x".repeat(128)).is_ok());
    }
}
