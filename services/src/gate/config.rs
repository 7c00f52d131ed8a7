//! `conf/gate.toml`; every key can be overridden with `IM_GATE_<KEY>`
//! (`IM_GATE_STORE__MYSQL_PASSWORD` for the `[store]` table).

use super::login_limits::LoginLimitsConfig;
use super::password::HashCost;
use super::sessions::SessionsConfig;
use crate::dialect::Dialect;
use crate::store::config::StoreConfig;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// HTTP listen address (clients, `/healthz`, `/metrics`).
    pub listen: String,
    /// The same routes for the original llfcchat Qt client, whose login
    /// answer names the chat servers' llfcchat port (`crate::dialect`);
    /// empty: not served.
    pub llfcchat_listen: String,
    /// The project_show Qt client's routes (its field names, and its friend
    /// routes over HTTP); empty: not served.
    pub project_show_listen: String,
    pub status_addr: String,
    pub verify_addr: String,
    /// I/O loop threads; 0: one per core.
    pub io_threads: usize,
    pub grpc_threads: usize,
    /// Largest request head (request line and headers), bytes: 431 beyond.
    pub max_head_bytes: usize,
    /// Largest request body, bytes: 413 beyond.
    pub max_body_bytes: usize,
    /// A request must arrive whole within this long of the previous answer
    /// (or of the connection); otherwise 408 and close. Also the keep-alive
    /// idle limit. Stops slow-loris clients.
    pub request_timeout_ms: u64,
    /// Pipelined requests one connection may have unanswered; 503 beyond.
    pub max_pipelined: usize,
    pub rpc_timeout_ms: u64,
    pub log_level: String,
    pub password_hash: HashCost,
    /// Backoff after wrong passwords (`gate/login_limits.rs`).
    pub login_limits: LoginLimitsConfig,
    /// Session tokens: resuming without the password (`gate/sessions.rs`).
    pub sessions: SessionsConfig,
    pub store: StoreConfig,
}

impl Default for GateConfig {
    fn default() -> GateConfig {
        GateConfig {
            listen: "127.0.0.1:8080".into(),
            llfcchat_listen: String::new(),
            project_show_listen: String::new(),
            status_addr: "127.0.0.1:7100".into(),
            verify_addr: "127.0.0.1:7200".into(),
            io_threads: 0,
            grpc_threads: 2,
            max_head_bytes: 8 * 1024,
            max_body_bytes: 16 * 1024,
            request_timeout_ms: 10_000,
            max_pipelined: 16,
            rpc_timeout_ms: 5_000,
            log_level: "info".into(),
            password_hash: HashCost::default(),
            login_limits: LoginLimitsConfig::default(),
            sessions: SessionsConfig::default(),
            store: StoreConfig::default(),
        }
    }
}

impl GateConfig {
    /// The listeners of the other clients' dialects that are configured.
    pub fn dialect_addrs(&self) -> Result<Vec<(Dialect, SocketAddr)>, String> {
        crate::config::dialect_listeners(&[
            (Dialect::Llfcchat, "llfcchat_listen", &self.llfcchat_listen),
            (Dialect::ProjectShow, "project_show_listen", &self.project_show_listen),
        ])
    }

    /// Checks what serde cannot; errors name the key.
    pub fn validate(&self) -> Result<SocketAddr, String> {
        let listen = self
            .listen
            .parse()
            .map_err(|_| format!("listen: `{}` is not an IP:port address", self.listen))?;
        for (key, value) in [("status_addr", &self.status_addr), ("verify_addr", &self.verify_addr)]
        {
            if !value.contains(':') {
                return Err(format!("{key}: `{value}` is not a host:port address"));
            }
        }
        for (key, value) in [
            ("max_head_bytes", self.max_head_bytes),
            ("max_body_bytes", self.max_body_bytes),
            ("max_pipelined", self.max_pipelined),
            ("grpc_threads", self.grpc_threads),
            ("request_timeout_ms", self.request_timeout_ms as usize),
            ("rpc_timeout_ms", self.rpc_timeout_ms as usize),
        ] {
            if value == 0 {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        self.password_hash.validate()?;
        self.login_limits.validate()?;
        self.sessions.validate()?;
        self.store.validate()?;
        Ok(listen)
    }
}

impl crate::daemon::DaemonConfig for GateConfig {
    fn log_level(&self) -> &str {
        &self.log_level
    }
}
