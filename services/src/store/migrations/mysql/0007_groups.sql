-- Version 7: groups. A group is a conversation (a `threads` row) whose pair
-- is (0, its own thread id): 0 is nobody's uid, so no private thread is
-- ever mistaken for a group, and the pair key stays unique. Its messages
-- are stored once (receiver 0), numbered like any conversation's under the
-- row's lock; membership changes are messages too (`kind` 1, an event in
-- JSON), so every member sees them in one order with the texts around them.
ALTER TABLE messages ADD COLUMN kind TINYINT UNSIGNED NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS chat_groups (
    thread_id          BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    name               VARCHAR(64) NOT NULL,
    description        VARCHAR(512) NOT NULL,
    owner              BIGINT UNSIGNED NOT NULL,
    -- 1: only the owner and admins invite; 0: any member invites friends.
    invite_admins_only TINYINT NOT NULL DEFAULT 0,
    -- 1: a new member may read what came before its joining.
    history_visible    TINYINT NOT NULL DEFAULT 0,
    member_count       INT UNSIGNED NOT NULL DEFAULT 0,
    -- Raised with every change of membership: a writer that cached the
    -- members at this version needs not read them again.
    members_version    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    -- The seq of the event that dissolved it (0: it lives).
    dissolved_seq      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created_ms         BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Members, and former members (left_seq > 0: they read up to that seq, the
-- event of their leaving, and nothing after).
CREATE TABLE IF NOT EXISTS group_members (
    thread_id  BIGINT UNSIGNED NOT NULL,
    uid        BIGINT UNSIGNED NOT NULL,
    -- 0 member, 1 admin, 2 owner.
    role       TINYINT UNSIGNED NOT NULL,
    -- The seq of the event that let it in: it reads from there on (or all,
    -- if the group's history is visible).
    joined_seq BIGINT UNSIGNED NOT NULL,
    left_seq   BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, uid),
    KEY group_members_uid (uid, thread_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
