-- Browsers that skip the second step of one account for 30 days ("Remember this browser"): the
-- cookie holds 256 random bits, this table their SHA-256. Revoked one by one from the security
-- page, and all at once when a factor or the password changes or other sessions are signed out.
CREATE TABLE remembered_browsers (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    address TEXT,
    user_agent TEXT
);

CREATE UNIQUE INDEX remembered_browsers_by_hash ON remembered_browsers (token_hash);
CREATE INDEX remembered_browsers_by_user ON remembered_browsers (user_id);

-- Owners may forbid remembered browsers to their members (1 = allowed).
ALTER TABLE organizations ADD COLUMN remembered_browsers_allowed INTEGER NOT NULL DEFAULT 1;
