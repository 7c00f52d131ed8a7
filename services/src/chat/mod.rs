//! The chat server: long client connections on the reactor, friends, and
//! text messages stored before they are acknowledged and pushed.
//!
//! Split by who owns what, not by protocol verb. Each line depends only on
//! the lines above it (no module imports one below it):
//!
//! | module | owns |
//! |---|---|
//! | [`config`], [`metrics`] | `conf/chat*.toml`; counters and their Prometheus text |
//! | `crate::dialect` (shared with the gate) | how each kind of client speaks: frames in and out rewritten at the edge, its delivery and liveness rules |
//! | `pacing` | frames one write at a time, for a client that cannot read two at once |
//! | [`session`] | one connection's state machine (anonymous, logging in, online, ended) and dialect |
//! | [`presence`] | every call to the status server |
//! | [`delivery`] (`directory`, `push`, `outbound`, `presence_queue`, `mod`) | who is online here; pushes to a loop and to the router |
//! | `invite_limits` | group invitations per user per minute |
//! | [`services`] | what all threads share ([`services::Services`]), and [`services::ChatLoop`], the trait on-loop code is written against |
//! | `reply` | answers to a client (JSON in a frame) |
//! | `delivery::frames`, `delivery::sync` | on the loop: writing pushes; the pending messages after a login, paced by `on_drained` |
//! | [`peers`] (`router`, `rpc`) | the cross-server transport, both directions |
//! | `presence_notifier` | telling friends a user came online or (debounced) went offline |
//! | `requests` (`login`, `friends`, `texts`, `history`, `conversations`, `groups`) | parse → authorize → submit one job → reply |
//! | [`conn`] | the reactor handler: the dispatch table, `on_close`, `on_drained` |
//! | [`server`] | building all of it in order, and stopping it |
//!
//! On-loop code (requests, frames, sync, reply) is generic over `ChatLoop`
//! rather than naming `conn::ChatHandler`, so it does not depend on `conn`;
//! `conn` implements the trait and names every request in its table.
//!
//! The life of a text message: `conn` (frame 1017) → `requests::texts`
//! (parse, authorize) → the message writer (group commit) → `delivery`
//! (here: a loop's inbox → `delivery::frames`; elsewhere: `peers::router` →
//! the peer's `peers::rpc` → its `delivery`) → the receiver's connection.
//!
//! Threads: N loops (the handler), the DB pool's workers and the message
//! writer's shards (store work), grpcio's completion queues (ChatService,
//! async status calls), the router, the presence notifier, the status
//! reporter, the admin endpoint.
//! Only a loop touches its connections; everyone else posts to its inbox.

pub mod config;
pub mod conn;
pub mod delivery;
mod invite_limits;
pub mod metrics;
mod pacing;
pub mod peers;
pub mod presence;
mod presence_notifier;
mod reply;
mod requests;
pub mod server;
pub mod services;
pub mod session;

pub use config::ChatConfig;
pub use server::ChatServer;
