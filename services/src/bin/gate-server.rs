//! `gate-server`: registration and login over HTTP.
//!
//! ```text
//! gate-server [--config conf/gate.toml]
//! ```
//!
//! Every configuration key can be overridden with `IM_GATE_<KEY>`
//! (`IM_GATE_STORE__MYSQL_PASSWORD` for the `[store]` table); `IM_LOG` sets
//! the log level. Stops gracefully on SIGTERM or SIGINT.

use services::gate::{GateConfig, GateServer};
use std::time::Duration;

fn main() {
    services::daemon::run::<GateConfig, _>(
        "gate-server",
        "IM_GATE_",
        GateServer::start,
        |server| format!("{}{}", server.local_addr(), server.dialect_listeners_text()),
        |server| server.shutdown(Duration::from_secs(5)),
    );
}
