-- Flint's D1 schema and seed rows. Idempotent: `make dev` and `make test` apply it on every start,
-- and `wrangler d1 execute DB --remote --file schema.sql` applies it in production.

-- Plans: the limits of each plan. `enterprise` values are defaults that per-user overrides replace.
CREATE TABLE IF NOT EXISTS plans (
  id                    TEXT PRIMARY KEY,
  name                  TEXT NOT NULL,
  daily_lite_requests   INTEGER NOT NULL CHECK (daily_lite_requests >= 0),
  rpm                   INTEGER NOT NULL CHECK (rpm > 0),
  tpm                   INTEGER NOT NULL CHECK (tpm > 0),
  concurrent_requests   INTEGER NOT NULL CHECK (concurrent_requests > 0),
  max_output_tokens     INTEGER NOT NULL CHECK (max_output_tokens > 0),
  system_prompt_allowed INTEGER NOT NULL CHECK (system_prompt_allowed IN (0, 1)),
  monthly_price_rub     INTEGER            -- NULL: not sold as a subscription
);

INSERT INTO plans (id, name, daily_lite_requests, rpm, tpm, concurrent_requests, max_output_tokens, system_prompt_allowed, monthly_price_rub) VALUES
  ('free',       'Free',          15,   20,    40000,   2, 4096, 0, NULL),
  ('payg',       'Pay as you go', 15,   60,   150000,   5, 8192, 1, NULL),
  ('pro',        'Pro',          500,  500,  2000000,  50, 8192, 1, 990),
  ('pro_plus',   'Pro+',        2000, 1000,  4000000, 100, 8192, 1, 1990),
  ('enterprise', 'Enterprise',  2000, 1000,  4000000, 100, 8192, 1, NULL)
ON CONFLICT (id) DO UPDATE SET
  name = excluded.name,
  daily_lite_requests = excluded.daily_lite_requests,
  rpm = excluded.rpm,
  tpm = excluded.tpm,
  concurrent_requests = excluded.concurrent_requests,
  max_output_tokens = excluded.max_output_tokens,
  system_prompt_allowed = excluded.system_prompt_allowed,
  monthly_price_rub = excluded.monthly_price_rub;

-- Users. Money is integer nano-USD (1e-9 USD); it is never negative.
CREATE TABLE IF NOT EXISTS users (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  email          TEXT NOT NULL UNIQUE,          -- trimmed and lower-cased
  password_hash  TEXT,                          -- NULL for accounts created by OAuth
  plan           TEXT NOT NULL DEFAULT 'free' REFERENCES plans (id),
  balance_nanos  INTEGER NOT NULL DEFAULT 0 CHECK (balance_nanos >= 0),
  token_version  INTEGER NOT NULL DEFAULT 0,    -- bumped to revoke every JWT issued before
  plan_expires_at INTEGER,                      -- a bought month of pro / pro_plus ends then
  limits_override TEXT,                         -- JSON: per-user limits over the plan's (enterprise)
  created_at     INTEGER NOT NULL               -- Unix seconds
);

-- OAuth identities linked to users (Google `sub`, Yandex `id`).
CREATE TABLE IF NOT EXISTS oauth_identities (
  provider    TEXT NOT NULL,
  subject     TEXT NOT NULL,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (provider, subject)
);

-- API keys: only the SHA-256 of the key and a short display prefix are stored.
CREATE TABLE IF NOT EXISTS api_keys (
  id            TEXT PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  key_hash      TEXT NOT NULL UNIQUE,
  prefix        TEXT NOT NULL,
  models        TEXT,                           -- JSON array of model ids; NULL: every model
  expires_at    INTEGER,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys (user_id, created_at);

-- Email-code registration: one pending code per email, stored as an HMAC.
CREATE TABLE IF NOT EXISTS email_codes (
  email       TEXT PRIMARY KEY,
  code_hash   TEXT NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  sent_at     INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);

-- Single-use verification tickets handed out by /auth/verify-email, stored as SHA-256.
CREATE TABLE IF NOT EXISTS registration_tickets (
  ticket_hash  TEXT PRIMARY KEY,
  email        TEXT NOT NULL,
  expires_at   INTEGER NOT NULL,
  used_at      INTEGER
);

-- Holds: money reserved for a request in flight. A user's available balance is
-- balance_nanos minus the sum of their open holds; a hold is placed only if that stays >= 0.
CREATE TABLE IF NOT EXISTS holds (
  request_id     TEXT PRIMARY KEY,
  user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  amount_nanos   INTEGER NOT NULL CHECK (amount_nanos > 0),
  status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'settled', 'released')),
  charged_nanos  INTEGER,
  created_at     INTEGER NOT NULL,
  closed_at      INTEGER,
  -- For the sweeper: what the prompt alone costs (charged if the request is abandoned), and
  -- who/what it was for. A streaming request renews `renewed_at` so it is not swept.
  prompt_cost_nanos INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  model             TEXT NOT NULL DEFAULT '',
  provider          TEXT NOT NULL DEFAULT '',
  api_key_id        TEXT,
  renewed_at        INTEGER
);
CREATE INDEX IF NOT EXISTS holds_open_by_user ON holds (user_id) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS holds_open_by_age ON holds (created_at) WHERE status = 'open';

-- The append-only ledger: every charge and credit, signed (credits positive), with the balance
-- after it. (kind, reference) is unique, so a settlement or a credit replayed is recorded once.
CREATE TABLE IF NOT EXISTS ledger (
  id                   INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind                 TEXT NOT NULL,        -- charge | credit | topup | subscription
  amount_nanos         INTEGER NOT NULL,
  balance_after_nanos  INTEGER NOT NULL CHECK (balance_after_nanos >= 0),
  reference            TEXT NOT NULL,
  detail               TEXT,                 -- JSON: model, tokens, rate, ...
  created_at           INTEGER NOT NULL,
  UNIQUE (kind, reference)
);
CREATE INDEX IF NOT EXISTS ledger_by_user ON ledger (user_id, id);

-- One row per finished billable request: what was used, what it cost, how it went.
CREATE TABLE IF NOT EXISTS usage_events (
  request_id     TEXT PRIMARY KEY,
  user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  api_key_id     TEXT,
  model          TEXT NOT NULL,
  provider       TEXT NOT NULL,
  tokens_in      INTEGER NOT NULL,
  tokens_out     INTEGER NOT NULL,
  tokens_cached  INTEGER NOT NULL DEFAULT 0,     -- cache reads (part of tokens_in)
  tokens_cache_write INTEGER NOT NULL DEFAULT 0, -- cache writes (part of tokens_in)
  tokens_reasoning INTEGER NOT NULL DEFAULT 0,   -- reasoning (part of tokens_out)
  estimated      INTEGER NOT NULL CHECK (estimated IN (0, 1)),
  cost_nanos     INTEGER NOT NULL,             -- what the formula says
  charged_nanos  INTEGER NOT NULL,             -- what was taken (less when capped by the hold)
  billing_mode   TEXT NOT NULL,
  status         TEXT NOT NULL,                -- ok | upstream_error | cut | timeout | client_gone | abandoned
  latency_ms     INTEGER NOT NULL,
  created_at     INTEGER NOT NULL,
  route          TEXT,                         -- provider/upstream_id that served, if one did
  price_multiplier_ppm INTEGER                 -- the price group's (1000000 = 1×), if known
);
CREATE INDEX IF NOT EXISTS usage_by_user ON usage_events (user_id, created_at);
CREATE INDEX IF NOT EXISTS usage_by_time ON usage_events (created_at);

-- Payments created at YooKassa: top-ups of the balance and months of a plan. The webhook credits
-- a payment once, after YooKassa itself reports it succeeded.
CREATE TABLE IF NOT EXISTS payments (
  id               TEXT PRIMARY KEY,               -- YooKassa's payment id
  user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind             TEXT NOT NULL CHECK (kind IN ('topup', 'subscription')),
  plan             TEXT REFERENCES plans (id),     -- for a subscription
  amount_kopecks   INTEGER NOT NULL CHECK (amount_kopecks > 0),
  usd_rub_rate     TEXT NOT NULL,                  -- USD_RUB_RATE when the payment was created
  status           TEXT NOT NULL DEFAULT 'pending',
  created_at       INTEGER NOT NULL,
  completed_at     INTEGER
);
CREATE INDEX IF NOT EXISTS payments_by_user ON payments (user_id, created_at);

-- Uploads: the bytes (and a PDF's extracted text) live in R2 under `r2_key`; this is the index.
CREATE TABLE IF NOT EXISTS files (
  id          TEXT PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  r2_key      TEXT NOT NULL,
  name        TEXT NOT NULL,
  file_type   TEXT NOT NULL CHECK (file_type IN ('image', 'pdf')),
  mime_type   TEXT NOT NULL,
  size        INTEGER NOT NULL CHECK (size > 0),
  sha256      TEXT NOT NULL,
  pages       INTEGER,
  warning     TEXT,
  created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_user ON files (user_id, created_at);

-- Stored responses (/v1/responses with `store`, the default): the index of the bodies kept in R2
-- under `responses/{user_id}/{id}.json`. Kept 30 days; reads filter on `expires_at`, the sweeper
-- deletes what has expired (src/surfaces/responses/store.rs has every statement).
CREATE TABLE IF NOT EXISTS responses (
  id                    TEXT PRIMARY KEY,
  user_id               INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  model                 TEXT NOT NULL,
  status                TEXT NOT NULL,
  previous_response_id  TEXT,
  r2_key                TEXT NOT NULL,
  created_at            INTEGER NOT NULL,
  expires_at            INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_user ON responses (user_id, created_at);
CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_at);

-- The mailbox behind each account's email, and whether the owner proved it (an email code, or a
-- provider's verified email). `canonical` folds the aliases of one mailbox — `+tags` everywhere,
-- and dots and googlemail.com at Gmail — so one mailbox holds one account (and one free
-- allowance). A password registration is unverified until an email code or an OAuth sign-in
-- proves the address.
CREATE TABLE IF NOT EXISTS mailboxes (
  canonical    TEXT PRIMARY KEY,
  user_id      INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
  verified_at  INTEGER                        -- NULL: never proven
);

-- Accounts created before `mailboxes` existed get their row (verified when an OAuth identity is
-- linked). The expression is `auth::Email::mailbox` in SQL; a no-op once every user has a row.
INSERT OR IGNORE INTO mailboxes (canonical, user_id, verified_at)
SELECT
  CASE WHEN domain IN ('gmail.com', 'googlemail.com')
       THEN replace(base, '.', '') || '@gmail.com'
       ELSE base || '@' || domain END,
  id,
  (SELECT MIN(created_at) FROM oauth_identities o WHERE o.user_id = parts.id)
FROM (
  SELECT id, domain,
         CASE WHEN instr(local, '+') > 1 THEN substr(local, 1, instr(local, '+') - 1) ELSE local END AS base
  FROM (
    SELECT id,
           substr(email, 1, instr(email, '@') - 1) AS local,
           substr(email, instr(email, '@') + 1) AS domain
    FROM users
    WHERE id NOT IN (SELECT user_id FROM mailboxes)
  )
) AS parts;

-- What an API key may do beyond chat and the model list (`files`, `billing`), as a JSON array.
-- A key without a row has the default of its kind: every scope for a key of every model, none for
-- a key limited to a list of models.
CREATE TABLE IF NOT EXISTS api_key_scopes (
  key_id  TEXT PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
  scopes  TEXT NOT NULL
);

-- Refunds YooKassa reported: each is debited once, never below zero; what could not be taken
-- back is recorded here and flags the account for the operator.
CREATE TABLE IF NOT EXISTS refunds (
  id               TEXT PRIMARY KEY,              -- YooKassa's refund id
  payment_id       TEXT NOT NULL REFERENCES payments (id),
  user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  amount_kopecks   INTEGER NOT NULL CHECK (amount_kopecks > 0),
  amount_nanos     INTEGER NOT NULL CHECK (amount_nanos >= 0),   -- the refund in USD at the payment's rate
  debited_nanos    INTEGER NOT NULL CHECK (debited_nanos >= 0),
  shortfall_nanos  INTEGER NOT NULL CHECK (shortfall_nanos >= 0), -- what the balance could not cover
  created_at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_by_user ON refunds (user_id, created_at);

-- Accounts the operator should look at (a refund the balance could not cover, ...).
CREATE TABLE IF NOT EXISTS account_flags (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  reason      TEXT NOT NULL,
  detail      TEXT,                            -- JSON
  created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS account_flags_by_user ON account_flags (user_id, created_at);

-- Redemption codes (/admin/codes, /api/billing/redeem): a batch credits `amount_nanos` per
-- redemption; each code may be redeemed `uses_per_code` times, once per user. Codes are kept
-- only as their SHA-256.
CREATE TABLE IF NOT EXISTS code_batches (
  id             TEXT PRIMARY KEY,
  amount_nanos   INTEGER NOT NULL CHECK (amount_nanos > 0),
  codes          INTEGER NOT NULL CHECK (codes > 0),
  uses_per_code  INTEGER NOT NULL CHECK (uses_per_code > 0),
  expires_at     INTEGER,                          -- NULL: never
  note           TEXT,
  created_at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
  code_hash  TEXT PRIMARY KEY,
  batch_id   TEXT NOT NULL REFERENCES code_batches (id) ON DELETE CASCADE,
  uses_left  INTEGER NOT NULL CHECK (uses_left >= 0)
);
CREATE INDEX IF NOT EXISTS codes_by_batch ON codes (batch_id);
CREATE TABLE IF NOT EXISTS redemptions (
  code_hash   TEXT NOT NULL REFERENCES codes (code_hash) ON DELETE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (code_hash, user_id)
);

-- A spending cap on an API key, per local day or calendar month in `TIMEZONE` (what it spent is
-- read from `usage_events`, what it holds from `holds`).
CREATE TABLE IF NOT EXISTS api_key_budgets (
  key_id        TEXT PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
  budget_nanos  INTEGER NOT NULL CHECK (budget_nanos > 0),
  period        TEXT NOT NULL CHECK (period IN ('day', 'month'))
);
CREATE INDEX IF NOT EXISTS usage_by_key ON usage_events (api_key_id, created_at);

-- Price groups: a plan's multiplier on every charge, in parts per million (900000 = 0.9×); a
-- plan without a row pays the catalog's prices.
CREATE TABLE IF NOT EXISTS plan_prices (
  plan_id         TEXT PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
  multiplier_ppm  INTEGER NOT NULL CHECK (multiplier_ppm BETWEEN 10000 AND 10000000)
);

-- The live catalog: the operator's edits over the embedded catalog, one JSON object per model
-- (`catalog::live::Edit`), and a version counting every edit (read with each caller, so every
-- isolate reloads the edits on the first request after one).
CREATE TABLE IF NOT EXISTS model_overrides (
  model_id    TEXT PRIMARY KEY,
  edit        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  version  INTEGER NOT NULL
);
