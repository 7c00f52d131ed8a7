//! `imbench`, the load generator: its reactor clients and its scenarios.
//!
//! | module | what |
//! |---|---|
//! | [`client`] | logged-in chat connections on the reactor: senders, receivers, idle users |
//! | [`provision`] | N users and friendships written straight to the store, in seconds |
//! | [`run`] | connecting users, progress lines, collecting histograms, the final report |

pub mod client;
pub mod provision;
pub mod run;
