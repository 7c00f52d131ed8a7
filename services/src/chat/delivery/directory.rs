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

use crate::device::{Device, DeviceKind};
use parking_lot::RwLock;
use reactor::ConnId;
use std::collections::HashMap;

const SHARDS: usize = 16;

/// Where one logged-in session's connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Unique per login on this server; told apart from earlier logins.
    pub session_id: u64,
    /// The loop that owns the connection.
    pub loop_index: usize,
    pub conn: ConnId,
    /// Decides which sessions a new login replaces.
    pub kind: DeviceKind,
}

/// A session online here, as the status server is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Online {
    pub uid: u64,
    pub session_id: u64,
    pub device: Device,
}

/// One session of a user, with its device id (needed only when the status
/// server is told again; the route is what pushes use).
#[derive(Debug, Clone)]
struct Entry {
    route: Route,
    device_id: Box<str>,
}

/// One shard: uid → its sessions here.
type Shard = RwLock<HashMap<u64, Vec<Entry>>>;

/// uid → the routes of its sessions here (one per device kind, see
/// `crate::device`). Safe to use from any thread.
pub struct Directory {
    shards: Box<[Shard]>,
}

impl Default for Directory {
    fn default() -> Directory {
        Directory { shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect() }
    }
}

impl Directory {
    fn shard(&self, uid: u64) -> &Shard {
        &self.shards[(uid % SHARDS as u64) as usize]
    }

    /// Routes a new session of `uid` on `device`; returns the routes it
    /// replaces (sessions that must now be kicked: `DeviceKind::replaces`).
    pub fn bind(&self, uid: u64, route: Route, device: &Device) -> Vec<Route> {
        let mut shard = self.shard(uid).write();
        let entries = shard.entry(uid).or_default();
        let (replaced, kept): (Vec<Entry>, Vec<Entry>) =
            std::mem::take(entries).into_iter().partition(|e| route.kind.replaces(e.route.kind));
        *entries = kept;
        entries.push(Entry { route, device_id: device.id.as_str().into() });
        replaced.into_iter().map(|e| e.route).collect()
    }

    /// Removes `uid`'s session `session_id` if it is still routed; true if removed.
    pub fn unbind(&self, uid: u64, session_id: u64) -> bool {
        let mut shard = self.shard(uid).write();
        let Some(entries) = shard.get_mut(&uid) else { return false };
        let before = entries.len();
        entries.retain(|e| e.route.session_id != session_id);
        let removed = entries.len() != before;
        if entries.is_empty() {
            shard.remove(&uid);
        }
        removed
    }

    /// The routes of `uid`'s sessions here (empty: not online here).
    pub fn routes(&self, uid: u64) -> Vec<Route> {
        let shard = self.shard(uid).read();
        shard.get(&uid).map(|entries| entries.iter().map(|e| e.route).collect()).unwrap_or_default()
    }

    /// The route of `uid`'s session `session_id`, if it is here.
    pub fn route(&self, uid: u64, session_id: u64) -> Option<Route> {
        let shard = self.shard(uid).read();
        let entries = shard.get(&uid)?;
        entries.iter().map(|e| e.route).find(|r| r.session_id == session_id)
    }

    /// Users online here (a user on two devices here counts once).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every session here, for re-reporting to a restarted status server.
    pub fn sessions(&self) -> Vec<Online> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            for (&uid, entries) in shard.read().iter() {
                all.extend(entries.iter().map(|e| Online {
                    uid,
                    session_id: e.route.session_id,
                    device: Device { id: e.device_id.to_string(), kind: e.route.kind },
                }));
            }
        }
        all
    }
}
