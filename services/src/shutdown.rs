//! Waiting for the signal to stop (SIGTERM from systemd or kill, SIGINT from Ctrl-C).
//!
//! Register first, wait later: a daemon calls [`StopSignals::register`]
//! before it starts anything, so a SIGTERM that arrives during start-up is
//! kept for [`StopSignals::wait`] instead of killing the process with the
//! default action.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// SIGTERM and SIGINT, caught from the moment of registration.
pub struct StopSignals {
    signals: Signals,
}

impl StopSignals {
    /// Installs the handlers. Call from the main thread, before starting.
    pub fn register() -> std::io::Result<StopSignals> {
        Ok(StopSignals { signals: Signals::new([SIGTERM, SIGINT])? })
    }

    /// Blocks until SIGTERM or SIGINT has arrived; returns its name.
    pub fn wait(mut self) -> &'static str {
        let signal = self.signals.forever().next().unwrap_or(SIGTERM);
        if signal == SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        }
    }
}
