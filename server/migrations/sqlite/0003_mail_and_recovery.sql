-- Each sign-in of an account: a session is signed in only while its row is here, so deleting
-- rows signs browsers out (one, all others, or all at a reset).
CREATE TABLE sign_ins (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    address TEXT,
    user_agent TEXT
);

CREATE INDEX sign_ins_by_user ON sign_ins (user_id, last_seen_at);

-- Single-use tokens sent by email, stored as SHA-256 hashes of 256 random bits.
CREATE TABLE email_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'verify_email' or 'recovery'
    purpose TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE UNIQUE INDEX email_tokens_by_hash ON email_tokens (token_hash);
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, purpose, created_at);

-- Consecutive wrong passwords per username, known or not, so throttling tells nothing about
-- which accounts exist.
CREATE TABLE password_failures (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL
);
