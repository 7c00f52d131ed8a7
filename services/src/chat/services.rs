//! What the on-loop parts of a chat server share, and the one trait they are
//! written against.
//!
//! [`Services`] is built once, in order, by `server.rs` before any loop
//! starts (the loops' handles come from `Server::bind`), and handed to every
//! loop's handler as an `Arc`. It has no setters and nothing is filled in
//! later. Every method is safe to call from any thread and never blocks.
//!
//! [`ChatLoop`] is what requests, delivery and sync need from the loop's
//! handler: its codec and session types, and the services. `conn.rs`
//! implements it; everything else is generic over it, so it depends on the
//! trait, not on `conn` (which depends on everything else: the dispatch table
//! names every request).

use super::delivery::presence_queue::{PresenceEvent, PresenceQueue};
use super::delivery::Delivery;
use super::invite_limits::InviteLimits;
use super::metrics::ChatMetrics;
use super::presence::Presence;
use super::session::{OnlineUser, Session};
use crate::store::ack_writer::AckWriter;
use crate::store::groups::GroupLimits;
use crate::store::message_writer::MessageWriter;
use crate::store::{AnyBackend, AnyConn, DbPool, JobKind, StoreError};
use reactor::{Ctx, FrameCodec, Handler};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Timings and sizes the requests need, from the configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    pub login_deadline: Duration,
    pub idle_timeout: Duration,
    pub sync_page: usize,
    pub max_devices_per_user: usize,
    pub max_texts_per_request: usize,
    pub history_page: usize,
    pub thread_page: usize,
    /// Members per group and groups per user.
    pub groups: GroupLimits,
    /// Users one user may invite into groups per minute (here).
    pub group_invites_per_minute: usize,
    /// A group's push skips a member whose connection has this much output
    /// queued (half the high-water mark): it catches up by a sync once it
    /// drains, and the group never waits for it (`delivery/frames.rs`).
    pub slow_member_bytes: usize,
}

/// Shared by the loops, the writer's callbacks, the router and the
/// ChatService.
pub struct Services {
    /// This server's name in the cluster.
    pub name: String,
    pub rules: Rules,
    /// Store work that answers a request (reads, friend changes).
    pub store: DbPool<AnyBackend>,
    /// Group commit of text messages.
    pub writer: MessageWriter,
    /// Group commit of acknowledgements.
    pub acks: AckWriter,
    /// Every call to the status server.
    pub presence: Presence,
    /// Everything after a commit: who is online where, and how pushes get there.
    pub delivery: Delivery,
    /// Users' first sessions online and last ones offline, for the
    /// presence notifier (`chat/presence_notifier.rs`).
    pub presence_events: PresenceQueue,
    pub metrics: Arc<ChatMetrics>,
    /// Group invitations per user per minute.
    pub invites: InviteLimits,
    /// Source of session ids: random high bits per process, a counter below.
    next_session: AtomicU64,
}

impl Services {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        rules: Rules,
        store: DbPool<AnyBackend>,
        writer: MessageWriter,
        acks: AckWriter,
        presence: Presence,
        delivery: Delivery,
        presence_events: PresenceQueue,
        metrics: Arc<ChatMetrics>,
    ) -> Services {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).expect("the OS random source works");
        // 24 random high bits: session ids of two runs of one server differ.
        let base = u64::from_le_bytes(seed) & 0xFFFF_FF00_0000_0000;
        Services {
            name,
            invites: InviteLimits::new(rules.group_invites_per_minute),
            rules,
            store,
            writer,
            acks,
            presence,
            delivery,
            presence_events,
            metrics,
            next_session: AtomicU64::new(base | 1),
        }
    }

    /// A session id no other login of this process has. Any thread.
    pub fn new_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Relaxed)
    }
}

/// The loop's handler as the on-loop code sees it (implemented in `conn.rs`).
pub trait ChatLoop: Handler<Codec = FrameCodec, Session = Session> + Send {
    fn services(&self) -> &Arc<Services>;
}

impl Services {
    /// Unroutes a session that ended (unless a newer one already replaced
    /// it here) and tells the status server; if it was the user's last
    /// session anywhere, its friends are told (after the debounce). Any
    /// thread.
    pub fn end_session(&self, user: &OnlineUser) {
        let (uid, session_id) = (user.uid(), user.session_id());
        self.delivery.directory().unbind(uid, session_id);
        let (events, friends) = (self.presence_events.clone(), user.friends());
        self.presence.report_offline(uid, session_id, move || {
            events.send(PresenceEvent::Offline { uid, friends });
        });
    }
}

/// Runs `job` on a store worker, then `then` on the loop of `ctx` with its
/// result. Never waits: a full store queue is returned at once as `Busy`.
/// Loop thread (it is handed the loop's `Ctx`).
pub fn store_job<H, T, J, Then>(
    ctx: &Ctx<H>,
    services: &Services,
    kind: JobKind,
    job: J,
    then: Then,
) -> Result<(), StoreError>
where
    H: ChatLoop,
    T: Send + 'static,
    J: FnMut(&mut AnyConn) -> Result<T, StoreError> + Send + 'static,
    Then: FnOnce(&mut H, &mut Ctx<H>, Result<T, StoreError>) + Send + 'static,
{
    let handle = ctx.handle().clone();
    services.store.try_submit(kind, job, move |result| {
        if handle.post(move |h, ctx| then(h, ctx, result)).is_err() {
            log::warn!("loop {} inbox full: a store result was dropped", handle.index());
        }
    })
}
