//! Waiting for the signal to stop (SIGTERM from systemd or kill, SIGINT from Ctrl-C).

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Blocks the calling thread until SIGTERM or SIGINT arrives; returns its name.
/// Call it from a daemon's main thread once everything is running.
pub fn wait_for_stop_signal() -> std::io::Result<&'static str> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    let signal = signals.forever().next().unwrap_or(SIGTERM);
    Ok(if signal == SIGINT { "SIGINT" } else { "SIGTERM" })
}
