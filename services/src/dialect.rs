//! Dialects: the chat protocol as each kind of client speaks it.
//!
//! A listener fixes a connection's dialect, on the gate and on the chat
//! servers alike (`listen` speaks this project's own, `llfcchat_listen` the
//! original llfcchat Qt client's). Inside, there is one set of requests and
//! pushes; a dialect changes only what crosses the edge, in three ways, all
//! decided here and nowhere else:
//!
//! * **the gate's login answer** gives the chat server's address for the
//!   dialect, with `port` as the client reads it (llfcchat: a string);
//!
//! * **frames out** are rewritten into the shapes the client's source reads
//!   ([`Dialect::rewrite_out`]): llfcchat reads `chat_time` as a string
//!   (`"YYYY-MM-DD HH:MM:SS"`, UTC) and `status` as 0 unread, 1 send failed,
//!   2 read — where this protocol's `status` is 0 pending, 1 delivered;
//! * **delivery**: a client that never acknowledges (llfcchat sends no 1101)
//!   is not pushed its pending messages at login (it loads its threads and
//!   their history itself, as the C++ server let it), and what this server
//!   writes to it — a live push, a history page — counts as acknowledged
//!   ([`Dialect::client_acknowledges`]). Nothing is lost: history holds
//!   everything, and nothing is pushed at every login.
//!
//! Pure functions; any thread.

use crate::logging::civil_from_days;
use proto::MsgId;
use serde_json::Value;

/// How a connection's client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// This project's protocol (`proto/PROTOCOL.md`): imcli, imbench, tests.
    #[default]
    Own,
    /// The original llfcchat Qt client, unmodified.
    Llfcchat,
}

impl Dialect {
    /// The name used in configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Own => "own",
            Dialect::Llfcchat => "llfcchat",
        }
    }

    /// True if the client acknowledges pushes with 1101.
    pub fn client_acknowledges(self) -> bool {
        self == Dialect::Own
    }

    /// True if frames out must be rewritten (the caller then serializes to a
    /// `Value` first; for the own dialect it writes straight to the output).
    pub fn rewrites_out(self) -> bool {
        self != Dialect::Own
    }

    /// Rewrites the body of frame `id` in place for this dialect.
    pub fn rewrite_out(self, id: MsgId, body: &mut Value) {
        if self != Dialect::Llfcchat {
            return;
        }
        match id {
            MsgId::TextChatMsgRsp
            | MsgId::NotifyTextChatMsgReq
            | MsgId::LoadChatMsgRsp
            | MsgId::AuthFriendRsp
            | MsgId::NotifyAuthFriendReq => {
                if let Some(items) = body.get_mut("chat_datas").and_then(Value::as_array_mut) {
                    items.iter_mut().for_each(llfcchat_message);
                }
            }
            _ => {}
        }
    }
}

/// One message in llfcchat's shapes: `chat_time` a string, `status` 2 once
/// delivered (its "read"), else 0 (its "unread"; 1 would be "send failed").
fn llfcchat_message(message: &mut Value) {
    if let Some(ms) = message.get("chat_time").and_then(Value::as_i64) {
        message["chat_time"] = Value::String(utc_time(ms));
    }
    if let Some(status) = message.get("status").and_then(Value::as_i64) {
        message["status"] = Value::from(if status == 1 { 2 } else { 0 });
    }
}

/// `ms` (Unix time in milliseconds) as `YYYY-MM-DD HH:MM:SS`, UTC.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc_time(1_796_186_096_789), "2026-12-02 04:34:56");
    }

    #[test]
    fn llfcchat_gets_string_times_and_its_own_status_values() {
        let mut body = json!({"error": 0, "chat_datas": [
            {"message_id": 7, "chat_time": 0, "status": 1},
            {"message_id": 8, "chat_time": 1000, "status": 0},
        ]});
        Dialect::Llfcchat.rewrite_out(MsgId::NotifyTextChatMsgReq, &mut body);
        assert_eq!(body["chat_datas"][0]["chat_time"], "1970-01-01 00:00:00");
        assert_eq!(body["chat_datas"][0]["status"], 2);
        assert_eq!(body["chat_datas"][1]["status"], 0);
        let mut own = json!({"chat_datas": [{"chat_time": 0, "status": 1}]});
        Dialect::Own.rewrite_out(MsgId::NotifyTextChatMsgReq, &mut own);
        assert_eq!(own["chat_datas"][0]["chat_time"], 0);
    }
}
