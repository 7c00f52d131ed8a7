//! Peers: the cross-server transport. The router sends pushes for users on
//! other chat servers; the ChatService receives theirs for users here.
//! Depends on delivery (what it carries and where it lands), never on `conn`.

pub mod router;
pub mod rpc;
