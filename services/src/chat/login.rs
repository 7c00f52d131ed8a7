//! LOGIN and HEARTBEAT.
//!
//! LOGIN runs in three hops, none of which blocks the loop:
//! 1. the token goes to the status server (async gRPC; the reply is posted
//!    back to this loop);
//! 2. the profile, friends and applications are read by a store worker;
//! 3. back on the loop: the session is bound in the directory (kicking an
//!    older session of the uid on this server), LOGIN_RSP is sent, the
//!    status server learns the user is online here (and names older sessions
//!    on other servers to kick), and pending messages start to flow.

use super::directory::Route;
use super::handler::{parse, ChatHandler};
use super::hub::{Hub, Push};
use super::metrics::ChatMetrics;
use super::router::Outbound;
use super::session::{OnlineUser, Phase, Session, SyncState};
use crate::store::model::{LoginData, UserRecord};
use crate::store::{JobKind, StoreConn, StoreError};
use grpcio::CallOption;
use proto::body::{ApplyInfo, FriendInfo, HeartbeatReq, LoginReq, LoginRsp};
use proto::rpc::status::{
    LoginRequest, ReportOfflineRequest, ReportOnlineRequest, Session as StatusSession, TokenStatus,
};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx, SendError};
use std::sync::Arc;

impl ChatHandler {
    pub(super) fn on_heartbeat(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, body: &[u8]) {
        let Some(req) = parse::<HeartbeatReq>(body) else {
            return self.send_error(ctx, conn, MsgId::HeartbeatRsp, ErrorCode::Json);
        };
        let uid = ctx.session(conn).and_then(Session::uid);
        if req.fromuid.is_some_and(|claimed| uid.is_some_and(|uid| uid != claimed)) {
            return self.send_error(ctx, conn, MsgId::HeartbeatRsp, ErrorCode::UidInvalid);
        }
        self.send_error(ctx, conn, MsgId::HeartbeatRsp, ErrorCode::Success);
    }

    pub(super) fn on_login(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, body: &[u8]) {
        let Some(req) = parse::<LoginReq>(body) else {
            return self.send_error(ctx, conn, MsgId::LoginRsp, ErrorCode::Json);
        };
        let Some(session) = ctx.session_mut(conn) else { return };
        if !matches!(session.phase, Phase::Anonymous) {
            // One login per connection: a second one is a duplicate request.
            return self.send_error(ctx, conn, MsgId::LoginRsp, ErrorCode::UserExist);
        }
        if req.uid == 0 || req.token.is_empty() || req.token.len() > 256 {
            ChatMetrics::add(&self.hub.metrics.login_failures, 1);
            return self.send_error(ctx, conn, MsgId::LoginRsp, ErrorCode::TokenInvalid);
        }
        session.phase = Phase::LoggingIn { uid: req.uid };
        let uid = req.uid;
        let request = LoginRequest { uid, token: req.token };
        let option = CallOption::default().timeout(self.hub.rules.rpc_timeout);
        match self.hub.status.login_async_opt(&request, option) {
            Ok(call) => {
                let handle = ctx.handle().clone();
                self.hub.status.spawn(async move {
                    let checked = call.await.map(|reply| reply.status).map_err(|e| e.to_string());
                    let posted =
                        handle.post(move |h, ctx| h.on_token_checked(ctx, conn, uid, checked));
                    if posted.is_err() {
                        log::warn!("loop inbox full: a login result was dropped");
                    }
                });
            }
            Err(e) => {
                log::warn!("cannot ask the status server about a token: {e}");
                self.fail_login(ctx, conn, ErrorCode::RpcFailed);
            }
        }
    }

    /// Hop 2: the status server has answered about the token.
    fn on_token_checked(
        &mut self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        uid: u64,
        checked: Result<i32, String>,
    ) {
        if !self.is_logging_in(ctx, conn, uid) {
            return;
        }
        match checked.map(TokenStatus::from_i32) {
            Ok(Some(TokenStatus::TokenValid)) => {}
            Ok(_) => return self.fail_login(ctx, conn, ErrorCode::TokenInvalid),
            Err(e) => {
                log::warn!("status server did not check a token: {e}");
                return self.fail_login(ctx, conn, ErrorCode::RpcFailed);
            }
        }
        let submitted = self.store_job(
            ctx,
            JobKind::Idempotent,
            move |store| store.login_data(uid),
            move |h, ctx, loaded| h.on_profile_loaded(ctx, conn, uid, loaded),
        );
        if let Err(e) = submitted {
            self.fail_login(ctx, conn, e.error_code());
        }
    }

    /// Hop 3: the profile is loaded; the session goes online.
    fn on_profile_loaded(
        &mut self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        uid: u64,
        loaded: Result<Option<LoginData>, StoreError>,
    ) {
        if !self.is_logging_in(ctx, conn, uid) {
            return;
        }
        let data = match loaded {
            Ok(Some(data)) => data,
            Ok(None) => return self.fail_login(ctx, conn, ErrorCode::UidInvalid),
            Err(e) => return self.fail_login(ctx, conn, e.error_code()),
        };
        let session_id = self.hub.new_session_id();
        let route = Route { session_id, loop_index: ctx.loop_index(), conn };
        if let Some(older) = self.hub.directory.bind(uid, route) {
            self.hub.push_to(older, Push::Kick); // logged in twice on this server
        }
        let response = login_response(&data);
        let user = OnlineUser {
            uid,
            session_id,
            friends: data.friends.iter().map(|f| f.user.uid).collect(),
            profile: UserRecord { password_hash: String::new(), ..data.user },
            sync: SyncState::default(),
        };
        if let Some(session) = ctx.session_mut(conn) {
            session.phase = Phase::Online(Box::new(user));
        }
        ChatMetrics::add(&self.hub.metrics.logins, 1);
        self.send_login_response(ctx, conn, response);
        report_online(&self.hub, uid, session_id);
        self.start_sync(ctx, conn);
    }

    fn is_logging_in(&self, ctx: &Ctx<Self>, conn: ConnId, uid: u64) -> bool {
        ctx.session(conn)
            .is_some_and(|s| matches!(s.phase, Phase::LoggingIn { uid: u } if u == uid))
    }

    fn fail_login(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, code: ErrorCode) {
        ChatMetrics::add(&self.hub.metrics.login_failures, 1);
        if let Some(session) = ctx.session_mut(conn) {
            session.phase = Phase::Anonymous; // may try again before the deadline
        }
        self.send_error(ctx, conn, MsgId::LoginRsp, code);
    }

    /// LOGIN_RSP; a user with so many friends or applications that the
    /// frame would exceed the format's 64 KiB gets the first ones that fit.
    fn send_login_response(&mut self, ctx: &mut Ctx<Self>, conn: ConnId, mut response: LoginRsp) {
        // Serialized straight into the output buffer; only an answer that
        // does not fit is cut down and written again.
        loop {
            let written = ctx.send_frame_with(conn, MsgId::LoginRsp.code(), |out| {
                serde_json::to_writer(out, &response).map_err(std::io::Error::other)
            });
            match written {
                Err(SendError::TooLarge { .. })
                    if !(response.friend_list.is_empty() && response.apply_list.is_empty()) =>
                {
                    response.friend_list.truncate(response.friend_list.len() / 2);
                    response.apply_list.truncate(response.apply_list.len() / 2);
                }
                Ok(()) => return ChatMetrics::add(&self.hub.metrics.frames_out, 1),
                Err(SendError::NotOpen) => return, // closed meanwhile
                Err(e) => return log::warn!("LOGIN_RSP not sent: {e}"),
            }
        }
    }
}

fn login_response(data: &LoginData) -> LoginRsp {
    let u = &data.user;
    LoginRsp {
        error: 0,
        uid: u.uid,
        name: u.name.clone(),
        email: u.email.clone(),
        nick: u.nick.clone(),
        desc: u.desc.clone(),
        sex: u.sex,
        icon: u.icon.clone(),
        apply_list: data
            .applications
            .iter()
            .map(|a| ApplyInfo {
                uid: a.applicant.uid,
                name: a.applicant.name.clone(),
                nick: a.applicant.nick.clone(),
                icon: a.applicant.icon.clone(),
                sex: a.applicant.sex,
                desc: a.apply_text.clone(),
                status: a.status,
            })
            .collect(),
        friend_list: data
            .friends
            .iter()
            .map(|f| FriendInfo {
                uid: f.user.uid,
                name: f.user.name.clone(),
                nick: f.user.nick.clone(),
                icon: f.user.icon.clone(),
                sex: f.user.sex,
                desc: f.user.desc.clone(),
                back: f.remark.clone(),
            })
            .collect(),
    }
}

/// Tells the status server that `uid` is online here (async); sessions it
/// says were replaced on other servers are kicked through the router.
fn report_online(hub: &Arc<Hub>, uid: u64, session_id: u64) {
    let request = ReportOnlineRequest {
        server: hub.name.clone(),
        sessions: vec![StatusSession { uid, session_id }],
    };
    let option = CallOption::default().timeout(hub.rules.rpc_timeout);
    match hub.status.report_online_async_opt(&request, option) {
        Ok(call) => {
            let hub = hub.clone();
            hub.status.clone().spawn(async move {
                match call.await {
                    Ok(reply) => {
                        for replaced in reply.kick {
                            if replaced.server != hub.name {
                                hub.forward(Outbound::Kick(replaced));
                            } // here: already kicked when the new session was bound
                        }
                    }
                    // The reporter re-reports every session when the status server returns.
                    Err(e) => log::warn!("cannot report uid {uid} online: {e}"),
                }
            });
        }
        Err(e) => log::warn!("cannot report uid {uid} online: {e}"),
    }
}

/// Tells the status server a session ended (async, best effort: a stale
/// session id removes nothing there).
pub(super) fn report_offline(hub: &Hub, uid: u64, session_id: u64) {
    let request = ReportOfflineRequest {
        server: hub.name.clone(),
        sessions: vec![StatusSession { uid, session_id }],
    };
    let option = CallOption::default().timeout(hub.rules.rpc_timeout);
    match hub.status.report_offline_async_opt(&request, option) {
        Ok(call) => hub.status.spawn(async move {
            if let Err(e) = call.await {
                log::debug!("cannot report uid {uid} offline: {e}");
            }
        }),
        Err(e) => log::debug!("cannot report uid {uid} offline: {e}"),
    }
}
