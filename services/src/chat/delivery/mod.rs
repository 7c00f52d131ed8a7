//! Delivery: everything that happens to a message (or a friend notice, or a
//! kick) after it is stored.
//!
//! | file | what |
//! |---|---|
//! | `directory` | uid → (loop, connection, session id, device kind) of each session here |
//! | `push` | [`Push`]: what a session is sent after a commit (or a kick); a group's frames, encoded once |
//! | `outbound` | what goes to other chat servers, and the router's queue |
//! | `presence_queue` | users' first sessions online, last ones offline, for the presence notifier |
//! | this file | [`Delivery`]: here through a loop's inbox, and away through the router |
//! | `frames` | on the loop: writing a push to the connection (1019 chunking) |
//! | `sync` | on the loop: the pending messages after a login, paced by `on_drained` |
//!
//! Connections are never touched from here: a push for a user online here is
//! posted to the inbox of the loop that owns the connection (through the
//! loop's [`Poster`]), and that loop writes it (`frames.rs`).

pub mod directory;
pub mod frames;
pub mod outbound;
pub mod presence_queue;
pub mod push;
pub mod sync;

pub use push::{GroupPush, Push};

use super::metrics::ChatMetrics;
use directory::{Directory, Route};
use outbound::{Outbound, RouterQueue};
use reactor::PostError;
use std::sync::Arc;

/// Posts a push for some of its connections to one loop, where
/// `frames::deliver` writes it to each. Built by `server.rs` from the loop's
/// handle before the loops start.
pub type Poster = Box<dyn Fn(Vec<Route>, Push) -> Result<(), PostError> + Send + Sync>;

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

    /// Hands `push` to the loop of every session of `uid` here. True if
    /// at least one was handed over.
    pub fn push_local(&self, uid: u64, push: Push) -> bool {
        let mut handed = false;
        for route in self.directory.routes(uid) {
            handed |= self.push_to(route, push.clone());
        }
        handed
    }

    /// Hands `push` to the connection at `route` (checked again on its loop:
    /// the session may have ended meanwhile).
    pub fn push_to(&self, route: Route, push: Push) -> bool {
        self.post(route.loop_index, vec![route], push)
    }

    /// Hands `push` to loop `loop_index` for the connections at `routes`.
    fn post(&self, loop_index: usize, routes: Vec<Route>, push: Push) -> bool {
        let Some(post) = self.posters.get(loop_index) else { return false };
        let posted = post(routes, push);
        if posted.is_err() {
            ChatMetrics::add(&self.metrics.pushes_dropped, 1);
            log::warn!("loop {loop_index} inbox full: a push was dropped");
        }
        posted.is_ok()
    }

    /// Delivers a group's messages to the sessions of `members` (all of
    /// them but the session `except`, the one that sent them): here with
    /// one post per loop for all the members on it, and through the router
    /// to the other servers (one call per server, whatever the number of
    /// members there).
    pub fn push_group(&self, members: Arc<[u64]>, push: Arc<GroupPush>, except: Option<u64>) {
        let reached = self.push_group_here(&members, &push, except);
        self.forward(Outbound::Group { members, push, reached });
    }

    /// The part of [`Delivery::push_group`] for the sessions here; returns
    /// the sessions handed the push (and `except`).
    pub fn push_group_here(
        &self,
        members: &[u64],
        push: &Arc<GroupPush>,
        except: Option<u64>,
    ) -> Vec<u64> {
        let mut by_loop: Vec<Vec<Route>> = vec![Vec::new(); self.posters.len()];
        let mut reached: Vec<u64> = except.into_iter().collect();
        for &uid in members {
            for route in self.directory.routes(uid) {
                if Some(route.session_id) != except && route.loop_index < by_loop.len() {
                    reached.push(route.session_id);
                    by_loop[route.loop_index].push(route);
                }
            }
        }
        for (loop_index, routes) in by_loop.into_iter().enumerate() {
            if !routes.is_empty() {
                self.post(loop_index, routes, Push::Group(push.clone()));
            }
        }
        reached
    }

    /// Has every session here caught up from its device's watermark
    /// ([`Push::CatchUp`]): after the status server lost track of them,
    /// other servers' pushes for them were dropped unseen. Returns how many
    /// sessions were asked. Any thread.
    pub fn catch_up_everyone(&self) -> usize {
        let sessions = self.directory.sessions();
        for session in &sessions {
            if let Some(route) = self.directory.route(session.uid, session.session_id) {
                self.push_to(route, Push::CatchUp);
            }
        }
        sessions.len()
    }

    /// Kicks `uid`'s session `session_id` if it is connected here.
    pub fn kick_local(&self, uid: u64, session_id: u64) -> bool {
        match self.directory.route(uid, session_id) {
            Some(route) => self.push_to(route, Push::Kick),
            None => false,
        }
    }

    /// Delivers `push` to every session of `uid` (one per device), except
    /// the session `except` (the device that sent it): at once to those
    /// here, and through the router to the others.
    ///
    /// The router is asked even when the user has a session here, since
    /// another device may be on another server. That costs one status
    /// lookup per router round (not per message), and spares the status
    /// server from telling every chat server about every login.
    pub fn push_everywhere(&self, uid: u64, push: Push, except: Option<u64>) {
        let mut reached: Vec<u64> = except.into_iter().collect();
        for route in self.directory.routes(uid) {
            if Some(route.session_id) != except {
                self.push_to(route, push.clone());
                reached.push(route.session_id);
            }
        }
        self.forward(Outbound::Push { to: uid, push, reached });
    }

    /// Queues work for the router; a full router queue drops it (the data
    /// is stored: the user gets it at the next login).
    pub fn forward(&self, outbound: Outbound) {
        if !self.router.send(outbound) {
            ChatMetrics::add(&self.metrics.pushes_dropped, 1);
        }
    }
}
