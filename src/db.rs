//! Every D1 query, one named function each. No SQL lives anywhere else.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::error::{ApiError, ApiResult};

pub struct Db(D1Database);

/// A bound parameter.
pub fn int(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

pub fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

pub fn opt_int(value: Option<i64>) -> JsValue {
    value.map_or(JsValue::NULL, int)
}

pub fn opt_text(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, text)
}

fn db_error(what: &'static str) -> impl Fn(worker::Error) -> ApiError {
    move |e| ApiError::internal(format!("D1 {what}: {e}"))
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub plan: String,
    pub balance_nanos: i64,
    pub token_version: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlanRow {
    pub id: String,
    pub name: String,
    pub daily_lite_requests: i64,
    pub rpm: i64,
    pub tpm: i64,
    pub concurrent_requests: i64,
    pub max_output_tokens: i64,
    pub system_prompt_allowed: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub models: Option<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmailCodeRow {
    pub code_hash: String,
    pub attempts: i64,
    pub sent_at: i64,
    pub expires_at: i64,
}

/// The columns of `UserRow`, as a literal so queries stay literal strings.
macro_rules! user_columns {
    () => {
        "id, email, password_hash, plan, balance_nanos, token_version, created_at"
    };
}

impl Db {
    pub fn from_env(env: &Env) -> ApiResult<Db> {
        env.d1("DB").map(Db).map_err(db_error("binding"))
    }

    fn statement(&self, sql: &str, args: &[JsValue]) -> ApiResult<D1PreparedStatement> {
        self.0.prepare(sql).bind(args).map_err(db_error("bind"))
    }

    async fn first<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> ApiResult<Option<T>> {
        self.statement(sql, args)?
            .first::<T>(None)
            .await
            .map_err(db_error("query"))
    }

    async fn all<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> ApiResult<Vec<T>> {
        let result = self
            .statement(sql, args)?
            .all()
            .await
            .map_err(db_error("query"))?;
        if let Some(error) = result.error() {
            return Err(ApiError::internal(format!("D1 query: {error}")));
        }
        result.results::<T>().map_err(db_error("rows"))
    }

    /// Runs a write, returning how many rows it changed.
    async fn execute(&self, sql: &str, args: &[JsValue]) -> ApiResult<usize> {
        let result = self
            .statement(sql, args)?
            .run()
            .await
            .map_err(db_error("write"))?;
        Ok(result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
    }

    // ---- plans

    pub async fn plan(&self, id: &str) -> ApiResult<Option<PlanRow>> {
        self.first(
            "SELECT id, name, daily_lite_requests, rpm, tpm, concurrent_requests, max_output_tokens, system_prompt_allowed FROM plans WHERE id = ?1",
            &[text(id)],
        )
        .await
    }

    // ---- users

    /// Creates a user unless the email is taken (then `None`): one statement, so two concurrent
    /// registrations of one email make one account.
    pub async fn insert_user(
        &self,
        email: &str,
        password_hash: Option<&str>,
        now: i64,
    ) -> ApiResult<Option<UserRow>> {
        self.first(
            concat!(
                "INSERT INTO users (email, password_hash, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (email) DO NOTHING RETURNING ",
                user_columns!()
            ),
            &[text(email), opt_text(password_hash), int(now)],
        )
        .await
    }

    pub async fn user_by_email(&self, email: &str) -> ApiResult<Option<UserRow>> {
        self.first(
            concat!("SELECT ", user_columns!(), " FROM users WHERE email = ?1"),
            &[text(email)],
        )
        .await
    }

    pub async fn user_by_id(&self, id: i64) -> ApiResult<Option<UserRow>> {
        self.first(
            concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?1"),
            &[int(id)],
        )
        .await
    }

    /// Replaces the password hash; with `revoke`, also bumps the token version.
    pub async fn set_password(&self, user_id: i64, hash: &str, revoke: bool) -> ApiResult<i64> {
        let version: Option<i64> = self
            .statement(
                "UPDATE users SET password_hash = ?2, token_version = token_version + ?3 WHERE id = ?1 RETURNING token_version",
                &[int(user_id), text(hash), int(i64::from(revoke))],
            )?
            .first(Some("token_version"))
            .await
            .map_err(db_error("write"))?;
        version.ok_or_else(|| ApiError::internal("set_password: user vanished"))
    }

    pub async fn bump_token_version(&self, user_id: i64) -> ApiResult<i64> {
        let version: Option<i64> = self
            .statement(
                "UPDATE users SET token_version = token_version + 1 WHERE id = ?1 RETURNING token_version",
                &[int(user_id)],
            )?
            .first(Some("token_version"))
            .await
            .map_err(db_error("write"))?;
        version.ok_or_else(|| ApiError::internal("bump_token_version: user vanished"))
    }

    // ---- OAuth identities

    pub async fn user_by_identity(&self, provider: &str, subject: &str) -> ApiResult<Option<UserRow>> {
        self.first(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = (SELECT user_id FROM oauth_identities WHERE provider = ?1 AND subject = ?2)"
            ),
            &[text(provider), text(subject)],
        )
        .await
    }

    pub async fn link_identity(
        &self,
        provider: &str,
        subject: &str,
        user_id: i64,
        email: &str,
        now: i64,
    ) -> ApiResult<()> {
        self.execute(
            "INSERT INTO oauth_identities (provider, subject, user_id, email, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider, subject) DO NOTHING",
            &[text(provider), text(subject), int(user_id), text(email), int(now)],
        )
        .await
        .map(|_| ())
    }

    // ---- API keys

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_api_key(
        &self,
        id: &str,
        user_id: i64,
        name: &str,
        key_hash: &str,
        prefix: &str,
        models: Option<&str>,
        expires_at: Option<i64>,
        now: i64,
    ) -> ApiResult<()> {
        self.execute(
            "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, models, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[text(id), int(user_id), text(name), text(key_hash), text(prefix), opt_text(models), opt_int(expires_at), int(now)],
        )
        .await
        .map(|_| ())
    }

    pub async fn api_keys_of(&self, user_id: i64) -> ApiResult<Vec<ApiKeyRow>> {
        self.all(
            "SELECT id, user_id, name, prefix, models, expires_at, created_at, last_used_at FROM api_keys WHERE user_id = ?1 ORDER BY created_at DESC, id",
            &[int(user_id)],
        )
        .await
    }

    pub async fn api_key_by_hash(&self, key_hash: &str) -> ApiResult<Option<ApiKeyRow>> {
        self.first(
            "SELECT id, user_id, name, prefix, models, expires_at, created_at, last_used_at FROM api_keys WHERE key_hash = ?1",
            &[text(key_hash)],
        )
        .await
    }

    /// Deletes a key of this user; false when there is none (or it is another user's).
    pub async fn delete_api_key(&self, user_id: i64, id: &str) -> ApiResult<bool> {
        Ok(self
            .execute(
                "DELETE FROM api_keys WHERE id = ?1 AND user_id = ?2",
                &[text(id), int(user_id)],
            )
            .await?
            == 1)
    }

    pub async fn touch_api_key(&self, id: &str, now: i64) -> ApiResult<()> {
        self.execute(
            "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
            &[text(id), int(now)],
        )
        .await
        .map(|_| ())
    }

    // ---- email codes and registration tickets

    pub async fn email_code(&self, email: &str) -> ApiResult<Option<EmailCodeRow>> {
        self.first(
            "SELECT code_hash, attempts, sent_at, expires_at FROM email_codes WHERE email = ?1",
            &[text(email)],
        )
        .await
    }

    pub async fn put_email_code(
        &self,
        email: &str,
        code_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> ApiResult<()> {
        self.execute(
            "INSERT INTO email_codes (email, code_hash, attempts, sent_at, expires_at) VALUES (?1, ?2, 0, ?3, ?4)
             ON CONFLICT (email) DO UPDATE SET code_hash = excluded.code_hash, attempts = 0, sent_at = excluded.sent_at, expires_at = excluded.expires_at",
            &[text(email), text(code_hash), int(now), int(expires_at)],
        )
        .await
        .map(|_| ())
    }

    /// Counts a wrong attempt, returning the new count.
    pub async fn count_code_attempt(&self, email: &str) -> ApiResult<i64> {
        let attempts: Option<i64> = self
            .statement(
                "UPDATE email_codes SET attempts = attempts + 1 WHERE email = ?1 RETURNING attempts",
                &[text(email)],
            )?
            .first(Some("attempts"))
            .await
            .map_err(db_error("write"))?;
        Ok(attempts.unwrap_or(i64::MAX))
    }

    pub async fn delete_email_code(&self, email: &str) -> ApiResult<()> {
        self.execute("DELETE FROM email_codes WHERE email = ?1", &[text(email)])
            .await
            .map(|_| ())
    }

    pub async fn insert_ticket(&self, ticket_hash: &str, email: &str, expires_at: i64) -> ApiResult<()> {
        self.execute(
            "INSERT INTO registration_tickets (ticket_hash, email, expires_at) VALUES (?1, ?2, ?3)",
            &[text(ticket_hash), text(email), int(expires_at)],
        )
        .await
        .map(|_| ())
    }

    /// Marks an unused, unexpired ticket used and returns its email; `None` for any other ticket.
    pub async fn consume_ticket(&self, ticket_hash: &str, now: i64) -> ApiResult<Option<String>> {
        self.statement(
            "UPDATE registration_tickets SET used_at = ?2 WHERE ticket_hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING email",
            &[text(ticket_hash), int(now)],
        )?
        .first(Some("email"))
        .await
        .map_err(db_error("write"))
    }

    /// Gives a ticket back when the registration it was consumed for could not complete.
    pub async fn release_ticket(&self, ticket_hash: &str) -> ApiResult<()> {
        self.execute(
            "UPDATE registration_tickets SET used_at = NULL WHERE ticket_hash = ?1",
            &[text(ticket_hash)],
        )
        .await
        .map(|_| ())
    }
}
