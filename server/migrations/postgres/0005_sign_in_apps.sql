-- Forward-auth: the apps behind the proxy that each sign-in reached, for the security page's
-- session list (written at most once a minute per sign-in and app).
CREATE TABLE sign_in_apps (
    sign_in_id TEXT NOT NULL REFERENCES sign_ins (id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (sign_in_id, host)
);
