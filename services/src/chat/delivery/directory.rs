//! Who is online on this chat server, and on which loop and connection.
//!
//! Read by every loop (to push to a local user), by the message writer's
//! threads (to route a committed message) and by the ChatService threads (to
//! deliver what peers send); written at login and close. It is split into
//! shards, each behind its own read-write lock held only for one map
//! operation, so loops rarely meet on the same lock.
//!
//! A user logs in again (here or elsewhere) while the old connection still
//! closes: every entry carries the login's `session_id`, and only the
//! session that owns the entry can remove it, so the old connection's close
//! never unroutes the new session.

use parking_lot::RwLock;
use reactor::ConnId;
use std::collections::HashMap;

const SHARDS: usize = 16;

/// Where a logged-in user's connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Unique per login on this server; told apart from earlier logins.
    pub session_id: u64,
    /// The loop that owns the connection.
    pub loop_index: usize,
    pub conn: ConnId,
}

/// uid → route, for the users connected to this server. Safe to use from
/// any thread.
pub struct Directory {
    shards: Box<[RwLock<HashMap<u64, Route>>]>,
}

impl Default for Directory {
    fn default() -> Directory {
        Directory { shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect() }
    }
}

impl Directory {
    fn shard(&self, uid: u64) -> &RwLock<HashMap<u64, Route>> {
        &self.shards[(uid % SHARDS as u64) as usize]
    }

    /// Routes `uid` to `route`; returns the route it replaces (a session
    /// that must now be kicked), if any.
    pub fn bind(&self, uid: u64, route: Route) -> Option<Route> {
        self.shard(uid).write().insert(uid, route)
    }

    /// Removes `uid` if it is still routed to `session_id`; true if removed.
    pub fn unbind(&self, uid: u64, session_id: u64) -> bool {
        let mut shard = self.shard(uid).write();
        match shard.get(&uid) {
            Some(route) if route.session_id == session_id => {
                shard.remove(&uid);
                true
            }
            _ => false,
        }
    }

    pub fn get(&self, uid: u64) -> Option<Route> {
        self.shard(uid).read().get(&uid).copied()
    }

    /// Users online here.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every (uid, session_id), for re-reporting to a restarted status server.
    pub fn sessions(&self) -> Vec<(u64, u64)> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            all.extend(shard.read().iter().map(|(&uid, route)| (uid, route.session_id)));
        }
        all
    }
}
