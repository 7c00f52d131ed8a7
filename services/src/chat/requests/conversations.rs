//! The conversation model's requests: CONVERSATION_READ (1111, a read mark,
//! told to the other member and to the reader's other devices),
//! LOAD_CONVERSATIONS (1113, the first screen: each conversation with its
//! seqs, unread count and last message) and LOAD_CONVERSATION_RANGE (1115,
//! messages by seq: history backwards, gap filling forwards). Only members
//! of a conversation may read it or mark it.

use super::{parse, request, OrBusy};
use crate::chat::delivery::frames::history_item;
use crate::chat::delivery::Push;
use crate::chat::metrics::ChatMetrics;
use crate::chat::reply::{send, send_error};
use crate::chat::services::{store_job, ChatLoop};
use crate::store::model::{ConversationSummary, ReadMark};
use crate::store::{JobKind, StoreConn};
use proto::body::{
    ConversationInfo, ConversationRead, LoadConversationRangeReq, LoadConversationRangeRsp,
    LoadConversationsReq, LoadConversationsRsp, NotifyConversationRead,
};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx};

/// The user has read a conversation up to a seq: stored (it only rises),
/// then told to the other member's devices and the reader's other devices.
/// No response; a bad or foreign one changes nothing.
pub fn on_conversation_read<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let metrics = &h.services().metrics;
    let Some(read) = parse::<ConversationRead>(body) else {
        return ChatMetrics::add(&metrics.bad_requests, 1);
    };
    if read.conversation_id == 0 || read.seq == 0 {
        return ChatMetrics::add(&metrics.bad_requests, 1);
    }
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let (uid, session_id) = (me.uid(), me.session_id());
    let queued = store_job(
        ctx,
        h.services(),
        JobKind::Idempotent,
        move |store| store.mark_read(uid, read.conversation_id, read.seq),
        move |h, _, marked| match marked {
            Ok(Some(mark)) => tell_read(h, mark, session_id),
            Ok(None) => {} // not higher, or not a member: nothing to tell
            Err(e) => log::debug!("a read mark of uid {uid} was not stored: {e}"),
        },
    );
    if let Err(e) = queued {
        log::debug!("a read mark of uid {uid} was not queued: {e}");
    }
}

/// 1112 to the other member and to the reader's devices but `session_id`.
fn tell_read<H: ChatLoop>(h: &H, mark: ReadMark, session_id: u64) {
    let notice =
        NotifyConversationRead { conversation_id: mark.thread_id, uid: mark.reader, seq: mark.seq };
    let delivery = &h.services().delivery;
    if mark.peer != 0 {
        // A group's mark is told to the reader's devices only: senders ask
        // who has read (1140) instead of every member hearing every mark.
        delivery.push_everywhere(mark.peer, Push::Read(notice.clone()), None);
    }
    delivery.push_everywhere(mark.reader, Push::Read(notice), Some(session_id));
}

/// A page of the user's conversations, as this device sees them.
pub fn on_load_conversations<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::LoadConversationsRsp;
    let Some(req) = parse::<LoadConversationsReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let (uid, device) = (me.uid(), me.device_id().to_string());
    let page = h.services().rules.thread_page;
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| store.conversations(uid, &device, req.after, page + 1),
        move |h, ctx, listed| match listed {
            Ok(mut conversations) => {
                let load_more = conversations.len() > page;
                conversations.truncate(page);
                let response = LoadConversationsRsp {
                    error: 0,
                    next_after: conversations.last().map_or(req.after, |c| c.thread_id),
                    load_more,
                    conversations: conversations.iter().map(conversation_info).collect(),
                };
                send(h, ctx, conn, reply_id, &response);
            }
            Err(e) => send_error(h, ctx, conn, reply_id, ErrorCode::LoadChatFailed.or_busy(&e)),
        },
    );
}

fn conversation_info(c: &ConversationSummary) -> ConversationInfo {
    ConversationInfo {
        conversation_id: c.thread_id,
        kind: if c.group_name.is_some() { "group" } else { "private" }.to_string(),
        peer_uid: c.peer,
        name: c.group_name.clone().unwrap_or_default(),
        last_seq: c.last_seq,
        delivered_seq: c.delivered_seq,
        read_seq: c.read_seq,
        peer_read_seq: c.peer_read_seq,
        unread: c.unread,
        last_message: c.last_message.as_ref().map(history_item),
    }
}

/// Messages of a conversation between two seqs, in seq order: backwards
/// from `before_seq` when only it is given, else forwards from `after_seq`.
pub fn on_load_range<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::LoadConversationRangeRsp;
    let Some(req) = parse::<LoadConversationRangeReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let bounds_cross = req.before_seq != 0 && req.before_seq <= req.after_seq.saturating_add(1);
    if req.conversation_id == 0 || bounds_cross {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    }
    let Some(uid) = ctx.session(conn).and_then(|s| s.uid()) else { return };
    let most = h.services().rules.history_page;
    let page = if req.limit == 0 { most } else { (req.limit as usize).min(most) };
    let newest = req.after_seq == 0 && req.before_seq != 0;
    let conversation = req.conversation_id;
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| {
            store.member_range(uid, conversation, req.after_seq, req.before_seq, page + 1, newest)
        },
        move |h, ctx, range| match range {
            Ok(Some(mut messages)) => {
                let load_more = messages.len() > page;
                if load_more && newest {
                    messages.remove(0); // the extra one is the lowest
                }
                messages.truncate(page);
                let response = LoadConversationRangeRsp {
                    error: 0,
                    conversation_id: conversation,
                    messages: messages.iter().map(history_item).collect(),
                    load_more,
                };
                send(h, ctx, conn, reply_id, &response);
            }
            Ok(None) => send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid),
            Err(e) => send_error(h, ctx, conn, reply_id, ErrorCode::LoadChatFailed.or_busy(&e)),
        },
    );
}
