//! The IM daemons and their shared code.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`config`] | TOML configuration with environment overrides |
//! | [`logging`] | the daemons' logger (time, level, target) |
//! | [`shutdown`] | waiting for SIGTERM/SIGINT |
//! | [`token`] | random tokens, constant-time comparison |
//! | [`status`] | the status server (and the chat server's reporter to it) |
//! | [`store`] | durable state: the database pool (backends in progress) |
//!
//! Binaries: `src/bin/status-server.rs`.

pub mod config;
pub mod logging;
pub mod shutdown;
pub mod status;
pub mod store;
pub mod token;
