-- Version 5: names and e-mail addresses are unique without regard to the case
-- of ASCII letters: `EXIST` and `exist` are one name, `Ann@Example.com` and
-- `ann@example.com` one address (which is what a user expects; mail systems
-- treat addresses so). Both are stored as typed and shown so; `name_key` and
-- `email_key` hold them with A-Z lowered (and nothing else: other letters are
-- compared exactly, the same in both backends and in Rust's
-- `to_ascii_lowercase`; SQLite's lower() is exactly that), under unique
-- indexes.
--
-- Rows that already collide (registered before this rule) keep working: the
-- oldest of each group takes the key, the others get NULL (which a unique
-- index allows more than once) and are still found by their exact name or
-- address, which lookups try first.
ALTER TABLE users ADD COLUMN name_key TEXT;
ALTER TABLE users ADD COLUMN email_key TEXT;

UPDATE users SET name_key = lower(name)
    WHERE uid IN (SELECT MIN(uid) FROM users GROUP BY lower(name));
UPDATE users SET email_key = lower(email)
    WHERE uid IN (SELECT MIN(uid) FROM users GROUP BY lower(email));

CREATE UNIQUE INDEX users_name_key ON users (name_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);
