//! The store: all durable state.
//!
//! | module | what |
//! |---|---|
//! | [`pool`] | worker threads with one connection each, a bounded queue, busy errors |
//! | [`api`] | [`StoreConn`]: the operations every backend implements |
//! | [`model`] | the records read and written |
//! | [`sqlite`] | the embedded backend (SQLite in one file) |
//! | [`mysql`] | the production backend (MySQL or MariaDB) |
//! | [`message_writer`] | group commit of text messages |
//!
//! Both backends run one conformance suite. The pool's fault tests against a
//! throwaway MariaDB and the store configuration come next (issue 4 is in
//! progress).

pub mod api;
pub mod message_writer;
pub mod model;
pub mod mysql;
pub mod pool;
pub mod sqlite;

pub use api::StoreConn;
pub use pool::{Backend, DbPool, JobKind, PoolConfig, PoolMetrics, StoreError};
