//! The llfcchat Qt client's dialect: this protocol's ids and fields (they
//! were that lineage's), with two types the client reads differently.
//!
//! llfcchat reads `chat_time` as a string (`"YYYY-MM-DD HH:MM:SS"`, UTC)
//! and `status` as 0 unread, 1 send failed, 2 read — where this protocol's
//! `status` is 0 pending, 1 delivered. It never acknowledges
//! ([`super::Acknowledgement::Never`]): it is not pushed its pending
//! messages at login (it loads its threads and their history itself, as
//! the C++ server let it), and what is written to it counts as
//! acknowledged. Nothing is lost: history holds everything.

use super::utc_time;
use proto::MsgId;
use serde_json::Value;

/// Frame `id`'s body in llfcchat's shapes.
pub fn rewrite_out(id: MsgId, mut body: Value) -> Value {
    match id {
        MsgId::TextChatMsgRsp
        | MsgId::NotifyTextChatMsgReq
        | MsgId::LoadChatMsgRsp
        | MsgId::AuthFriendRsp
        | MsgId::NotifyAuthFriendReq => {
            if let Some(items) = body.get_mut("chat_datas").and_then(Value::as_array_mut) {
                items.iter_mut().for_each(message);
            }
        }
        _ => {}
    }
    body
}

/// One message: `chat_time` a string, `status` 2 once delivered (its
/// "read"), else 0 (its "unread"; 1 would be "send failed").
fn message(message: &mut Value) {
    if let Some(ms) = message.get("chat_time").and_then(Value::as_i64) {
        message["chat_time"] = Value::String(utc_time(ms));
    }
    if let Some(status) = message.get("status").and_then(Value::as_i64) {
        message["status"] = Value::from(if status == 1 { 2 } else { 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn llfcchat_gets_string_times_and_its_own_status_values() {
        let body = json!({"error": 0, "chat_datas": [
            {"message_id": 7, "chat_time": 0, "status": 1},
            {"message_id": 8, "chat_time": 1000, "status": 0},
        ]});
        let body = rewrite_out(MsgId::NotifyTextChatMsgReq, body);
        assert_eq!(body["chat_datas"][0]["chat_time"], "1970-01-01 00:00:00");
        assert_eq!(body["chat_datas"][0]["status"], 2);
        assert_eq!(body["chat_datas"][1]["status"], 0);
    }
}
