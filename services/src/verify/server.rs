//! Starting and stopping a verify server (used by the binary and by tests).

use super::codes::VerifyBackend;
use super::config::VerifyConfig;
use super::mail::Mailer;
use super::service::VerifyRpc;
use crate::store::{DbPool, PoolConfig};
use grpcio::{Environment, Server};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A running verify server.
pub struct VerifyServer {
    server: Server,
    addr: SocketAddr,
}

impl VerifyServer {
    /// Validates the configuration, prepares the mail transport and the code
    /// file, binds and starts serving.
    pub fn start(config: &VerifyConfig) -> Result<VerifyServer, String> {
        let listen = config.validate()?;
        let mailer = Mailer::from_config(&config.mail)?;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| format!("data_dir: cannot create {}: {e}", config.data_dir.display()))?;
        let backend = VerifyBackend { path: config.data_dir.join("verify.sqlite3"), mailer };
        let pool = DbPool::start(
            backend,
            PoolConfig {
                workers: config.workers,
                queue_capacity: config.queue_capacity,
                submit_timeout: Duration::ZERO,
                // A request that waited this long has timed out at the gate anyway.
                max_queue_wait: Duration::from_secs(30),
                ping_after_idle: Duration::from_secs(60),
                name: "verify".into(),
            },
        )
        .map_err(|e| format!("cannot start the verify workers: {e}"))?;
        let service = VerifyRpc::new(Arc::new(pool), config.rules(), config.code_digits);
        let env = Arc::new(Environment::new(config.grpc_threads));
        let service = proto::rpc::verify::create_verify_service(service);
        let (server, addr) = crate::grpc::serve(env, service, &listen.to_string(), "listen")?;
        log::info!("verify server listening on {addr} ({} mail)", config.mail.transport);
        Ok(VerifyServer { server, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting calls and waits (at most `deadline`) for running ones.
    pub fn shutdown(self, deadline: Duration) {
        crate::grpc::shutdown_server(self.server, deadline, "verify server");
        log::info!("verify server stopped");
    }
}
