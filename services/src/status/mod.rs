//! The status server: chat-server registry, tokens, and user routing.
//!
//! | module | what |
//! |---|---|
//! | `registry` | the state and its rules, no gRPC |
//! | `service` | the StatusService over gRPC |
//! | `server` | configuration, start and stop |
//! | `reporter` | the chat server's side: register, heartbeat, rebuild soft state |

pub mod registry;
pub mod reporter;
pub mod server;
pub mod service;

pub use reporter::{ReportSource, StatusReporter};
pub use server::{StatusConfig, StatusServer};
