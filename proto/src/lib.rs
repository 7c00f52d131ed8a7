//! Everything on the wire, in one crate that every server and tool shares.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`rpc`] | gRPC contracts from `proto/*.proto`: status, chat, verify |
//! | [`msg_id`] | chat message ids (1005 LOGIN_REQ, ...) |
//! | [`error_code`] | the `error` codes of every response |
//! | [`body`] | serde structs for every JSON body (chat frames, gate HTTP) |
//! | [`group_body`] | the JSON bodies of the group requests (1120-1141) |
//! | [`frame`] | the frame format (shared with the reactor's codec) plus JSON |
//! | [`chat_client`] | a blocking chat client for tools and tests |
//! | [`http_client`] | a blocking HTTP client for the gate's API |
//!
//! The protocol itself is described in PROTOCOL.md; this crate is its code.

pub mod body;
pub mod chat_client;
pub mod error_code;
pub mod frame;
pub mod group_body;
pub mod http_client;
pub mod msg_id;
pub mod rpc;

pub use error_code::ErrorCode;
pub use msg_id::MsgId;
