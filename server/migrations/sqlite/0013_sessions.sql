-- Sessions in Portal's own table (the store in server/src/session_store.rs), on the shared pool
-- and the same on SQLite and PostgreSQL: expiry in unix seconds. Sessions of the earlier table
-- end: everyone signs in again once.
DROP TABLE IF EXISTS tower_sessions;

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
