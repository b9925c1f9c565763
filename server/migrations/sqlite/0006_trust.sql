-- Wrong passwords counted per username for unknown clients, and per device for a browser that
-- has signed in to that account before (its signed device cookie): an attacker hammering a
-- username cannot keep its owner out. `device` is '' for clients without a device cookie.
DROP TABLE password_failures;
CREATE TABLE password_failures (
    username TEXT NOT NULL,
    device TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    PRIMARY KEY (username, device)
);
CREATE INDEX password_failures_by_age ON password_failures (last_failure_at);

-- An enrollment and a recovery-code reveal belong to the sign-in that started them: no other
-- session of the account can read the new secret or code.
ALTER TABLE two_factor_enrollments ADD COLUMN sign_in_id TEXT;
ALTER TABLE recovery_code_reveals ADD COLUMN sign_in_id TEXT;

-- Only a verified address is held by an account: an unverified one cannot keep its real owner
-- from signing up (address squatting), and sign-up never says an address is taken.
DROP INDEX users_email;
CREATE UNIQUE INDEX users_verified_email ON users (lower(email)) WHERE email_verified_at IS NOT NULL;
CREATE INDEX users_email ON users (lower(email));
