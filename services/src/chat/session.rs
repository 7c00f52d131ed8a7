//! The state of one client connection, owned by its loop.
//!
//! A connection goes `Anonymous → LoggingIn → Online → Ended`. Only LOGIN
//! and HEARTBEAT are accepted before `Online`; once online, the uid of every
//! request is the session's, never one from the request body. The fields are
//! private: the transitions below are the only way to change them.

use crate::chat::pacing::{Paced, Pacer};
use crate::device::Device;
use crate::dialect::Dialect;
use crate::store::model::{Backlog, SeqCursor, StoredMessage, UserRecord};
use std::collections::{HashMap, HashSet, VecDeque};

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
    /// The device the login named (its watermarks are this session's).
    device: Device,
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
    pub fn new(
        session_id: u64,
        device: Device,
        profile: UserRecord,
        friends: HashSet<u64>,
    ) -> OnlineUser {
        let profile = UserRecord { password_hash: String::new(), ..profile };
        OnlineUser {
            uid: profile.uid,
            session_id,
            device,
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

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The device's name in the store's watermarks (`LEGACY_DEVICE`: "").
    pub fn device_id(&self) -> &str {
        &self.device.id
    }

    pub fn profile(&self) -> &UserRecord {
        &self.profile
    }

    pub fn knows_friend(&self, uid: u64) -> bool {
        self.friends.contains(&uid)
    }

    /// The friends known to this session (see `knows_friend`).
    pub fn friends(&self) -> Vec<u64> {
        self.friends.iter().copied().collect()
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

/// Most live messages a sync holds back (see [`SyncState`]); beyond it the
/// sync runs once more from the start when it ends (what it pushes twice,
/// the client drops by `message_id`).
const MAX_HELD_BACK: usize = 1024;

/// Pushing what the device has not received, page by page.
///
/// While a sync runs, live pushes are not written to the connection at once:
/// a message of a conversation the sync has not reached yet will be read
/// from the store in its place. But a page may have been read just before a
/// message committed, and the sync may have moved past its conversation: so
/// held-back messages are kept (bounded), and each is written once the sync
/// has passed its place, unless a page already carried it (`covered`).
///
/// The other race runs the other way: a page read just after a message
/// committed carries it, while its live push is still on its way (through
/// another chat server, say) and arrives after the sync has ended. So
/// `covered` outlives the sync, and [`SyncState::drop_covered`] removes such
/// late pushes. It is exact because commit order is seq order: every
/// message of a conversation at or below what a page reached was committed
/// before that page was read, so the page carried it (or skipped it as the
/// reader's own).
#[derive(Debug, Default)]
pub struct SyncState {
    /// The client will ask for its pending messages (a dialect that is not
    /// synced at login): until then live pushes are held back too, so that
    /// nothing reaches it before it can take it (the sync reads them).
    waiting: bool,
    active: bool,
    /// Where the next page starts (a conversation and a seq in it).
    cursor: SeqCursor,
    /// Per conversation, the seq up to which pages have been read: every
    /// message at or below it has been written (or was the reader's own).
    /// One entry per conversation synced; kept after the sync ends.
    covered: HashMap<u64, u64>,
    /// Live messages held back, oldest first per conversation.
    held: Vec<StoredMessage>,
    /// More than [`MAX_HELD_BACK`] were held: start again at the end.
    overflowed: bool,
    /// A live push was skipped because the connection's output was full (a
    /// slow group member): a sync starts once it has drained.
    behind: bool,
}

impl SyncState {
    /// Starts from the first conversation, each at its watermark.
    pub fn start(&mut self) {
        *self = SyncState { active: true, ..SyncState::default() };
    }

    /// Nothing is pushed until the client asks ([`SyncState::start`]).
    pub fn wait_for_request(&mut self) {
        self.waiting = true;
    }

    /// True while a sync runs (pages are being read).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// True if a live push must not be written now: a sync runs, or the
    /// client has not asked yet ([`SyncState::hold_back`] takes it).
    pub fn holds_back_live(&self) -> bool {
        self.active || self.waiting
    }

    /// Where the next page query starts.
    pub fn next_query(&self) -> SeqCursor {
        self.cursor
    }

    /// Live messages arrived while live pushes are held back.
    pub fn hold_back(&mut self, messages: &[StoredMessage]) {
        if !self.active {
            return; // not asked yet: the sync, when it starts, reads them
        }
        if self.held.len() + messages.len() > MAX_HELD_BACK {
            self.overflowed = true;
            return;
        }
        self.held.extend_from_slice(messages);
    }

    /// A live push was skipped (the connection is behind): catch up by a
    /// sync once the output drains ([`SyncState::take_behind`]).
    pub fn fall_behind(&mut self) {
        self.behind = true;
    }

    /// True once after [`SyncState::fall_behind`].
    pub fn take_behind(&mut self) -> bool {
        std::mem::take(&mut self.behind)
    }

    /// True if a page has already written one of these live messages.
    pub fn covers_any(&self, messages: &[StoredMessage]) -> bool {
        !self.covered.is_empty()
            && messages
                .iter()
                .any(|m| m.seq <= self.covered.get(&m.thread_id).copied().unwrap_or(0))
    }

    /// Removes the live messages a page has already written.
    pub fn drop_covered(&self, messages: &mut Vec<StoredMessage>) {
        if !self.covered.is_empty() {
            messages.retain(|m| m.seq > self.covered.get(&m.thread_id).copied().unwrap_or(0));
        }
    }

    /// A page arrived (written by the caller); the next starts at
    /// `page.next`. Returns whether the sync goes on, and the held-back
    /// messages to write now (after the page): those whose place the sync
    /// has passed without carrying them, in conversation and seq order.
    pub fn page_read(&mut self, page: &Backlog) -> (bool, Vec<StoredMessage>) {
        for m in &page.messages {
            let covered = self.covered.entry(m.thread_id).or_insert(0);
            *covered = (*covered).max(m.seq);
        }
        self.cursor = page.next;
        let cursor = self.cursor;
        let passed = |m: &StoredMessage| {
            !page.more
                || m.thread_id < cursor.thread_id
                || (m.thread_id == cursor.thread_id && m.seq <= cursor.seq)
        };
        let (mut release, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.held).into_iter().partition(passed);
        self.held = keep;
        self.drop_covered(&mut release);
        release.sort_by_key(|m| (m.thread_id, m.seq));
        release.dedup_by_key(|m| (m.thread_id, m.seq));
        if !page.more {
            if self.overflowed {
                self.start(); // once more from the start: what was dropped is in the store
                return (true, release);
            }
            self.active = false; // caught up: live pushes flow from now on
        }
        (self.active, release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(thread_id: u64, seq: u64) -> StoredMessage {
        StoredMessage {
            message_id: thread_id * 1000 + seq,
            thread_id,
            seq,
            sender: 1,
            receiver: 2,
            unique_id: format!("u{seq}"),
            content: String::new(),
            kind: 0,
            chat_time: 0,
            delivered: false,
            resent: false,
        }
    }

    fn seqs(messages: &[StoredMessage]) -> Vec<u64> {
        messages.iter().map(|m| m.seq).collect()
    }

    fn last_page(messages: Vec<StoredMessage>) -> Backlog {
        Backlog { messages, next: SeqCursor { thread_id: 8, seq: 0 }, more: false }
    }

    /// The race that once pushed three messages twice: the page read after
    /// they committed, their live push (through the router) arrived after
    /// the sync had ended.
    #[test]
    fn a_live_push_that_a_page_already_carried_is_dropped_after_the_sync() {
        let mut sync = SyncState::default();
        sync.start();
        let (more, released) = sync.page_read(&last_page(vec![message(7, 61), message(7, 62)]));
        assert!(!more && released.is_empty() && !sync.holds_back_live());
        let mut late = vec![message(7, 61), message(7, 62), message(7, 63), message(9, 1)];
        sync.drop_covered(&mut late);
        assert_eq!(
            late.iter().map(|m| (m.thread_id, m.seq)).collect::<Vec<_>>(),
            [(7, 63), (9, 1)]
        );
    }

    /// Held back while the page was read before they committed: written
    /// after the page, once, in seq order.
    #[test]
    fn held_back_messages_the_page_missed_are_released_once_in_order() {
        let mut sync = SyncState::default();
        sync.start();
        sync.hold_back(&[message(7, 63), message(7, 62)]);
        sync.hold_back(&[message(7, 62)]);
        let (more, released) = sync.page_read(&last_page(vec![message(7, 61)]));
        assert!(!more);
        assert_eq!(seqs(&released), [62, 63]);
    }

    /// A page that stops inside a conversation releases only what lies
    /// below its cursor; the rest waits for the page that passes it.
    #[test]
    fn held_back_messages_wait_until_a_page_passes_their_place() {
        let mut sync = SyncState::default();
        sync.start();
        sync.hold_back(&[message(7, 5), message(9, 2)]);
        let first = Backlog {
            messages: vec![message(7, 4)],
            next: SeqCursor { thread_id: 7, seq: 4 },
            more: true,
        };
        let (more, released) = sync.page_read(&first);
        assert!(more && released.is_empty());
        let (more, released) = sync.page_read(&last_page(vec![message(7, 5)]));
        assert!(!more);
        assert_eq!(released.iter().map(|m| (m.thread_id, m.seq)).collect::<Vec<_>>(), [(9, 2)]);
    }
}
