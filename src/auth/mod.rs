//! Who is calling: password hashing, JWTs, API keys, email codes, OAuth, and `authenticate()`,
//! which turns an `Authorization: Bearer …` header into a `Principal` or a 401.

pub mod apikeys;
pub mod email_code;
pub mod jwt;
pub mod oauth;
pub mod password;
pub mod routes;

use serde_json::{json, Value};
use worker::Request;

use crate::app::App;
use crate::billing::money::Nanos;
use crate::db::{Db, PlanRow, UserRow};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::limits::ip::ClientIp;
use crate::time;

/// A trimmed, lower-cased, plausibly deliverable email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> ApiResult<Email> {
        let email = raw.trim().to_lowercase();
        let invalid =
            || ApiError::bad_request("email", format!("`{}` is not a valid email address.", raw.trim()));
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        if !local_ok || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
            return Err(invalid());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox this address delivers to, folding aliases: a `+tag` is dropped everywhere
    /// (subaddressing), and at Gmail dots are dropped and googlemail.com is gmail.com. One
    /// mailbox holds one account, so the free allowance can't be multiplied by aliases. The same
    /// expression backfills `mailboxes` in schema.sql.
    pub fn mailbox(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let base = match local.find('+') {
            Some(at) if at > 0 => &local[..at],
            _ => local,
        };
        if domain == "gmail.com" || domain == "googlemail.com" {
            format!("{}@gmail.com", base.replace('.', ""))
        } else {
            format!("{base}@{domain}")
        }
    }
}

/// What an API key may do besides chat and listing models (which every key may, within its
/// model list). Keys never manage keys, change the password or sign everyone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Upload, list, read and delete files.
    Files,
    /// Top-ups, bought months and the billing history.
    Billing,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Files, Scope::Billing];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Files => "files",
            Scope::Billing => "billing",
        }
    }

    /// The scopes of a key created without `scopes`: all of them for a key of every model,
    /// none for a key limited to a list of models.
    pub fn defaults(models: Option<&[String]>) -> Vec<Scope> {
        match models {
            None => Scope::ALL.to_vec(),
            Some(_) => Vec::new(),
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Jwt,
    ApiKey {
        id: String,
        models: Option<Vec<String>>,
        scopes: Vec<Scope>,
        budget: Option<KeyBudget>,
    },
}

/// The window an API key's budget covers: the local day or calendar month (`TIMEZONE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetPeriod {
    Day,
    Month,
}

impl BudgetPeriod {
    pub fn parse(text: &str) -> Option<BudgetPeriod> {
        match text {
            "day" => Some(BudgetPeriod::Day),
            "month" => Some(BudgetPeriod::Month),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        }
    }

    /// The start and end (Unix seconds) of the window containing `now`.
    pub fn window(self, now: i64, utc_offset_secs: i64) -> (i64, i64) {
        match self {
            BudgetPeriod::Day => {
                let ends = crate::time::day_at(now * 1000, utc_offset_secs).ends_ms / 1000;
                (ends - 86_400, ends)
            }
            BudgetPeriod::Month => crate::time::month_at(now, utc_offset_secs),
        }
    }
}

/// An API key's spending cap, and what the current window has spent and holds of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyBudget {
    pub limit: crate::billing::money::Nanos,
    pub period: BudgetPeriod,
    pub used: crate::billing::money::Nanos,
    /// When the window ends (Unix seconds).
    pub resets_at: i64,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserRow,
    pub credential: Credential,
    /// The plan in force, with the user's overrides applied.
    pub plan: PlanRow,
    /// The live catalog's version when the caller was authenticated (`catalog::live`).
    pub catalog_version: i64,
}

impl Principal {
    /// Whether this caller may set a system prompt on Stone's `/api/chat`; `/auth/me` reports
    /// the same answer. The rule is `limits::plan::system_prompt_allowed`.
    pub fn system_prompt_allowed(&self) -> bool {
        crate::limits::plan::system_prompt_allowed(&self.user, &self.plan)
    }

    /// Key management and password changes need a signed-in session, not an API key.
    pub fn require_session(&self, what: &str) -> ApiResult<()> {
        match self.credential {
            Credential::Jwt => Ok(()),
            Credential::ApiKey { .. } => Err(ApiError::new(
                ErrorKind::Forbidden,
                "permission_denied",
                format!("API keys cannot {what}; use the token from signing in."),
            )),
        }
    }

    /// The API key's budget, when the caller used a key that has one.
    pub fn key_budget(&self) -> Option<KeyBudget> {
        match &self.credential {
            Credential::ApiKey { budget, .. } => *budget,
            Credential::Jwt => None,
        }
    }

    /// Files and billing: a session may, a key only with the scope.
    pub fn require_scope(&self, scope: Scope) -> ApiResult<()> {
        match &self.credential {
            Credential::ApiKey { scopes, .. } if !scopes.contains(&scope) => Err(ApiError::new(
                ErrorKind::Forbidden,
                "permission_denied",
                format!(
                    "This API key has no `{}` scope; create a key with it, or use the token from signing in.",
                    scope.name()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The API key's id, when the caller used one (recorded with usage).
    pub fn api_key_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::ApiKey { id, .. } => Some(id),
            Credential::Jwt => None,
        }
    }

    /// Whether this credential may use the model with canonical id `model_id`.
    pub fn may_use_model(&self, model_id: &str) -> bool {
        match &self.credential {
            Credential::ApiKey {
                models: Some(allowed),
                ..
            } => allowed.iter().any(|m| m == model_id),
            _ => true,
        }
    }

    pub fn require_model(&self, model_id: &str) -> ApiResult<()> {
        if self.may_use_model(model_id) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorKind::Forbidden,
                "model_not_allowed",
                format!("This API key is not allowed to use the model `{model_id}`."),
            )
            .with_param("model"))
        }
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(ErrorKind::Unauthorized, code, message).with_header("WWW-Authenticate", "Bearer")
}

/// The bearer token of a request, if it has one. The Anthropic surface and the model list also
/// take `x-api-key` (Claude Code sends its key there).
pub(super) fn credential_of(req: &Request) -> Option<String> {
    let headers = req.headers();
    if let Some(header) = headers.get("Authorization").ok().flatten() {
        if let Some((scheme, token)) = header.trim().split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_owned());
            }
        }
    }
    if let Some(token) = session_cookie_of(req) {
        return Some(token);
    }
    let path = req.path();
    if path.starts_with("/v1/messages") || path.starts_with("/v1/models") {
        return headers
            .get("x-api-key")
            .ok()
            .flatten()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
    }
    None
}

/// The console's session cookie (HttpOnly, so no script can read it), taken only from a request
/// that also sends `X-Flint-Session: cookie`: a header another site's page can't add without a
/// CORS preflight, which the gateway never grants with credentials. Only a session token is
/// taken from it, never an API key.
pub fn session_cookie_of(req: &Request) -> Option<String> {
    let headers = req.headers();
    let marked = headers
        .get(SESSION_HEADER)
        .ok()
        .flatten()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie"));
    if !marked {
        return None;
    }
    let cookies = headers.get("Cookie").ok().flatten()?;
    cookie_value(&cookies, SESSION_COOKIE).filter(|t| !t.starts_with(apikeys::KEY_PREFIX))
}

/// The console's session cookie and the header that must come with it.
pub const SESSION_COOKIE: &str = "flint_session";
pub const SESSION_HEADER: &str = "X-Flint-Session";

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value(header: &str, name: &str) -> Option<String> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The caller, from a JWT or an API key, with their plan: one D1 query whichever it is (the
/// key's last-use stamp is written after the response). A 401 otherwise.
pub async fn authenticate(req: &Request, app: &App) -> ApiResult<Principal> {
    let token = credential_of(req).ok_or_else(|| {
        unauthorized(
            "missing_credentials",
            "Missing credentials: send `Authorization: Bearer <token or API key>`.",
        )
    })?;
    let db = Db::from_env(&app.env)?;
    let now = time::now_secs();
    if token.starts_with(apikeys::KEY_PREFIX) {
        return apikeys::authenticate(app, &db, &token, now).await;
    }
    let secret = app.config.jwt_secret()?;
    let session =
        jwt::verify(secret, &token, now).map_err(|e| unauthorized("invalid_token", e.describe()))?;
    let user_id: i64 = session
        .sub
        .parse()
        .map_err(|_| unauthorized("invalid_token", "The token is malformed."))?;
    let row = db
        .caller_by_user_id(user_id, now)
        .await?
        .ok_or_else(|| unauthorized("invalid_token", "The account of this token no longer exists."))?;
    let catalog_version = row.catalog_version;
    let (user, plan) = row.split();
    if user.token_version != session.ver {
        return Err(unauthorized(
            "token_revoked",
            "The token has been revoked; sign in again.",
        ));
    }
    let plan = crate::limits::plan::with_overrides(&user, plan)?;
    Ok(Principal {
        user,
        credential: Credential::Jwt,
        plan,
        catalog_version,
    })
}

/// `{"status":"ok","token":"…","user":{"id","email","balance_usd"}}`, the shape every sign-in
/// route answers with.
pub fn session_body(app: &App, user: &UserRow) -> ApiResult<Value> {
    let token = jwt::issue(
        app.config.jwt_secret()?,
        user.id,
        user.token_version,
        time::now_secs(),
        app.config.jwt_ttl_secs,
    )
    .map_err(ApiError::internal)?;
    Ok(json!({
        "status": "ok",
        "token": token,
        "user": { "id": user.id, "email": user.email, "balance_usd": Nanos(user.balance_nanos).as_usd_f64() },
    }))
}

/// The client's address as Cloudflare reports it (`CF-Connecting-IP` only; see `limits::ip`).
pub fn client_ip(req: &Request) -> ClientIp {
    ClientIp::from_header(req.headers().get("CF-Connecting-IP").ok().flatten().as_deref())
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let header = "theme=dark; flint_session=eyJ.a.b ; other=1";
        assert_eq!(cookie_value(header, "flint_session").as_deref(), Some("eyJ.a.b"));
        assert_eq!(cookie_value(header, "flint"), None);
        assert_eq!(cookie_value("flint_session=", "flint_session"), None);
        assert_eq!(cookie_value("", "flint_session"), None);
    }
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_validated() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        assert!(Email::parse("a+tag@mail.example.org").is_ok());
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@-b.com",
            "a..b@c.com",
            "a@b..com",
        ] {
            let error = Email::parse(bad).unwrap_err();
            assert_eq!(
                (error.status(), error.param.as_deref()),
                (400, Some("email")),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_scoped_key_may_use_only_its_models() {
        let user = UserRow {
            id: 1,
            email: "a@b.co".into(),
            password_hash: None,
            plan: "free".into(),
            balance_nanos: 0,
            token_version: 0,
            plan_expires_at: None,
            limits_override: None,
            created_at: 0,
        };
        let plan = PlanRow {
            price_multiplier_ppm: crate::db::UNIT_MULTIPLIER_PPM,
            id: "free".into(),
            name: "Free".into(),
            daily_lite_requests: 15,
            rpm: 20,
            tpm: 40_000,
            concurrent_requests: 2,
            max_output_tokens: 4096,
            system_prompt_allowed: 0,
        };
        let scoped = Principal {
            catalog_version: 0,
            plan: plan.clone(),
            user: user.clone(),
            credential: Credential::ApiKey {
                id: "k".into(),
                models: Some(vec!["gpt-4o-mini".into()]),
                scopes: Scope::defaults(Some(&["gpt-4o-mini".to_owned()])),
                budget: None,
            },
        };
        assert_eq!(scoped.require_scope(Scope::Files).unwrap_err().status(), 403);
        assert_eq!(scoped.require_scope(Scope::Billing).unwrap_err().status(), 403);
        assert!(scoped.may_use_model("gpt-4o-mini"));
        assert_eq!(scoped.require_model("gpt-4o").unwrap_err().status(), 403);
        assert_eq!(
            scoped.require_session("manage keys").unwrap_err().code,
            "permission_denied"
        );
        let session = Principal {
            catalog_version: 0,
            plan,
            user,
            credential: Credential::Jwt,
        };
        assert!(session.may_use_model("anything") && session.require_session("x").is_ok());
        assert!(session.require_scope(Scope::Billing).is_ok());
    }

    #[test]
    fn aliases_of_one_mailbox_fold_together() {
        let mailbox = |raw: &str| Email::parse(raw).unwrap().mailbox();
        assert_eq!(mailbox("Victim@Gmail.com"), "victim@gmail.com");
        assert_eq!(mailbox("v.i.c.t.i.m+free1@gmail.com"), "victim@gmail.com");
        assert_eq!(mailbox("victim+2@googlemail.com"), "victim@gmail.com");
        assert_eq!(mailbox("first.last+x@example.com"), "first.last@example.com");
        assert_ne!(mailbox("a.b@example.com"), mailbox("ab@example.com"));
        // A local part that is only a tag stays as it is.
        assert_eq!(mailbox("+x@example.com"), "+x@example.com");
    }
}
