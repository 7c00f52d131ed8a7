//! The store: all durable state.
//!
//! | module | what |
//! |---|---|
//! | [`pool`] | worker threads with one connection each, a bounded queue, busy errors |
//! | [`api`] | [`StoreConn`]: the operations every backend implements |
//! | [`model`] | the records read and written |
//! | [`sqlite`] | the embedded backend (SQLite in one file) |
//!
//! The MySQL backend and the batched message writer come next (issue 4 is
//! in progress); both backends will run one conformance suite.

pub mod api;
pub mod model;
pub mod pool;
pub mod sqlite;

pub use api::StoreConn;
pub use pool::{Backend, DbPool, JobKind, PoolConfig, PoolMetrics, StoreError};
