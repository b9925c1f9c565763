-- Whether the owner asked for an email at every new sign-in (1) or not (0, the default).
ALTER TABLE users ADD COLUMN sign_in_alerts BIGINT NOT NULL DEFAULT 0;
