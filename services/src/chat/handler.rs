//! The chat protocol on one loop: frames in, requests dispatched, answers
//! and pushes out.
//!
//! One `ChatHandler` per loop, called on that loop's thread only. Requests
//! that need the store or the status server start the work elsewhere (the
//! DB pool, the message writer, an async gRPC call) and come back as a task
//! posted to this loop's inbox, where the connection is looked up again: it
//! may have closed, or logged in as someone else, meanwhile.
//!
//! The requests live in sibling modules, each an `impl ChatHandler` block:
//! `login`, `friends`, `messages` (text, acks, threads, history) and `sync`
//! (pushing what arrived while the user was offline).

use super::directory::Route;
use super::hub::{Hub, Push};
use super::metrics::ChatMetrics;
use super::session::{OnlineUser, Phase, Session};
use crate::store::{AnyConn, JobKind, StoreError};
use proto::body::{ErrorNotify, ErrorOnly, NotifyOffline};
use proto::{ErrorCode, MsgId};
use reactor::{CloseReason, ConnId, Ctx, Frame, FrameCodec, FrameError, Handler, SendError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// The chat server's handler for one loop.
pub struct ChatHandler {
    pub(super) hub: Arc<Hub>,
}

impl ChatHandler {
    pub fn new(hub: Arc<Hub>) -> ChatHandler {
        ChatHandler { hub }
    }
}

impl Handler for ChatHandler {
    type Codec = FrameCodec;
    type Session = Session;

    fn on_connect(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        ctx.set_idle_timeout(conn, Some(self.hub.rules.idle_timeout));
        ctx.run_after(self.hub.rules.login_deadline, move |handler, ctx| {
            let online = ctx.session(conn).is_some_and(|s| s.online().is_some());
            if ctx.is_open(conn) && !online {
                handler.protocol_error(ctx, conn, ErrorCode::NotLoggedIn, "login deadline passed");
            }
        });
    }

    fn on_frame(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, frame: Frame<'_>) {
        let Some(session) = ctx.session(conn) else { return };
        if matches!(session.phase, Phase::Ended) {
            return; // kicked: only the close is left
        }
        let logged_in = session.online().is_some();
        match MsgId::from_u16(frame.id) {
            Some(MsgId::HeartBeatReq) => self.on_heartbeat(ctx, conn, frame.body),
            Some(MsgId::LoginReq) => self.on_login(ctx, conn, frame.body),
            _ if !logged_in => {
                self.protocol_error(ctx, conn, ErrorCode::NotLoggedIn, "log in first")
            }
            Some(MsgId::SearchUserReq) => self.on_search_user(ctx, conn, frame.body),
            Some(MsgId::AddFriendReq) => self.on_add_friend(ctx, conn, frame.body),
            Some(MsgId::AuthFriendReq) => self.on_auth_friend(ctx, conn, frame.body),
            Some(MsgId::TextChatMsgReq) => self.on_text(ctx, conn, frame.body),
            Some(MsgId::MsgDeliveredAck) => self.on_delivered_ack(ctx, conn, frame.body),
            Some(MsgId::LoadChatThreadReq) => self.on_load_threads(ctx, conn, frame.body),
            Some(MsgId::CreatePrivateChatReq) => self.on_create_private_chat(ctx, conn, frame.body),
            Some(MsgId::LoadChatMsgReq) => self.on_load_history(ctx, conn, frame.body),
            _ => {
                // Unknown after login: tell the client, keep the session.
                ChatMetrics::add(&self.hub.metrics.bad_requests, 1);
                let reason = format!("unknown message id {}", frame.id);
                let notice = ErrorNotify { error: ErrorCode::ProtocolError.code(), reason };
                self.send(ctx, conn, MsgId::ErrorNotify, &notice);
            }
        }
    }

    fn on_frame_error(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, error: &FrameError) {
        // The loop closes the connection after this; the notice goes first.
        ChatMetrics::add(&self.hub.metrics.bad_requests, 1);
        let notice = ErrorNotify { error: ErrorCode::TooLarge.code(), reason: error.to_string() };
        self.send(ctx, conn, MsgId::ErrorNotify, &notice);
    }

    fn on_close(&mut self, _: &mut Ctx<Self>, _: ConnId, session: Session, _: &CloseReason) {
        if let Phase::Online(user) = session.phase {
            self.end_session(&user);
        }
    }
}

// ----- shared by the request modules -------------------------------------------

impl ChatHandler {
    /// Queues `body` as JSON in a frame `id`; false if the connection is gone.
    pub(super) fn send<T: Serialize>(
        &self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        id: MsgId,
        body: &T,
    ) -> bool {
        let written = ctx.send_frame_with(conn, id.code(), |out| {
            serde_json::to_writer(out, body).map_err(std::io::Error::other)
        });
        match written {
            Ok(()) => {
                ChatMetrics::add(&self.hub.metrics.frames_out, 1);
                true
            }
            Err(SendError::NotOpen) => false,
            Err(e) => {
                log::warn!("cannot send frame {}: {e}", id.code());
                false
            }
        }
    }

    /// Answers `id` with only an error code.
    pub(super) fn send_error(&self, ctx: &mut Ctx<Self>, conn: ConnId, id: MsgId, code: ErrorCode) {
        if matches!(code, ErrorCode::Json | ErrorCode::TooLarge | ErrorCode::UidInvalid) {
            ChatMetrics::add(&self.hub.metrics.bad_requests, 1);
        }
        self.send(ctx, conn, id, &ErrorOnly { error: code.code() });
    }

    /// Sends 1103 with `code` and closes: for what the protocol does not allow.
    pub(super) fn protocol_error(
        &self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        code: ErrorCode,
        reason: &str,
    ) {
        ChatMetrics::add(&self.hub.metrics.bad_requests, 1);
        let notice = ErrorNotify { error: code.code(), reason: reason.into() };
        self.send(ctx, conn, MsgId::ErrorNotify, &notice);
        ctx.shutdown(conn);
    }

    /// Unroutes a session that ended (unless a newer one already replaced
    /// it here) and tells the status server.
    fn end_session(&self, user: &OnlineUser) {
        self.hub.directory.unbind(user.uid, user.session_id);
        super::login::report_offline(&self.hub, user.uid, user.session_id);
    }

    /// The logged-in uid of `conn` and its session id.
    pub(super) fn online_ids(&self, ctx: &Ctx<Self>, conn: ConnId) -> Option<(u64, u64)> {
        ctx.session(conn).and_then(Session::online).map(|u| (u.uid, u.session_id))
    }

    /// Runs `job` on a store worker, then `then` on this loop with its result.
    /// Never waits: a full store queue is returned at once as `Busy`.
    pub(super) fn store_job<T, J, Then>(
        &self,
        ctx: &Ctx<Self>,
        kind: JobKind,
        job: J,
        then: Then,
    ) -> Result<(), StoreError>
    where
        T: Send + 'static,
        J: FnMut(&mut AnyConn) -> Result<T, StoreError> + Send + 'static,
        Then:
            FnOnce(&mut ChatHandler, &mut Ctx<ChatHandler>, Result<T, StoreError>) + Send + 'static,
    {
        let handle = ctx.handle().clone();
        self.hub.store.try_submit(kind, job, move |result| {
            if handle.post(move |handler, ctx| then(handler, ctx, result)).is_err() {
                log::warn!("loop {} inbox full: a store result was dropped", handle.index());
            }
        })
    }

    /// A push for the user of `route`, on this loop (posted by the hub).
    pub fn deliver(&mut self, ctx: &mut Ctx<Self>, route: Route, push: Push) {
        let Some(user) = ctx.session_mut(route.conn).and_then(Session::online_mut) else {
            return;
        };
        if user.session_id != route.session_id {
            return;
        }
        let uid = user.uid;
        match push {
            Push::Text(messages) => {
                if user.sync.active {
                    user.sync.missed = true; // the sync reads them from the store, in order
                    return;
                }
                self.push_messages(ctx, route.conn, &messages);
            }
            Push::AddFriend(notice) => {
                self.send(ctx, route.conn, MsgId::NotifyAddFriendReq, &notice);
            }
            Push::AuthFriend(notice) => {
                user.friends.insert(notice.fromuid);
                self.send(ctx, route.conn, MsgId::NotifyAuthFriendReq, &notice);
            }
            Push::Kick => {
                ChatMetrics::add(&self.hub.metrics.kicks, 1);
                // The session ends now, not when the socket is finally gone
                // (the peer may take its time to close): from here on,
                // pushes for the uid must find the newer session only.
                let session = ctx.session_mut(route.conn).expect("checked above");
                if let Phase::Online(user) = std::mem::replace(&mut session.phase, Phase::Ended) {
                    self.end_session(&user);
                }
                let body = NotifyOffline { error: 0, uid };
                self.send(ctx, route.conn, MsgId::NotifyOffLineReq, &body);
                ctx.shutdown(route.conn);
            }
        }
    }
}

/// `body` as `T`, or `None` for anything that is not JSON of that shape.
pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}
