//! SEARCH_USER, ADD_FRIEND and AUTH_FRIEND, with their pushes (1011, 1015).
//! What an application or an acceptance writes is decided in the store
//! (`store::friends`), in one transaction.

use super::{parse, request, valid_pair};
use crate::chat::delivery::frames::history_item;
use crate::chat::delivery::Push;
use crate::chat::reply::{send, send_error, send_ok};
use crate::chat::services::ChatLoop;
use crate::store::friends;
use crate::store::model::UserRecord;
use crate::store::{JobKind, StoreConn, StoreError};
use proto::body::{
    AddFriendReq, AuthFriendReq, AuthFriendRsp, NotifyAddFriend, NotifyAuthFriend, SearchUserReq,
    SearchUserRsp,
};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx};

/// Longest apply text and remark name accepted (characters).
const MAX_APPLY_TEXT: usize = 255;
const MAX_REMARK: usize = 64;

/// A uid (all digits) or a user name. E-mail addresses are never shown.
pub fn on_search_user<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::SearchUserRsp;
    let Some(req) = parse::<SearchUserReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let key = req.uid.trim().to_string();
    if key.is_empty() || key.len() > 64 {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| match key.parse::<u64>() {
            Ok(uid) if key.bytes().all(|b| b.is_ascii_digit()) => store.user_by_uid(uid),
            _ => store.user_by_name(&key),
        },
        move |h, ctx, found| match found {
            Ok(Some(user)) => {
                let response = SearchUserRsp {
                    error: 0,
                    uid: user.uid,
                    name: user.name,
                    nick: user.nick,
                    desc: user.desc,
                    sex: user.sex,
                    icon: user.icon,
                };
                send(h, ctx, conn, reply_id, &response);
            }
            Ok(None) => send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid),
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}

/// Records an application from the session's user to `touid` and notifies
/// `touid` wherever they are connected.
pub fn on_add_friend<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::AddFriendRsp;
    let Some(req) = parse::<AddFriendReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let from = me.uid();
    if !valid_pair(from, req.uid, req.touid) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    if req.applyname.chars().count() > MAX_APPLY_TEXT || req.bakname.chars().count() > MAX_REMARK {
        return send_error(h, ctx, conn, reply_id, ErrorCode::TooLarge);
    }
    let notice = applicant_notice(me.profile(), &req.applyname);
    let to = req.touid;
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Once,
        move |store| {
            if store.user_by_uid(to)?.is_none() {
                return Ok(false);
            }
            store.apply_friend(from, to, &req.applyname, &req.bakname)?;
            Ok(true)
        },
        move |h, ctx, applied: Result<bool, StoreError>| match applied {
            Ok(true) => {
                send_ok(h, ctx, conn, reply_id);
                h.services().delivery.push_everywhere(to, Push::AddFriend(notice), None);
            }
            Ok(false) => send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid),
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}

/// The session's user accepts `touid`'s application: both become friends
/// (one transaction in the store), the applicant is notified.
pub fn on_auth_friend<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::AuthFriendRsp;
    let Some(req) = parse::<AuthFriendReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(me) = ctx.session(conn).and_then(|s| s.online()) else { return };
    let acceptor = me.uid();
    if !valid_pair(acceptor, req.fromuid, req.touid) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid);
    }
    if req.back.chars().count() > MAX_REMARK {
        return send_error(h, ctx, conn, reply_id, ErrorCode::TooLarge);
    }
    let p = me.profile();
    let notice = NotifyAuthFriend {
        error: 0,
        fromuid: acceptor,
        touid: req.touid,
        name: p.name.clone(),
        nick: p.nick.clone(),
        icon: p.icon.clone(),
        sex: p.sex,
        chat_datas: Vec::new(),
    };
    let applicant = req.touid;
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Once,
        move |store| {
            store.accept_friend(applicant, acceptor, &req.back)?;
            store.user_by_uid(applicant)
        },
        move |h, ctx, accepted| match accepted {
            Ok(Some(user)) => {
                if let Some(me) = ctx.session_mut(conn).and_then(|s| s.online_mut()) {
                    me.add_friend(applicant);
                }
                let response = AuthFriendRsp {
                    error: 0,
                    uid: user.uid,
                    name: user.name,
                    nick: user.nick,
                    icon: user.icon,
                    sex: user.sex,
                    chat_datas: Vec::new(),
                };
                store_first_message(h, ctx, conn, acceptor, applicant, response, notice);
            }
            Ok(None) => send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid),
            // No pending application from that user.
            Err(StoreError::Conflict(_)) => {
                send_error(h, ctx, conn, reply_id, ErrorCode::UidInvalid)
            }
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}

/// Stores the pair's first message through the writer (idempotent: one per
/// pair), then answers 1014 and pushes 1015 to the applicant, both carrying
/// it. If it cannot be stored, both go without it: the friendship is made.
fn store_first_message<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    acceptor: u64,
    applicant: u64,
    response: AuthFriendRsp,
    notice: NotifyAuthFriend,
) {
    let first = friends::first_message(applicant, acceptor);
    let handle = ctx.handle().clone();
    let services = h.services().clone();
    let unqueued = (response.clone(), notice.clone()); // for when the writer refuses it
    let submitted = h.services().writer.submit(vec![first], move |stored| {
        let stored = stored.unwrap_or_else(|e| {
            log::warn!("the first message of {acceptor} and {applicant} was not stored: {e}");
            Vec::new()
        });
        let mut response = response;
        response.chat_datas = stored.iter().map(history_item).collect();
        services.delivery.push_everywhere(applicant, Push::AuthFriend(notice, stored), None);
        let posted = handle.post(move |h, ctx| {
            send(h, ctx, conn, MsgId::AuthFriendRsp, &response);
        });
        if posted.is_err() {
            log::warn!("loop inbox full: a 1014 was dropped (the friendship is stored)");
        }
    });
    if let Err(e) = submitted {
        log::warn!("the first message of {acceptor} and {applicant} was not queued: {e}");
        let (response, notice) = unqueued;
        send(h, ctx, conn, MsgId::AuthFriendRsp, &response);
        h.services().delivery.push_everywhere(
            applicant,
            Push::AuthFriend(notice, Vec::new()),
            None,
        );
    }
}

/// 1011 as `profile`'s user applying with `apply_text` (its `desc` is the
/// application's text, as in LOGIN_RSP's `apply_list`).
fn applicant_notice(profile: &UserRecord, apply_text: &str) -> NotifyAddFriend {
    NotifyAddFriend {
        error: 0,
        applyuid: profile.uid,
        name: profile.name.clone(),
        desc: apply_text.to_string(),
        icon: profile.icon.clone(),
        sex: profile.sex,
        nick: profile.nick.clone(),
    }
}
