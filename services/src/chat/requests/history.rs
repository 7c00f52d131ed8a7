//! Reading conversations: LOAD_CHAT_THREAD (the session's threads),
//! CREATE_PRIVATE_CHAT (the thread with a friend) and LOAD_CHAT_MSG (a page
//! of a thread's history). Only members of a thread may read it.

use super::{claims_self, parse, request, valid_pair, OrBusy};
use crate::chat::delivery::frames::{acknowledge_for_client, history_item};
use crate::chat::reply::{send, send_error};
use crate::chat::services::ChatLoop;
use crate::store::{JobKind, StoreConn};
use proto::body::{
    CreatePrivateChatReq, CreatePrivateChatRsp, LoadChatMsgReq, LoadChatMsgRsp, LoadChatThreadReq,
    LoadChatThreadRsp, ThreadInfo,
};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx};

/// The session's threads after a cursor, a page at a time.
pub fn on_load_threads<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::LoadChatThreadRsp;
    let Some(req) = parse::<LoadChatThreadReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = ctx.session(conn).and_then(|s| s.uid()) else { return };
    if !claims_self(uid, req.uid) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    let page = h.services().rules.thread_page;
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| store.threads_of(uid, req.thread_id, page + 1),
        move |h, ctx, threads| match threads {
            Ok(mut threads) => {
                let load_more = threads.len() > page;
                threads.truncate(page);
                let response = LoadChatThreadRsp {
                    error: 0,
                    uid,
                    load_more,
                    next_last_id: threads.last().map_or(req.thread_id, |t| t.thread_id),
                    threads: threads
                        .into_iter()
                        .map(|t| ThreadInfo {
                            thread_id: t.thread_id,
                            kind: "private".into(),
                            user1_id: t.user1_id,
                            user2_id: t.user2_id,
                        })
                        .collect(),
                };
                send(h, ctx, conn, reply_id, &response);
            }
            Err(e) => send_error(h, ctx, conn, reply_id, ErrorCode::LoadChatFailed.or_busy(&e)),
        },
    );
}

/// The private thread with a friend (created if absent).
pub fn on_create_private_chat<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::CreatePrivateChatRsp;
    let Some(req) = parse::<CreatePrivateChatReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = ctx.session(conn).and_then(|s| s.uid()) else { return };
    let other = req.other_id;
    if !valid_pair(uid, req.uid, other) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| match store.are_friends(uid, other)? {
            true => store.private_thread(uid, other).map(Some),
            false => Ok(None),
        },
        move |h, ctx, thread| match thread {
            Ok(Some(thread_id)) => {
                let response = CreatePrivateChatRsp { error: 0, uid, other_id: other, thread_id };
                send(h, ctx, conn, reply_id, &response);
            }
            Ok(None) => send_error(h, ctx, conn, reply_id, ErrorCode::NotFriends),
            Err(e) => send_error(h, ctx, conn, reply_id, ErrorCode::CreateChatFailed.or_busy(&e)),
        },
    );
}

/// A page of a thread's history, newest first, before a cursor.
pub fn on_load_history<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::LoadChatMsgRsp;
    let Some(req) = parse::<LoadChatMsgReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = ctx.session(conn).and_then(|s| s.uid()) else { return };
    if !claims_self(uid, req.uid) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    let (thread_id, before, page) =
        (req.thread_id, req.message_id, h.services().rules.history_page);
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| match store.thread(thread_id)? {
            Some(t) if t.has_member(uid) => {
                store.thread_page(thread_id, before, page + 1).map(Some)
            }
            _ => Ok(None),
        },
        move |h, ctx, history| match history {
            Ok(Some(mut messages)) => {
                let load_more = messages.len() > page;
                messages.truncate(page);
                let response = LoadChatMsgRsp {
                    error: 0,
                    thread_id,
                    last_message_id: messages.last().map_or(0, |m| m.message_id),
                    load_more,
                    chat_datas: messages.iter().map(history_item).collect(),
                };
                if send(h, ctx, conn, reply_id, &response) {
                    acknowledge_for_client(h, ctx, conn, &messages);
                }
            }
            Ok(None) => send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid),
            Err(e) => send_error(h, ctx, conn, reply_id, ErrorCode::LoadChatFailed.or_busy(&e)),
        },
    );
}
