//! The chat protocol on one loop: the reactor handler and its dispatch table.
//!
//! One `ChatHandler` per loop, called on that loop's thread only. It owns no
//! state of its own beyond the shared [`Services`]: each connection's state
//! is its [`Session`] in the loop. A frame is looked up in the table below
//! and handed to its request (`requests/`); a push posted by delivery is
//! written by `delivery/frames.rs`; drained output drives the sync.

use super::delivery::{frames, sync};
use super::metrics::ChatMetrics;
use super::reply::{protocol_error, send};
use super::requests::{conversations, friends, groups, history, login, texts};
use super::services::{ChatLoop, Services};
use super::session::Session;
use crate::dialect::{Dialect, Inbound};
use proto::body::ErrorNotify;
use proto::{ErrorCode, MsgId};
use reactor::{CloseReason, ConnId, Ctx, Frame, FrameCodec, FrameError, Handler};
use std::sync::Arc;

/// The chat server's handler for one loop.
pub struct ChatHandler {
    services: Arc<Services>,
    /// The dialect of each listener, by listener number.
    dialects: Arc<[Dialect]>,
}

impl ChatHandler {
    pub fn new(services: Arc<Services>, dialects: Arc<[Dialect]>) -> ChatHandler {
        ChatHandler { services, dialects }
    }
}

impl ChatLoop for ChatHandler {
    fn services(&self) -> &Arc<Services> {
        &self.services
    }
}

/// A request, as the dispatch table calls it.
type Request = fn(&mut ChatHandler, &mut Ctx<ChatHandler>, ConnId, &[u8]);

/// What a logged-in session may ask, by message id.
fn request_for(id: MsgId) -> Option<Request> {
    Some(match id {
        MsgId::SearchUserReq => friends::on_search_user,
        MsgId::AddFriendReq => friends::on_add_friend,
        MsgId::AuthFriendReq => friends::on_auth_friend,
        MsgId::TextChatMsgReq => texts::on_text,
        MsgId::MsgDeliveredAck => texts::on_delivered_ack,
        MsgId::ConversationAck => texts::on_conversation_ack,
        MsgId::LoadChatThreadReq => history::on_load_threads,
        MsgId::CreatePrivateChatReq => history::on_create_private_chat,
        MsgId::LoadChatMsgReq => history::on_load_history,
        MsgId::ConversationRead => conversations::on_conversation_read,
        MsgId::LoadConversationsReq => conversations::on_load_conversations,
        MsgId::LoadConversationRangeReq => conversations::on_load_range,
        MsgId::GroupCreateReq => groups::on_create,
        MsgId::GroupInviteReq => groups::on_invite,
        MsgId::GroupLeaveReq => groups::on_leave,
        MsgId::GroupRemoveReq => groups::on_remove,
        MsgId::GroupSetRoleReq => groups::on_set_role,
        MsgId::GroupUpdateReq => groups::on_update,
        MsgId::GroupDissolveReq => groups::on_dissolve,
        MsgId::LoadGroupsReq => groups::on_load_groups,
        MsgId::GroupInfoReq => groups::on_group_info,
        MsgId::GroupMembersReq => groups::on_members,
        MsgId::GroupReadersReq => groups::on_readers,
        _ => return None,
    })
}

impl Handler for ChatHandler {
    type Codec = FrameCodec;
    type Session = Session;

    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        let listener = ctx.listener(conn).unwrap_or(0);
        let dialect = self.dialects.get(listener).copied().unwrap_or_default();
        if let Some(session) = ctx.session_mut(conn) {
            session.set_dialect(dialect);
        }
        ctx.set_idle_timeout(conn, Some(self.services.rules.idle_timeout));
        ctx.run_after(self.services.rules.login_deadline, move |h, ctx| {
            let online = ctx.session(conn).is_some_and(|s| s.online().is_some());
            if ctx.is_open(conn) && !online {
                ChatMetrics::add(&h.services.metrics.login_deadline_closes, 1);
                protocol_error(h, ctx, conn, ErrorCode::NotLoggedIn, "login deadline passed");
            }
        });
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        let Some(session) = ctx.session(conn) else { return };
        if session.has_ended() {
            return; // kicked: only the close is left
        }
        let logged_in = session.online().is_some();
        match session.dialect().inbound(frame.id, frame.body) {
            Inbound::Request(MsgId::HeartBeatReq, body) => {
                login::on_heartbeat(self, ctx, conn, &body)
            }
            Inbound::Request(MsgId::LoginReq, body) => login::on_login(self, ctx, conn, &body),
            _ if !logged_in => {
                protocol_error(self, ctx, conn, ErrorCode::NotLoggedIn, "log in first")
            }
            Inbound::Request(id, body) if request_for(id).is_some() => {
                request_for(id).expect("checked")(self, ctx, conn, &body)
            }
            Inbound::SyncPending => sync::start(self, ctx, conn),
            Inbound::AcknowledgeNextPush => texts::on_next_push_acknowledged(self, ctx, conn),
            Inbound::Request(..) | Inbound::Unknown => {
                // Unknown after login: tell the client, keep the session.
                ChatMetrics::add(&self.services.metrics.bad_requests, 1);
                let reason = format!("unknown message id {}", frame.id);
                let notice = ErrorNotify { error: ErrorCode::ProtocolError.code(), reason };
                send(self, ctx, conn, MsgId::ErrorNotify, &notice);
            }
        }
    }

    fn on_frame_error(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, error: &FrameError) {
        // The loop closes the connection after this; the notice goes first.
        ChatMetrics::add(&self.services.metrics.bad_requests, 1);
        let notice = ErrorNotify { error: ErrorCode::TooLarge.code(), reason: error.to_string() };
        send(self, ctx, conn, MsgId::ErrorNotify, &notice);
    }

    fn on_drained(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        sync::on_drained(self, ctx, conn);
    }

    fn on_close(
        &mut self,
        _: &mut Ctx<Self>,
        _: ConnId,
        mut session: Session,
        reason: &CloseReason,
    ) {
        self.services.metrics.closed_because(reason);
        if let Some(user) = session.end() {
            self.services.end_session(&user);
        }
    }
}

/// Posts pushes to the loops of a pool (for [`super::delivery::Delivery`]).
pub fn posters(handles: &[reactor::LoopHandle<ChatHandler>]) -> Vec<super::delivery::Poster> {
    handles
        .iter()
        .map(|handle| {
            let handle = handle.clone();
            let post: super::delivery::Poster = Box::new(move |routes, push| {
                handle.post(move |h, ctx| frames::deliver_to_all(h, ctx, routes, push))
            });
            post
        })
        .collect()
}
