//! `chat-server`: long client connections, friends and messages.
//!
//! ```text
//! chat-server [--config conf/chat1.toml]
//! ```
//!
//! Every configuration key can be overridden with `IM_CHAT_<KEY>`
//! (`IM_CHAT_STORE__MYSQL_PASSWORD` for the `[store]` table); `IM_LOG` sets
//! the log level. Stops gracefully on SIGTERM or SIGINT.

use services::chat::{ChatConfig, ChatServer};
use std::time::Duration;

fn main() {
    services::daemon::run::<ChatConfig, _>(
        "chat-server",
        "IM_CHAT_",
        ChatServer::start,
        |server| {
            format!(
                "{} rpc {}{}",
                server.local_addr(),
                server.rpc_addr(),
                server.dialect_listeners_text()
            )
        },
        |server| server.shutdown(Duration::from_secs(5)),
    );
}
