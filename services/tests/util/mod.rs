//! The services' tests' helpers: the shared test kit (`tools/testkit`:
//! throwaway stores, the in-process cluster, child daemons), plus what only
//! these tests need (the gate stack with a real SMTP server).
#![allow(dead_code, unused_imports)] // each test binary uses a part of it

pub mod gate_stack;
pub mod smtp;
pub mod texts;

pub use testkit::process::wait_with_timeout;
pub use testkit::store::{new_user, TempMysql, TempSqlite};

/// The in-process cluster, as the tests name it.
pub mod cluster {
    pub use testkit::cluster::{ChatProcess, Cluster, StoreKind, WAIT};
}
