//! TEXT_CHAT_MSG, MSG_DELIVERED_ACK, and reading threads and history.
//!
//! A text message goes to the message writer; only after its commit does
//! the sender get 1018 and the receiver a 1019 push (here through the hub,
//! elsewhere through the router). See "The life of a text message" in the
//! design notes.

use super::handler::{parse, ChatHandler};
use super::hub::{Hub, Push};
use super::metrics::ChatMetrics;
use super::session::Session;
use crate::store::model::{Delivery, NewMessage, StoredMessage};
use crate::store::{JobKind, StoreConn, StoreError};
use proto::body::{
    ChatData, CreatePrivateChatReq, CreatePrivateChatRsp, HistoryMessage, LoadChatMsgReq,
    LoadChatMsgRsp, LoadChatThreadReq, LoadChatThreadRsp, MsgDeliveredAck, TextChatMsgReq,
    TextChatMsgRsp, ThreadInfo,
};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx, SendError};
use std::sync::Arc;

/// Longest `unique_id` a client may choose (the store's column).
const MAX_UNIQUE_ID: usize = 64;
/// Most messages in one 1019 frame.
const PUSH_CHUNK: usize = 32;
/// Most ids in one MSG_DELIVERED_ACK.
const MAX_ACK_IDS: usize = 4096;

impl ChatHandler {
    pub(super) fn on_text(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, body: &[u8]) {
        let reply_id = MsgId::TextChatMsgRsp;
        let Some(req) = parse::<TextChatMsgReq>(body) else {
            return self.send_error(ctx, conn, reply_id, ErrorCode::Json);
        };
        let Some(me) = ctx.session(conn).and_then(Session::online) else { return };
        let from = me.uid;
        if req.fromuid.is_some_and(|claimed| claimed != from) || req.touid == from || req.touid == 0
        {
            return self.send_error(ctx, conn, reply_id, ErrorCode::UidInvalid);
        }
        if req.text_array.is_empty()
            || req.text_array.iter().any(|t| t.unique_id.is_empty() || t.content.is_empty())
        {
            return self.send_error(ctx, conn, reply_id, ErrorCode::Json);
        }
        if req.text_array.len() > self.hub.rules.max_texts_per_request
            || req.text_array.iter().any(|t| t.unique_id.len() > MAX_UNIQUE_ID)
        {
            return self.send_error(ctx, conn, reply_id, ErrorCode::TooLarge);
        }
        let to = req.touid;
        let messages: Vec<NewMessage> = req
            .text_array
            .into_iter()
            .map(|t| NewMessage {
                sender: from,
                receiver: to,
                unique_id: t.unique_id,
                content: t.content,
            })
            .collect();
        if me.friends.contains(&to) {
            return self.store_texts(ctx, conn, messages);
        }
        // Not a friend when this session began; maybe since. Ask the store.
        let submitted = self.store_job(
            ctx,
            JobKind::Idempotent,
            move |store| store.are_friends(from, to),
            move |h, ctx, friends| match friends {
                Ok(true) => {
                    if let Some(me) = ctx.session_mut(conn).and_then(Session::online_mut) {
                        me.friends.insert(to);
                    }
                    h.store_texts(ctx, conn, messages);
                }
                Ok(false) => h.send_error(ctx, conn, reply_id, ErrorCode::NotFriends),
                Err(e) => h.send_error(ctx, conn, reply_id, e.error_code()),
            },
        );
        if let Err(e) = submitted {
            self.send_error(ctx, conn, reply_id, e.error_code());
        }
    }

    /// Hands messages to the writer. After the commit (on a writer thread)
    /// the receiver's push is routed and the sender's answer posted here.
    fn store_texts(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, messages: Vec<NewMessage>) {
        let (from, to) = (messages[0].sender, messages[0].receiver);
        let handle = ctx.handle().clone();
        let hub: Arc<Hub> = self.hub.clone();
        let submitted = self.hub.writer.submit(messages, move |stored| {
            if let Ok(stored) = &stored {
                hub.push_anywhere(to, Push::Text(stored.clone()));
            }
            let posted = handle.post(move |h, ctx| h.on_texts_stored(ctx, conn, from, to, stored));
            if posted.is_err() {
                log::warn!("loop inbox full: a 1018 was dropped (the message is stored)");
            }
        });
        if let Err(e) = submitted {
            let body = TextChatMsgRsp {
                error: e.error_code().code(),
                fromuid: from,
                touid: to,
                ..TextChatMsgRsp::default()
            };
            self.send(ctx, conn, MsgId::TextChatMsgRsp, &body);
        }
    }

    fn on_texts_stored(
        &mut self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        from: u64,
        to: u64,
        stored: Result<Vec<StoredMessage>, StoreError>,
    ) {
        let body = match stored {
            Ok(stored) => text_body(&stored),
            Err(e) => TextChatMsgRsp {
                error: e.error_code().code(),
                fromuid: from,
                touid: to,
                ..TextChatMsgRsp::default()
            },
        };
        self.send(ctx, conn, MsgId::TextChatMsgRsp, &body);
    }

    /// Writes stored messages to `conn` as 1019 frames, one per run of
    /// messages with the same sender and thread.
    pub(super) fn push_messages(
        &mut self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        messages: &[StoredMessage],
    ) {
        for run in messages.chunk_by(|a, b| a.sender == b.sender && a.thread_id == b.thread_id) {
            for chunk in run.chunks(PUSH_CHUNK) {
                self.push_frame(ctx, conn, chunk);
            }
        }
    }

    /// One 1019 frame; a chunk whose JSON would not fit in a frame (64 KiB)
    /// is halved until it does.
    fn push_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, chunk: &[StoredMessage]) {
        let written = ctx.send_frame_with(conn, MsgId::NotifyTextChatMsgReq.code(), |out| {
            serde_json::to_writer(out, &text_body(chunk)).map_err(std::io::Error::other)
        });
        match written {
            Ok(()) => {
                ChatMetrics::add(&self.hub.metrics.frames_out, 1);
                ChatMetrics::add(&self.hub.metrics.messages_pushed, chunk.len() as u64);
            }
            Err(SendError::TooLarge { .. }) if chunk.len() > 1 => {
                let (first, second) = chunk.split_at(chunk.len() / 2);
                self.push_frame(ctx, conn, first);
                self.push_frame(ctx, conn, second);
            }
            Err(SendError::NotOpen) => {}
            Err(e) => log::warn!("a push was not sent (it stays pending): {e}"),
        }
    }

    /// The receiver has these messages: they are not pushed again.
    pub(super) fn on_delivered_ack(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, body: &[u8]) {
        let Some(ack) = parse::<MsgDeliveredAck>(body) else {
            ChatMetrics::add(&self.hub.metrics.bad_requests, 1);
            return; // 1101 has no response
        };
        let Some((uid, _)) = self.online_ids(ctx, conn) else { return };
        if ack.message_ids.is_empty() || ack.message_ids.len() > MAX_ACK_IDS {
            ChatMetrics::add(&self.hub.metrics.bad_requests, 1);
            return;
        }
        if let Err(e) =
            self.hub.acks.submit(Delivery { receiver: uid, message_ids: ack.message_ids })
        {
            log::debug!("acknowledgement not stored (pushed again later): {e}");
        }
    }

    /// The session's threads after a cursor, a page at a time.
    pub(super) fn on_load_threads(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, body: &[u8]) {
        let reply_id = MsgId::LoadChatThreadRsp;
        let Some(req) = parse::<LoadChatThreadReq>(body) else {
            return self.send_error(ctx, conn, reply_id, ErrorCode::Json);
        };
        let Some((uid, _)) = self.online_ids(ctx, conn) else { return };
        let page = self.hub.rules.thread_page;
        let submitted = self.store_job(
            ctx,
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
                    h.send(ctx, conn, reply_id, &response);
                }
                Err(e) => h.send_error(ctx, conn, reply_id, ErrorCode::LoadChatFailed.or_busy(&e)),
            },
        );
        if let Err(e) = submitted {
            self.send_error(ctx, conn, reply_id, e.error_code());
        }
    }

    /// The private thread with a friend (created if absent).
    pub(super) fn on_create_private_chat(
        &mut self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        body: &[u8],
    ) {
        let reply_id = MsgId::CreatePrivateChatRsp;
        let Some(req) = parse::<CreatePrivateChatReq>(body) else {
            return self.send_error(ctx, conn, reply_id, ErrorCode::Json);
        };
        let Some((uid, _)) = self.online_ids(ctx, conn) else { return };
        let other = req.other_id;
        if other == uid || other == 0 {
            return self.send_error(ctx, conn, reply_id, ErrorCode::UidInvalid);
        }
        let submitted = self.store_job(
            ctx,
            JobKind::Idempotent,
            move |store| match store.are_friends(uid, other)? {
                true => store.private_thread(uid, other).map(Some),
                false => Ok(None),
            },
            move |h, ctx, thread| match thread {
                Ok(Some(thread_id)) => {
                    let response =
                        CreatePrivateChatRsp { error: 0, uid, other_id: other, thread_id };
                    h.send(ctx, conn, reply_id, &response);
                }
                Ok(None) => h.send_error(ctx, conn, reply_id, ErrorCode::NotFriends),
                Err(e) => {
                    h.send_error(ctx, conn, reply_id, ErrorCode::CreateChatFailed.or_busy(&e))
                }
            },
        );
        if let Err(e) = submitted {
            self.send_error(ctx, conn, reply_id, e.error_code());
        }
    }

    /// A page of a thread's history, newest first, before a cursor. Only
    /// members of the thread may read it.
    pub(super) fn on_load_history(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, body: &[u8]) {
        let reply_id = MsgId::LoadChatMsgRsp;
        let Some(req) = parse::<LoadChatMsgReq>(body) else {
            return self.send_error(ctx, conn, reply_id, ErrorCode::Json);
        };
        let Some((uid, _)) = self.online_ids(ctx, conn) else { return };
        let (thread_id, before, page) =
            (req.thread_id, req.message_id, self.hub.rules.history_page);
        let submitted = self.store_job(
            ctx,
            JobKind::Idempotent,
            move |store| match store.thread(thread_id)? {
                Some(t) if t.user1_id == uid || t.user2_id == uid => {
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
                        chat_datas: messages
                            .into_iter()
                            .map(|m| HistoryMessage {
                                sender: m.sender,
                                msg_id: m.message_id,
                                thread_id: m.thread_id,
                                msg_content: m.content,
                                chat_time: m.chat_time,
                                status: i32::from(m.delivered),
                            })
                            .collect(),
                    };
                    h.send(ctx, conn, reply_id, &response);
                }
                Ok(None) => h.send_error(ctx, conn, reply_id, ErrorCode::UidInvalid),
                Err(e) => h.send_error(ctx, conn, reply_id, ErrorCode::LoadChatFailed.or_busy(&e)),
            },
        );
        if let Err(e) = submitted {
            self.send_error(ctx, conn, reply_id, e.error_code());
        }
    }
}

/// The body of 1018 and 1019 for messages of one sender, receiver and thread.
fn text_body(messages: &[StoredMessage]) -> TextChatMsgRsp {
    let first = messages.first();
    TextChatMsgRsp {
        error: 0,
        fromuid: first.map_or(0, |m| m.sender),
        touid: first.map_or(0, |m| m.receiver),
        thread_id: first.map_or(0, |m| m.thread_id),
        chat_datas: messages
            .iter()
            .map(|m| ChatData {
                message_id: m.message_id,
                unique_id: m.unique_id.clone(),
                content: m.content.clone(),
                status: i32::from(m.delivered),
                chat_time: m.chat_time,
            })
            .collect(),
    }
}

/// A request-specific failure code, unless the store was only busy.
trait OrBusy {
    fn or_busy(self, error: &StoreError) -> ErrorCode;
}

impl OrBusy for ErrorCode {
    fn or_busy(self, error: &StoreError) -> ErrorCode {
        match error.error_code() {
            ErrorCode::ServerBusy => ErrorCode::ServerBusy,
            _ => self,
        }
    }
}
