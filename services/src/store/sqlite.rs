//! The embedded backend: SQLite (compiled in by rusqlite's `bundled`
//! feature), one file in the data directory. It is what makes "one command to
//! a running cluster" possible on a machine without a database server.
//!
//! Each pool worker opens its own connection to the file. WAL mode lets
//! readers run beside the single writer; `synchronous = FULL` makes every
//! committed transaction survive a power loss, not only a process crash,
//! since a 1018 reply promises the message is safe.

use super::api::StoreConn;
use super::columns::{
    now_ms, MESSAGES_WITH_STATE, MESSAGE_COLUMNS, PENDING_MESSAGES, USER_COLUMNS, USER_COLUMNS_OF_U,
};
use super::friends::{Application, FriendRows};
use super::model::*;
use super::pool::{Backend, StoreError};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use std::path::PathBuf;
use std::time::Duration;

/// Versioned migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/sqlite/0001_init.sql")),
    (2, include_str!("migrations/sqlite/0002_pending.sql")),
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

const INSERT_USER: &str = "INSERT INTO users (name, email, password_hash, nick, descr, sex, icon) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

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
                user.icon
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
        self.user_where("name = ?1", &name)
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("email = ?1", &email)
    }

    fn update_password_hash(&mut self, uid: u64, hash: &str) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .prepare_cached("UPDATE users SET password_hash = ?1 WHERE uid = ?2")
            .and_then(|mut s| s.execute(params![hash, uid as i64]))
            .map_err(db_error)?;
        Ok(changed == 1)
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
                 SELECT thread_id, user1_id, user2_id FROM threads WHERE user2_id = ?1 AND thread_id > ?2
                 ORDER BY thread_id LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(params![uid as i64, after as i64, limit as i64], thread_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn append_messages(&mut self, batch: &[NewMessage]) -> Result<Vec<StoredMessage>, StoreError> {
        let chat_time = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let mut stored = Vec::with_capacity(batch.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO messages (thread_id, sender, receiver, unique_id, content, chat_time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (sender, unique_id) DO NOTHING RETURNING message_id",
                )
                .map_err(db_error)?;
            let mut mark_pending = tx
                .prepare_cached("INSERT INTO pending (receiver, message_id) VALUES (?1, ?2)")
                .map_err(db_error)?;
            let mut existing = tx
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES_WITH_STATE} WHERE m.sender = ?1 AND m.unique_id = ?2"
                ))
                .map_err(db_error)?;
            let mut threads: Vec<((u64, u64), u64)> = Vec::new();
            for m in batch {
                let pair = (m.sender.min(m.receiver), m.sender.max(m.receiver));
                let thread_id = match threads.iter().find(|(p, _)| *p == pair) {
                    Some((_, id)) => *id,
                    None => {
                        let id = private_thread_in(&tx, m.sender, m.receiver)?;
                        threads.push((pair, id));
                        id
                    }
                };
                let args = params![
                    thread_id as i64,
                    m.sender as i64,
                    m.receiver as i64,
                    m.unique_id,
                    m.content,
                    chat_time
                ];
                let new_id: Option<i64> =
                    insert.query_row(args, |r| r.get(0)).optional().map_err(db_error)?;
                if let Some(id) = new_id {
                    mark_pending.execute(params![m.receiver as i64, id]).map_err(db_error)?;
                }
                stored.push(match new_id {
                    Some(id) => StoredMessage {
                        message_id: id as u64,
                        thread_id,
                        sender: m.sender,
                        receiver: m.receiver,
                        unique_id: m.unique_id.clone(),
                        content: m.content.clone(),
                        chat_time,
                        delivered: false,
                    },
                    None => existing
                        .query_row(params![m.sender as i64, m.unique_id], message_from_row)
                        .map_err(db_error)?,
                });
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(stored)
    }

    fn thread_page(
        &mut self,
        thread_id: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let before = if before == 0 { i64::MAX } else { before as i64 };
        self.conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES_WITH_STATE}
                 WHERE m.thread_id = ?1 AND m.message_id < ?2 ORDER BY m.message_id DESC LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![thread_id as i64, before, limit as i64], message_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn pending_for(
        &mut self,
        receiver: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {PENDING_MESSAGES}
                 WHERE p.receiver = ?1 AND p.message_id > ?2 ORDER BY p.message_id LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![receiver as i64, after as i64, limit as i64], message_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
    }

    fn mark_delivered_many(&mut self, acks: &[Delivery]) -> Result<u64, StoreError> {
        let tx = self.conn.transaction().map_err(db_error)?;
        let mut changed = 0;
        {
            let mut delivered = tx
                .prepare_cached("DELETE FROM pending WHERE receiver = ?1 AND message_id = ?2")
                .map_err(db_error)?;
            for ack in acks {
                for id in &ack.message_ids {
                    changed += delivered
                        .execute(params![ack.receiver as i64, *id as i64])
                        .map_err(db_error)? as u64;
                }
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(changed)
    }
}

/// True if `uid` has `friend` in its friend list (in or out of a transaction).
fn is_friend_in(conn: &Connection, uid: u64, friend: u64) -> Result<bool, StoreError> {
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
        sender: row.get::<_, i64>(2)? as u64,
        receiver: row.get::<_, i64>(3)? as u64,
        unique_id: row.get(4)?,
        content: row.get(5)?,
        chat_time: row.get(6)?,
        delivered: row.get::<_, i64>(7)? != 0,
    })
}

/// Maps SQLite errors: constraint violations are conflicts; the rest are
/// reported as database errors (a file-based database has no connection to lose).
fn db_error(e: rusqlite::Error) -> StoreError {
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
