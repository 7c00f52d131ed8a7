-- Version 6: resumable sessions. A password login that names a device gets a
-- session token (gate/sessions.rs); a client whose connection dropped presents
-- it instead of the password, which costs a lookup here instead of an argon2
-- hash. Only a SHA-256 of the token is stored (a copy of this table logs
-- nobody in). One token per (user, device): a new login of the device
-- replaces its token; a user keeps a bounded number of them (the oldest
-- beyond it are deleted). A password reset deletes all of a user's tokens,
-- a logout the one it presents.
CREATE TABLE IF NOT EXISTS session_tokens (
    token_hash BINARY(32) NOT NULL PRIMARY KEY,
    uid        BIGINT UNSIGNED NOT NULL,
    device     VARCHAR(64) NOT NULL,
    -- Unix time in milliseconds.
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    UNIQUE KEY session_tokens_device (uid, device)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
