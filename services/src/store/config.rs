//! The `[store]` table of a daemon's configuration.
//!
//! ```toml
//! [store]
//! backend = "embedded"            # or "mysql"
//! data_dir = "data"               # embedded: the database is data_dir/im.sqlite3
//! mysql_url = "mysql://im@127.0.0.1:3306/im"
//! # mysql_password: never in the file; set IM_<DAEMON>_STORE__MYSQL_PASSWORD
//! pool_workers = 4
//! queue_capacity = 4096
//! submit_timeout_ms = 100
//! max_queue_wait_ms = 5000       # a job queued this long fails (1105); a writer stalled this long refuses
//! ping_after_idle_ms = 30000
//! writer_shards = 2
//! writer_max_batch = 1024
//! writer_max_delay_ms = 0
//! ```

use super::message_writer::WriterConfig;
use super::pool::PoolConfig;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Which database holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// SQLite in a file under `data_dir` (the zero-set-up default).
    Embedded,
    /// MySQL or MariaDB at `mysql_url`.
    Mysql,
}

/// Store settings; every key can be overridden from the environment.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: BackendKind,
    pub data_dir: PathBuf,
    /// `mysql://user@host:port/database`, without the password.
    pub mysql_url: String,
    /// Kept out of files and logs; comes from the environment.
    pub mysql_password: String,
    pub pool_workers: usize,
    pub queue_capacity: usize,
    pub submit_timeout_ms: u64,
    pub max_queue_wait_ms: u64,
    pub ping_after_idle_ms: u64,
    pub writer_shards: usize,
    pub writer_max_batch: usize,
    pub writer_max_delay_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        let pool = PoolConfig::default();
        let writer = WriterConfig::default();
        StoreConfig {
            backend: BackendKind::Embedded,
            data_dir: PathBuf::from("data"),
            mysql_url: "mysql://root@127.0.0.1:3306/im".into(),
            mysql_password: String::new(),
            pool_workers: pool.workers,
            queue_capacity: pool.queue_capacity,
            submit_timeout_ms: pool.submit_timeout.as_millis() as u64,
            max_queue_wait_ms: pool.max_queue_wait.as_millis() as u64,
            ping_after_idle_ms: pool.ping_after_idle.as_millis() as u64,
            writer_shards: writer.shards,
            writer_max_batch: writer.max_batch,
            writer_max_delay_ms: writer.max_delay.as_millis() as u64,
        }
    }
}

/// Never prints the password.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("backend", &self.backend)
            .field("data_dir", &self.data_dir)
            .field("mysql_url", &self.mysql_url)
            .field("mysql_password", &if self.mysql_password.is_empty() { "" } else { "<set>" })
            .field("pool_workers", &self.pool_workers)
            .field("queue_capacity", &self.queue_capacity)
            .field("writer_shards", &self.writer_shards)
            .finish_non_exhaustive()
    }
}

impl StoreConfig {
    /// Checks what serde cannot; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.pool_workers == 0 {
            return Err("store.pool_workers: must be at least 1".into());
        }
        if self.queue_capacity == 0 {
            return Err("store.queue_capacity: must be at least 1".into());
        }
        if self.writer_shards == 0 || self.writer_max_batch == 0 {
            return Err("store.writer_shards and store.writer_max_batch: must be at least 1".into());
        }
        if self.backend == BackendKind::Mysql {
            let rest = self
                .mysql_url
                .strip_prefix("mysql://")
                .ok_or("store.mysql_url: must start with mysql://")?;
            let authority = rest.split('/').next().unwrap_or_default();
            let user_info = authority.rsplit_once('@').map(|(user_info, _)| user_info);
            if user_info.is_some_and(|u| u.contains(':')) {
                return Err("store.mysql_url: put the password in IM_<DAEMON>_STORE__MYSQL_PASSWORD, not in the URL".into());
            }
        }
        Ok(())
    }

    /// A MySQL store for `url`, which may carry a password
    /// (`mysql://user:pass@host/db`, as tools and tests are given): the
    /// password moves to `mysql_password` (percent-decoded) and out of the URL.
    pub fn mysql(url: &str) -> StoreConfig {
        let mut config = StoreConfig {
            backend: BackendKind::Mysql,
            mysql_url: url.to_string(),
            ..StoreConfig::default()
        };
        let rest = url.strip_prefix("mysql://").unwrap_or(url);
        if let Some((user_info, host)) = rest.split_once('@') {
            if let Some((user, password)) = user_info.split_once(':') {
                config.mysql_url = format!("mysql://{user}@{host}");
                config.mysql_password = percent_decode(password);
            }
        }
        config
    }

    /// The URL to connect with: `mysql_url` with the password inserted.
    pub fn mysql_url_with_password(&self) -> String {
        if self.mysql_password.is_empty() {
            return self.mysql_url.clone();
        }
        let rest = self.mysql_url.strip_prefix("mysql://").unwrap_or(&self.mysql_url);
        match rest.split_once('@') {
            Some((user, host)) => {
                format!("mysql://{user}:{}@{host}", percent_encode(&self.mysql_password))
            }
            None => self.mysql_url.clone(),
        }
    }

    /// The embedded database file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("im.sqlite3")
    }

    pub fn pool(&self, name: &str) -> PoolConfig {
        PoolConfig {
            workers: self.pool_workers,
            queue_capacity: self.queue_capacity,
            submit_timeout: Duration::from_millis(self.submit_timeout_ms),
            max_queue_wait: Duration::from_millis(self.max_queue_wait_ms),
            ping_after_idle: Duration::from_millis(self.ping_after_idle_ms),
            name: name.into(),
        }
    }

    pub fn writer(&self) -> WriterConfig {
        WriterConfig {
            name: "store".into(),
            shards: self.writer_shards,
            max_batch: self.writer_max_batch,
            max_delay: Duration::from_millis(self.writer_max_delay_ms),
            queue_capacity: self.queue_capacity,
            stall_limit: Duration::from_millis(self.max_queue_wait_ms),
        }
    }
}

/// Undoes `%XX` escapes (anything malformed is kept as it is).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but unreserved URL characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_comes_from_its_own_key_and_is_never_printed() {
        let config = StoreConfig {
            backend: BackendKind::Mysql,
            mysql_url: "mysql://im@db:3306/im".into(),
            mysql_password: "p@ss word".into(),
            ..StoreConfig::default()
        };
        config.validate().unwrap();
        assert_eq!(config.mysql_url_with_password(), "mysql://im:p%40ss%20word@db:3306/im");
        assert!(!format!("{config:?}").contains("p@ss"));
    }

    #[test]
    fn a_url_with_a_password_becomes_url_and_password() {
        let config = StoreConfig::mysql("mysql://im:p%40ss@db:3306/im");
        assert_eq!(
            (config.mysql_url.as_str(), config.mysql_password.as_str()),
            ("mysql://im@db:3306/im", "p@ss")
        );
        assert_eq!(config.mysql_url_with_password(), "mysql://im:p%40ss@db:3306/im");
        assert_eq!(StoreConfig::mysql("mysql://root@db/im").mysql_password, "");
    }

    #[test]
    fn a_password_in_the_url_is_refused() {
        let config = StoreConfig {
            backend: BackendKind::Mysql,
            mysql_url: "mysql://im:secret@db:3306/im".into(),
            ..StoreConfig::default()
        };
        assert!(config.validate().unwrap_err().starts_with("store.mysql_url"));
    }

    #[test]
    fn the_table_reads_from_toml_with_defaults() {
        let config: StoreConfig =
            toml::from_str("backend = \"mysql\"\npool_workers = 8\n").unwrap();
        assert_eq!((config.backend, config.pool_workers), (BackendKind::Mysql, 8));
        assert_eq!(config.writer().shards, WriterConfig::default().shards);
        assert!(toml::from_str::<StoreConfig>("backend = \"oracle\"\n").is_err());
    }
}
