//! Starting and stopping a status server (used by the binary and by tests).

use super::registry::{Registry, Rules};
use super::service::StatusService;
use grpcio::{Environment, Server};
use parking_lot::Mutex;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `conf/status.toml`; every key can be overridden with `IM_STATUS_<KEY>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusConfig {
    /// gRPC listen address.
    pub listen: String,
    /// How long a token from GetChatServer stays valid, in milliseconds.
    pub token_ttl_ms: u64,
    /// A chat server silent this long is no longer chosen, in milliseconds.
    pub heartbeat_timeout_ms: u64,
    /// The heartbeat period chat servers are told to use, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// grpcio completion-queue threads.
    pub grpc_threads: usize,
    /// error, warn, info, debug or trace (`IM_LOG` overrides).
    pub log_level: String,
}

impl Default for StatusConfig {
    fn default() -> StatusConfig {
        StatusConfig {
            listen: "127.0.0.1:7100".into(),
            token_ttl_ms: 10 * 60 * 1000,
            heartbeat_timeout_ms: 3_000,
            heartbeat_interval_ms: 1_000,
            grpc_threads: 2,
            log_level: "info".into(),
        }
    }
}

impl StatusConfig {
    /// Checks values serde cannot: the listen address, and that the timing
    /// rules make sense together. Errors name the key.
    pub fn validate(&self) -> Result<SocketAddr, String> {
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|_| format!("listen: `{}` is not an IP:port address", self.listen))?;
        if self.token_ttl_ms == 0 {
            return Err("token_ttl_ms: must be more than 0".into());
        }
        if self.heartbeat_interval_ms == 0
            || self.heartbeat_interval_ms >= self.heartbeat_timeout_ms
        {
            return Err(
                "heartbeat_interval_ms: must be more than 0 and less than heartbeat_timeout_ms"
                    .into(),
            );
        }
        if self.grpc_threads == 0 {
            return Err("grpc_threads: must be at least 1".into());
        }
        Ok(listen)
    }

    fn rules(&self) -> Rules {
        Rules {
            token_ttl: Duration::from_millis(self.token_ttl_ms),
            heartbeat_timeout: Duration::from_millis(self.heartbeat_timeout_ms),
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval_ms),
        }
    }
}

/// A running status server.
pub struct StatusServer {
    server: Server,
    addr: SocketAddr,
}

impl StatusServer {
    /// Validates the configuration, binds and starts serving.
    pub fn start(config: &StatusConfig) -> Result<StatusServer, String> {
        let listen = config.validate()?;
        let registry = Arc::new(Mutex::new(Registry::new(config.rules(), Instant::now())));
        let service = proto::rpc::status::create_status_service(StatusService::new(registry));
        let env = Arc::new(Environment::new(config.grpc_threads));
        let (server, addr) = crate::grpc::serve(env, service, &listen.to_string(), "listen")?;
        log::info!("status server listening on {addr}");
        Ok(StatusServer { server, addr })
    }

    /// The bound address (with the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting calls and waits (at most `deadline`) for running ones.
    pub fn shutdown(self, deadline: Duration) {
        crate::grpc::shutdown_server(self.server, deadline, "status server");
        log::info!("status server stopped");
    }
}

impl crate::daemon::DaemonConfig for StatusConfig {
    fn log_level(&self) -> &str {
        &self.log_level
    }
}
