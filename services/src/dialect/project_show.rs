//! The project_show Qt client's dialect (the system this project
//! re-implements). Read from its `global.h`, `tcpmgr.cpp`, `mainwindow.cpp`
//! and `logindialog.cpp`; PROTOCOL.md ("Dialects") has the whole table.
//!
//! Its chat ids collide with this protocol's: 1021 is its friend-application
//! notice (ours: the kick), 1023 asks for the pending messages (ours: the
//! heartbeat), 1024 acknowledges one pushed message (ours: the heartbeat
//! answer), and 1010-1015 mean contacts and search, which it does over HTTP
//! on the gate instead. So nothing goes out under an id this table does not
//! name, and only the ids below come in.
//!
//! | client → server | here |
//! |---|---|
//! | 1005 `{uid, token}` | LOGIN |
//! | 1017 `{fromuid, touid, text_array:[{content, msgid}]}` | TEXT_CHAT_MSG, `msgid` as the `unique_id` |
//! | 1023 `{uid, max_msg_id}` | push what is pending ([`Inbound::SyncPending`]) |
//! | 1024 `{uid, max_msg_id}` | the next pushed message arrived ([`Inbound::AcknowledgeNextPush`]) |
//!
//! Its 1024 carries the largest `msg_id` of the client's local database,
//! where its own messages have millisecond timestamps for ids: no use as a
//! cursor. But it sends exactly one 1024 for each 1019 element it stored,
//! in order, so each 1019 here carries one message and each 1024 settles
//! the oldest one pushed ([`super::Acknowledgement::ByCount`]). The client
//! keys its messages by `msgid`, so a message pushed again is not shown
//! twice.
//!
//! | this protocol → client | sent as |
//! |---|---|
//! | 1006 LOGIN_RSP | 1006 `{error, uid, name, email, nick, desc, sex, icon}` (no lists: 4 KiB) |
//! | 1018 TEXT_CHAT_MSG_RSP | 1018 `{error, fromuid, touid}` |
//! | 1019 NOTIFY_TEXT_CHAT_MSG | one 1019 `{error, fromuid, touid, text_array:[{msgid, content}]}` per message, `msgid` the message id as a string |
//! | 1011 NOTIFY_ADD_FRIEND | 1021 `{error, applyuid, name, …}` (it then asks the gate) |
//! | 1015 NOTIFY_AUTH_FRIEND | 1022 `{error, from_uid, to_uid, agree: true}` (from_uid the applicant, as its server sent) |
//! | 1021 kick | nothing: the connection is closed |
//! | 1103 ERROR_NOTIFY | 1103 (the client ignores ids it does not know) |
//! | anything else | nothing (its ids mean other things) |

use super::{Inbound, OutFrame};
use proto::MsgId;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// The client aborts the connection on a frame body over this (`MAX_LENGTH`
/// in its tcpmgr.h).
pub const MAX_FRAME_BODY: usize = 4096;

/// Marks a message cut to fit in [`MAX_FRAME_BODY`].
const CUT_MARK: &str = "…";

/// A frame from the client.
pub fn inbound(id: u16, body: &[u8]) -> Inbound<'_> {
    match id {
        1005 => Inbound::Request(MsgId::LoginReq, Cow::Borrowed(body)),
        1017 => Inbound::Request(MsgId::TextChatMsgReq, text_request(body)),
        1023 => Inbound::SyncPending,
        1024 => Inbound::AcknowledgeNextPush,
        _ => Inbound::Unknown,
    }
}

/// 1017 with each `msgid` renamed `unique_id` (a body that is not what the
/// client sends is passed on unchanged, to be refused as any bad request).
fn text_request(body: &[u8]) -> Cow<'_, [u8]> {
    let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
        return Cow::Borrowed(body);
    };
    let Some(items) = request.get_mut("text_array").and_then(Value::as_array_mut) else {
        return Cow::Borrowed(body);
    };
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(msgid) = item.remove("msgid") {
            let unique_id = match msgid {
                Value::String(s) => s,
                other => other.to_string(),
            };
            item.insert("unique_id".into(), Value::String(unique_id));
        }
    }
    serde_json::to_vec(&request).map_or(Cow::Borrowed(body), Cow::Owned)
}

/// This protocol's frame `id` as the frames the client reads.
pub fn rewrite_out(id: MsgId, body: Value) -> Vec<OutFrame> {
    let error = body.get("error").cloned().unwrap_or(Value::from(0));
    match id {
        MsgId::LoginRsp => vec![(1006, pick(&body, &LOGIN_FIELDS))],
        MsgId::TextChatMsgRsp => vec![(1018, pick(&body, &["error", "fromuid", "touid"]))],
        MsgId::NotifyTextChatMsgReq => texts(&body),
        MsgId::NotifyAddFriendReq => vec![(1021, body)],
        MsgId::NotifyAuthFriendReq => {
            let reply = json!({
                "error": error,
                "from_uid": body.get("touid").cloned().unwrap_or_default(),
                "to_uid": body.get("fromuid").cloned().unwrap_or_default(),
                "agree": true,
            });
            vec![(1022, reply)]
        }
        MsgId::ErrorNotify => vec![(id.code(), body)],
        _ => Vec::new(),
    }
}

const LOGIN_FIELDS: [&str; 8] = ["error", "uid", "name", "email", "nick", "desc", "sex", "icon"];

/// The named fields of `body` that it has.
fn pick(body: &Value, fields: &[&str]) -> Value {
    let picked: Map<String, Value> = fields
        .iter()
        .filter_map(|&field| body.get(field).map(|v| (field.to_string(), v.clone())))
        .collect();
    Value::Object(picked)
}

/// One 1019 per message of a push, each within [`MAX_FRAME_BODY`].
fn texts(body: &Value) -> Vec<OutFrame> {
    let (from, to) = (body.get("fromuid").cloned(), body.get("touid").cloned());
    let Some(items) = body.get("chat_datas").and_then(Value::as_array) else { return Vec::new() };
    items
        .iter()
        .map(|item| {
            let msgid = item.get("message_id").and_then(Value::as_u64).unwrap_or(0).to_string();
            let content = item.get("content").and_then(Value::as_str).unwrap_or("");
            let frame = |content: &str| {
                json!({
                    "error": 0,
                    "fromuid": from.clone().unwrap_or_default(),
                    "touid": to.clone().unwrap_or_default(),
                    "text_array": [{"msgid": msgid, "content": content}],
                })
            };
            (1019, fit(content, frame))
        })
        .collect()
}

/// `frame(content)`, with `content` cut (at a character, marked) to the
/// longest prefix whose body fits in [`MAX_FRAME_BODY`] (a binary search:
/// escapes make the JSON longer than the text by an amount that varies).
fn fit(content: &str, frame: impl Fn(&str) -> Value) -> Value {
    let whole = frame(content);
    if whole.to_string().len() <= MAX_FRAME_BODY {
        return whole;
    }
    let cut = |keep: usize| frame(&format!("{}{CUT_MARK}", &content[..keep]));
    let fits = |keep: usize| cut(keep).to_string().len() <= MAX_FRAME_BODY;
    let (mut low, mut high) = (0, content.len()); // fits(low); !fits(high)
    while high - low > 1 {
        let mut middle = (low + high) / 2;
        while !content.is_char_boundary(middle) {
            middle -= 1;
        }
        if middle == low {
            break; // no character boundary strictly between: low is the answer
        }
        if fits(middle) {
            low = middle;
        } else {
            high = middle;
        }
    }
    cut(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_ids_become_this_protocols_requests() {
        assert!(matches!(inbound(1005, b"{}"), Inbound::Request(MsgId::LoginReq, _)));
        assert_eq!(inbound(1023, b"{}"), Inbound::SyncPending);
        assert_eq!(inbound(1024, b"{}"), Inbound::AcknowledgeNextPush);
        assert_eq!(inbound(1013, b"{}"), Inbound::Unknown);
        let body =
            br#"{"fromuid":1,"touid":2,"text_array":[{"content":"hi","msgid":"1764000000000"}]}"#;
        let Inbound::Request(MsgId::TextChatMsgReq, rewritten) = inbound(1017, body) else {
            panic!("1017 is a text")
        };
        let rewritten: Value = serde_json::from_slice(&rewritten).unwrap();
        assert_eq!(rewritten["text_array"][0]["unique_id"], "1764000000000");
        assert_eq!(rewritten["text_array"][0]["content"], "hi");
        assert!(rewritten["text_array"][0].get("msgid").is_none());
    }

    #[test]
    fn a_push_goes_out_one_message_per_frame_with_string_ids() {
        let body = json!({"error": 0, "fromuid": 1, "touid": 2, "thread_id": 9, "chat_datas": [
            {"message_id": 7, "unique_id": "a", "content": "one", "status": 0, "chat_time": 5},
            {"message_id": 8, "unique_id": "b", "content": "two", "status": 0, "chat_time": 6},
        ]});
        let frames = rewrite_out(MsgId::NotifyTextChatMsgReq, body);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].0, 1019);
        assert_eq!(frames[0].1["text_array"], json!([{"msgid": "7", "content": "one"}]));
        assert_eq!(frames[1].1["text_array"][0]["msgid"], "8");
        assert_eq!(frames[1].1["fromuid"], 1);
        assert_eq!(frames[1].1["touid"], 2);
    }

    #[test]
    fn a_long_message_is_cut_to_fit_the_clients_frame_limit() {
        let long = "é\"".repeat(3000); // escapes and two-byte characters
        let body = json!({"fromuid": 1, "touid": 2, "chat_datas": [
            {"message_id": 7, "content": long},
        ]});
        let frames = rewrite_out(MsgId::NotifyTextChatMsgReq, body);
        let size = frames[0].1.to_string().len();
        assert!(size <= MAX_FRAME_BODY, "{size}");
        let content = frames[0].1["text_array"][0]["content"].as_str().unwrap();
        assert!(content.ends_with(CUT_MARK) && content.starts_with("é\""));
        assert!(size > MAX_FRAME_BODY - 64, "cut no more than needed: {size}");
    }

    #[test]
    fn colliding_ids_never_go_out() {
        assert!(rewrite_out(MsgId::NotifyOffLineReq, json!({"error": 0, "uid": 1})).is_empty());
        assert!(rewrite_out(MsgId::HeartbeatRsp, json!({"error": 0})).is_empty());
        assert!(rewrite_out(MsgId::SearchUserRsp, json!({"error": 0})).is_empty());
        let apply = rewrite_out(MsgId::NotifyAddFriendReq, json!({"error": 0, "applyuid": 3}));
        assert_eq!(apply[0].0, 1021);
        let accepted =
            rewrite_out(MsgId::NotifyAuthFriendReq, json!({"error": 0, "fromuid": 4, "touid": 3}));
        assert_eq!(
            accepted,
            vec![(1022, json!({"error": 0, "from_uid": 3, "to_uid": 4, "agree": true}))]
        );
        let login = rewrite_out(
            MsgId::LoginRsp,
            json!({"error": 0, "uid": 3, "name": "n", "friend_list": [1], "apply_list": []}),
        );
        assert_eq!(login[0].1, json!({"error": 0, "uid": 3, "name": "n"}));
    }
}
