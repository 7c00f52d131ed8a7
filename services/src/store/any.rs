//! The backend a daemon's `[store]` table names, as one type.
//!
//! The pool and the message writer are generic over [`Backend`], which is
//! what the tests and benchmarks use to run one backend at a time. A daemon
//! picks its backend at start-up from configuration, so it needs one type
//! for both: [`AnyBackend`] and its connection [`AnyConn`] forward every call
//! to the backend chosen. The cost is one `match` per store operation.

use super::api::StoreConn;
use super::config::{BackendKind, StoreConfig};
use super::friends::FriendRows;
use super::groups::GroupRows;
use super::model::*;
use super::mysql::{MysqlBackend, MysqlConn};
use super::pool::{Backend, StoreError};
use super::sqlite::{SqliteBackend, SqliteConn};
use super::watermarks::WatermarkRows;

/// The embedded or the MySQL backend.
#[derive(Clone)]
pub enum AnyBackend {
    Embedded(SqliteBackend),
    Mysql(MysqlBackend),
}

impl AnyBackend {
    /// The backend `config` names. For the embedded one, creates the data
    /// directory. Connects to nothing yet: the pool's workers do that.
    pub fn from_config(config: &StoreConfig) -> Result<AnyBackend, String> {
        config.validate()?;
        match config.backend {
            BackendKind::Embedded => {
                std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                    format!("store.data_dir: cannot create {}: {e}", config.data_dir.display())
                })?;
                Ok(AnyBackend::Embedded(SqliteBackend::new(config.sqlite_path())))
            }
            BackendKind::Mysql => MysqlBackend::new(&config.mysql_url_with_password())
                .map(AnyBackend::Mysql)
                .map_err(|e| format!("store.mysql_url: {e}")),
        }
    }

    /// "embedded" or "mysql", for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyBackend::Embedded(_) => "embedded",
            AnyBackend::Mysql(_) => "mysql",
        }
    }
}

/// A connection of either backend.
pub enum AnyConn {
    Embedded(SqliteConn),
    Mysql(MysqlConn),
}

impl Backend for AnyBackend {
    type Conn = AnyConn;

    fn connect(&self) -> Result<AnyConn, StoreError> {
        match self {
            AnyBackend::Embedded(b) => b.connect().map(AnyConn::Embedded),
            AnyBackend::Mysql(b) => b.connect().map(AnyConn::Mysql),
        }
    }

    fn ping(&self, conn: &mut AnyConn) -> bool {
        match (self, conn) {
            (AnyBackend::Embedded(b), AnyConn::Embedded(c)) => b.ping(c),
            (AnyBackend::Mysql(b), AnyConn::Mysql(c)) => b.ping(c),
            _ => false, // a connection of the other backend cannot come from this one
        }
    }
}

/// Forwards one call to whichever connection this is.
macro_rules! forward {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            AnyConn::Embedded(c) => c.$method($($arg),*),
            AnyConn::Mysql(c) => c.$method($($arg),*),
        }
    };
}

impl StoreConn for AnyConn {
    fn create_user(&mut self, user: &NewUser) -> Result<u64, StoreError> {
        forward!(self.create_user(user))
    }
    fn user_by_uid(&mut self, uid: u64) -> Result<Option<UserRecord>, StoreError> {
        forward!(self.user_by_uid(uid))
    }
    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        forward!(self.user_by_name(name))
    }
    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        forward!(self.user_by_email(email))
    }
    fn update_password_hash(&mut self, uid: u64, hash: &str) -> Result<bool, StoreError> {
        forward!(self.update_password_hash(uid, hash))
    }
    fn store_session_token(
        &mut self,
        token: &SessionToken,
        per_user: usize,
    ) -> Result<(), StoreError> {
        forward!(self.store_session_token(token, per_user))
    }
    fn session_token(
        &mut self,
        token_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionToken>, StoreError> {
        forward!(self.session_token(token_hash, now_ms))
    }
    fn revoke_session_token(&mut self, token_hash: &[u8; 32]) -> Result<bool, StoreError> {
        forward!(self.revoke_session_token(token_hash))
    }
    fn friend_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn FriendRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        forward!(self.friend_transaction(rules))
    }
    fn are_friends(&mut self, a: u64, b: u64) -> Result<bool, StoreError> {
        forward!(self.are_friends(a, b))
    }
    fn create_users(&mut self, users: &[NewUser]) -> Result<Vec<u64>, StoreError> {
        forward!(self.create_users(users))
    }
    fn befriend_pairs(&mut self, pairs: &[(u64, u64)]) -> Result<(), StoreError> {
        forward!(self.befriend_pairs(pairs))
    }
    fn login_data(&mut self, uid: u64) -> Result<Option<LoginData>, StoreError> {
        forward!(self.login_data(uid))
    }
    fn private_thread(&mut self, a: u64, b: u64) -> Result<u64, StoreError> {
        forward!(self.private_thread(a, b))
    }
    fn thread(&mut self, thread_id: u64) -> Result<Option<ThreadRecord>, StoreError> {
        forward!(self.thread(thread_id))
    }
    fn threads_of(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ThreadRecord>, StoreError> {
        forward!(self.threads_of(uid, after, limit))
    }
    fn append_batch(&mut self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        forward!(self.append_batch(batch))
    }
    fn conversation_threads(
        &mut self,
        uid: u64,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(ThreadRecord, Option<String>)>, StoreError> {
        forward!(self.conversation_threads(uid, after, limit))
    }
    fn group_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn GroupRows) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        forward!(self.group_transaction(rules))
    }
    fn thread_messages(
        &mut self,
        thread_id: u64,
        before: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        forward!(self.thread_messages(thread_id, before, limit))
    }
    fn receiver_watermark(&mut self, uid: u64, thread_id: u64) -> Result<u64, StoreError> {
        forward!(self.receiver_watermark(uid, thread_id))
    }
    fn mark_read(
        &mut self,
        uid: u64,
        thread_id: u64,
        seq: u64,
    ) -> Result<Option<ReadMark>, StoreError> {
        forward!(self.mark_read(uid, thread_id, seq))
    }
    fn conversation_rows(
        &mut self,
        uid: u64,
        device: &str,
        threads: &[u64],
    ) -> Result<ConversationRows, StoreError> {
        forward!(self.conversation_rows(uid, device, threads))
    }
    fn conversation_range(
        &mut self,
        thread_id: u64,
        after: u64,
        before: u64,
        limit: usize,
        newest: bool,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        forward!(self.conversation_range(thread_id, after, before, limit, newest))
    }
    fn register_device(
        &mut self,
        uid: u64,
        device: &str,
        kind: u32,
        max_devices: usize,
    ) -> Result<bool, StoreError> {
        forward!(self.register_device(uid, device, kind, max_devices))
    }
    fn conversations_behind(
        &mut self,
        uid: u64,
        device: &str,
        from_thread: u64,
        limit: usize,
    ) -> Result<Vec<Behind>, StoreError> {
        forward!(self.conversations_behind(uid, device, from_thread, limit))
    }
    fn conversation_after(
        &mut self,
        thread_id: u64,
        after: u64,
        until: u64,
        skip_sender: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        forward!(self.conversation_after(thread_id, after, until, skip_sender, limit))
    }
    fn watermark_transaction(
        &mut self,
        rules: &mut dyn FnMut(&mut dyn WatermarkRows) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        forward!(self.watermark_transaction(rules))
    }
}
