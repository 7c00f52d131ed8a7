//! JSON bodies of the chat protocol and the gate's HTTP API (PROTOCOL.md),
//! with the original field names.
//!
//! Requests are read leniently where the original clients were loose: a uid
//! may arrive as a number or as a string of digits, and response-only fields
//! have defaults so that a client can parse an error reply that carries only
//! `error`. Unknown fields are ignored. Responses are written compactly.

use serde::{Deserialize, Deserializer, Serialize};

/// The largest id any store holds (both keep ids signed, 64-bit): a larger
/// one in a request is the client's error, not a question for the store.
pub const MAX_ID: u64 = i64::MAX as u64;

/// Reads a uid given as a JSON number or a string of digits (at most [`MAX_ID`]).
pub fn lenient_uid<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u64),
        Text(String),
    }
    let uid = match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(n) => n,
        NumberOrText::Text(text) => text.trim().parse().map_err(serde::de::Error::custom)?,
    };
    if uid > MAX_ID {
        return Err(serde::de::Error::custom("a uid is at most 2^63 - 1"));
    }
    Ok(uid)
}

/// Like [`lenient_uid`] for an optional field.
pub fn lenient_optional_uid<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    lenient_uid(deserializer).map(Some)
}

/// Reads a search key given as a string or a number (both mean "uid or name").
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u64),
        Text(String),
    }
    Ok(match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(n) => n.to_string(),
        NumberOrText::Text(text) => text,
    })
}

// ----- chat protocol: requests (client → server) --------------------------

/// 1005 LOGIN_REQ. `device_id` and `kind` name the device (both, or
/// neither: the legacy device, the user's only session). See PROTOCOL.md
/// "Devices".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginReq {
    #[serde(deserialize_with = "lenient_uid")]
    pub uid: u64,
    pub token: String,
    /// The client's stable id for this device (1-64 of `[A-Za-z0-9._:-]`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_id: String,
    /// `"desktop"`, `"mobile"` or `"web"`: one session per kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// 1007 SEARCH_USER_REQ: digits search by uid, anything else by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchUserReq {
    #[serde(deserialize_with = "lenient_text")]
    pub uid: String,
}

/// 1009 ADD_FRIEND_REQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddFriendReq {
    /// The application text shown to the target.
    #[serde(default)]
    pub applyname: String,
    /// The remark name the applicant gives the target.
    #[serde(default)]
    pub bakname: String,
    #[serde(deserialize_with = "lenient_uid")]
    pub touid: u64,
    /// Tolerated for old clients; must equal the session's uid if present.
    #[serde(
        default,
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<u64>,
}

/// 1013 AUTH_FRIEND_REQ: accept the application of `touid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthFriendReq {
    #[serde(deserialize_with = "lenient_uid")]
    pub touid: u64,
    /// The remark name for the applicant.
    #[serde(default)]
    pub back: String,
    /// Tolerated for old clients; must equal the session's uid if present.
    #[serde(
        default,
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub fromuid: Option<u64>,
}

/// One message of a 1017 request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextItem {
    pub content: String,
    /// Chosen by the sender; a resend with the same id is not stored twice.
    pub unique_id: String,
}

/// 1017 TEXT_CHAT_MSG_REQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextChatMsgReq {
    /// The receiver of a private message (0 or absent for a group's).
    #[serde(default, deserialize_with = "lenient_uid")]
    pub touid: u64,
    /// The group conversation a message is sent to (instead of `touid`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub group_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<u64>,
    pub text_array: Vec<TextItem>,
    /// Tolerated for old clients; must equal the session's uid if present.
    #[serde(
        default,
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub fromuid: Option<u64>,
}

/// 1023 HEART_BEAT_REQ: `{}` (a `fromuid` must be the session's uid if present).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatReq {
    #[serde(
        default,
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub fromuid: Option<u64>,
}

/// 1025 LOAD_CHAT_THREAD_REQ: `thread_id` is the cursor (last seen, 0 first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadChatThreadReq {
    #[serde(default)]
    pub thread_id: u64,
    /// A uid the client claims for itself (llfcchat sends `uid`, some
    /// `fromuid`): must be the session's if present (1011 otherwise).
    #[serde(
        default,
        alias = "fromuid",
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<u64>,
}

/// 1027 CREATE_PRIVATE_CHAT_REQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePrivateChatReq {
    #[serde(deserialize_with = "lenient_uid")]
    pub other_id: u64,
    /// A uid the client claims for itself (llfcchat sends `uid`, some
    /// `fromuid`): must be the session's if present (1011 otherwise).
    #[serde(
        default,
        alias = "fromuid",
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<u64>,
}

/// 1029 LOAD_CHAT_MSG_REQ: a page of `thread_id` before cursor `message_id`
/// (0: the newest page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadChatMsgReq {
    pub thread_id: u64,
    #[serde(default)]
    pub message_id: u64,
    /// A uid the client claims for itself (llfcchat sends `uid`, some
    /// `fromuid`): must be the session's if present (1011 otherwise).
    #[serde(
        default,
        alias = "fromuid",
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<u64>,
}

/// 1101 MSG_DELIVERED_ACK: the receiver has these messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MsgDeliveredAck {
    pub message_ids: Vec<u64>,
    /// A uid the client claims for itself (llfcchat sends `uid`, some
    /// `fromuid`): must be the session's if present (1011 otherwise).
    #[serde(
        default,
        alias = "fromuid",
        deserialize_with = "lenient_optional_uid",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<u64>,
}

/// 1110 CONVERSATION_ACK: this device has every message of the
/// conversation up to `seq` (cumulative; the client has checked that it
/// holds no hole below). No response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationAck {
    pub conversation_id: u64,
    pub seq: u64,
}

/// 1111 CONVERSATION_READ: the user has read the conversation up to `seq`
/// (on any device). No response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRead {
    pub conversation_id: u64,
    pub seq: u64,
}

/// 1113 LOAD_CONVERSATIONS_REQ: a page of the user's conversations, with
/// ids above `after` (0: from the first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadConversationsReq {
    pub after: u64,
}

/// 1115 LOAD_CONVERSATION_RANGE_REQ: messages of a conversation with
/// `after_seq < seq < before_seq` (`before_seq` 0: no bound). Forwards
/// (the lowest first: filling a gap) unless only `before_seq` is given,
/// then backwards (the highest below it: a history page). `limit` 0: the
/// server's page size, and never more.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadConversationRangeReq {
    pub conversation_id: u64,
    pub after_seq: u64,
    pub before_seq: u64,
    pub limit: u32,
}

// ----- chat protocol: responses and pushes (server → client) --------------

/// A pending friend application, in LOGIN_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplyInfo {
    pub uid: u64,
    pub name: String,
    pub nick: String,
    pub icon: String,
    pub sex: i32,
    pub desc: String,
    /// 0 pending, 1 accepted.
    pub status: i32,
}

/// A friend, in LOGIN_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FriendInfo {
    pub uid: u64,
    pub name: String,
    pub nick: String,
    pub icon: String,
    pub sex: i32,
    pub desc: String,
    /// The remark name this user gave the friend.
    pub back: String,
    /// The friend has a session on some device now.
    pub online: bool,
}

/// 1006 LOGIN_RSP. Never contains a password or hash.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginRsp {
    pub error: i32,
    pub uid: u64,
    pub name: String,
    pub email: String,
    pub nick: String,
    pub desc: String,
    pub sex: i32,
    pub icon: String,
    pub apply_list: Vec<ApplyInfo>,
    pub friend_list: Vec<FriendInfo>,
}

/// 1008 SEARCH_USER_RSP. No e-mail: search must not reveal addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchUserRsp {
    pub error: i32,
    pub uid: u64,
    pub name: String,
    pub nick: String,
    pub desc: String,
    pub sex: i32,
    pub icon: String,
}

/// A reply that carries only an error code (1010, 1024).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorOnly {
    pub error: i32,
}

/// 1011 NOTIFY_ADD_FRIEND_REQ, pushed to the target of an application.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyAddFriend {
    pub error: i32,
    pub applyuid: u64,
    pub name: String,
    pub desc: String,
    pub icon: String,
    pub sex: i32,
    pub nick: String,
}

/// 1014 AUTH_FRIEND_RSP, to the user who accepted: the new friend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthFriendRsp {
    pub error: i32,
    pub uid: u64,
    pub name: String,
    pub nick: String,
    pub icon: String,
    pub sex: i32,
    /// The pair's first message, stored at acceptance.
    pub chat_datas: Vec<HistoryMessage>,
}

/// 1015 NOTIFY_AUTH_FRIEND_REQ, pushed to the applicant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyAuthFriend {
    pub error: i32,
    pub fromuid: u64,
    pub touid: u64,
    pub name: String,
    pub nick: String,
    pub icon: String,
    pub sex: i32,
    /// The pair's first message, stored at acceptance.
    pub chat_datas: Vec<HistoryMessage>,
}

/// One stored message in 1018/1019.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatData {
    pub message_id: u64,
    /// Its place in the conversation (1, 2, 3, ... without holes).
    pub seq: u64,
    pub unique_id: String,
    pub content: String,
    /// 0 stored, 1 delivered.
    pub status: i32,
    /// Unix time in milliseconds, set at commit.
    pub chat_time: i64,
    /// 0 (absent) a text; 1 a group event, whose `content` is its JSON
    /// (PROTOCOL.md "Groups").
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub kind: u8,
}

/// 1018 TEXT_CHAT_MSG_RSP (to the sender, after the commit) and
/// 1019 NOTIFY_TEXT_CHAT_MSG_REQ (pushed to the receiver): same shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextChatMsgRsp {
    pub error: i32,
    pub fromuid: u64,
    pub touid: u64,
    pub thread_id: u64,
    /// The conversation (for a direct one, the same as `thread_id`).
    pub conversation_id: u64,
    /// The group, for a group's messages (the same as `conversation_id`).
    #[serde(skip_serializing_if = "is_zero")]
    pub group_id: u64,
    pub chat_datas: Vec<ChatData>,
}

/// 1021 NOTIFY_OFF_LINE_REQ: logged in elsewhere; the server then closes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyOffline {
    pub error: i32,
    pub uid: u64,
}

/// One chat thread in 1026.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThreadInfo {
    pub thread_id: u64,
    /// "private" (group chats are not implemented).
    #[serde(rename = "type")]
    pub kind: String,
    pub user1_id: u64,
    pub user2_id: u64,
}

/// 1026 LOAD_CHAT_THREAD_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadChatThreadRsp {
    pub error: i32,
    pub uid: u64,
    pub load_more: bool,
    pub next_last_id: u64,
    pub threads: Vec<ThreadInfo>,
}

/// 1028 CREATE_PRIVATE_CHAT_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreatePrivateChatRsp {
    pub error: i32,
    pub uid: u64,
    pub other_id: u64,
    pub thread_id: u64,
}

/// One message of a history page in 1030.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryMessage {
    pub sender: u64,
    pub msg_id: u64,
    pub thread_id: u64,
    pub seq: u64,
    pub msg_content: String,
    pub chat_time: i64,
    pub status: i32,
    /// As in [`ChatData::kind`].
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub kind: u8,
}

/// 1030 LOAD_CHAT_MSG_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadChatMsgRsp {
    pub error: i32,
    pub thread_id: u64,
    pub last_message_id: u64,
    pub load_more: bool,
    pub chat_datas: Vec<HistoryMessage>,
}

/// 1103 ERROR_NOTIFY, sent before the server closes for a protocol error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorNotify {
    pub error: i32,
    pub reason: String,
}

// ----- gate HTTP API -------------------------------------------------------

/// `POST /get_varifycode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetVerifyCodeReq {
    pub email: String,
}

/// `POST /user_register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterReq {
    pub email: String,
    pub user: String,
    pub passwd: String,
    pub confirm: String,
    /// `verifycode` from the project_show client.
    #[serde(alias = "verifycode")]
    pub varifycode: String,
    #[serde(default)]
    pub icon: String,
    #[serde(default)]
    pub nick: String,
    #[serde(default)]
    pub sex: i32,
}

/// `POST /reset_pwd` (`/reset_password`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetPwdReq {
    pub email: String,
    /// Checked against the e-mail's account when given; the project_show
    /// client sends none (the e-mail alone names the account).
    #[serde(default)]
    pub user: String,
    pub passwd: String,
    /// `verifycode` from the project_show client.
    #[serde(alias = "verifycode")]
    pub varifycode: String,
}

/// `POST /user_login`: `email` may also hold a user name (the project_show
/// client calls it `user`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserLoginReq {
    #[serde(alias = "user")]
    pub email: String,
    pub passwd: String,
    /// The device logging in (as in 1005): named, the answer carries a
    /// session token for it (this protocol's listener only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_id: String,
}

/// `POST /resume_session`: log `uid` in again on `device_id` with the
/// session token its password login handed out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeSessionReq {
    pub uid: u64,
    pub device_id: String,
    pub session_token: String,
}

/// `POST /logout`: revoke this session token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutReq {
    pub session_token: String,
}

/// Reply of the gate's routes; fields a route does not use are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateRsp {
    pub error: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub uid: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_zero_port")]
    pub port: u16,
    /// `/user_login` with a `device_id`: resumes with `/resume_session`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub session_token: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub session_expires_in_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

fn is_zero_port(n: &u16) -> bool {
    *n == 0
}

/// 1112 NOTIFY_CONVERSATION_READ: `uid` has read the conversation up to
/// `seq`. To the other member (its messages up to `seq` are read) and to
/// the reader's other devices (their unread count drops).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyConversationRead {
    pub conversation_id: u64,
    pub uid: u64,
    pub seq: u64,
}

/// One conversation in 1114, as a client's first screen shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationInfo {
    pub conversation_id: u64,
    /// `private` (two users) or `group`.
    pub kind: String,
    /// The other member (0 in a group).
    pub peer_uid: u64,
    /// A group's name (empty for a private conversation).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub last_seq: u64,
    /// This device's watermark: everything up to it has reached it.
    pub delivered_seq: u64,
    /// How far the user has read (all devices share it).
    pub read_seq: u64,
    /// How far the other member has read: the user's messages up to it are
    /// read (0 in a group: ask who read with 1140).
    pub peer_read_seq: u64,
    /// The other members' messages above `read_seq`.
    pub unread: u64,
    /// The newest message, if there is one.
    pub last_message: Option<HistoryMessage>,
}

/// 1114 LOAD_CONVERSATIONS_RSP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadConversationsRsp {
    pub error: i32,
    pub conversations: Vec<ConversationInfo>,
    /// More conversations after `next_after` (ask again with it).
    pub load_more: bool,
    pub next_after: u64,
}

/// 1116 LOAD_CONVERSATION_RANGE_RSP: messages in seq order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadConversationRangeRsp {
    pub error: i32,
    pub conversation_id: u64,
    pub messages: Vec<HistoryMessage>,
    /// The page was full: there may be more in its direction.
    pub load_more: bool,
}

/// 1117 NOTIFY_PRESENCE: a friend's first device came online, or its last
/// went offline (debounced: a quick reconnect is not reported).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyPresence {
    pub uid: u64,
    pub online: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_may_be_numbers_or_digit_strings() {
        let a: LoginReq = serde_json::from_str(r#"{"uid":42,"token":"t"}"#).unwrap();
        let b: LoginReq = serde_json::from_str(r#"{"uid":"42","token":"t"}"#).unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<LoginReq>(r#"{"uid":"x42","token":"t"}"#).is_err());
        assert!(serde_json::from_str::<LoginReq>(r#"{"uid":-1,"token":"t"}"#).is_err());
    }

    #[test]
    fn a_tolerated_fromuid_is_read_when_present() {
        let req: TextChatMsgReq =
            serde_json::from_str(r#"{"touid":2,"fromuid":"1","text_array":[]}"#).unwrap();
        assert_eq!(req.fromuid, Some(1));
        let req: TextChatMsgReq = serde_json::from_str(r#"{"touid":2,"text_array":[]}"#).unwrap();
        assert_eq!(req.fromuid, None);
    }

    #[test]
    fn wrong_types_are_errors_not_panics() {
        assert!(serde_json::from_str::<TextChatMsgReq>(r#"{"touid":2,"text_array":"no"}"#).is_err());
        assert!(serde_json::from_str::<MsgDeliveredAck>(r#"{"message_ids":[1,"x"]}"#).is_err());
        assert!(serde_json::from_slice::<HeartbeatReq>(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn responses_are_compact_and_keep_the_original_names() {
        let rsp = ThreadInfo { thread_id: 1, kind: "private".into(), user1_id: 2, user2_id: 3 };
        assert_eq!(
            serde_json::to_string(&rsp).unwrap(),
            r#"{"thread_id":1,"type":"private","user1_id":2,"user2_id":3}"#
        );
        let login = GateRsp { error: 0, uid: 7, token: "t".into(), ..GateRsp::default() };
        assert_eq!(serde_json::to_string(&login).unwrap(), r#"{"error":0,"uid":7,"token":"t"}"#);
    }

    #[test]
    fn an_error_reply_parses_into_any_response() {
        let rsp: LoginRsp = serde_json::from_str(r#"{"error":1010}"#).unwrap();
        assert_eq!(rsp.error, 1010);
        assert!(rsp.friend_list.is_empty());
    }
}
