-- Sign-in alerts now mail only a sign-in from a browser that had never signed in to the account,
-- at most 3 an hour, and are on by default. New accounts get them from `create_user`, which sets
-- the column (SQLite cannot change a column's default in place). Existing accounts are switched
-- on too, unless their owner turned the old "every sign-in" mail off: that choice is kept.
UPDATE users SET sign_in_alerts = 1
WHERE sign_in_alerts = 0
  AND NOT EXISTS (
      SELECT 1 FROM audit_events
      WHERE audit_events.user_id = users.id AND audit_events.kind = 'sign_in_alerts_off'
  );

-- A sign-in event from a new device (1) carries "This wasn't me" on the security page.
ALTER TABLE audit_events ADD COLUMN new_device BIGINT NOT NULL DEFAULT 0;
