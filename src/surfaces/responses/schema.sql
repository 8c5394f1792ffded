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
