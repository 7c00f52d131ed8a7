-- Version 7: groups (see the MySQL migration of the same number for the
-- design: a group is a `threads` row paired (0, its own id); its messages
-- are stored once with receiver 0; membership changes are messages of kind 1).
ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;

CREATE TABLE chat_groups (
    thread_id          INTEGER NOT NULL PRIMARY KEY,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL,
    owner              INTEGER NOT NULL,
    invite_admins_only INTEGER NOT NULL DEFAULT 0,
    history_visible    INTEGER NOT NULL DEFAULT 0,
    member_count       INTEGER NOT NULL DEFAULT 0,
    members_version    INTEGER NOT NULL DEFAULT 0,
    dissolved_seq      INTEGER NOT NULL DEFAULT 0,
    created_ms         INTEGER NOT NULL
);

CREATE TABLE group_members (
    thread_id  INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    role       INTEGER NOT NULL,
    joined_seq INTEGER NOT NULL,
    left_seq   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, uid)
) WITHOUT ROWID;
CREATE INDEX group_members_uid ON group_members (uid, thread_id);
