//! Benchmarks that run a whole local cluster in one process: `chat-bench`
//! (messages end to end) and `gate-bench` (registrations and logins).

pub mod args;
pub mod cluster;
