-- Every update fetched from Telegram, written down before it is confirmed (bot/handlers/inbox.py).
-- payload is the update itself until it is handled, then NULL: only the id and the times remain, so that
-- Telegram sending it again is recognised; handled rows are pruned after two days.
CREATE TABLE inbox (
    update_id BIGINT PRIMARY KEY,
    payload TEXT,
    received_at TEXT NOT NULL,
    handled_at TEXT
);
CREATE INDEX inbox_handled ON inbox (handled_at);
