//! Session tokens: HS256 JWTs with `sub` (the user id), `iat`, `exp` and `ver` (the user's token
//! version; bumping it revokes every token issued before). The clock is passed in: the Worker's
//! `Date`, never chrono's.

use chrono::{DateTime, Duration, TimeZone, Utc};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken, ValidationError};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub sub: String,
    pub ver: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
    NotYetValid,
}

impl TokenError {
    pub fn describe(self) -> &'static str {
        match self {
            TokenError::Malformed => "The token is malformed.",
            TokenError::BadSignature => "The token's signature is invalid.",
            TokenError::Expired => "The token has expired; sign in again.",
            TokenError::NotYetValid => "The token is not valid yet.",
        }
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn options(now_secs: i64) -> TimeOptions<impl Fn() -> DateTime<Utc>> {
    TimeOptions::new(Duration::seconds(LEEWAY_SECS), move || at(now_secs))
}

pub fn issue(
    secret: &[u8],
    user_id: i64,
    version: i64,
    now_secs: i64,
    lifetime_secs: i64,
) -> Result<String, String> {
    let mut claims = Claims::new(Session {
        sub: user_id.to_string(),
        ver: version,
    });
    claims.issued_at = Some(at(now_secs));
    claims.expiration = Some(at(now_secs.saturating_add(lifetime_secs)));
    Hs256
        .token(&Header::empty(), &claims, &Hs256Key::new(secret))
        .map_err(|e| e.to_string())
}

/// Verifies signature, algorithm (HS256 only; `none` and every other `alg` are refused), `exp`,
/// `nbf` and `iat`, returning the session claims.
pub fn verify(secret: &[u8], token: &str, now_secs: i64) -> Result<Session, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    let key = Hs256Key::new(secret);
    let token = Hs256
        .validator::<Session>(&key)
        .validate(&untrusted)
        .map_err(|e| match e {
            ValidationError::InvalidSignature | ValidationError::AlgorithmMismatch { .. } => {
                TokenError::BadSignature
            }
            _ => TokenError::Malformed,
        })?;
    let claims = token.claims();
    let options = options(now_secs);
    claims.validate_expiration(&options).map_err(|e| match e {
        ValidationError::Expired => TokenError::Expired,
        _ => TokenError::Malformed,
    })?;
    if claims.not_before.is_some() {
        claims
            .validate_maturity(&options)
            .map_err(|_| TokenError::NotYetValid)?;
    }
    match claims.issued_at {
        Some(iat) if iat.timestamp() > now_secs + LEEWAY_SECS => return Err(TokenError::NotYetValid),
        None => return Err(TokenError::Malformed),
        Some(_) => {}
    }
    Ok(claims.custom.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    use hmac::{Hmac, Mac};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    /// A token signed by hand, for shapes `issue` would never produce.
    fn forge(header: &str, payload: &str, secret: &[u8]) -> String {
        let signing_input = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let token = issue(SECRET, 42, 3, NOW, 3600).unwrap();
        assert_eq!(
            verify(SECRET, &token, NOW + 10),
            Ok(Session {
                sub: "42".into(),
                ver: 3
            })
        );
        assert_eq!(
            verify(SECRET, &token, NOW + 3600 + LEEWAY_SECS + 1),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn the_rejection_matrix() {
        let token = issue(SECRET, 42, 0, NOW, 3600).unwrap();
        let (head, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        // A different key.
        assert_eq!(
            verify(b"another-secret-another-secret-xx", &token, NOW),
            Err(TokenError::BadSignature)
        );
        // A truncated signature.
        let truncated = verify(SECRET, &token[..token.len() - 5], NOW);
        assert!(
            matches!(truncated, Err(TokenError::Malformed | TokenError::BadSignature)),
            "{truncated:?}"
        );
        // A tampered payload under the original signature.
        let tampered = B64.encode(r#"{"sub":"1","ver":0,"iat":1800000000,"exp":1900000000}"#);
        assert_eq!(
            verify(SECRET, &format!("{head}.{tampered}.{signature}"), NOW),
            Err(TokenError::BadSignature)
        );
        // alg: none, unsigned.
        let none = format!("{}.{payload}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(verify(SECRET, &none, NOW).is_err());
        // Another algorithm, even correctly signed with HMAC.
        let hs512 = forge(
            r#"{"alg":"HS512"}"#,
            r#"{"sub":"42","ver":0,"iat":1800000000,"exp":1800003600}"#,
            SECRET,
        );
        assert_eq!(verify(SECRET, &hs512, NOW), Err(TokenError::BadSignature));
        // Garbage.
        for junk in ["", "abc", "a.b", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9"] {
            assert!(verify(SECRET, junk, NOW).is_err(), "{junk}");
        }
    }

    #[test]
    fn tokens_from_the_future_and_without_times_are_refused() {
        let not_before = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"42","ver":0,"iat":1800000000,"nbf":1800001000,"exp":1800003600}"#,
            SECRET,
        );
        assert_eq!(verify(SECRET, &not_before, NOW), Err(TokenError::NotYetValid));
        let issued_later = issue(SECRET, 42, 0, NOW + 600, 3600).unwrap();
        assert_eq!(verify(SECRET, &issued_later, NOW), Err(TokenError::NotYetValid));
        let no_exp = forge(
            r#"{"alg":"HS256"}"#,
            r#"{"sub":"42","ver":0,"iat":1800000000}"#,
            SECRET,
        );
        assert_eq!(verify(SECRET, &no_exp, NOW), Err(TokenError::Malformed));
    }
}
