-- Version 1 of the MySQL/MariaDB schema. utf8mb4 throughout; every query's
-- access path has an index. Statements are separated by a semicolon at the end of a line.
CREATE TABLE users (
    uid           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(64) NOT NULL,
    email         VARCHAR(255) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    nick          VARCHAR(64) NOT NULL DEFAULT '',
    descr         VARCHAR(255) NOT NULL DEFAULT '',
    sex           INT NOT NULL DEFAULT 0,
    icon          VARCHAR(255) NOT NULL DEFAULT '',
    UNIQUE KEY users_name (name),
    UNIQUE KEY users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE friend_applies (
    from_uid   BIGINT UNSIGNED NOT NULL,
    to_uid     BIGINT UNSIGNED NOT NULL,
    apply_text VARCHAR(255) NOT NULL,
    remark     VARCHAR(64) NOT NULL,
    status     INT NOT NULL DEFAULT 0,
    PRIMARY KEY (from_uid, to_uid),
    KEY friend_applies_to (to_uid, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE friends (
    uid        BIGINT UNSIGNED NOT NULL,
    friend_uid BIGINT UNSIGNED NOT NULL,
    remark     VARCHAR(64) NOT NULL,
    PRIMARY KEY (uid, friend_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE threads (
    thread_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user1_id  BIGINT UNSIGNED NOT NULL,
    user2_id  BIGINT UNSIGNED NOT NULL,
    UNIQUE KEY threads_pair (user1_id, user2_id),
    KEY threads_user2 (user2_id, thread_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE messages (
    message_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    thread_id  BIGINT UNSIGNED NOT NULL,
    sender     BIGINT UNSIGNED NOT NULL,
    receiver   BIGINT UNSIGNED NOT NULL,
    unique_id  VARCHAR(64) NOT NULL,
    content    TEXT NOT NULL,
    chat_time  BIGINT NOT NULL,
    delivered  TINYINT NOT NULL DEFAULT 0,
    UNIQUE KEY messages_sender_unique (sender, unique_id),
    KEY messages_thread (thread_id, message_id),
    KEY messages_pending (receiver, delivered, message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
