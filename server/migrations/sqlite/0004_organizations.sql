CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    -- when the owners turned the two-factor requirement on; NULL when off
    require_two_factor_since BIGINT,
    -- days a member without two-factor authentication has to turn it on
    grace_days INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX organizations_slug ON organizations (slug);

CREATE TABLE memberships (
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'owner' or 'member'
    role TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX memberships_by_user ON memberships (user_id);
