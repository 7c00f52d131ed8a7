//! Shared helpers for the store tests: a fresh database per test on each
//! backend, removed afterwards, and sample users.
#![allow(dead_code)]

pub mod cluster;
pub mod gate_stack;
pub mod smtp;

use mysql::prelude::Queryable;
use services::store::model::NewUser;
use services::store::mysql::{MysqlBackend, MysqlConn};
use services::store::sqlite::{SqliteBackend, SqliteConn};
use services::store::Backend;
use std::path::PathBuf;

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
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A database of its own for one test on the server named by
/// IM_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306), dropped afterwards.
pub struct TempMysql {
    server: String,
    name: String,
}

impl TempMysql {
    pub fn new(test: &str) -> TempMysql {
        let server = std::env::var("IM_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
        let server = server.trim_end_matches('/').to_string();
        let name = format!("im_test_{}_{test}", std::process::id());
        let mut admin = admin_of(&server);
        admin.query_drop(format!("DROP DATABASE IF EXISTS {name}")).unwrap();
        admin.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")).unwrap();
        TempMysql { server, name }
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

/// Waits for `child` to exit; kills it and fails after `timeout`.
pub fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not stop within {timeout:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
