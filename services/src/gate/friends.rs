//! The project_show client's friend routes, over HTTP on the gate (served on
//! its listener only): search, applications, friends, apply, reply.
//!
//! The same rules as the chat servers' 1007/1009/1013 (`store::friends`
//! decides them), the same pushes to the other side (`peers`), and the
//! same identity rule in its weaker form: the uid in the body is believed
//! only from the address that logged in as it (`bindings`). No e-mail
//! address of anyone is ever answered (its server listed them in search
//! results; the client does not need them).

use super::handler::{GateHandler, Pending};
use super::peers::{text_message, Notice};
use crate::store::friends::first_message;
use crate::store::model::{LoginData, StoredMessage, UserRecord};
use crate::store::{StoreConn, StoreError};
use proto::rpc::chat::{AddFriendNotice, AuthFriendNotice, UserBrief};
use proto::ErrorCode;
use reactor::Ctx;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;

/// Longest search keyword and application text (characters), as on the
/// chat servers.
const MAX_KEYWORD: usize = 64;
const MAX_APPLY_TEXT: usize = 255;

#[derive(Deserialize)]
struct UidReq {
    uid: u64,
    #[serde(default)]
    keyword: String,
}

#[derive(Deserialize)]
struct PairReq {
    from_uid: u64,
    to_uid: u64,
    #[serde(default)]
    desc: String,
    #[serde(default)]
    agree: bool,
}

/// A user as the client's `parseUserFromJson` reads one.
fn user_json(user: &UserRecord, is_friend: bool) -> Value {
    json!({
        "uid": user.uid,
        "name": user.name,
        "email": "",
        "nick": user.nick,
        "icon": user.icon,
        "sex": user.sex,
        "desc": user.desc,
        "isFriend": is_friend,
    })
}

fn brief(user: &UserRecord) -> UserBrief {
    UserBrief {
        uid: user.uid,
        name: user.name.clone(),
        nick: user.nick.clone(),
        desc: user.desc.clone(),
        icon: user.icon.clone(),
        sex: user.sex,
    }
}

impl GateHandler {
    /// The body parsed, if its `uid` logged in from this request's address.
    fn vouched<T: for<'de> Deserialize<'de>>(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        body: &[u8],
        uid_of: fn(&T) -> u64,
    ) -> Option<T> {
        let Ok(request) = serde_json::from_slice::<T>(body) else {
            self.fail(ctx, pending, ErrorCode::Json);
            return None;
        };
        let ip = ctx.peer_addr(pending.conn).map(|a| a.ip());
        let uid = uid_of(&request);
        if !ip.is_some_and(|ip| self.hub.bindings.allows(uid, ip, Instant::now())) {
            self.fail(ctx, pending, ErrorCode::UidInvalid);
            return None;
        }
        Some(request)
    }

    /// `POST /search_friends {uid, keyword}`: by uid (all digits) or name.
    pub(super) fn search_friends(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        let Some(req) = self.vouched::<UidReq>(ctx, pending, body, |r| r.uid) else { return };
        let key = req.keyword.trim().to_string();
        if key.is_empty() || key.chars().count() > MAX_KEYWORD {
            return self.fail(ctx, pending, ErrorCode::Json);
        }
        let me = req.uid;
        self.store_job(
            ctx,
            pending,
            move |store| {
                let found = match key.parse::<u64>() {
                    Ok(uid) if key.bytes().all(|b| b.is_ascii_digit()) => store.user_by_uid(uid)?,
                    _ => store.user_by_name(&key)?,
                };
                match found {
                    Some(user) => {
                        let is_friend = store.are_friends(me, user.uid)?;
                        Ok(vec![user_json(&user, is_friend)])
                    }
                    None => Ok(Vec::new()),
                }
            },
            move |h, ctx, users| match users {
                Ok(users) => h.answer_json(ctx, pending, &json!({"error": 0, "users": users})),
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// `POST /get_friend_requests {uid}`: the applications waiting for `uid`.
    pub(super) fn friend_requests(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        self.answer_from_login_data(ctx, pending, body, |data| {
            let requests: Vec<Value> = data
                .applications
                .iter()
                .map(|a| {
                    json!({
                        "uid": a.applicant.uid,
                        "name": a.applicant.name,
                        "desc": a.apply_text,
                        "icon": a.applicant.icon,
                        "nick": a.applicant.nick,
                        "sex": a.applicant.sex,
                        "status": a.status,
                    })
                })
                .collect();
            json!({"error": 0, "requests": requests})
        });
    }

    /// `POST /get_my_friends {uid}`.
    pub(super) fn my_friends(&mut self, ctx: &mut Ctx<Self>, pending: Pending, body: &[u8]) {
        self.answer_from_login_data(ctx, pending, body, |data| {
            let friends: Vec<Value> =
                data.friends.iter().map(|f| user_json(&f.user, true)).collect();
            json!({"error": 0, "friends": friends})
        });
    }

    /// A `{uid}` route: the uid vouched for, its login data (friends and
    /// applications) read on a store worker, answered with `answer(data)`
    /// on the loop.
    fn answer_from_login_data(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        body: &[u8],
        answer: fn(&LoginData) -> Value,
    ) {
        let Some(req) = self.vouched::<UidReq>(ctx, pending, body, |r| r.uid) else { return };
        let uid = req.uid;
        self.store_job(
            ctx,
            pending,
            move |store| store.login_data(uid),
            move |h, ctx, data| match data {
                Ok(Some(data)) => h.answer_json(ctx, pending, &answer(&data)),
                Ok(None) => h.fail(ctx, pending, ErrorCode::UidInvalid),
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// `POST /send_friend_request {from_uid, to_uid, desc}`: recorded (1005
    /// if already friends or already applied), and `to_uid` is told (1011).
    pub(super) fn send_friend_request(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        body: &[u8],
    ) {
        let Some(req) = self.vouched::<PairReq>(ctx, pending, body, |r| r.from_uid) else {
            return;
        };
        let (from, to) = (req.from_uid, req.to_uid);
        if from == to || to == 0 {
            return self.fail(ctx, pending, ErrorCode::UidInvalid);
        }
        if req.desc.chars().count() > MAX_APPLY_TEXT {
            return self.fail(ctx, pending, ErrorCode::TooLarge);
        }
        let text = req.desc;
        self.store_job(
            ctx,
            pending,
            move |store| {
                let (Some(applicant), Some(_)) = (store.user_by_uid(from)?, store.user_by_uid(to)?)
                else {
                    return Ok(None);
                };
                store.apply_friend(from, to, &text, "")?;
                Ok(Some(AddFriendNotice {
                    to_uid: to,
                    from: Some(brief(&applicant)),
                    apply_text: text.clone(),
                }))
            },
            move |h, ctx, applied| match applied {
                Ok(Some(notice)) => {
                    h.answer_json(ctx, pending, &json!({"error": 0}));
                    h.hub.peers.notify(Notice::AddFriend(notice));
                }
                Ok(None) => h.fail(ctx, pending, ErrorCode::UidInvalid),
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }

    /// `POST /reply_friend_request {from_uid, to_uid, agree}`: `to_uid` (the
    /// caller) accepts or declines `from_uid`'s application. Accepting makes
    /// the pair friends, stores their first message and tells the applicant
    /// (1015 with it); declining tells no one.
    pub(super) fn reply_friend_request(
        &mut self,
        ctx: &mut Ctx<Self>,
        pending: Pending,
        body: &[u8],
    ) {
        let Some(req) = self.vouched::<PairReq>(ctx, pending, body, |r| r.to_uid) else {
            return;
        };
        let (applicant, me) = (req.from_uid, req.to_uid);
        if applicant == me || applicant == 0 {
            return self.fail(ctx, pending, ErrorCode::UidInvalid);
        }
        if !req.agree {
            return self.store_job(
                ctx,
                pending,
                move |store| store.decline_friend(applicant, me),
                move |h, ctx, declined| match declined {
                    Ok(()) => h.answer_json(ctx, pending, &json!({"error": 0})),
                    Err(StoreError::Conflict(_)) => h.fail(ctx, pending, ErrorCode::UidInvalid),
                    Err(e) => h.fail(ctx, pending, e.error_code()),
                },
            );
        }
        self.store_job(
            ctx,
            pending,
            move |store| {
                let Some(acceptor) = store.user_by_uid(me)? else { return Ok(None) };
                store.accept_friend(applicant, me, "")?;
                // Idempotent per pair. Without it the friendship still stands.
                let first: Vec<StoredMessage> =
                    store.append_messages(&[first_message(applicant, me)]).unwrap_or_else(|e| {
                        log::warn!("the first message of {applicant} and {me} was not stored: {e}");
                        Vec::new()
                    });
                Ok(Some(AuthFriendNotice {
                    to_uid: applicant,
                    from: Some(brief(&acceptor)),
                    messages: first.iter().map(text_message).collect(),
                }))
            },
            move |h, ctx, accepted| match accepted {
                Ok(Some(notice)) => {
                    h.answer_json(ctx, pending, &json!({"error": 0}));
                    h.hub.peers.notify(Notice::AuthFriend(notice));
                }
                Ok(None) | Err(StoreError::Conflict(_)) => {
                    h.fail(ctx, pending, ErrorCode::UidInvalid)
                }
                Err(e) => h.fail(ctx, pending, e.error_code()),
            },
        );
    }
}
