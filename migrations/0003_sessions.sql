-- 0003: server-side conversations. A session's messages are ordered by seq; content and metadata are
-- JSON text. session_stats holds the totals /health reports, kept by triggers so no call counts rows.
CREATE TABLE sessions (
  id            TEXT    PRIMARY KEY,
  title         TEXT    NOT NULL DEFAULT 'New Chat',
  -- 1 while the title is the default one the first user message may replace
  title_default INTEGER NOT NULL DEFAULT 1,
  metadata      TEXT    NOT NULL DEFAULT '{}',
  -- the API key that created the session (enforced once API keys exist)
  owner         TEXT,
  created_at    TEXT    NOT NULL,
  last_active   TEXT    NOT NULL,
  message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_activity ON sessions (last_active DESC, id DESC);

CREATE TABLE messages (
  session_id        TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq               INTEGER NOT NULL,
  role              TEXT    NOT NULL,
  -- JSON: a string, a list of content parts, or null (an assistant turn of tool calls)
  content           TEXT    NOT NULL,
  -- JSON object of the message's other OpenAI fields (tool_calls, tool_call_id, name, reasoning_content)
  extra             TEXT    NOT NULL DEFAULT '{}',
  timestamp         TEXT    NOT NULL,
  metadata          TEXT    NOT NULL DEFAULT '{}',
  prompt_tokens     INTEGER,
  completion_tokens INTEGER,
  PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE TABLE session_stats (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  total_sessions INTEGER NOT NULL,
  total_messages INTEGER NOT NULL
);
INSERT INTO session_stats (id, total_sessions, total_messages) VALUES (1, 0, 0);

CREATE TRIGGER sessions_counted AFTER INSERT ON sessions
BEGIN
  UPDATE session_stats SET total_sessions = total_sessions + 1 WHERE id = 1;
END;
CREATE TRIGGER sessions_uncounted AFTER DELETE ON sessions
BEGIN
  UPDATE session_stats SET total_sessions = total_sessions - 1 WHERE id = 1;
END;
CREATE TRIGGER messages_counted AFTER INSERT ON messages
BEGIN
  UPDATE session_stats SET total_messages = total_messages + 1 WHERE id = 1;
  UPDATE sessions SET message_count = message_count + 1 WHERE id = NEW.session_id;
END;
CREATE TRIGGER messages_uncounted AFTER DELETE ON messages
BEGIN
  UPDATE session_stats SET total_messages = total_messages - 1 WHERE id = 1;
  UPDATE sessions SET message_count = message_count - 1 WHERE id = OLD.session_id;
END;
