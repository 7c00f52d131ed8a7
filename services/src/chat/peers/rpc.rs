//! The ChatService: how peer chat servers reach users connected here.
//!
//! Runs on grpcio's completion-queue threads. Each call only looks users up
//! in the directory and posts pushes to the loops that own their
//! connections; it never touches a connection or waits for a loop.

use crate::chat::delivery::{Delivery, GroupPush, Push};
use crate::chat::metrics::ChatMetrics;
use crate::chat::services::Services;
use crate::grpc::reply;
use crate::store::model::StoredMessage;
use grpcio::{RpcContext, UnarySink};
use proto::body::{NotifyAddFriend, NotifyAuthFriend, NotifyConversationRead, NotifyPresence};
use proto::rpc::chat::user_notice::Notice;
use proto::rpc::chat::{
    AddFriendNotice, AuthFriendNotice, GroupPushBatch, KickRequest, PushReply, TextMessage,
    TextMessageBatch, UserBrief, UserNoticeBatch,
};
use std::sync::Arc;

/// The service handed to grpcio (cloned per call).
#[derive(Clone)]
pub struct ChatRpc {
    services: Arc<Services>,
}

impl ChatRpc {
    pub fn new(services: Arc<Services>) -> ChatRpc {
        ChatRpc { services }
    }

    fn delivery(&self) -> &Delivery {
        &self.services.delivery
    }
}

impl proto::rpc::chat::ChatService for ChatRpc {
    fn notify_add_friend(
        &mut self,
        ctx: RpcContext,
        req: AddFriendNotice,
        sink: UnarySink<PushReply>,
    ) {
        let from = req.from.unwrap_or_default();
        let notice = NotifyAddFriend {
            error: 0,
            applyuid: from.uid,
            name: from.name,
            desc: req.apply_text, // 1011's desc is what the applicant wrote
            icon: from.icon,
            sex: from.sex,
            nick: from.nick,
        };
        let pushed = self.delivery().push_local(req.to_uid, Push::AddFriend(notice));
        reply(&ctx, sink, Ok(PushReply { pushed: pushed.into() }));
    }

    fn notify_auth_friend(
        &mut self,
        ctx: RpcContext,
        req: AuthFriendNotice,
        sink: UnarySink<PushReply>,
    ) {
        let UserBrief { uid, name, nick, icon, sex, .. } = req.from.unwrap_or_default();
        let notice = NotifyAuthFriend {
            error: 0,
            fromuid: uid,
            touid: req.to_uid,
            name,
            nick,
            icon,
            sex,
            chat_datas: Vec::new(), // filled from the messages where it is written
        };
        let messages = req.messages.into_iter().map(from_proto).collect();
        let pushed = self.delivery().push_local(req.to_uid, Push::AuthFriend(notice, messages));
        reply(&ctx, sink, Ok(PushReply { pushed: pushed.into() }));
    }

    fn deliver_text_messages(
        &mut self,
        ctx: RpcContext,
        req: TextMessageBatch,
        sink: UnarySink<PushReply>,
    ) {
        // Consecutive messages for one user travel as one push, in order.
        let mut pushed = 0;
        let mut group: Vec<StoredMessage> = Vec::new();
        let mut group_to = 0;
        for m in req.messages {
            let to = if m.push_to == 0 { m.to_uid } else { m.push_to };
            if to != group_to {
                pushed += self.push_to_user(group_to, std::mem::take(&mut group));
                group_to = to;
            }
            group.push(from_proto(m));
        }
        pushed += self.push_to_user(group_to, group);
        reply(&ctx, sink, Ok(PushReply { pushed }));
    }

    fn deliver_group_messages(
        &mut self,
        ctx: RpcContext,
        req: GroupPushBatch,
        sink: UnarySink<PushReply>,
    ) {
        // Each push's frames are encoded once here, for all its recipients.
        let mut pushed = 0;
        for group in req.pushes {
            let messages: Vec<StoredMessage> = group.messages.into_iter().map(from_proto).collect();
            let count = messages.len() as u32;
            let push = Arc::new(GroupPush::new(messages));
            let reached = self.delivery().push_group_here(&group.recipients, &push, None);
            if !reached.is_empty() {
                pushed += count;
            }
        }
        reply(&ctx, sink, Ok(PushReply { pushed }));
    }

    fn notify_users(&mut self, ctx: RpcContext, req: UserNoticeBatch, sink: UnarySink<PushReply>) {
        let mut pushed = 0;
        for notice in req.notices {
            let push = match notice.notice {
                Some(Notice::Read(r)) => Push::Read(NotifyConversationRead {
                    conversation_id: r.conversation_id,
                    uid: r.reader,
                    seq: r.seq,
                }),
                Some(Notice::Presence(p)) => {
                    Push::Presence(NotifyPresence { uid: p.uid, online: p.online })
                }
                Some(Notice::CatchUp(_)) => Push::CatchUp,
                None => continue,
            };
            pushed += u32::from(self.delivery().push_local(notice.to_uid, push));
        }
        reply(&ctx, sink, Ok(PushReply { pushed }));
    }

    fn kick_user(&mut self, ctx: RpcContext, req: KickRequest, sink: UnarySink<PushReply>) {
        let pushed = self.delivery().kick_local(req.uid, req.session_id);
        reply(&ctx, sink, Ok(PushReply { pushed: pushed.into() }));
    }
}

impl ChatRpc {
    /// Pushes messages to the sessions of `to` here; returns how many were
    /// handed over.
    fn push_to_user(&self, to: u64, group: Vec<StoredMessage>) -> u32 {
        let count = group.len() as u32;
        if count == 0 {
            return 0;
        }
        if self.delivery().push_local(to, Push::Text(group)) {
            count
        } else {
            ChatMetrics::add(&self.services.metrics.pushes_dropped, 1);
            0
        }
    }
}

/// A stored message as a peer sent it (moved out of the request).
fn from_proto(m: TextMessage) -> StoredMessage {
    StoredMessage {
        message_id: m.message_id,
        thread_id: m.thread_id,
        seq: m.seq,
        sender: m.from_uid,
        receiver: m.to_uid,
        unique_id: m.unique_id,
        content: m.content,
        kind: u8::try_from(m.kind).unwrap_or(0),
        chat_time: m.chat_time,
        delivered: false,
        resent: false,
    }
}
