//! What every thread of a chat server shares: the store, the message
//! writer, the status client, the directory of online users, the loops'
//! handles and the router to peer servers.
//!
//! Connections are never touched here: to reach one, the hub posts a
//! [`Push`] to the inbox of the loop that owns it, and that loop writes.

use super::directory::{Directory, Route};
use super::handler::ChatHandler;
use super::metrics::ChatMetrics;
use super::router::{Outbound, RouterHandle};
use crate::store::ack_writer::AckWriter;
use crate::store::message_writer::MessageWriter;
use crate::store::model::StoredMessage;
use crate::store::{AnyBackend, DbPool};
use proto::body::{NotifyAddFriend, NotifyAuthFriend};
use proto::rpc::status::StatusServiceClient;
use reactor::LoopHandle;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Something for one logged-in user, handed to the loop of their connection.
#[derive(Debug, Clone)]
pub enum Push {
    /// 1019: stored messages to this user, oldest first.
    Text(Vec<StoredMessage>),
    /// 1011: someone applied to be this user's friend.
    AddFriend(NotifyAddFriend),
    /// 1015: this user's application was accepted (they are friends now).
    AuthFriend(NotifyAuthFriend),
    /// 1021, then close: the user logged in elsewhere.
    Kick,
}

/// Timings and sizes the handlers need, from the configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    pub login_deadline: Duration,
    pub idle_timeout: Duration,
    pub rpc_timeout: Duration,
    pub sync_page: usize,
    pub max_texts_per_request: usize,
    pub history_page: usize,
    pub thread_page: usize,
    /// Output queued on a connection below which the next sync page is read.
    pub sync_low_water: usize,
}

/// Shared by the loops, the writer's callbacks, the router and the
/// ChatService. Every method is safe to call from any thread and never blocks.
pub struct Hub {
    /// This server's name in the cluster.
    pub name: String,
    pub rules: Rules,
    pub store: DbPool<AnyBackend>,
    pub writer: MessageWriter,
    pub acks: AckWriter,
    pub status: StatusServiceClient,
    pub directory: Directory,
    pub metrics: ChatMetrics,
    pub router: RouterHandle,
    /// The loops, known once the pool has started.
    loops: OnceLock<Arc<[LoopHandle<ChatHandler>]>>,
    /// Source of session ids: random high bits per process, a counter below.
    next_session: AtomicU64,
}

impl Hub {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        rules: Rules,
        store: DbPool<AnyBackend>,
        writer: MessageWriter,
        acks: AckWriter,
        status: StatusServiceClient,
        router: RouterHandle,
    ) -> Hub {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).expect("the OS random source works");
        // 24 random high bits: session ids of two runs of one server differ.
        let base = u64::from_le_bytes(seed) & 0xFFFF_FF00_0000_0000;
        Hub {
            name,
            rules,
            store,
            writer,
            acks,
            status,
            directory: Directory::default(),
            metrics: ChatMetrics::default(),
            router,
            loops: OnceLock::new(),
            next_session: AtomicU64::new(base | 1),
        }
    }

    /// Called by each loop's factory; the first call wins (all pass the same).
    pub fn set_loops(&self, loops: Arc<[LoopHandle<ChatHandler>]>) {
        let _ = self.loops.set(loops);
    }

    pub fn new_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Relaxed)
    }

    /// Hands `push` to the loop of `uid`'s connection, if `uid` is online
    /// here. True if it was handed over.
    pub fn push_local(&self, uid: u64, push: Push) -> bool {
        match self.directory.get(uid) {
            Some(route) => self.push_to(route, push),
            None => false,
        }
    }

    /// Hands `push` to the connection at `route` (checked again on its loop:
    /// the session may have ended meanwhile).
    pub fn push_to(&self, route: Route, push: Push) -> bool {
        let Some(handle) = self.loops.get().and_then(|loops| loops.get(route.loop_index)) else {
            return false;
        };
        let posted = handle.post(move |handler, ctx| handler.deliver(ctx, route, push));
        if posted.is_err() {
            ChatMetrics::add(&self.metrics.pushes_dropped, 1);
            log::warn!("loop {} inbox full: a push was dropped", route.loop_index);
        }
        posted.is_ok()
    }

    /// Kicks `uid`'s session `session_id` if it is the one connected here.
    pub fn kick_local(&self, uid: u64, session_id: u64) -> bool {
        match self.directory.get(uid) {
            Some(route) if route.session_id == session_id => self.push_to(route, Push::Kick),
            _ => false,
        }
    }

    /// Delivers `push` to `uid` here if online here, else through the router
    /// to whichever server the status server says they are on.
    pub fn push_anywhere(&self, uid: u64, push: Push) {
        // Looked up first, so the push moves where it goes and is never copied.
        if let Some(route) = self.directory.get(uid) {
            self.push_to(route, push);
            return;
        }
        let outbound = match push {
            Push::Text(messages) => Outbound::Text(messages),
            Push::AddFriend(notice) => Outbound::AddFriend { to_uid: uid, notice },
            Push::AuthFriend(notice) => Outbound::AuthFriend { to_uid: uid, notice },
            Push::Kick => return, // kicks name a session: `Outbound::Kick` carries it
        };
        self.forward(outbound);
    }

    /// Queues work for the router; a full router queue drops it (the data
    /// is stored: the user gets it at the next login).
    pub fn forward(&self, outbound: Outbound) {
        if !self.router.send(outbound) {
            ChatMetrics::add(&self.metrics.pushes_dropped, 1);
        }
    }
}
