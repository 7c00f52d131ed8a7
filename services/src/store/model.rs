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

/// A private chat thread (a direct conversation); `user1_id < user2_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadRecord {
    pub thread_id: u64,
    pub user1_id: u64,
    pub user2_id: u64,
}

impl ThreadRecord {
    pub fn has_member(&self, uid: u64) -> bool {
        self.user1_id == uid || self.user2_id == uid
    }

    /// The member that is not `uid` (for a member `uid`).
    pub fn other_member(&self, uid: u64) -> u64 {
        if self.user1_id == uid {
            self.user2_id
        } else {
            self.user1_id
        }
    }
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
    /// The conversation (its thread): the protocol's `conversation_id`.
    pub thread_id: u64,
    /// Its place in the conversation: 1, 2, 3, ... without holes.
    pub seq: u64,
    pub sender: u64,
    pub receiver: u64,
    pub unique_id: String,
    pub content: String,
    /// Unix time in milliseconds, set when first committed.
    pub chat_time: i64,
    /// The receiver has it: a watermark of theirs covers its seq.
    pub delivered: bool,
    /// `append_messages` found it stored before (a resend of its
    /// `(sender, unique_id)`, or a repeat within the batch): answered, not
    /// pushed again. False wherever else a message is read.
    pub resent: bool,
}

/// The device of a login that names none (the original clients, and every
/// login before devices): messages its user sent are never pushed to it.
pub const LEGACY_DEVICE: &str = "";

/// A device's acknowledgement: these messages have reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAck {
    pub uid: u64,
    /// The device id the login named ([`LEGACY_DEVICE`] if none).
    pub device: String,
    pub acknowledged: Acknowledged,
}

/// What an [`DeliveryAck`] says arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acknowledged {
    /// These messages, by id, in any order (MSG_DELIVERED_ACK): the
    /// watermark moves only over contiguous seqs.
    Messages(Vec<u64>),
    /// Everything of `conversation` up to `seq` (cumulative: the client
    /// checked that it has no hole).
    UpTo { conversation: u64, seq: u64 },
}

impl DeliveryAck {
    /// The legacy device's acknowledgement of messages by id.
    pub fn of_messages(uid: u64, message_ids: Vec<u64>) -> DeliveryAck {
        let acknowledged = Acknowledged::Messages(message_ids);
        DeliveryAck { uid, device: LEGACY_DEVICE.to_string(), acknowledged }
    }

    /// Ids or conversations it names (a group-commit batch's weight).
    pub fn weight(&self) -> usize {
        match &self.acknowledged {
            Acknowledged::Messages(ids) => ids.len(),
            Acknowledged::UpTo { .. } => 1,
        }
    }
}

/// Where a sync has got to: after `seq` of conversation `thread_id`
/// (conversations are visited in id order, each oldest first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeqCursor {
    pub thread_id: u64,
    pub seq: u64,
}

/// A read mark that rose: `reader` has read `thread_id` up to `seq`. Told
/// to the conversation's other member and to the reader's other devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMark {
    pub thread_id: u64,
    pub reader: u64,
    /// The conversation's other member.
    pub peer: u64,
    pub seq: u64,
}

/// What a device shows of one conversation on its first screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub thread_id: u64,
    /// The other member.
    pub peer: u64,
    pub last_seq: u64,
    /// The asking device's watermark.
    pub delivered_seq: u64,
    /// How far the user has read (all devices).
    pub read_seq: u64,
    /// How far the other member has read: the user's messages at or below
    /// it are shown as read.
    pub peer_read_seq: u64,
    /// The other member's messages above `read_seq`.
    pub unread: u64,
    /// The newest message (`None` in a conversation without one).
    pub last_message: Option<StoredMessage>,
}

/// The rows a page of conversation summaries is built from, read by a
/// backend in four set-based queries (`StoreConn::conversation_rows`).
#[derive(Debug, Clone, Default)]
pub struct ConversationRows {
    /// (thread, seq): the device's watermarks.
    pub watermarks: Vec<(u64, u64)>,
    /// (uid, thread, seq): every member's read marks.
    pub read_marks: Vec<(u64, u64, u64)>,
    /// Each conversation's newest message.
    pub last_messages: Vec<StoredMessage>,
    /// (thread, count): the user's unread messages.
    pub unread: Vec<(u64, u64)>,
}

/// One page of what a device has not received yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// By conversation id, then seq.
    pub messages: Vec<StoredMessage>,
    /// Where the next page starts.
    pub next: SeqCursor,
    /// False once every conversation has been read to its end.
    pub more: bool,
}

/// A resumable session's token, as stored: who it logs in, on which device,
/// until when (`gate/sessions.rs`). The token itself is never stored, only
/// `token_hash`, its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToken {
    pub token_hash: [u8; 32],
    pub uid: u64,
    pub device: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub expires_ms: i64,
}
