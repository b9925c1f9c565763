-- Several authenticator apps per account, each named, each with its own secret and its own
-- replay guard. `two_factor` keeps what belongs to the account: the recovery code and since when
-- two-factor authentication is on.
CREATE TABLE authenticator_apps (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- AES-256-GCM under the server key: nonce, ciphertext, tag
    secret_sealed BLOB NOT NULL,
    -- the newest 30-second step a code of this app was accepted for; it and earlier are refused
    last_accepted_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX authenticator_apps_by_user ON authenticator_apps (user_id);

INSERT INTO authenticator_apps (user_id, name, secret_sealed, last_accepted_step, created_at)
SELECT user_id, 'Authenticator app', secret_sealed, last_accepted_step, enabled_at FROM two_factor;

ALTER TABLE two_factor DROP COLUMN secret_sealed;
ALTER TABLE two_factor DROP COLUMN last_accepted_step;

-- Another app being added: its secret, shown to the sign-in that started it until a code from
-- the new app confirms it.
CREATE TABLE authenticator_app_additions (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sign_in_id TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    started_at BIGINT NOT NULL
);
