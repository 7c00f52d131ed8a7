//! The gate: registration and login over HTTP/1.1, on the project's reactor.
//!
//! | module | what |
//! |---|---|
//! | [`http`] | the request codec (httparse) and response encoding |
//! | [`handler`] | connections: in-order answers to pipelined requests, the request deadline, routing |
//! | [`routes`] | verify code, register, reset password, login |
//! | [`hub`] | shared state; store jobs and async gRPC calls that come back to the loop |
//! | [`password`] | argon2id hashes |
//! | [`metrics`] | requests by route and status, latency histogram, in flight |
//! | [`config`] / [`server`] | `conf/gate.toml`, start and stop |

pub mod config;
pub mod handler;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod password;
mod routes;
pub mod server;

pub use config::GateConfig;
pub use server::GateServer;
