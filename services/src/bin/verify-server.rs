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
use std::time::Duration;

fn main() {
    services::daemon::run::<VerifyConfig, _>(
        "verify-server",
        "IM_VERIFY_",
        VerifyServer::start,
        |server| server.local_addr().to_string(),
        |server| server.shutdown(Duration::from_secs(5)),
    );
}
