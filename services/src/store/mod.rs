//! The store: all durable state.
//!
//! | module | what |
//! |---|---|
//! | [`pool`] | worker threads with one connection each, a bounded queue, busy errors |
//! | [`api`] | [`StoreConn`]: the operations every backend implements |
//! | [`model`] | the records read and written |
//! | [`sqlite`] | the embedded backend (SQLite in one file) |
//! | [`mysql`] | the production backend (MySQL or MariaDB) |
//!
//! Both backends run one conformance suite. The batched message writer and
//! the pool's fault tests against a real MariaDB come next (issue 4 is in
//! progress).

pub mod api;
pub mod model;
pub mod mysql;
pub mod pool;
pub mod sqlite;

pub use api::StoreConn;
pub use pool::{Backend, DbPool, JobKind, PoolConfig, PoolMetrics, StoreError};
