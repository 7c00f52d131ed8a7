-- Version 3: every conversation numbers its messages 1, 2, 3, ... (`seq`),
-- and delivery is a watermark per (user, device, conversation): everything up
-- to it has reached that device. It replaces `pending` (a row per undelivered
-- message, inserted with the message and deleted at its acknowledgement).
-- A conversation is a `threads` row (its id is the thread id the original
-- clients know); `last_seq` is its newest message's seq, and the row is the
-- lock a writer takes to number a conversation's messages.
ALTER TABLE threads ADD COLUMN last_seq BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN seq BIGINT UNSIGNED NOT NULL DEFAULT 0;

-- The messages stored so far keep their order: seq follows message_id.
UPDATE messages m
    JOIN (SELECT message_id, ROW_NUMBER() OVER (PARTITION BY thread_id ORDER BY message_id) AS n
          FROM messages) AS numbered ON numbered.message_id = m.message_id
    SET m.seq = numbered.n;
UPDATE threads t SET t.last_seq = (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.thread_id);

ALTER TABLE messages DROP INDEX messages_thread, ADD UNIQUE KEY messages_thread_seq (thread_id, seq);

CREATE TABLE IF NOT EXISTS watermarks (
    uid       BIGINT UNSIGNED NOT NULL,
    -- '' for a login without a device id (every login before version 3).
    device    VARCHAR(64) NOT NULL,
    thread_id BIGINT UNSIGNED NOT NULL,
    seq       BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (uid, device, thread_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Each member's watermark on the device '' sits just below its oldest
-- pending message (or at the end when nothing waits). Nothing unacknowledged
-- is lost; a message acknowledged after an older one that was not is pushed
-- once more (at-least-once, de-duplicated by message_id as before).
INSERT IGNORE INTO watermarks (uid, device, thread_id, seq)
    SELECT member.uid, '', t.thread_id,
           COALESCE((SELECT MIN(m.seq) FROM pending p JOIN messages m ON m.message_id = p.message_id
                     WHERE p.receiver = member.uid AND m.thread_id = t.thread_id),
                    t.last_seq + 1) - 1
    FROM threads t
    JOIN (SELECT thread_id, user1_id AS uid FROM threads
          UNION ALL SELECT thread_id, user2_id FROM threads) AS member
      ON member.thread_id = t.thread_id
    WHERE t.last_seq > 0;

DROP TABLE pending;
