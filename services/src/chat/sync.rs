//! After a login: pushing the messages that are still pending, oldest first.
//!
//! A user may come back to 100,000 pending messages. They are read one page
//! at a time (by message id, after a cursor) and the next page is read only
//! once the connection's output has drained below a low-water mark, so the
//! output buffer stays small and the loop serves everyone else between
//! pages. Live pushes that arrive meanwhile are held back (the sync will
//! read them from the store, in order) — see [`super::session::SyncState`].
//!
//! The cursor moves with what was pushed, not with acknowledgements, so a
//! client that acknowledges late does not see a page twice in one sync;
//! whatever it never acknowledges is pushed again at the next login.

use super::handler::ChatHandler;
use super::session::Session;
use crate::store::model::StoredMessage;
use crate::store::{JobKind, StoreConn, StoreError};
use reactor::{ConnId, Ctx};
use std::time::Duration;

/// How long to wait before asking a busy or failing store again.
const RETRY_AFTER: Duration = Duration::from_millis(200);
/// How often to look whether the output has drained.
const DRAIN_CHECK: Duration = Duration::from_millis(10);

impl ChatHandler {
    pub(super) fn start_sync(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        let Some(user) = ctx.session_mut(conn).and_then(Session::online_mut) else { return };
        user.sync.active = true;
        user.sync.cursor = 0;
        self.read_sync_page(ctx, conn);
    }

    fn read_sync_page(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        let Some(user) = ctx.session_mut(conn).and_then(Session::online_mut) else { return };
        if !user.sync.active {
            return;
        }
        user.sync.missed = false;
        let (uid, session_id, after) = (user.uid, user.session_id, user.sync.cursor);
        let page = self.hub.rules.sync_page;
        let submitted = self.store_job(
            ctx,
            JobKind::Idempotent,
            move |store| store.pending_for(uid, after, page),
            move |h, ctx, pending| h.on_sync_page(ctx, conn, session_id, pending),
        );
        if submitted.is_err() {
            ctx.run_after(RETRY_AFTER, move |h, ctx| h.read_sync_page(ctx, conn));
        }
    }

    fn on_sync_page(
        &mut self,
        ctx: &mut Ctx<Self>,
        conn: ConnId,
        session_id: u64,
        pending: Result<Vec<StoredMessage>, StoreError>,
    ) {
        let Some(user) = ctx.session_mut(conn).and_then(Session::online_mut) else { return };
        if user.session_id != session_id || !user.sync.active {
            return;
        }
        let messages = match pending {
            Ok(messages) => messages,
            Err(e) => {
                log::warn!("pending messages of uid {} not read, retrying: {e}", user.uid);
                ctx.run_after(RETRY_AFTER, move |h, ctx| h.read_sync_page(ctx, conn));
                return;
            }
        };
        let full_page = messages.len() >= self.hub.rules.sync_page;
        if let Some(last) = messages.last() {
            user.sync.cursor = last.message_id;
        }
        if !full_page && !user.sync.missed {
            user.sync.active = false; // caught up: live pushes flow from now on
        }
        let more = user.sync.active;
        self.push_messages(ctx, conn, &messages);
        if more {
            self.read_when_drained(ctx, conn);
        }
    }

    /// Reads the next page once the output is below the low-water mark.
    fn read_when_drained(&mut self, ctx: &mut Ctx<Self>, conn: ConnId) {
        match ctx.queued_output(conn) {
            None => {} // closed
            Some(queued) if queued > self.hub.rules.sync_low_water => {
                ctx.run_after(DRAIN_CHECK, move |h, ctx| h.read_when_drained(ctx, conn));
            }
            Some(_) => self.read_sync_page(ctx, conn),
        }
    }
}
