//! Typed configuration, read from `[vars]` and secrets and validated once per request.
//!
//! A missing or too short `JWT_SECRET` is never replaced by a default: the routes that need it
//! answer a generic 500 and the log says exactly what to fix. Other values fall back to the
//! documented defaults when unset, and a value that is set but malformed is reported the same way.

use std::collections::HashMap;

use crate::error::{ApiError, ApiResult};

/// `JWT_SECRET` must be at least this many bytes (HS256 wants a key as long as its output).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// `ADMIN_TOKEN` must be at least this long: a bearer that moves money must not be guessable.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    jwt_secret: Result<Vec<u8>, String>,
    /// Malformed values, each with what to fix; any of them makes the gateway refuse to serve.
    pub problems: Vec<String>,
    /// `None`: the operator API is off; `Err`: set but too short (the admin routes answer 500).
    admin_token: Result<Option<String>, String>,
    pub max_json_body_bytes: usize,
    /// Chat bodies carry images as data URLs, so they get a larger cap.
    pub max_chat_body_bytes: usize,
    pub upstream_first_byte_timeout: std::time::Duration,
    pub upstream_idle_timeout: std::time::Duration,
    pub max_tokens_lite: u32,
    pub max_tokens_paid: u32,
    pub password_iterations: u32,
    pub jwt_ttl_secs: i64,
    /// Failed sign-ins per (email, client IP) before that pair is locked (with a growing lock).
    pub login_failures_per_email_ip: u32,
    /// The ceiling of failed sign-ins per email from all addresses together.
    pub login_failures_per_email: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window_secs: u32,
    /// Addresses the per-IP limits don't apply to (`THROTTLE_EXEMPT_IPS`).
    pub throttle_exempt_ips: Vec<std::net::IpAddr>,
    /// Accounts created per client IP per hour.
    pub registrations_per_ip: u32,
    /// `send-code` calls per client IP per hour, and per address per hour.
    pub email_codes_per_ip: u32,
    pub email_codes_per_address: u32,
    /// Wrong email codes per client IP per hour (across addresses).
    pub email_code_failures_per_ip: u32,
    /// Wrong admin tokens per client IP per `LOGIN_FAILURE_WINDOW_SECS`.
    pub admin_failures_per_ip: u32,
    /// Bytes of uploads a user may keep.
    pub upload_quota_bytes: u64,
    /// Uploads per user per hour.
    pub uploads_per_hour: u32,
    /// Uploaded files one chat request may reference.
    pub max_file_parts_per_request: usize,
    pub email_code_ttl_secs: i64,
    /// Seconds east of UTC of the zone whose midnight resets the daily allowance (`TIMEZONE`).
    pub utc_offset_secs: i64,
    /// How long a request may hold a concurrency slot before the lease expires on its own.
    pub lease_secs: i64,
    /// Open holds older than this are released by the scheduled sweeper.
    pub hold_timeout_secs: i64,
    pub email: EmailConfig,
    pub payments: PaymentsConfig,
    pub google_client_id: Option<String>,
    pub google_tokeninfo_url: String,
    pub yandex_client_id: Option<String>,
    pub yandex_client_secret: Option<String>,
    pub yandex_oauth_url: String,
    pub yandex_info_url: String,
    /// `<ID>_API_KEY` / `<ID>_BASE_URL` of every catalog provider, read once here so nothing
    /// else reads the environment.
    pub providers: HashMap<String, ProviderCredentials>,
    /// How long a stream keeps reading the upstream after its client left, so what is
    /// generated meanwhile is billed (`DRAIN_AFTER_DISCONNECT_SECS`).
    pub drain_after_disconnect: std::time::Duration,
    /// The largest prompt (estimated tokens) free use takes (`MAX_PROMPT_TOKENS_LITE`).
    pub max_prompt_tokens_lite: u64,
}

/// A provider's keys and base URL from configuration; `api_keys` is empty when unset.
#[derive(Clone)]
pub struct ProviderCredentials {
    /// `<ID>_API_KEY`, split at commas: a pool the requests spread over (`providers::keys`).
    pub api_keys: Vec<String>,
    pub base_url: Option<String>,
}

impl std::fmt::Debug for ProviderCredentials {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderCredentials")
            .field("api_keys", &self.api_keys.len())
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// YooKassa: the shop's credentials, its API and the rate payments are created at.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    pub shop_id: Option<String>,
    pub secret_key: Option<String>,
    pub api_url: String,
    pub usd_rub_rate: String,
    /// Where YooKassa sends the payer back; the gateway's own origin when unset.
    pub return_url: Option<String>,
}

/// Transactional mail (Resend-compatible). Without an API key, codes are only logged when
/// `EMAIL_LOG_CODES=true` (what `make dev` sets); otherwise sending answers 503.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub api_url: String,
    pub api_key: Option<String>,
    pub from: String,
    pub log_codes: bool,
}

impl Config {
    /// Reads every setting through `lookup` (the Worker's env, or a map in tests).
    pub fn load(lookup: &dyn Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();

        let jwt_secret = match lookup("JWT_SECRET") {
            None => Err("JWT_SECRET is not set. Set it with `wrangler secret put JWT_SECRET` (or in .dev.vars locally) to a random string of at least 32 bytes, e.g. `openssl rand -hex 32`.".to_owned()),
            Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => Err(format!(
                "JWT_SECRET is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES}. Generate one with `openssl rand -hex 32`.",
                secret.len()
            )),
            Some(secret) => Ok(secret.into_bytes()),
        };

        let utc_offset_secs = match get("TIMEZONE") {
            None => 0,
            Some(zone) => crate::time::parse_utc_offset(&zone).unwrap_or_else(|| {
                problems.push(format!(
                    "TIMEZONE is `{zone}`; use `UTC` or a fixed offset such as `+03:00` (zones with daylight saving are not supported)."
                ));
                0
            }),
        };
        let mut number = |name: &str, default: u64, min: u64, max: u64| -> u64 {
            match get(name) {
                None => default,
                Some(text) => match text.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => n,
                    _ => {
                        problems.push(format!(
                            "{name} is `{text}`; it must be a whole number from {min} to {max}."
                        ));
                        default
                    }
                },
            }
        };
        let max_json_body_bytes = number("MAX_JSON_BODY_BYTES", 1024 * 1024, 1024, 32 * 1024 * 1024) as usize;
        let max_chat_body_bytes =
            number("MAX_CHAT_BODY_BYTES", 20 * 1024 * 1024, 1024, 64 * 1024 * 1024) as usize;
        let upstream_first_byte_timeout =
            std::time::Duration::from_secs(number("UPSTREAM_TIMEOUT_SECS", 120, 1, 900));
        let upstream_idle_timeout =
            std::time::Duration::from_secs(number("UPSTREAM_IDLE_TIMEOUT_SECS", 60, 1, 900));
        let max_tokens_lite = number("MAX_TOKENS_LITE", 4096, 1, 1_000_000) as u32;
        let max_tokens_paid = number("MAX_TOKENS_PAID", 8192, 1, 1_000_000) as u32;
        let password_iterations = number(
            "PASSWORD_ITERATIONS",
            u64::from(crate::auth::password::DEFAULT_ITERATIONS),
            u64::from(crate::auth::password::MIN_ITERATIONS),
            u64::from(crate::auth::password::MAX_ITERATIONS),
        ) as u32;
        let jwt_ttl_secs = number("JWT_TTL_SECS", 7 * 24 * 3600, 60, 365 * 24 * 3600) as i64;
        let login_failures_per_email_ip = number("LOGIN_FAILURES_PER_EMAIL_IP", 10, 1, 1_000_000) as u32;
        let login_failures_per_email = number("LOGIN_FAILURES_PER_EMAIL", 50, 1, 1_000_000) as u32;
        let login_failures_per_ip = number("LOGIN_FAILURES_PER_IP", 100, 1, 1_000_000) as u32;
        let login_failure_window_secs = number("LOGIN_FAILURE_WINDOW_SECS", 900, 1, 86_400) as u32;
        let registrations_per_ip = number("REGISTRATIONS_PER_IP", 10, 1, 1_000_000) as u32;
        let email_codes_per_ip = number("EMAIL_CODES_PER_IP", 20, 1, 1_000_000) as u32;
        let email_codes_per_address = number("EMAIL_CODES_PER_ADDRESS", 5, 1, 1_000_000) as u32;
        let email_code_failures_per_ip = number("EMAIL_CODE_FAILURES_PER_IP", 30, 1, 1_000_000) as u32;
        let admin_failures_per_ip = number("ADMIN_FAILURES_PER_IP", 10, 1, 1_000_000) as u32;
        let upload_quota_bytes = number("UPLOAD_QUOTA_BYTES", 100 * 1024 * 1024, 0, 1 << 50);
        let uploads_per_hour = number("UPLOADS_PER_HOUR", 60, 1, 1_000_000) as u32;
        let max_file_parts_per_request = number("MAX_FILE_PARTS_PER_REQUEST", 8, 0, 64) as usize;
        let lease_secs = number("LEASE_SECS", 900, 10, 86_400) as i64;
        let hold_timeout_secs = number("HOLD_TIMEOUT_SECS", 1800, 1, 7 * 86_400) as i64;
        let email_code_ttl_secs = number("EMAIL_CODE_TTL_SECS", 600, 1, 86_400) as i64;
        let drain_after_disconnect =
            std::time::Duration::from_secs(number("DRAIN_AFTER_DISCONNECT_SECS", 20, 0, 25));
        let max_prompt_tokens_lite = number("MAX_PROMPT_TOKENS_LITE", 32_000, 1, 10_000_000);
        let throttle_exempt_ips = match get("THROTTLE_EXEMPT_IPS") {
            None => Vec::new(),
            Some(list) => crate::limits::ip::parse_exempt_list(&list).unwrap_or_else(|bad| {
                problems.push(format!(
                    "THROTTLE_EXEMPT_IPS has {}, which {} not an IP address; list addresses separated by commas, e.g. `127.0.0.1, ::1`.",
                    bad.join(", "),
                    if bad.len() == 1 { "is" } else { "are" }
                ));
                Vec::new()
            }),
        };
        let admin_token = match get("ADMIN_TOKEN") {
            None => Ok(None),
            Some(token) if token.len() < MIN_ADMIN_TOKEN_BYTES => Err(format!(
                "ADMIN_TOKEN is {} bytes long; it must be at least {MIN_ADMIN_TOKEN_BYTES}. Generate one with `openssl rand -hex 32`.",
                token.len()
            )),
            Some(token) => Ok(Some(token)),
        };
        let url = |name: &str, default: &str| {
            get(name)
                .unwrap_or_else(|| default.to_owned())
                .trim_end_matches('/')
                .to_owned()
        };
        let email = EmailConfig {
            api_url: url("EMAIL_API_URL", "https://api.resend.com"),
            api_key: get("EMAIL_API_KEY"),
            from: get("EMAIL_FROM").unwrap_or_else(|| "Flint <noreply@flint.dev>".to_owned()),
            log_codes: get("EMAIL_LOG_CODES").is_some_and(|v| v == "true" || v == "1"),
        };

        Config {
            jwt_secret,
            problems,
            admin_token,
            max_json_body_bytes,
            max_chat_body_bytes,
            upstream_first_byte_timeout,
            upstream_idle_timeout,
            max_tokens_lite,
            max_tokens_paid,
            password_iterations,
            jwt_ttl_secs,
            login_failures_per_email_ip,
            login_failures_per_email,
            login_failures_per_ip,
            login_failure_window_secs,
            throttle_exempt_ips,
            registrations_per_ip,
            email_codes_per_ip,
            email_codes_per_address,
            email_code_failures_per_ip,
            admin_failures_per_ip,
            upload_quota_bytes,
            uploads_per_hour,
            max_file_parts_per_request,
            email_code_ttl_secs,
            utc_offset_secs,
            lease_secs,
            hold_timeout_secs,
            email,
            payments: PaymentsConfig {
                shop_id: get("YOOKASSA_SHOP_ID"),
                secret_key: get("YOOKASSA_SECRET_KEY"),
                api_url: url("YOOKASSA_API_URL", "https://api.yookassa.ru/v3"),
                usd_rub_rate: get("USD_RUB_RATE").unwrap_or_else(|| "92.5".to_owned()),
                return_url: get("TOPUP_RETURN_URL"),
            },
            google_client_id: get("GOOGLE_CLIENT_ID"),
            google_tokeninfo_url: url("GOOGLE_TOKENINFO_URL", "https://oauth2.googleapis.com/tokeninfo"),
            yandex_client_id: get("YANDEX_CLIENT_ID"),
            yandex_client_secret: get("YANDEX_CLIENT_SECRET"),
            yandex_oauth_url: url("YANDEX_OAUTH_URL", "https://oauth.yandex.ru/token"),
            yandex_info_url: url("YANDEX_INFO_URL", "https://login.yandex.ru/info"),
            providers: provider_credentials(&get),
            drain_after_disconnect,
            max_prompt_tokens_lite,
        }
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderCredentials> {
        self.providers.get(id)
    }

    /// The HS256 key, or a generic 500 whose log line says what to fix.
    pub fn jwt_secret(&self) -> ApiResult<&[u8]> {
        self.jwt_secret
            .as_deref()
            .map_err(|problem| ApiError::internal(format!("configuration: {problem}")))
    }

    /// The operator's bearer (`None`: the operator API is off), or a generic 500 whose log line
    /// says what to fix when it is too short.
    pub fn admin_token(&self) -> ApiResult<Option<&str>> {
        self.admin_token
            .as_ref()
            .map(Option::as_deref)
            .map_err(|problem| ApiError::internal(format!("configuration: {problem}")))
    }

    /// Whether the configuration is usable; the log line for each problem otherwise.
    pub fn check(&self) -> ApiResult<()> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::internal(format!(
                "configuration: {}",
                self.problems.join(" ")
            )))
        }
    }

    pub fn jwt_secret_problem(&self) -> Option<&str> {
        self.jwt_secret.as_ref().err().map(String::as_str)
    }
}

fn provider_credentials(get: &dyn Fn(&str) -> Option<String>) -> HashMap<String, ProviderCredentials> {
    let Ok(catalog) = crate::catalog::Catalog::embedded() else {
        return HashMap::new();
    };
    catalog
        .providers
        .iter()
        .map(|provider| {
            let prefix = provider.env_prefix();
            let credentials = ProviderCredentials {
                api_keys: get(&format!("{prefix}_API_KEY"))
                    .map(|keys| {
                        keys.split(',')
                            .map(str::trim)
                            .filter(|key| !key.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                base_url: get(&format!("{prefix}_BASE_URL")).map(|u| u.trim_end_matches('/').to_owned()),
            };
            (provider.id.clone(), credentials)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&|name| map.get(name).cloned())
    }

    #[test]
    fn a_missing_jwt_secret_is_an_error_that_says_what_to_fix() {
        let config = load(&[]);
        let error = config.jwt_secret().unwrap_err();
        assert_eq!(error.status(), 500);
        assert!(error
            .internal
            .as_deref()
            .unwrap()
            .contains("JWT_SECRET is not set"));
        assert!(!error.message.contains("JWT_SECRET"));
    }

    #[test]
    fn a_short_jwt_secret_is_refused_not_padded() {
        let config = load(&[("JWT_SECRET", "too-short")]);
        assert!(config.jwt_secret_problem().unwrap().contains("9 bytes long"));
    }

    #[test]
    fn a_long_enough_jwt_secret_is_used_as_its_bytes() {
        let secret = "x".repeat(32);
        let config = load(&[("JWT_SECRET", &secret)]);
        assert_eq!(config.jwt_secret().unwrap(), secret.as_bytes());
    }

    #[test]
    fn a_short_admin_token_is_refused_and_an_unset_one_turns_the_api_off() {
        assert_eq!(load(&[]).admin_token().unwrap(), None);
        let short = load(&[("ADMIN_TOKEN", "e2e-admin-token-5b8d2f")]);
        let error = short.admin_token().unwrap_err();
        assert_eq!(error.status(), 500);
        assert!(error.internal.as_deref().unwrap().contains("22 bytes long"));
        assert!(short.check().is_ok(), "only the operator API is refused");
        let long = "a".repeat(32);
        assert_eq!(
            load(&[("ADMIN_TOKEN", &long)]).admin_token().unwrap(),
            Some(long.as_str())
        );
    }

    #[test]
    fn throttle_exempt_ips_are_addresses() {
        assert!(load(&[]).throttle_exempt_ips.is_empty());
        let config = load(&[("THROTTLE_EXEMPT_IPS", "127.0.0.1,::1")]);
        assert_eq!(config.throttle_exempt_ips.len(), 2);
        let bad = load(&[("THROTTLE_EXEMPT_IPS", "127.0.0.1, localhost")]);
        assert_eq!(bad.problems.len(), 1);
        assert!(bad.problems[0].contains("localhost"));
    }

    #[test]
    fn the_throttle_defaults() {
        let config = load(&[]);
        assert_eq!(
            (
                config.login_failures_per_email_ip,
                config.login_failures_per_email
            ),
            (10, 50)
        );
        assert_eq!(config.upload_quota_bytes, 100 * 1024 * 1024);
    }

    #[test]
    fn numbers_default_when_unset_and_are_validated_when_set() {
        let config = load(&[]);
        assert_eq!((config.max_tokens_lite, config.max_tokens_paid), (4096, 8192));
        assert!(config.check().is_ok());
        let config = load(&[("MAX_TOKENS_LITE", "lots"), ("MAX_TOKENS_PAID", "0")]);
        assert_eq!(config.problems.len(), 2);
        assert!(config.check().is_err());
        let config = load(&[("MAX_TOKENS_LITE", " 2048 ")]);
        assert_eq!(config.max_tokens_lite, 2048);
    }

    #[test]
    fn the_time_zone_is_an_offset_and_a_named_zone_is_a_problem() {
        assert_eq!(load(&[("TIMEZONE", "+03:00")]).utc_offset_secs, 10_800);
        let named = load(&[("TIMEZONE", "Europe/Moscow")]);
        assert_eq!(named.problems.len(), 1);
        assert!(named.problems[0].contains("fixed offset"));
    }
}
