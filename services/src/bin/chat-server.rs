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
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut config_path: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--config", Some(path)) => config_path = Some(path.into()),
            _ => exit_with("usage: chat-server [--config FILE]"),
        }
    }
    let config: ChatConfig = services::config::load(config_path.as_deref(), "IM_CHAT_")
        .unwrap_or_else(|e| exit_with(&e));
    if let Err(e) = services::logging::init(&config.log_level) {
        exit_with(&format!("log_level: {e}"));
    }
    let stop =
        services::shutdown::StopSignals::register().unwrap_or_else(|e| exit_with(&e.to_string()));
    let server = ChatServer::start(&config).unwrap_or_else(|e| exit_with(&e));
    // Tools that start us read this line to learn the ports.
    println!("listening on {} rpc {}", server.local_addr(), server.rpc_addr());
    let signal = stop.wait();
    log::info!("{signal}: shutting down");
    server.shutdown(Duration::from_secs(5));
}

fn exit_with(message: &str) -> ! {
    eprintln!("chat-server: {message}");
    std::process::exit(2)
}
