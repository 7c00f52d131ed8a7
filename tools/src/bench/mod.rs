//! `imbench`, the load generator: its reactor clients and its scenarios.
//!
//! | module | what |
//! |---|---|
//! | [`client`] | logged-in chat connections on the reactor: senders, receivers, idle users |
//! | [`mqtt`] | the same p2p shape against an MQTT broker (QoS 1), for the side-by-side run |
//! | [`provision`] | N users and friendships written straight to the store, in seconds |
//! | [`run`] | connecting users, progress lines, collecting histograms, the final report |

pub mod client;
pub mod mqtt;
pub mod provision;
pub mod run;
