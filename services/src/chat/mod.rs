//! The chat server: long client connections on the reactor, friends, and
//! text messages stored before they are acknowledged and pushed.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | `conf/chat*.toml` |
//! | [`server`] | start and stop: store, writer, loops, ChatService, reporter, admin |
//! | [`hub`] | what all threads share; [`hub::Push`], how a push reaches a loop |
//! | [`directory`] | uid → (loop, connection, session id) of users online here |
//! | [`session`] | the per-connection state machine (anonymous, logging in, online) |
//! | [`handler`] | the reactor handler: dispatch and shared helpers |
//! | `login`, `friends`, `messages`, `sync` | the requests, one concept each |
//! | [`router`] | pushes for users on other chat servers (batched per peer) |
//! | [`rpc`] | the ChatService peers call to reach users here |
//! | [`metrics`] | counters and their Prometheus text |
//!
//! Threads: N loops (the handler), the DB pool's workers and the message
//! writer's shards (store work), grpcio's completion queues (ChatService,
//! async status calls), the router, the status reporter, the admin endpoint.
//! Only a loop touches its connections; everyone else posts to its inbox.

pub mod config;
pub mod directory;
mod friends;
pub mod handler;
pub mod hub;
mod login;
mod messages;
pub mod metrics;
pub mod router;
pub mod rpc;
pub mod server;
pub mod session;
mod sync;

pub use config::ChatConfig;
pub use server::ChatServer;
