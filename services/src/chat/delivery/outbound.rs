//! What leaves this server for users on other chat servers, and the bounded
//! queue it waits in for the router (`peers/router.rs`).
//!
//! Everything queued here is already stored: an item that cannot be queued
//! (full queue) is dropped, and its user gets it at the next login; one the
//! router fails to deliver (status server or peer unreachable) is owed, and
//! the user's sessions are caught up once it can (`peers/router.rs`).

use super::push::{GroupPush, Push};
use crossbeam_channel::{bounded, Receiver, Sender};
use proto::rpc::status::UserLocation;
use std::sync::Arc;

/// Work for the router.
#[derive(Debug)]
pub enum Outbound {
    /// `push` for every session of `to` that is not in `reached`: those on
    /// other servers, and any here that logged in after it was pushed here.
    Push {
        to: u64,
        push: Push,
        /// Sessions here that already have it, or must not get it (the
        /// sending device).
        reached: Vec<u64>,
    },
    /// A group's messages for the sessions of `members` that are not in
    /// `reached` (those on other servers get one call per server).
    Group {
        members: Arc<[u64]>,
        push: Arc<GroupPush>,
        /// Sessions here that already have it, or must not get it.
        reached: Vec<u64>,
    },
    /// Kick a session that a newer login replaced.
    Kick(UserLocation),
}

impl Outbound {
    /// The users it is for, when the status server must be asked where they are.
    pub fn receivers(&self) -> &[u64] {
        match self {
            Outbound::Push { to, .. } => std::slice::from_ref(to),
            Outbound::Group { members, .. } => members,
            Outbound::Kick(_) => &[],
        }
    }
}

/// The sending side of the router's queue. Any thread.
#[derive(Clone)]
pub struct RouterQueue {
    sender: Sender<Outbound>,
}

impl RouterQueue {
    /// Queues `outbound` without waiting; false if the queue is full.
    pub fn send(&self, outbound: Outbound) -> bool {
        let sent = self.sender.try_send(outbound).is_ok();
        if !sent {
            log::warn!("router queue full: a push to another server was dropped");
        }
        sent
    }

    pub fn depth(&self) -> usize {
        self.sender.len()
    }
}

/// The router's queue: the sending side for delivery, the receiving side
/// for the router thread (which starts later).
pub fn router_queue(capacity: usize) -> (RouterQueue, Receiver<Outbound>) {
    let (sender, receiver) = bounded(capacity);
    (RouterQueue { sender }, receiver)
}
