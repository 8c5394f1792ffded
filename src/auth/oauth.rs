//! OAuth sign-in (Stone): Google ID tokens checked at Google's tokeninfo endpoint, Yandex codes
//! exchanged at Yandex OAuth and profiles read from Yandex's info endpoint. A verified email signs
//! in to the account with that email or creates one, and the provider identity is recorded.

use serde::Deserialize;
use serde_json::Value;
use worker::{Method, Request, Response, Url};

use super::{routes, session_body, Email};
use crate::app::App;
use crate::db::{Db, UserRow};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::{http, time};

const GOOGLE_ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];

/// The identity a provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider: &'static str,
    pub subject: String,
    pub email: Email,
}

fn invalid(provider: &str, why: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unauthorized,
        "invalid_oauth_token",
        format!("{provider} sign-in failed: {why}"),
    )
}

fn unavailable(provider: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "oauth_unavailable",
        format!("{provider} sign-in is unavailable right now; try again later."),
    )
}

fn not_configured(provider: &str, names: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "oauth_not_configured",
        format!("{provider} sign-in is not configured."),
    )
    .with_internal(format!("{provider} sign-in needs {names}"))
}

/// A JSON string or boolean field read as a boolean (`"true"` as Google sends it).
fn truthy(value: &Value) -> bool {
    value.as_bool().unwrap_or(false) || value.as_str() == Some("true")
}

/// A JSON number or numeric string (Google sends `exp` as a string).
fn number(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// Checks Google's tokeninfo answer for a token meant for `client_id`.
pub fn google_identity(claims: &Value, client_id: &str, now: i64) -> ApiResult<Identity> {
    if claims["aud"].as_str() != Some(client_id) {
        return Err(invalid("Google", "the token was issued for another application."));
    }
    if !claims["iss"]
        .as_str()
        .is_some_and(|iss| GOOGLE_ISSUERS.contains(&iss))
    {
        return Err(invalid("Google", "the token was not issued by Google."));
    }
    if number(&claims["exp"]).is_none_or(|exp| exp <= now) {
        return Err(invalid("Google", "the token has expired."));
    }
    if !truthy(&claims["email_verified"]) {
        return Err(invalid("Google", "the account's email is not verified."));
    }
    let subject = claims["sub"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("Google", "no subject."))?;
    let email = Email::parse(claims["email"].as_str().unwrap_or_default())
        .map_err(|_| invalid("Google", "the token carries no usable email."))?;
    Ok(Identity {
        provider: "google",
        subject: subject.to_owned(),
        email,
    })
}

/// Reads the Yandex profile: its `id` and its default (verified) email. The info endpoint names
/// the application the token was issued to (`client_id`); a token given to any other
/// application is refused, or whoever holds one could sign in as its owner.
pub fn yandex_identity(profile: &Value, client_id: &str) -> ApiResult<Identity> {
    if profile["client_id"].as_str() != Some(client_id) {
        return Err(invalid("Yandex", "the token was issued for another application."));
    }
    let subject = match &profile["id"] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(invalid("Yandex", "the profile has no id.")),
    };
    let email = profile["default_email"]
        .as_str()
        .or_else(|| profile["emails"].get(0).and_then(Value::as_str))
        .ok_or_else(|| invalid("Yandex", "the profile has no email; grant the login:email scope."))?;
    let email = Email::parse(email).map_err(|_| invalid("Yandex", "the profile's email is not usable."))?;
    Ok(Identity {
        provider: "yandex",
        subject,
        email,
    })
}

/// Signs in the user linked to `identity`, or the account of its mailbox, or a new user. The
/// provider vouched for the address: an account of that mailbox nobody proved (a password
/// registration, perhaps by someone else before the owner came) passes to the owner — its
/// password is removed and every token and API key issued before is revoked. A new account
/// counts against `REGISTRATIONS_PER_IP` like a password registration.
async fn sign_in(app: &App, req: &Request, db: &Db, identity: &Identity) -> ApiResult<UserRow> {
    if let Some(user) = db.user_by_identity(identity.provider, &identity.subject).await? {
        return Ok(user);
    }
    let now = time::now_secs();
    let email = identity.email.as_str();
    let mailbox = identity.email.mailbox();
    let new_account =
        db.user_by_mailbox(&mailbox).await?.is_none() && db.user_by_email(email).await?.is_none();
    let throttle = routes::registrations(app, req);
    if new_account {
        if let Err(retry_after) = throttle.take(&app.env, now).await? {
            return Err(routes::too_many_registrations(retry_after));
        }
    }
    let user = match db.insert_user(email, &mailbox, None, Some(now), now).await? {
        Some(created) => created,
        None => {
            if new_account {
                // Someone else's sign-in made it first: this one made no account.
                throttle.give(&app.env, now).await?;
            }
            let existing = match db.user_by_mailbox(&mailbox).await? {
                Some(user) => user,
                None => db
                    .user_by_email(email)
                    .await?
                    .ok_or_else(|| ApiError::internal("user vanished between insert and select"))?,
            };
            if db.email_verified(existing.id).await? {
                existing
            } else {
                db.claim_account(existing.id, &mailbox, None, now).await?;
                db.user_by_id(existing.id)
                    .await?
                    .ok_or_else(|| ApiError::internal("claimed account vanished"))?
            }
        }
    };
    db.link_identity(identity.provider, &identity.subject, user.id, email, now)
        .await?;
    Ok(user)
}

#[derive(Debug, Deserialize)]
struct GoogleRequest {
    id_token: String,
}

/// `POST /api/auth/google {"id_token"}`.
pub async fn google(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: GoogleRequest = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    app.config.jwt_secret()?;
    let client_id = app
        .config
        .google_client_id
        .as_deref()
        .ok_or_else(|| not_configured("Google", "GOOGLE_CLIENT_ID"))?;
    if body.id_token.trim().is_empty() {
        return Err(ApiError::bad_request("id_token", "`id_token` must not be empty."));
    }
    let url = Url::parse_with_params(
        &app.config.google_tokeninfo_url,
        &[("id_token", body.id_token.trim())],
    )
    .map_err(|e| ApiError::internal(format!("GOOGLE_TOKENINFO_URL is not a URL: {e}")))?;
    let answer = http::send_outbound(Method::Get, url.as_str(), &[], None)
        .await
        .map_err(|e| unavailable("Google").with_internal(format!("tokeninfo unreachable: {e}")))?;
    let claims = match answer.status {
        200 => serde_json::from_slice::<Value>(answer.body.as_bytes())
            .map_err(|e| unavailable("Google").with_internal(format!("tokeninfo sent non-JSON: {e}")))?,
        400 | 401 => return Err(invalid("Google", "the ID token is invalid or expired.")),
        status => return Err(unavailable("Google").with_internal(format!("tokeninfo answered {status}"))),
    };
    let identity = google_identity(&claims, client_id, time::now_secs())?;
    let db = Db::from_env(&app.env)?;
    let user = sign_in(app, &req, &db, &identity).await?;
    http::json(200, &session_body(app, &user)?)
}

#[derive(Debug, Deserialize)]
struct YandexRequest {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// Exchanges an authorization code for an access token at Yandex OAuth.
async fn yandex_exchange(app: &App, code: &str) -> ApiResult<String> {
    let (Some(client_id), Some(secret)) = (&app.config.yandex_client_id, &app.config.yandex_client_secret)
    else {
        return Err(not_configured(
            "Yandex",
            "YANDEX_CLIENT_ID and YANDEX_CLIENT_SECRET",
        ));
    };
    let form = worker::Url::parse_with_params(
        "http://form.invalid/",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .map_err(ApiError::internal)?;
    let answer = http::send_outbound(
        Method::Post,
        &app.config.yandex_oauth_url,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
        ],
        Some(form.query().unwrap_or_default().to_owned()),
    )
    .await
    .map_err(|e| unavailable("Yandex").with_internal(format!("token endpoint unreachable: {e}")))?;
    match answer.status {
        200 => {
            let token: Value = serde_json::from_slice(answer.body.as_bytes()).map_err(|e| {
                unavailable("Yandex").with_internal(format!("token endpoint sent non-JSON: {e}"))
            })?;
            token["access_token"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| unavailable("Yandex").with_internal("token endpoint sent no access_token"))
        }
        400 => Err(invalid("Yandex", "the authorization code is invalid or expired.")),
        401 => Err(unavailable("Yandex")
            .with_internal("Yandex refused our client credentials (YANDEX_CLIENT_ID/SECRET)")),
        status => Err(unavailable("Yandex").with_internal(format!("token endpoint answered {status}"))),
    }
}

/// `POST /api/auth/yandex {"code"}` or `{"access_token"}` (a token issued to our
/// `YANDEX_CLIENT_ID`, e.g. by the implicit flow).
pub async fn yandex(mut req: Request, app: &App) -> ApiResult<Response> {
    let body: YandexRequest = http::read_json(&mut req, app.config.max_json_body_bytes).await?;
    app.config.jwt_secret()?;
    let client_id = app
        .config
        .yandex_client_id
        .as_deref()
        .ok_or_else(|| not_configured("Yandex", "YANDEX_CLIENT_ID"))?;
    let access_token = match (
        body.code.as_deref().map(str::trim),
        body.access_token.as_deref().map(str::trim),
    ) {
        (Some(code), None) if !code.is_empty() => yandex_exchange(app, code).await?,
        (None, Some(token)) if !token.is_empty() => token.to_owned(),
        _ => {
            return Err(ApiError::bad_request(
                "code",
                "Send exactly one of `code` or `access_token`.",
            ))
        }
    };
    let url = Url::parse_with_params(&app.config.yandex_info_url, &[("format", "json")])
        .map_err(|e| ApiError::internal(format!("YANDEX_INFO_URL is not a URL: {e}")))?;
    let auth = format!("OAuth {access_token}");
    let answer = http::send_outbound(Method::Get, url.as_str(), &[("Authorization", &auth)], None)
        .await
        .map_err(|e| unavailable("Yandex").with_internal(format!("info endpoint unreachable: {e}")))?;
    let profile = match answer.status {
        200 => serde_json::from_slice::<Value>(answer.body.as_bytes())
            .map_err(|e| unavailable("Yandex").with_internal(format!("info endpoint sent non-JSON: {e}")))?,
        400 | 401 | 403 => return Err(invalid("Yandex", "the access token is invalid or expired.")),
        status => return Err(unavailable("Yandex").with_internal(format!("info endpoint answered {status}"))),
    };
    let identity = yandex_identity(&profile, client_id)?;
    let db = Db::from_env(&app.env)?;
    let user = sign_in(app, &req, &db, &identity).await?;
    http::json(200, &session_body(app, &user)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn google_claims() -> Value {
        json!({"aud": "client-1", "iss": "https://accounts.google.com", "sub": "1087", "email": "Ann@Gmail.com",
               "email_verified": "true", "exp": "1800000600"})
    }

    #[test]
    fn a_valid_google_token_names_a_lowercased_email() {
        let identity = google_identity(&google_claims(), "client-1", NOW).unwrap();
        assert_eq!(
            (identity.subject.as_str(), identity.email.as_str()),
            ("1087", "ann@gmail.com")
        );
    }

    #[test]
    fn google_tokens_for_others_unverified_or_expired_are_refused() {
        let cases = [
            ("aud", json!("client-2")),
            ("iss", json!("https://evil.example")),
            ("email_verified", json!("false")),
            ("exp", json!("1799999999")),
            ("sub", json!("")),
            ("email", json!("not-an-email")),
        ];
        for (field, value) in cases {
            let mut claims = google_claims();
            claims[field] = value;
            let error = google_identity(&claims, "client-1", NOW).unwrap_err();
            assert_eq!(error.status(), 401, "{field}");
        }
    }

    #[test]
    fn a_yandex_profile_gives_its_id_and_default_email() {
        let profile = json!({"id": "555", "default_email": "Ivan@Yandex.ru", "client_id": "ours"});
        let identity = yandex_identity(&profile, "ours").unwrap();
        assert_eq!(
            (identity.subject.as_str(), identity.email.as_str()),
            ("555", "ivan@yandex.ru")
        );
        assert!(yandex_identity(&json!({"id": "555", "client_id": "ours"}), "ours").is_err());
        assert!(yandex_identity(&json!({"default_email": "a@b.ru", "client_id": "ours"}), "ours").is_err());
    }

    #[test]
    fn a_yandex_token_of_another_application_is_refused() {
        for client_id in [json!("someone-elses-app"), json!(null), json!(7)] {
            let profile = json!({"id": "555", "default_email": "ivan@yandex.ru", "client_id": client_id});
            assert_eq!(yandex_identity(&profile, "ours").unwrap_err().status(), 401);
        }
    }
}
