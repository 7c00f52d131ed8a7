//! Starting and stopping a gate server (used by the binary and by tests).

use super::bindings::AddressBindings;
use super::config::GateConfig;
use super::handler::GateHandler;
use super::http::HttpCodec;
use super::hub::GateHub;
use super::login_limits::LoginLimits;
use super::metrics::GateMetrics;
use super::peers::ChatPeers;
use crate::dialect::Dialect;
use crate::store::{AnyBackend, DbPool};
use grpcio::{ChannelBuilder, Environment};
use proto::rpc::status::StatusServiceClient;
use proto::rpc::verify::VerifyServiceClient;
use reactor::{LoopConfig, Server};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A running gate.
pub struct GateServer {
    server: Server<GateHandler>,
    /// The dialect of each listener, by listener number.
    dialects: Arc<[Dialect]>,
}

impl GateServer {
    /// Validates the configuration, opens the store pool, connects the
    /// status and verify clients (lazily: a service that is not up yet is
    /// an error for the requests that need it, not for the gate) and binds.
    pub fn start(config: &GateConfig) -> Result<GateServer, String> {
        let listen = config.validate()?;
        let backend = AnyBackend::from_config(&config.store)?;
        let store = DbPool::start(backend, config.store.pool("gate"))
            .map_err(|e| format!("cannot start the store pool: {e}"))?;
        let env = Arc::new(Environment::new(config.grpc_threads));
        let status =
            StatusServiceClient::new(ChannelBuilder::new(env.clone()).connect(&config.status_addr));
        let rpc_timeout = Duration::from_millis(config.rpc_timeout_ms);
        let hub = Arc::new(GateHub {
            store,
            bindings: AddressBindings::default(),
            login_limits: Arc::new(LoginLimits::new(config.login_limits.clone())),
            peers: ChatPeers::new(env.clone(), status.clone(), rpc_timeout),
            status,
            verify: VerifyServiceClient::new(ChannelBuilder::new(env).connect(&config.verify_addr)),
            metrics: GateMetrics::default(),
            hash_cost: config.password_hash.clone(),
            sessions: config.sessions.clone(),
            rpc_timeout,
            request_timeout: Duration::from_millis(config.request_timeout_ms),
            max_pipelined: config.max_pipelined,
        });
        let defaults = LoopConfig::default();
        let loops = LoopConfig {
            name: "gate".into(),
            threads: if config.io_threads == 0 { defaults.threads } else { config.io_threads },
            ..defaults
        };
        let codec = HttpCodec::new(config.max_head_bytes, config.max_body_bytes);
        let mut bound = Server::bind(listen, loops, codec)
            .map_err(|e| format!("listen: cannot serve on {listen}: {e}"))?;
        // Listener 0 speaks this project's dialect; the others, in order, theirs.
        let mut dialects = vec![Dialect::Own];
        for (dialect, addr) in config.dialect_addrs()? {
            let bound_addr = bound
                .listen_also(addr)
                .map_err(|e| format!("{}_listen: cannot serve on {addr}: {e}", dialect.name()))?;
            log::info!("gate serving the {} client on {bound_addr}", dialect.name());
            dialects.push(dialect);
        }
        let dialects: Arc<[Dialect]> = dialects.into();
        let listener_dialects = dialects.clone();
        let server = bound
            .start(move |_| GateHandler { hub: hub.clone(), dialects: dialects.clone() })
            .map_err(|e| format!("listen: cannot serve on {listen}: {e}"))?;
        log::info!("gate listening on {}", server.local_addr());
        Ok(GateServer { server, dialects: listener_dialects })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// ` dialect IP:port` for each other client's listener (the daemon's
    /// "listening" line, which `imctl up` reads).
    pub fn dialect_listeners_text(&self) -> String {
        crate::dialect::listeners_text(&self.dialects, &self.server.local_addrs())
    }

    /// Where the routes for clients of `dialect` are served, if they are.
    pub fn dialect_addr(&self, dialect: Dialect) -> Option<SocketAddr> {
        let listener = self.dialects.iter().position(|&d| d == dialect)?;
        self.server.local_addrs().get(listener).copied()
    }

    /// Stops accepting, answers what is in progress (up to `grace`), closes.
    pub fn shutdown(self, grace: Duration) {
        self.server.shutdown(grace);
        log::info!("gate stopped");
    }
}
