//! The `main` every daemon shares: `--config FILE`, environment overrides,
//! the logger, stop signals caught before anything starts, one
//! "listening on ..." line on stdout for the tools that start daemons, and
//! a graceful stop on SIGTERM or SIGINT. A bad configuration exits 2 with a
//! message that names the key.

use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// What the shared `main` needs from a daemon's configuration.
pub trait DaemonConfig: DeserializeOwned {
    fn log_level(&self) -> &str;
}

/// Runs a daemon: `name` for messages, `env_prefix` for overrides
/// (`IM_CHAT_`), `start` builds the server, `listening` says where it
/// listens (printed after "listening on "), `stop` shuts it down.
pub fn run<C: DaemonConfig, S>(
    name: &str,
    env_prefix: &str,
    start: impl FnOnce(&C) -> Result<S, String>,
    listening: impl FnOnce(&S) -> String,
    stop: impl FnOnce(S),
) {
    let exit_with = |message: &str| -> ! {
        eprintln!("{name}: {message}");
        std::process::exit(2)
    };
    let usage = format!(
        "usage: {name} [--config FILE]\n\
         Every key of FILE can be overridden with {env_prefix}<KEY> ({env_prefix}<TABLE>__<KEY>\n\
         for a key of a table); IM_LOG sets the log level. Stops on SIGTERM or SIGINT."
    );
    answer_help_or_version(name, &usage);
    let mut args = std::env::args().skip(1);
    let mut config_path: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--config", Some(path)) => config_path = Some(path.into()),
            _ => exit_with(&usage),
        }
    }
    let config: C =
        crate::config::load(config_path.as_deref(), env_prefix).unwrap_or_else(|e| exit_with(&e));
    if let Err(e) = crate::logging::init(config.log_level()) {
        exit_with(&format!("log_level: {e}"));
    }
    // Before anything starts: a SIGTERM during start-up must stop us gracefully too.
    let signals =
        crate::shutdown::StopSignals::register().unwrap_or_else(|e| exit_with(&e.to_string()));
    let server = start(&config).unwrap_or_else(|e| exit_with(&e));
    // Tools that start us read this line to learn the ports.
    println!("listening on {}", listening(&server));
    let signal = signals.wait();
    log::info!("{signal}: shutting down");
    stop(server);
}

/// Answers `--help` (`-h`) with `usage` and `--version` (`-V`) with the
/// version, on stdout, and exits 0, before anything else happens: asking a
/// program how to use it must not start it. Returns when neither is asked.
/// For every binary of the workspace.
pub fn answer_help_or_version(name: &str, usage: &str) {
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{usage}");
                std::process::exit(0);
            }
            "--version" | "-V" => {
                println!("{name} {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            _ => {}
        }
    }
}
