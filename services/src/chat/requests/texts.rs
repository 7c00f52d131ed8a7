//! TEXT_CHAT_MSG, MSG_DELIVERED_ACK and CONVERSATION_ACK (and a dialect's
//! acknowledgement by count).
//!
//! A text message goes to the message writer; only after its commit does
//! the sender get 1018 and the receiver a 1019 push (here through a loop's
//! inbox, elsewhere through the router): see "The life of a text message"
//! in services/DESIGN.md.

use super::{claims_self, parse, request, valid_pair};
use crate::chat::delivery::push::text_body;
use crate::chat::delivery::{GroupPush, Push};
use crate::chat::metrics::ChatMetrics;
use crate::chat::reply::{send, send_error};
use crate::chat::services::ChatLoop;
use crate::store::model::{Acknowledged, DeliveryAck, NewMessage, StoredMessage};
use crate::store::{groups, JobKind, StoreConn, StoreError};
use proto::body::{ConversationAck, ErrorNotify, MsgDeliveredAck, TextChatMsgReq, TextChatMsgRsp};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx};
use std::sync::Arc;

/// Longest `unique_id` a client may choose (the store's column).
const MAX_UNIQUE_ID: usize = 64;
/// Most ids in one MSG_DELIVERED_ACK.
const MAX_ACK_IDS: usize = 4096;

pub fn on_text<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::TextChatMsgRsp;
    let Some(req) = parse::<TextChatMsgReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let from = me.uid();
    let to_group = req.group_id != 0;
    if to_group && req.touid != 0 {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json); // one or the other
    }
    if !to_group && !valid_pair(from, req.fromuid, req.touid) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    if to_group && !claims_self(from, req.fromuid) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    if req.text_array.is_empty()
        || req.text_array.iter().any(|t| {
            t.unique_id.is_empty()
                || t.content.is_empty()
                || t.unique_id.starts_with(groups::EVENT_ID_PREFIX)
        })
    {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    }
    if req.text_array.len() > h.services().rules.max_texts_per_request
        || req.text_array.iter().any(|t| t.unique_id.len() > MAX_UNIQUE_ID)
    {
        return send_error(h, ctx, conn, reply_id, ErrorCode::TooLarge);
    }
    let to = req.touid;
    let known_friend = me.knows_friend(to);
    let messages: Vec<NewMessage> = req
        .text_array
        .into_iter()
        .map(|t| NewMessage {
            sender: from,
            receiver: to,
            group: req.group_id,
            unique_id: t.unique_id,
            content: t.content,
        })
        .collect();
    if to_group {
        return store_group_texts(h, ctx, conn, messages); // the writer checks membership
    }
    if known_friend {
        return store_texts(h, ctx, conn, messages);
    }
    // Not a friend when this session began; maybe since. Ask the store.
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| store.are_friends(from, to),
        move |h, ctx, friends| match friends {
            Ok(true) => {
                if let Some(me) = ctx.session_mut(conn).and_then(|s| s.online_mut()) {
                    me.add_friend(to);
                }
                store_texts(h, ctx, conn, messages);
            }
            Ok(false) => send_error(h, ctx, conn, reply_id, ErrorCode::NotFriends),
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}

/// Hands messages to the writer. After the commit (on a writer thread) the
/// pushes are routed: to every device of the receiver, and to the sender's
/// other devices (a legacy session has none: it is its user's only one);
/// then the sender's answer is posted to this loop.
fn store_texts<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, messages: Vec<NewMessage>) {
    let (from, to) = (messages[0].sender, messages[0].receiver);
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let sending_device = (!me.device().is_legacy()).then(|| me.session_id());
    let handle = ctx.handle().clone();
    let services = h.services().clone();
    let submitted = h.services().writer.submit(messages, move |stored| {
        if let Ok(stored) = &stored {
            let fresh = first_stored(stored);
            if !fresh.is_empty() {
                if let Some(session) = sending_device {
                    services.delivery.push_everywhere(
                        from,
                        Push::Text(fresh.clone()),
                        Some(session),
                    );
                }
                services.delivery.push_everywhere(to, Push::Text(fresh), None);
            }
        }
        let posted = handle
            .post(move |h, ctx| on_texts_stored(h, ctx, conn, from, Addressee::Friend(to), stored));
        if posted.is_err() {
            log::warn!("loop inbox full: a 1018 was dropped (the message is stored)");
        }
    });
    if let Err(e) = submitted {
        on_texts_stored(h, ctx, conn, from, Addressee::Friend(to), Err(e));
    }
}

/// Hands a group's messages to the writer, which stores them only if the
/// sender is a member at the commit; then they go once to every member
/// (`Delivery::push_group`) and the sender gets its 1018.
fn store_group_texts<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    messages: Vec<NewMessage>,
) {
    let (from, group) = (messages[0].sender, messages[0].group);
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let sending_session = me.session_id();
    let handle = ctx.handle().clone();
    let services = h.services().clone();
    let submitted = h.services().writer.submit_to_group(messages, move |written| {
        let stored = written.map(|(stored, members)| {
            let fresh = first_stored(&stored);
            if !fresh.is_empty() {
                let push = Arc::new(GroupPush::new(fresh));
                services.delivery.push_group(members, push, Some(sending_session));
            }
            stored
        });
        let posted = handle.post(move |h, ctx| {
            on_texts_stored(h, ctx, conn, from, Addressee::Group(group), stored)
        });
        if posted.is_err() {
            log::warn!("loop inbox full: a 1018 was dropped (the message is stored)");
        }
    });
    if let Err(e) = submitted {
        on_texts_stored(h, ctx, conn, from, Addressee::Group(group), Err(e));
    }
}

/// The messages stored now (not resends), each once: what is pushed. A
/// resend is answered with the ids stored the first time and not pushed
/// again: that was done, and what a receiver lacks comes at its sync.
fn first_stored(stored: &[StoredMessage]) -> Vec<StoredMessage> {
    let mut fresh: Vec<StoredMessage> = Vec::with_capacity(stored.len());
    for m in stored.iter().filter(|m| !m.resent) {
        if !fresh.iter().any(|f| f.message_id == m.message_id) {
            fresh.push(m.clone());
        }
    }
    fresh
}

/// 1018: the stored messages, or why they were not stored (`1107` for a
/// group's non-member); `to` is the friend or the group.
fn on_texts_stored<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    from: u64,
    to: Addressee,
    stored: Result<Vec<StoredMessage>, StoreError>,
) {
    let body = match stored {
        Ok(stored) => text_body(&stored),
        Err(e) => {
            let (touid, group_id) = match to {
                Addressee::Friend(uid) => (uid, 0),
                Addressee::Group(group) => (0, group),
            };
            let error = e.error_code().code();
            TextChatMsgRsp { error, fromuid: from, touid, group_id, ..TextChatMsgRsp::default() }
        }
    };
    send(h, ctx, conn, MsgId::TextChatMsgRsp, &body);
}

/// Whom a 1017 was for.
#[derive(Debug, Clone, Copy)]
enum Addressee {
    Friend(u64),
    Group(u64),
}

/// The receiver has these messages: they are not pushed again.
pub fn on_delivered_ack<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let metrics = &h.services().metrics;
    let Some(ack) = parse::<MsgDeliveredAck>(body) else {
        ChatMetrics::add(&metrics.bad_requests, 1);
        return; // 1101 has no response
    };
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let (uid, device) = (me.uid(), me.device_id().to_string());
    if !claims_self(uid, ack.uid) {
        // 1101 has no response: the refusal is a 1103 (the session stays).
        ChatMetrics::add(&metrics.bad_requests, 1);
        let reason = "1101 for another uid: nothing acknowledged".to_string();
        let notice = ErrorNotify { error: ErrorCode::UidInvalid.code(), reason };
        send(h, ctx, conn, MsgId::ErrorNotify, &notice);
        return;
    }
    if ack.message_ids.is_empty() || ack.message_ids.len() > MAX_ACK_IDS {
        ChatMetrics::add(&metrics.bad_requests, 1);
        return;
    }
    let acknowledged = Acknowledged::Messages(ack.message_ids);
    submit_acknowledgement(h, DeliveryAck { uid, device, acknowledged });
}

/// This device has everything of a conversation up to a seq: its watermark
/// rises there (for a member; clamped to the conversation's last seq).
pub fn on_conversation_ack<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let Some(ack) = parse::<ConversationAck>(body) else {
        ChatMetrics::add(&h.services().metrics.bad_requests, 1);
        return; // 1110 has no response
    };
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let (uid, device) = (me.uid(), me.device_id().to_string());
    if ack.conversation_id == 0 || ack.seq == 0 {
        ChatMetrics::add(&h.services().metrics.bad_requests, 1);
        return;
    }
    let acknowledged = Acknowledged::UpTo { conversation: ack.conversation_id, seq: ack.seq };
    submit_acknowledgement(h, DeliveryAck { uid, device, acknowledged });
}

/// Queues an acknowledgement for the ack writer; one that cannot be queued
/// only means its messages are pushed again at the next sync.
fn submit_acknowledgement<H: ChatLoop>(h: &H, ack: DeliveryAck) {
    if let Err(e) = h.services().acks.submit(ack) {
        log::debug!("acknowledgement not stored (pushed again later): {e}");
    }
}

/// An acknowledgement by count (`crate::dialect::Acknowledgement::ByCount`):
/// the oldest message pushed to this session and not yet acknowledged has
/// arrived. One without a pushed message is counted as a bad request.
pub fn on_next_push_acknowledged<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId) {
    let Some(user) = ctx.session_mut(conn).and_then(|s| s.online_mut()) else { return };
    let uid = user.uid();
    let Some(message_id) = user.next_acknowledged() else {
        return ChatMetrics::add(&h.services().metrics.bad_requests, 1);
    };
    submit_acknowledgement(h, DeliveryAck::of_messages(uid, vec![message_id]));
}
