-- Version 1 of the embedded (SQLite) schema. Every query's access path has an index.
CREATE TABLE users (
    uid           INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    nick          TEXT NOT NULL DEFAULT '',
    descr         TEXT NOT NULL DEFAULT '',
    sex           INTEGER NOT NULL DEFAULT 0,
    icon          TEXT NOT NULL DEFAULT ''
);

-- (from_uid, to_uid) is the key; "applications to me" uses the second index.
CREATE TABLE friend_applies (
    from_uid   INTEGER NOT NULL,
    to_uid     INTEGER NOT NULL,
    apply_text TEXT NOT NULL,
    remark     TEXT NOT NULL,
    status     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (from_uid, to_uid)
);
CREATE INDEX friend_applies_to ON friend_applies (to_uid, status);

-- One row per direction: uid's friend friend_uid, with uid's remark for them.
CREATE TABLE friends (
    uid        INTEGER NOT NULL,
    friend_uid INTEGER NOT NULL,
    remark     TEXT NOT NULL,
    PRIMARY KEY (uid, friend_uid)
);

CREATE TABLE threads (
    thread_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user1_id  INTEGER NOT NULL,
    user2_id  INTEGER NOT NULL,
    UNIQUE (user1_id, user2_id)
);
CREATE INDEX threads_user2 ON threads (user2_id, thread_id);

CREATE TABLE messages (
    message_id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id  INTEGER NOT NULL,
    sender     INTEGER NOT NULL,
    receiver   INTEGER NOT NULL,
    unique_id  TEXT NOT NULL,
    content    TEXT NOT NULL,
    chat_time  INTEGER NOT NULL,
    delivered  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (sender, unique_id)
);
CREATE INDEX messages_thread ON messages (thread_id, message_id);
CREATE INDEX messages_pending ON messages (receiver, delivered, message_id);
