-- The handle security keys and passkeys know an account by (a random UUID, never the username,
-- so a key reveals nothing and survives a rename); made at the first key.
ALTER TABLE users ADD COLUMN webauthn_id TEXT;
CREATE UNIQUE INDEX users_webauthn_id ON users (webauthn_id);

-- Security keys and passkeys (WebAuthn credentials). `passkey` is webauthn-rs's serialised
-- credential: the public key, the sign counter and the backup flags, nothing secret.
CREATE TABLE security_keys (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id BLOB NOT NULL,
    passkey TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE UNIQUE INDEX security_keys_by_credential ON security_keys (credential_id);
CREATE INDEX security_keys_by_user ON security_keys (user_id);
