-- Version 2: undelivered messages move to their own table (as in the MySQL
-- schema, where an acknowledgement that updated `messages.delivered` moved the
-- row inside an index): acknowledging is a delete from a small table, and the
-- login sync reads only what is still to be delivered.
CREATE TABLE pending (
    receiver   INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (receiver, message_id)
) WITHOUT ROWID;

INSERT INTO pending (receiver, message_id)
    SELECT receiver, message_id FROM messages WHERE delivered = 0;

DROP INDEX messages_pending;
ALTER TABLE messages DROP COLUMN delivered;
