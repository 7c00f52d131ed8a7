//! The MySQL rows of the group rules (`groups.rs`), and the members the
//! message writer reads for a batch of group messages.

use super::groups::{GroupRows, MemberCache};
use super::model::{GroupRecord, MemberProfile, MemberRecord, Role, StoredMessage};
use super::mysql::{db_error, is_friend_in};
use super::pool::StoreError;
use super::row_lists::value_list;
use mysql::prelude::Queryable;
use mysql::{Params, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The columns `group_from_row` reads, for a query joining `chat_groups g`
/// and `threads t`.
const GROUP_COLUMNS: &str = "g.thread_id, g.name, g.description, g.owner, g.invite_admins_only, \
     g.history_visible, g.member_count, g.members_version, g.dissolved_seq, t.last_seq";
const GROUP_COLUMN_COUNT: usize = 10;

/// The columns `member_from_row` reads, from `group_members m`.
const MEMBER_COLUMNS: &str = "m.uid, m.role, m.joined_seq, m.left_seq";

fn take<T: mysql::prelude::FromValue>(row: &mysql::Row, index: usize) -> Result<T, StoreError> {
    row.get_opt::<T, usize>(index)
        .ok_or_else(|| StoreError::Database(format!("column {index} missing")))?
        .map_err(|e| StoreError::Database(e.to_string()))
}

fn group_from_row(row: &mysql::Row) -> Result<GroupRecord, StoreError> {
    Ok(GroupRecord {
        thread_id: take(row, 0)?,
        name: take(row, 1)?,
        description: take(row, 2)?,
        owner: take(row, 3)?,
        invite_admins_only: take::<i64>(row, 4)? != 0,
        history_visible: take::<i64>(row, 5)? != 0,
        member_count: take(row, 6)?,
        members_version: take(row, 7)?,
        dissolved_seq: take(row, 8)?,
        last_seq: take(row, 9)?,
    })
}

fn member_from_row(row: &mysql::Row, at: usize) -> Result<MemberRecord, StoreError> {
    Ok(MemberRecord {
        uid: take(row, at)?,
        role: Role::from_code(take(row, at + 1)?),
        joined_seq: take(row, at + 2)?,
        left_seq: take(row, at + 3)?,
    })
}

/// The current members (sorted) of each living group among `groups`, inside
/// the writer's transaction, after it locked their conversations (so no
/// change of membership can come between this read and the commit). A
/// group the cache knows at its current version costs one row.
pub(super) fn members_of(
    tx: &mut impl Queryable,
    cache: &mut MemberCache,
    groups: &[u64],
) -> Result<HashMap<u64, Arc<[u64]>>, StoreError> {
    let mut ids = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let values = |ids: &[u64]| Params::Positional(ids.iter().map(|&id| Value::from(id)).collect());
    let versions: Vec<(u64, u64, u64)> = tx
        .exec(
            format!(
                "SELECT thread_id, members_version, dissolved_seq FROM chat_groups WHERE thread_id IN ({})",
                value_list(ids.len())
            ),
            values(&ids),
        )
        .map_err(db_error)?;
    let mut members = HashMap::new();
    let mut stale: Vec<(u64, u64)> = Vec::new();
    for (thread_id, version, dissolved_seq) in versions {
        if dissolved_seq != 0 {
            continue;
        }
        match cache.get(thread_id, version) {
            Some(known) => {
                members.insert(thread_id, known);
            }
            None => stale.push((thread_id, version)),
        }
    }
    if stale.is_empty() {
        return Ok(members);
    }
    let stale_ids: Vec<u64> = stale.iter().map(|s| s.0).collect();
    let rows: Vec<(u64, u64)> = tx
        .exec(
            format!(
                "SELECT thread_id, uid FROM group_members WHERE thread_id IN ({}) AND left_seq = 0 \
                 ORDER BY thread_id, uid",
                value_list(stale_ids.len())
            ),
            values(&stale_ids),
        )
        .map_err(db_error)?;
    let mut read: HashMap<u64, Vec<u64>> = HashMap::new();
    for (thread_id, uid) in rows {
        read.entry(thread_id).or_default().push(uid);
    }
    for (thread_id, version) in stale {
        let list: Arc<[u64]> = read.remove(&thread_id).unwrap_or_default().into();
        cache.put(thread_id, version, list.clone());
        members.insert(thread_id, list);
    }
    Ok(members)
}

/// Group rows inside a transaction. `lock_group` locks the conversation's
/// row (and the group's), as the message writer does.
pub(super) struct MysqlGroupRows<'c>(pub(super) mysql::Transaction<'c>);

impl MysqlGroupRows<'_> {
    fn group_where(
        &mut self,
        thread_id: u64,
        lock: &str,
    ) -> Result<Option<GroupRecord>, StoreError> {
        let row: Option<mysql::Row> = self
            .0
            .exec_first(
                format!(
                    "SELECT {GROUP_COLUMNS} FROM chat_groups g JOIN threads t ON t.thread_id = g.thread_id \
                     WHERE g.thread_id = ? {lock}"
                ),
                (thread_id,),
            )
            .map_err(db_error)?;
        row.as_ref().map(group_from_row).transpose()
    }
}

impl GroupRows for MysqlGroupRows<'_> {
    fn insert_group(
        &mut self,
        name: &str,
        description: &str,
        owner: u64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        // The pair (0, 0) is taken for the moment of this transaction, then
        // the row is paired with its own id (see migration 7): concurrent
        // creations wait for each other on that key, briefly.
        self.0
            .exec_drop("INSERT INTO threads (user1_id, user2_id) VALUES (0, 0)", ())
            .map_err(db_error)?;
        let thread_id = self
            .0
            .last_insert_id()
            .ok_or_else(|| StoreError::Database("no id for a new group conversation".into()))?;
        self.0
            .exec_drop(
                "UPDATE threads SET user2_id = ? WHERE thread_id = ?",
                (thread_id, thread_id),
            )
            .map_err(db_error)?;
        self.0
            .exec_drop(
                "INSERT INTO chat_groups (thread_id, name, description, owner, created_ms) VALUES (?, ?, ?, ?, ?)",
                (thread_id, name, description, owner, now_ms),
            )
            .map_err(db_error)?;
        Ok(thread_id)
    }

    fn lock_group(&mut self, thread_id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.group_where(thread_id, "FOR UPDATE")
    }

    fn group(&mut self, thread_id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.group_where(thread_id, "")
    }

    fn member(&mut self, thread_id: u64, uid: u64) -> Result<Option<MemberRecord>, StoreError> {
        let row: Option<mysql::Row> = self
            .0
            .exec_first(
                format!("SELECT {MEMBER_COLUMNS} FROM group_members m WHERE m.thread_id = ? AND m.uid = ?"),
                (thread_id, uid),
            )
            .map_err(db_error)?;
        row.map(|r| member_from_row(&r, 0)).transpose()
    }

    fn current_members(&mut self, thread_id: u64) -> Result<Vec<MemberRecord>, StoreError> {
        let rows: Vec<mysql::Row> = self
            .0
            .exec(
                format!(
                    "SELECT {MEMBER_COLUMNS} FROM group_members m \
                     WHERE m.thread_id = ? AND m.left_seq = 0 ORDER BY m.uid"
                ),
                (thread_id,),
            )
            .map_err(db_error)?;
        rows.iter().map(|r| member_from_row(r, 0)).collect()
    }

    fn groups_joined(&mut self, uid: u64) -> Result<usize, StoreError> {
        let count: Option<u64> = self
            .0
            .exec_first("SELECT COUNT(*) FROM group_members WHERE uid = ? AND left_seq = 0", (uid,))
            .map_err(db_error)?;
        Ok(count.unwrap_or(0) as usize)
    }

    fn is_friend(&mut self, uid: u64, friend: u64) -> Result<bool, StoreError> {
        is_friend_in(&mut self.0, uid, friend)
    }

    fn put_member(&mut self, thread_id: u64, m: &MemberRecord) -> Result<(), StoreError> {
        self.0
            .exec_drop(
                "INSERT INTO group_members (thread_id, uid, role, joined_seq, left_seq) VALUES (?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE role = VALUES(role), joined_seq = VALUES(joined_seq),
                                         left_seq = VALUES(left_seq)",
                (thread_id, m.uid, m.role as u8, m.joined_seq, m.left_seq),
            )
            .map_err(db_error)?;
        if m.is_current() {
            // Every device of the member starts just below its joining.
            let below = m.joined_seq - 1;
            self.0
                .exec_drop(
                    "INSERT INTO watermarks (uid, device, thread_id, seq)
                     SELECT uid, device, ?, ? FROM devices WHERE uid = ?
                     ON DUPLICATE KEY UPDATE seq = GREATEST(watermarks.seq, VALUES(seq))",
                    (thread_id, below, m.uid),
                )
                .map_err(db_error)?;
            self.0
                .exec_drop(
                    "INSERT INTO watermarks (uid, device, thread_id, seq) VALUES (?, '', ?, ?)
                     ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))",
                    (m.uid, thread_id, below),
                )
                .map_err(db_error)?;
        }
        Ok(())
    }

    fn save_group(&mut self, g: &GroupRecord) -> Result<(), StoreError> {
        self.0
            .exec_drop(
                "UPDATE chat_groups SET name = ?, description = ?, owner = ?, invite_admins_only = ?,
                     history_visible = ?, member_count = ?, members_version = ?, dissolved_seq = ?
                 WHERE thread_id = ?",
                Params::Positional(vec![
                    g.name.as_str().into(),
                    g.description.as_str().into(),
                    g.owner.into(),
                    i64::from(g.invite_admins_only).into(),
                    i64::from(g.history_visible).into(),
                    g.member_count.into(),
                    g.members_version.into(),
                    g.dissolved_seq.into(),
                    g.thread_id.into(),
                ]),
            )
            .map_err(db_error)?;
        self.0
            .exec_drop(
                "UPDATE threads SET last_seq = ? WHERE thread_id = ?",
                (g.last_seq, g.thread_id),
            )
            .map_err(db_error)
    }

    fn insert_event(&mut self, e: &StoredMessage) -> Result<u64, StoreError> {
        self.0
            .exec_drop(
                "INSERT INTO messages (thread_id, seq, sender, receiver, unique_id, content, kind, chat_time)
                 VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
                (e.thread_id, e.seq, e.sender, &e.unique_id, &e.content, e.kind, e.chat_time),
            )
            .map_err(db_error)?;
        self.0
            .last_insert_id()
            .ok_or_else(|| StoreError::Database("no id for a group event".into()))
    }

    fn member_groups(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(GroupRecord, MemberRecord)>, StoreError> {
        let rows: Vec<mysql::Row> = self
            .0
            .exec(
                format!(
                    "SELECT {GROUP_COLUMNS}, {MEMBER_COLUMNS} FROM group_members m \
                     JOIN chat_groups g ON g.thread_id = m.thread_id \
                     JOIN threads t ON t.thread_id = m.thread_id \
                     WHERE m.uid = ? AND m.left_seq = 0 AND m.thread_id > ? \
                     ORDER BY m.thread_id LIMIT ?"
                ),
                (uid, after, limit as u64),
            )
            .map_err(db_error)?;
        rows.iter()
            .map(|r| Ok((group_from_row(r)?, member_from_row(r, GROUP_COLUMN_COUNT)?)))
            .collect()
    }

    fn member_page(
        &mut self,
        thread_id: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<Vec<MemberProfile>, StoreError> {
        let rows: Vec<mysql::Row> = self
            .0
            .exec(
                format!(
                    "SELECT {MEMBER_COLUMNS}, u.name, u.nick, u.icon FROM group_members m \
                     JOIN users u ON u.uid = m.uid \
                     WHERE m.thread_id = ? AND m.left_seq = 0 AND m.uid > ? ORDER BY m.uid LIMIT ?"
                ),
                (thread_id, after_uid, limit as u64),
            )
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(MemberProfile {
                    member: member_from_row(r, 0)?,
                    name: take(r, 4)?,
                    nick: take(r, 5)?,
                    icon: take(r, 6)?,
                })
            })
            .collect()
    }

    fn readers(
        &mut self,
        thread_id: u64,
        asker: u64,
        seq: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<(u32, Vec<u64>), StoreError> {
        const READERS: &str = "FROM group_members m \
             JOIN read_marks r ON r.uid = m.uid AND r.thread_id = m.thread_id \
             WHERE m.thread_id = ? AND m.left_seq = 0 AND m.uid <> ? AND r.seq >= ?";
        let count: Option<u32> = self
            .0
            .exec_first(format!("SELECT COUNT(*) {READERS}"), (thread_id, asker, seq))
            .map_err(db_error)?;
        let page: Vec<u64> = self
            .0
            .exec(
                format!("SELECT m.uid {READERS} AND m.uid > ? ORDER BY m.uid LIMIT ?"),
                (thread_id, asker, seq, after_uid, limit as u64),
            )
            .map_err(db_error)?;
        Ok((count.unwrap_or(0), page))
    }
}
