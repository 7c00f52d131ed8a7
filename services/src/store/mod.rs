//! The store: all durable state.
//!
//! | module | what |
//! |---|---|
//! | [`pool`] | worker threads with one connection each, a bounded queue, busy errors |
//! | [`config`] | the `[store]` configuration table (secrets from the environment) |
//! | [`api`] | [`StoreConn`]: the operations every backend implements |
//! | [`model`] | the records read and written |
//! | [`friends`] | the friendship rules, once for every backend, in one transaction |
//! | [`groups`] | the group rules (membership as events, roles, limits), the same way |
//! | [`watermarks`] | delivery watermarks: acknowledgements, what a device has not received |
//! | [`sqlite`] | the embedded backend (SQLite in one file) |
//! | [`mysql`] | the production backend (MySQL or MariaDB) |
//! | [`group_commit`] | the group-commit worker: queues, batches, the writer's connection |
//! | [`message_writer`] | group commit of text messages |
//! | [`ack_writer`] | group commit of delivery acknowledgements |
//! | `row_lists` | placeholder lists of MySQL statements over many rows |
//! | [`any`] | the backend named by configuration, as one type (for the daemons) |
//!
//! Both backends run one conformance suite; the pool is also tested against a
//! throwaway MariaDB that misbehaves.

pub mod ack_writer;
pub mod any;
pub mod api;
pub(crate) mod columns;
pub mod config;
pub mod friends;
pub mod group_commit;
pub mod groups;
pub mod message_writer;
pub mod model;
pub mod mysql;
mod mysql_groups;
pub mod pool;
pub(crate) mod row_lists;
pub mod sqlite;
mod sqlite_groups;
pub mod watermarks;

pub use any::{AnyBackend, AnyConn};
pub use api::StoreConn;
pub use pool::{Backend, DbPool, JobKind, PoolConfig, PoolMetrics, StoreError};
