//! `status-server`: the registry of chat servers, token issuer and router.
//!
//! ```text
//! status-server [--config conf/status.toml]
//! ```
//!
//! Every configuration key can be overridden with `IM_STATUS_<KEY>`; `IM_LOG`
//! sets the log level. Stops gracefully on SIGTERM or SIGINT.

use services::status::{StatusConfig, StatusServer};
use std::time::Duration;

fn main() {
    services::daemon::run::<StatusConfig, _>(
        "status-server",
        "IM_STATUS_",
        StatusServer::start,
        |server| server.local_addr().to_string(),
        |server| server.shutdown(Duration::from_secs(5)),
    );
}
