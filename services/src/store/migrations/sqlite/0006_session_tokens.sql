-- Version 6: resumable sessions. A password login that names a device gets a
-- session token (gate/sessions.rs); a client whose connection dropped presents
-- it instead of the password, which costs a lookup here instead of an argon2
-- hash. Only a SHA-256 of the token is stored (a copy of this table logs
-- nobody in). One token per (user, device): a new login of the device
-- replaces its token; a user keeps a bounded number of them (the oldest
-- beyond it are deleted). A password reset deletes all of a user's tokens,
-- a logout the one it presents.
CREATE TABLE session_tokens (
    token_hash BLOB NOT NULL PRIMARY KEY,
    uid        INTEGER NOT NULL,
    device     TEXT NOT NULL,
    -- Unix time in milliseconds.
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    UNIQUE (uid, device)
) WITHOUT ROWID;
