//! Every D1 query, one named function each. No SQL lives anywhere else.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::error::{ApiError, ApiResult};
use crate::limits::plan::BuiltinPlan::{Free, Payg};
use crate::payments::{PaymentKind, PaymentStatus};
use crate::uploads::sniff::FileKind;

pub struct Db(D1Database);

/// A statement that only reads (safe to send twice). D1 fails a read now and then for reasons
/// of its own — an instance moving, a dropped connection — and a second try usually works. A
/// write that failed that way may have landed, so it is not sent again here (the settle batch has
/// its own, idempotent retries).
fn is_read(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|verb| verb.eq_ignore_ascii_case("select"))
}

/// SQLite answered busy: another connection held the lock, so the statement (or the batch's
/// transaction) never ran and any statement may be sent again. Locally that connection is a
/// `wrangler d1 execute` beside `wrangler dev`; the pauses add up to 0.75 s.
fn is_busy(error: &ApiError) -> bool {
    error
        .internal
        .as_deref()
        .is_some_and(|what| what.contains("SQLITE_BUSY") || what.contains("database is locked"))
}

const BUSY_PAUSES_MS: [u64; 4] = [50, 100, 200, 400];
const READ_RETRY_PAUSE_MS: u64 = 100;

async fn pause(millis: u64) {
    #[cfg(target_arch = "wasm32")]
    worker::Delay::from(std::time::Duration::from_millis(millis)).await;
    #[cfg(not(target_arch = "wasm32"))]
    let _ = millis;
}

/// Runs `attempt` until it succeeds or may not be tried again: while SQLite is busy, and once
/// more for any other failure of a read.
async fn with_retries<T, F, Fut>(read: bool, attempt: F) -> ApiResult<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ApiResult<T>>,
{
    let mut busy_pauses = BUSY_PAUSES_MS.iter();
    let mut read_retry_left = read;
    loop {
        match attempt().await {
            Err(error) if is_busy(&error) => match busy_pauses.next() {
                Some(&millis) => pause(millis).await,
                None => return Err(error),
            },
            Err(_) if read_retry_left => {
                read_retry_left = false;
                pause(READ_RETRY_PAUSE_MS).await;
            }
            done => return done,
        }
    }
}

/// A bound id, time or count. D1 takes numbers as JS doubles (it refuses BigInt), exact up to
/// 2^53: money goes through `nanos` instead.
pub fn int(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// A bound amount of money, exact over the whole i64 range: D1 refuses BigInt and a double
/// rounds past 2^53 nano-USD (about $9M), so the amount travels as its decimal string. Use it as
/// `CAST(?n AS INTEGER)`: a text parameter compares as text where SQL applies no affinity.
pub fn nanos(value: i64) -> JsValue {
    JsValue::from_str(&value.to_string())
}

/// Reads money exactly: queries select it as `CAST(col AS TEXT)` (D1 hands integers back as
/// doubles, which round past 2^53); a plain number still reads when it is a safe integer.
mod exact {
    use serde::de::{Deserializer, Error, Visitor};

    struct Exact;

    impl Visitor<'_> for Exact {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer, or an integer as a decimal string")
        }

        fn visit_str<E: Error>(self, text: &str) -> Result<i64, E> {
            text.parse()
                .map_err(|_| E::custom(format!("`{text}` is not an integer")))
        }

        fn visit_i64<E: Error>(self, n: i64) -> Result<i64, E> {
            Ok(n)
        }

        fn visit_u64<E: Error>(self, n: u64) -> Result<i64, E> {
            i64::try_from(n).map_err(E::custom)
        }

        fn visit_f64<E: Error>(self, n: f64) -> Result<i64, E> {
            const SAFE: f64 = 9_007_199_254_740_991.0;
            if n.fract() == 0.0 && n.abs() <= SAFE {
                Ok(n as i64)
            } else {
                Err(E::custom(format!("{n} is not an exact integer")))
            }
        }
    }

    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(Exact)
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(deserialize_with = "super::i64")]
            n: i64,
        }

        fn read(json: &str) -> Result<i64, serde_json::Error> {
            serde_json::from_slice::<Row>(json.as_bytes()).map(|r| r.n)
        }

        #[test]
        fn money_reads_exactly_from_text_and_safe_numbers_only() {
            assert_eq!(
                read(r#"{"n":"10000000000000000"}"#).unwrap(),
                10_000_000_000_000_000
            );
            assert_eq!(read(r#"{"n":"-9223372036854775808"}"#).unwrap(), i64::MIN);
            assert_eq!(read(r#"{"n":42}"#).unwrap(), 42);
            assert_eq!(read(r#"{"n":42.0}"#).unwrap(), 42);
            assert!(
                read(r#"{"n":1e16}"#).is_err(),
                "a double past 2^53 may be rounded"
            );
            assert!(read(r#"{"n":"1.5"}"#).is_err());
        }
    }
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
    #[serde(deserialize_with = "exact::i64")]
    pub balance_nanos: i64,
    pub token_version: i64,
    pub plan_expires_at: Option<i64>,
    pub limits_override: Option<String>,
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
    /// The plan's price group: every charge times this, in parts per million.
    #[serde(default = "unit_multiplier")]
    pub price_multiplier_ppm: i64,
}

/// The multiplier of a plan without a price group: 1×.
pub const UNIT_MULTIPLIER_PPM: i64 = 1_000_000;

fn unit_multiplier() -> i64 {
    UNIT_MULTIPLIER_PPM
}

/// A plan as the console lists it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct PlanListing {
    pub id: String,
    pub name: String,
    pub daily_lite_requests: i64,
    pub rpm: i64,
    pub tpm: i64,
    pub concurrent_requests: i64,
    pub max_output_tokens: i64,
    pub monthly_price_rub: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub models: Option<String>,
    /// JSON array of extra scopes; `None`: the default of the key's kind.
    pub scopes: Option<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The key's budget in nano-USD (as text) and its period, when it has one.
    #[serde(default)]
    pub budget_nanos: Option<String>,
    #[serde(default)]
    pub budget_period: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LedgerRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    #[serde(deserialize_with = "exact::i64")]
    pub amount_nanos: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub balance_after_nanos: i64,
    pub reference: String,
    pub created_at: i64,
}

/// One group of a user's usage (a day, a model or a key): counts and what was charged.
#[derive(Debug, Clone, Deserialize)]
pub struct UsageGroupRow {
    /// The day number (local days since 1970-01-01), the model id or the key id (None: a session).
    pub group_key: Option<serde_json::Value>,
    /// The key's name, for groups by key whose key still exists.
    #[serde(default)]
    pub key_name: Option<String>,
    pub requests: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub charged_nanos: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentRow {
    pub id: String,
    pub user_id: i64,
    pub kind: PaymentKind,
    pub plan: Option<String>,
    pub amount_kopecks: i64,
    pub usd_rub_rate: String,
    pub status: PaymentStatus,
    pub created_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileRow {
    pub id: String,
    pub user_id: i64,
    pub r2_key: String,
    pub name: String,
    pub file_type: FileKind,
    pub mime_type: String,
    pub size: i64,
    pub sha256: String,
    pub pages: Option<i64>,
    pub warning: Option<String>,
    pub created_at: i64,
}

/// A file row with its insertion order, the cursor of a page.
#[derive(Debug, Clone, Deserialize)]
pub struct FileListRow {
    pub seq: i64,
    #[serde(flatten)]
    pub file: FileRow,
}

/// Everything a settlement writes.
#[derive(Debug, Clone)]
pub struct Settlement<'a> {
    pub request_id: &'a str,
    pub user_id: i64,
    pub api_key_id: Option<&'a str>,
    pub model: &'a str,
    pub provider: &'a str,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub tokens_cached: i64,
    pub tokens_cache_write: i64,
    pub tokens_reasoning: i64,
    pub estimated: bool,
    /// What the formula says.
    pub cost: i64,
    /// What to take: the cost rounded up to the micro-dollar (the balance may cap it).
    pub to_charge: i64,
    pub billing_mode: &'a str,
    pub status: &'a str,
    pub latency_ms: i64,
    pub detail: &'a str,
    pub has_hold: bool,
    pub now: i64,
    /// The route that served (`provider/upstream_id`), when the request reached one.
    pub route: Option<&'a str>,
    /// The price group's multiplier the request was priced at, when known.
    pub price_multiplier_ppm: Option<i64>,
}

/// What a settlement left: the balance after it, and what was taken.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Settled {
    #[serde(deserialize_with = "exact::i64")]
    pub balance: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub charged: i64,
}

/// A hold about to be placed, with what the sweeper needs if its request never settles.
#[derive(Debug, Clone)]
pub struct NewHold<'a> {
    pub request_id: &'a str,
    pub user_id: i64,
    pub amount: i64,
    /// What the prompt alone costs: charged if the request is abandoned (the upstream was
    /// called and bills its input).
    pub prompt_cost: i64,
    pub prompt_tokens: i64,
    pub model: &'a str,
    pub provider: &'a str,
    pub api_key_id: Option<&'a str>,
    pub now: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct HoldPlaced {
    pub placed: bool,
    /// The balance minus the user's other open holds, before this one.
    pub available_before: i64,
}

/// Whose usage a summary covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageFilter {
    User(i64),
    Everyone,
}

/// What a usage summary is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    Day,
    Model,
    Key,
    User,
}

impl UsageGroup {
    /// The name of the group's column in answers (`day`, `model`, `key_id`, `user_id`).
    pub fn name(self) -> &'static str {
        match self {
            UsageGroup::Day => "day",
            UsageGroup::Model => "model",
            UsageGroup::Key => "key_id",
            UsageGroup::User => "user_id",
        }
    }
}

/// One group of a usage summary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UsageRow {
    pub key: Option<String>,
    pub requests: i64,
    pub input_tokens: i64,
    pub cached_tokens: i64,
    pub output_tokens: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub charged_nanos: i64,
}

/// An operator's edit of a catalog model (`catalog::live::Edit` as JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEditRow {
    pub model_id: String,
    pub edit: String,
    pub updated_at: i64,
}

#[derive(Debug, Deserialize)]
struct VersionRow {
    version: i64,
}

/// A batch of redemption codes about to be stored.
#[derive(Debug, Clone)]
pub struct NewCodeBatch<'a> {
    pub id: &'a str,
    pub amount: i64,
    pub uses_per_code: i64,
    pub expires_at: Option<i64>,
    pub note: Option<&'a str>,
    pub now: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CodeBatchRow {
    pub id: String,
    #[serde(deserialize_with = "exact::i64")]
    pub amount_nanos: i64,
    pub codes: i64,
    pub uses_per_code: i64,
    pub expires_at: Option<i64>,
    pub note: Option<String>,
    pub created_at: i64,
    pub redeemed: i64,
}

/// What a code is to a user who could not redeem it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    Unknown,
    Expired,
    UsedUp,
    AlreadyRedeemed,
    Redeemable,
}

/// The balance minus open holds, read exactly.
#[derive(Deserialize)]
struct AvailableRow {
    #[serde(deserialize_with = "exact::i64")]
    available: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StaleHold {
    pub request_id: String,
    pub user_id: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub amount_nanos: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub prompt_cost_nanos: i64,
    pub prompt_tokens: i64,
    pub model: String,
    pub provider: String,
    pub api_key_id: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Credit<'a> {
    pub user_id: i64,
    pub kind: &'a str,
    pub amount: i64,
    pub reference: &'a str,
    pub detail: &'a str,
    pub now: i64,
}

/// A refund YooKassa reported, to be debited.
#[derive(Debug, Clone)]
pub struct Refund<'a> {
    pub id: &'a str,
    pub payment_id: &'a str,
    pub user_id: i64,
    pub amount_kopecks: i64,
    /// The refund in nano-USD at the payment's rate.
    pub amount: i64,
    pub reference: &'a str,
    pub detail: &'a str,
    pub now: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefundRow {
    pub id: String,
    pub user_id: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub amount_nanos: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub debited_nanos: i64,
    #[serde(deserialize_with = "exact::i64")]
    pub shortfall_nanos: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FlagRow {
    pub reason: String,
    pub detail: Option<String>,
    pub created_at: i64,
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
        "id, email, password_hash, plan, CAST(balance_nanos AS TEXT) AS balance_nanos, token_version, plan_expires_at, limits_override, created_at"
    };
}

/// A user with their effective plan row (and, for an API key, the key), read in one query: the
/// whole of authentication is one D1 round trip.
#[derive(Debug, Clone, Deserialize)]
pub struct CallerRow {
    pub id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub plan: String,
    #[serde(deserialize_with = "exact::i64")]
    pub balance_nanos: i64,
    pub token_version: i64,
    pub plan_expires_at: Option<i64>,
    pub limits_override: Option<String>,
    pub created_at: i64,
    pub p_id: String,
    pub p_name: String,
    pub p_daily_lite_requests: i64,
    pub p_rpm: i64,
    pub p_tpm: i64,
    pub p_concurrent_requests: i64,
    pub p_max_output_tokens: i64,
    pub p_system_prompt_allowed: i64,
    #[serde(default = "unit_multiplier")]
    pub p_price_multiplier_ppm: i64,
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub key_models: Option<String>,
    #[serde(default)]
    pub key_expires_at: Option<i64>,
    #[serde(default)]
    pub key_last_used_at: Option<i64>,
    /// JSON array of the key's scopes; `None`: the default of the key's kind.
    #[serde(default)]
    pub key_scopes: Option<String>,
    /// The key's budget (nano-USD, as text) and its period, when it has one; what the current
    /// window spent and holds.
    #[serde(default)]
    pub key_budget_nanos: Option<String>,
    #[serde(default)]
    pub key_budget_period: Option<String>,
    #[serde(default)]
    pub key_budget_used: Option<String>,
    /// How many edits the live catalog has had (`catalog::live`).
    #[serde(default)]
    pub catalog_version: i64,
}

impl CallerRow {
    pub fn split(self) -> (UserRow, PlanRow) {
        let plan = PlanRow {
            id: self.p_id,
            name: self.p_name,
            daily_lite_requests: self.p_daily_lite_requests,
            rpm: self.p_rpm,
            tpm: self.p_tpm,
            concurrent_requests: self.p_concurrent_requests,
            max_output_tokens: self.p_max_output_tokens,
            system_prompt_allowed: self.p_system_prompt_allowed,
            price_multiplier_ppm: self.p_price_multiplier_ppm,
        };
        let user = UserRow {
            id: self.id,
            email: self.email,
            password_hash: self.password_hash,
            plan: self.plan,
            balance_nanos: self.balance_nanos,
            token_version: self.token_version,
            plan_expires_at: self.plan_expires_at,
            limits_override: self.limits_override,
            created_at: self.created_at,
        };
        (user, plan)
    }
}

/// The caller's columns: the user's, then the plan in force (a lapsed month falls back to
/// `payg` with money on the balance, else `free`: `BuiltinPlan::after_lapse`, the same rule; a
/// test holds the two spellings together).
macro_rules! caller_columns {
    () => {
        "u.id, u.email, u.password_hash, u.plan, CAST(u.balance_nanos AS TEXT) AS balance_nanos, u.token_version, u.plan_expires_at, u.limits_override, u.created_at,
         p.id AS p_id, p.name AS p_name, p.daily_lite_requests AS p_daily_lite_requests, p.rpm AS p_rpm, p.tpm AS p_tpm,
         p.concurrent_requests AS p_concurrent_requests, p.max_output_tokens AS p_max_output_tokens, p.system_prompt_allowed AS p_system_prompt_allowed,
         COALESCE(pp.multiplier_ppm, 1000000) AS p_price_multiplier_ppm,
         COALESCE((SELECT version FROM catalog_state WHERE id = 1), 0) AS catalog_version"
    };
}

macro_rules! plan_in_force_join {
    () => {
        " JOIN plans p ON p.id = CASE WHEN u.plan_expires_at IS NOT NULL AND u.plan_expires_at <= ?2
                                     THEN CASE WHEN u.balance_nanos > 0 THEN 'payg' ELSE 'free' END
                                     ELSE u.plan END
         LEFT JOIN plan_prices pp ON pp.plan_id = p.id"
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
        with_retries(is_read(sql), || async {
            self.statement(sql, args)?
                .first::<T>(None)
                .await
                .map_err(db_error("query"))
        })
        .await
    }

    async fn all<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> ApiResult<Vec<T>> {
        let result = with_retries(is_read(sql), || async {
            let result = self
                .statement(sql, args)?
                .all()
                .await
                .map_err(db_error("query"))?;
            if let Some(error) = result.error() {
                return Err(ApiError::internal(format!("D1 query: {error}")));
            }
            Ok(result)
        })
        .await?;
        result.results::<T>().map_err(db_error("rows"))
    }

    /// Runs a write, returning how many rows it changed.
    async fn execute(&self, sql: &str, args: &[JsValue]) -> ApiResult<usize> {
        let result = with_retries(false, || async {
            self.statement(sql, args)?.run().await.map_err(db_error("write"))
        })
        .await?;
        Ok(result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
    }

    // ---- callers (authentication in one round trip)

    pub async fn caller_by_user_id(&self, user_id: i64, now: i64) -> ApiResult<Option<CallerRow>> {
        self.first(
            concat!(
                "SELECT ",
                caller_columns!(),
                " FROM users u",
                plan_in_force_join!(),
                " WHERE u.id = ?1"
            ),
            &[int(user_id), int(now)],
        )
        .await
    }

    /// The caller of an API key: user, plan in force, the key, its scopes and its budget with
    /// what the budget's window (`day_start` or `month_start` on) spent and holds — one query.
    pub async fn caller_by_key_hash(
        &self,
        key_hash: &str,
        now: i64,
        day_start: i64,
        month_start: i64,
    ) -> ApiResult<Option<CallerRow>> {
        self.first(
            concat!(
                "SELECT ",
                caller_columns!(),
                ", k.id AS key_id, k.models AS key_models, k.expires_at AS key_expires_at, k.last_used_at AS key_last_used_at, s.scopes AS key_scopes,
                 CAST(b.budget_nanos AS TEXT) AS key_budget_nanos, b.period AS key_budget_period,
                 CASE WHEN b.key_id IS NULL THEN NULL ELSE CAST(
                     (SELECT COALESCE(SUM(e.charged_nanos), 0) FROM usage_events e
                      WHERE e.api_key_id = k.id AND e.created_at >= CASE b.period WHEN 'day' THEN ?3 ELSE ?4 END)
                   + (SELECT COALESCE(SUM(h.amount_nanos), 0) FROM holds h WHERE h.api_key_id = k.id AND h.status = 'open')
                   AS TEXT) END AS key_budget_used
                 FROM api_keys k JOIN users u ON u.id = k.user_id LEFT JOIN api_key_scopes s ON s.key_id = k.id
                 LEFT JOIN api_key_budgets b ON b.key_id = k.id",
                plan_in_force_join!(),
                " WHERE k.key_hash = ?1"
            ),
            &[text(key_hash), int(now), int(day_start), int(month_start)],
        )
        .await
    }

    // ---- the live catalog (`catalog::live`)

    /// The catalog's version and every stored edit, oldest first: one batch.
    pub async fn catalog_edits(&self) -> ApiResult<(i64, Vec<CatalogEditRow>)> {
        let version = self.statement(
            "SELECT COALESCE((SELECT version FROM catalog_state WHERE id = 1), 0) AS version",
            &[],
        )?;
        let edits = self.statement(
            "SELECT model_id, edit, updated_at FROM model_overrides ORDER BY created_at, model_id",
            &[],
        )?;
        let mut results = self.batch_results(vec![version, edits]).await?.into_iter();
        let version = results
            .next()
            .and_then(|r| r.results::<VersionRow>().ok())
            .and_then(|rows| rows.into_iter().next())
            .map_or(0, |row| row.version);
        let edits = match results.next() {
            Some(result) => result.results::<CatalogEditRow>().map_err(db_error("rows"))?,
            None => Vec::new(),
        };
        Ok((version, edits))
    }

    /// One model's stored edit.
    pub async fn catalog_edit(&self, model_id: &str) -> ApiResult<Option<CatalogEditRow>> {
        self.first(
            "SELECT model_id, edit, updated_at FROM model_overrides WHERE model_id = ?1",
            &[text(model_id)],
        )
        .await
    }

    /// Stores (or, with `None`, drops) a model's edit and counts a new catalog version, in one
    /// batch; every isolate reloads at the version its next caller's authentication reads.
    pub async fn put_catalog_edit(&self, model_id: &str, edit: Option<&str>, now: i64) -> ApiResult<()> {
        let change = match edit {
            Some(edit) => self.statement(
                "INSERT INTO model_overrides (model_id, edit, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (model_id) DO UPDATE SET edit = excluded.edit, updated_at = excluded.updated_at",
                &[text(model_id), text(edit), int(now)],
            )?,
            None => self.statement(
                "DELETE FROM model_overrides WHERE model_id = ?1",
                &[text(model_id)],
            )?,
        };
        let bump = self.statement(
            "INSERT INTO catalog_state (id, version) VALUES (1, 1)
             ON CONFLICT (id) DO UPDATE SET version = version + 1",
            &[],
        )?;
        self.batch(vec![change, bump]).await.map(|_| ())
    }

    // ---- plans

    pub async fn plan(&self, id: &str) -> ApiResult<Option<PlanRow>> {
        self.first(
            "SELECT id, name, daily_lite_requests, rpm, tpm, concurrent_requests, max_output_tokens, system_prompt_allowed,
                    COALESCE((SELECT multiplier_ppm FROM plan_prices WHERE plan_id = plans.id), 1000000) AS price_multiplier_ppm
             FROM plans WHERE id = ?1",
            &[text(id)],
        )
        .await
    }

    /// The monthly price in RUB of a plan sold by the month.
    /// Every plan with its limits and monthly price (NULL: not sold), cheapest first.
    pub async fn plans(&self) -> ApiResult<Vec<PlanListing>> {
        self.all(
            "SELECT id, name, daily_lite_requests, rpm, tpm, concurrent_requests, max_output_tokens, monthly_price_rub
             FROM plans ORDER BY COALESCE(monthly_price_rub, 0), daily_lite_requests, id",
            &[],
        )
        .await
    }

    pub async fn plan_price_rub(&self, id: &str) -> ApiResult<Option<i64>> {
        let price: Option<Option<i64>> = self
            .statement("SELECT monthly_price_rub FROM plans WHERE id = ?1", &[text(id)])?
            .first(Some("monthly_price_rub"))
            .await
            .map_err(db_error("query"))?;
        Ok(price.flatten())
    }

    /// Sets a plan's price group (`UNIT_MULTIPLIER_PPM` removes it).
    pub async fn set_price_multiplier(&self, plan_id: &str, ppm: i64) -> ApiResult<()> {
        if ppm == UNIT_MULTIPLIER_PPM {
            self.execute("DELETE FROM plan_prices WHERE plan_id = ?1", &[text(plan_id)])
                .await
                .map(|_| ())
        } else {
            self.execute(
                "INSERT INTO plan_prices (plan_id, multiplier_ppm) VALUES (?1, ?2)
                 ON CONFLICT (plan_id) DO UPDATE SET multiplier_ppm = excluded.multiplier_ppm",
                &[text(plan_id), int(ppm)],
            )
            .await
            .map(|_| ())
        }
    }

    // ---- users

    /// Creates a user unless the email or its mailbox (`canonical`) is taken (then `None`). One
    /// batch: two concurrent registrations of one mailbox make one account. `verified_at`: when
    /// the owner proved the address (`None` for a plain password registration).
    pub async fn insert_user(
        &self,
        email: &str,
        canonical: &str,
        password_hash: Option<&str>,
        verified_at: Option<i64>,
        now: i64,
    ) -> ApiResult<Option<UserRow>> {
        let user = self.statement(
            concat!(
                "INSERT OR IGNORE INTO users (email, password_hash, created_at)
                 SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM mailboxes WHERE canonical = ?4) RETURNING ",
                user_columns!()
            ),
            &[text(email), opt_text(password_hash), int(now), text(canonical)],
        )?;
        let mailbox = self.statement(
            "INSERT INTO mailboxes (canonical, user_id, verified_at) SELECT ?2, id, ?3 FROM users WHERE email = ?1 AND changes() = 1",
            &[text(email), text(canonical), opt_int(verified_at)],
        )?;
        let results = self.batch_results(vec![user, mailbox]).await?;
        let created = match results.first() {
            Some(result) => result.results::<UserRow>().map_err(db_error("rows"))?,
            None => Vec::new(),
        };
        Ok(created.into_iter().next())
    }

    /// The account that owns a mailbox, whatever alias it signed up with.
    pub async fn user_by_mailbox(&self, canonical: &str) -> ApiResult<Option<UserRow>> {
        self.first(
            concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = (SELECT user_id FROM mailboxes WHERE canonical = ?1)"
            ),
            &[text(canonical)],
        )
        .await
    }

    /// Whether the owner of this account proved its address.
    pub async fn email_verified(&self, user_id: i64) -> ApiResult<bool> {
        let verified: Option<Option<i64>> = self
            .statement(
                "SELECT verified_at FROM mailboxes WHERE user_id = ?1",
                &[int(user_id)],
            )?
            .first(Some("verified_at"))
            .await
            .map_err(db_error("query"))?;
        Ok(verified.flatten().is_some())
    }

    /// The proven owner of an address takes over an unverified account with it: the password
    /// someone else may have set is replaced (`None`: removed), every token and API key issued
    /// before is revoked, and the address is marked verified. One batch.
    pub async fn claim_account(
        &self,
        user_id: i64,
        canonical: &str,
        password_hash: Option<&str>,
        now: i64,
    ) -> ApiResult<()> {
        let user = self.statement(
            "UPDATE users SET password_hash = ?2, token_version = token_version + 1 WHERE id = ?1",
            &[int(user_id), opt_text(password_hash)],
        )?;
        let keys = self.statement("DELETE FROM api_keys WHERE user_id = ?1", &[int(user_id)])?;
        let verified = self.statement(
            "UPDATE mailboxes SET verified_at = ?2 WHERE user_id = ?1",
            &[int(user_id), int(now)],
        )?;
        let missing = self.statement(
            "INSERT OR IGNORE INTO mailboxes (canonical, user_id, verified_at) VALUES (?2, ?1, ?3)",
            &[int(user_id), text(canonical), int(now)],
        )?;
        self.batch(vec![user, keys, verified, missing]).await.map(|_| ())
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

    /// A password change: the new hash, every earlier token revoked (the version bumped) and
    /// every API key deleted, in one batch. Returns the new token version.
    pub async fn change_password(&self, user_id: i64, hash: &str) -> ApiResult<i64> {
        let update = self.statement(
            "UPDATE users SET password_hash = ?2, token_version = token_version + 1 WHERE id = ?1 RETURNING token_version",
            &[int(user_id), text(hash)],
        )?;
        let keys = self.statement("DELETE FROM api_keys WHERE user_id = ?1", &[int(user_id)])?;
        let results = self.batch_results(vec![update, keys]).await?;
        #[derive(Deserialize)]
        struct Version {
            token_version: i64,
        }
        results
            .first()
            .map(|r| r.results::<Version>())
            .transpose()
            .map_err(db_error("rows"))?
            .and_then(|rows| rows.into_iter().next())
            .map(|v| v.token_version)
            .ok_or_else(|| ApiError::internal("change_password: user vanished"))
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

    /// Sets the plan (and, for enterprise, the per-user limits; `None` clears them).
    pub async fn set_plan(
        &self,
        user_id: i64,
        plan: &str,
        expires_at: Option<i64>,
        overrides: Option<&str>,
    ) -> ApiResult<()> {
        self.execute(
            "UPDATE users SET plan = ?2, plan_expires_at = ?3, limits_override = ?4 WHERE id = ?1",
            &[int(user_id), text(plan), opt_int(expires_at), opt_text(overrides)],
        )
        .await
        .map(|_| ())
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
        scopes: &str,
        expires_at: Option<i64>,
        budget: Option<(i64, &str)>,
        now: i64,
    ) -> ApiResult<()> {
        let key = self.statement(
            "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, models, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[text(id), int(user_id), text(name), text(key_hash), text(prefix), opt_text(models), opt_int(expires_at), int(now)],
        )?;
        let scopes = self.statement(
            "INSERT INTO api_key_scopes (key_id, scopes) VALUES (?1, ?2)",
            &[text(id), text(scopes)],
        )?;
        let mut statements = vec![key, scopes];
        if let Some((budget_nanos, period)) = budget {
            statements.push(self.statement(
                "INSERT INTO api_key_budgets (key_id, budget_nanos, period) VALUES (?1, CAST(?2 AS INTEGER), ?3)",
                &[text(id), nanos(budget_nanos), text(period)],
            )?);
        }
        self.batch(statements).await.map(|_| ())
    }

    pub async fn api_keys_of(&self, user_id: i64) -> ApiResult<Vec<ApiKeyRow>> {
        self.all(
            "SELECT k.id, k.user_id, k.name, k.prefix, k.models, s.scopes, k.expires_at, k.created_at, k.last_used_at,
                    CAST(b.budget_nanos AS TEXT) AS budget_nanos, b.period AS budget_period
             FROM api_keys k LEFT JOIN api_key_scopes s ON s.key_id = k.id LEFT JOIN api_key_budgets b ON b.key_id = k.id WHERE k.user_id = ?1 ORDER BY k.created_at DESC, k.id",
            &[int(user_id)],
        )
        .await
    }

    pub async fn api_key_by_hash(&self, key_hash: &str) -> ApiResult<Option<ApiKeyRow>> {
        self.first(
            "SELECT k.id, k.user_id, k.name, k.prefix, k.models, s.scopes, k.expires_at, k.created_at, k.last_used_at,
                    CAST(b.budget_nanos AS TEXT) AS budget_nanos, b.period AS budget_period
             FROM api_keys k LEFT JOIN api_key_scopes s ON s.key_id = k.id LEFT JOIN api_key_budgets b ON b.key_id = k.id WHERE k.key_hash = ?1",
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
            // D1 counts the key's scopes row, deleted with it, too.
            >= 1)
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

    /// Stores a freshly sent code. A resend replaces the code and its expiry but keeps the wrong
    /// attempts counted so far: only a code whose life ended starts again from zero.
    pub async fn put_email_code(
        &self,
        email: &str,
        code_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> ApiResult<()> {
        self.execute(
            "INSERT INTO email_codes (email, code_hash, attempts, sent_at, expires_at) VALUES (?1, ?2, 0, ?3, ?4)
             ON CONFLICT (email) DO UPDATE SET code_hash = excluded.code_hash,
               attempts = CASE WHEN email_codes.expires_at <= excluded.sent_at THEN 0 ELSE email_codes.attempts END,
               sent_at = excluded.sent_at, expires_at = excluded.expires_at",
            &[text(email), text(code_hash), int(now), int(expires_at)],
        )
        .await
        .map(|_| ())
    }

    /// Spends one of a live code's `max_attempts` before the guess is compared, in one
    /// statement: parallel guesses can never together get more. `None` when no live code has an
    /// attempt left.
    pub async fn take_code_attempt(
        &self,
        email: &str,
        max_attempts: i64,
        now: i64,
    ) -> ApiResult<Option<EmailCodeRow>> {
        self.first(
            "UPDATE email_codes SET attempts = attempts + 1 WHERE email = ?1 AND attempts < ?2 AND expires_at > ?3
             RETURNING code_hash, attempts, sent_at, expires_at",
            &[text(email), int(max_attempts), int(now)],
        )
        .await
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

    // ---- money: holds, settlement, credits

    /// Reserves `hold.amount` for a request if the user's available balance (balance minus open
    /// holds) covers it, and reads the available balance after, in one round trip. The insert
    /// is one conditional statement: concurrent holds can never together exceed the balance.
    pub async fn place_hold(&self, hold: &NewHold<'_>) -> ApiResult<HoldPlaced> {
        let insert = self.statement(
            "INSERT INTO holds (request_id, user_id, amount_nanos, prompt_cost_nanos, prompt_tokens, model, provider, api_key_id, created_at, renewed_at)
             SELECT ?1, ?2, CAST(?3 AS INTEGER), CAST(?4 AS INTEGER), ?5, ?6, ?7, ?8, ?9, ?9
             WHERE (SELECT balance_nanos FROM users WHERE id = ?2)
                 - (SELECT COALESCE(SUM(amount_nanos), 0) FROM holds WHERE user_id = ?2 AND status = 'open') >= CAST(?3 AS INTEGER)",
            &[
                text(hold.request_id),
                int(hold.user_id),
                nanos(hold.amount),
                nanos(hold.prompt_cost),
                int(hold.prompt_tokens),
                text(hold.model),
                text(hold.provider),
                opt_text(hold.api_key_id),
                int(hold.now),
            ],
        )?;
        let available = self.statement(
            "SELECT CAST(balance_nanos - (SELECT COALESCE(SUM(amount_nanos), 0) FROM holds WHERE user_id = ?1 AND status = 'open') AS TEXT) AS available FROM users WHERE id = ?1",
            &[int(hold.user_id)],
        )?;
        let results = self
            .0
            .batch(vec![insert, available])
            .await
            .map_err(db_error("batch"))?;
        if let Some(error) = results.iter().find_map(|r| r.error()) {
            return Err(ApiError::internal(format!("D1 batch: {error}")));
        }
        let placed = results
            .first()
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0)
            == 1;
        let after = results
            .get(1)
            .map(|r| r.results::<AvailableRow>())
            .transpose()
            .map_err(db_error("rows"))?
            .and_then(|rows| rows.into_iter().next())
            .map_or(0, |row| row.available);
        Ok(HoldPlaced {
            placed,
            available_before: if placed { after + hold.amount } else { after },
        })
    }

    /// The balance minus open holds.
    pub async fn available_balance(&self, user_id: i64) -> ApiResult<i64> {
        let available: Option<AvailableRow> = self
            .first("SELECT CAST(balance_nanos - (SELECT COALESCE(SUM(amount_nanos), 0) FROM holds WHERE user_id = ?1 AND status = 'open') AS TEXT) AS available FROM users WHERE id = ?1", &[int(user_id)])
            .await?;
        Ok(available.map_or(0, |row| row.available))
    }

    /// Releases an open hold without charging (the request never reached the model).
    pub async fn release_hold(&self, request_id: &str, now: i64) -> ApiResult<bool> {
        Ok(self
            .execute(
                "UPDATE holds SET status = 'released', charged_nanos = 0, closed_at = ?2 WHERE request_id = ?1 AND status = 'open'",
                &[text(request_id), int(now)],
            )
            .await?
            == 1)
    }

    /// A request still streaming says so, so the sweeper leaves its hold alone.
    pub async fn renew_hold(&self, request_id: &str, now: i64) -> ApiResult<()> {
        self.execute(
            "UPDATE holds SET renewed_at = ?2 WHERE request_id = ?1 AND status = 'open'",
            &[text(request_id), int(now)],
        )
        .await
        .map(|_| ())
    }

    /// Settles a request in one atomic batch and returns the balance after it: the charge
    /// (the cost rounded up to the micro-dollar, at most what the balance has beyond the user's
    /// other open holds, so it may exceed this request's hold but never makes anything
    /// negative), the balance change, the hold closed and the usage row with what was taken.
    /// Every statement is conditional on the hold still being open (or, with no hold, on the
    /// usage row being new), so a repeated settlement changes nothing.
    pub async fn settle(&self, settlement: &Settlement<'_>) -> ApiResult<Settled> {
        let s = settlement;
        let mut statements = Vec::with_capacity(5);
        if s.has_hold {
            statements.push(self.statement(
                "INSERT OR IGNORE INTO ledger (user_id, kind, amount_nanos, balance_after_nanos, reference, detail, created_at)
                 SELECT ?1, 'charge', -c.amount, u.balance_nanos - c.amount, ?3, ?4, ?5
                 FROM users u, (SELECT MAX(0, MIN(CAST(?2 AS INTEGER), (SELECT balance_nanos FROM users WHERE id = ?1)
                                    - (SELECT COALESCE(SUM(amount_nanos), 0) FROM holds WHERE user_id = ?1 AND status = 'open' AND request_id != ?3))) AS amount) c
                 WHERE u.id = ?1 AND c.amount > 0 AND EXISTS (SELECT 1 FROM holds WHERE request_id = ?3 AND status = 'open')",
                &[int(s.user_id), nanos(s.to_charge), text(s.request_id), text(s.detail), int(s.now)],
            )?);
            statements.push(self.statement(
                "UPDATE users SET balance_nanos = balance_nanos
                     + COALESCE((SELECT amount_nanos FROM ledger WHERE kind = 'charge' AND reference = ?2), 0)
                 WHERE id = ?1 AND EXISTS (SELECT 1 FROM holds WHERE request_id = ?2 AND status = 'open')",
                &[int(s.user_id), text(s.request_id)],
            )?);
        }
        statements.push(self.statement(
            "INSERT OR IGNORE INTO usage_events (request_id, user_id, api_key_id, model, provider, tokens_in, tokens_out, tokens_cached, tokens_cache_write, tokens_reasoning, estimated, cost_nanos, charged_nanos, billing_mode, status, latency_ms, created_at, route, price_multiplier_ppm)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CAST(?12 AS INTEGER),
                    COALESCE(-(SELECT amount_nanos FROM ledger WHERE kind = 'charge' AND reference = ?1), 0), ?13, ?14, ?15, ?16, ?18, ?19
             WHERE ?17 = 0 OR EXISTS (SELECT 1 FROM holds WHERE request_id = ?1 AND status = 'open')",
            &[
                text(s.request_id),
                int(s.user_id),
                opt_text(s.api_key_id),
                text(s.model),
                text(s.provider),
                int(s.tokens_in),
                int(s.tokens_out),
                int(s.tokens_cached),
                int(s.tokens_cache_write),
                int(s.tokens_reasoning),
                int(i64::from(s.estimated)),
                nanos(s.cost),
                text(s.billing_mode),
                text(s.status),
                int(s.latency_ms),
                int(s.now),
                int(i64::from(s.has_hold)),
                opt_text(s.route),
                opt_int(s.price_multiplier_ppm),
            ],
        )?);
        if s.has_hold {
            statements.push(self.statement(
                "UPDATE holds SET status = 'settled', closed_at = ?2,
                     charged_nanos = COALESCE(-(SELECT amount_nanos FROM ledger WHERE kind = 'charge' AND reference = ?1), 0)
                 WHERE request_id = ?1 AND status = 'open'",
                &[text(s.request_id), int(s.now)],
            )?);
        }
        statements.push(self.statement(
            "SELECT CAST(u.balance_nanos AS TEXT) AS balance, CAST(COALESCE((SELECT charged_nanos FROM usage_events WHERE request_id = ?2), 0) AS TEXT) AS charged
             FROM users u WHERE u.id = ?1",
            &[int(s.user_id), text(s.request_id)],
        )?);
        let results = self.0.batch(statements).await.map_err(db_error("batch"))?;
        if let Some(error) = results.iter().find_map(|r| r.error()) {
            return Err(ApiError::internal(format!("D1 batch: {error}")));
        }
        results
            .last()
            .map(|r| r.results::<Settled>())
            .transpose()
            .map_err(db_error("rows"))?
            .and_then(|rows| rows.into_iter().next())
            .ok_or_else(|| ApiError::internal("settle: the user vanished"))
    }

    /// Open holds not renewed since `older_than`: requests whose worker died.
    pub async fn stale_holds(&self, older_than: i64, limit: i64) -> ApiResult<Vec<StaleHold>> {
        self.all(
            "SELECT request_id, user_id, CAST(amount_nanos AS TEXT) AS amount_nanos, CAST(prompt_cost_nanos AS TEXT) AS prompt_cost_nanos, prompt_tokens, model, provider, api_key_id, created_at FROM holds
             WHERE status = 'open' AND COALESCE(renewed_at, created_at) < ?1 ORDER BY created_at LIMIT ?2",
            &[int(older_than), int(limit)],
        )
        .await
    }

    // ---- uploads

    /// Bytes of uploads the user keeps.
    pub async fn stored_bytes(&self, user_id: i64) -> ApiResult<i64> {
        let bytes: Option<i64> = self
            .statement(
                "SELECT COALESCE(SUM(size), 0) AS bytes FROM files WHERE user_id = ?1",
                &[int(user_id)],
            )?
            .first(Some("bytes"))
            .await
            .map_err(db_error("query"))?;
        Ok(bytes.unwrap_or(0))
    }

    /// Records a file if the user's uploads, with it, stay within `quota` bytes: one conditional
    /// statement, so parallel uploads can't together pass the quota. Returns whether it fit.
    pub async fn insert_file(&self, f: &FileRow, quota: i64) -> ApiResult<bool> {
        let inserted = self.execute(
            "INSERT INTO files (id, user_id, r2_key, name, file_type, mime_type, size, sha256, pages, warning, created_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
             WHERE (SELECT COALESCE(SUM(size), 0) FROM files WHERE user_id = ?2) + ?7 <= ?12",
            &[
                text(&f.id),
                int(f.user_id),
                text(&f.r2_key),
                text(&f.name),
                text(f.file_type.as_str()),
                text(&f.mime_type),
                int(f.size),
                text(&f.sha256),
                opt_int(f.pages),
                opt_text(f.warning.as_deref()),
                int(f.created_at),
                int(quota),
            ],
        )
        .await?;
        Ok(inserted == 1)
    }

    /// A file of this user (another user's is `None`, like a missing one).
    pub async fn file(&self, user_id: i64, id: &str) -> ApiResult<Option<FileRow>> {
        self.first(
            "SELECT id, user_id, r2_key, name, file_type, mime_type, size, sha256, pages, warning, created_at FROM files WHERE id = ?1 AND user_id = ?2",
            &[text(id), int(user_id)],
        )
        .await
    }

    /// The user's files among `ids`, in one query (others' ids are simply not found).
    pub async fn files_by_ids(&self, user_id: i64, ids: &[&str]) -> ApiResult<Vec<FileRow>> {
        let ids = serde_json::to_string(ids).map_err(ApiError::internal)?;
        self.all(
            "SELECT id, user_id, r2_key, name, file_type, mime_type, size, sha256, pages, warning, created_at FROM files
             WHERE user_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
            &[int(user_id), text(&ids)],
        )
        .await
    }

    /// A page of the user's files, newest first, before `cursor` (a `seq`).
    pub async fn files_of(
        &self,
        user_id: i64,
        cursor: Option<i64>,
        limit: i64,
    ) -> ApiResult<Vec<FileListRow>> {
        self.all(
            "SELECT rowid AS seq, id, user_id, r2_key, name, file_type, mime_type, size, sha256, pages, warning, created_at FROM files
             WHERE user_id = ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3",
            &[int(user_id), int(cursor.unwrap_or(i64::MAX)), int(limit)],
        )
        .await
    }

    pub async fn delete_file(&self, user_id: i64, id: &str) -> ApiResult<bool> {
        Ok(self
            .execute(
                "DELETE FROM files WHERE id = ?1 AND user_id = ?2",
                &[text(id), int(user_id)],
            )
            .await?
            == 1)
    }

    // ---- payments and history

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_payment(
        &self,
        id: &str,
        user_id: i64,
        kind: PaymentKind,
        plan: Option<&str>,
        amount_kopecks: i64,
        rate: &str,
        now: i64,
    ) -> ApiResult<()> {
        self.execute(
            "INSERT OR IGNORE INTO payments (id, user_id, kind, plan, amount_kopecks, usd_rub_rate, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[text(id), int(user_id), text(kind.as_str()), opt_text(plan), int(amount_kopecks), text(rate), int(now)],
        )
        .await
        .map(|_| ())
    }

    pub async fn payment(&self, id: &str) -> ApiResult<Option<PaymentRow>> {
        self.first(
            "SELECT id, user_id, kind, plan, amount_kopecks, usd_rub_rate, status, created_at FROM payments WHERE id = ?1",
            &[text(id)],
        )
        .await
    }

    pub async fn set_payment_status(&self, id: &str, status: PaymentStatus, now: i64) -> ApiResult<()> {
        self.execute(
            "UPDATE payments SET status = ?2, completed_at = ?3 WHERE id = ?1 AND status = ?4",
            &[
                text(id),
                text(status.as_str()),
                int(now),
                text(PaymentStatus::Pending.as_str()),
            ],
        )
        .await
        .map(|_| ())
    }

    /// Grants a bought month of `plan` once per reference: a ledger row (no money moves) and the
    /// plan with its end, in one batch. Returns whether this call granted it.
    pub async fn grant_subscription(
        &self,
        user_id: i64,
        plan: &str,
        reference: &str,
        detail: &str,
        now: i64,
    ) -> ApiResult<bool> {
        let month = 30 * 86_400;
        let ledger = self.statement(
            "INSERT OR IGNORE INTO ledger (user_id, kind, amount_nanos, balance_after_nanos, reference, detail, created_at)
             SELECT id, 'subscription', 0, balance_nanos, ?2, ?3, ?4 FROM users WHERE id = ?1",
            &[int(user_id), text(reference), text(detail), int(now)],
        )?;
        // A month more from today, or from the current end when the same plan is still running.
        let plan_update = self.statement(
            "UPDATE users SET
               plan_expires_at = CASE WHEN plan = ?2 AND plan_expires_at > ?3 THEN plan_expires_at + ?4 ELSE ?3 + ?4 END,
               plan = ?2
             WHERE id = ?1 AND changes() = 1",
            &[int(user_id), text(plan), int(now), int(month)],
        )?;
        let changes = self.batch(vec![ledger, plan_update]).await?;
        Ok(changes.first().copied().unwrap_or(0) == 1)
    }

    /// The user's usage since `since` (Unix seconds) per local day (`offset_secs` east of UTC):
    /// the day number (days since 1970-01-01, local), oldest first.
    pub async fn usage_by_day(
        &self,
        user_id: i64,
        since: i64,
        offset_secs: i64,
    ) -> ApiResult<Vec<UsageGroupRow>> {
        self.all(
            "SELECT (created_at + CAST(?3 AS INTEGER)) / 86400 AS group_key, COUNT(*) AS requests, SUM(tokens_in) AS tokens_in,
                    SUM(tokens_out) AS tokens_out, CAST(SUM(charged_nanos) AS TEXT) AS charged_nanos
             FROM usage_events WHERE user_id = ?1 AND created_at >= ?2 GROUP BY group_key ORDER BY group_key",
            &[int(user_id), int(since), int(offset_secs)],
        )
        .await
    }

    /// The user's usage since `since` per model, most charged first.
    pub async fn usage_by_model(&self, user_id: i64, since: i64) -> ApiResult<Vec<UsageGroupRow>> {
        self.all(
            "SELECT model AS group_key, COUNT(*) AS requests, SUM(tokens_in) AS tokens_in,
                    SUM(tokens_out) AS tokens_out, CAST(SUM(charged_nanos) AS TEXT) AS charged_nanos
             FROM usage_events WHERE user_id = ?1 AND created_at >= ?2
             GROUP BY model ORDER BY SUM(charged_nanos) DESC, COUNT(*) DESC, model",
            &[int(user_id), int(since)],
        )
        .await
    }

    /// The user's usage since `since` per API key (NULL: session tokens), with the key's name
    /// while the key exists, most charged first.
    pub async fn usage_by_key(&self, user_id: i64, since: i64) -> ApiResult<Vec<UsageGroupRow>> {
        self.all(
            "SELECT e.api_key_id AS group_key, k.name AS key_name, COUNT(*) AS requests, SUM(e.tokens_in) AS tokens_in,
                    SUM(e.tokens_out) AS tokens_out, CAST(SUM(e.charged_nanos) AS TEXT) AS charged_nanos
             FROM usage_events e LEFT JOIN api_keys k ON k.id = e.api_key_id AND k.user_id = e.user_id
             WHERE e.user_id = ?1 AND e.created_at >= ?2
             GROUP BY e.api_key_id ORDER BY SUM(e.charged_nanos) DESC, COUNT(*) DESC, e.api_key_id",
            &[int(user_id), int(since)],
        )
        .await
    }

    /// A page of the user's ledger, newest first, before `cursor` (a ledger id).
    pub async fn ledger_page(
        &self,
        user_id: i64,
        cursor: Option<i64>,
        limit: i64,
    ) -> ApiResult<Vec<LedgerRow>> {
        self.all(
            "SELECT id, user_id, kind, CAST(amount_nanos AS TEXT) AS amount_nanos, CAST(balance_after_nanos AS TEXT) AS balance_after_nanos, reference, created_at FROM ledger
             WHERE user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
            &[int(user_id), int(cursor.unwrap_or(i64::MAX)), int(limit)],
        )
        .await
    }

    /// Debits a refund YooKassa reported, once per refund id, never below zero: what is taken is
    /// the refund capped at the available balance (the balance minus open holds, so requests in
    /// flight can still settle); what could not be taken is recorded as the shortfall and flags
    /// the account. The refund row, the ledger row (a negative amount), the balance change and
    /// the flag are one batch. Returns the refund's record, and whether it was already there.
    pub async fn record_refund(&self, refund: &Refund<'_>) -> ApiResult<(RefundRow, bool)> {
        let r = refund;
        let record = self.statement(
            "INSERT OR IGNORE INTO refunds (id, payment_id, user_id, amount_kopecks, amount_nanos, debited_nanos, shortfall_nanos, created_at)
             SELECT ?1, ?2, ?3, ?4, CAST(?5 AS INTEGER), debit, CAST(?5 AS INTEGER) - debit, ?6 FROM (
               SELECT MIN(CAST(?5 AS INTEGER), MAX(0, balance_nanos
                 - (SELECT COALESCE(SUM(amount_nanos), 0) FROM holds WHERE user_id = ?3 AND status = 'open'))) AS debit
               FROM users WHERE id = ?3)",
            &[text(r.id), text(r.payment_id), int(r.user_id), int(r.amount_kopecks), nanos(r.amount), int(r.now)],
        )?;
        let ledger = self.statement(
            "INSERT OR IGNORE INTO ledger (user_id, kind, amount_nanos, balance_after_nanos, reference, detail, created_at)
             SELECT u.id, 'refund', -f.debited_nanos, u.balance_nanos - f.debited_nanos, ?2, ?3, ?4
             FROM refunds f JOIN users u ON u.id = f.user_id WHERE f.id = ?1 AND changes() = 1",
            &[text(r.id), text(r.reference), text(r.detail), int(r.now)],
        )?;
        let balance = self.statement(
            "UPDATE users SET balance_nanos = balance_nanos - (SELECT debited_nanos FROM refunds WHERE id = ?1)
             WHERE id = ?2 AND changes() = 1",
            &[text(r.id), int(r.user_id)],
        )?;
        let flag = self.statement(
            "INSERT INTO account_flags (user_id, reason, detail, created_at)
             SELECT user_id, 'refund_shortfall',
                    json_object('refund_id', id, 'payment_id', payment_id, 'shortfall_nanos', CAST(shortfall_nanos AS TEXT)), ?2
             FROM refunds WHERE id = ?1 AND shortfall_nanos > 0 AND changes() = 1",
            &[text(r.id), int(r.now)],
        )?;
        let changes = self.batch(vec![record, ledger, balance, flag]).await?;
        let row = self
            .first::<RefundRow>(
                "SELECT id, user_id, CAST(amount_nanos AS TEXT) AS amount_nanos, CAST(debited_nanos AS TEXT) AS debited_nanos,
                        CAST(shortfall_nanos AS TEXT) AS shortfall_nanos FROM refunds WHERE id = ?1",
                &[text(r.id)],
            )
            .await?
            .ok_or_else(|| ApiError::internal(format!("refund {}: no row for user {}", r.id, r.user_id)))?;
        Ok((row, changes.first().copied().unwrap_or(0) == 0))
    }

    /// Flags an account for the operator.
    pub async fn flag_account(&self, user_id: i64, reason: &str, detail: &str, now: i64) -> ApiResult<()> {
        self.execute(
            "INSERT INTO account_flags (user_id, reason, detail, created_at) VALUES (?1, ?2, ?3, ?4)",
            &[int(user_id), text(reason), text(detail), int(now)],
        )
        .await
        .map(|_| ())
    }

    /// Why an account is flagged, oldest first.
    pub async fn account_flags(&self, user_id: i64) -> ApiResult<Vec<FlagRow>> {
        self.all(
            "SELECT reason, detail, created_at FROM account_flags WHERE user_id = ?1 ORDER BY id",
            &[int(user_id)],
        )
        .await
    }

    /// Ends a bought month now (its payment was refunded): the plan falls back at once.
    pub async fn end_bought_month(&self, user_id: i64, now: i64) -> ApiResult<()> {
        self.execute(
            "UPDATE users SET plan_expires_at = ?2 WHERE id = ?1 AND plan_expires_at > ?2",
            &[int(user_id), int(now)],
        )
        .await
        .map(|_| ())
    }

    /// Runs statements atomically, returning each one's result.
    async fn batch_results(&self, statements: Vec<D1PreparedStatement>) -> ApiResult<Vec<worker::D1Result>> {
        with_retries(false, || async {
            let results = self
                .0
                .batch(statements.clone())
                .await
                .map_err(db_error("batch"))?;
            if let Some(error) = results.iter().find_map(|r| r.error()) {
                return Err(ApiError::internal(format!("D1 batch: {error}")));
            }
            Ok(results)
        })
        .await
    }

    /// Runs statements atomically, returning how many rows each changed.
    async fn batch(&self, statements: Vec<D1PreparedStatement>) -> ApiResult<Vec<usize>> {
        let results = self.batch_results(statements).await?;
        Ok(results
            .iter()
            .map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
            .collect())
    }

    /// Credits a user once per `(kind, reference)`: the ledger row and the balance change in one
    /// batch. Returns the ledger entry, and whether it already existed (a replay).
    pub async fn credit(&self, credit: &Credit<'_>) -> ApiResult<(LedgerRow, bool)> {
        if let Some(existing) = self.ledger_entry(credit.kind, credit.reference).await? {
            return Ok((existing, true));
        }
        let ledger = self.statement(
            "INSERT OR IGNORE INTO ledger (user_id, kind, amount_nanos, balance_after_nanos, reference, detail, created_at)
             SELECT id, ?2, CAST(?3 AS INTEGER), balance_nanos + CAST(?3 AS INTEGER), ?4, ?5, ?6 FROM users
             WHERE id = ?1 AND balance_nanos <= 9223372036854775807 - CAST(?3 AS INTEGER)",
            &[int(credit.user_id), text(credit.kind), nanos(credit.amount), text(credit.reference), text(credit.detail), int(credit.now)],
        )?;
        // Only if this call inserted the row (changes() is the previous statement's count).
        let balance = self.statement(
            "UPDATE users SET balance_nanos = balance_nanos + CAST(?2 AS INTEGER),
                              plan = CASE WHEN plan = ?3 THEN ?4 ELSE plan END
             WHERE id = ?1 AND changes() = 1",
            &[
                int(credit.user_id),
                nanos(credit.amount),
                text(Free.as_str()),
                text(Payg.as_str()),
            ],
        )?;
        let changes = self.batch(vec![ledger, balance]).await?;
        // No row: the balance can't hold that much more (SQLite would turn the sum into a float).
        let entry = self
            .ledger_entry(credit.kind, credit.reference)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    crate::error::ErrorKind::Conflict,
                    "balance_limit",
                    "The balance cannot hold this credit.",
                )
                .with_internal(format!("credit: no ledger row for user {}", credit.user_id))
            })?;
        // Another request may have inserted it between our check and our batch.
        let replayed = changes.first().copied().unwrap_or(0) == 0;
        Ok((entry, replayed))
    }

    // ---- usage analytics

    /// Usage rows summed per group over `[start, end)` (Unix seconds), ordered by the group key.
    pub async fn usage_summary(
        &self,
        filter: UsageFilter,
        group: UsageGroup,
        start: i64,
        end: i64,
    ) -> ApiResult<Vec<UsageRow>> {
        let key = match group {
            UsageGroup::Day => "strftime('%Y-%m-%d', created_at, 'unixepoch')",
            UsageGroup::Model => "model",
            UsageGroup::Key => "api_key_id",
            UsageGroup::User => "CAST(user_id AS TEXT)",
        };
        let user = match filter {
            UsageFilter::User(id) => id,
            UsageFilter::Everyone => -1,
        };
        let sql = format!(
            "SELECT {key} AS key, COUNT(*) AS requests, COALESCE(SUM(tokens_in), 0) AS input_tokens,
                    COALESCE(SUM(tokens_cached), 0) AS cached_tokens, COALESCE(SUM(tokens_out), 0) AS output_tokens,
                    CAST(COALESCE(SUM(charged_nanos), 0) AS TEXT) AS charged_nanos
             FROM usage_events
             WHERE (?1 < 0 OR user_id = ?1) AND created_at >= ?2 AND created_at < ?3
             GROUP BY {key} ORDER BY {key}"
        );
        self.all(&sql, &[int(user), int(start), int(end)]).await
    }

    // ---- redemption codes

    /// Stores a batch and its codes (as hashes) in one batch of statements.
    pub async fn insert_code_batch(&self, batch: &NewCodeBatch<'_>, code_hashes: &[String]) -> ApiResult<()> {
        let mut statements = Vec::with_capacity(code_hashes.len() + 1);
        statements.push(self.statement(
            "INSERT INTO code_batches (id, amount_nanos, codes, uses_per_code, expires_at, note, created_at)
             VALUES (?1, CAST(?2 AS INTEGER), ?3, ?4, ?5, ?6, ?7)",
            &[
                text(batch.id),
                nanos(batch.amount),
                int(i64::try_from(code_hashes.len()).unwrap_or(i64::MAX)),
                int(batch.uses_per_code),
                batch.expires_at.map_or(JsValue::NULL, int),
                opt_text(batch.note),
                int(batch.now),
            ],
        )?);
        for hash in code_hashes {
            statements.push(self.statement(
                "INSERT INTO codes (code_hash, batch_id, uses_left) VALUES (?1, ?2, ?3)",
                &[text(hash), text(batch.id), int(batch.uses_per_code)],
            )?);
        }
        self.batch(statements).await.map(|_| ())
    }

    /// Every batch, newest first, with how much of it was redeemed (never a code).
    pub async fn code_batches(&self) -> ApiResult<Vec<CodeBatchRow>> {
        self.all(
            "SELECT b.id, CAST(b.amount_nanos AS TEXT) AS amount_nanos, b.codes, b.uses_per_code, b.expires_at, b.note, b.created_at,
                    (SELECT COUNT(*) FROM redemptions r JOIN codes c ON c.code_hash = r.code_hash WHERE c.batch_id = b.id) AS redeemed
             FROM code_batches b ORDER BY b.created_at DESC, b.id",
            &[],
        )
        .await
    }

    /// Redeems a code for a user in one atomic batch: a use taken (if one is left, the code has
    /// not expired and this user never redeemed it), the redemption recorded, the ledger row and
    /// the balance — each statement only if the one before changed a row. Returns the ledger
    /// entry when this call redeemed it.
    pub async fn redeem_code(&self, code_hash: &str, user_id: i64, now: i64) -> ApiResult<Option<LedgerRow>> {
        let reference = format!("code:{code_hash}:{user_id}");
        let take = self.statement(
            "UPDATE codes SET uses_left = uses_left - 1
             WHERE code_hash = ?1 AND uses_left > 0
               AND NOT EXISTS (SELECT 1 FROM redemptions WHERE code_hash = ?1 AND user_id = ?2)
               AND EXISTS (SELECT 1 FROM code_batches b WHERE b.id = codes.batch_id AND (b.expires_at IS NULL OR b.expires_at > ?3))",
            &[text(code_hash), int(user_id), int(now)],
        )?;
        let record = self.statement(
            "INSERT INTO redemptions (code_hash, user_id, created_at) SELECT ?1, ?2, ?3 WHERE changes() = 1",
            &[text(code_hash), int(user_id), int(now)],
        )?;
        let ledger = self.statement(
            "INSERT INTO ledger (user_id, kind, amount_nanos, balance_after_nanos, reference, detail, created_at)
             SELECT u.id, 'redeem', b.amount_nanos, u.balance_nanos + b.amount_nanos, ?3, json_object('batch', b.id), ?4
             FROM users u, codes c JOIN code_batches b ON b.id = c.batch_id
             WHERE u.id = ?2 AND c.code_hash = ?1 AND changes() = 1
               AND u.balance_nanos <= 9223372036854775807 - b.amount_nanos",
            &[text(code_hash), int(user_id), text(&reference), int(now)],
        )?;
        let balance = self.statement(
            "UPDATE users SET balance_nanos = balance_nanos + (SELECT amount_nanos FROM ledger WHERE kind = 'redeem' AND reference = ?2),
                              plan = CASE WHEN plan = ?3 THEN ?4 ELSE plan END
             WHERE id = ?1 AND changes() = 1",
            &[int(user_id), text(&reference), text(Free.as_str()), text(Payg.as_str())],
        )?;
        let changes = self.batch(vec![take, record, ledger, balance]).await?;
        if changes.get(2).copied().unwrap_or(0) == 0 {
            return Ok(None);
        }
        self.ledger_entry("redeem", &reference).await
    }

    /// Why a code could not be redeemed by this user.
    pub async fn code_state(&self, code_hash: &str, user_id: i64, now: i64) -> ApiResult<CodeState> {
        #[derive(Deserialize)]
        struct Row {
            uses_left: i64,
            expires_at: Option<i64>,
            mine: i64,
        }
        let row: Option<Row> = self
            .first(
                "SELECT c.uses_left, b.expires_at,
                        EXISTS (SELECT 1 FROM redemptions WHERE code_hash = ?1 AND user_id = ?2) AS mine
                 FROM codes c JOIN code_batches b ON b.id = c.batch_id WHERE c.code_hash = ?1",
                &[text(code_hash), int(user_id)],
            )
            .await?;
        Ok(match row {
            None => CodeState::Unknown,
            Some(row) if row.mine != 0 => CodeState::AlreadyRedeemed,
            Some(row) if row.expires_at.is_some_and(|at| at <= now) => CodeState::Expired,
            Some(row) if row.uses_left <= 0 => CodeState::UsedUp,
            Some(_) => CodeState::Redeemable,
        })
    }

    pub async fn ledger_entry(&self, kind: &str, reference: &str) -> ApiResult<Option<LedgerRow>> {
        self.first(
            "SELECT id, user_id, kind, CAST(amount_nanos AS TEXT) AS amount_nanos, CAST(balance_after_nanos AS TEXT) AS balance_after_nanos, reference, created_at FROM ledger WHERE kind = ?1 AND reference = ?2",
            &[text(kind), text(reference)],
        )
        .await
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

#[cfg(test)]
mod tests {
    use super::{is_read, with_retries, BUSY_PAUSES_MS};
    use crate::error::{ApiError, ApiResult};
    use std::cell::Cell;

    /// Runs a future that never waits (the pauses are no-ops off wasm).
    fn now<T>(future: impl std::future::Future<Output = T>) -> T {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("the future waited"),
        }
    }

    /// How many attempts `with_retries` makes when each fails with `error` before `succeed_at`.
    fn attempts(read: bool, error: &str, succeed_at: usize) -> (usize, bool) {
        let count = Cell::new(0);
        let result: ApiResult<()> = now(with_retries(read, || {
            count.set(count.get() + 1);
            let done = count.get() >= succeed_at;
            async move {
                if done {
                    Ok(())
                } else {
                    Err(ApiError::internal(error))
                }
            }
        }));
        (count.get(), result.is_ok())
    }

    #[test]
    fn a_busy_database_is_waited_for_and_other_failures_of_writes_are_not_repeated() {
        let busy = "D1 write: D1_ERROR: SQLITE_BUSY: database is locked";
        assert_eq!(attempts(false, busy, 3), (3, true));
        assert_eq!(
            attempts(false, busy, usize::MAX),
            (BUSY_PAUSES_MS.len() + 1, false)
        );
        assert_eq!(
            attempts(false, "D1 write: Network connection lost", usize::MAX),
            (1, false)
        );
        assert_eq!(
            attempts(true, "D1 query: Network connection lost", usize::MAX),
            (2, false)
        );
        assert_eq!(attempts(true, "D1 query: Network connection lost", 2), (2, true));
    }

    #[test]
    fn only_selects_are_read_twice() {
        assert!(is_read("SELECT 1"));
        assert!(is_read("\n  select id FROM users"));
        assert!(!is_read(
            "UPDATE users SET token_version = token_version + 1 WHERE id = ?1 RETURNING token_version"
        ));
        assert!(!is_read("INSERT INTO x SELECT 1"));
        assert!(!is_read("sel"));
    }

    #[test]
    fn the_auth_query_falls_back_as_the_plan_rule_does() {
        use crate::limits::plan::BuiltinPlan;
        let fallback = format!(
            "THEN CASE WHEN u.balance_nanos > 0 THEN '{}' ELSE '{}' END",
            BuiltinPlan::after_lapse(1).as_str(),
            BuiltinPlan::after_lapse(0).as_str()
        );
        assert!(plan_in_force_join!().contains(&fallback));
    }
}
