-- A WebAuthn ceremony waiting for its one answer: the state webauthn-rs needs to check it (the
-- challenge, nothing secret). The session holds only the id, so of several answers sent at once
-- with one session, the one whose DELETE ... RETURNING takes the row is checked; the others find
-- none. Rows of ceremonies never answered are deleted after a few minutes.
CREATE TABLE webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX webauthn_ceremonies_by_age ON webauthn_ceremonies (created_at);

-- A key's sign counter beside its credential, so a use is recorded only while the counter rises:
-- of two answers checked at once against one stored counter, the lower cannot be written last.
ALTER TABLE security_keys ADD COLUMN sign_count BIGINT NOT NULL DEFAULT 0;
