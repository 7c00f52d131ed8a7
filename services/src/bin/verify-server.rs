//! `verify-server`: e-mail verification codes.
//!
//! ```text
//! verify-server [--config conf/verify.toml]
//! ```
//!
//! Every configuration key can be overridden with `IM_VERIFY_<KEY>`
//! (`IM_VERIFY_MAIL__SMTP_PASSWORD` for the `[mail]` table); `IM_LOG` sets
//! the log level. Stops gracefully on SIGTERM or SIGINT.

use services::verify::{VerifyConfig, VerifyServer};
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut config_path: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--config", Some(path)) => config_path = Some(path.into()),
            _ => exit_with("usage: verify-server [--config FILE]"),
        }
    }
    let config: VerifyConfig = services::config::load(config_path.as_deref(), "IM_VERIFY_")
        .unwrap_or_else(|e| exit_with(&e));
    if let Err(e) = services::logging::init(&config.log_level) {
        exit_with(&format!("log_level: {e}"));
    }
    let stop =
        services::shutdown::StopSignals::register().unwrap_or_else(|e| exit_with(&e.to_string()));
    let server = VerifyServer::start(&config).unwrap_or_else(|e| exit_with(&e));
    // Tools that start us read this line to learn the port.
    println!("listening on {}", server.local_addr());
    let signal = stop.wait();
    log::info!("{signal}: shutting down");
    server.shutdown(Duration::from_secs(5));
}

fn exit_with(message: &str) -> ! {
    eprintln!("verify-server: {message}");
    std::process::exit(2)
}
