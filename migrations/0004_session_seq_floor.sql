-- 0004: message numbers keep growing across a clear, so a /messages page cursor taken before a clear
-- never skips messages added after it. seq_floor is the highest seq a session ever had.
ALTER TABLE sessions ADD COLUMN seq_floor INTEGER NOT NULL DEFAULT 0;
