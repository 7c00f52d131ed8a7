//! Delivery: everything that happens to a message (or a friend notice, or a
//! kick) after it is stored.
//!
//! | file | what |
//! |---|---|
//! | `directory` | uid → (loop, connection, session id) of users online here |
//! | `outbound` | what goes to other chat servers, and the router's queue |
//! | this file | [`Delivery`]: here through a loop's inbox, or away through the router |
//! | `frames` | on the loop: writing a push to the connection (1019 chunking) |
//! | `sync` | on the loop: the pending messages after a login, paced by `on_drained` |
//!
//! Connections are never touched from here: a push for a user online here is
//! posted to the inbox of the loop that owns the connection (through the
//! loop's [`Poster`]), and that loop writes it (`frames.rs`).

pub mod directory;
pub mod frames;
pub mod outbound;
pub mod sync;

use super::metrics::ChatMetrics;
use crate::store::model::StoredMessage;
use directory::{Directory, Route};
use outbound::{Outbound, RouterQueue};
use proto::body::{NotifyAddFriend, NotifyAuthFriend};
use reactor::PostError;
use std::sync::Arc;

/// Something for one logged-in user, handed to the loop of their connection.
#[derive(Debug, Clone)]
pub enum Push {
    /// 1019: stored messages to this user, oldest first.
    Text(Vec<StoredMessage>),
    /// 1011: someone applied to be this user's friend.
    AddFriend(NotifyAddFriend),
    /// 1015: this user's application was accepted (they are friends now),
    /// with the pair's first message.
    AuthFriend(NotifyAuthFriend, Vec<StoredMessage>),
    /// 1021, then close: the user logged in elsewhere.
    Kick,
}

/// Posts a push to one loop, where `frames::deliver` writes it. Built by
/// `server.rs` from the loop's handle before the loops start.
pub type Poster = Box<dyn Fn(Route, Push) -> Result<(), PostError> + Send + Sync>;

/// Where pushes go. Any thread; never blocks.
pub struct Delivery {
    directory: Directory,
    /// One per loop, by loop index.
    posters: Vec<Poster>,
    router: RouterQueue,
    metrics: Arc<ChatMetrics>,
}

impl Delivery {
    pub fn new(posters: Vec<Poster>, router: RouterQueue, metrics: Arc<ChatMetrics>) -> Delivery {
        Delivery { directory: Directory::default(), posters, router, metrics }
    }

    /// Who is online here.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Items waiting for the router.
    pub fn router_depth(&self) -> usize {
        self.router.depth()
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
        let Some(post) = self.posters.get(route.loop_index) else { return false };
        let posted = post(route, push);
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
            Push::AuthFriend(notice, messages) => {
                Outbound::AuthFriend { to_uid: uid, notice, messages }
            }
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
