//! The store's operations, implemented by each backend's connection type.
//! They run on the pool's worker threads (never on a loop thread).

use super::friends::{self, FriendRows};
use super::groups::{self, GroupLimits, GroupRows, GroupUpdate};
use super::model::*;
use super::pool::StoreError;
use super::watermarks::{self, HeldAcks, WatermarkRows};

/// One connection's worth of store operations.
pub trait StoreConn: Send + 'static {
    /// Creates a user; `Conflict` if the name or the e-mail is taken.
    fn create_user(&mut self, user: &NewUser) -> Result<u64, StoreError>;
    fn user_by_uid(&mut self, uid: u64) -> Result<Option<UserRecord>, StoreError>;
    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Sets a new password hash and, in the same transaction, deletes every
    /// session token of the user (a new password ends every resumable
    /// session). Returns false if there is no such user.
    fn update_password_hash(&mut self, uid: u64, hash: &str) -> Result<bool, StoreError>;

    /// Stores `token`, replacing the token of the same (user, device), and
    /// deletes the user's expired tokens and, beyond `per_user`, the oldest.
    fn store_session_token(
        &mut self,
        token: &SessionToken,
        per_user: usize,
    ) -> Result<(), StoreError>;
    /// The token whose hash is `token_hash`, if it has not expired at `now_ms`.
    fn session_token(
        &mut self,
        token_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionToken>, StoreError>;
    /// Deletes the token (a logout). False if there was none.
    fn revoke_session_token(&mut self, token_hash: &[u8; 32]) -> Result<bool, StoreError>;

    /// Runs `rules` on this connection's friendship rows inside one
    /// transaction, committed if `rules` succeeds and rolled back if not.
    /// The rules themselves are [`super::friends`]'s, the same for every backend.
    fn friend_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn FriendRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError>;
    /// Records (or renews) `from`'s application to befriend `to`; `Conflict`
    /// if they are already friends.
    fn apply_friend(
        &mut self,
        from: u64,
        to: u64,
        apply_text: &str,
        remark: &str,
    ) -> Result<(), StoreError> {
        let application = friends::Application { from, to, apply_text, remark };
        self.friend_transaction(&mut |rows| friends::apply(rows, &application).map(|()| 0))
            .map(drop)
    }
    /// `acceptor` accepts `applicant`'s pending application (see
    /// [`friends::accept`]). Returns the thread id; `Conflict` without a
    /// pending application.
    fn accept_friend(
        &mut self,
        applicant: u64,
        acceptor: u64,
        remark: &str,
    ) -> Result<u64, StoreError> {
        self.friend_transaction(&mut |rows| friends::accept(rows, applicant, acceptor, remark))
    }
    /// `decliner` declines `applicant`'s pending application (see
    /// [`friends::decline`]); `Conflict` without a pending application.
    fn decline_friend(&mut self, applicant: u64, decliner: u64) -> Result<(), StoreError> {
        self.friend_transaction(&mut |rows| friends::decline(rows, applicant, decliner).map(|()| 0))
            .map(drop)
    }
    fn are_friends(&mut self, a: u64, b: u64) -> Result<bool, StoreError>;
    /// Many users in one transaction, for provisioning benchmark runs;
    /// `Conflict` (and nothing stored) if a name or e-mail is taken.
    fn create_users(&mut self, users: &[NewUser]) -> Result<Vec<u64>, StoreError>;
    /// Makes each pair friends in one transaction, as if the first had
    /// applied and the second accepted: the accepted application, both
    /// friendship rows (empty remarks) and the private thread.
    fn befriend_pairs(&mut self, pairs: &[(u64, u64)]) -> Result<(), StoreError>;
    /// Profile, friends and pending applications, in three queries.
    fn login_data(&mut self, uid: u64) -> Result<Option<LoginData>, StoreError>;

    /// The private thread of two users, created if absent.
    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError>;
    fn thread(&mut self, thread_id: u64) -> Result<Option<ThreadRecord>, StoreError>;
    /// A user's threads with ids above `after`, oldest first, at most `limit`.
    fn threads_of(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ThreadRecord>, StoreError>;

    /// Stores a batch in one transaction, numbering each conversation's new
    /// messages after its last seq under the conversation's row lock (so
    /// commit order is seq order, whatever the number of writers). A message
    /// whose (sender, unique_id) is already stored is not stored again: the
    /// stored one is returned in its place (`delivered` tells whether its
    /// receiver has it). A group's message is stored only if its sender is a
    /// member then (checked under the same lock as the group's changes take),
    /// and comes back with the members it goes to. The result is in the
    /// order of `batch`.
    fn append_batch(&mut self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError>;
    /// [`StoreConn::append_batch`] of messages that must all be stored
    /// (`Refused(NotMember)` if one of a group's was not: the others are).
    fn append_messages(&mut self, batch: &[NewMessage]) -> Result<Vec<StoredMessage>, StoreError> {
        self.append_batch(batch)?
            .into_iter()
            .map(|a| match a {
                Appended::Stored { message, .. } => Ok(message),
                Appended::NotMember => Err(StoreError::Refused(proto::ErrorCode::NotMember)),
            })
            .collect()
    }
    /// Messages of a thread with ids below `before` (0: the newest), newest
    /// first, at most `limit`; `delivered` is left false.
    fn thread_messages(
        &mut self,
        thread_id: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// [`StoreConn::thread_messages`], each marked delivered if its receiver has it.
    fn thread_page(
        &mut self,
        thread_id: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut page = self.thread_messages(thread_id, before, limit)?;
        watermarks::fill_delivered(&mut page, |uid, thread| self.receiver_watermark(uid, thread))?;
        Ok(page)
    }
    /// The highest watermark of `uid`'s devices in a conversation (0 if none).
    fn receiver_watermark(&mut self, uid: u64, thread_id: u64) -> Result<u64, StoreError>;

    /// `uid`'s conversations with id `from_thread` or above whose last seq is
    /// above `device`'s watermark, in id order, at most `limit`: each with
    /// that watermark (0 if the device has none there; in a group, just
    /// below the joining) and the last seq `uid` may have (a former group
    /// member's leaving). For the legacy device, only those with a message
    /// above it from someone else (its user's own are never pushed to it,
    /// so a run of them is not a backlog).
    fn conversations_behind(
        &mut self,
        uid: u64,
        device: &str,
        from_thread: u64,
        limit: usize,
    ) -> Result<Vec<Behind>, StoreError>;
    /// Messages of a conversation with `after < seq <= until`, oldest first,
    /// at most `limit`, leaving out those sent by `skip_sender` (0: none);
    /// `delivered` is left false.
    fn conversation_after(
        &mut self,
        thread_id: u64,
        after: u64,
        until: u64,
        skip_sender: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// `uid` has read conversation `thread_id` up to `seq` (clamped to its
    /// last seq, or a former group member's leaving). The read mark only
    /// rises; `None` if it did not (already there, or `uid` is not a
    /// member, or nothing to read). A group's mark names no peer (0).
    fn mark_read(
        &mut self,
        uid: u64,
        thread_id: u64,
        seq: u64,
    ) -> Result<Option<ReadMark>, StoreError>;

    /// The rows behind the summaries of these conversations of `uid`, as
    /// seen by `device` (see [`StoreConn::conversations`]).
    fn conversation_rows(
        &mut self,
        uid: u64,
        device: &str,
        threads: &[u64],
    ) -> Result<ConversationRows, StoreError>;

    /// `uid`'s conversations with ids above `after`, in id order, at most
    /// `limit`: each with its last seq and message, `device`'s delivered
    /// seq, both members' read seqs and the unread count.
    fn conversations(
        &mut self,
        uid: u64,
        device: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let threads = self.conversation_threads(uid, after, limit)?;
        if threads.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<u64> = threads.iter().map(|t| t.0.thread_id).collect();
        let rows = self.conversation_rows(uid, device, &ids)?;
        Ok(summarize(uid, &threads, rows))
    }

    /// `uid`'s private threads and current groups with ids above `after`,
    /// in id order, at most `limit`; a group with its name.
    fn conversation_threads(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(ThreadRecord, Option<String>)>, StoreError>;

    /// Messages of a conversation with `after < seq < before` (`before` 0:
    /// no bound), at most `limit`: the lowest ones in seq order, or with
    /// `newest` the highest ones, highest first (a history page backwards).
    /// `delivered` is left false.
    fn conversation_range(
        &mut self,
        thread_id: u64,
        after: u64,
        before: u64,
        limit: usize,
        newest: bool,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// [`StoreConn::conversation_range`] for `uid`, who must be a member
    /// (`None` otherwise), always in seq order, with `delivered` filled in.
    fn member_range(
        &mut self,
        uid: u64,
        thread_id: u64,
        after: u64,
        before: u64,
        limit: usize,
        newest: bool,
    ) -> Result<Option<Vec<StoredMessage>>, StoreError>
    where
        Self: Sized,
    {
        let Some(thread) = self.thread(thread_id)? else { return Ok(None) };
        let (mut after, mut before) = (after, before);
        if thread.is_group() {
            // A member reads from its joining (or all, if the group shows
            // its history) up to its leaving.
            let Some((group, me)) = self.group_view(uid, thread_id)? else { return Ok(None) };
            if !group.history_visible {
                after = after.max(me.joined_seq - 1);
            }
            if !me.is_current() {
                let end = me.left_seq + 1;
                before = if before == 0 { end } else { before.min(end) };
            }
            if before != 0 && after + 1 >= before {
                return Ok(Some(Vec::new()));
            }
        } else if !thread.has_member(uid) {
            return Ok(None);
        }
        let mut page = self.conversation_range(thread_id, after, before, limit, newest)?;
        if newest {
            page.reverse();
        }
        watermarks::fill_delivered(&mut page, |uid, thread| self.receiver_watermark(uid, thread))?;
        Ok(Some(page))
    }

    /// A login named `device` (not the legacy one): records it as seen now.
    /// A device seen for the first time starts at `uid`'s current place in
    /// every conversation (watermarks at each last seq): older messages are
    /// history to it, not pushes. Beyond `max_devices` the devices seen
    /// longest ago are forgotten with their watermarks. True if it was new.
    fn register_device(
        &mut self,
        uid: u64,
        device: &str,
        kind: u32,
        max_devices: usize,
    ) -> Result<bool, StoreError>;
    /// A page of what `device` of `uid` has not received, from `after`: the
    /// conversations whose last seq is above its watermark, in id order, each
    /// from its watermark up. The legacy device is not given its user's own
    /// messages. At most `limit` messages.
    fn backlog(
        &mut self,
        uid: u64,
        device: &str,
        after: SeqCursor,
        limit: usize,
    ) -> Result<Backlog, StoreError> {
        let limit = limit.max(1);
        let skip_sender = if device == LEGACY_DEVICE { uid } else { 0 };
        let behind = self.conversations_behind(uid, device, after.thread_id, limit)?;
        let mut page = Backlog { messages: Vec::new(), next: after, more: behind.len() == limit };
        for &Behind { thread_id, watermark, until } in &behind {
            let from =
                if thread_id == after.thread_id { watermark.max(after.seq) } else { watermark };
            let room = limit - page.messages.len();
            let found = self.conversation_after(thread_id, from, until, skip_sender, room)?;
            if found.len() == room {
                let last = found.last().map_or(from, |m| m.seq);
                page.next = SeqCursor { thread_id, seq: last };
                page.messages.extend(found);
                page.more = true;
                return Ok(page);
            }
            page.messages.extend(found);
            page.next = SeqCursor { thread_id: thread_id + 1, seq: 0 };
        }
        Ok(page)
    }

    /// Runs `rules` on this connection's watermark rows inside one
    /// transaction, committed if `rules` succeeds. The rules are
    /// [`super::watermarks`]'s, the same for every backend.
    fn watermark_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn WatermarkRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError>;
    /// Applies acknowledgements (see [`super::watermarks`]), with `held` the
    /// out-of-order ones that still wait; returns how many watermarks rose.
    fn acknowledge_holding(
        &mut self,
        acks: &[DeliveryAck],
        held: &mut HeldAcks,
    ) -> Result<u64, StoreError> {
        self.watermark_transaction(&mut |rows| watermarks::advance(rows, acks, held))
    }
    /// [`StoreConn::acknowledge_holding`] with nothing held before or after.
    fn acknowledge(&mut self, acks: &[DeliveryAck]) -> Result<u64, StoreError> {
        self.acknowledge_holding(acks, &mut HeldAcks::new(0))
    }

    /// Runs `rules` on this connection's group rows inside one transaction,
    /// committed if `rules` succeeds. The rules are [`super::groups`]'s.
    fn group_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn GroupRows) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Runs one group rule and returns what it made.
    fn in_group_transaction<T>(
        &mut self,
        mut rule: impl FnMut(&mut dyn GroupRows) -> Result<T, StoreError>,
    ) -> Result<T, StoreError>
    where
        Self: Sized,
    {
        let mut made = None;
        self.group_transaction(&mut |rows| {
            made = Some(rule(rows)?);
            Ok(())
        })?;
        made.ok_or_else(|| StoreError::Database("a group transaction made nothing".into()))
    }

    /// [`groups::create`].
    fn create_group(
        &mut self,
        limits: &GroupLimits,
        owner: u64,
        name: &str,
        description: &str,
        members: &[u64],
    ) -> Result<GroupChange, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| {
            groups::create(rows, limits, owner, name, description, members)
        })
    }

    /// [`groups::invite`].
    fn invite_to_group(
        &mut self,
        limits: &GroupLimits,
        inviter: u64,
        thread_id: u64,
        uids: &[u64],
    ) -> Result<GroupChange, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::invite(rows, limits, inviter, thread_id, uids))
    }

    /// [`groups::leave`].
    fn leave_group(&mut self, uid: u64, thread_id: u64) -> Result<GroupChange, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::leave(rows, uid, thread_id))
    }

    /// [`groups::remove`].
    fn remove_from_group(
        &mut self,
        by: u64,
        thread_id: u64,
        uid: u64,
    ) -> Result<GroupChange, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::remove(rows, by, thread_id, uid))
    }

    /// [`groups::set_role`].
    fn set_group_role(
        &mut self,
        by: u64,
        thread_id: u64,
        uid: u64,
        role: Role,
    ) -> Result<GroupChange, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::set_role(rows, by, thread_id, uid, role))
    }

    /// [`groups::update`].
    fn update_group(
        &mut self,
        by: u64,
        thread_id: u64,
        changes: &GroupUpdate,
    ) -> Result<GroupChange, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::update(rows, by, thread_id, changes))
    }

    /// [`groups::dissolve`].
    fn dissolve_group(&mut self, by: u64, thread_id: u64) -> Result<GroupChange, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::dissolve(rows, by, thread_id))
    }

    /// [`groups::view`]: the group and `uid`'s membership, if it has one.
    fn group_view(
        &mut self,
        uid: u64,
        thread_id: u64,
    ) -> Result<Option<(GroupRecord, MemberRecord)>, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::view(rows, uid, thread_id))
    }

    /// `uid`'s current groups with ids above `after`, at most `limit`.
    fn groups_of(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(GroupRecord, MemberRecord)>, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| rows.member_groups(uid, after, limit))
    }

    /// [`groups::members`].
    fn group_members(
        &mut self,
        asker: u64,
        thread_id: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<Vec<MemberProfile>, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| groups::members(rows, asker, thread_id, after_uid, limit))
    }

    /// [`groups::readers`].
    fn group_readers(
        &mut self,
        asker: u64,
        thread_id: u64,
        seq: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<Readers, StoreError>
    where
        Self: Sized,
    {
        self.in_group_transaction(|rows| {
            groups::readers(rows, asker, thread_id, seq, after_uid, limit)
        })
    }
}

/// Builds the summaries of `threads` (as `uid` sees them) from their rows.
fn summarize(
    uid: u64,
    threads: &[(ThreadRecord, Option<String>)],
    rows: ConversationRows,
) -> Vec<ConversationSummary> {
    let of = |pairs: &[(u64, u64)], thread: u64| {
        pairs.iter().find(|&&(t, _)| t == thread).map_or(0, |&(_, v)| v)
    };
    let read_by = |reader: u64, thread: u64| {
        let mut marks = rows.read_marks.iter();
        marks.find(|&&(u, t, _)| u == reader && t == thread).map_or(0, |&(_, _, seq)| seq)
    };
    threads
        .iter()
        .map(|(t, group_name)| {
            let peer = if t.is_group() { 0 } else { t.other_member(uid) };
            let last_message = rows.last_messages.iter().find(|m| m.thread_id == t.thread_id);
            ConversationSummary {
                thread_id: t.thread_id,
                peer,
                group_name: group_name.clone(),
                last_seq: last_message.map_or(0, |m| m.seq),
                delivered_seq: of(&rows.watermarks, t.thread_id),
                read_seq: read_by(uid, t.thread_id),
                peer_read_seq: if peer == 0 { 0 } else { read_by(peer, t.thread_id) },
                unread: of(&rows.unread, t.thread_id),
                last_message: last_message.cloned(),
            }
        })
        .collect()
}
