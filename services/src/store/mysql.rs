//! The production backend: MySQL or MariaDB through the `mysql` crate.
//!
//! Every statement that carries data is a prepared statement with bound
//! parameters (the crate caches them per connection). Writes that must agree
//! run in one transaction. Messages are appended with one multi-row insert per
//! batch, so a batch of 1,000 costs one round trip and one commit.

use super::api::StoreConn;
use super::columns::{lookup_key, now_ms, MESSAGE_COLUMNS, USER_COLUMNS, USER_COLUMNS_OF_U};
use super::friends::{Application, FriendRows};
use super::groups::{self, GroupRows, MemberCache};
use super::model::*;
use super::pool::{Backend, StoreError};
use super::row_lists::{pair_values, placeholders, value_list};
use super::watermarks::{MemberKey, MessageKey, SeqPoint, WatermarkKey, WatermarkRows};
use mysql::prelude::Queryable;
use mysql::{Conn, IsolationLevel, Opts, Params, TxOpts, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Versioned migrations, applied in order, each once.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/mysql/0001_init.sql")),
    (2, include_str!("migrations/mysql/0002_pending.sql")),
    (3, include_str!("migrations/mysql/0003_conversations.sql")),
    (4, include_str!("migrations/mysql/0004_devices_read_marks.sql")),
    (5, include_str!("migrations/mysql/0005_case_insensitive_names.sql")),
    (6, include_str!("migrations/mysql/0006_session_tokens.sql")),
    (7, include_str!("migrations/mysql/0007_groups.sql")),
];

type UserRow = (u64, String, String, String, String, String, i32, String);
type MessageRow = (u64, u64, u64, u64, u64, String, String, u8, i64);

/// Opens connections to one MySQL/MariaDB database.
#[derive(Clone)]
pub struct MysqlBackend {
    opts: Opts,
}

impl MysqlBackend {
    /// A backend for `url` (`mysql://user:password@host:port/database`).
    /// The password may also come from the environment (see the config).
    pub fn new(url: &str) -> Result<MysqlBackend, StoreError> {
        let opts = Opts::from_url(url)
            .map_err(|e| StoreError::Unavailable(format!("bad MySQL URL: {e}")))?;
        // A server that stops answering must not hold a worker forever.
        let opts = mysql::OptsBuilder::from_opts(opts)
            .tcp_connect_timeout(Some(Duration::from_secs(5)))
            .read_timeout(Some(Duration::from_secs(60)))
            .write_timeout(Some(Duration::from_secs(60)));
        Ok(MysqlBackend { opts: opts.into() })
    }
}

const INSERT_USER: &str =
    "INSERT INTO users (name, email, name_key, email_key, password_hash, nick, descr, sex, icon) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

fn user_params(user: &NewUser) -> Params {
    let values: Vec<Value> = vec![
        user.name.as_str().into(),
        user.email.as_str().into(),
        lookup_key(&user.name).into(),
        lookup_key(&user.email).into(),
        user.password_hash.as_str().into(),
        user.nick.as_str().into(),
        user.desc.as_str().into(),
        user.sex.into(),
        user.icon.as_str().into(),
    ];
    Params::Positional(values)
}

/// MySQL's error for a database that does not exist (ER_BAD_DB_ERROR).
const UNKNOWN_DATABASE: u16 = 1049;

impl MysqlBackend {
    /// Creates the URL's database (utf8mb4), so that a fresh server needs no
    /// manual step. Only plain names are created: anything that would need
    /// quoting is left to the operator.
    fn create_database(&self) -> Result<(), StoreError> {
        let name = self.opts.get_db_name().unwrap_or_default().to_string();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::Unavailable(format!("database `{name}` does not exist")));
        }
        let server = mysql::OptsBuilder::from_opts(self.opts.clone()).db_name(None::<String>);
        let mut admin = Conn::new(server).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        admin
            .query_drop(format!("CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4"))
            .map_err(|e| StoreError::Unavailable(format!("cannot create database {name}: {e}")))?;
        log::info!("MySQL store: created database {name}");
        Ok(())
    }
}

impl Backend for MysqlBackend {
    type Conn = MysqlConn;

    fn connect(&self) -> Result<MysqlConn, StoreError> {
        let conn = match Conn::new(self.opts.clone()) {
            Err(mysql::Error::MySqlError(e)) if e.code == UNKNOWN_DATABASE => {
                self.create_database()?;
                Conn::new(self.opts.clone())
            }
            other => other,
        }
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut conn = MysqlConn {
            conn,
            consecutive_ids: false,
            threads: KnownThreads::default(),
            members: MemberCache::default(),
        };
        conn.conn.query_drop("SET NAMES utf8mb4").map_err(db_error)?;
        let modes: Option<(u32, u32)> = conn
            .conn
            .query_first("SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment")
            .map_err(db_error)?;
        conn.consecutive_ids = matches!(modes, Some((0 | 1, 1)));
        conn.migrate()?;
        Ok(conn)
    }

    fn ping(&self, conn: &mut MysqlConn) -> bool {
        conn.conn.query_drop("SELECT 1").is_ok()
    }
}

/// One connection to MySQL/MariaDB.
pub struct MysqlConn {
    conn: Conn,
    /// The server hands out the auto-increment ids of one multi-row insert
    /// consecutively (innodb_autoinc_lock_mode 0 or 1, increment 1), so a
    /// batch of only new messages needs no read-back.
    consecutive_ids: bool,
    /// Threads this connection has seen committed, by pair of users.
    threads: KnownThreads,
    /// Members of the groups this connection has written to.
    members: MemberCache,
}

/// The thread ids of pairs of users (`(low, high)` uids), as committed.
///
/// A thread row is never changed or deleted once created, so a committed
/// id stays true: the message writer, which sees the same pairs batch after
/// batch, asks the database only for pairs it has not seen (at 25,000 msg/s
/// that lookup was one statement per batch and ~3% of MariaDB's time). Ids
/// learnt inside a transaction are kept only once it commits: a thread
/// created by a transaction that rolls back never existed. Bounded: when
/// full it starts again empty.
#[derive(Default)]
struct KnownThreads {
    ids: HashMap<(u64, u64), u64>,
}

impl KnownThreads {
    const CAPACITY: usize = 100_000;

    fn get(&self, pair: &(u64, u64)) -> Option<u64> {
        self.ids.get(pair).copied()
    }

    /// Call after the commit of the transaction that found `found`.
    fn remember(&mut self, found: &HashMap<(u64, u64), u64>) {
        if self.ids.len() + found.len() > Self::CAPACITY {
            self.ids.clear();
        }
        self.ids.extend(found);
    }
}

impl MysqlConn {
    /// Applies missing migrations under a named lock, so that workers
    /// connecting at the same time apply each migration exactly once.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let c = &mut self.conn;
        let locked: Option<i64> =
            c.query_first("SELECT GET_LOCK('im_schema_migrations', 30)").map_err(db_error)?;
        if locked != Some(1) {
            return Err(StoreError::Unavailable("could not take the migration lock".into()));
        }
        let outcome = apply_migrations(c);
        let _ = c.query_drop("DO RELEASE_LOCK('im_schema_migrations')");
        outcome
    }

    fn user_where(
        &mut self,
        condition: &str,
        value: Value,
    ) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}");
        let row: Option<UserRow> = self.conn.exec_first(sql, (value,)).map_err(db_error)?;
        Ok(row.map(user_from_row))
    }
}

fn apply_migrations(c: &mut Conn) -> Result<(), StoreError> {
    c.query_drop(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INT UNSIGNED NOT NULL PRIMARY KEY, \
         applied_ms BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    )
    .map_err(db_error)?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<u32> = c
            .exec_first("SELECT version FROM schema_migrations WHERE version = ?", (version,))
            .map_err(db_error)?;
        if applied.is_some() {
            continue;
        }
        // DDL commits implicitly in MySQL; the version row is written last,
        // and each statement is idempotent only through this check.
        for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty() && !is_comment(s))
        {
            c.query_drop(statement).map_err(db_error)?;
        }
        c.exec_drop(
            "INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)",
            (version, now_ms()),
        )
        .map_err(db_error)?;
        log::info!("MySQL store: applied migration {version}");
    }
    Ok(())
}

fn is_comment(statement: &str) -> bool {
    statement.lines().all(|line| line.trim().is_empty() || line.trim_start().starts_with("--"))
}

impl StoreConn for MysqlConn {
    fn create_users(&mut self, users: &[NewUser]) -> Result<Vec<u64>, StoreError> {
        let mut tx = self.conn.start_transaction(TxOpts::default()).map_err(db_error)?;
        let mut uids = Vec::with_capacity(users.len());
        for user in users {
            tx.exec_drop(INSERT_USER, user_params(user)).map_err(db_error)?;
            uids.push(tx.last_insert_id().unwrap_or_default());
        }
        tx.commit().map_err(db_error)?;
        Ok(uids)
    }

    fn befriend_pairs(&mut self, pairs: &[(u64, u64)]) -> Result<(), StoreError> {
        let mut tx = self.conn.start_transaction(TxOpts::default()).map_err(db_error)?;
        tx.exec_batch(
            "INSERT INTO friend_applies (from_uid, to_uid, apply_text, remark, status) VALUES (?, ?, '', '', 1)
             ON DUPLICATE KEY UPDATE status = 1",
            pairs.iter().copied(),
        )
        .map_err(db_error)?;
        tx.exec_batch(
            "INSERT IGNORE INTO friends (uid, friend_uid, remark) VALUES (?, ?, '')",
            pairs.iter().flat_map(|&(a, b)| [(a, b), (b, a)]),
        )
        .map_err(db_error)?;
        let mut ordered: Vec<(u64, u64)> =
            pairs.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        ordered.sort_unstable();
        ordered.dedup();
        for chunk in ordered.chunks(1000) {
            private_threads_in(&mut tx, chunk)?;
        }
        tx.commit().map_err(db_error)
    }

    fn create_user(&mut self, user: &NewUser) -> Result<u64, StoreError> {
        self.conn.exec_drop(INSERT_USER, user_params(user)).map_err(db_error)?;
        Ok(self.conn.last_insert_id())
    }

    fn user_by_uid(&mut self, uid: u64) -> Result<Option<UserRecord>, StoreError> {
        self.user_where("uid = ?", uid.into())
    }

    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        match self.user_where("name = ?", name.into())? {
            Some(user) => Ok(Some(user)),
            None => self.user_where("name_key = ?", lookup_key(name).into()),
        }
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        match self.user_where("email = ?", email.into())? {
            Some(user) => Ok(Some(user)),
            None => self.user_where("email_key = ?", lookup_key(email).into()),
        }
    }

    fn update_password_hash(&mut self, uid: u64, hash: &str) -> Result<bool, StoreError> {
        let mut tx = self.conn.start_transaction(TxOpts::default()).map_err(db_error)?;
        tx.exec_drop("UPDATE users SET password_hash = ? WHERE uid = ?", (hash, uid))
            .map_err(db_error)?;
        // 0 rows when the hash is the same: the user exists if it is found.
        let found = tx.affected_rows() == 1
            || tx
                .exec_first::<u64, _, _>("SELECT uid FROM users WHERE uid = ?", (uid,))
                .map_err(db_error)?
                .is_some();
        tx.exec_drop("DELETE FROM session_tokens WHERE uid = ?", (uid,)).map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(found)
    }

    fn store_session_token(
        &mut self,
        token: &SessionToken,
        per_user: usize,
    ) -> Result<(), StoreError> {
        let mut tx = self.conn.start_transaction(TxOpts::default()).map_err(db_error)?;
        tx.exec_drop(
            "DELETE FROM session_tokens WHERE uid = ? AND (device = ? OR expires_ms <= ?)",
            (token.uid, &token.device, token.created_ms),
        )
        .map_err(db_error)?;
        tx.exec_drop(
            "INSERT INTO session_tokens (token_hash, uid, device, created_ms, expires_ms)
             VALUES (?, ?, ?, ?, ?)",
            (&token.token_hash[..], token.uid, &token.device, token.created_ms, token.expires_ms),
        )
        .map_err(db_error)?;
        let beyond: Vec<Vec<u8>> = tx
            .exec(
                "SELECT token_hash FROM session_tokens WHERE uid = ?
                 ORDER BY created_ms DESC, token_hash LIMIT 18446744073709551615 OFFSET ?",
                (token.uid, per_user.max(1) as u64),
            )
            .map_err(db_error)?;
        for old in &beyond {
            tx.exec_drop("DELETE FROM session_tokens WHERE token_hash = ?", (old,))
                .map_err(db_error)?;
        }
        tx.commit().map_err(db_error)
    }

    fn session_token(
        &mut self,
        token_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionToken>, StoreError> {
        let row: Option<(u64, String, i64, i64)> = self
            .conn
            .exec_first(
                "SELECT uid, device, created_ms, expires_ms FROM session_tokens
                 WHERE token_hash = ? AND expires_ms > ?",
                (&token_hash[..], now_ms),
            )
            .map_err(db_error)?;
        Ok(row.map(|(uid, device, created_ms, expires_ms)| SessionToken {
            token_hash: *token_hash,
            uid,
            device,
            created_ms,
            expires_ms,
        }))
    }

    fn revoke_session_token(&mut self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        self.conn
            .exec_drop("DELETE FROM session_tokens WHERE token_hash = ?", (&token_hash[..],))
            .map_err(db_error)?;
        Ok(self.conn.affected_rows() == 1)
    }

    fn friend_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn FriendRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.start_transaction(TxOpts::default()).map_err(db_error)?;
        let mut rows = MysqlFriendRows(tx);
        let outcome = rules(&mut rows)?; // dropping the transaction rolls it back
        rows.0.commit().map_err(db_error)?;
        Ok(outcome)
    }

    fn are_friends(&mut self, a: u64, b: u64) -> Result<bool, StoreError> {
        is_friend_in(&mut self.conn, a, b)
    }

    fn login_data(&mut self, uid: u64) -> Result<Option<LoginData>, StoreError> {
        let Some(user) = self.user_by_uid(uid)? else { return Ok(None) };
        let columns = USER_COLUMNS_OF_U;
        let friends = self
            .conn
            .exec_map(
                format!(
                    "SELECT {columns}, f.remark FROM friends f JOIN users u ON u.uid = f.friend_uid \
                     WHERE f.uid = ? ORDER BY u.uid"
                ),
                (uid,),
                |row: mysql::Row| -> Result<FriendRecord, StoreError> {
                    let (user, rest) = split_user(row)?;
                    Ok(FriendRecord { user, remark: take(&rest, 0)? })
                },
            )
            .map_err(db_error)?
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let applications = self
            .conn
            .exec_map(
                format!(
                    "SELECT {columns}, a.apply_text, a.status FROM friend_applies a JOIN users u ON u.uid = a.from_uid \
                     WHERE a.to_uid = ? AND a.status = 0 ORDER BY u.uid"
                ),
                (uid,),
                |row: mysql::Row| -> Result<ApplyRecord, StoreError> {
                    let (applicant, rest) = split_user(row)?;
                    Ok(ApplyRecord { applicant, apply_text: take(&rest, 0)?, status: take(&rest, 1)? })
                },
            )
            .map_err(db_error)?
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(LoginData { user, friends, applications }))
    }

    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError> {
        let mut tx = self.conn.start_transaction(TxOpts::default()).map_err(db_error)?;
        let thread_id = private_thread_in(&mut tx, a, b)?;
        tx.commit().map_err(db_error)?;
        Ok(thread_id)
    }

    fn thread(&mut self, thread_id: u64) -> Result<Option<ThreadRecord>, StoreError> {
        let row: Option<(u64, u64, u64)> = self
            .conn
            .exec_first(
                "SELECT thread_id, user1_id, user2_id FROM threads WHERE thread_id = ?",
                (thread_id,),
            )
            .map_err(db_error)?;
        Ok(row.map(|(thread_id, user1_id, user2_id)| ThreadRecord {
            thread_id,
            user1_id,
            user2_id,
        }))
    }

    fn threads_of(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ThreadRecord>, StoreError> {
        self.conn
            .exec_map(
                "(SELECT thread_id, user1_id, user2_id FROM threads WHERE user1_id = ? AND thread_id > ?)
                 UNION ALL
                 (SELECT thread_id, user1_id, user2_id FROM threads WHERE user2_id = ? AND user1_id <> 0 AND thread_id > ?)
                 ORDER BY thread_id LIMIT ?",
                (uid, after, uid, after, limit as u64),
                |(thread_id, user1_id, user2_id): (u64, u64, u64)| ThreadRecord { thread_id, user1_id, user2_id },
            )
            .map_err(db_error)
    }

    fn conversation_threads(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(ThreadRecord, Option<String>)>, StoreError> {
        self.conn
            .exec_map(
                "(SELECT thread_id, user1_id, user2_id, NULL FROM threads WHERE user1_id = ? AND thread_id > ?)
                 UNION ALL
                 (SELECT thread_id, user1_id, user2_id, NULL FROM threads WHERE user2_id = ? AND user1_id <> 0 AND thread_id > ?)
                 UNION ALL
                 (SELECT m.thread_id, 0, m.thread_id, g.name FROM group_members m
                  JOIN chat_groups g ON g.thread_id = m.thread_id
                  WHERE m.uid = ? AND m.left_seq = 0 AND m.thread_id > ?)
                 ORDER BY thread_id LIMIT ?",
                (uid, after, uid, after, uid, after, limit as u64),
                |(thread_id, user1_id, user2_id, name): (u64, u64, u64, Option<String>)| {
                    (ThreadRecord { thread_id, user1_id, user2_id }, name)
                },
            )
            .map_err(db_error)
    }

    fn group_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn GroupRows) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.start_transaction(message_tx()).map_err(db_error)?;
        let mut rows = super::mysql_groups::MysqlGroupRows(tx);
        rules(&mut rows)?; // dropping the transaction rolls it back
        rows.0.commit().map_err(db_error)
    }

    fn append_batch(&mut self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let chat_time = now_ms();
        let mut tx = self.conn.start_transaction(message_tx()).map_err(db_error)?;
        let pair_of = |m: &NewMessage| (m.sender.min(m.receiver), m.sender.max(m.receiver));
        let private = |m: &&NewMessage| m.group == 0;
        let mut unknown: Vec<(u64, u64)> = batch
            .iter()
            .filter(private)
            .map(pair_of)
            .filter(|pair| self.threads.get(pair).is_none())
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        let found = if unknown.is_empty() {
            HashMap::new()
        } else {
            private_threads_in(&mut tx, &unknown)?
        };
        let thread_ids: Vec<u64> = batch
            .iter()
            .map(|m| {
                if m.group != 0 {
                    return m.group;
                }
                let pair = pair_of(m);
                self.threads.get(&pair).unwrap_or_else(|| found[&pair])
            })
            .collect();
        let mut last_seqs = lock_conversations(&mut tx, &thread_ids)?;
        let groups: Vec<u64> = batch.iter().filter(|m| m.group != 0).map(|m| m.group).collect();
        let members = if groups.is_empty() {
            HashMap::new()
        } else {
            super::mysql_groups::members_of(&mut tx, &mut self.members, &groups)?
        };
        let accepted: Vec<usize> =
            (0..batch.len()).filter(|&i| groups::sender_is_member(&members, &batch[i])).collect();
        let stored = if accepted.len() == batch.len() {
            let insert = MessageInsert { messages: batch, thread_ids: &thread_ids, chat_time };
            insert.run(&mut tx, self.consecutive_ids, &mut last_seqs)?
        } else if accepted.is_empty() {
            Vec::new()
        } else {
            let messages: Vec<NewMessage> = accepted.iter().map(|&i| batch[i].clone()).collect();
            let ids: Vec<u64> = accepted.iter().map(|&i| thread_ids[i]).collect();
            let insert = MessageInsert { messages: &messages, thread_ids: &ids, chat_time };
            insert.run(&mut tx, self.consecutive_ids, &mut last_seqs)?
        };
        if !last_seqs.is_empty() {
            record_last_seqs(&mut tx, &last_seqs)?;
        }
        tx.commit().map_err(db_error)?;
        self.threads.remember(&found);
        Ok(groups::appended(batch, &accepted, stored, &members))
    }

    fn thread_messages(
        &mut self,
        thread_id: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let before = if before == 0 { u64::MAX } else { before };
        self.conn
            .exec_map(
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m \
                     WHERE m.thread_id = ? AND m.message_id < ? ORDER BY m.seq DESC LIMIT ?"
                ),
                (thread_id, before, limit as u64),
                message_from_row,
            )
            .map_err(db_error)
    }

    fn receiver_watermark(&mut self, uid: u64, thread_id: u64) -> Result<u64, StoreError> {
        watermark_in(&mut self.conn, uid, thread_id)
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
            .exec_map(
                "SELECT t.thread_id, COALESCE(w.seq, t.start), t.until FROM
                   ((SELECT thread_id, last_seq, 0 AS start, last_seq AS until FROM threads
                     WHERE user1_id = ? AND thread_id >= ?)
                    UNION ALL
                    (SELECT thread_id, last_seq, 0, last_seq FROM threads WHERE user2_id = ? AND user1_id <> 0 AND thread_id >= ?)
                    UNION ALL
                    (SELECT g.thread_id, g.last_seq, m.joined_seq - 1,
                            IF(m.left_seq = 0, g.last_seq, LEAST(g.last_seq, m.left_seq))
                     FROM group_members m JOIN threads g ON g.thread_id = m.thread_id
                     WHERE m.uid = ? AND m.thread_id >= ?)) AS t
                 LEFT JOIN watermarks w ON w.uid = ? AND w.device = ? AND w.thread_id = t.thread_id
                 WHERE t.until > COALESCE(w.seq, t.start)
                   AND (? <> '' OR EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.thread_id
                                            AND m.seq > COALESCE(w.seq, t.start) AND m.seq <= t.until
                                            AND m.sender <> ?))
                 ORDER BY t.thread_id LIMIT ?",
                (
                    uid,
                    from_thread,
                    uid,
                    from_thread,
                    uid,
                    from_thread,
                    uid,
                    device,
                    device,
                    uid,
                    limit as u64,
                ),
                |(thread_id, watermark, until): (u64, u64, u64)| Behind { thread_id, watermark, until },
            )
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
        self.conn
            .exec_map(
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m \
                     WHERE m.thread_id = ? AND m.seq > ? AND m.seq <= ? AND m.sender <> ? ORDER BY m.seq LIMIT ?"
                ),
                (thread_id, after, until, skip_sender, limit as u64),
                message_from_row,
            )
            .map_err(db_error)
    }

    fn mark_read(
        &mut self,
        uid: u64,
        thread_id: u64,
        seq: u64,
    ) -> Result<Option<ReadMark>, StoreError> {
        let thread: Option<(u64, u64, u64)> = self
            .conn
            .exec_first(
                "SELECT user1_id, user2_id, last_seq FROM threads WHERE thread_id = ?",
                (thread_id,),
            )
            .map_err(db_error)?;
        let Some((user1_id, user2_id, last_seq)) = thread else { return Ok(None) };
        let thread = ThreadRecord { thread_id, user1_id, user2_id };
        let mut until = last_seq;
        if thread.is_group() {
            let left: Option<u64> = self
                .conn
                .exec_first(
                    "SELECT left_seq FROM group_members WHERE thread_id = ? AND uid = ?",
                    (thread_id, uid),
                )
                .map_err(db_error)?;
            match left {
                None => return Ok(None),
                Some(0) => {}
                Some(left_seq) => until = until.min(left_seq),
            }
        } else if !thread.has_member(uid) {
            return Ok(None);
        }
        let seq = seq.min(until);
        if seq == 0 {
            return Ok(None);
        }
        // 1 row affected: inserted; 2: raised; 0: it was there already.
        self.conn
            .exec_drop(
                "INSERT INTO read_marks (uid, thread_id, seq) VALUES (?, ?, ?)
                 ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))",
                (uid, thread_id, seq),
            )
            .map_err(db_error)?;
        let raised = self.conn.affected_rows() > 0;
        let peer = if thread.is_group() { 0 } else { thread.other_member(uid) };
        Ok(raised.then_some(ReadMark { thread_id, reader: uid, peer, seq }))
    }

    fn conversation_rows(
        &mut self,
        uid: u64,
        device: &str,
        threads: &[u64],
    ) -> Result<ConversationRows, StoreError> {
        let list = value_list(threads.len());
        let with = |first: Vec<Value>| -> Vec<Value> {
            first.into_iter().chain(threads.iter().map(|&t| Value::from(t))).collect()
        };
        let watermarks: Vec<(u64, u64)> = self
            .conn
            .exec(
                format!(
                    "SELECT thread_id, seq FROM watermarks \
                     WHERE uid = ? AND device = ? AND thread_id IN ({list})"
                ),
                with(vec![uid.into(), device.into()]),
            )
            .map_err(db_error)?;
        let unread: Vec<(u64, u64)> = self
            .conn
            .exec(
                format!(
                    // A group's member counts from its joining (not the history before).
                    "SELECT m.thread_id, COUNT(*) FROM messages m \
                     LEFT JOIN read_marks r ON r.uid = ? AND r.thread_id = m.thread_id \
                     LEFT JOIN group_members g ON g.uid = ? AND g.thread_id = m.thread_id \
                     WHERE m.sender <> ? AND m.kind = 0 \
                       AND m.seq > GREATEST(COALESCE(r.seq, 0), COALESCE(g.joined_seq, 0)) \
                       AND m.thread_id IN ({list}) GROUP BY m.thread_id"
                ),
                with(vec![uid.into(), uid.into(), uid.into()]),
            )
            .map_err(db_error)?;
        let read_marks: Vec<(u64, u64, u64)> = self
            .conn
            .exec(
                // The user's marks, and the other member's of a private thread
                // (a group's members ask 1140 instead of reading 500 marks).
                format!(
                    "SELECT r.uid, r.thread_id, r.seq FROM read_marks r \
                     JOIN threads t ON t.thread_id = r.thread_id \
                     WHERE r.thread_id IN ({list}) AND (r.uid = ? OR r.uid = t.user1_id OR r.uid = t.user2_id)"
                ),
                with(Vec::new()).into_iter().chain([Value::from(uid)]).collect::<Vec<Value>>(),
            )
            .map_err(db_error)?;
        let last_messages = self
            .conn
            .exec_map(
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM threads t \
                     JOIN messages m ON m.thread_id = t.thread_id AND m.seq = t.last_seq \
                     WHERE t.thread_id IN ({list})"
                ),
                with(Vec::new()),
                message_from_row,
            )
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
        let before = if before == 0 { u64::MAX } else { before };
        let order = if newest { "DESC" } else { "ASC" };
        self.conn
            .exec_map(
                format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m \
                     WHERE m.thread_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq {order} LIMIT ?"
                ),
                (thread_id, after, before, limit as u64),
                message_from_row,
            )
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
        let mut tx = self.conn.start_transaction(TxOpts::default()).map_err(db_error)?;
        // Rows affected: 1 inserted (new), 2 updated, 0 the same values.
        tx.exec_drop(
            "INSERT INTO devices (uid, device, kind, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE last_seen = VALUES(last_seen), kind = VALUES(kind)",
            (uid, device, kind, now, now),
        )
        .map_err(db_error)?;
        let new = tx.affected_rows() == 1;
        if new {
            // A message committing meanwhile is either at or below the
            // last_seq read here (history to this device) or above it
            // (pushed to it): nothing falls in between.
            tx.exec_drop(
                "INSERT IGNORE INTO watermarks (uid, device, thread_id, seq)
                 SELECT ?, ?, thread_id, last_seq FROM threads
                 WHERE (user1_id = ? OR (user2_id = ? AND user1_id <> 0)) AND last_seq > 0",
                (uid, device, uid, uid),
            )
            .map_err(db_error)?;
            tx.exec_drop(
                "INSERT IGNORE INTO watermarks (uid, device, thread_id, seq)
                 SELECT ?, ?, t.thread_id, t.last_seq FROM group_members m
                 JOIN threads t ON t.thread_id = m.thread_id WHERE m.uid = ? AND m.left_seq = 0",
                (uid, device, uid),
            )
            .map_err(db_error)?;
            let forgotten: Vec<String> = tx
                .exec(
                    "SELECT device FROM devices WHERE uid = ?
                     ORDER BY last_seen DESC, device LIMIT 18446744073709551615 OFFSET ?",
                    (uid, max_devices.max(1) as u64),
                )
                .map_err(db_error)?;
            for old in &forgotten {
                for table in ["devices", "watermarks"] {
                    tx.exec_drop(
                        format!("DELETE FROM {table} WHERE uid = ? AND device = ?"),
                        (uid, old),
                    )
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
        let tx = self.conn.start_transaction(message_tx()).map_err(db_error)?;
        let mut rows = MysqlWatermarkRows(tx);
        let outcome = rules(&mut rows)?; // dropping the transaction rolls it back
        rows.0.commit().map_err(db_error)?;
        Ok(outcome)
    }
}

/// The transactions that store messages and acknowledgements. Under READ
/// COMMITTED InnoDB locks only the rows they touch, not the gaps between
/// them (with REPEATABLE READ the writer's and the ack writer's next-key
/// locks on neighbouring keys deadlocked each other under load: 1213, seen
/// at 30,000 msg/s in the `pending` schema). What must not change while a
/// batch is numbered, a conversation's last seq, is locked explicitly.
fn message_tx() -> TxOpts {
    TxOpts::default().set_isolation_level(Some(IsolationLevel::ReadCommitted))
}

/// Locks the conversations a batch writes and reads their last seqs. The
/// rows are locked in id order, so two writers (two chat servers) that
/// share conversations wait for each other instead of deadlocking, and a
/// conversation is numbered by one transaction at a time: commit order is
/// seq order, and no reader ever sees seq N+1 committed before N.
fn lock_conversations(
    tx: &mut mysql::Transaction<'_>,
    thread_ids: &[u64],
) -> Result<HashMap<u64, u64>, StoreError> {
    let mut ids = thread_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let values: Vec<Value> = ids.iter().map(|&id| id.into()).collect();
    let locked: Vec<(u64, u64)> = tx
        .exec(
            format!(
                "SELECT thread_id, last_seq FROM threads WHERE thread_id IN ({}) ORDER BY thread_id FOR UPDATE",
                value_list(ids.len())
            ),
            Params::Positional(values),
        )
        .map_err(db_error)?;
    // A private thread found or made in this transaction is there; a group
    // a client named that does not exist is not, and its messages are
    // refused (`groups::sender_is_member`), not the batch.
    Ok(locked.into_iter().collect())
}

/// Writes back the last seqs of the conversations a batch numbered: one
/// statement.
fn record_last_seqs(
    tx: &mut mysql::Transaction<'_>,
    last_seqs: &HashMap<u64, u64>,
) -> Result<(), StoreError> {
    let mut values: Vec<Value> = Vec::with_capacity(last_seqs.len() * 3);
    for (&thread_id, &seq) in last_seqs {
        values.extend([thread_id.into(), seq.into()]);
    }
    values.extend(last_seqs.keys().map(|&id| Value::from(id)));
    let cases = vec!["WHEN ? THEN ?"; last_seqs.len()].join(" ");
    let ids = value_list(last_seqs.len());
    tx.exec_drop(
        format!(
            "UPDATE threads SET last_seq = CASE thread_id {cases} END WHERE thread_id IN ({ids})"
        ),
        Params::Positional(values),
    )
    .map_err(db_error)
}

/// The highest watermark of `uid`'s devices in a conversation (0 if none).
fn watermark_in(conn: &mut impl Queryable, uid: u64, thread_id: u64) -> Result<u64, StoreError> {
    let mark: Option<Option<u64>> = conn
        .exec_first(
            "SELECT MAX(seq) FROM watermarks WHERE uid = ? AND thread_id = ?",
            (uid, thread_id),
        )
        .map_err(db_error)?;
    Ok(mark.flatten().unwrap_or(0))
}

/// A batch of messages stored by one multi-row insert, numbered inside
/// the conversations the caller has locked.
struct MessageInsert<'a> {
    messages: &'a [NewMessage],
    thread_ids: &'a [u64],
    chat_time: i64,
}

/// What one multi-row insert did.
struct Inserted {
    rows: u64,
    /// The id of its first new row.
    first_id: Option<u64>,
}

impl MessageInsert<'_> {
    /// Stores the batch and returns it stored, in order; `last_seqs` (the
    /// locked conversations' last seqs) moves over what was new. A resend
    /// (its (sender, unique_id) stored already) is not stored again and
    /// takes no seq: the first attempt assumes none (the common case, one
    /// statement); if there was one, it is undone to a savepoint and only
    /// the new messages are stored, numbered without a hole.
    fn run(
        &self,
        tx: &mut mysql::Transaction<'_>,
        consecutive_ids: bool,
        last_seqs: &mut HashMap<u64, u64>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        tx.query_drop("SAVEPOINT numbered").map_err(db_error)?;
        let all: Vec<usize> = (0..self.messages.len()).collect();
        let mut trial = last_seqs.clone();
        let seqs = self.number(&all, &mut trial);
        let inserted = self.insert(tx, &all, &seqs)?;
        if inserted.rows == all.len() as u64 {
            *last_seqs = trial;
            return self.new_rows(tx, &all, &seqs, inserted.first_id, consecutive_ids);
        }
        tx.query_drop("ROLLBACK TO SAVEPOINT numbered").map_err(db_error)?;
        let existing = self.stored_before(tx)?;
        let mut seen: HashSet<(u64, &str)> = HashSet::new();
        let fresh: Vec<usize> = all
            .into_iter()
            .filter(|&i| {
                let key = (self.messages[i].sender, self.messages[i].unique_id.as_str());
                !existing.contains_key(&key) && seen.insert(key)
            })
            .collect();
        let mut stored: HashMap<(u64, &str), StoredMessage> = existing;
        if !fresh.is_empty() {
            let seqs = self.number(&fresh, last_seqs);
            let inserted = self.insert(tx, &fresh, &seqs)?;
            if inserted.rows != fresh.len() as u64 {
                return Err(StoreError::Conflict("a unique_id was stored meanwhile".into()));
            }
            let rows = self.new_rows(tx, &fresh, &seqs, inserted.first_id, consecutive_ids)?;
            for (&i, m) in fresh.iter().zip(rows) {
                let n = &self.messages[i];
                stored.insert((n.sender, n.unique_id.as_str()), m);
            }
        }
        self.messages
            .iter()
            .map(|m| {
                stored.get(&(m.sender, m.unique_id.as_str())).cloned().ok_or_else(|| {
                    StoreError::Database("a stored message could not be read back".into())
                })
            })
            .collect()
    }

    /// The next seqs of the messages at `indexes`, in order.
    fn number(&self, indexes: &[usize], last_seqs: &mut HashMap<u64, u64>) -> Vec<u64> {
        indexes
            .iter()
            .map(|&i| {
                let last = last_seqs.entry(self.thread_ids[i]).or_insert(0);
                *last += 1;
                *last
            })
            .collect()
    }

    /// One multi-row insert of the messages at `indexes` with `seqs`
    /// (a row whose (sender, unique_id) exists is skipped).
    fn insert(
        &self,
        tx: &mut mysql::Transaction<'_>,
        indexes: &[usize],
        seqs: &[u64],
    ) -> Result<Inserted, StoreError> {
        let mut values: Vec<Value> = Vec::with_capacity(indexes.len() * 7);
        for (&i, &seq) in indexes.iter().zip(seqs) {
            let m = &self.messages[i];
            values.extend([
                self.thread_ids[i].into(),
                seq.into(),
                m.sender.into(),
                m.receiver.into(),
                m.unique_id.as_str().into(),
                m.content.as_str().into(),
                self.chat_time.into(),
            ]);
        }
        tx.exec_drop(
            format!(
                "INSERT INTO messages (thread_id, seq, sender, receiver, unique_id, content, chat_time) VALUES {}
                 ON DUPLICATE KEY UPDATE message_id = message_id",
                placeholders(indexes.len(), 7)
            ),
            Params::Positional(values),
        )
        .map_err(db_error)?;
        // A duplicate counts 0 affected rows.
        Ok(Inserted { rows: tx.affected_rows(), first_id: tx.last_insert_id() })
    }

    /// The messages at `indexes`, all just inserted with `seqs`: their ids
    /// follow from the first when the server hands them out consecutively,
    /// else they are read back by key.
    fn new_rows(
        &self,
        tx: &mut mysql::Transaction<'_>,
        indexes: &[usize],
        seqs: &[u64],
        first_id: Option<u64>,
        consecutive_ids: bool,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        if let (true, Some(first)) = (consecutive_ids, first_id) {
            let rows = indexes.iter().zip(seqs).enumerate().map(|(n, (&i, &seq))| {
                let m = &self.messages[i];
                StoredMessage {
                    message_id: first + n as u64,
                    thread_id: self.thread_ids[i],
                    seq,
                    sender: m.sender,
                    receiver: m.receiver,
                    unique_id: m.unique_id.clone(),
                    content: m.content.clone(),
                    kind: TEXT,
                    chat_time: self.chat_time,
                    delivered: false,
                    resent: false,
                }
            });
            return Ok(rows.collect());
        }
        let keys: Vec<&NewMessage> = indexes.iter().map(|&i| &self.messages[i]).collect();
        let found = read_by_key(tx, &keys)?;
        let mut by_key: HashMap<(u64, String), StoredMessage> =
            found.into_iter().map(|m| ((m.sender, m.unique_id.clone()), m)).collect();
        keys.iter()
            .map(|m| {
                by_key.remove(&(m.sender, m.unique_id.clone())).ok_or_else(|| {
                    StoreError::Database("a stored message could not be read back".into())
                })
            })
            .collect()
    }

    /// The messages of the batch that were stored before it, by key, each
    /// marked delivered if its receiver has it.
    fn stored_before<'m>(
        &'m self,
        tx: &mut mysql::Transaction<'_>,
    ) -> Result<HashMap<(u64, &'m str), StoredMessage>, StoreError> {
        let keys: Vec<&NewMessage> = self.messages.iter().collect();
        let mut found = read_by_key(tx, &keys)?;
        for m in found.iter_mut() {
            m.delivered = m.seq <= watermark_in(tx, m.receiver, m.thread_id)?;
            m.resent = true;
        }
        let names: HashMap<(u64, &str), &'m str> = self
            .messages
            .iter()
            .map(|n| ((n.sender, n.unique_id.as_str()), n.unique_id.as_str()))
            .collect();
        let mut by_key = HashMap::new();
        for m in found {
            if let Some(&unique_id) = names.get(&(m.sender, m.unique_id.as_str())) {
                by_key.insert((m.sender, unique_id), m);
            }
        }
        Ok(by_key)
    }
}

/// The stored messages with these (sender, unique_id) keys: a
/// row-constructor IN list is a set of point lookups on the unique index.
fn read_by_key(
    tx: &mut mysql::Transaction<'_>,
    keys: &[&NewMessage],
) -> Result<Vec<StoredMessage>, StoreError> {
    let values: Vec<Value> =
        keys.iter().flat_map(|m| [m.sender.into(), m.unique_id.as_str().into()]).collect();
    tx.exec_map(
        format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE (m.sender, m.unique_id) IN ({})",
            placeholders(keys.len(), 2)
        ),
        Params::Positional(values),
        message_from_row,
    )
    .map_err(db_error)
}

/// The threads of many pairs (`(low, high)` uids, distinct) inside `tx`,
/// created where absent: one lookup, and one insert plus one lookup for the
/// new ones, however many pairs a batch holds (not two round trips per pair).
fn private_threads_in(
    tx: &mut mysql::Transaction<'_>,
    pairs: &[(u64, u64)],
) -> Result<HashMap<(u64, u64), u64>, StoreError> {
    let lookup = |tx: &mut mysql::Transaction<'_>, pairs: &[(u64, u64)]| {
        let values = pair_values(pairs);
        tx.exec_map(
            format!(
                "SELECT user1_id, user2_id, thread_id FROM threads WHERE (user1_id, user2_id) IN ({})",
                placeholders(pairs.len(), 2)
            ),
            Params::Positional(values),
            |(a, b, id): (u64, u64, u64)| ((a, b), id),
        )
        .map_err(db_error)
    };
    let mut threads: HashMap<(u64, u64), u64> = lookup(tx, pairs)?.into_iter().collect();
    let missing: Vec<(u64, u64)> =
        pairs.iter().copied().filter(|pair| !threads.contains_key(pair)).collect();
    if !missing.is_empty() {
        let values = pair_values(&missing);
        tx.exec_drop(
            format!(
                "INSERT IGNORE INTO threads (user1_id, user2_id) VALUES {}",
                placeholders(missing.len(), 2)
            ),
            Params::Positional(values),
        )
        .map_err(db_error)?;
        threads.extend(lookup(tx, &missing)?);
    }
    if threads.len() != pairs.len() {
        return Err(StoreError::Database("a thread vanished".into()));
    }
    Ok(threads)
}

/// The thread of two users inside `tx`, created if absent.
/// True if `uid` has `friend` in its friend list (in or out of a transaction).
pub(super) fn is_friend_in(
    conn: &mut impl Queryable,
    uid: u64,
    friend: u64,
) -> Result<bool, StoreError> {
    let found: Option<u8> = conn
        .exec_first("SELECT 1 FROM friends WHERE uid = ? AND friend_uid = ?", (uid, friend))
        .map_err(db_error)?;
    Ok(found.is_some())
}

fn private_thread_in(tx: &mut mysql::Transaction<'_>, a: u64, b: u64) -> Result<u64, StoreError> {
    let (low, high) = (a.min(b), a.max(b));
    tx.exec_drop("INSERT IGNORE INTO threads (user1_id, user2_id) VALUES (?, ?)", (low, high))
        .map_err(db_error)?;
    let id: Option<u64> = tx
        .exec_first(
            "SELECT thread_id FROM threads WHERE user1_id = ? AND user2_id = ?",
            (low, high),
        )
        .map_err(db_error)?;
    id.ok_or_else(|| StoreError::Database("thread vanished".into()))
}

fn user_from_row((uid, name, email, password_hash, nick, desc, sex, icon): UserRow) -> UserRecord {
    UserRecord { uid, name, email, password_hash, nick, desc, sex, icon }
}

/// The first eight columns as a user; the rest are returned for the caller.
fn split_user(row: mysql::Row) -> Result<(UserRecord, Vec<Value>), StoreError> {
    let mut values = row.unwrap();
    let rest = values.split_off(8.min(values.len()));
    let user = UserRecord {
        uid: take(&values, 0)?,
        name: take(&values, 1)?,
        email: take(&values, 2)?,
        password_hash: take(&values, 3)?,
        nick: take(&values, 4)?,
        desc: take(&values, 5)?,
        sex: take(&values, 6)?,
        icon: take(&values, 7)?,
    };
    Ok((user, rest))
}

fn take<T: mysql::prelude::FromValue>(values: &[Value], index: usize) -> Result<T, StoreError> {
    let value = values.get(index).cloned().unwrap_or(Value::NULL);
    mysql::from_value_opt(value).map_err(|e| StoreError::Database(format!("unexpected value: {e}")))
}

fn message_from_row(row: MessageRow) -> StoredMessage {
    let (message_id, thread_id, seq, sender, receiver, unique_id, content, kind, chat_time) = row;
    StoredMessage {
        message_id,
        thread_id,
        seq,
        sender,
        receiver,
        unique_id,
        content,
        kind,
        chat_time,
        delivered: false,
        resent: false,
    }
}

/// MySQL error codes that mean the connection is gone.
const CONNECTION_GONE: [u16; 5] = [1053, 1927, 2006, 2013, 2055];
const DUPLICATE_KEY: u16 = 1062;

pub(super) fn db_error(e: mysql::Error) -> StoreError {
    match &e {
        mysql::Error::MySqlError(server) if server.code == DUPLICATE_KEY => {
            StoreError::Conflict(server.message.clone())
        }
        mysql::Error::MySqlError(server) if CONNECTION_GONE.contains(&server.code) => {
            StoreError::ConnectionLost(e.to_string())
        }
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) => {
            StoreError::ConnectionLost(e.to_string())
        }
        mysql::Error::DriverError(
            mysql::DriverError::PacketOutOfSync | mysql::DriverError::UnexpectedPacket,
        ) => StoreError::ConnectionLost(e.to_string()),
        _ => StoreError::Database(e.to_string()),
    }
}

/// Friendship rows inside a transaction; reads of the application lock its
/// row (`FOR UPDATE`), so two acceptances of one application serialize.
struct MysqlFriendRows<'c>(mysql::Transaction<'c>);

impl FriendRows for MysqlFriendRows<'_> {
    fn is_friend(&mut self, uid: u64, friend: u64) -> Result<bool, StoreError> {
        is_friend_in(&mut self.0, uid, friend)
    }

    fn pending_application(&mut self, from: u64, to: u64) -> Result<Option<String>, StoreError> {
        self.0
            .exec_first(
                "SELECT remark FROM friend_applies WHERE from_uid = ? AND to_uid = ? AND status = 0 FOR UPDATE",
                (from, to),
            )
            .map_err(db_error)
    }

    fn put_application(&mut self, a: &Application<'_>) -> Result<(), StoreError> {
        self.0
            .exec_drop(
                "INSERT INTO friend_applies (from_uid, to_uid, apply_text, remark, status) VALUES (?, ?, ?, ?, 0)
                 ON DUPLICATE KEY UPDATE apply_text = VALUES(apply_text), remark = VALUES(remark), status = 0",
                (a.from, a.to, a.apply_text, a.remark),
            )
            .map_err(db_error)
    }

    fn accept_application(&mut self, from: u64, to: u64) -> Result<(), StoreError> {
        self.0
            .exec_drop(
                "UPDATE friend_applies SET status = 1 WHERE from_uid = ? AND to_uid = ?",
                (from, to),
            )
            .map_err(db_error)
    }

    fn decline_application(&mut self, from: u64, to: u64) -> Result<(), StoreError> {
        self.0
            .exec_drop(
                "UPDATE friend_applies SET status = 2 WHERE from_uid = ? AND to_uid = ?",
                (from, to),
            )
            .map_err(db_error)
    }

    fn put_friend(&mut self, uid: u64, friend: u64, remark: &str) -> Result<(), StoreError> {
        self.0
            .exec_drop(
                "INSERT INTO friends (uid, friend_uid, remark) VALUES (?, ?, ?)
                 ON DUPLICATE KEY UPDATE remark = VALUES(remark)",
                (uid, friend, remark),
            )
            .map_err(db_error)
    }

    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError> {
        private_thread_in(&mut self.0, a, b)
    }
}

/// Rows in one statement over many keys (an IN list, a multi-row insert).
const ROWS_PER_STATEMENT: usize = 1000;

/// Watermark rows inside a transaction: each method is one statement per
/// [`ROWS_PER_STATEMENT`] keys (row-constructor IN lists are point lookups
/// on the primary or a unique key), so a batch costs a fixed number of
/// round trips however many conversations it names.
struct MysqlWatermarkRows<'c>(mysql::Transaction<'c>);

impl MysqlWatermarkRows<'_> {
    /// Runs `sql(placeholders)` over `keys` in chunks, collecting the rows.
    fn select_over<K, T: mysql::prelude::FromRow>(
        &mut self,
        keys: &[K],
        columns: usize,
        values: impl Fn(&K) -> Vec<Value>,
        sql: impl Fn(&str) -> String,
    ) -> Result<Vec<T>, StoreError> {
        let mut rows = Vec::new();
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let params: Vec<Value> = chunk.iter().flat_map(&values).collect();
            let list = if columns == 1 {
                value_list(chunk.len())
            } else {
                placeholders(chunk.len(), columns)
            };
            rows.extend(
                self.0.exec::<T, _, _>(sql(&list), Params::Positional(params)).map_err(db_error)?,
            );
        }
        Ok(rows)
    }
}

impl WatermarkRows for MysqlWatermarkRows<'_> {
    fn message_keys(&mut self, ids: &[u64]) -> Result<Vec<MessageKey>, StoreError> {
        let rows: Vec<(u64, u64, u64, u64, u64)> = self.select_over(
            ids,
            1,
            |&id| vec![id.into()],
            |list| {
                format!(
                    "SELECT message_id, thread_id, seq, sender, receiver FROM messages WHERE message_id IN ({list})"
                )
            },
        )?;
        Ok(rows
            .into_iter()
            .map(|(message_id, thread_id, seq, sender, receiver)| MessageKey {
                message_id,
                thread_id,
                seq,
                sender,
                receiver,
            })
            .collect())
    }

    fn conversations(&mut self, ids: &[u64]) -> Result<Vec<(ThreadRecord, u64)>, StoreError> {
        let rows: Vec<(u64, u64, u64, u64)> = self.select_over(
            ids,
            1,
            |&id| vec![id.into()],
            |list| {
                format!(
                    "SELECT thread_id, user1_id, user2_id, last_seq FROM threads WHERE thread_id IN ({list})"
                )
            },
        )?;
        Ok(rows
            .into_iter()
            .map(|(thread_id, user1_id, user2_id, last_seq)| {
                (ThreadRecord { thread_id, user1_id, user2_id }, last_seq)
            })
            .collect())
    }

    fn watermarks(
        &mut self,
        keys: &[WatermarkKey],
    ) -> Result<Vec<(WatermarkKey, u64)>, StoreError> {
        let rows: Vec<(u64, String, u64, u64)> = self.select_over(
            keys,
            3,
            |k| vec![k.uid.into(), k.device.as_str().into(), k.thread_id.into()],
            |list| {
                format!(
                    "SELECT uid, device, thread_id, seq FROM watermarks WHERE (uid, device, thread_id) IN ({list})"
                )
            },
        )?;
        Ok(rows
            .into_iter()
            .map(|(uid, device, thread_id, seq)| (WatermarkKey { uid, device, thread_id }, seq))
            .collect())
    }

    fn memberships(&mut self, keys: &[MemberKey]) -> Result<Vec<(MemberKey, u64)>, StoreError> {
        let rows: Vec<(u64, u64, u64)> = self.select_over(
            keys,
            2,
            |&(thread_id, uid)| vec![thread_id.into(), uid.into()],
            |list| {
                format!(
                    "SELECT thread_id, uid, left_seq FROM group_members WHERE (thread_id, uid) IN ({list})"
                )
            },
        )?;
        Ok(rows
            .into_iter()
            .map(|(thread, uid, left)| ((thread, uid), MemberRecord::readable_until(left)))
            .collect())
    }

    fn senders(&mut self, points: &[SeqPoint]) -> Result<Vec<(SeqPoint, u64)>, StoreError> {
        let rows: Vec<(u64, u64, u64)> = self.select_over(
            points,
            2,
            |&(thread_id, seq)| vec![thread_id.into(), seq.into()],
            |list| format!("SELECT thread_id, seq, sender FROM messages WHERE (thread_id, seq) IN ({list})"),
        )?;
        Ok(rows.into_iter().map(|(thread_id, seq, sender)| ((thread_id, seq), sender)).collect())
    }

    fn raise(&mut self, marks: &[(WatermarkKey, u64)]) -> Result<u64, StoreError> {
        for chunk in marks.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<Value> = chunk
                .iter()
                .flat_map(|(k, seq)| {
                    [k.uid.into(), k.device.as_str().into(), k.thread_id.into(), (*seq).into()]
                })
                .collect();
            self.0
                .exec_drop(
                    format!(
                        "INSERT INTO watermarks (uid, device, thread_id, seq) VALUES {}
                         ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))",
                        placeholders(chunk.len(), 4)
                    ),
                    Params::Positional(values),
                )
                .map_err(db_error)?;
        }
        // Each was above the watermark read in this transaction.
        Ok(marks.len() as u64)
    }
}
