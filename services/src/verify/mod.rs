//! The verify server: e-mail verification codes over gRPC.
//!
//! | module | what |
//! |---|---|
//! | [`rules`] | the life of a code: expiry, single use, attempts, rate limits (pure) |
//! | [`codes`] | codes kept in `data_dir/verify.sqlite3`, one transaction per decision |
//! | [`mail`] | SMTP (optional STARTTLS) or a spool of `.eml` files |
//! | [`service`] | the VerifyService; blocking work goes to a worker pool |
//! | [`config`] / [`server`] | `conf/verify.toml`, start and stop |
//!
//! Codes are never logged and never returned: only the mail carries them.

pub mod codes;
pub mod config;
pub mod mail;
pub mod rules;
pub mod server;
pub mod service;

pub use config::VerifyConfig;
pub use server::VerifyServer;
