CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    -- lower case: usernames are case-insensitive
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email_verified_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX users_username ON users (username);
CREATE UNIQUE INDEX users_email ON users (lower(email));
