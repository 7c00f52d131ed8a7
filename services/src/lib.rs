//! The IM daemons and their shared code.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`config`] | TOML configuration with environment overrides |
//! | [`background`] | a named thread that runs until told to stop, and is joined |
//! | [`daemon`] | the `main` every daemon shares (config, logs, signals, stop) |
//! | [`admin`] | the `/metrics` and `/healthz` endpoint of a daemon |
//! | [`grpc`] | replying and shutting down, for every gRPC server here |
//! | [`latency`] | the lock-free latency histogram that `/metrics` shows |
//! | [`logging`] | the daemons' logger (time, level, target) |
//! | [`shutdown`] | waiting for SIGTERM/SIGINT |
//! | [`token`] | random tokens, constant-time comparison |
//! | [`device`] | which logins of one user may be online together (kinds, the legacy device) |
//! | [`dialect`] | how each kind of client speaks (this protocol, the llfcchat and project_show Qt clients') |
//! | [`status`] | the status server (and the chat server's reporter to it) |
//! | [`store`] | durable state: the database pool, both backends, the message writer |
//! | [`chat`] | the chat server |
//! | [`verify`] | the verify server (e-mail codes) |
//! | [`gate`] | the gate (HTTP registration and login) |
//!
//! Binaries: `src/bin/status-server.rs`, `src/bin/chat-server.rs`,
//! `src/bin/verify-server.rs`, `src/bin/gate-server.rs`.

pub mod admin;
pub mod background;
pub mod chat;
pub mod config;
pub mod daemon;
pub mod device;
pub mod dialect;
pub mod gate;
pub mod grpc;
pub mod latency;
pub mod logging;
pub mod shutdown;
pub mod status;
pub mod store;
pub mod token;
pub mod verify;
