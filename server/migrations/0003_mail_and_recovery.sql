-- Raised to end every session of an account at once (2FA reset or disabled, new recovery code).
ALTER TABLE users ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0;

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
