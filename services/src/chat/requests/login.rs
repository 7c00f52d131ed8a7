//! LOGIN and HEARTBEAT.
//!
//! LOGIN runs in four hops, none of which blocks the loop:
//! 1. the token goes to the status server (async gRPC; the reply is posted
//!    back to this loop);
//! 2. a store worker records the device (if the login names one:
//!    `crate::device`) and reads the profile, friends and applications;
//! 3. the status server says which friends are online (for LOGIN_RSP's
//!    friend list; skipped without friends, and a failure only means "all
//!    offline");
//! 4. back on the loop: the session is bound in the directory (kicking the
//!    sessions of the uid on this server that it replaces: the same device
//!    kind, or all of them for a legacy login), LOGIN_RSP is sent, the
//!    status server learns the session is online here (and names replaced
//!    sessions on other servers to kick), and the device's pending messages
//!    start to flow (when the dialect's client wants them now:
//!    `crate::dialect`).

use super::{claims_self, parse};
use crate::chat::delivery::directory::{Online, Route};
use crate::chat::delivery::outbound::Outbound;
use crate::chat::delivery::presence_queue::PresenceEvent;
use crate::chat::delivery::{sync, Push};
use crate::chat::metrics::ChatMetrics;
use crate::chat::reply::{send_error, send_ok, write};
use crate::chat::services::{store_job, ChatLoop};
use crate::chat::session::OnlineUser;
use crate::device::Device;
use crate::store::model::LoginData;
use crate::store::{JobKind, StoreConn, StoreError};
use proto::body::{ApplyInfo, FriendInfo, HeartbeatReq, LoginReq, LoginRsp};
use proto::rpc::status::TokenStatus;
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx, SendError};
use std::collections::HashSet;

pub fn on_heartbeat<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let Some(req) = parse::<HeartbeatReq>(body) else {
        return send_error(h, ctx, conn, MsgId::HeartbeatRsp, ErrorCode::Json);
    };
    // Before login there is no uid to hold the claim against.
    let uid = ctx.session(conn).and_then(|s| s.uid());
    if uid.is_some_and(|uid| !claims_self(uid, req.fromuid)) {
        return send_error(h, ctx, conn, MsgId::HeartbeatRsp, ErrorCode::UidInvalid);
    }
    send_ok(h, ctx, conn, MsgId::HeartbeatRsp);
}

pub fn on_login<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let Some(req) = parse::<LoginReq>(body) else {
        return send_error(h, ctx, conn, MsgId::LoginRsp, ErrorCode::Json);
    };
    let Some(session) = ctx.session_mut(conn) else { return };
    if !session.may_log_in() {
        // One login per connection: a second one is a duplicate request.
        return send_error(h, ctx, conn, MsgId::LoginRsp, ErrorCode::UserExist);
    }
    if req.uid == 0 || req.token.is_empty() || req.token.len() > 256 {
        ChatMetrics::add(&h.services().metrics.login_failures, 1);
        return send_error(h, ctx, conn, MsgId::LoginRsp, ErrorCode::TokenInvalid);
    }
    let Some(device) = Device::from_login(&req.device_id, &req.kind) else {
        ChatMetrics::add(&h.services().metrics.login_failures, 1);
        return send_error(h, ctx, conn, MsgId::LoginRsp, ErrorCode::Json);
    };
    session.begin_login(req.uid);
    let uid = req.uid;
    let handle = ctx.handle().clone();
    h.services().presence.check_token(uid, req.token, move |checked| {
        let checked =
            move |h: &mut _, ctx: &mut _| on_token_checked(h, ctx, conn, uid, device, checked);
        if handle.post(checked).is_err() {
            log::warn!("loop inbox full: a login result was dropped");
        }
    });
}

/// Hop 2: the status server has answered about the token.
fn on_token_checked<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    uid: u64,
    device: Device,
    checked: Result<i32, String>,
) {
    if !is_logging_in(ctx, conn, uid) {
        return;
    }
    match checked.map(TokenStatus::from_i32) {
        Ok(Some(TokenStatus::TokenValid)) => {}
        Ok(_) => return fail_login(h, ctx, conn, ErrorCode::TokenInvalid),
        Err(e) => {
            log::warn!("status server did not check a token: {e}");
            return fail_login(h, ctx, conn, ErrorCode::RpcFailed);
        }
    }
    let max_devices = h.services().rules.max_devices_per_user;
    let (id, kind) = (device.id.clone(), device.kind.wire());
    let submitted = store_job(
        ctx,
        h.services(),
        JobKind::Idempotent,
        move |store| {
            if !id.is_empty() {
                store.register_device(uid, &id, kind, max_devices)?;
            }
            store.login_data(uid)
        },
        move |h, ctx, loaded| on_profile_loaded(h, ctx, conn, uid, device, loaded),
    );
    if let Err(e) = submitted {
        fail_login(h, ctx, conn, e.error_code());
    }
}

/// Hop 3: the profile is loaded; the friends' presence is asked for (for
/// LOGIN_RSP), unless there are no friends.
fn on_profile_loaded<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    uid: u64,
    device: Device,
    loaded: Result<Option<LoginData>, StoreError>,
) {
    if !is_logging_in(ctx, conn, uid) {
        return;
    }
    let data = match loaded {
        Ok(Some(data)) => data,
        Ok(None) => return fail_login(h, ctx, conn, ErrorCode::UidInvalid),
        Err(e) => return fail_login(h, ctx, conn, e.error_code()),
    };
    if data.friends.is_empty() {
        return go_online(h, ctx, conn, device, data, HashSet::new());
    }
    let friends = data.friends.iter().map(|f| f.user.uid).collect();
    let handle = ctx.handle().clone();
    h.services().presence.online_among(friends, move |online| {
        let posted = handle.post(move |h, ctx| {
            if is_logging_in(ctx, conn, uid) {
                go_online(h, ctx, conn, device, data, online);
            }
        });
        if posted.is_err() {
            log::warn!("loop inbox full: a login was dropped");
        }
    });
}

/// Hop 4: the session goes online (`online`: the friends who are).
fn go_online<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    device: Device,
    data: LoginData,
    online_friends: HashSet<u64>,
) {
    let uid = data.user.uid;
    let services = h.services().clone();
    let session_id = services.new_session_id();
    let route = Route { session_id, loop_index: ctx.loop_index(), conn, kind: device.kind };
    for older in services.delivery.directory().bind(uid, route, &device) {
        services.delivery.push_to(older, Push::Kick); // replaced on this server
    }
    let response = login_response(&data, &online_friends);
    let friend_uids: Vec<u64> = data.friends.iter().map(|f| f.user.uid).collect();
    let friends = friend_uids.iter().copied().collect();
    let Some(session) = ctx.session_mut(conn) else { return };
    let online = Online { uid, session_id, device: device.clone() };
    session.go_online(OnlineUser::new(session_id, device, data.user, friends));
    let dialect = session.dialect();
    if dialect.syncs_on_request() {
        if let Some(user) = session.online_mut() {
            user.sync().wait_for_request();
        }
    }
    if !dialect.sends_heartbeats() {
        // A quiet client is not a dead one: the kernel watches instead.
        ctx.set_idle_timeout(conn, None);
        if let Err(e) = ctx.set_keepalive(conn, services.rules.idle_timeout) {
            log::warn!("no TCP keep-alive for uid {uid}: {e}");
        }
    }
    ChatMetrics::add(&services.metrics.logins, 1);
    send_login_response(h, ctx, conn, response);
    let kicker = services.clone();
    services.presence.report_online(&online, move |replaced, first| {
        for location in replaced {
            if location.server != kicker.name {
                kicker.delivery.forward(Outbound::Kick(location));
            } // here: already kicked when the new session was bound
        }
        if first {
            kicker.presence_events.send(PresenceEvent::Online { uid, friends: friend_uids });
        }
    });
    if dialect.syncs_at_login() {
        sync::start(h, ctx, conn);
    } // else the client asks for it, or loads its history itself
}

fn is_logging_in<H: ChatLoop>(ctx: &Ctx<H>, conn: ConnId, uid: u64) -> bool {
    ctx.session(conn).is_some_and(|s| s.is_logging_in(uid))
}

fn fail_login<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, code: ErrorCode) {
    ChatMetrics::add(&h.services().metrics.login_failures, 1);
    if let Some(session) = ctx.session_mut(conn) {
        session.fail_login(); // may try again before the deadline
    }
    send_error(h, ctx, conn, MsgId::LoginRsp, code);
}

/// LOGIN_RSP; a user with so many friends or applications that the frame
/// would exceed the format's 64 KiB gets the first ones that fit.
fn send_login_response<H: ChatLoop>(h: &H, ctx: &mut Ctx<H>, conn: ConnId, mut response: LoginRsp) {
    // Serialized straight into the output buffer; only an answer that
    // does not fit is cut down and written again.
    loop {
        let written = write(ctx, conn, MsgId::LoginRsp, &response);
        match written {
            Err(SendError::TooLarge { .. })
                if !(response.friend_list.is_empty() && response.apply_list.is_empty()) =>
            {
                response.friend_list.truncate(response.friend_list.len() / 2);
                response.apply_list.truncate(response.apply_list.len() / 2);
            }
            Ok(()) => return ChatMetrics::add(&h.services().metrics.frames_out, 1),
            Err(SendError::NotOpen) => return, // closed meanwhile
            Err(e) => return log::warn!("LOGIN_RSP not sent: {e}"),
        }
    }
}

fn login_response(data: &LoginData, online_friends: &HashSet<u64>) -> LoginRsp {
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
                online: online_friends.contains(&f.user.uid),
            })
            .collect(),
    }
}
