-- An owner's invitation waiting for its invitee's answer. Membership comes only from accepting
-- one, so no one is listed, held by a two-factor requirement or mailed by an organization they
-- did not choose to join.
CREATE TABLE invitations (
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the owner who sent it; NULL once that account is gone, or for a membership moved here below
    invited_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX invitations_by_user ON invitations (user_id);

-- Members added before invitations existed never agreed to join (anyone could add anyone), so
-- they are asked now: their membership becomes an invitation. Owners stay as they are.
INSERT INTO invitations (org_id, user_id, invited_by, created_at)
    SELECT org_id, user_id, NULL, joined_at FROM memberships WHERE role = 'member';
DELETE FROM memberships WHERE role = 'member';
