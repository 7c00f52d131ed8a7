//! The store: all durable state.
//!
//! | module | what |
//! |---|---|
//! | [`pool`] | worker threads with one connection each, a bounded queue, busy errors |
//!
//! The MySQL and embedded backends and the batched message writer build on
//! the pool (issue 4 is in progress).

pub mod pool;

pub use pool::{Backend, DbPool, JobKind, PoolConfig, PoolMetrics, StoreError};
