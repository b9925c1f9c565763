-- When members were last mailed that an organization requires two-factor authentication: at most
-- once a day, so switching the requirement off and on cannot flood them.
ALTER TABLE organizations ADD COLUMN requirement_mailed_at BIGINT;
