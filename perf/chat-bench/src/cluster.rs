//! The benchmarks' cluster: the shared test kit's in-process cluster
//! (`tools/testkit`) with two chat servers, as a benchmark configures it.

use services::chat::ChatConfig;
use services::gate::password::HashCost;
use services::gate::GateConfig;
use services::status::StatusConfig;
use services::verify::mail::MailConfig;
use services::verify::VerifyConfig;
use std::net::SocketAddr;
use std::path::Path;
pub use testkit::cluster::Cluster;
use testkit::cluster::{ClusterOptions, StoreKind};

/// Which store the chat servers use.
pub enum StoreChoice {
    Embedded,
    /// A MySQL/MariaDB server URL without a database; each run creates its own.
    Mysql(String),
}

impl StoreChoice {
    pub fn label(&self) -> &'static str {
        match self {
            StoreChoice::Embedded => "embedded",
            StoreChoice::Mysql(_) => "MariaDB",
        }
    }
}

/// A status server and two chat servers with `io_threads` loops each, on a
/// fresh store for run `run`, with the daemons' default heartbeats.
pub fn start(choice: &StoreChoice, run: usize, io_threads: usize) -> Cluster {
    let (store, mysql_server) = match choice {
        StoreChoice::Embedded => (StoreKind::Sqlite, None),
        StoreChoice::Mysql(server) => (StoreKind::Mysql, Some(server.clone())),
    };
    let options = ClusterOptions {
        mysql_server,
        io_threads,
        status: StatusConfig::default(),
        ..ClusterOptions::new(&format!("chat_bench_{run}"), store, 2)
    };
    Cluster::start_options(options, |chat| {
        chat.log_level = "warn".into();
        chat.admin_listen = ChatConfig::default().admin_listen;
    })
}

/// Starts a verify server (mail spooled to `spool`, no rate limits) and a
/// gate with password hashes of `cost`; returns the gate's address.
pub fn start_gate(cluster: &mut Cluster, cost: HashCost, spool: &Path) -> SocketAddr {
    let verify = VerifyConfig {
        data_dir: spool.join("verify-data"),
        resend_interval_ms: 0,
        daily_cap: u32::MAX,
        workers: 4,
        queue_capacity: 4096,
        mail: MailConfig { spool_dir: spool.to_path_buf(), ..MailConfig::default() },
        ..VerifyConfig::default()
    };
    cluster.start_gate(verify, |gate| {
        let defaults = GateConfig::default();
        gate.io_threads = defaults.io_threads;
        gate.request_timeout_ms = defaults.request_timeout_ms;
        gate.password_hash = cost;
    })
}
