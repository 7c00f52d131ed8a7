//! The records the store reads and writes.

/// A user as stored. `password_hash` never leaves the gate: responses are
/// built from the other fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub uid: u64,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub nick: String,
    pub desc: String,
    pub sex: i32,
    pub icon: String,
}

/// What registration stores.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub nick: String,
    pub desc: String,
    pub sex: i32,
    pub icon: String,
}

/// A friend of a user, with the remark name the user gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRecord {
    pub user: UserRecord,
    pub remark: String,
}

/// A friend application addressed to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyRecord {
    pub applicant: UserRecord,
    pub apply_text: String,
    /// 0 pending, 1 accepted, 2 declined.
    pub status: i32,
}

/// Everything LOGIN_RSP needs, read in a fixed number of queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginData {
    pub user: UserRecord,
    pub friends: Vec<FriendRecord>,
    pub applications: Vec<ApplyRecord>,
}

/// A private chat thread; `user1_id < user2_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadRecord {
    pub thread_id: u64,
    pub user1_id: u64,
    pub user2_id: u64,
}

/// A message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub sender: u64,
    pub receiver: u64,
    /// Chosen by the sender; (sender, unique_id) identifies the message.
    pub unique_id: String,
    pub content: String,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub message_id: u64,
    pub thread_id: u64,
    pub sender: u64,
    pub receiver: u64,
    pub unique_id: String,
    pub content: String,
    /// Unix time in milliseconds, set when first committed.
    pub chat_time: i64,
    pub delivered: bool,
}

/// A receiver's acknowledgement: these messages arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub receiver: u64,
    pub message_ids: Vec<u64>,
}
