//! The group rules, decided once for every backend, inside one transaction.
//!
//! A group is a conversation whose membership changes are messages of it
//! (events, `kind` 1): each change locks the conversation's row, as the
//! message writer does to number texts, and stores its event with the next
//! seq. So every member sees joins, leaves and removals in one order with
//! the texts around them, and the writer, which checks a sender's
//! membership under the same lock, never stores a text of a member after
//! the event that removed it. A backend offers row operations
//! ([`GroupRows`]) inside a transaction it opens
//! ([`super::StoreConn::group_transaction`]); what they mean is decided
//! here, as the friendship rules are in `friends.rs`. Runs on store worker
//! threads.
//!
//! Who may do what: any member sends and leaves; members invite their
//! friends unless the group says admins only; the owner and admins remove
//! members (an admin only plain members), rename and change settings; the
//! owner makes and unmakes admins, hands the group over, and dissolves it.
//! An owner who leaves hands it to the longest-standing admin, or else the
//! longest-standing member; the last one to leave dissolves it.

use super::model::{
    GroupChange, GroupRecord, MemberProfile, MemberRecord, Readers, Role, StoredMessage,
    GROUP_EVENT,
};
use super::pool::StoreError;
use proto::group_body::GroupEvent;
use proto::ErrorCode;
use std::collections::BTreeSet;

/// Longest group name, in characters (the column's width).
pub const MAX_NAME_CHARS: usize = 64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 512;

/// How the `unique_id` of every event begins; a client's text may not.
pub const EVENT_ID_PREFIX: &str = "group:";

/// The configured limits (`[groups]` in the chat server's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Members of one group, the owner included.
    pub max_members: usize,
    /// Groups one user is a member of.
    pub max_groups_per_user: usize,
}

impl Default for GroupLimits {
    fn default() -> GroupLimits {
        GroupLimits { max_members: 500, max_groups_per_user: 200 }
    }
}

/// Row operations on groups, inside one transaction.
pub trait GroupRows {
    /// A new group conversation and its row, owned by `owner`, with no
    /// member yet and no message; returns its thread id.
    fn insert_group(
        &mut self,
        name: &str,
        description: &str,
        owner: u64,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// The group with its conversation's last seq, the conversation's row
    /// locked until the transaction ends (where the backend can; SQLite's
    /// transactions hold the whole database). `None`: no such group.
    fn lock_group(&mut self, thread_id: u64) -> Result<Option<GroupRecord>, StoreError>;
    /// The group, unlocked (for reads).
    fn group(&mut self, thread_id: u64) -> Result<Option<GroupRecord>, StoreError>;
    /// `uid`'s membership, current or former.
    fn member(&mut self, thread_id: u64, uid: u64) -> Result<Option<MemberRecord>, StoreError>;
    /// The current members, by uid.
    fn current_members(&mut self, thread_id: u64) -> Result<Vec<MemberRecord>, StoreError>;
    /// How many groups `uid` is a member of now.
    fn groups_joined(&mut self, uid: u64) -> Result<usize, StoreError>;
    fn is_friend(&mut self, uid: u64, friend: u64) -> Result<bool, StoreError>;
    /// Writes a membership (new, or replacing a former one). A member who
    /// joins gets a watermark just below `joined_seq` on every device it
    /// has (and the legacy one), so its devices start at its joining.
    fn put_member(&mut self, thread_id: u64, member: &MemberRecord) -> Result<(), StoreError>;
    /// Writes the group's row back, and its conversation's last seq.
    fn save_group(&mut self, group: &GroupRecord) -> Result<(), StoreError>;
    /// Stores an event message (receiver 0, kind 1); returns its id.
    fn insert_event(&mut self, event: &StoredMessage) -> Result<u64, StoreError>;
    /// `uid`'s current groups with ids above `after`, in id order, at most `limit`.
    fn member_groups(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(GroupRecord, MemberRecord)>, StoreError>;
    /// Current members with uids above `after_uid`, with their profiles.
    fn member_page(
        &mut self,
        thread_id: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<Vec<MemberProfile>, StoreError>;
    /// Current members but `asker` whose read mark is at `seq` or above:
    /// how many, and a page of them with uids above `after_uid`.
    fn readers(
        &mut self,
        thread_id: u64,
        asker: u64,
        seq: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<(u32, Vec<u64>), StoreError>;
}

/// What a group update may change (1130).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub invite_admins_only: Option<bool>,
    pub history_visible: Option<bool>,
}

fn refused(code: ErrorCode) -> StoreError {
    StoreError::Refused(code)
}

/// A name or description the rules accept.
fn check_text(text: &str, max_chars: usize, may_be_empty: bool) -> Result<(), StoreError> {
    if !may_be_empty && text.trim().is_empty() {
        return Err(refused(ErrorCode::Json));
    }
    if text.chars().count() > max_chars {
        return Err(refused(ErrorCode::TooLarge));
    }
    Ok(())
}

/// A change being made to one locked group: the events it stores and who
/// must see them beyond the members it leaves.
struct Change {
    group: GroupRecord,
    events: Vec<StoredMessage>,
    /// Removed or departed members, who still see the event of it.
    departed: BTreeSet<u64>,
    now_ms: i64,
}

impl Change {
    /// Locks a living group; `NotMember` if there is none (or it was dissolved).
    fn begin(rows: &mut dyn GroupRows, thread_id: u64) -> Result<Change, StoreError> {
        match rows.lock_group(thread_id)? {
            Some(group) if group.dissolved_seq == 0 => Ok(Change {
                group,
                events: Vec::new(),
                departed: BTreeSet::new(),
                now_ms: super::columns::now_ms(),
            }),
            _ => Err(refused(ErrorCode::NotMember)),
        }
    }

    /// `uid` as a current member of the group (`NotMember` otherwise).
    fn current(&self, rows: &mut dyn GroupRows, uid: u64) -> Result<MemberRecord, StoreError> {
        match rows.member(self.group.thread_id, uid)? {
            Some(m) if m.is_current() => Ok(m),
            _ => Err(refused(ErrorCode::NotMember)),
        }
    }

    /// Stores `event` by `actor` with the next seq; returns the seq.
    fn event(
        &mut self,
        rows: &mut dyn GroupRows,
        actor: u64,
        event: &GroupEvent,
    ) -> Result<u64, StoreError> {
        let seq = self.group.last_seq + 1;
        let thread_id = self.group.thread_id;
        let content = serde_json::to_string(event)
            .map_err(|e| StoreError::Database(format!("group event: {e}")))?;
        let mut message = StoredMessage {
            message_id: 0,
            thread_id,
            seq,
            sender: actor,
            receiver: 0,
            // (sender, unique_id) is unique for every message: the group and
            // the seq make this one so, and clients may not choose ids with
            // this prefix (`EVENT_ID_PREFIX`).
            unique_id: format!("{EVENT_ID_PREFIX}{thread_id}:{seq}"),
            content,
            kind: GROUP_EVENT,
            chat_time: self.now_ms,
            delivered: false,
            resent: false,
        };
        message.message_id = rows.insert_event(&message)?;
        self.group.last_seq = seq;
        self.events.push(message);
        Ok(seq)
    }

    /// A membership changed: the writers' cached member lists are stale.
    fn members_changed(&mut self, count: usize) {
        self.group.member_count = count as u32;
        self.group.members_version += 1;
    }

    /// Saves the group and says who must see the events.
    fn finish(self, rows: &mut dyn GroupRows) -> Result<GroupChange, StoreError> {
        rows.save_group(&self.group)?;
        let mut recipients: BTreeSet<u64> = if self.group.dissolved_seq == 0 {
            let members = rows.current_members(self.group.thread_id)?;
            members.iter().map(|m| m.uid).collect()
        } else {
            BTreeSet::new()
        };
        recipients.extend(&self.departed);
        Ok(GroupChange {
            group: self.group,
            events: self.events,
            recipients: recipients.into_iter().collect::<Vec<u64>>().into(),
        })
    }
}

/// Adds `uids` (not members now) as members joining at `seq`.
fn admit(
    rows: &mut dyn GroupRows,
    thread_id: u64,
    uids: &[u64],
    seq: u64,
) -> Result<(), StoreError> {
    for &uid in uids {
        let member = MemberRecord { uid, role: Role::Member, joined_seq: seq, left_seq: 0 };
        rows.put_member(thread_id, &member)?;
    }
    Ok(())
}

/// Checks that `inviter` may bring `uids` into a group that has `members`
/// now: all its friends, under both limits. Returns the ones not in it yet
/// (sorted, without repeats).
fn invitable(
    rows: &mut dyn GroupRows,
    limits: &GroupLimits,
    inviter: u64,
    uids: &[u64],
    members: &BTreeSet<u64>,
) -> Result<Vec<u64>, StoreError> {
    let mut new: Vec<u64> = uids.iter().copied().filter(|u| !members.contains(u)).collect();
    new.sort_unstable();
    new.dedup();
    if new.contains(&0) || new.iter().any(|&u| u > proto::body::MAX_ID) {
        return Err(refused(ErrorCode::UidInvalid));
    }
    if members.len() + new.len() > limits.max_members {
        return Err(refused(ErrorCode::GroupFull));
    }
    for &uid in &new {
        if !rows.is_friend(inviter, uid)? {
            return Err(refused(ErrorCode::NotFriends));
        }
        if rows.groups_joined(uid)? >= limits.max_groups_per_user {
            return Err(refused(ErrorCode::GroupFull));
        }
    }
    Ok(new)
}

/// A new group: `owner` and its friends `members`. Events: `created`, then
/// `joined` for the members if there are any.
pub fn create(
    rows: &mut dyn GroupRows,
    limits: &GroupLimits,
    owner: u64,
    name: &str,
    description: &str,
    members: &[u64],
) -> Result<GroupChange, StoreError> {
    check_text(name, MAX_NAME_CHARS, false)?;
    check_text(description, MAX_DESCRIPTION_CHARS, true)?;
    if rows.groups_joined(owner)? >= limits.max_groups_per_user {
        return Err(refused(ErrorCode::GroupFull));
    }
    let only_owner = BTreeSet::from([owner]);
    let new = invitable(rows, limits, owner, members, &only_owner)?;
    let thread_id = rows.insert_group(name, description, owner, super::columns::now_ms())?;
    let mut change = Change::begin(rows, thread_id)?;
    let created = GroupEvent::Created { by: owner, name: name.to_string() };
    let seq = change.event(rows, owner, &created)?;
    let founder = MemberRecord { uid: owner, role: Role::Owner, joined_seq: seq, left_seq: 0 };
    rows.put_member(thread_id, &founder)?;
    if !new.is_empty() {
        // The first members are there from the creation on (they see it).
        let joined = GroupEvent::Joined { by: owner, uids: new.clone() };
        change.event(rows, owner, &joined)?;
        admit(rows, thread_id, &new, seq)?;
    }
    change.members_changed(1 + new.len());
    change.finish(rows)
}

/// `inviter` brings its friends `uids` in (one `joined` event). Members
/// already in are left out; `UserExist` if nobody is new.
pub fn invite(
    rows: &mut dyn GroupRows,
    limits: &GroupLimits,
    inviter: u64,
    thread_id: u64,
    uids: &[u64],
) -> Result<GroupChange, StoreError> {
    let mut change = Change::begin(rows, thread_id)?;
    let me = change.current(rows, inviter)?;
    if change.group.invite_admins_only && me.role < Role::Admin {
        return Err(refused(ErrorCode::NotAllowed));
    }
    let members: BTreeSet<u64> = rows.current_members(thread_id)?.iter().map(|m| m.uid).collect();
    let new = invitable(rows, limits, inviter, uids, &members)?;
    if new.is_empty() {
        return Err(refused(ErrorCode::UserExist));
    }
    let seq =
        change.event(rows, inviter, &GroupEvent::Joined { by: inviter, uids: new.clone() })?;
    admit(rows, thread_id, &new, seq)?;
    change.members_changed(members.len() + new.len());
    change.finish(rows)
}

/// `uid` leaves. An owner hands the group over first (to the
/// longest-standing admin, else member); the last member dissolves it.
pub fn leave(
    rows: &mut dyn GroupRows,
    uid: u64,
    thread_id: u64,
) -> Result<GroupChange, StoreError> {
    let mut change = Change::begin(rows, thread_id)?;
    let me = change.current(rows, uid)?;
    let others: Vec<MemberRecord> =
        rows.current_members(thread_id)?.into_iter().filter(|m| m.uid != uid).collect();
    if others.is_empty() {
        return end(rows, change, uid);
    }
    if me.role == Role::Owner {
        let heir = others
            .iter()
            .max_by_key(|m| (m.role, std::cmp::Reverse(m.joined_seq), std::cmp::Reverse(m.uid)))
            .copied()
            .expect("others is not empty");
        change.event(rows, uid, &GroupEvent::Owner { from: uid, to: heir.uid })?;
        rows.put_member(thread_id, &MemberRecord { role: Role::Owner, ..heir })?;
        change.group.owner = heir.uid;
    }
    let seq = change.event(rows, uid, &GroupEvent::Left { uid })?;
    rows.put_member(thread_id, &MemberRecord { left_seq: seq, ..me })?;
    change.departed.insert(uid);
    change.members_changed(others.len());
    change.finish(rows)
}

/// `by` removes member `uid`: the owner anyone but itself, an admin only
/// plain members.
pub fn remove(
    rows: &mut dyn GroupRows,
    by: u64,
    thread_id: u64,
    uid: u64,
) -> Result<GroupChange, StoreError> {
    let mut change = Change::begin(rows, thread_id)?;
    let me = change.current(rows, by)?;
    if uid == by {
        return Err(refused(ErrorCode::UidInvalid)); // leaving is 1124
    }
    let target = match rows.member(thread_id, uid)? {
        Some(m) if m.is_current() => m,
        _ => return Err(refused(ErrorCode::UidInvalid)),
    };
    if me.role < Role::Admin || target.role >= me.role {
        return Err(refused(ErrorCode::NotAllowed));
    }
    let seq = change.event(rows, by, &GroupEvent::Removed { by, uid })?;
    rows.put_member(thread_id, &MemberRecord { left_seq: seq, ..target })?;
    change.departed.insert(uid);
    let count = change.group.member_count.saturating_sub(1) as usize;
    change.members_changed(count);
    change.finish(rows)
}

/// The owner `by` gives member `uid` the role `role`: `Admin` or `Member`,
/// or `Owner` (a transfer: `by` becomes an admin).
pub fn set_role(
    rows: &mut dyn GroupRows,
    by: u64,
    thread_id: u64,
    uid: u64,
    role: Role,
) -> Result<GroupChange, StoreError> {
    let mut change = Change::begin(rows, thread_id)?;
    let me = change.current(rows, by)?;
    if me.role != Role::Owner {
        return Err(refused(ErrorCode::NotAllowed));
    }
    let target = match rows.member(thread_id, uid)? {
        Some(m) if m.is_current() && uid != by => m,
        _ => return Err(refused(ErrorCode::UidInvalid)),
    };
    if target.role == role {
        return Err(refused(ErrorCode::UserExist)); // nothing to change
    }
    if role == Role::Owner {
        change.event(rows, by, &GroupEvent::Owner { from: by, to: uid })?;
        rows.put_member(thread_id, &MemberRecord { role: Role::Admin, ..me })?;
        change.group.owner = uid;
    } else {
        let event = GroupEvent::Role { by, uid, role: role.name().to_string() };
        change.event(rows, by, &event)?;
    }
    rows.put_member(thread_id, &MemberRecord { role, ..target })?;
    change.finish(rows)
}

/// An admin or the owner `by` changes the name, description or settings.
pub fn update(
    rows: &mut dyn GroupRows,
    by: u64,
    thread_id: u64,
    changes: &GroupUpdate,
) -> Result<GroupChange, StoreError> {
    let mut change = Change::begin(rows, thread_id)?;
    let me = change.current(rows, by)?;
    if me.role < Role::Admin {
        return Err(refused(ErrorCode::NotAllowed));
    }
    let g = &change.group;
    let name = changes.name.clone().filter(|n| *n != g.name);
    let description = changes.description.clone().filter(|d| *d != g.description);
    let invite_admins_only = changes.invite_admins_only.filter(|&v| v != g.invite_admins_only);
    let history_visible = changes.history_visible.filter(|&v| v != g.history_visible);
    if let Some(name) = &name {
        check_text(name, MAX_NAME_CHARS, false)?;
    }
    if let Some(description) = &description {
        check_text(description, MAX_DESCRIPTION_CHARS, true)?;
    }
    if name.is_none()
        && description.is_none()
        && invite_admins_only.is_none()
        && history_visible.is_none()
    {
        return Err(refused(ErrorCode::UserExist)); // nothing to change
    }
    let event = GroupEvent::Updated {
        by,
        name: name.clone(),
        description: description.clone(),
        invite: invite_admins_only.map(|admins| invite_policy(admins).to_string()),
        history_visible,
    };
    change.event(rows, by, &event)?;
    let g = &mut change.group;
    g.name = name.unwrap_or(std::mem::take(&mut g.name));
    g.description = description.unwrap_or(std::mem::take(&mut g.description));
    g.invite_admins_only = invite_admins_only.unwrap_or(g.invite_admins_only);
    g.history_visible = history_visible.unwrap_or(g.history_visible);
    change.finish(rows)
}

/// The owner dissolves the group: one last event, and nobody is a member.
pub fn dissolve(
    rows: &mut dyn GroupRows,
    by: u64,
    thread_id: u64,
) -> Result<GroupChange, StoreError> {
    let change = Change::begin(rows, thread_id)?;
    let me = change.current(rows, by)?;
    if me.role != Role::Owner {
        return Err(refused(ErrorCode::NotAllowed));
    }
    end(rows, change, by)
}

/// Stores `dissolved` and ends every membership at it; everyone who was a
/// member sees it.
fn end(rows: &mut dyn GroupRows, mut change: Change, by: u64) -> Result<GroupChange, StoreError> {
    let thread_id = change.group.thread_id;
    let members = rows.current_members(thread_id)?;
    let seq = change.event(rows, by, &GroupEvent::Dissolved { by })?;
    for m in &members {
        rows.put_member(thread_id, &MemberRecord { left_seq: seq, ..*m })?;
        change.departed.insert(m.uid);
    }
    change.group.dissolved_seq = seq;
    change.members_changed(0);
    change.finish(rows)
}

/// The protocol's name of an invite policy.
pub fn invite_policy(admins_only: bool) -> &'static str {
    if admins_only {
        "admins"
    } else {
        "members"
    }
}

/// The group as `uid` sees it: `None` unless it is or was a member.
pub fn view(
    rows: &mut dyn GroupRows,
    uid: u64,
    thread_id: u64,
) -> Result<Option<(GroupRecord, MemberRecord)>, StoreError> {
    let Some(member) = rows.member(thread_id, uid)? else { return Ok(None) };
    Ok(rows.group(thread_id)?.map(|g| (g, member)))
}

/// A page of members for `asker`, a member now (`NotMember` otherwise).
pub fn members(
    rows: &mut dyn GroupRows,
    asker: u64,
    thread_id: u64,
    after_uid: u64,
    limit: usize,
) -> Result<Vec<MemberProfile>, StoreError> {
    match rows.member(thread_id, asker)? {
        Some(m) if m.is_current() => rows.member_page(thread_id, after_uid, limit),
        _ => Err(refused(ErrorCode::NotMember)),
    }
}

/// Who read up to `seq`, for `asker`, a member now.
pub fn readers(
    rows: &mut dyn GroupRows,
    asker: u64,
    thread_id: u64,
    seq: u64,
    after_uid: u64,
    limit: usize,
) -> Result<Readers, StoreError> {
    let Some(group) = rows.group(thread_id)? else { return Err(refused(ErrorCode::NotMember)) };
    match rows.member(thread_id, asker)? {
        Some(m) if m.is_current() => {}
        _ => return Err(refused(ErrorCode::NotMember)),
    }
    let (read_count, mut page) = rows.readers(thread_id, asker, seq, after_uid, limit + 1)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let member_count = group.member_count.saturating_sub(1);
    Ok(Readers { read_count, member_count, page, more })
}

/// The members of groups as a message writer's connection last read them,
/// by group and `members_version`: a batch of a group's messages reads one
/// row (the version) instead of every member, unless a change came between.
/// Bounded: when full it starts again empty. One per connection (its thread).
#[derive(Default)]
pub struct MemberCache {
    groups: std::collections::HashMap<u64, (u64, std::sync::Arc<[u64]>)>,
}

impl MemberCache {
    const CAPACITY: usize = 10_000;

    /// The members of `thread_id` at `version`, if known.
    pub fn get(&self, thread_id: u64, version: u64) -> Option<std::sync::Arc<[u64]>> {
        match self.groups.get(&thread_id) {
            Some((v, members)) if *v == version => Some(members.clone()),
            _ => None,
        }
    }

    /// Remembers `members` (sorted) of `thread_id` at `version`.
    pub fn put(&mut self, thread_id: u64, version: u64, members: std::sync::Arc<[u64]>) {
        if self.groups.len() >= Self::CAPACITY {
            self.groups.clear();
        }
        self.groups.insert(thread_id, (version, members));
    }
}

/// Whether `message` may be stored, given the members (sorted) of the
/// groups of its batch: a private message always (its friendship was
/// checked before), a group's only from a member.
pub fn sender_is_member(
    members: &std::collections::HashMap<u64, std::sync::Arc<[u64]>>,
    message: &super::model::NewMessage,
) -> bool {
    message.group == 0
        || members.get(&message.group).is_some_and(|m| m.binary_search(&message.sender).is_ok())
}

/// The outcome of each message of `batch`: the messages at `accepted` were
/// stored as `stored` (in that order), the others refused. A group's
/// message carries its members.
pub fn appended(
    batch: &[super::model::NewMessage],
    accepted: &[usize],
    stored: Vec<StoredMessage>,
    members: &std::collections::HashMap<u64, std::sync::Arc<[u64]>>,
) -> Vec<super::model::Appended> {
    use super::model::Appended;
    let mut outcomes = vec![Appended::NotMember; batch.len()];
    for (&i, message) in accepted.iter().zip(stored) {
        let group = batch[i].group;
        let members = (group != 0).then(|| members.get(&group).cloned()).flatten();
        outcomes[i] = Appended::Stored { message, members };
    }
    outcomes
}
