//! gRPC contracts generated from `proto/*.proto`: prost messages, grpcio
//! client stubs (`*Client`) and server traits (`create_*` to serve them).

/// Status service: chat-server registry, tokens, user routing.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod status {
    include!(concat!(env!("OUT_DIR"), "/im.status.rs"));
}

/// Chat service: pushes between chat servers.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod chat {
    include!(concat!(env!("OUT_DIR"), "/im.chat.rs"));
}

/// Verify service: e-mail codes.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod verify {
    include!(concat!(env!("OUT_DIR"), "/im.verify.rs"));
}
