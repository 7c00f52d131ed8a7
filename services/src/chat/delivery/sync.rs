//! After a login: pushing what the session's device has not received,
//! conversation by conversation, each from the device's watermark up
//! (oldest first). On the loop
//! thread, paced by the connection's output.
//!
//! A user may come back to 100,000 messages over 100 conversations. They are
//! read one page at a time (after a cursor: a conversation and a seq in it;
//! `StoreConn::backlog`), and the next page is read only
//! once the previous one has left the connection's output (`on_drained`), so
//! the output buffer stays small and the loop serves everyone else between
//! pages. Live pushes that arrive meanwhile are held back and written in
//! their place — see [`SyncState`].
//!
//! The cursor moves with what was pushed, not with acknowledgements, so a
//! client that acknowledges late does not see a page twice in one sync;
//! whatever it never acknowledges is pushed again at the next login.
//!
//! [`SyncState`]: crate::chat::session::SyncState

use super::frames::write_texts;
use crate::chat::services::{store_job, ChatLoop};
use crate::dialect::Acknowledgement;
use crate::store::model::Backlog;
use crate::store::{JobKind, StoreConn, StoreError};
use reactor::{ConnId, Ctx};
use std::time::Duration;

/// How long to wait before asking a busy or failing store again.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// Starts pushing what the session of `conn` has not received (after the
/// login, or when the client asks: `Dialect::syncs_at_login`). A client that
/// never acknowledges is never synced: it loads its threads and history
/// itself. A sync already running goes on as it is.
pub fn start<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId) {
    let Some(session) = ctx.session_mut(conn) else { return };
    if session.dialect().acknowledgement() == Acknowledgement::Never {
        return;
    }
    let Some(user) = session.online_mut() else { return };
    if user.sync().is_active() {
        return;
    }
    user.sync().start();
    read_page(h, ctx, conn);
}

/// The connection's output has drained: the next page, if a sync runs, or
/// a sync if a live push was skipped meanwhile (a slow group member).
pub fn on_drained<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId) {
    let behind = ctx.session_mut(conn).and_then(|s| s.online_mut()).is_some_and(|user| {
        let sync = user.sync();
        sync.take_behind() && !sync.is_active()
    });
    if behind {
        return start(h, ctx, conn);
    }
    read_page(h, ctx, conn);
}

fn read_page<H: ChatLoop>(h: &mut H, ctx: &mut Ctx<H>, conn: ConnId) {
    let Some(user) = ctx.session_mut(conn).and_then(|s| s.online_mut()) else { return };
    if !user.sync().is_active() {
        return;
    }
    let after = user.sync().next_query();
    let (uid, session_id, device) = (user.uid(), user.session_id(), user.device_id().to_string());
    let services = h.services();
    let page = services.rules.sync_page;
    let submitted = store_job(
        ctx,
        services,
        JobKind::Idempotent,
        move |store| store.backlog(uid, &device, after, page),
        move |h, ctx, pending| on_page(h, ctx, conn, session_id, pending),
    );
    if submitted.is_err() {
        ctx.run_after(RETRY_AFTER, move |h, ctx| read_page(h, ctx, conn));
    }
}

fn on_page<H: ChatLoop>(
    h: &mut H,
    ctx: &mut Ctx<H>,
    conn: ConnId,
    session_id: u64,
    backlog: Result<Backlog, StoreError>,
) {
    let Some(user) = ctx.session_mut(conn).and_then(|s| s.online_mut()) else { return };
    if user.session_id() != session_id || !user.sync().is_active() {
        return;
    }
    let page = match backlog {
        Ok(page) => page,
        Err(e) => {
            log::warn!("undelivered messages of uid {} not read, retrying: {e}", user.uid());
            ctx.run_after(RETRY_AFTER, move |h, ctx| read_page(h, ctx, conn));
            return;
        }
    };
    let (more, released) = user.sync().page_read(&page);
    write_texts(h, ctx, conn, &page.messages);
    write_texts(h, ctx, conn, &released);
    if more {
        ctx.notify_when_drained(conn);
    }
}
