-- For a database created from an older schema.sql: the columns added to existing tables since
-- (SQLite has no ADD COLUMN IF NOT EXISTS, so schema.sql can't add them itself). Run once,
-- before re-running schema.sql:
--   npx wrangler d1 execute DB --remote --file upgrade.sql
--   npx wrangler d1 execute DB --remote --file schema.sql
-- A database created from the current schema.sql already has them (each line then fails with
-- "duplicate column name": nothing to do).
ALTER TABLE holds ADD COLUMN prompt_cost_nanos INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN api_key_id TEXT;
ALTER TABLE holds ADD COLUMN renewed_at INTEGER;
ALTER TABLE usage_events ADD COLUMN tokens_cached INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN tokens_cache_write INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN tokens_reasoning INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN route TEXT;
ALTER TABLE usage_events ADD COLUMN price_multiplier_ppm INTEGER;
