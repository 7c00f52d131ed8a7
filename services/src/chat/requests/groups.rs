//! The group requests, 1120-1141 (PROTOCOL.md "Groups"): create, invite,
//! leave, remove, roles, settings, dissolve; list, info, members, readers.
//!
//! Every change is one store transaction under the group's lock
//! (`store/groups.rs` decides who may do what); it stores its events as
//! messages of the group, which then go to every member (and to whoever the
//! change removed) like any group message: `Delivery::push_group`, the
//! acting session included, so every device shows the events in the one
//! order of the conversation. The answer carries the seq of the last event.

use super::{parse, request};
use crate::chat::delivery::GroupPush;
use crate::chat::reply::{send, send_error};
use crate::chat::services::{ChatLoop, Services};
use crate::store::groups::{invite_policy, GroupUpdate};
use crate::store::model::{GroupChange, GroupRecord, MemberRecord, Role};
use crate::store::{AnyConn, JobKind, StoreConn, StoreError};
use proto::group_body::{
    GroupChangeRsp, GroupCreateReq, GroupInfo, GroupInviteReq, GroupMember, GroupMembersReq,
    GroupMembersRsp, GroupReadersReq, GroupReadersRsp, GroupRemoveReq, GroupReq, GroupRsp,
    GroupSetRoleReq, GroupUpdateReq, LoadGroupsReq, LoadGroupsRsp,
};
use proto::{ErrorCode, MsgId};
use reactor::{ConnId, Ctx};
use std::sync::Arc;

/// Most members (or readers) in one page of 1139 or 1141.
const MEMBER_PAGE: usize = 200;
/// Most groups in one page of 1135.
const GROUP_PAGE: usize = 100;

/// The logged-in uid of `conn`.
fn me<H: ChatLoop>(ctx: &Ctx<H>, conn: ConnId) -> Option<u64> {
    ctx.session(conn).and_then(|s| s.online()).map(|u| u.uid())
}

/// A page size a client asked for: 0 or too many is the page size.
fn page_size(limit: u32, most: usize) -> usize {
    match limit as usize {
        0 => most,
        n => n.min(most),
    }
}

/// A group as `me` sees it.
fn group_info(group: &GroupRecord, me: &MemberRecord) -> GroupInfo {
    GroupInfo {
        group_id: group.thread_id,
        name: group.name.clone(),
        description: group.description.clone(),
        owner: group.owner,
        invite: invite_policy(group.invite_admins_only).to_string(),
        history_visible: group.history_visible,
        member_count: group.member_count,
        last_seq: group.last_seq,
        role: if me.is_current() { me.role.name() } else { "left" }.to_string(),
        joined_seq: me.joined_seq,
        left_seq: me.left_seq,
        dissolved_seq: group.dissolved_seq,
    }
}

/// Sends a change's events to everyone who must see them. Any thread.
fn tell(services: &Services, change: &GroupChange) {
    if change.events.is_empty() {
        return;
    }
    let push = Arc::new(GroupPush::new(change.events.clone()));
    services.delivery.push_group(change.recipients.clone(), push, None);
}

/// Runs a change of group `group_id` on a store worker, tells its events,
/// and answers `reply_id` with the seq of its last event.
fn change<H, J>(h: &H, ctx: &mut Ctx<H>, conn: ConnId, reply_id: MsgId, group_id: u64, mut job: J)
where
    H: ChatLoop,
    J: FnMut(&mut AnyConn) -> Result<GroupChange, StoreError> + Send + 'static,
{
    let services = h.services().clone();
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Once,
        move |store| {
            let made = job(store)?;
            tell(&services, &made); // from the worker: the commit is done
            Ok(made.events.last().map_or(0, |e| e.seq))
        },
        move |h, ctx, seq| {
            let (error, seq) = match seq {
                Ok(seq) => (0, seq),
                Err(e) => (e.error_code().code(), 0),
            };
            send(h, ctx, conn, reply_id, &GroupChangeRsp { error, group_id, seq });
        },
    );
}

/// 1120: a new group with the creator's friends in it.
pub fn on_create<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupCreateRsp;
    let Some(req) = parse::<GroupCreateReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(owner) = me(ctx, conn) else { return };
    let rules = &h.services().rules;
    if req.members.len() >= rules.groups.max_members {
        return send_error(h, ctx, conn, reply_id, ErrorCode::GroupFull);
    }
    if !h.services().invites.take(owner, req.members.len()) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::RateLimited);
    }
    let limits = rules.groups;
    let services = h.services().clone();
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Once,
        move |store| {
            let made =
                store.create_group(&limits, owner, &req.name, &req.description, &req.members)?;
            tell(&services, &made);
            Ok(made)
        },
        move |h, ctx, made| {
            let response = match made {
                Ok(made) => {
                    let me =
                        MemberRecord { uid: owner, role: Role::Owner, joined_seq: 1, left_seq: 0 };
                    GroupRsp { error: 0, group: Some(group_info(&made.group, &me)) }
                }
                Err(e) => GroupRsp { error: e.error_code().code(), group: None },
            };
            send(h, ctx, conn, reply_id, &response);
        },
    );
}

/// 1122: a member brings friends in.
pub fn on_invite<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupInviteRsp;
    let Some(req) = parse::<GroupInviteReq>(body).filter(|r| r.group_id != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(inviter) = me(ctx, conn) else { return };
    let limits = h.services().rules.groups;
    if req.uids.is_empty() {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    }
    if req.uids.len() > limits.max_members {
        return send_error(h, ctx, conn, reply_id, ErrorCode::GroupFull);
    }
    if !h.services().invites.take(inviter, req.uids.len()) {
        return send_error(h, ctx, conn, reply_id, ErrorCode::RateLimited);
    }
    let GroupInviteReq { group_id, uids } = req;
    change(h, ctx, conn, reply_id, group_id, move |store| {
        store.invite_to_group(&limits, inviter, group_id, &uids)
    });
}

/// 1124: the user leaves.
pub fn on_leave<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    whole_group(h, ctx, conn, body, MsgId::GroupLeaveRsp, |store, uid, group| {
        store.leave_group(uid, group)
    });
}

/// A change the user makes to a whole group, named by a [`GroupReq`]
/// (leave, dissolve): `op(store, uid, group_id)`.
fn whole_group<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    body: &[u8],
    reply_id: MsgId,
    op: fn(&mut AnyConn, u64, u64) -> Result<GroupChange, StoreError>,
) {
    let Some(GroupReq { group_id }) = parse::<GroupReq>(body).filter(|r| r.group_id != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = me(ctx, conn) else { return };
    change(h, ctx, conn, reply_id, group_id, move |store| op(store, uid, group_id));
}

/// 1126: an admin or the owner removes a member.
pub fn on_remove<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupRemoveRsp;
    let Some(req) = parse::<GroupRemoveReq>(body).filter(|r| r.group_id != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(by) = me(ctx, conn) else { return };
    let GroupRemoveReq { group_id, uid } = req;
    change(h, ctx, conn, reply_id, group_id, move |store| {
        store.remove_from_group(by, group_id, uid)
    });
}

/// 1128: the owner sets a member's role (or hands the group over).
pub fn on_set_role<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupSetRoleRsp;
    let Some(req) = parse::<GroupSetRoleReq>(body).filter(|r| r.group_id != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let role = match req.role.as_str() {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        "member" => Role::Member,
        _ => return send_error(h, ctx, conn, reply_id, ErrorCode::Json),
    };
    let Some(by) = me(ctx, conn) else { return };
    let GroupSetRoleReq { group_id, uid, .. } = req;
    change(h, ctx, conn, reply_id, group_id, move |store| {
        store.set_group_role(by, group_id, uid, role)
    });
}

/// 1130: an admin or the owner renames, describes or sets the group.
pub fn on_update<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupUpdateRsp;
    let Some(req) = parse::<GroupUpdateReq>(body).filter(|r| r.group_id != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let invite_admins_only = match req.invite.as_deref() {
        None => None,
        Some("admins") => Some(true),
        Some("members") => Some(false),
        Some(_) => return send_error(h, ctx, conn, reply_id, ErrorCode::Json),
    };
    let Some(by) = me(ctx, conn) else { return };
    let group_id = req.group_id;
    let changes = GroupUpdate {
        name: req.name,
        description: req.description,
        invite_admins_only,
        history_visible: req.history_visible,
    };
    change(h, ctx, conn, reply_id, group_id, move |store| {
        store.update_group(by, group_id, &changes)
    });
}

/// 1132: the owner dissolves the group.
pub fn on_dissolve<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    whole_group(h, ctx, conn, body, MsgId::GroupDissolveRsp, |store, uid, group| {
        store.dissolve_group(uid, group)
    });
}

/// 1134: a page of the user's groups.
pub fn on_load_groups<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::LoadGroupsRsp;
    let Some(req) = parse::<LoadGroupsReq>(body) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = me(ctx, conn) else { return };
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| store.groups_of(uid, req.after, GROUP_PAGE + 1),
        move |h, ctx, listed| match listed {
            Ok(mut groups) => {
                let load_more = groups.len() > GROUP_PAGE;
                groups.truncate(GROUP_PAGE);
                let response = LoadGroupsRsp {
                    error: 0,
                    next_after: groups.last().map_or(req.after, |(g, _)| g.thread_id),
                    load_more,
                    groups: groups.iter().map(|(g, m)| group_info(g, m)).collect(),
                };
                send(h, ctx, conn, reply_id, &response);
            }
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}

/// 1136: one group, for a member or a former member.
pub fn on_group_info<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupInfoRsp;
    let Some(GroupReq { group_id }) = parse::<GroupReq>(body).filter(|r| r.group_id != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = me(ctx, conn) else { return };
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| store.group_view(uid, group_id),
        move |h, ctx, found| match found {
            Ok(Some((group, me))) => {
                let response = GroupRsp { error: 0, group: Some(group_info(&group, &me)) };
                send(h, ctx, conn, reply_id, &response);
            }
            Ok(None) => send_error(h, ctx, conn, reply_id, ErrorCode::NotMember),
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}

/// 1138: a page of members, for a member.
pub fn on_members<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupMembersRsp;
    let Some(req) = parse::<GroupMembersReq>(body).filter(|r| r.group_id != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = me(ctx, conn) else { return };
    let (group_id, after) = (req.group_id, req.after_uid);
    let page = page_size(req.limit, MEMBER_PAGE);
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| store.group_members(uid, group_id, after, page + 1),
        move |h, ctx, listed| match listed {
            Ok(mut members) => {
                let load_more = members.len() > page;
                members.truncate(page);
                let response = GroupMembersRsp {
                    error: 0,
                    group_id,
                    next_after: members.last().map_or(after, |m| m.member.uid),
                    load_more,
                    members: members
                        .into_iter()
                        .map(|m| GroupMember {
                            uid: m.member.uid,
                            name: m.name,
                            nick: m.nick,
                            icon: m.icon,
                            role: m.member.role.name().to_string(),
                            joined_seq: m.member.joined_seq,
                        })
                        .collect(),
                };
                send(h, ctx, conn, reply_id, &response);
            }
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}

/// 1140: who has read the group up to a seq (count and a page), for a member.
pub fn on_readers<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId, body: &[u8]) {
    let reply_id = MsgId::GroupReadersRsp;
    let Some(req) = parse::<GroupReadersReq>(body).filter(|r| r.group_id != 0 && r.seq != 0) else {
        return send_error(h, ctx, conn, reply_id, ErrorCode::Json);
    };
    let Some(uid) = me(ctx, conn) else { return };
    let (group_id, seq, after) = (req.group_id, req.seq, req.after_uid);
    let page = page_size(req.limit, MEMBER_PAGE);
    request(
        h,
        ctx,
        conn,
        reply_id,
        JobKind::Idempotent,
        move |store| store.group_readers(uid, group_id, seq, after, page),
        move |h, ctx, found| match found {
            Ok(readers) => {
                let response = GroupReadersRsp {
                    error: 0,
                    group_id,
                    seq,
                    read_count: readers.read_count,
                    member_count: readers.member_count,
                    next_after: readers.page.last().copied().unwrap_or(after),
                    load_more: readers.more,
                    readers: readers.page,
                };
                send(h, ctx, conn, reply_id, &response);
            }
            Err(e) => send_error(h, ctx, conn, reply_id, e.error_code()),
        },
    );
}
