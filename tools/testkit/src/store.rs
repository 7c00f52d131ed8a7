//! Throwaway stores: a fresh database for one test (or one benchmark run),
//! removed when dropped, on either backend.

use mysql::prelude::Queryable;
use services::store::config::{BackendKind, StoreConfig};
use services::store::model::NewUser;
use services::store::mysql::{MysqlBackend, MysqlConn};
use services::store::sqlite::{SqliteBackend, SqliteConn};
use services::store::Backend;
use std::path::PathBuf;

/// The MySQL/MariaDB server the tests use: IM_TEST_MYSQL_URL, else the local one.
pub fn test_mysql_server() -> String {
    std::env::var("IM_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A user whose name, e-mail and hash derive from `name`.
pub fn new_user(name: &str) -> NewUser {
    NewUser {
        name: name.into(),
        email: format!("{name}@example.com"),
        password_hash: format!("$argon2id$hash-of-{name}"),
        nick: format!("{name} nick"),
        ..NewUser::default()
    }
}

/// A fresh SQLite file for one test, removed afterwards.
pub struct TempSqlite {
    dir: PathBuf,
}

impl TempSqlite {
    pub fn new(test: &str) -> TempSqlite {
        let dir = std::env::temp_dir().join(format!("im-store-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempSqlite { dir }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join("im.sqlite3")
    }

    pub fn backend(&self) -> SqliteBackend {
        SqliteBackend::new(self.file())
    }

    pub fn connect(&self) -> SqliteConn {
        self.backend().connect().expect("open the embedded store")
    }

    /// The `[store]` table of daemons sharing this file.
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            backend: BackendKind::Embedded,
            data_dir: self.dir.clone(),
            ..StoreConfig::default()
        }
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A database of its own on a MySQL/MariaDB server, dropped afterwards.
pub struct TempMysql {
    server: String,
    name: String,
}

impl TempMysql {
    /// On the tests' server ([`test_mysql_server`]), named after the test.
    pub fn new(test: &str) -> TempMysql {
        TempMysql::on(&test_mysql_server(), &format!("im_test_{}_{test}", std::process::id()))
    }

    /// Database `name` on `server` (a URL without a database), created afresh.
    pub fn on(server: &str, name: &str) -> TempMysql {
        let server = server.trim_end_matches('/').to_string();
        let mut admin = admin_of(&server);
        admin.query_drop(format!("DROP DATABASE IF EXISTS {name}")).unwrap();
        admin.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")).unwrap();
        TempMysql { server, name: name.to_string() }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    pub fn backend(&self) -> MysqlBackend {
        MysqlBackend::new(&self.url()).unwrap()
    }

    pub fn connect(&self) -> MysqlConn {
        self.backend().connect().expect("connect to the test database")
    }

    /// A plain client connection to the test database.
    pub fn raw(&self) -> mysql::Conn {
        admin_of(&self.url())
    }

    /// The `[store]` table of daemons sharing this database.
    pub fn config(&self) -> StoreConfig {
        StoreConfig::mysql(&self.url())
    }
}

impl Drop for TempMysql {
    fn drop(&mut self) {
        if let Ok(mut admin) = mysql::Conn::new(mysql::Opts::from_url(&self.server).unwrap()) {
            let _ = admin.query_drop(format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}

fn admin_of(url: &str) -> mysql::Conn {
    let opts = mysql::Opts::from_url(url).expect("IM_TEST_MYSQL_URL is a mysql:// URL");
    mysql::Conn::new(opts).unwrap_or_else(|e| {
        panic!(
            "no MySQL/MariaDB server at {url} ({e}). Run the tests with tools/test.sh, which \
             starts one, or set IM_TEST_MYSQL_URL=mysql://user:password@host:port"
        )
    })
}

/// Either kind of throwaway store.
pub enum TempStore {
    Sqlite(TempSqlite),
    Mysql(TempMysql),
}

impl TempStore {
    pub fn config(&self) -> StoreConfig {
        match self {
            TempStore::Sqlite(temp) => temp.config(),
            TempStore::Mysql(temp) => temp.config(),
        }
    }
}
