//! The gate: registration and login over HTTP/1.1, on the project's reactor.
//!
//! | module | what |
//! |---|---|
//! | [`http`] | the request codec (httparse) and response encoding |
//! | [`handler`] | connections: in-order answers to pipelined requests, the request deadline, routing |
//! | [`routes`] | verify code, register, reset password, login (each dialect's answer) |
//! | [`friends`] | the project_show client's friend routes (its listener only) |
//! | [`bindings`] | who logged in from which address, for routes that carry no token |
//! | [`peers`] | notices to users on the chat servers (status lookup, then ChatService) |
//! | [`hub`] | shared state; store jobs and async gRPC calls that come back to the loop |
//! | [`password`] | argon2id hashes |
//! | [`sessions`] | session tokens: resuming after a dropped connection without the password |
//! | [`metrics`] | requests by route and status, latency histogram, in flight |
//! | [`config`] / [`server`] | `conf/gate.toml`, start and stop |

pub mod bindings;
pub mod config;
mod friends;
pub mod handler;
pub mod http;
pub mod hub;
pub mod login_limits;
pub mod metrics;
pub mod password;
pub mod peers;
mod routes;
pub mod server;
pub mod sessions;

pub use config::GateConfig;
pub use server::GateServer;
