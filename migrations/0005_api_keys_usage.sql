-- 0005: virtual API keys (stored as SHA-256 of the secret, never in clear), daily usage per key,
-- model and engine, and an index so a key's sessions are listed without reading anyone else's.
CREATE TABLE api_keys (
  id              TEXT    PRIMARY KEY,
  name            TEXT    NOT NULL,
  -- hex SHA-256 of the secret; the secret itself is shown once, at creation
  key_hash        TEXT    NOT NULL UNIQUE,
  -- the secret's first characters, for humans telling keys apart
  prefix          TEXT    NOT NULL,
  -- JSON list of model ids, or NULL for every model
  models          TEXT,
  rpm             INTEGER,
  tpm             INTEGER,
  max_concurrency INTEGER,
  expires_at      TEXT,
  revoked         INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT    NOT NULL,
  last_used_at    TEXT
);

CREATE TABLE usage_daily (
  key_id        TEXT    NOT NULL,
  model         TEXT    NOT NULL,
  engine_id     TEXT    NOT NULL,
  -- YYYY-MM-DD, UTC
  day           TEXT    NOT NULL,
  requests      INTEGER NOT NULL DEFAULT 0,
  errors        INTEGER NOT NULL DEFAULT 0,
  input_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, key_id, model, engine_id)
) WITHOUT ROWID;

CREATE INDEX sessions_by_owner ON sessions (owner, last_active DESC, id DESC);

-- Set when the first virtual key is issued: from then on keys stay required, even if every key is
-- later deleted (deleting keys must never silently open the gateway and its sessions).
CREATE TABLE auth_state (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  keys_issued INTEGER NOT NULL
);
INSERT INTO auth_state (id, keys_issued) VALUES (1, 0);
