-- Moves on with every new password. A sign-in is created only under the generation whose hash it
-- verified, so one that passed the old password (waiting for its second factor, or still hashing)
-- cannot finish after a change or a reset.
ALTER TABLE users ADD COLUMN password_generation BIGINT NOT NULL DEFAULT 0;

-- Codes tried with a password-reset link: it dies after a few, so its mailbox cannot guess on.
ALTER TABLE email_tokens ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;

-- An invitation names a username, whether or not an account holds it: the owner's list (and the
-- work an invitation does) then says nothing about which accounts exist. An account made later
-- under that name may accept it.
CREATE TABLE invitations_by_name (
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    -- the owner who sent it; NULL once that account is gone
    invited_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, username)
);

INSERT INTO invitations_by_name (org_id, username, invited_by, created_at)
    SELECT i.org_id, u.username, i.invited_by, i.created_at
    FROM invitations i JOIN users u ON u.id = i.user_id;
DROP TABLE invitations;
ALTER TABLE invitations_by_name RENAME TO invitations;
CREATE INDEX invitations_by_username ON invitations (username);
