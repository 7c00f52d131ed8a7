//! What both SQL backends share: the column lists of their identical
//! schemas, and the clock that stamps messages.

use std::time::{SystemTime, UNIX_EPOCH};

/// The columns of a user, in the order `user_from_row` reads them.
pub(crate) const USER_COLUMNS: &str = "uid, name, email, password_hash, nick, descr, sex, icon";

/// The same columns, qualified for a query that joins `users u`.
pub(crate) const USER_COLUMNS_OF_U: &str =
    "u.uid, u.name, u.email, u.password_hash, u.nick, u.descr, u.sex, u.icon";

/// The columns of a message, in the order `message_from_row` reads them
/// (`delivered` is not a column: it is read from the receiver's watermarks).
pub(crate) const MESSAGE_COLUMNS: &str =
    "m.message_id, m.thread_id, m.seq, m.sender, m.receiver, m.unique_id, m.content, m.kind, m.chat_time";

/// Unix time in milliseconds (`chat_time`, migration stamps).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The key a name or an e-mail address is unique by, and found by when it is
/// not found as typed: A-Z lowered, nothing else (schema version 5; the
/// migrations build the same keys in SQL).
pub(crate) fn lookup_key(text: &str) -> String {
    text.to_ascii_lowercase()
}
