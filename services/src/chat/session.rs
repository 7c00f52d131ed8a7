//! The state of one client connection, owned by its loop.
//!
//! A connection goes `Anonymous → LoggingIn → Online`. Only LOGIN and
//! HEARTBEAT are accepted before `Online`; once online, the uid of every
//! request is the session's, never one from the request body.

use crate::store::model::UserRecord;
use std::collections::HashSet;

/// Where a connection is in the login sequence.
#[derive(Debug, Default)]
pub enum Phase {
    /// Connected; nothing but LOGIN and HEARTBEAT yet.
    #[default]
    Anonymous,
    /// LOGIN received; the token check and profile load are under way.
    LoggingIn { uid: u64 },
    /// Logged in: requests act as this user.
    Online(Box<OnlineUser>),
    /// Replaced by a newer login and closing: routed nowhere, ignores input.
    Ended,
}

/// A logged-in user, as this connection knows them.
#[derive(Debug)]
pub struct OnlineUser {
    pub uid: u64,
    /// Unique per login; names this session to the directory and the status
    /// server, so that a newer login's routing is never removed by this one.
    pub session_id: u64,
    /// The profile sent to friends in notifications (no password hash).
    pub profile: UserRecord,
    /// Friends known to this session. A uid absent here is checked in the
    /// store before refusing (the friendship may be newer than the login).
    pub friends: HashSet<u64>,
    pub sync: SyncState,
}

/// Pushing the messages stored while the user was offline, page by page.
///
/// While a sync runs, live pushes are not written to the connection (the sync
/// reads them from the store, in order, anyway); `missed` remembers that one
/// was held back after the current page was read, so the sync reads once
/// more before it ends instead of leaving that message for the next login.
#[derive(Debug, Default)]
pub struct SyncState {
    pub active: bool,
    /// The highest message id pushed so far.
    pub cursor: u64,
    /// A live push was held back since the last page query was issued.
    pub missed: bool,
}

/// One connection's session.
#[derive(Debug, Default)]
pub struct Session {
    pub phase: Phase,
}

impl Session {
    /// The logged-in user, if any.
    pub fn online(&self) -> Option<&OnlineUser> {
        match &self.phase {
            Phase::Online(user) => Some(user),
            _ => None,
        }
    }

    pub fn online_mut(&mut self) -> Option<&mut OnlineUser> {
        match &mut self.phase {
            Phase::Online(user) => Some(user),
            _ => None,
        }
    }

    /// The uid, once online.
    pub fn uid(&self) -> Option<u64> {
        self.online().map(|u| u.uid)
    }
}
