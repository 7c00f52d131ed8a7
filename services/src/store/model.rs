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

/// A conversation's row: a private thread of two users (`user1_id <
/// user2_id`), or a group's, paired (0, its own id) (schema version 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadRecord {
    pub thread_id: u64,
    pub user1_id: u64,
    pub user2_id: u64,
}

impl ThreadRecord {
    /// A member of a private thread. A group's members are its
    /// `group_members` rows: this is false for all of them (its row's
    /// second id is the group's own, which may equal some uid: every query
    /// by `user2_id` leaves out `user1_id` 0 for the same reason).
    pub fn has_member(&self, uid: u64) -> bool {
        !self.is_group() && (self.user1_id == uid || self.user2_id == uid)
    }

    /// A group's conversation (0 is nobody's uid).
    pub fn is_group(&self) -> bool {
        self.user1_id == 0
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
    /// The other user of a private message (0 for a group's).
    pub receiver: u64,
    /// The group conversation it is sent to (0: a private message). Only
    /// a member's is stored (`Appended::NotMember` otherwise).
    pub group: u64,
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
    /// [`TEXT`] or [`GROUP_EVENT`] (whose content is a
    /// `proto::group_body::GroupEvent` in JSON).
    pub kind: u8,
    /// Unix time in milliseconds, set when first committed.
    pub chat_time: i64,
    /// The receiver has it: a watermark of theirs covers its seq.
    pub delivered: bool,
    /// `append_messages` found it stored before (a resend of its
    /// `(sender, unique_id)`, or a repeat within the batch): answered, not
    /// pushed again. False wherever else a message is read.
    pub resent: bool,
}

/// [`StoredMessage::kind`] of what a user wrote.
pub const TEXT: u8 = 0;
/// [`StoredMessage::kind`] of a change of a group's membership or settings.
pub const GROUP_EVENT: u8 = 1;

/// What the message writer made of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, or found stored before (`resent`). A group's message
    /// carries the members it goes to, as of its commit.
    Stored { message: StoredMessage, members: Option<std::sync::Arc<[u64]>> },
    /// Its sender is not a member of its group (or there is no such group,
    /// or it was dissolved): not stored.
    NotMember,
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

/// A conversation a device is behind in (`StoreConn::conversations_behind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behind {
    pub thread_id: u64,
    /// The device's watermark there.
    pub watermark: u64,
    /// The last seq its user may have (`u64::MAX`: no bound; a former
    /// group member's leaving).
    pub until: u64,
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
    /// The other member (0 in a group).
    pub peer: u64,
    /// The group's name (`None`: a private conversation).
    pub group_name: Option<String>,
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

/// A member's standing in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member = 0,
    Admin = 1,
    Owner = 2,
}

impl Role {
    pub fn from_code(code: u8) -> Role {
        match code {
            2 => Role::Owner,
            1 => Role::Admin,
            _ => Role::Member,
        }
    }

    /// The protocol's name of it (PROTOCOL.md "Groups").
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// A group's row (`chat_groups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Its conversation: the protocol's `group_id` and `conversation_id`.
    pub thread_id: u64,
    pub name: String,
    pub description: String,
    pub owner: u64,
    /// Only the owner and admins invite.
    pub invite_admins_only: bool,
    /// New members may read what came before their joining.
    pub history_visible: bool,
    pub member_count: u32,
    /// Raised by every change of membership (see the migration).
    pub members_version: u64,
    /// The seq of its dissolution (0: it lives).
    pub dissolved_seq: u64,
    /// Its conversation's last seq.
    pub last_seq: u64,
}

/// A member (or former member) of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRecord {
    pub uid: u64,
    pub role: Role,
    /// The event that let it in.
    pub joined_seq: u64,
    /// The event of its leaving (0: still a member).
    pub left_seq: u64,
}

impl MemberRecord {
    pub fn is_current(&self) -> bool {
        self.left_seq == 0
    }

    /// The highest seq a member with this `left_seq` may read: its leaving,
    /// or no bound (0: still a member).
    pub fn readable_until(left_seq: u64) -> u64 {
        if left_seq == 0 {
            u64::MAX
        } else {
            left_seq
        }
    }
}

/// A member with what 1139 shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProfile {
    pub member: MemberRecord,
    pub name: String,
    pub nick: String,
    pub icon: String,
}

/// What a change of a group stored: its events (in seq order) and who
/// must see them (the members after it, and those it removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChange {
    pub group: GroupRecord,
    pub events: Vec<StoredMessage>,
    pub recipients: std::sync::Arc<[u64]>,
}

/// Who has read a group's conversation up to a seq (1141).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readers {
    /// Current members other than the asker whose read mark is at the seq or above.
    pub read_count: u32,
    /// Current members other than the asker.
    pub member_count: u32,
    /// A page of the readers, by uid.
    pub page: Vec<u64>,
    pub more: bool,
}
