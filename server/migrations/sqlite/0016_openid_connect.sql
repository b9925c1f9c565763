-- Portal as an OpenID Connect provider: the apps it signs people in to, the keys it signs ID
-- tokens with, what each person allowed each app, and the codes and tokens it issued. Codes and
-- tokens are kept as SHA-256 hashes, client secrets too; private keys sealed with the server key.

CREATE TABLE oidc_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- NULL for a public client (PKCE only, no secret)
    secret_hash BLOB,
    -- one URI per line, compared exactly
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    first_party BIGINT NOT NULL,
    require_two_factor BIGINT NOT NULL,
    id_token_alg TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE oidc_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    sealed_key BLOB NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- published from created_at, signs from signs_from
    signs_from BIGINT NOT NULL,
    -- when a newer key took over: published until the last token it signed has expired
    retired_at BIGINT
);

-- The stable, never reused subject of an account, random so that it names nothing.
CREATE TABLE oidc_subjects (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    subject TEXT NOT NULL UNIQUE
);

-- What a person allowed an app: one row per account and app.
CREATE TABLE oidc_grants (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (user_id, client_id)
);

-- A family: everything issued from one code, revoked together.
CREATE TABLE oidc_families (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    sign_in_id TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE oidc_codes (
    hash BLOB PRIMARY KEY,
    family TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scopes TEXT NOT NULL,
    nonce TEXT,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    sign_in_id TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE oidc_tokens (
    hash BLOB PRIMARY KEY,
    -- 'access' or 'refresh'
    kind TEXT NOT NULL,
    family TEXT NOT NULL REFERENCES oidc_families (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- a refresh token is used once: then it is spent, and a second use revokes the family
    used_at BIGINT
);

CREATE INDEX oidc_tokens_by_family ON oidc_tokens (family);
CREATE INDEX oidc_tokens_by_expiry ON oidc_tokens (expires_at);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);
CREATE INDEX oidc_families_by_user ON oidc_families (user_id, client_id);
