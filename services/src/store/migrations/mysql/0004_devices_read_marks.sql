-- Version 4: the devices a user has logged in with, and read marks. Devices (a login that names a
-- device_id; the legacy device '' is never listed). A device seen for the
-- first time starts at its user's current place in every conversation (its
-- watermarks are set to each conversation's last_seq then): what came
-- before, it reads as history, not as a flood of pushes. Beyond a user's
-- device cap the device seen longest ago is forgotten, with its watermarks.
CREATE TABLE IF NOT EXISTS devices (
    uid        BIGINT UNSIGNED NOT NULL,
    device     VARCHAR(64) NOT NULL,
    -- 1 desktop, 2 mobile, 3 web (crate::device::DeviceKind).
    kind       TINYINT UNSIGNED NOT NULL,
    -- Unix time in milliseconds.
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (uid, device)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- How far each user has read each conversation: one seq for all of the
-- user's devices, which only rises. What is above it (and not the user's
-- own) is unread.
CREATE TABLE IF NOT EXISTS read_marks (
    uid       BIGINT UNSIGNED NOT NULL,
    thread_id BIGINT UNSIGNED NOT NULL,
    seq       BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (uid, thread_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
