//! On the loop: a push reaches its connection. Loop thread only.
//!
//! Stored messages go out as 1019 frames, one per run of messages with the
//! same sender and thread, at most `PUSH_CHUNK` messages each; a chunk whose
//! JSON would not fit in a frame (64 KiB) is halved until it does.

use super::directory::Route;
use super::push::{text_body, PUSH_CHUNK};
use super::{GroupPush, Push};
use crate::chat::metrics::ChatMetrics;
use crate::chat::reply::{send, write};
use crate::chat::services::ChatLoop;
use crate::dialect::Acknowledgement;
use crate::store::model::{DeliveryAck, StoredMessage};
use proto::body::{HistoryMessage, NotifyOffline};
use proto::MsgId;
use reactor::{ConnId, Ctx, SendError};

/// A push for the users of `routes` on this loop, posted by [`super::Delivery`].
pub fn deliver_to_all<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    mut routes: Vec<Route>,
    push: Push,
) {
    let Some(last) = routes.pop() else { return };
    for route in routes {
        deliver(h, ctx, route, push.clone()); // a group's push is an `Arc`
    }
    deliver(h, ctx, last, push);
}

/// A push for the user of `route`. The route is checked again: the
/// session may have ended meanwhile.
pub fn deliver<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, route: Route, push: Push) {
    let Some(user) = ctx.session_mut(route.conn).and_then(|s| s.online_mut()) else { return };
    if user.session_id() != route.session_id {
        return;
    }
    let uid = user.uid();
    match push {
        Push::Text(mut messages) => {
            if user.device().is_legacy() {
                messages.retain(|m| m.sender != uid); // its own are never pushed to it
            }
            if user.sync().holds_back_live() {
                user.sync().hold_back(&messages); // written in their place by the sync
                return;
            }
            user.sync().drop_covered(&mut messages); // a page was quicker
            if messages.is_empty() {
                return;
            }
            write_texts(h, ctx, route.conn, &messages);
            acknowledge_for_client(h, ctx, route.conn, &messages);
        }
        Push::Group(group) => write_group(h, ctx, route, &group),
        Push::AddFriend(notice) => {
            send(h, ctx, route.conn, MsgId::NotifyAddFriendReq, &notice);
        }
        Push::AuthFriend(mut notice, mut messages) => {
            user.add_friend(notice.fromuid);
            let held_back = user.sync().holds_back_live();
            if held_back {
                user.sync().hold_back(&messages); // the first message comes with the sync
            } else {
                user.sync().drop_covered(&mut messages); // a page was quicker
            }
            notice.chat_datas = messages.iter().map(history_item).collect();
            send(h, ctx, route.conn, MsgId::NotifyAuthFriendReq, &notice);
            let dialect = ctx.session(route.conn).map(|s| s.dialect()).unwrap_or_default();
            if dialect.acknowledgement() != Acknowledgement::Never {
                if !held_back {
                    write_texts(h, ctx, route.conn, &messages); // pushed as any message, and acknowledged
                }
            } else {
                acknowledge_for_client(h, ctx, route.conn, &messages); // 1015 carried them
            }
        }
        Push::Read(notice) => {
            send(h, ctx, route.conn, MsgId::NotifyConversationRead, &notice);
        }
        Push::Presence(notice) => {
            send(h, ctx, route.conn, MsgId::NotifyPresence, &notice);
        }
        Push::CatchUp => {
            // Only where a login syncs: a foreign client loads what it
            // missed at its next login (project_show's asks with its 1023).
            let dialect = ctx.session(route.conn).map(|s| s.dialect()).unwrap_or_default();
            if dialect.syncs_at_login() {
                ChatMetrics::add(&h.services().metrics.catch_ups, 1);
                super::sync::start(h, ctx, route.conn);
            }
        }
        Push::Kick => {
            ChatMetrics::add(&h.services().metrics.kicks, 1);
            // The session ends now, not when the socket is finally gone
            // (the peer may take its time to close): from here on,
            // pushes for the uid must find the newer session only.
            if let Some(user) = ctx.session_mut(route.conn).and_then(|s| s.end()) {
                h.services().end_session(&user);
            }
            let body = NotifyOffline { error: 0, uid };
            send(h, ctx, route.conn, MsgId::NotifyOffLineReq, &body);
            let delay = ctx.session(route.conn).map(|s| s.dialect().kicked_close_delay());
            match delay {
                Some(delay) if !delay.is_zero() => {
                    // Frames from the ended session are ignored meanwhile; a
                    // stale id (the client closed first) is ignored too.
                    let conn = route.conn;
                    ctx.run_after(delay, move |_, ctx| ctx.shutdown(conn));
                }
                _ => ctx.shutdown(route.conn),
            }
        }
    }
}

/// A group's push to one member's session: the frames encoded once for
/// every member, unless this session must be treated apart. The original
/// clients' dialects know no groups (they are sent nothing of them). A
/// connection with more than `slow_member_bytes` queued is skipped: the
/// group never waits for one member, which catches up from its watermark
/// by a sync once its output has drained (`sync::on_drained`).
fn write_group<H: ChatLoop>(h: &H, ctx: &mut Ctx<H>, route: Route, group: &GroupPush) {
    let conn = route.conn;
    let Some(session) = ctx.session_mut(conn) else { return };
    if session.dialect().rewrites_out() {
        return;
    }
    let Some(user) = session.online_mut() else { return };
    if user.device().is_legacy() && group.sender() == user.uid() {
        return; // its own are never pushed to it
    }
    let sync = user.sync();
    if sync.holds_back_live() {
        sync.hold_back(&group.messages); // written in their place by the sync
        return;
    }
    if sync.covers_any(&group.messages) {
        // A page was quicker with some of them: write the rest apart.
        let mut messages = group.messages.clone();
        sync.drop_covered(&mut messages);
        return write_texts(h, ctx, conn, &messages);
    }
    let metrics = &h.services().metrics;
    if ctx.queued_output(conn).unwrap_or(0) > h.services().rules.slow_member_bytes {
        if let Some(user) = ctx.session_mut(conn).and_then(|s| s.online_mut()) {
            user.sync().fall_behind();
        }
        ctx.notify_when_drained(conn);
        ChatMetrics::add(&metrics.group_pushes_skipped, 1);
        return;
    }
    for frame in &group.frames {
        if ctx.send(conn, frame).is_err() {
            return;
        }
    }
    ChatMetrics::add(&metrics.frames_out, group.frames.len() as u64);
    ChatMetrics::add(&metrics.messages_pushed, group.messages.len() as u64);
}

/// Writes stored messages to `conn` as 1019 frames. A client that
/// acknowledges by count is told of each message in its own frame (its
/// dialect splits them), and the session remembers the order.
pub fn write_texts<H: ChatLoop>(h: &H, ctx: &mut Ctx<H>, conn: ConnId, messages: &[StoredMessage]) {
    if let Some(session) = ctx.session_mut(conn) {
        if session.dialect().acknowledgement() == Acknowledgement::ByCount {
            if let Some(user) = session.online_mut() {
                let uid = user.uid();
                for m in messages.iter().filter(|m| m.receiver == uid) {
                    user.expect_acknowledgement(m.message_id);
                }
            }
        }
    }
    // The original clients know no groups: their dialects are sent nothing
    // of them (a group's messages have no receiver).
    let foreign = ctx.session(conn).is_some_and(|s| s.dialect().rewrites_out());
    for run in messages.chunk_by(|a, b| a.sender == b.sender && a.thread_id == b.thread_id) {
        if foreign && run[0].receiver == 0 {
            continue;
        }
        for chunk in run.chunks(PUSH_CHUNK) {
            write_chunk(h, ctx, conn, chunk);
        }
    }
}

/// One 1019 frame, halved until it fits.
fn write_chunk<H: ChatLoop>(h: &H, ctx: &mut Ctx<H>, conn: ConnId, chunk: &[StoredMessage]) {
    let written = write(ctx, conn, MsgId::NotifyTextChatMsgReq, &text_body(chunk));
    let metrics = &h.services().metrics;
    match written {
        Ok(()) => {
            ChatMetrics::add(&metrics.frames_out, 1);
            ChatMetrics::add(&metrics.messages_pushed, chunk.len() as u64);
        }
        Err(SendError::TooLarge { .. }) if chunk.len() > 1 => {
            let (first, second) = chunk.split_at(chunk.len() / 2);
            write_chunk(h, ctx, conn, first);
            write_chunk(h, ctx, conn, second);
        }
        Err(SendError::NotOpen) => {}
        Err(e) => log::warn!("a push was not sent (it stays pending): {e}"),
    }
}

/// For a client that never acknowledges (see `crate::dialect`): what was
/// just written to it counts as acknowledged, so it is not pushed again.
pub fn acknowledge_for_client<H: ChatLoop>(
    h: &H,
    ctx: &Ctx<H>,
    conn: ConnId,
    messages: &[StoredMessage],
) {
    let Some(session) = ctx.session(conn) else { return };
    let Some(uid) = session.uid() else { return };
    if session.dialect().acknowledgement() != Acknowledgement::Never {
        return;
    }
    let message_ids: Vec<u64> = messages
        .iter()
        .filter(|m| m.receiver == uid && !m.delivered)
        .map(|m| m.message_id)
        .collect();
    if message_ids.is_empty() {
        return;
    }
    if let Err(e) = h.services().acks.submit(DeliveryAck::of_messages(uid, message_ids)) {
        log::debug!("implicit acknowledgement not stored (pushed again later): {e}");
    }
}

/// A stored message as 1014, 1015 and 1030 carry it.
pub fn history_item(m: &StoredMessage) -> HistoryMessage {
    HistoryMessage {
        sender: m.sender,
        msg_id: m.message_id,
        thread_id: m.thread_id,
        seq: m.seq,
        msg_content: m.content.clone(),
        chat_time: m.chat_time,
        status: i32::from(m.delivered),
        kind: m.kind,
    }
}
