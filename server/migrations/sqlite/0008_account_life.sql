-- The address an email-change link would switch to (purpose 'email_change'), or switch back to
-- (purpose 'email_change_undo'); NULL for the other purposes.
ALTER TABLE email_tokens ADD COLUMN email TEXT;

-- Usernames of closed accounts, not re-usable for 30 days, so nobody can step into a name that
-- others still know as someone else's.
CREATE TABLE retired_usernames (
    username TEXT PRIMARY KEY,
    retired_at BIGINT NOT NULL
);
