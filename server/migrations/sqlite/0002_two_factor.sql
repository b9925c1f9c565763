-- The second factor of an account that has turned it on.
CREATE TABLE two_factor (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- AES-256-GCM under the server key: nonce, ciphertext, tag
    secret_sealed BLOB NOT NULL,
    -- the newest 30-second step a code was accepted for; it and earlier steps are refused
    last_accepted_step BIGINT NOT NULL,
    -- Argon2id PHC string
    recovery_code_hash TEXT NOT NULL,
    enabled_at BIGINT NOT NULL
);

-- An enrollment under way: nothing here protects the account until it moves to two_factor.
CREATE TABLE two_factor_enrollments (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BLOB NOT NULL,
    -- set when a code confirmed the secret
    confirmed_step BIGINT,
    recovery_code_hash TEXT,
    started_at BIGINT NOT NULL
);

-- A recovery code waiting to be shown to its owner (sealed), until they say it is saved.
CREATE TABLE recovery_code_reveals (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code_sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- Consecutive failures of one factor of one account: 'totp', 'recovery' or 'password'.
CREATE TABLE failure_counters (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    factor TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, factor)
);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    address TEXT,
    user_agent TEXT,
    detail TEXT
);

CREATE INDEX audit_events_by_user ON audit_events (user_id, at);
