//! The state of one client connection, owned by its loop.
//!
//! A connection goes `Anonymous → LoggingIn → Online → Ended`. Only LOGIN
//! and HEARTBEAT are accepted before `Online`; once online, the uid of every
//! request is the session's, never one from the request body. The fields are
//! private: the transitions below are the only way to change them.

use crate::chat::pacing::{Paced, Pacer};
use crate::dialect::Dialect;
use crate::store::model::UserRecord;
use std::collections::{HashSet, VecDeque};

/// Most pushed messages a session remembers for acknowledgements by count
/// (`Acknowledgement::ByCount`); beyond it the oldest is forgotten: it stays
/// pending in the store and is pushed again at the next sync (the client
/// recognises it by its id), never lost.
const MAX_UNSETTLED: usize = 4096;

/// Where a connection is in the login sequence.
#[derive(Debug, Default)]
enum Phase {
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

/// One connection's session.
#[derive(Debug, Default)]
pub struct Session {
    phase: Phase,
    /// How the client speaks, fixed by the listener that accepted it.
    dialect: Dialect,
    /// Frames waiting for their turn, for a dialect that paces them.
    pacer: Pacer,
}

impl Paced for Session {
    /// The frames waiting for their turn (`chat::pacing`).
    fn pacer_mut(&mut self) -> &mut Pacer {
        &mut self.pacer
    }
}

impl Session {
    /// Fixes the dialect (at connect, from the listener).
    pub fn set_dialect(&mut self, dialect: Dialect) {
        self.dialect = dialect;
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// True if this connection may log in now: one login per connection,
    /// and none while one is under way.
    pub fn may_log_in(&self) -> bool {
        matches!(self.phase, Phase::Anonymous)
    }

    /// LOGIN arrived and was accepted for checking (see [`Session::may_log_in`]).
    pub fn begin_login(&mut self, uid: u64) {
        debug_assert!(self.may_log_in());
        self.phase = Phase::LoggingIn { uid };
    }

    /// True while `uid`'s login on this connection is under way.
    pub fn is_logging_in(&self, uid: u64) -> bool {
        matches!(self.phase, Phase::LoggingIn { uid: u } if u == uid)
    }

    /// The login failed: the connection may try again before its deadline.
    pub fn fail_login(&mut self) {
        self.phase = Phase::Anonymous;
    }

    /// The login succeeded.
    pub fn go_online(&mut self, user: OnlineUser) {
        self.phase = Phase::Online(Box::new(user));
    }

    /// Ends the session (kicked, or closing): routed nowhere from now on.
    /// Returns the user if it was online.
    pub fn end(&mut self) -> Option<OnlineUser> {
        match std::mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Online(user) => Some(*user),
            _ => None,
        }
    }

    /// True once the session has ended: only the close is left.
    pub fn has_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

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

/// A logged-in user, as this connection knows them.
#[derive(Debug)]
pub struct OnlineUser {
    uid: u64,
    /// Unique per login; names this session to the directory and the status
    /// server, so that a newer login's routing is never removed by this one.
    session_id: u64,
    /// The profile sent to friends in notifications (no password hash).
    profile: UserRecord,
    /// Friends known to this session. A uid absent here is checked in the
    /// store before refusing (the friendship may be newer than the login).
    friends: HashSet<u64>,
    sync: SyncState,
    /// Pushed and not yet acknowledged, oldest first, for a client that
    /// acknowledges by count (empty for the others).
    unsettled: VecDeque<u64>,
}

impl OnlineUser {
    /// `profile`'s password hash is dropped: a session never holds one.
    pub fn new(session_id: u64, profile: UserRecord, friends: HashSet<u64>) -> OnlineUser {
        let profile = UserRecord { password_hash: String::new(), ..profile };
        OnlineUser {
            uid: profile.uid,
            session_id,
            profile,
            friends,
            sync: SyncState::default(),
            unsettled: VecDeque::new(),
        }
    }

    pub fn uid(&self) -> u64 {
        self.uid
    }

    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    pub fn profile(&self) -> &UserRecord {
        &self.profile
    }

    pub fn knows_friend(&self, uid: u64) -> bool {
        self.friends.contains(&uid)
    }

    pub fn add_friend(&mut self, uid: u64) {
        self.friends.insert(uid);
    }

    pub fn sync(&mut self) -> &mut SyncState {
        &mut self.sync
    }

    /// Message `message_id` was pushed; its acknowledgement will name none.
    pub fn expect_acknowledgement(&mut self, message_id: u64) {
        if self.unsettled.len() == MAX_UNSETTLED {
            self.unsettled.pop_front();
        }
        self.unsettled.push_back(message_id);
    }

    /// An acknowledgement by count arrived: the oldest unsettled message.
    pub fn next_acknowledged(&mut self) -> Option<u64> {
        self.unsettled.pop_front()
    }
}

/// Pushing the messages stored while the user was offline, page by page.
///
/// While a sync runs, live pushes are not written to the connection (the sync
/// reads them from the store, in order, anyway); `missed` remembers that one
/// was held back after the current page was read, so the sync reads once
/// more before it ends instead of leaving that message for the next login.
#[derive(Debug, Default)]
pub struct SyncState {
    /// The client will ask for its pending messages (a dialect that is not
    /// synced at login): until then live pushes are held back too, so that
    /// nothing reaches it before it can take it.
    waiting: bool,
    active: bool,
    /// The highest message id pushed so far.
    cursor: u64,
    /// A live push was held back since the last page query was issued.
    missed: bool,
}

impl SyncState {
    /// Starts from the oldest pending message.
    pub fn start(&mut self) {
        *self = SyncState { waiting: false, active: true, cursor: 0, missed: false };
    }

    /// Nothing is pushed until the client asks ([`SyncState::start`]).
    pub fn wait_for_request(&mut self) {
        self.waiting = true;
    }

    /// True while a sync runs (pages are being read).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// True if a live push must not be written now: a sync runs (it reads
    /// the message from the store, in order), or the client has not asked yet.
    pub fn holds_back_live(&self) -> bool {
        self.active || self.waiting
    }

    /// A page query is issued: returns the cursor to read after.
    pub fn next_query(&mut self) -> u64 {
        self.missed = false;
        self.cursor
    }

    /// A live push arrived during the sync and was held back.
    pub fn hold_back(&mut self) {
        self.missed = true;
    }

    /// A page arrived whose last message is `last` (if any); `full` if it
    /// was a whole page. Returns true if the sync goes on.
    pub fn page_read(&mut self, last: Option<u64>, full: bool) -> bool {
        if let Some(last) = last {
            self.cursor = last;
        }
        if !full && !self.missed {
            self.active = false; // caught up: live pushes flow from now on
        }
        self.active
    }
}
