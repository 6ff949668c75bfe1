-- 0002: engines registered through the management API survive restarts.
-- (Engines from flags, env and the config file are not stored: the config is their source of truth.)
CREATE TABLE engines (
  engine_id       TEXT    PRIMARY KEY,
  base_url        TEXT    NOT NULL,
  model_id        TEXT,
  engine_kind     TEXT    NOT NULL DEFAULT 'llm',
  api             TEXT    NOT NULL DEFAULT 'openai',
  weight          REAL    NOT NULL DEFAULT 1,
  max_concurrency INTEGER,
  metadata        TEXT    NOT NULL DEFAULT '{}',
  created_at      TEXT    NOT NULL
);
