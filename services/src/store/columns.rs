//! What both SQL backends share: the column lists of their identical
//! schemas, and the clock that stamps messages.

use std::time::{SystemTime, UNIX_EPOCH};

/// The columns of a user, in the order `user_from_row` reads them.
pub(crate) const USER_COLUMNS: &str = "uid, name, email, password_hash, nick, descr, sex, icon";

/// The same columns, qualified for a query that joins `users u`.
pub(crate) const USER_COLUMNS_OF_U: &str =
    "u.uid, u.name, u.email, u.password_hash, u.nick, u.descr, u.sex, u.icon";

/// The columns of a message and whether it was delivered (acknowledged: no
/// longer in `pending`), in the order `message_from_row` reads them, for a
/// query over [`MESSAGES_WITH_STATE`] or [`PENDING_MESSAGES`].
pub(crate) const MESSAGE_COLUMNS: &str =
    "m.message_id, m.thread_id, m.sender, m.receiver, m.unique_id, m.content, m.chat_time, \
     p.message_id IS NULL";

/// Every message, with its row in `pending` if it waits to be delivered.
pub(crate) const MESSAGES_WITH_STATE: &str =
    "messages m LEFT JOIN pending p ON p.receiver = m.receiver AND p.message_id = m.message_id";

/// Only the messages that wait to be delivered.
pub(crate) const PENDING_MESSAGES: &str =
    "pending p JOIN messages m ON m.message_id = p.message_id";

/// Unix time in milliseconds (`chat_time`, migration stamps).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
