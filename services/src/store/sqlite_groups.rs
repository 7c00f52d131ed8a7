//! The SQLite rows of the group rules (`groups.rs`), and the members the
//! message writer reads for a batch of group messages. Every transaction
//! here is IMMEDIATE (it holds the database's write lock), which is the
//! conversation lock of this backend.

use super::groups::GroupRows;
use super::model::{GroupRecord, MemberProfile, MemberRecord, Role, StoredMessage};
use super::pool::StoreError;
use super::sqlite::{db_error, is_friend_in};
use rusqlite::{params, OptionalExtension, Row, Transaction};
use std::collections::HashMap;
use std::sync::Arc;

/// The columns `group_from_row` reads, for a query joining `chat_groups g`
/// and `threads t`.
const GROUP_COLUMNS: &str = "g.thread_id, g.name, g.description, g.owner, g.invite_admins_only, \
     g.history_visible, g.member_count, g.members_version, g.dissolved_seq, t.last_seq";
const GROUP_COLUMN_COUNT: usize = 10;
const MEMBER_COLUMNS: &str = "m.uid, m.role, m.joined_seq, m.left_seq";

fn group_from_row(r: &Row<'_>) -> rusqlite::Result<GroupRecord> {
    Ok(GroupRecord {
        thread_id: r.get::<_, i64>(0)? as u64,
        name: r.get(1)?,
        description: r.get(2)?,
        owner: r.get::<_, i64>(3)? as u64,
        invite_admins_only: r.get::<_, i64>(4)? != 0,
        history_visible: r.get::<_, i64>(5)? != 0,
        member_count: r.get::<_, i64>(6)? as u32,
        members_version: r.get::<_, i64>(7)? as u64,
        dissolved_seq: r.get::<_, i64>(8)? as u64,
        last_seq: r.get::<_, i64>(9)? as u64,
    })
}

fn member_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<MemberRecord> {
    Ok(MemberRecord {
        uid: r.get::<_, i64>(at)? as u64,
        role: Role::from_code(r.get::<_, i64>(at + 1)? as u8),
        joined_seq: r.get::<_, i64>(at + 2)? as u64,
        left_seq: r.get::<_, i64>(at + 3)? as u64,
    })
}

/// The current members (sorted) of each living group among `groups`.
pub(super) fn members_of(
    tx: &Transaction<'_>,
    groups: &[u64],
) -> Result<HashMap<u64, Arc<[u64]>>, StoreError> {
    let mut ids = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut living = tx
        .prepare_cached("SELECT dissolved_seq FROM chat_groups WHERE thread_id = ?1")
        .map_err(db_error)?;
    let mut current = tx
        .prepare_cached(
            "SELECT uid FROM group_members WHERE thread_id = ?1 AND left_seq = 0 ORDER BY uid",
        )
        .map_err(db_error)?;
    let mut members = HashMap::new();
    for id in ids {
        let dissolved: Option<i64> =
            living.query_row([id as i64], |r| r.get(0)).optional().map_err(db_error)?;
        if dissolved != Some(0) {
            continue; // no such group, or dissolved
        }
        let uids: Vec<u64> = current
            .query_map([id as i64], |r| r.get::<_, i64>(0).map(|u| u as u64))
            .and_then(|rows| rows.collect())
            .map_err(db_error)?;
        members.insert(id, uids.into());
    }
    Ok(members)
}

/// Group rows inside an IMMEDIATE transaction.
pub(super) struct SqliteGroupRows<'t, 'c>(pub(super) &'t Transaction<'c>);

impl SqliteGroupRows<'_, '_> {
    fn members_where(
        &mut self,
        sql_tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<MemberRecord>, StoreError> {
        self.0
            .prepare_cached(&format!("SELECT {MEMBER_COLUMNS} FROM group_members m {sql_tail}"))
            .and_then(|mut s| s.query_map(args, |r| member_from_row(r, 0))?.collect())
            .map_err(db_error)
    }
}

impl GroupRows for SqliteGroupRows<'_, '_> {
    fn insert_group(
        &mut self,
        name: &str,
        description: &str,
        owner: u64,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        // Paired (0, 0) for a moment, then with its own id (migration 7).
        self.0
            .execute("INSERT INTO threads (user1_id, user2_id) VALUES (0, 0)", [])
            .map_err(db_error)?;
        let thread_id = self.0.last_insert_rowid();
        self.0
            .execute("UPDATE threads SET user2_id = ?1 WHERE thread_id = ?1", [thread_id])
            .map_err(db_error)?;
        self.0
            .execute(
                "INSERT INTO chat_groups (thread_id, name, description, owner, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![thread_id, name, description, owner as i64, now_ms],
            )
            .map_err(db_error)?;
        Ok(thread_id as u64)
    }

    fn lock_group(&mut self, thread_id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.group(thread_id) // the transaction holds the database
    }

    fn group(&mut self, thread_id: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.0
            .prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM chat_groups g JOIN threads t ON t.thread_id = g.thread_id
                 WHERE g.thread_id = ?1"
            ))
            .and_then(|mut s| s.query_row([thread_id as i64], group_from_row).optional())
            .map_err(db_error)
    }

    fn member(&mut self, thread_id: u64, uid: u64) -> Result<Option<MemberRecord>, StoreError> {
        let found = self.members_where(
            "WHERE m.thread_id = ?1 AND m.uid = ?2",
            [thread_id as i64, uid as i64],
        )?;
        Ok(found.into_iter().next())
    }

    fn current_members(&mut self, thread_id: u64) -> Result<Vec<MemberRecord>, StoreError> {
        self.members_where(
            "WHERE m.thread_id = ?1 AND m.left_seq = 0 ORDER BY m.uid",
            [thread_id as i64],
        )
    }

    fn groups_joined(&mut self, uid: u64) -> Result<usize, StoreError> {
        self.0
            .prepare_cached("SELECT COUNT(*) FROM group_members WHERE uid = ?1 AND left_seq = 0")
            .and_then(|mut s| s.query_row([uid as i64], |r| r.get::<_, i64>(0)))
            .map(|n| n as usize)
            .map_err(db_error)
    }

    fn is_friend(&mut self, uid: u64, friend: u64) -> Result<bool, StoreError> {
        is_friend_in(self.0, uid, friend)
    }

    fn put_member(&mut self, thread_id: u64, m: &MemberRecord) -> Result<(), StoreError> {
        let (thread, uid) = (thread_id as i64, m.uid as i64);
        self.0
            .prepare_cached(
                "INSERT INTO group_members (thread_id, uid, role, joined_seq, left_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (thread_id, uid) DO UPDATE SET role = excluded.role,
                     joined_seq = excluded.joined_seq, left_seq = excluded.left_seq",
            )
            .and_then(|mut s| {
                s.execute(params![
                    thread,
                    uid,
                    m.role as i64,
                    m.joined_seq as i64,
                    m.left_seq as i64
                ])
            })
            .map_err(db_error)?;
        if m.is_current() {
            // Every device of the member starts just below its joining.
            let below = (m.joined_seq - 1) as i64;
            self.0
                .prepare_cached(
                    "INSERT INTO watermarks (uid, device, thread_id, seq)
                     SELECT uid, device, ?2, ?3 FROM devices WHERE uid = ?1
                     UNION ALL SELECT ?1, '', ?2, ?3 WHERE true
                     ON CONFLICT (uid, device, thread_id) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                )
                .and_then(|mut s| s.execute(params![uid, thread, below]))
                .map_err(db_error)?;
        }
        Ok(())
    }

    fn save_group(&mut self, g: &GroupRecord) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "UPDATE chat_groups SET name = ?2, description = ?3, owner = ?4,
                     invite_admins_only = ?5, history_visible = ?6, member_count = ?7,
                     members_version = ?8, dissolved_seq = ?9
                 WHERE thread_id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    g.thread_id as i64,
                    g.name,
                    g.description,
                    g.owner as i64,
                    i64::from(g.invite_admins_only),
                    i64::from(g.history_visible),
                    i64::from(g.member_count),
                    g.members_version as i64,
                    g.dissolved_seq as i64
                ])
            })
            .map_err(db_error)?;
        self.0
            .prepare_cached("UPDATE threads SET last_seq = ?2 WHERE thread_id = ?1")
            .and_then(|mut s| s.execute([g.thread_id as i64, g.last_seq as i64]))
            .map_err(db_error)
            .map(drop)
    }

    fn insert_event(&mut self, e: &StoredMessage) -> Result<u64, StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO messages (thread_id, seq, sender, receiver, unique_id, content, kind, chat_time)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.thread_id as i64,
                    e.seq as i64,
                    e.sender as i64,
                    e.unique_id,
                    e.content,
                    e.kind,
                    e.chat_time
                ])
            })
            .map_err(db_error)?;
        Ok(self.0.last_insert_rowid() as u64)
    }

    fn member_groups(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(GroupRecord, MemberRecord)>, StoreError> {
        self.0
            .prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS}, {MEMBER_COLUMNS} FROM group_members m
                 JOIN chat_groups g ON g.thread_id = m.thread_id
                 JOIN threads t ON t.thread_id = m.thread_id
                 WHERE m.uid = ?1 AND m.left_seq = 0 AND m.thread_id > ?2
                 ORDER BY m.thread_id LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![uid as i64, after as i64, limit as i64], |r| {
                    Ok((group_from_row(r)?, member_from_row(r, GROUP_COLUMN_COUNT)?))
                })?
                .collect()
            })
            .map_err(db_error)
    }

    fn member_page(
        &mut self,
        thread_id: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<Vec<MemberProfile>, StoreError> {
        self.0
            .prepare_cached(&format!(
                "SELECT {MEMBER_COLUMNS}, u.name, u.nick, u.icon FROM group_members m
                 JOIN users u ON u.uid = m.uid
                 WHERE m.thread_id = ?1 AND m.left_seq = 0 AND m.uid > ?2 ORDER BY m.uid LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![thread_id as i64, after_uid as i64, limit as i64], |r| {
                    Ok(MemberProfile {
                        member: member_from_row(r, 0)?,
                        name: r.get(4)?,
                        nick: r.get(5)?,
                        icon: r.get(6)?,
                    })
                })?
                .collect()
            })
            .map_err(db_error)
    }

    fn readers(
        &mut self,
        thread_id: u64,
        asker: u64,
        seq: u64,
        after_uid: u64,
        limit: usize,
    ) -> Result<(u32, Vec<u64>), StoreError> {
        const READERS: &str = "FROM group_members m
             JOIN read_marks r ON r.uid = m.uid AND r.thread_id = m.thread_id
             WHERE m.thread_id = ?1 AND m.left_seq = 0 AND m.uid <> ?2 AND r.seq >= ?3";
        let (thread, asker, seq) =
            (thread_id as i64, asker as i64, seq.min(i64::MAX as u64) as i64);
        let count: i64 = self
            .0
            .prepare_cached(&format!("SELECT COUNT(*) {READERS}"))
            .and_then(|mut s| s.query_row([thread, asker, seq], |r| r.get(0)))
            .map_err(db_error)?;
        let page: Vec<u64> = self
            .0
            .prepare_cached(&format!(
                "SELECT m.uid {READERS} AND m.uid > ?4 ORDER BY m.uid LIMIT ?5"
            ))
            .and_then(|mut s| {
                s.query_map(params![thread, asker, seq, after_uid as i64, limit as i64], |r| {
                    r.get::<_, i64>(0).map(|u| u as u64)
                })?
                .collect()
            })
            .map_err(db_error)?;
        Ok((count as u32, page))
    }
}
