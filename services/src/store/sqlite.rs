//! The embedded backend: SQLite (compiled in by rusqlite's `bundled`
//! feature), one file in the data directory. It is what makes "one command to
//! a running cluster" possible on a machine without a database server.
//!
//! Each pool worker opens its own connection to the file. WAL mode lets
//! readers run beside the single writer; `synchronous = FULL` makes every
//! committed transaction survive a power loss, not only a process crash,
//! since a 1018 reply promises the message is safe.

use super::api::StoreConn;
use super::columns::{lookup_key, now_ms, MESSAGE_COLUMNS, USER_COLUMNS, USER_COLUMNS_OF_U};
use super::friends::{Application, FriendRows};
use super::groups::{self, GroupRows};
use super::model::*;
use super::pool::{Backend, StoreError};
use super::watermarks::{MemberKey, MessageKey, SeqPoint, WatermarkKey, WatermarkRows};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use std::path::PathBuf;
use std::time::Duration;

/// Versioned migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/sqlite/0001_init.sql")),
    (2, include_str!("migrations/sqlite/0002_pending.sql")),
    (3, include_str!("migrations/sqlite/0003_conversations.sql")),
    (4, include_str!("migrations/sqlite/0004_devices_read_marks.sql")),
    (5, include_str!("migrations/sqlite/0005_case_insensitive_names.sql")),
    (6, include_str!("migrations/sqlite/0006_session_tokens.sql")),
    (7, include_str!("migrations/sqlite/0007_groups.sql")),
];

/// Opens connections to one SQLite file.
#[derive(Clone)]
pub struct SqliteBackend {
    path: PathBuf,
}

impl SqliteBackend {
    /// A backend for the database file at `path` (created if absent).
    pub fn new(path: impl Into<PathBuf>) -> SqliteBackend {
        SqliteBackend { path: path.into() }
    }
}

impl Backend for SqliteBackend {
    type Conn = SqliteConn;

    fn connect(&self) -> Result<SqliteConn, StoreError> {
        let conn = Connection::open(&self.path)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.path.display())))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db_error)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_error)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db_error)?;
        let mut conn = SqliteConn { conn };
        conn.migrate()?;
        Ok(conn)
    }

    fn ping(&self, conn: &mut SqliteConn) -> bool {
        conn.conn.query_row("SELECT 1", [], |_| Ok(())).is_ok()
    }
}

/// One connection to the embedded database.
pub struct SqliteConn {
    conn: Connection,
}

impl SqliteConn {
    /// Applies the migrations this file has not seen. Safe to run from many
    /// connections at once: each checks and applies inside a write transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
                [],
            )
            .map_err(db_error)?;
        for (version, sql) in MIGRATIONS {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let applied: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
                    [version],
                    |r| r.get(0),
                )
                .map_err(db_error)?;
            if !applied {
                tx.execute_batch(sql).map_err(db_error)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)",
                    params![version, now_ms()],
                )
                .map_err(db_error)?;
                log::info!("embedded store: applied migration {version}");
            }
            tx.commit().map_err(db_error)?;
        }
        Ok(())
    }

    fn user_where(
        &mut self,
        condition: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}");
        self.conn
            .prepare_cached(&sql)
            .map_err(db_error)?
            .query_row([value], user_from_row)
            .optional()
            .map_err(db_error)
    }
}

const INSERT_USER: &str =
    "INSERT INTO users (name, email, password_hash, nick, descr, sex, icon, name_key, email_key) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Inserts `user` with `conn` (a connection or a transaction); returns the uid.
fn insert_user(conn: &Connection, user: &NewUser) -> Result<u64, StoreError> {
    conn.prepare_cached(INSERT_USER)
        .and_then(|mut s| {
            s.execute(params![
                user.name,
                user.email,
                user.password_hash,
                user.nick,
                user.desc,
                user.sex,
                user.icon,
                lookup_key(&user.name),
                lookup_key(&user.email)
            ])
        })
        .map_err(db_error)?;
    Ok(conn.last_insert_rowid() as u64)
}

impl StoreConn for SqliteConn {
    fn create_user(&mut self, user: &NewUser) -> Result<u64, StoreError> {
        insert_user(&self.conn, user)
    }

    fn create_users(&mut self, users: &[NewUser]) -> Result<Vec<u64>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let uids =
            users.iter().map(|user| insert_user(&tx, user)).collect::<Result<Vec<_>, _>>()?;
        tx.commit().map_err(db_error)?;
        Ok(uids)
    }

    fn befriend_pairs(&mut self, pairs: &[(u64, u64)]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        for &(applicant, acceptor) in pairs {
            let (a, b) = (applicant as i64, acceptor as i64);
            tx.prepare_cached(
                "INSERT INTO friend_applies (from_uid, to_uid, apply_text, remark, status) VALUES (?1, ?2, '', '', 1)
                 ON CONFLICT (from_uid, to_uid) DO UPDATE SET status = 1",
            )
            .and_then(|mut s| s.execute([a, b]))
            .map_err(db_error)?;
            let mut friend = tx
                .prepare_cached("INSERT INTO friends (uid, friend_uid, remark) VALUES (?1, ?2, '') ON CONFLICT DO NOTHING")
                .map_err(db_error)?;
            friend.execute([a, b]).and_then(|_| friend.execute([b, a])).map_err(db_error)?;
            drop(friend);
            private_thread_in(&tx, applicant, acceptor)?;
        }
        tx.commit().map_err(db_error)
    }

    fn user_by_uid(&mut self, uid: u64) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("uid = ?1", &(uid as i64))
    }

    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        match self.user_where("name = ?1", &name)? {
            Some(user) => Ok(Some(user)),
            None => self.user_where("name_key = ?1", &lookup_key(name)),
        }
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        match self.user_where("email = ?1", &email)? {
            Some(user) => Ok(Some(user)),
            None => self.user_where("email_key = ?1", &lookup_key(email)),
        }
    }

    fn update_password_hash(&mut self, uid: u64, hash: &str) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let changed = tx
            .prepare_cached("UPDATE users SET password_hash = ?1 WHERE uid = ?2")
            .and_then(|mut s| s.execute(params![hash, uid as i64]))
            .map_err(db_error)?;
        tx.prepare_cached("DELETE FROM session_tokens WHERE uid = ?1")
            .and_then(|mut s| s.execute(params![uid as i64]))
            .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(changed == 1)
    }

    fn store_session_token(
        &mut self,
        token: &SessionToken,
        per_user: usize,
    ) -> Result<(), StoreError> {
        let uid = token.uid as i64;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        tx.prepare_cached(
            "DELETE FROM session_tokens WHERE uid = ?1 AND (device = ?2 OR expires_ms <= ?3)",
        )
        .and_then(|mut s| s.execute(params![uid, token.device, token.created_ms]))
        .map_err(db_error)?;
        tx.prepare_cached(
            "INSERT INTO session_tokens (token_hash, uid, device, created_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                &token.token_hash[..],
                uid,
                token.device,
                token.created_ms,
                token.expires_ms
            ])
        })
        .map_err(db_error)?;
        tx.prepare_cached(
            "DELETE FROM session_tokens WHERE token_hash IN (SELECT token_hash FROM session_tokens
             WHERE uid = ?1 ORDER BY created_ms DESC, token_hash LIMIT -1 OFFSET ?2)",
        )
        .and_then(|mut s| s.execute(params![uid, per_user.max(1) as i64]))
        .map_err(db_error)?;
        tx.commit().map_err(db_error)
    }

    fn session_token(
        &mut self,
        token_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionToken>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT uid, device, created_ms, expires_ms FROM session_tokens
                 WHERE token_hash = ?1 AND expires_ms > ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![&token_hash[..], now_ms], |r| {
                    Ok(SessionToken {
                        token_hash: *token_hash,
                        uid: r.get::<_, i64>(0)? as u64,
                        device: r.get(1)?,
                        created_ms: r.get(2)?,
                        expires_ms: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(db_error)
    }

    fn revoke_session_token(&mut self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM session_tokens WHERE token_hash = ?1")
            .and_then(|mut s| s.execute(params![&token_hash[..]]))
            .map_err(db_error)?;
        Ok(deleted == 1)
    }

    fn friend_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn FriendRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let outcome = rules(&mut SqliteFriendRows(&tx))?;
        tx.commit().map_err(db_error)?;
        Ok(outcome)
    }

    fn are_friends(&mut self, a: u64, b: u64) -> Result<bool, StoreError> {
        is_friend_in(&self.conn, a, b)
    }

    fn login_data(&mut self, uid: u64) -> Result<Option<LoginData>, StoreError> {
        let Some(user) = self.user_by_uid(uid)? else { return Ok(None) };
        let friends_sql = format!(
            "SELECT {}, f.remark FROM friends f JOIN users u ON u.uid = f.friend_uid WHERE f.uid = ?1 ORDER BY u.uid",
            USER_COLUMNS_OF_U
        );
        let friends = self
            .conn
            .prepare_cached(&friends_sql)
            .and_then(|mut s| {
                s.query_map([uid as i64], |r| {
                    Ok(FriendRecord { user: user_from_row(r)?, remark: r.get(8)? })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)?;
        let applies_sql = format!(
            "SELECT {}, a.apply_text, a.status FROM friend_applies a JOIN users u ON u.uid = a.from_uid
             WHERE a.to_uid = ?1 AND a.status = 0 ORDER BY u.uid",
            USER_COLUMNS_OF_U
        );
        let applications = self
            .conn
            .prepare_cached(&applies_sql)
            .and_then(|mut s| {
                s.query_map([uid as i64], |r| {
                    Ok(ApplyRecord {
                        applicant: user_from_row(r)?,
                        apply_text: r.get(8)?,
                        status: r.get(9)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)?;
        Ok(Some(LoginData { user, friends, applications }))
    }

    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let thread_id = private_thread_in(&tx, a, b)?;
        tx.commit().map_err(db_error)?;
        Ok(thread_id)
    }

    fn thread(&mut self, thread_id: u64) -> Result<Option<ThreadRecord>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT thread_id, user1_id, user2_id FROM threads WHERE thread_id = ?1",
            )
            .and_then(|mut s| s.query_row([thread_id as i64], thread_from_row).optional())
            .map_err(db_error)
    }

    fn threads_of(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ThreadRecord>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT thread_id, user1_id, user2_id FROM threads WHERE user1_id = ?1 AND thread_id > ?2
                 UNION ALL
                 SELECT thread_id, user1_id, user2_id FROM threads WHERE user2_id = ?1 AND user1_id <> 0 AND thread_id > ?2
                 ORDER BY thread_id LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![uid as i64, after as i64, limit as i64], thread_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn append_batch(&mut self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        let chat_time = now_ms();
        // IMMEDIATE: the write lock is taken first, so this transaction is
        // the only one numbering any conversation until it commits.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let mut stored = Vec::with_capacity(batch.len());
        // IMMEDIATE holds the database: no change of membership comes
        // between this read and the commit.
        let groups: Vec<u64> = batch.iter().filter(|m| m.group != 0).map(|m| m.group).collect();
        let members = if groups.is_empty() {
            std::collections::HashMap::new()
        } else {
            super::sqlite_groups::members_of(&tx, &groups)?
        };
        let accepted: Vec<usize> =
            (0..batch.len()).filter(|&i| groups::sender_is_member(&members, &batch[i])).collect();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO messages (thread_id, seq, sender, receiver, unique_id, content, chat_time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (sender, unique_id) DO NOTHING RETURNING message_id",
                )
                .map_err(db_error)?;
            let mut existing = tx
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.sender = ?1 AND m.unique_id = ?2"
                ))
                .map_err(db_error)?;
            // (pair, thread id, last seq) of the conversations this batch
            // writes; a group's pair is (0, its id), as in its row.
            let mut threads: Vec<((u64, u64), u64, u64)> = Vec::new();
            for m in accepted.iter().map(|&i| &batch[i]) {
                let pair = if m.group != 0 {
                    (0, m.group)
                } else {
                    (m.sender.min(m.receiver), m.sender.max(m.receiver))
                };
                let index = match threads.iter().position(|(p, _, _)| *p == pair) {
                    Some(index) => index,
                    None => {
                        let id = if m.group != 0 {
                            m.group
                        } else {
                            private_thread_in(&tx, m.sender, m.receiver)?
                        };
                        threads.push((pair, id, last_seq_in(&tx, id)?));
                        threads.len() - 1
                    }
                };
                let (thread_id, seq) = (threads[index].1, threads[index].2 + 1);
                let args = params![
                    thread_id as i64,
                    seq as i64,
                    m.sender as i64,
                    m.receiver as i64,
                    m.unique_id,
                    m.content,
                    chat_time
                ];
                let new_id: Option<i64> =
                    insert.query_row(args, |r| r.get(0)).optional().map_err(db_error)?;
                stored.push(match new_id {
                    Some(id) => {
                        threads[index].2 = seq;
                        StoredMessage {
                            message_id: id as u64,
                            thread_id,
                            seq,
                            sender: m.sender,
                            receiver: m.receiver,
                            unique_id: m.unique_id.clone(),
                            content: m.content.clone(),
                            kind: TEXT,
                            chat_time,
                            delivered: false,
                            resent: false,
                        }
                    }
                    None => {
                        let mut old = existing
                            .query_row(params![m.sender as i64, m.unique_id], message_from_row)
                            .map_err(db_error)?;
                        old.delivered = old.seq <= watermark_in(&tx, old.receiver, old.thread_id)?;
                        old.resent = true;
                        old
                    }
                });
            }
            let mut numbered = tx
                .prepare_cached("UPDATE threads SET last_seq = ?2 WHERE thread_id = ?1")
                .map_err(db_error)?;
            for (_, thread_id, last_seq) in &threads {
                numbered.execute([*thread_id as i64, *last_seq as i64]).map_err(db_error)?;
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(groups::appended(batch, &accepted, stored, &members))
    }

    fn conversation_threads(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(ThreadRecord, Option<String>)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT thread_id, user1_id, user2_id, NULL FROM threads WHERE user1_id = ?1 AND thread_id > ?2
                 UNION ALL
                 SELECT thread_id, user1_id, user2_id, NULL FROM threads WHERE user2_id = ?1 AND user1_id <> 0 AND thread_id > ?2
                 UNION ALL
                 SELECT m.thread_id, 0, m.thread_id, g.name FROM group_members m
                 JOIN chat_groups g ON g.thread_id = m.thread_id
                 WHERE m.uid = ?1 AND m.left_seq = 0 AND m.thread_id > ?2
                 ORDER BY 1 LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![uid as i64, after as i64, limit as i64], |r| {
                    Ok((thread_from_row(r)?, r.get::<_, Option<String>>(3)?))
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn group_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn GroupRows) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // IMMEDIATE: the rules read, then write (see `watermark_transaction`).
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        rules(&mut super::sqlite_groups::SqliteGroupRows(&tx))?;
        tx.commit().map_err(db_error)
    }

    fn thread_messages(
        &mut self,
        thread_id: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let before = if before == 0 { i64::MAX } else { before as i64 };
        self.conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m
                 WHERE m.thread_id = ?1 AND m.message_id < ?2 ORDER BY m.seq DESC LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![thread_id as i64, before, limit as i64], message_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn receiver_watermark(&mut self, uid: u64, thread_id: u64) -> Result<u64, StoreError> {
        watermark_in(&self.conn, uid, thread_id)
    }

    fn conversations_behind(
        &mut self,
        uid: u64,
        device: &str,
        from_thread: u64,
        limit: usize,
    ) -> Result<Vec<Behind>, StoreError> {
        // Private threads, then groups: a member's from just below its
        // joining, a former member's up to its leaving.
        self.conn
            .prepare_cached(
                "SELECT t.thread_id, COALESCE(w.seq, t.start) AS mark, t.until FROM
                   (SELECT thread_id, 0 AS start, last_seq AS until FROM threads
                    WHERE user1_id = ?1 AND thread_id >= ?3
                    UNION ALL
                    SELECT thread_id, 0, last_seq FROM threads WHERE user2_id = ?1 AND user1_id <> 0 AND thread_id >= ?3
                    UNION ALL
                    SELECT g.thread_id, m.joined_seq - 1,
                           CASE WHEN m.left_seq = 0 THEN g.last_seq ELSE MIN(g.last_seq, m.left_seq) END
                    FROM group_members m JOIN threads g ON g.thread_id = m.thread_id
                    WHERE m.uid = ?1 AND m.thread_id >= ?3) AS t
                 LEFT JOIN watermarks w ON w.uid = ?1 AND w.device = ?2 AND w.thread_id = t.thread_id
                 WHERE t.until > COALESCE(w.seq, t.start)
                   AND (?2 <> '' OR EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.thread_id
                                             AND m.seq > COALESCE(w.seq, t.start) AND m.seq <= t.until
                                             AND m.sender <> ?1))
                 ORDER BY t.thread_id LIMIT ?4",
            )
            .and_then(|mut s| {
                s.query_map(params![uid as i64, device, from_thread as i64, limit as i64], |r| {
                    Ok(Behind {
                        thread_id: r.get::<_, i64>(0)? as u64,
                        watermark: r.get::<_, i64>(1)? as u64,
                        until: r.get::<_, i64>(2)? as u64,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn conversation_after(
        &mut self,
        thread_id: u64,
        after: u64,
        until: u64,
        skip_sender: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let until = until.min(i64::MAX as u64) as i64;
        self.conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m
                 WHERE m.thread_id = ?1 AND m.seq > ?2 AND m.seq <= ?3 AND m.sender <> ?4
                 ORDER BY m.seq LIMIT ?5"
            ))
            .and_then(|mut s| {
                let args = params![
                    thread_id as i64,
                    after as i64,
                    until,
                    skip_sender as i64,
                    limit as i64
                ];
                s.query_map(args, message_from_row)?.collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn mark_read(
        &mut self,
        uid: u64,
        thread_id: u64,
        seq: u64,
    ) -> Result<Option<ReadMark>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let Some(thread) = tx
            .prepare_cached(
                "SELECT thread_id, user1_id, user2_id FROM threads WHERE thread_id = ?1",
            )
            .and_then(|mut s| s.query_row([thread_id as i64], thread_from_row).optional())
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let mut until = last_seq_in(&tx, thread_id)?;
        if thread.is_group() {
            let left: Option<i64> = tx
                .prepare_cached(
                    "SELECT left_seq FROM group_members WHERE thread_id = ?1 AND uid = ?2",
                )
                .and_then(|mut s| {
                    s.query_row([thread_id as i64, uid as i64], |r| r.get(0)).optional()
                })
                .map_err(db_error)?;
            match left {
                None => return Ok(None),
                Some(0) => {}
                Some(left_seq) => until = until.min(left_seq as u64),
            }
        } else if !thread.has_member(uid) {
            return Ok(None);
        }
        let seq = seq.min(until);
        let raised = tx
            .prepare_cached(
                "INSERT INTO read_marks (uid, thread_id, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (uid, thread_id) DO UPDATE SET seq = excluded.seq
                 WHERE excluded.seq > read_marks.seq",
            )
            .and_then(|mut s| s.execute(params![uid as i64, thread_id as i64, seq as i64]))
            .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        let peer = if thread.is_group() { 0 } else { thread.other_member(uid) };
        Ok((raised > 0 && seq > 0).then_some(ReadMark { thread_id, reader: uid, peer, seq }))
    }

    fn conversation_rows(
        &mut self,
        uid: u64,
        device: &str,
        threads: &[u64],
    ) -> Result<ConversationRows, StoreError> {
        let list = vec!["?"; threads.len()].join(", ");
        let ids = || threads.iter().map(|&t| t as i64);
        let pairs = |sql: &str, first: Vec<rusqlite::types::Value>| {
            let values = first.into_iter().chain(ids().map(rusqlite::types::Value::from));
            let mut statement = self.conn.prepare_cached(sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
            })?;
            rows.collect::<rusqlite::Result<Vec<(u64, u64)>>>()
        };
        let watermarks = pairs(
            &format!(
                "SELECT thread_id, seq FROM watermarks WHERE uid = ? AND device = ? AND thread_id IN ({list})"
            ),
            vec![(uid as i64).into(), device.to_string().into()],
        )
        .map_err(db_error)?;
        let unread = pairs(
            &format!(
                "SELECT m.thread_id, COUNT(*) FROM messages m
                 LEFT JOIN read_marks r ON r.uid = ? AND r.thread_id = m.thread_id
                 LEFT JOIN group_members g ON g.uid = ? AND g.thread_id = m.thread_id
                 WHERE m.sender <> ? AND m.kind = 0
                   AND m.seq > MAX(COALESCE(r.seq, 0), COALESCE(g.joined_seq, 0))
                   AND m.thread_id IN ({list}) GROUP BY m.thread_id"
            ),
            vec![(uid as i64).into(), (uid as i64).into(), (uid as i64).into()],
        )
        .map_err(db_error)?;
        let read_marks = self
            .conn
            // The user's marks, and the other member's of a private thread
            // (a group's members ask 1140 instead of reading 500 marks).
            .prepare_cached(&format!(
                "SELECT r.uid, r.thread_id, r.seq FROM read_marks r
                 JOIN threads t ON t.thread_id = r.thread_id
                 WHERE r.thread_id IN ({list}) AND (r.uid = ? OR r.uid = t.user1_id OR r.uid = t.user2_id)"
            ))
            .and_then(|mut s| {
                let values = ids().chain([uid as i64]);
                s.query_map(rusqlite::params_from_iter(values), |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)? as u64,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db_error)?;
        let last_messages = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM threads t
                 JOIN messages m ON m.thread_id = t.thread_id AND m.seq = t.last_seq
                 WHERE t.thread_id IN ({list})"
            ))
            .and_then(|mut s| {
                s.query_map(rusqlite::params_from_iter(ids()), message_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db_error)?;
        Ok(ConversationRows { watermarks, read_marks, last_messages, unread })
    }

    fn conversation_range(
        &mut self,
        thread_id: u64,
        after: u64,
        before: u64,
        limit: usize,
        newest: bool,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let before = if before == 0 { i64::MAX } else { before as i64 };
        let order = if newest { "DESC" } else { "ASC" };
        self.conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m
                 WHERE m.thread_id = ?1 AND m.seq > ?2 AND m.seq < ?3 ORDER BY m.seq {order} LIMIT ?4"
            ))
            .and_then(|mut s| {
                let args = params![thread_id as i64, after as i64, before, limit as i64];
                s.query_map(args, message_from_row)?.collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn register_device(
        &mut self,
        uid: u64,
        device: &str,
        kind: u32,
        max_devices: usize,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let seen = tx
            .prepare_cached(
                "UPDATE devices SET last_seen = ?3, kind = ?4 WHERE uid = ?1 AND device = ?2",
            )
            .and_then(|mut s| s.execute(params![uid as i64, device, now, kind]))
            .map_err(db_error)?;
        let new = seen == 0;
        if new {
            tx.prepare_cached(
                "INSERT INTO devices (uid, device, kind, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .and_then(|mut s| s.execute(params![uid as i64, device, kind, now]))
            .map_err(db_error)?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO watermarks (uid, device, thread_id, seq)
                 SELECT ?1, ?2, thread_id, last_seq FROM threads
                 WHERE (user1_id = ?1 OR (user2_id = ?1 AND user1_id <> 0)) AND last_seq > 0",
            )
            .and_then(|mut s| s.execute(params![uid as i64, device]))
            .map_err(db_error)?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO watermarks (uid, device, thread_id, seq)
                 SELECT ?1, ?2, t.thread_id, t.last_seq FROM group_members m
                 JOIN threads t ON t.thread_id = m.thread_id WHERE m.uid = ?1 AND m.left_seq = 0",
            )
            .and_then(|mut s| s.execute(params![uid as i64, device]))
            .map_err(db_error)?;
            let forgotten: Vec<String> = tx
                .prepare_cached(
                    "SELECT device FROM devices WHERE uid = ?1
                     ORDER BY last_seen DESC, device LIMIT -1 OFFSET ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![uid as i64, max_devices.max(1) as i64], |r| r.get(0))?
                        .collect::<Result<_, _>>()
                })
                .map_err(db_error)?;
            for old in &forgotten {
                for table in ["devices", "watermarks"] {
                    tx.prepare_cached(&format!(
                        "DELETE FROM {table} WHERE uid = ?1 AND device = ?2"
                    ))
                    .and_then(|mut s| s.execute(params![uid as i64, old]))
                    .map_err(db_error)?;
                }
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(new)
    }

    fn watermark_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn WatermarkRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        // IMMEDIATE: the rules read, then write. A deferred transaction
        // that read before another connection wrote could not write at all
        // (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out), and the
        // batch would be lost.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let outcome = rules(&mut SqliteWatermarkRows(&tx))?;
        tx.commit().map_err(db_error)?;
        Ok(outcome)
    }
}

/// The last seq of a conversation (0 if it has no message).
fn last_seq_in(conn: &Connection, thread_id: u64) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT last_seq FROM threads WHERE thread_id = ?1")
        .and_then(|mut s| s.query_row([thread_id as i64], |r| r.get::<_, i64>(0)))
        .map(|seq| seq as u64)
        .map_err(db_error)
}

/// The highest watermark of `uid`'s devices in a conversation (0 if none).
fn watermark_in(conn: &Connection, uid: u64, thread_id: u64) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "SELECT COALESCE(MAX(seq), 0) FROM watermarks WHERE uid = ?1 AND thread_id = ?2",
    )
    .and_then(|mut s| s.query_row([uid as i64, thread_id as i64], |r| r.get::<_, i64>(0)))
    .map(|seq| seq as u64)
    .map_err(db_error)
}

/// True if `uid` has `friend` in its friend list (in or out of a transaction).
pub(super) fn is_friend_in(conn: &Connection, uid: u64, friend: u64) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM friends WHERE uid = ?1 AND friend_uid = ?2)")
        .and_then(|mut s| s.query_row(params![uid as i64, friend as i64], |r| r.get(0)))
        .map_err(db_error)
}

/// The thread of two users inside `tx`, created if absent.
fn private_thread_in(tx: &rusqlite::Transaction<'_>, a: u64, b: u64) -> Result<u64, StoreError> {
    let (low, high) = (a.min(b) as i64, a.max(b) as i64);
    tx.prepare_cached(
        "INSERT INTO threads (user1_id, user2_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )
    .and_then(|mut s| s.execute([low, high]))
    .map_err(db_error)?;
    tx.prepare_cached("SELECT thread_id FROM threads WHERE user1_id = ?1 AND user2_id = ?2")
        .and_then(|mut s| s.query_row([low, high], |r| r.get::<_, i64>(0)))
        .map(|id| id as u64)
        .map_err(db_error)
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        uid: row.get::<_, i64>(0)? as u64,
        name: row.get(1)?,
        email: row.get(2)?,
        password_hash: row.get(3)?,
        nick: row.get(4)?,
        desc: row.get(5)?,
        sex: row.get(6)?,
        icon: row.get(7)?,
    })
}

fn thread_from_row(row: &Row<'_>) -> rusqlite::Result<ThreadRecord> {
    Ok(ThreadRecord {
        thread_id: row.get::<_, i64>(0)? as u64,
        user1_id: row.get::<_, i64>(1)? as u64,
        user2_id: row.get::<_, i64>(2)? as u64,
    })
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        message_id: row.get::<_, i64>(0)? as u64,
        thread_id: row.get::<_, i64>(1)? as u64,
        seq: row.get::<_, i64>(2)? as u64,
        sender: row.get::<_, i64>(3)? as u64,
        receiver: row.get::<_, i64>(4)? as u64,
        unique_id: row.get(5)?,
        content: row.get(6)?,
        kind: row.get(7)?,
        chat_time: row.get(8)?,
        delivered: false,
        resent: false,
    })
}

/// Maps SQLite errors: constraint violations are conflicts; the rest are
/// reported as database errors (a file-based database has no connection to lose).
pub(super) fn db_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation => {
            StoreError::Conflict(e.to_string())
        }
        _ => StoreError::Database(e.to_string()),
    }
}

/// Friendship rows inside an IMMEDIATE transaction (it holds the write lock,
/// so reads inside it are as good as locked).
struct SqliteFriendRows<'t, 'c>(&'t rusqlite::Transaction<'c>);

impl FriendRows for SqliteFriendRows<'_, '_> {
    fn is_friend(&mut self, uid: u64, friend: u64) -> Result<bool, StoreError> {
        is_friend_in(self.0, uid, friend)
    }

    fn pending_application(&mut self, from: u64, to: u64) -> Result<Option<String>, StoreError> {
        self.0
            .query_row(
                "SELECT remark FROM friend_applies WHERE from_uid = ?1 AND to_uid = ?2 AND status = 0",
                params![from as i64, to as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)
    }

    fn put_application(&mut self, a: &Application<'_>) -> Result<(), StoreError> {
        self.0
            .prepare_cached(
                "INSERT INTO friend_applies (from_uid, to_uid, apply_text, remark, status) VALUES (?1, ?2, ?3, ?4, 0)
                 ON CONFLICT (from_uid, to_uid) DO UPDATE SET apply_text = ?3, remark = ?4, status = 0",
            )
            .and_then(|mut s| s.execute(params![a.from as i64, a.to as i64, a.apply_text, a.remark]))
            .map(drop)
            .map_err(db_error)
    }

    fn accept_application(&mut self, from: u64, to: u64) -> Result<(), StoreError> {
        self.0
            .execute(
                "UPDATE friend_applies SET status = 1 WHERE from_uid = ?1 AND to_uid = ?2",
                params![from as i64, to as i64],
            )
            .map(drop)
            .map_err(db_error)
    }

    fn decline_application(&mut self, from: u64, to: u64) -> Result<(), StoreError> {
        self.0
            .execute(
                "UPDATE friend_applies SET status = 2 WHERE from_uid = ?1 AND to_uid = ?2",
                params![from as i64, to as i64],
            )
            .map(drop)
            .map_err(db_error)
    }

    fn put_friend(&mut self, uid: u64, friend: u64, remark: &str) -> Result<(), StoreError> {
        self.0
            .execute(
                "INSERT INTO friends (uid, friend_uid, remark) VALUES (?1, ?2, ?3)
                 ON CONFLICT (uid, friend_uid) DO UPDATE SET remark = ?3",
                params![uid as i64, friend as i64, remark],
            )
            .map(drop)
            .map_err(db_error)
    }

    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError> {
        private_thread_in(self.0, a, b)
    }
}

/// Watermark rows inside a transaction. The statements are per row: an
/// embedded database answers each without a round trip.
struct SqliteWatermarkRows<'t, 'c>(&'t rusqlite::Transaction<'c>);

impl WatermarkRows for SqliteWatermarkRows<'_, '_> {
    fn message_keys(&mut self, ids: &[u64]) -> Result<Vec<MessageKey>, StoreError> {
        let mut lookup = self
            .0
            .prepare_cached(
                "SELECT message_id, thread_id, seq, sender, receiver FROM messages WHERE message_id = ?1",
            )
            .map_err(db_error)?;
        let mut keys = Vec::with_capacity(ids.len());
        for &id in ids {
            let key = lookup
                .query_row([id as i64], |r| {
                    Ok(MessageKey {
                        message_id: r.get::<_, i64>(0)? as u64,
                        thread_id: r.get::<_, i64>(1)? as u64,
                        seq: r.get::<_, i64>(2)? as u64,
                        sender: r.get::<_, i64>(3)? as u64,
                        receiver: r.get::<_, i64>(4)? as u64,
                    })
                })
                .optional()
                .map_err(db_error)?;
            keys.extend(key);
        }
        Ok(keys)
    }

    fn conversations(&mut self, ids: &[u64]) -> Result<Vec<(ThreadRecord, u64)>, StoreError> {
        let mut lookup = self
            .0
            .prepare_cached(
                "SELECT thread_id, user1_id, user2_id, last_seq FROM threads WHERE thread_id = ?1",
            )
            .map_err(db_error)?;
        let mut found = Vec::with_capacity(ids.len());
        for &id in ids {
            let row = lookup
                .query_row([id as i64], |r| Ok((thread_from_row(r)?, r.get::<_, i64>(3)? as u64)))
                .optional()
                .map_err(db_error)?;
            found.extend(row);
        }
        Ok(found)
    }

    fn watermarks(
        &mut self,
        keys: &[WatermarkKey],
    ) -> Result<Vec<(WatermarkKey, u64)>, StoreError> {
        let mut lookup = self
            .0
            .prepare_cached(
                "SELECT seq FROM watermarks WHERE uid = ?1 AND device = ?2 AND thread_id = ?3",
            )
            .map_err(db_error)?;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let seq: Option<i64> = lookup
                .query_row(params![key.uid as i64, key.device, key.thread_id as i64], |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            found.extend(seq.map(|seq| (key.clone(), seq as u64)));
        }
        Ok(found)
    }

    fn memberships(&mut self, keys: &[MemberKey]) -> Result<Vec<(MemberKey, u64)>, StoreError> {
        let mut lookup = self
            .0
            .prepare_cached("SELECT left_seq FROM group_members WHERE thread_id = ?1 AND uid = ?2")
            .map_err(db_error)?;
        let mut found = Vec::with_capacity(keys.len());
        for &(thread_id, uid) in keys {
            let left: Option<i64> = lookup
                .query_row([thread_id as i64, uid as i64], |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            found.extend(
                left.map(|left| ((thread_id, uid), MemberRecord::readable_until(left as u64))),
            );
        }
        Ok(found)
    }

    fn senders(&mut self, points: &[SeqPoint]) -> Result<Vec<(SeqPoint, u64)>, StoreError> {
        let mut lookup = self
            .0
            .prepare_cached("SELECT sender FROM messages WHERE thread_id = ?1 AND seq = ?2")
            .map_err(db_error)?;
        let mut found = Vec::with_capacity(points.len());
        for &(thread_id, seq) in points {
            let sender: Option<i64> = lookup
                .query_row([thread_id as i64, seq as i64], |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            found.extend(sender.map(|sender| ((thread_id, seq), sender as u64)));
        }
        Ok(found)
    }

    fn raise(&mut self, marks: &[(WatermarkKey, u64)]) -> Result<u64, StoreError> {
        let mut upsert = self
            .0
            .prepare_cached(
                "INSERT INTO watermarks (uid, device, thread_id, seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (uid, device, thread_id) DO UPDATE SET seq = excluded.seq
                 WHERE excluded.seq > watermarks.seq",
            )
            .map_err(db_error)?;
        let mut changed = 0;
        for (key, seq) in marks {
            let args = params![key.uid as i64, key.device, key.thread_id as i64, *seq as i64];
            changed += upsert.execute(args).map_err(db_error)? as u64;
        }
        Ok(changed)
    }
}
